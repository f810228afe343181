// Run-time choice of the activation loops (see activations.hpp): the
// instruction set the GEMM uses (gemm_path(), gemm.hpp).
#include "activations.hpp"

#include "gemm.hpp"

namespace pyvanish {

template <class T>
void activation_forward(int a, T alpha, T* out, const T* inp, int64_t N) noexcept {
  switch (gemm_path()) {
#if defined(PYVANISH_X86)
    case GEMM_AVX512: return avx512::activation_forward(a, alpha, out, inp, N);
    case GEMM_AVX2: return avx2::activation_forward(a, alpha, out, inp, N);
#endif
    default: return generic::activation_forward(a, alpha, out, inp, N);
  }
}

template <class T>
void activation_backward(int a, T alpha, T* dinp, const T* dout, const T* inp,
                         const T* out, int64_t N) noexcept {
  switch (gemm_path()) {
#if defined(PYVANISH_X86)
    case GEMM_AVX512: return avx512::activation_backward(a, alpha, dinp, dout, inp, out, N);
    case GEMM_AVX2: return avx2::activation_backward(a, alpha, dinp, dout, inp, out, N);
#endif
    default: return generic::activation_backward(a, alpha, dinp, dout, inp, out, N);
  }
}

template <class T>
void activation_derivative(int a, T alpha, T* dphi, const T* inp, const T* out,
                           int64_t N) noexcept {
  switch (gemm_path()) {
#if defined(PYVANISH_X86)
    case GEMM_AVX512: return avx512::activation_derivative(a, alpha, dphi, inp, out, N);
    case GEMM_AVX2: return avx2::activation_derivative(a, alpha, dphi, inp, out, N);
#endif
    default: return generic::activation_derivative(a, alpha, dphi, inp, out, N);
  }
}

#define PYVANISH_INSTANTIATE(T)                                                        \
  template void activation_forward<T>(int, T, T*, const T*, int64_t) noexcept;         \
  template void activation_backward<T>(int, T, T*, const T*, const T*, const T*,       \
                                       int64_t) noexcept;                              \
  template void activation_derivative<T>(int, T, T*, const T*, const T*, int64_t) noexcept;
PYVANISH_INSTANTIATE(float)
PYVANISH_INSTANTIATE(double)
#undef PYVANISH_INSTANTIATE

}  // namespace pyvanish
