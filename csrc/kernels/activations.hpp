// Activation functions: one table of forward / derivative pairs.
//
// Every activation is a struct with
//   static T f(T z, T alpha)            a = phi(z)
//   static T df(T z, T a, T alpha)      phi'(z), given z and a = phi(z)
// Sigmoid and tanh take their derivative from the output. Each is stable at
// the extremes: +-1e300 and +-inf give the right limits, never NaN or a
// spurious inf; a NaN input gives NaN (value and derivative);
// subnormal results are kept (sigmoid(-720) ~ 1.9e-313 in double).
// alpha is the slope of leaky_relu and the scale of elu; the rest ignore it.
//
// The element functions are branch-free (selects, not jumps: random signs
// would mispredict) and use vmath.hpp instead of libm, so the loops over them
// vectorise. They are compiled once per instruction set (activations_impl.inc,
// generated into pyvanish::generic / avx2 / avx512 by CMake) and
// activation_forward & co. pick one at run time on simd_path() (simd/simd.hpp:
// one process-wide instruction-set choice). Results are deterministic for a
// given path; paths may differ in the last bits (FMA).
//
// Each struct also carries its table entry: its name (in enum order, the one
// table the Python layer maps names from) and sup |phi'| (max_derivative),
// from which the saturation threshold (1% of it) follows.
// gelu alone still calls libm (erfc), so its loop stays scalar.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/vmath.hpp"
#include "simd/simd.hpp"

