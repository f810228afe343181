// Activation functions: one table of forward / derivative pairs.
//
// Every activation is a struct with
//   static T f(T z, T alpha)            a = phi(z)
//   static T df(T z, T a, T alpha)      phi'(z), given z and a = phi(z)
// Sigmoid and tanh take their derivative from the output. Each is stable at
// the extremes: +-1e300 and +-inf give the right limits, never NaN or a
// floating-point overflow; a NaN input gives NaN (value and derivative).
// alpha is the slope of leaky_relu and the scale of elu; the rest ignore it.
#pragma once
#include <cmath>
#include <cstdint>

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

namespace act {

// sigmoid(z) = 1 / (1 + e^-z) without ever forming e^{+large}.
template <class T> inline T sigmoid(T z) noexcept {
  const T e = std::exp(-std::fabs(z));
  const T r = T(1) / (T(1) + e);
  return z >= T(0) ? r : e * r;
}

// NaN-propagating constant: c, or z itself when z is NaN.
template <class T> inline T keep_nan(T z, T c) noexcept { return z != z ? z : c; }

struct Identity {
  template <class T> static T f(T z, T) noexcept { return z; }
  template <class T> static T df(T z, T, T) noexcept { return keep_nan(z, T(1)); }
};
struct Sigmoid {
  template <class T> static T f(T z, T) noexcept { return sigmoid(z); }
  template <class T> static T df(T, T a, T) noexcept { return a * (T(1) - a); }
};
struct Tanh {
  template <class T> static T f(T z, T) noexcept { return std::tanh(z); }
  template <class T> static T df(T, T a, T) noexcept { return (T(1) - a) * (T(1) + a); }
};
struct Relu {
  template <class T> static T f(T z, T) noexcept { return z < T(0) ? T(0) : z; }
  template <class T> static T df(T z, T, T) noexcept { return z > T(0) ? T(1) : keep_nan(z, T(0)); }
};
struct LeakyRelu {
  template <class T> static T f(T z, T alpha) noexcept { return z > T(0) ? z : alpha * z; }
  template <class T> static T df(T z, T, T alpha) noexcept { return z > T(0) ? T(1) : keep_nan(z, alpha); }
};
struct Elu {
  template <class T> static T f(T z, T alpha) noexcept { return z > T(0) ? z : alpha * std::expm1(z); }
  template <class T> static T df(T z, T, T alpha) noexcept { return z > T(0) ? T(1) : alpha * std::exp(z); }
};
struct Gelu {  // exact: z * Phi(z), Phi(z) = erfc(-z / sqrt 2) / 2
  // Evaluated in double for float too: in the far tail erfc's argument error
  // (a float's 6e-8, times 2z^2) would otherwise dominate.
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
struct Silu {  // z * sigmoid(z)
  template <class T> static T f(T z, T) noexcept {
    if (std::isinf(z)) return z > T(0) ? z : T(0);
    return z * sigmoid(z);
  }
  template <class T> static T df(T z, T, T) noexcept {
    if (std::isinf(z)) return z > T(0) ? T(1) : T(0);
    const T s = sigmoid(z);
    return s + z * s * (T(1) - s);
  }
};
struct Softplus {  // log(1 + e^z)
  template <class T> static T f(T z, T) noexcept {
    return (z > T(0) ? z : keep_nan(z, T(0))) + std::log1p(std::exp(-std::fabs(z)));
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

}  // namespace act

// out (N) = phi(inp (N))
template <class T>
void activation_forward(int a, T alpha, T* out, const T* inp, int64_t N) noexcept {
  act::dispatch(a, [&](auto A) {
    using F = decltype(A);
    for (int64_t i = 0; i < N; ++i) out[i] = F::f(inp[i], alpha);
  });
}

// dinp (N) = dout (N) * phi'(inp (N)), with out (N) = phi(inp)
template <class T>
void activation_backward(int a, T alpha, T* dinp, const T* dout, const T* inp,
                         const T* out, int64_t N) noexcept {
  act::dispatch(a, [&](auto A) {
    using F = decltype(A);
    for (int64_t i = 0; i < N; ++i) dinp[i] = dout[i] * F::df(inp[i], out[i], alpha);
  });
}

// dphi (N) = phi'(inp (N)), with out (N) = phi(inp)
template <class T>
void activation_derivative(int a, T alpha, T* dphi, const T* inp, const T* out,
                           int64_t N) noexcept {
  act::dispatch(a, [&](auto A) {
    using F = decltype(A);
    for (int64_t i = 0; i < N; ++i) dphi[i] = F::df(inp[i], out[i], alpha);
  });
}

}  // namespace pyvanish

namespace pyvanish {
// Names in enum order: the one table the Python layer maps names from.
inline const char* activation_name(int a) noexcept {
  static const char* const names[ACT_COUNT] = {"identity", "sigmoid", "tanh",
                                               "relu",     "leaky_relu", "elu",
                                               "gelu",     "silu",    "softplus"};
  return (a >= 0 && a < ACT_COUNT) ? names[a] : "unknown";
}
}  // namespace pyvanish
