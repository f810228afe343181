// Counter-based random numbers for ensembles whose members are drawn where they are
// used: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11; the Random123 rounds and constants), keyed by the seed, counted by
// (element pair, layer and kind, member). Any member's parameters can be made
// again, alone, bit for bit, in any order and on any thread.
//
//   element q of (member m, layer l, kind k: 0 weights, 1 biases):
//     counter = (q / 2, l | k << 31, m mod 2^32, m / 2^32), key = (seed mod 2^32, seed / 2^32)
//     64-bit word q mod 2 of the output: words (c0 << 32 | c1, c2 << 32 | c3)
//   uniform:  (word >> 11) 2^-53 in [0, 1)
//   normal:   the inverse normal CDF (Wichura's AS 241, PPND16, relative error ~1e-16)
//             of ((word >> 11) + 1/2) 2^-53 in (0, 1)
//
// Internal linkage (unnamed namespace): compiled into the per-ISA ensemble units.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/vmath.hpp"

namespace pyvanish {
namespace philox {
namespace {

// One Philox4x32-10 block: c (4 words) -> its random image, key k0, k1.
inline void block(uint32_t c[4], uint32_t k0, uint32_t k1) noexcept {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t(M0) * c[0], p1 = uint64_t(M1) * c[2];
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k0, n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c[3] ^ k1, n3 = uint32_t(p0);
    c[0] = n0;
    c[1] = n1;
    c[2] = n2;
    c[3] = n3;
    k0 += W0;
    k1 += W1;
  }
}

// The 64-bit word of element q of (member, layer, kind) under seed.
inline uint64_t word(uint64_t seed, uint64_t member, uint32_t layer, uint32_t kind, uint64_t q) noexcept {
  uint32_t c[4] = {uint32_t(q >> 1), layer | (kind << 31), uint32_t(member), uint32_t(member >> 32)};
  block(c, uint32_t(seed), uint32_t(seed >> 32));
  return (q & 1) ? (uint64_t(c[2]) << 32 | c[3]) : (uint64_t(c[0]) << 32 | c[1]);
}

inline double uniform(uint64_t w) noexcept { return double(w >> 11) * 0x1p-53; }

// The standard normal quantile of p in (0, 1): Wichura, Algorithm AS 241 (PPND16).
// Branch-free (every piece computed, then selected; the log is vmath's), so a loop of
// them vectorises.
inline double normal_quantile(double p) noexcept {
  const double q = p - 0.5;
  const double r1 = 0.180625 - q * q;
  const double central =
      q *
      (((((((2.5090809287301226727e+3 * r1 + 3.3430575583588128105e+4) * r1 + 6.7265770927008700853e+4) * r1 +
           4.5921953931549871457e+4) * r1 + 1.3731693765509461125e+4) * r1 + 1.9715909503065514427e+3) * r1 +
        1.3314166789178437745e+2) * r1 + 3.3871328727963666080e+0) /
      (((((((5.2264952788528545610e+3 * r1 + 2.8729085735721942674e+4) * r1 + 3.9307895800092710610e+4) * r1 +
           2.1213794301586595867e+4) * r1 + 5.3941960214247511077e+3) * r1 + 6.8718700749205790830e+2) * r1 +
        4.2313330701600911252e+1) * r1 + 1.0);
  const double tail_p = q < 0 ? p : 1.0 - p;  // in [2^-54, 1/2]: a normal double
  const double r = std::sqrt(-vmath::log_core(tail_p));
  const double r2 = r - 1.6, r3 = r - 5.0;
  const double near =
      (((((((7.74545014278341407640e-4 * r2 + 2.27238449892691845833e-2) * r2 + 2.41780725177450611770e-1) * r2 +
           1.27045825245236838258e+0) * r2 + 3.64784832476320460504e+0) * r2 + 5.76949722146069140550e+0) * r2 +
        4.63033784615654529590e+0) * r2 + 1.42343711074968357734e+0) /
      (((((((1.05075007164441684324e-9 * r2 + 5.47593808499534494600e-4) * r2 + 1.51986665636164571966e-2) * r2 +
           1.48103976427480074590e-1) * r2 + 6.89767334985100004550e-1) * r2 + 1.67638483018380384940e+0) * r2 +
        2.05319162663775882187e+0) * r2 + 1.0);
  const double far =
      (((((((2.01033439929228813265e-7 * r3 + 2.71155556874348757815e-5) * r3 + 1.24266094738807843860e-3) * r3 +
           2.65321895265761230930e-2) * r3 + 2.96560571828504891230e-1) * r3 + 1.78482653991729133580e+0) * r3 +
        5.46378491116411436990e+0) * r3 + 6.65790464350110377720e+0) /
      (((((((2.04426310338993978564e-15 * r3 + 1.42151175831644588870e-7) * r3 + 1.84631831751005468180e-5) * r3 +
           7.86869131145613259100e-4) * r3 + 1.48753612908506148525e-2) * r3 + 1.36929880922735805310e-1) * r3 +
        5.99832206555887937690e-1) * r3 + 1.0);
  const double tail = r <= 5.0 ? near : far;
  const double signed_tail = q < 0 ? -tail : tail;
  return std::fabs(q) <= 0.425 ? central : signed_tail;
}

inline double normal(uint64_t w) noexcept { return normal_quantile((double(w >> 11) + 0.5) * 0x1p-53); }

// How a parameter array is drawn: DIST_UNIFORM scale * (2u - 1) (U[-a, a)), DIST_NORMAL
// scale * z, DIST_CONSTANT scale (the value; no draw).
enum Dist : int { DIST_UNIFORM = 0, DIST_NORMAL = 1, DIST_CONSTANT = 2 };

inline double draw(int dist, double scale, uint64_t seed, uint64_t member, uint32_t layer, uint32_t kind,
                   uint64_t q) noexcept {
  if (dist == DIST_CONSTANT) return scale;
  const uint64_t w = word(seed, member, layer, kind, q);
  return dist == DIST_UNIFORM ? scale * (2.0 * uniform(w) - 1.0) : scale * normal(w);
}

}  // namespace
}  // namespace philox
}  // namespace pyvanish
