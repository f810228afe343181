// Run-time choice of the activation loops (see activations.hpp, simd/simd.hpp),
// and the activation table.
#include "kernels/activations.hpp"

namespace pyvanish {

template <class T>
void activation_forward(int a, T alpha, T* out, const T* inp, int64_t N) noexcept {
  PYVANISH_SIMD_DISPATCH(activation_forward(a, alpha, out, inp, N));
}

template <class T>
void activation_backward(int a, T alpha, T* dinp, const T* dout, const T* inp,
                         const T* out, int64_t N) noexcept {
  PYVANISH_SIMD_DISPATCH(activation_backward(a, alpha, dinp, dout, inp, out, N));
}

template <class T>
void activation_derivative(int a, T alpha, T* dphi, const T* inp, const T* out,
                           int64_t N) noexcept {
  PYVANISH_SIMD_DISPATCH(activation_derivative(a, alpha, dphi, inp, out, N));
}

#define PYVANISH_INSTANTIATE(T)                                                        \
  template void activation_forward<T>(int, T, T*, const T*, int64_t) noexcept;         \
  template void activation_backward<T>(int, T, T*, const T*, const T*, const T*,       \
                                       int64_t) noexcept;                              \
  template void activation_derivative<T>(int, T, T*, const T*, const T*, int64_t) noexcept;
PYVANISH_INSTANTIATE(float)
PYVANISH_INSTANTIATE(double)
#undef PYVANISH_INSTANTIATE

const char* activation_name(int a) noexcept {
  if (a < 0 || a >= ACT_COUNT) return "unknown";
  const char* name = "unknown";
  act::dispatch(a, [&](auto A) { name = decltype(A)::name; });
  return name;
}

double max_derivative(int a, double alpha) noexcept {
  double d = 1.0;
  act::dispatch(a, [&](auto A) { d = decltype(A)::max_derivative(alpha); });
  return d;
}

double saturation_threshold(int a, double alpha) noexcept {
  return kSaturationFraction * max_derivative(a, alpha);
}

}  // namespace pyvanish