namespace pyvanish {

enum Act : int {
  ACT_IDENTITY = 0,
  ACT_SIGMOID,
  ACT_TANH,
  ACT_RELU,
  ACT_LEAKY_RELU,
  ACT_ELU,
  ACT_GELU,
  ACT_SILU,
  ACT_SOFTPLUS,
  ACT_COUNT
};

// out (N) = phi(inp (N))
template <class T>
void activation_forward(int a, T alpha, T* out, const T* inp, int64_t N) noexcept;

// dinp (N) = dout (N) * phi'(inp (N)), with out (N) = phi(inp)
template <class T>
void activation_backward(int a, T alpha, T* dinp, const T* dout, const T* inp,
                         const T* out, int64_t N) noexcept;

// dphi (N) = phi'(inp (N)), with out (N) = phi(inp)
template <class T>
void activation_derivative(int a, T alpha, T* dphi, const T* inp, const T* out,
                           int64_t N) noexcept;

// Each instruction-set variant (activations_impl.inc) exposes the same three entry points.
PYVANISH_SIMD_DECLARE(template <class T>
                      void activation_forward(int a, T alpha, T* out, const T* inp, int64_t N) noexcept)
PYVANISH_SIMD_DECLARE(template <class T>
                      void activation_backward(int a, T alpha, T* dinp, const T* dout, const T* inp,
                                               const T* out, int64_t N) noexcept)
PYVANISH_SIMD_DECLARE(template <class T>
                      void activation_derivative(int a, T alpha, T* dphi, const T* inp, const T* out,
                                                 int64_t N) noexcept)

// The activation table (the entries of the structs below), by code:
// "identity", "sigmoid", ... ("unknown" out of range).
const char* activation_name(int a) noexcept;
// sup |phi'| of activation a with parameter alpha.
double max_derivative(int a, double alpha) noexcept;
// |phi'| at or below this counts as saturated: 1% of max_derivative.
double saturation_threshold(int a, double alpha) noexcept;
constexpr double kSaturationFraction = 0.01;

namespace act {
// Internal linkage, like vmath.hpp: every translation unit (every instruction
// set) gets its own copy, never one merged by the linker.
namespace {

// NaN-propagating constant: c, or z itself when z is NaN.
template <class T> inline T keep_nan(T z, T c) noexcept { return z != z ? z : c; }

// The transcendental activations evaluate in double (float too: one rounding
// at the end, and the conversions vectorise).
template <class T> inline T sigmoid(T z) noexcept { return T(vmath::sigmoid(double(z))); }

struct Identity {
  static constexpr const char* name = "identity";
  static double max_derivative(double) noexcept { return 1.0; }
  template <class T> static T f(T z, T) noexcept { return z; }
  template <class T> static T df(T z, T, T) noexcept { return keep_nan(z, T(1)); }
};
struct Sigmoid {
  static constexpr const char* name = "sigmoid";
  static double max_derivative(double) noexcept { return 0.25; }
  template <class T> static T f(T z, T) noexcept { return sigmoid(z); }
  template <class T> static T df(T, T a, T) noexcept { return a * (T(1) - a); }
};
struct Tanh {
  static constexpr const char* name = "tanh";
  static double max_derivative(double) noexcept { return 1.0; }
  template <class T> static T f(T z, T) noexcept { return T(vmath::tanh(double(z))); }
  template <class T> static T df(T, T a, T) noexcept { return (T(1) - a) * (T(1) + a); }
};
struct Relu {
  static constexpr const char* name = "relu";
  static double max_derivative(double) noexcept { return 1.0; }
  template <class T> static T f(T z, T) noexcept { return z < T(0) ? T(0) : z; }
  template <class T> static T df(T z, T, T) noexcept { return z > T(0) ? T(1) : keep_nan(z, T(0)); }
};
struct LeakyRelu {
  static constexpr const char* name = "leaky_relu";
  static double max_derivative(double alpha) noexcept { return alpha > 1.0 ? alpha : 1.0; }
  template <class T> static T f(T z, T alpha) noexcept {
    const T neg = alpha * z;  // computed either way: a select, not a branch
    return z > T(0) ? z : neg;
  }
  template <class T> static T df(T z, T, T alpha) noexcept { return z > T(0) ? T(1) : keep_nan(z, alpha); }
};
struct Elu {
  static constexpr const char* name = "elu";
  static double max_derivative(double alpha) noexcept { return alpha > 1.0 ? alpha : 1.0; }
  // For z > 0 the exponential is of a positive number, outside the range of
  // the *_nonpositive functions: garbage that the select discards. (Cheaper
  // than clamping z to <= 0 first: GCC merges two selects of one value into
  // a slow 3-way one.)
  template <class T> static T f(T z, T alpha) noexcept {
    const T neg = T(double(alpha) * vmath::expm1_nonpositive(double(z)));
    return z > T(0) ? z : neg;
  }
  template <class T> static T df(T z, T, T alpha) noexcept {
    const T neg = T(double(alpha) * vmath::exp_nonpositive(double(z)));
    return z > T(0) ? T(1) : neg;
  }
};
struct Gelu {  // exact: z * Phi(z), Phi(z) = erfc(-z / sqrt 2) / 2
  static constexpr const char* name = "gelu";
  static double max_derivative(double) noexcept { return 1.128904145185155; }  // at z = sqrt 2
  // Evaluated in double for float too: in the far tail erfc's argument error
  // (a float's 6e-8, times 2z^2) would otherwise dominate. libm's erfc: this
  // loop does not vectorise.
  static double cdf(double z) noexcept { return 0.5 * std::erfc(-z * 0.70710678118654752440); }
  template <class T> static T f(T z, T) noexcept {
    if (std::isinf(z)) return z > T(0) ? z : T(0);
    return T(double(z) * cdf(double(z)));
  }
  template <class T> static T df(T z, T, T) noexcept {
    // z * pdf(z) is below the smallest subnormal once |z| > 40: skip it there
    // (squaring 1e300 would overflow).
    const double x = double(z);
    const double tail = std::fabs(x) > 40.0 ? 0.0 : x * std::exp(-0.5 * x * x) * 0.39894228040143267794;
    return T(cdf(x) + tail);
  }
};
struct Silu {  // z * sigmoid(z), from sigmoid rounded to T like the reference
  static constexpr const char* name = "silu";
  static double max_derivative(double) noexcept { return 1.099839320128867; }  // at z = 2.3994
  // (in float, z * s of a subnormal s must round as NumPy's float32 does).
  template <class T> static T f(T z, T) noexcept {
    constexpr T big = std::numeric_limits<T>::max();
    const T s = sigmoid(z);
    return (z < -big ? -big : z) * s;  // silu(-inf) = -big * 0, not NaN
  }
  template <class T> static T df(T z, T, T) noexcept {
    // s + z s (1 - s); at z = +-inf the product is 0 (not inf * 0): z -> 0.
    const T s = sigmoid(z);
    const T zf = std::fabs(z) <= std::numeric_limits<T>::max() ? z : T(0);
    return s + zf * s * (T(1) - s);
  }
};
struct Softplus {  // log(1 + e^z) = max(z, 0) + log1p(e^-|z|)
  static constexpr const char* name = "softplus";
  static double max_derivative(double) noexcept { return 1.0; }
  template <class T> static T f(T z, T) noexcept {
    const double x = double(z);
    const double pos = x < 0.0 ? 0.0 : x;  // NaN kept
    return T(pos + vmath::log1p_unit(vmath::exp_nonpositive(-std::fabs(x))));
  }
  template <class T> static T df(T z, T, T) noexcept { return sigmoid(z); }
};

// Calls fn(Tag{}) with the struct of activation `a`; the one dispatch switch.
template <class Fn> inline void dispatch(int a, Fn&& fn) noexcept {
  switch (a) {
    case ACT_SIGMOID: fn(Sigmoid{}); break;
    case ACT_TANH: fn(Tanh{}); break;
    case ACT_RELU: fn(Relu{}); break;
    case ACT_LEAKY_RELU: fn(LeakyRelu{}); break;
    case ACT_ELU: fn(Elu{}); break;
    case ACT_GELU: fn(Gelu{}); break;
    case ACT_SILU: fn(Silu{}); break;
    case ACT_SOFTPLUS: fn(Softplus{}); break;
    default: fn(Identity{}); break;
  }
}

}  // namespace
}  // namespace act

}  // namespace pyvanish
