// The network engine: forward, loss, backward and every per-layer gradient
// statistic (engine/stats.hpp: the gradient norms of h, z, W, b, the mean
// activation derivative, saturated and dead units, NaN/Inf and tiny-gradient
// counts) for a dense network, in one call.
//
//   v_l = LN'_l(h_{l-1})            only where layer l is pre-norm; else v_l = h_{l-1}
//   z_l = v_l W_l^T + b_l           W_l (n_l, n_{l-1}), b_l (n_l)
//   u_l = BN_l(z_l) or LN_l(z_l)    only where layer l has batch norm or layer norm; else u_l = z_l
//   a_l = phi_l(u_l)
//   h_l = h_{s} + scale_l a_l       only where layer l is residual, s = skip_l < l
//                                   (n_s == n_l); else h_l = a_l
//   h_0 = x (B, n_0);  y = h_L;  the loss of kernels/losses.hpp (MSE: 1/(2B) sum_b |y_b - t_b|^2)
//
// A pre-norm residual layer is the transformer's block h_l = h_{l-1} + F(LN(h_{l-1})).
// The engine owns its parameters (one contiguous buffer: W_1 b_1 [gamma_1
// beta_1] [pre_gamma_1 pre_beta_1] W_2 ...), the batch-norm running statistics,
// and a workspace sized for the last batch size it saw, so repeated calls
// allocate nothing. Statistics are reduced inside the backward pass. No
// Python here; preconditions are checked by the bindings.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "engine/stats.hpp"
#include "kernels/losses.hpp"

namespace pyvanish {

struct LayerSpec {
  int64_t in = 0, out = 0;  // widths n_{l-1}, n_l
  int act = 0;              // enum Act
  double alpha = 0.0;       // leaky_relu slope / elu scale
  bool batchnorm = false;   // u = BN(z) before the activation
  double eps = 1e-5;        // the epsilon of u's normalisation (batch or layer norm)
  int64_t skip = -1;        // residual: h_l = h_skip + scale * a_l (0 <= skip < l)
  double scale = 1.0;
  bool layernorm = false;   // u = LN(z) before the activation (not with batchnorm)
  bool prenorm = false;     // z = LN'(h_{l-1}) W^T + b: the input layer-normalised first
  double pre_eps = 1e-5;    // the epsilon of the input's layer norm
  bool normed() const noexcept { return batchnorm || layernorm; }  // has gamma, beta of width out
};

enum Optimizer : int { OPT_SGD = 0, OPT_ADAM = 1 };

// Training settings (see Network::train).
struct TrainConfig {
  int optimizer = 0;  // OPT_SGD or OPT_ADAM
  double lr = 0.1, momentum = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  int64_t steps = 0, batch = 0, record_every = 1;
  int64_t t0 = 0;     // optimiser steps taken before (Adam's bias correction, record schedule)
  int64_t total = 0;  // steps of the whole run (its last step is always recorded)
};

template <class T>
class Network {
 public:
  explicit Network(std::vector<LayerSpec> layers);  // may throw bad_alloc

  int64_t depth() const noexcept { return int64_t(layers_.size()); }
  const LayerSpec& layer(int64_t l) const noexcept { return layers_[size_t(l - 1)]; }
  int64_t num_params() const noexcept { return int64_t(params_.size()); }
  T* params() noexcept { return params_.data(); }
  T* grads() noexcept { return grads_.data(); }
  int64_t weight_offset(int64_t l) const noexcept { return w_off_[size_t(l - 1)]; }
  int64_t bias_offset(int64_t l) const noexcept { return w_off_[size_t(l - 1)] + layer(l).out * layer(l).in; }
  // gamma and beta of a batch-norm layer follow its bias.
  int64_t gamma_offset(int64_t l) const noexcept { return bias_offset(l) + layer(l).out; }
  int64_t beta_offset(int64_t l) const noexcept { return gamma_offset(l) + layer(l).out; }
  // gamma' and beta' (n_{l-1} each) of a pre-norm layer follow those.
  int64_t pre_gamma_offset(int64_t l) const noexcept {
    return bias_offset(l) + layer(l).out * (layer(l).normed() ? 3 : 1);
  }
  int64_t pre_beta_offset(int64_t l) const noexcept { return pre_gamma_offset(l) + layer(l).in; }

