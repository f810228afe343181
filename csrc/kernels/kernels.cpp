#include "kernels/kernels.hpp"

#include "engine/threads.hpp"

namespace pyvanish {

namespace {
// Large bias passes split over pyvanish's threads in fixed blocks (rows of the
// output, or units for the bias gradient: each still sums over the batch in
// order), so the values are the same for any thread count.
constexpr int64_t kBiasParallelMin = int64_t(1) << 16;
int bias_threads(int64_t n) noexcept { return n >= kBiasParallelMin && !in_parallel_for() ? num_threads() : 1; }
}  // namespace

template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t B,
                   int64_t C, int64_t OC) noexcept {
  T beta = T(0);
  if (bias) {
    parallel_for(B, 16, bias_threads(B * OC), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t o = 0; o < OC; ++o) out[b * OC + o] = bias[o];
    });
    beta = T(1);
  }
  gemm<T>(false, true, B, OC, C, T(1), inp, C, weight, C, beta, out, OC);
}

template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                    const T* weight, int64_t B, int64_t C, int64_t OC) noexcept {
  if (dinp) gemm<T>(false, false, B, C, OC, T(1), dout, OC, weight, C, T(0), dinp, C);
  gemm<T>(true, false, OC, C, B, T(1), dout, OC, inp, C, T(0), dweight, C);
  if (dbias) {
    parallel_for(OC, 128, bias_threads(B * OC), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) dbias[o] = T(0);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t o = o0; o < o1; ++o) dbias[o] += dout[b * OC + o];
    });
  }
}

template <class T>
void dense_act_forward(T* z, T* a, const T* inp, const T* weight, const T* bias,
                       int act, T alpha, int64_t B, int64_t C, int64_t OC) noexcept {
  dense_forward(z, inp, weight, bias, B, C, OC);
  activation_forward(act, alpha, a, z, B * OC);
}

template <class T>
void dense_act_backward(T* dinp, T* dweight, T* dbias, T* dz, const T* dout,
                        const T* inp, const T* weight, const T* z, const T* a,
                        int act, T alpha, int64_t B, int64_t C, int64_t OC) noexcept {
  activation_backward(act, alpha, dz, dout, z, a, B * OC);
  dense_backward(dinp, dweight, dbias, dz, inp, weight, B, C, OC);
}

template <class T>
double mse_forward(const T* pred, const T* target, int64_t B, int64_t N) noexcept {
  double s = 0.0;
  for (int64_t i = 0; i < B * N; ++i) {
    const double d = double(pred[i]) - double(target[i]);
    s += d * d;
  }
  return s / (2.0 * double(B));
}

template <class T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t B, int64_t N) noexcept {
  const T inv = T(1) / T(B);
  for (int64_t i = 0; i < B * N; ++i) dpred[i] = (pred[i] - target[i]) * inv;
}

#define PYVANISH_INSTANTIATE(T)                                                        \
  template void dense_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t,   \
                                 int64_t) noexcept;                                    \
  template void dense_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t,   \
                                  int64_t, int64_t) noexcept;                          \
  template void dense_act_forward<T>(T*, T*, const T*, const T*, const T*, int, T,     \
                                     int64_t, int64_t, int64_t) noexcept;              \
  template void dense_act_backward<T>(T*, T*, T*, T*, const T*, const T*, const T*,    \
                                      const T*, const T*, int, T, int64_t, int64_t,    \
                                      int64_t) noexcept;                               \
  template double mse_forward<T>(const T*, const T*, int64_t, int64_t) noexcept;       \
  template void mse_backward<T>(T*, const T*, const T*, int64_t, int64_t) noexcept;
PYVANISH_INSTANTIATE(float)
PYVANISH_INSTANTIATE(double)
#undef PYVANISH_INSTANTIATE

}  // namespace pyvanish

namespace pyvanish {
bool subnormals_flushed() noexcept {
  volatile double tiny = 2.2250738585072014e-308;  // smallest normal double
  volatile double half = 0.5;
  volatile double sub = tiny * half;                 // subnormal unless FTZ
  volatile double back = sub * 2.0;                  // 0 under DAZ
  return sub == 0.0 || back != tiny;
}
}  // namespace pyvanish
