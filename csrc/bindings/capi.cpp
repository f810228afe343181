// The C API: the kernels and the engines as one versioned table of plain C
// function pointers (src/pyvanish/pyvanish_capi.h), published as the capsule
// _core._C_API, and the engines' _capsule() methods. Consumers (the Cython
// module pyvanish.cython_kernels, or any C extension) call through this
// table, so there is one copy of the kernels and of their process-wide state
// (the instruction set, the thread count).
//
// The kernels go in as they are (their C++ signatures are the table's). The
// engine trampolines do what the run bindings do minus Python: the O(1)
// checks (B >= 1, batch norm on one sample), the engine's lock without
// waiting, the call; C++ exceptions become status codes.
#include <cmath>
#include <mutex>
#include <new>

#include "bindings/common.hpp"
#include "engine/ensemble.hpp"
#include "engine/network.hpp"
#include "engine/threads.hpp"
#include "kernels/activations.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kernels.hpp"
#include "kernels/losses.hpp"
#include "pyvanish_capi.h"

namespace pyvanish {
namespace bindings {
namespace {

static_assert(int(PV_ACT_COUNT) == int(ACT_COUNT), "pyvanish_capi.h: activation codes out of date");
static_assert(int(PV_ST_COUNT) == int(ST_COUNT), "pyvanish_capi.h: statistics columns out of date");
static_assert(int(PV_UNDETERMINED) == int(VERDICT_UNDETERMINED), "pyvanish_capi.h: verdicts out of date");
static_assert(int(PV_LOSS_COUNT) == int(LOSS_GIVEN), "pyvanish_capi.h: loss codes out of date");

template <class T>
double loss_c(int kind, T* dpred, const T* pred, const T* target, int64_t B, int64_t N) noexcept {
  if (kind < 0 || kind >= LOSS_GIVEN || B < 1) return std::nan("");
  return loss_batch<T>(kind, dpred, pred, target, B, N);
}

template <class T>
void gemm_c(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
            int64_t ldb, T beta, T* C, int64_t ldc) noexcept {
  gemm<T>(ta != 0, tb != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
int network_run(void* engine, const T* x, const T* t, int64_t B, double* stats, double* grad_x, double* loss,
                double* signal_ratio, double* weight_ratio, int* verdict) noexcept {
  if (!engine || !x || !t || !stats) return PV_ERR_NULL;
  auto& net = *static_cast<Network<T>*>(engine);
  if (B < 1) return PV_ERR_BATCH;
  std::unique_lock<std::mutex> lock(net.mutex(), std::try_to_lock);
  if (!lock.owns_lock()) return PV_ERR_BUSY;
  if (B == 1 && net.training)
    for (int64_t l = 1; l <= net.depth(); ++l)
      if (net.layer(l).batchnorm) return PV_ERR_BATCHNORM;
  try {
    double gx = 0.0;
    Summary sum;
    const double value = net.run(x, t, B, stats, &gx, &sum);
    if (grad_x) *grad_x = gx;
    if (loss) *loss = value;
    if (signal_ratio) *signal_ratio = sum.signal_ratio;
    if (weight_ratio) *weight_ratio = sum.weight_ratio;
    if (verdict) *verdict = sum.verdict;
    return PV_OK;
  } catch (const std::bad_alloc&) {
    return PV_ERR_MEMORY;
  } catch (...) {
    return PV_ERR_INTERNAL;
  }
}

template <class T>
int64_t network_shape(void* engine, int64_t* n_in, int64_t* n_out) noexcept {
  if (!engine) return -1;
  auto& net = *static_cast<Network<T>*>(engine);
  if (n_in) *n_in = net.layer(1).in;
  if (n_out) *n_out = net.layer(net.depth()).out;
  return net.depth();
}

template <class T>
int ensemble_run(void* engine, const T* x, int xpm, const T* t, int tpm, int64_t B, double* stats,
                 double* grad_x, double* loss, int8_t* verdicts, int threads) noexcept {
  if (!engine || !x || !t || !stats || !grad_x || !loss) return PV_ERR_NULL;
  auto& ens = *static_cast<Ensemble<T>*>(engine);
  if (B < 1) return PV_ERR_BATCH;
  std::unique_lock<std::mutex> lock(ens.mutex(), std::try_to_lock);
  if (!lock.owns_lock()) return PV_ERR_BUSY;
  try {
    ens.run(x, xpm != 0, t, tpm != 0, B, stats, StatsLayout::rows(ens.depth()), grad_x, loss,
            threads > 0 ? threads : num_threads(), verdicts);
    return PV_OK;
  } catch (const std::bad_alloc&) {
    return PV_ERR_MEMORY;
  } catch (...) {
    return PV_ERR_INTERNAL;
  }
}

template <class T>
int64_t ensemble_shape(void* engine, int64_t* n_in, int64_t* n_out, int64_t* members) noexcept {
  if (!engine) return -1;
  auto& ens = *static_cast<Ensemble<T>*>(engine);
  if (n_in) *n_in = ens.layer(1).in;
  if (n_out) *n_out = ens.layer(ens.depth()).out;
  if (members) *members = ens.members();
  return ens.depth();
}

pyvanish_capi make_table() {
  pyvanish_capi c{};
  c.version = PYVANISH_CAPI_VERSION;
  c.size = int(sizeof(pyvanish_capi));
  c.n_activations = ACT_COUNT;
  c.n_stats = ST_COUNT;
#define PV_BOTH(name, fn)  \
  c.name##_d = &fn<double>; \
  c.name##_f = &fn<float>;
  PV_BOTH(activation_forward, activation_forward)
  PV_BOTH(activation_backward, activation_backward)
  PV_BOTH(activation_derivative, activation_derivative)
  PV_BOTH(dense_forward, dense_forward)
  PV_BOTH(dense_backward, dense_backward)
  PV_BOTH(dense_act_forward, dense_act_forward)
  PV_BOTH(dense_act_backward, dense_act_backward)
  PV_BOTH(mse_forward, mse_forward)
  PV_BOTH(mse_backward, mse_backward)
  PV_BOTH(batchnorm_forward, batchnorm_forward)
  PV_BOTH(batchnorm_backward, batchnorm_backward)
  PV_BOTH(residual_forward, residual_forward)
  PV_BOTH(residual_backward, residual_backward)
  PV_BOTH(gemm, gemm_c)
  PV_BOTH(network_run, network_run)
  PV_BOTH(network_shape, network_shape)
  PV_BOTH(ensemble_run, ensemble_run)
  PV_BOTH(ensemble_shape, ensemble_shape)
  PV_BOTH(loss, loss_c)
  PV_BOTH(layernorm_forward, layernorm_forward)
  PV_BOTH(layernorm_backward, layernorm_backward)
#undef PV_BOTH
  return c;
}

const pyvanish_capi kTable = make_table();

}  // namespace

void bind_capi(py::module_& m) {
  m.attr("_C_API") = py::capsule(static_cast<const void*>(&kTable), PYVANISH_CAPI_NAME);
  m.attr("_C_API_VERSION") = PYVANISH_CAPI_VERSION;
}

}  // namespace bindings
}  // namespace pyvanish
