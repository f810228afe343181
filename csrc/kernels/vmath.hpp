// Vectorisable elementary functions: exp, expm1, log1p, tanh, sigmoid.
//
// libm's exp/tanh/... are opaque calls, so a loop that uses them never
// vectorises. These are straight-line code (selects, no branches, no tables)
// that GCC auto-vectorises at -O3 for the instruction set of the including
// translation unit. Measured max error over dense grids (2^22 points per
// range, whole domain), against a quad-precision reference / against glibc:
//   exp 0.97 / 1 ulp, expm1 1.46 / 2, log1p 0.85 / 1, tanh 1.44 / 2 (glibc's
//   own tanh: 2.2), sigmoid 2.7 / 2 (the libm formula's own: 2.7);
// tests/test_activation_math.py checks them against libm on every path.
//   * Limits: overflow gives inf, never NaN; +-1e300 and +-inf are clamped
//     first, so they give the limits.
//   * Subnormal results are computed, not flushed (exp(-740) ~ 4.2e-322) and
//     rounded once.
//   * NaN in, NaN out.
// Double precision throughout; the float overloads evaluate in double and
// round once (the conversions vectorise, so the loop still does).
//
// Internal linkage on purpose (the unnamed namespace): the same source is
// compiled with different instruction sets (the generated per-ISA units), and an
// inline function with external linkage would be merged across them by the
// linker, which could run AVX-512 code on the generic path.
//
// Writing for the vectoriser:
//   * every operand is computed before the `c ? a : b` that picks it; GCC
//     still sinks an operand used in one arm only into a branch, which it
//     if-converts only under -fno-trapping-math (set for these files in
//     CMakeLists.txt; it changes no value, unlike -ffast-math);
//   * no two selects on one value in a row (a NaN-preserving clamp from
//     both sides, min(z, 0) then a clamp, ...): GCC merges them into a 3-way
//     select that costs 20-130% of the whole function;
//   * every operation counts: on AVX-512 these functions are bound by the
//     throughput of the vector pipes, not by latency or division.
//
// Never compile with -ffast-math: it would drop the NaN and infinity handling
// below, and its startup code flushes subnormals process-wide.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

