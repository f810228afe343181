// Layer kernels: dense, fused dense+activation, MSE loss. float and double.
//
// Conventions: row-major, batch first, weight (OC, C) like
// torch.nn.Linear. Arguments: outputs first, then inputs, then sizes.
// Backward kernels *overwrite* their outputs. Pointers to empty buffers may
// be null when the matching size is 0; bias and dinp may be null (no bias /
// input gradient not wanted). Preconditions are checked by the bindings.
#pragma once
#include <cstdint>

#include "kernels/activations.hpp"
#include "kernels/gemm.hpp"

namespace pyvanish {

// out (B, OC) = inp (B, C) @ weight (OC, C)^T + bias (OC)
template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t B,
                   int64_t C, int64_t OC) noexcept;

// dinp (B, C) = dout (B, OC) @ weight (OC, C)
// dweight (OC, C) = dout^T @ inp (B, C);  dbias (OC) = sum_b dout[b, :]
template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                    const T* weight, int64_t B, int64_t C, int64_t OC) noexcept;

// The body of one layer: z (B, OC) = inp @ weight^T + bias; a (B, OC) = phi(z).
// The bias is the GEMM's starting C, the activation one pass over z.
template <class T>
void dense_act_forward(T* z, T* a, const T* inp, const T* weight, const T* bias,
                       int act, T alpha, int64_t B, int64_t C, int64_t OC) noexcept;

// dz (B, OC) = dout (B, OC) * phi'(z) (given z and a = phi(z)), then
// dense_backward(dinp, dweight, dbias, dz, inp, weight).
template <class T>
void dense_act_backward(T* dinp, T* dweight, T* dbias, T* dz, const T* dout,
                        const T* inp, const T* weight, const T* z, const T* a,
                        int act, T alpha, int64_t B, int64_t C, int64_t OC) noexcept;

// loss = 1/(2B) sum_{b,n} (pred - target)^2 over pred, target (B, N); B >= 1.
// Summed in double, in a fixed order.
template <class T>
double mse_forward(const T* pred, const T* target, int64_t B, int64_t N) noexcept;

// dpred (B, N) = (pred - target) / B
template <class T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t B, int64_t N) noexcept;

}  // namespace pyvanish

namespace pyvanish {
// True if this thread's floating-point unit flushes subnormals to zero (FTZ or
// DAZ, as -ffast-math sets process-wide). pyvanish must never cause that.
bool subnormals_flushed() noexcept;
}  // namespace pyvanish
