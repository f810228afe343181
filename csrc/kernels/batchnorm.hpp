// Normalisation (batch norm, layer norm) and residual kernels (float and double).
//
// Training mode normalises each feature by its batch statistics:
//   mean_c = 1/B sum_b inp[b,c],  var_c = 1/B sum_b (inp[b,c] - mean_c)^2  (biased)
//   rstd_c = 1/sqrt(var_c + eps), xhat = (inp - mean) * rstd
//   out = gamma * xhat + beta
// Evaluation mode applies given statistics (the running ones) instead.
// Batch statistics are summed in double, in a fixed order.
#pragma once
#include <cstdint>

namespace pyvanish {

// out, xhat (B, C); mean, rstd (C) written; inp (B, C); gamma, beta (C).
template <class T>
void batchnorm_forward(T* out, T* xhat, T* mean, T* rstd, const T* inp, const T* gamma,
                       const T* beta, int64_t B, int64_t C, double eps) noexcept;

// The training-mode gradient:
//   dgamma = sum_b dout * xhat,  dbeta = sum_b dout,
//   dinp = gamma * rstd / B * (B dout - dbeta - xhat * dgamma)
// dinp (B, C), dgamma, dbeta (C); dout, xhat (B, C); gamma, rstd (C).
template <class T>
void batchnorm_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat,
                        const T* gamma, const T* rstd, int64_t B, int64_t C) noexcept;

// Evaluation mode: out = gamma * (inp - mean) * rstd + beta with given mean, rstd (C).
template <class T>
void batchnorm_eval_forward(T* out, T* xhat, const T* inp, const T* gamma, const T* beta,
                            const T* mean, const T* rstd, int64_t B, int64_t C) noexcept;

// Its gradient: dinp = dout * gamma * rstd; dgamma, dbeta as in training.
template <class T>
void batchnorm_eval_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat,
                             const T* gamma, const T* rstd, int64_t B, int64_t C) noexcept;

// Layer normalisation: each sample (row) normalised over its C features,
//   mean_b = 1/C sum_c inp[b,c],  var_b = 1/C sum_c (inp[b,c] - mean_b)^2  (biased, as torch)
//   rstd_b = 1/sqrt(var_b + eps), xhat = (inp - mean) * rstd, out = gamma * xhat + beta
// out, xhat (B, C); rstd (B) written; inp (B, C); gamma, beta (C). Row sums in double.
template <class T>
void layernorm_forward(T* out, T* xhat, T* rstd, const T* inp, const T* gamma, const T* beta,
                       int64_t B, int64_t C, double eps) noexcept;

// Its gradient (per row, g = dout * gamma):
//   dinp = rstd * (g - mean_c g - xhat * mean_c(g * xhat))
//   dgamma = sum_b dout * xhat,  dbeta = sum_b dout
// dinp (B, C), dgamma, dbeta (C); dout, xhat (B, C); gamma (C), rstd (B).
template <class T>
void layernorm_backward(T* dinp, T* dgamma, T* dbeta, const T* dout, const T* xhat,
                        const T* gamma, const T* rstd, int64_t B, int64_t C) noexcept;

// Residual connection: out (N) = skip (N) + scale * inp (N).
template <class T>
void residual_forward(T* out, const T* skip, const T* inp, T scale, int64_t N) noexcept;

// Its gradient: dinp (N) = scale * dout; dskip (N) += dout (accumulates).
template <class T>
void residual_backward(T* dinp, T* dskip, const T* dout, T scale, int64_t N) noexcept;

}  // namespace pyvanish