namespace pyvanish {
namespace vmath {
namespace {

#if defined(__GNUC__) || defined(__clang__)
inline uint64_t bits(double x) noexcept { return __builtin_bit_cast(uint64_t, x); }
inline double from_bits(uint64_t u) noexcept { return __builtin_bit_cast(double, u); }
#else  // MSVC: memcpy compiles to the same register move
inline uint64_t bits(double x) noexcept {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline double from_bits(uint64_t u) noexcept {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
#endif

// a * b + c, fused where the instruction set has FMA (one rounding), else
// two roundings; never a libm call (std::fma is one without FMA hardware).
inline double mul_add(double a, double b, double c) noexcept {
#if defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLog2e = 1.4426950408889634074;
// ln 2 = kLn2Hi + kLn2Lo; kLn2Hi has 32 significant bits, so n * kLn2Hi is
// exact for |n| < 2^21 (fdlibm's split).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
// x + kRound - kRound rounds x to an integer for |x| < 2^51, and the low bits
// of x + kRound hold that integer (two's complement).
constexpr double kRound = 0x1.8p52;

// NaN-preserving clamps: a NaN x compares false and comes back unchanged.
inline double at_least(double x, double lo) noexcept { return x < lo ? lo : x; }
inline double at_most(double x, double hi) noexcept { return x > hi ? hi : x; }

// Cody-Waite reduction: x = n ln2 + r, n an integer, |r| <= ln2/2 (a hair
// more without FMA). Returns r; sets t = x / ln2 + kRound, whose low bits
// hold n (pow2_n below); n itself is t - kRound.
inline double reduce_ln2(double x, double& t) noexcept {
  t = mul_add(x, kLog2e, kRound);
  const double n = t - kRound;
  return mul_add(-n, kLn2Lo, mul_add(-n, kLn2Hi, x));
}

// 2^(n + bias) for the n held by t (reduce_ln2), built in the exponent field;
// n + bias must be in [-1022, 1023].
inline double pow2_n(double t, int bias) noexcept {
  return from_bits((bits(t) + uint64_t(1023 + bias)) << 52);
}

// c[0] x^(N-1) + c[1] x^(N-2) + ... + c[N-1], by Horner's rule. (Unrolled
// completely: a loop left in the element function keeps the loop over the
// elements from vectorising.)
template <int N> inline double horner(double x, const double (&c)[N]) noexcept {
  double y = c[0];
#pragma GCC unroll 16
  for (int i = 1; i < N; ++i) y = mul_add(y, x, c[i]);
  return y;
}

// The same polynomial by Estrin's scheme: halves a + x^h b (h a power of 2) recursively,
// a chain of about log2 N multiply-adds instead of N - 1, for the vectorised loops,
// which are bound by latency (a few more operations, rounded differently).
// p[j] = x^(2^j); the coefficients Lo .. Lo + M of ascending degree are c[N - 1 - Lo] ...
template <int N, int Lo, int M>
inline double estrin_part(const double* p, const double (&c)[N]) noexcept {
  if constexpr (M == 1) {
    return c[N - 1 - Lo];
  } else {
    constexpr int h = M > 8 ? 8 : M > 4 ? 4 : M > 2 ? 2 : 1;  // the largest power of 2 below M
    constexpr int j = h == 8 ? 3 : h == 4 ? 2 : h == 2 ? 1 : 0;
    return mul_add(estrin_part<N, Lo + h, M - h>(p, c), p[j], estrin_part<N, Lo, h>(p, c));
  }
}
template <int N> inline double estrin(double x, const double (&c)[N]) noexcept {
  static_assert(N <= 16, "up to degree 15");
  double p[4] = {x, x * x, 0.0, 0.0};
  p[2] = p[1] * p[1];
  p[3] = p[2] * p[2];
  return estrin_part<N, 0, N>(p, c);
}

// e^r - 1 - r for |r| <= 0.3473, as r^2 (1/2 + r Q(r)) with Q a degree-9
// near-minimax fit (relative error of e^r - 1 = r + tail: 2^-61.7 before
// rounding). Callers add r themselves, last, to keep its bits.
constexpr double kExpm1Tail[] = {
    0x1.1f8f8aad3c3d4p-29, 0x1.af5f9735ea3efp-26, 0x1.27e4c9ea68e44p-22, 0x1.71ddf7e44bb70p-19,
    0x1.a01a01ae5b5efp-16, 0x1.a01a01b00bb00p-13, 0x1.6c16c16c14ddap-10, 0x1.111111110f65ep-7,
    0x1.5555555555558p-5,  0x1.5555555555559p-3,  0.5};
inline double expm1_tail(double r) noexcept { return (r * r) * horner(r, kExpm1Tail); }

// The same to 2^-55.2 (Q of degree 8), for tanh: there e^-2|x| enters only
// through 2e / (1 + e) <= 0.45, which is subtracted from 1.
constexpr double kExpm1TailShort[] = {
    0x1.af6e211e794f0p-26, 0x1.2898439f9b8cap-22, 0x1.71ddefed19cc0p-19, 0x1.a019b2d5335d3p-16,
    0x1.a01a01b2efa03p-13, 0x1.6c16c17a360b1p-10, 0x1.111111110f054p-7,  0x1.5555555553a7cp-5,
    0x1.555555555555ap-3,  0.5};
inline double expm1_tail_short(double r) noexcept { return (r * r) * estrin(r, kExpm1TailShort); }

// e^x for x <= 0 (or NaN). Subnormal results are rounded once, not flushed:
// p 2^(n+64) is a normal number (exact), and the one rounding happens in the
// multiply by 2^-64.
inline double exp_nonpositive(double x) noexcept {
  // e^-746 is below half the smallest subnormal: the clamp keeps n >= -1077.
  double t;
  const double r = reduce_ln2(at_least(x, -746.0), t);
  const double p = 1.0 + (r + expm1_tail(r));  // in [0.7, 1.42]
  return (p * pow2_n(t, 64)) * 0x1p-64;
}

// e^x; inf where e^x > DBL_MAX.
inline double exp(double x) noexcept {
  // the clamps keep n in [-1077, 1025]; as in exp_nonpositive, with the
  // scaling by 2^+-64 reversed for n > 0 (so that p 2^(n-64) is normal and
  // the multiply by 2^64 overflows to inf where it should).
  double t;
  const double r = reduce_ln2(at_most(at_least(x, -746.0), 710.0), t);
  const double p = 1.0 + (r + expm1_tail(r));
  const bool up = x > 0.0;
  const double s_up = pow2_n(t, -64), s_down = pow2_n(t, 64);
  return (p * (up ? s_up : s_down)) * (up ? 0x1p64 : 0x1p-64);
}

// 2^n e^r - 1 = 2^n (r + tail) + (2^n - 1), summed so that only the small
// tail is rounded before the last addition: s r is exact (s a power of 2) and
// so is s - 1 for n >= -53.
inline double expm1_scaled(double s, double r, double minus) noexcept {
  return mul_add(s, expm1_tail(r), mul_add(s, r, s - minus));
}

// e^x - 1 for x <= 0 (or NaN), accurate for tiny x.
inline double expm1_nonpositive(double x) noexcept {
  // below -60 the result rounds to -1; n in [-87, 0].
  double t;
  const double r = reduce_ln2(at_least(x, -60.0), t);
  const double y = expm1_scaled(pow2_n(t, 0), r, 1.0);
  return x == 0.0 ? x : y;  // keeps -0
}

// e^x - 1, accurate for tiny x (expm1(x) ~ x).
inline double expm1(double x) noexcept {
  // below -60 the result rounds to -1; above 710 it is inf. n in [-87, 1025].
  double t;
  const double r = reduce_ln2(at_most(at_least(x, -60.0), 710.0), t);
  // 2^n overflows for n >= 1024, where the -1 no longer matters: compute
  // 2 (2^(n-1) e^r - 1/2) there.
  const bool top = t - kRound > 1023.0;
  const double s_top = pow2_n(t, -1), s = pow2_n(t, 0);
  const double y = expm1_scaled(top ? s_top : s, r, top ? 0.5 : 1.0);
  const double y_top = y * 2.0;
  return x == 0.0 ? x : (top ? y_top : y);  // keeps -0
}

// log(u + err) for u = 1 + x rounded (u >= 2^-53 finite) and err its
// rounding error: fdlibm's log1p (s_log1p.c). u = 2^k m with m in
// [sqrt(2)/2, sqrt(2)); log m = 2 atanh(f / (2 + f)), f = m - 1; err / u is
// the correction for the rounding of 1 + x.
// (log_core(u): the same with err = 0, without the division err / u.)
template <bool kWithErr>
inline double log_kernel(double u, double err) noexcept {
  const uint64_t iu = bits(u) + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
  const double k = from_bits((iu >> 52) | 0x4330000000000000ull) - (0x1p52 + 1023.0);
  const double m = from_bits((iu & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull);
  const double f = m - 1.0;  // exact
  const double c = kWithErr ? err / u : 0.0;
  const double hfsq = 0.5 * f * f;
  const double s = f / (2.0 + f);
  const double z = s * s;
  constexpr double Lg[] = {1.479819860511658591e-01, 1.531383769920937332e-01,
                           1.818357216161805012e-01, 2.222219843214978396e-01,
                           2.857142874366239149e-01, 3.999999999940941908e-01,
                           6.666666666666735130e-01};
  const double R = z * estrin(z, Lg);
  return k * kLn2Hi - ((hfsq - (s * (hfsq + R) + (k * kLn2Lo + c))) - f);
}
inline double log1p_core(double u, double err) noexcept { return log_kernel<true>(u, err); }
inline double log_core(double u) noexcept { return log_kernel<false>(u, 0.0); }

// log(1 + x), accurate for tiny x.
inline double log1p(double x) noexcept {
  const double u = 1.0 + x;
  // Fast2Sum: u + err == 1 + x exactly (larger operand first).
  const double err_small = x - (u - 1.0), err_big = 1.0 - (u - x);
  double y = log1p_core(u, x < 1.0 ? err_small : err_big);
  y = x == kInf ? kInf : y;  // (u - x) above is NaN there
  y = x == -1.0 ? -kInf : y;
  y = x < -1.0 ? kNaN : y;
  return (x == 0.0 || x != x) ? x : y;  // keeps -0 and NaN
}

// log10 x: -inf for 0, NaN below 0 or for NaN, inf for inf; subnormals scaled into
// the normal range first (exact), so every positive double has its logarithm.
inline double log10(double x) noexcept {
  constexpr double kLog10e = 0.43429448190325182765;
  const bool sub = x < 0x1p-1022;
  const double u = sub ? x * 0x1p54 : x;
  const double back = sub ? 54.0 * kLn2Hi + 54.0 * kLn2Lo : 0.0;
  double y = (log_core(u) - back) * kLog10e;
  y = x == kInf ? kInf : y;
  y = x == 0.0 ? -kInf : y;
  return (x < 0.0 || x != x) ? kNaN : y;
}

// log(1 + x) for x in [0, 1] (or NaN): log1p without the special cases, for
// softplus (log1p(e^-|z|)).
inline double log1p_unit(double x) noexcept {
  const double u = 1.0 + x;
  return log1p_core(u, x - (u - 1.0));
}

// tanh, with the sign of x put back last. |x| < 0.625: Cephes' rational
// x + x^3 P(x^2) / Q(x^2) (relative error 2^-57.5); beyond, 1 - 2e / (1 + e)
// with e = e^-2|x| (the quotient is below 0.45, so its error shrinks).
// (GCC turns the division of selected operands into two divisions and a
// select; that measured faster than forcing one.)
inline double tanh(double x) noexcept {
  const uint64_t sign = bits(x) & 0x8000000000000000ull;
  const double ax = from_bits(bits(x) ^ sign);
  // e = e^-2|x|, |x| clamped to 30 (tanh rounds to 1 beyond 19.1): a normal
  // number, one scale factor.
  const double a = at_most(ax, 30.0);
  double t;
  const double r = reduce_ln2(-(a + a), t);  // n in [-87, 0]
  const double e = (1.0 + (r + expm1_tail_short(r))) * pow2_n(t, 0);
  const double z = ax * ax;
  constexpr double P[] = {-9.64399179425052238628e-1, -9.92877231001918586564e1,
                          -1.61468768441708447952e3};
  constexpr double Q[] = {1.0, 1.12811678491632931402e2, 2.23548839060100448583e3,
                          4.84406305325125486048e3};
  const double Pz = horner(z, P), Qz = estrin(z, Q);
  const bool small = ax < 0.625;
  const double num_small = ax * z * Pz, num_big = 2.0 * e, den_big = 1.0 + e;
  const double q = (small ? num_small : num_big) / (small ? Qz : den_big);
  const double y = small ? ax + q : 1.0 - q;
  return from_bits(bits(y) | sign);  // y >= +0 (NaN stays NaN)
}

// 1 / (1 + e^-x) without forming e^{+large}: e = e^-|x| <= 1.
inline double sigmoid(double x) noexcept {
  const double e = exp_nonpositive(-from_bits(bits(x) & 0x7fffffffffffffffull));
  const double r = 1.0 / (1.0 + e), er = e * r;
  return x >= 0.0 ? r : er;
}

// float: evaluated in double, rounded once.
inline float exp(float x) noexcept { return float(exp(double(x))); }
inline float expm1(float x) noexcept { return float(expm1(double(x))); }
inline float log1p(float x) noexcept { return float(log1p(double(x))); }
inline float tanh(float x) noexcept { return float(tanh(double(x))); }
inline float sigmoid(float x) noexcept { return float(sigmoid(double(x))); }

}  // namespace
}  // namespace vmath
}  // namespace pyvanish