  // Batch-norm running statistics (unbiased variance), updated by every
  // training-mode run with `momentum` (PyTorch's convention, default 0.1):
  // running = (1 - momentum) * running + momentum * batch. Layer l's mean
  // and variance (n_l each) start at state_offset(l): [mean | var].
  int64_t num_state() const noexcept { return int64_t(state_.size()); }
  T* state() noexcept { return state_.data(); }
  int64_t state_offset(int64_t l) const noexcept { return s_off_[size_t(l - 1)]; }
  bool training = true;     // batch-norm mode: batch statistics or running ones
  double momentum = 0.1;
  int loss = LOSS_MSE;      // enum Loss (kernels/losses.hpp)

  // x (B, n_0), t (B, n_L), B >= 1. Writes stats (L, ST_COUNT),
  // grad_x = |dL/dx| and (if given) the ratios and verdict of the statistics;
  // returns the loss (`loss_kind` < 0: the network's `loss`; LOSS_GIVEN: t is
  // dL/dy itself). The per-layer buffers below hold this call's values until
  // the next call.
  double run(const T* x, const T* t, int64_t B, double* stats, double* grad_x, Summary* summary = nullptr,
             int loss_kind = -1);

  // The forward pass alone (fills z, u, a, h; batch norm as `training` says).
  void forward(const T* x, int64_t B);

  // The input-output Jacobian dy/dx of each sample: J (B, n_L, n_0). Batch
  // norm must be in evaluation mode (in training mode the batch statistics
  // couple the samples; the bindings refuse that). May throw bad_alloc.
  void jacobian(const T* x, int64_t B, T* J);

  int64_t batch() const noexcept { return B_; }
  const T* z(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].z; }
  const T* h(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].h; }
  const T* dh(int64_t l) const noexcept {  // l = 0..L, dh(0) = dL/dx
    return ws_.data() + (l == 0 ? dx_off_ : off_[size_t(l - 1)].dh);
  }
  const T* dz(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].dz; }
  const T* u(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].u; }
  const T* a(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].a; }
  const T* du(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].du; }

  // Training: `steps` optimiser steps on minibatches of the data X (N, n_0),
  // Y (N, n_L). Step k uses rows idx[k * batch .. (k + 1) * batch) (drawn by
  // the caller). Optimisers: OPT_SGD (momentum 0: plain SGD; else heavy ball
  // v = momentum v + g, p -= lr v) and OPT_ADAM (bias-corrected, Kingma & Ba).
  // Every `record_every` steps (and at the last) it writes one record: the
  // step's loss, per layer |dL/dW_l|, |dL/dh_l| (l = 0..L), |dW_l| / |W_l| of
  // the update, saturated and dead fractions. Stops early, cleanly, when the
  // loss or a parameter becomes NaN/Inf. Returns the number of steps done.
  using TrainConfig = pyvanish::TrainConfig;
  struct TrainRecord {  // caller-owned outputs, n_rec = number of records
    int64_t* step;      // (n_rec)
    double* loss;       // (n_rec)
    double* grad_W;     // (n_rec, L)
    double* grad_h;     // (n_rec, L + 1)
    double* update;     // (n_rec, L)
    double* saturated;  // (n_rec, L)
    double* dead;       // (n_rec, L)
  };
  // m1, m2 (num_params each) hold the optimiser state across calls: the
  // momentum buffer, or Adam's first and second moments (m2 unused by SGD).
  int64_t train(const T* X, const T* Y, const int64_t* idx, const TrainConfig& cfg, T* m1, T* m2,
                const TrainRecord& rec, int64_t* records_written);

  // Serialises use: one call at a time per network.
  std::mutex& mutex() noexcept { return mu_; }

 private:
  // pin, pxhat, prstd, dpin: a pre-norm layer's normalised input, its xhat,
  // its per-sample 1/std and the gradient reaching it
  struct Offsets { int64_t z, u, a, h, xhat, mean, rstd, dh, da, du, dz, pin, pxhat, prstd, dpin; };
  void reserve(int64_t B);

  std::vector<LayerSpec> layers_;
  std::vector<int64_t> w_off_, s_off_;
  std::vector<std::vector<int64_t>> skipped_by_;  // skipped_by_[s]: residual layers with skip s
  std::vector<T> params_, grads_, state_;
  int64_t B_ = -1;  // no workspace yet (a batch of 0 must still build the offsets)
  std::vector<T> ws_;        // per-layer buffers (see Offsets), dL/dx, one phi' scratch
  std::vector<Offsets> off_;
  int64_t dx_off_ = 0, dphi_off_ = 0;
  std::vector<unsigned char> alive_;  // per-unit scratch of the statistics
  std::vector<double> colsum_;
  std::vector<int64_t> colsat_;
  std::mutex mu_;
};

}  // namespace pyvanish
