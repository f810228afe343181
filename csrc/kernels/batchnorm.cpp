#include "kernels/batchnorm.hpp"

#include <cmath>

namespace pyvanish {

template <class T>
void batchnorm_forward(T* out, T* xhat, T* mean, T* rstd, const T* inp, const T* gamma,
                       const T* beta, int64_t B, int64_t C, double eps) noexcept {
  // Feature-wise sums over the batch, row by row (contiguous), in double.
  // Two passes (mean, then squared deviations): no cancellation.
  for (int64_t c = 0; c < C; ++c) mean[c] = T(0);
  if (B == 0) return;
  constexpr int64_t kChunk = 256;  // double accumulators on the stack
  double acc[kChunk];
  for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
    const int64_t n = C - c0 < kChunk ? C - c0 : kChunk;
    for (int64_t j = 0; j < n; ++j) acc[j] = 0.0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < n; ++j) acc[j] += double(inp[b * C + c0 + j]);
    double m[kChunk];
    for (int64_t j = 0; j < n; ++j) { m[j] = acc[j] / double(B); acc[j] = 0.0; }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < n; ++j) {
        const double d = double(inp[b * C + c0 + j]) - m[j];
        acc[j] += d * d;
      }
    for (int64_t j = 0; j < n; ++j) {
      mean[c0 + j] = T(m[j]);
      rstd[c0 + j] = T(1.0 / std::sqrt(acc[j] / double(B) + eps));
    }
  }
  batchnorm_eval_forward(out, xhat, inp, gamma, beta, mean, rstd, B, C);
}

template <class T>
static void bn_param_grads(T* dgamma, T* dbeta, const T* dout, const T* xhat, int64_t B,
                           int64_t C) noexcept {
  for (int64_t c = 0; c < C; ++c) dgamma[c] = dbeta[c] = T(0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      dgamma[c] += dout[b * C + c] * xhat[b * C + c];
      dbeta[c] += dout[b * C + c];
    }
}

template <class T>
void batchnorm_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat,
                        const T* gamma, const T* rstd, int64_t B, int64_t C) noexcept {
  bn_param_grads(dgamma, dbeta, dout, xhat, B, C);
  if (B == 0) return;
  const T invB = T(1) / T(B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t i = b * C + c;
      dinp[i] = gamma[c] * rstd[c] * (dout[i] - invB * dbeta[c] - invB * xhat[i] * dgamma[c]);
    }
}

template <class T>
void batchnorm_eval_forward(T* out, T* xhat, const T* inp, const T* gamma, const T* beta,
                            const T* mean, const T* rstd, int64_t B, int64_t C) noexcept {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const T xh = (inp[b * C + c] - mean[c]) * rstd[c];
      xhat[b * C + c] = xh;
      out[b * C + c] = gamma[c] * xh + beta[c];
    }
}

template <class T>
void batchnorm_eval_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat,
                             const T* gamma, const T* rstd, int64_t B, int64_t C) noexcept {
  bn_param_grads(dgamma, dbeta, dout, xhat, B, C);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) dinp[b * C + c] = dout[b * C + c] * gamma[c] * rstd[c];
}

template <class T>
void layernorm_forward(T* out, T* xhat, T* rstd, const T* inp, const T* gamma, const T* beta,
                       int64_t B, int64_t C, double eps) noexcept {
  for (int64_t b = 0; b < B; ++b) {
    const T* x = inp + b * C;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += double(x[c]);
    const double m = s / double(C);
    double v = 0.0;  // two passes: no cancellation
    for (int64_t c = 0; c < C; ++c) {
      const double d = double(x[c]) - m;
      v += d * d;
    }
    const double r = 1.0 / std::sqrt(v / double(C) + eps);
    rstd[b] = T(r);
    T* xh = xhat + b * C;
    T* o = out + b * C;
    for (int64_t c = 0; c < C; ++c) {
      xh[c] = T((double(x[c]) - m) * r);
      o[c] = gamma[c] * xh[c] + beta[c];
    }
  }
}

template <class T>
void layernorm_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat,
                        const T* gamma, const T* rstd, int64_t B, int64_t C) noexcept {
  bn_param_grads(dgamma, dbeta, dout, xhat, B, C);
  for (int64_t b = 0; b < B; ++b) {
    const T* d = dout + b * C;
    const T* xh = xhat + b * C;
    double sg = 0.0, sgx = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      const double g = double(d[c]) * double(gamma[c]);
      sg += g;
      sgx += g * double(xh[c]);
    }
    const double mg = sg / double(C), mgx = sgx / double(C), r = double(rstd[b]);
    T* di = dinp + b * C;
    for (int64_t c = 0; c < C; ++c)
      di[c] = T(r * ((double(d[c]) * double(gamma[c]) - mg) - double(xh[c]) * mgx));
  }
}

template <class T>
void residual_forward(T* out, const T* skip, const T* inp, T scale, int64_t N) noexcept {
  for (int64_t i = 0; i < N; ++i) out[i] = skip[i] + scale * inp[i];
}

template <class T>
void residual_backward(T* dinp, T* dskip, const T* dout, T scale, int64_t N) noexcept {
  for (int64_t i = 0; i < N; ++i) {
    dinp[i] = scale * dout[i];
    dskip[i] += dout[i];
  }
}

#define PYVANISH_INSTANTIATE(T)                                                              \
  template void batchnorm_forward<T>(T*, T*, T*, T*, const T*, const T*, const T*, int64_t,  \
                                     int64_t, double) noexcept;                              \
  template void batchnorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      int64_t, int64_t) noexcept;                            \
  template void batchnorm_eval_forward<T>(T*, T*, const T*, const T*, const T*, const T*,    \
                                          const T*, int64_t, int64_t) noexcept;              \
  template void batchnorm_eval_backward<T>(T*, T*, T*, const T*, const T*, const T*,         \
                                           const T*, int64_t, int64_t) noexcept;             \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t,      \
                                     int64_t, double) noexcept;                              \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      int64_t, int64_t) noexcept;                            \
  template void residual_forward<T>(T*, const T*, const T*, T, int64_t) noexcept;            \
  template void residual_backward<T>(T*, T*, const T*, T, int64_t) noexcept;
PYVANISH_INSTANTIATE(float)
PYVANISH_INSTANTIATE(double)
#undef PYVANISH_INSTANTIATE

}  // namespace pyvanish
