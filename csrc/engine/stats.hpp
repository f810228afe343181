// The per-layer gradient statistics, one implementation for both engines.
//
// Network (network.cpp) keeps a layer's buffers as (B, n) row-major arrays;
// Ensemble (ensemble_impl.inc) keeps them member-innermost, (rows, E). Both
// reduce them here, with lane-wise reductions over rows: lane k of row r is
// v[r * stride + k]. The ensemble calls them with its slice of members as the
// lanes; the network views a flat buffer of n values as n / kLanes rows of
// kLanes lanes plus a tail, and combines the lanes at the end (flat_* below).
// Each lane's sum runs over the rows in order and lanes are combined in a fixed
// order, so results depend neither on the instruction set's vector width nor
// on the thread count; the loops over lanes vectorise.
//
// Internal linkage on purpose (like vmath.hpp): ensemble_impl.inc includes
// this header once per instruction set, and an inline function with external
// linkage would be merged across them by the linker.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/vmath.hpp"

namespace pyvanish {

// Per-layer statistics, one row of doubles per layer (layer l at row l-1).
enum Stat : int {
  ST_GRAD_H = 0,       // |dL/dh_l|   (L2 over the whole batch)
  ST_GRAD_Z,           // |dL/dz_l|
  ST_GRAD_W,           // |dL/dW_l|_F
  ST_GRAD_B,           // |dL/db_l|
  ST_MEAN_DPHI,        // mean of phi'(z_l) over batch and units
  ST_SATURATED,        // fraction of unit-samples with |phi'| <= 0.01 max phi'
  ST_DEAD,             // fraction of units with phi' == 0 on every sample
  ST_NONFINITE_ACT,    // NaN/Inf count in z_l and h_l
  ST_NONFINITE_GRAD,   // NaN/Inf count in dL/dh_l, dL/dz_l, dL/dW_l, dL/db_l
  ST_TINY_GRAD,        // entries of dL/dW_l that are exactly 0 or subnormal
  ST_GRAD_GAMMA,       // |dL/dgamma_l| (batch-norm layers; NaN elsewhere)
  ST_GRAD_BETA,        // |dL/dbeta_l|
  ST_COUNT
};

// The verdict of a gradient report (see verdict_code below).
enum Verdict : int { VERDICT_HEALTHY = 0, VERDICT_VANISHING, VERDICT_EXPLODING, VERDICT_UNDETERMINED, VERDICT_COUNT };
// A ratio beyond 10^this (either way) is vanishing or exploding.
constexpr double kVerdictThresholdDecades = 2.0;

// Everything a layer's statistics row is made of, reduced by either engine.
struct LayerAccumulators {
  double grad_h, grad_z, grad_W, grad_b;  // norms
  double grad_gamma, grad_beta;           // norms (NaN without batch norm)
  double sum_dphi;                        // sum of phi' over the unit-samples
  double saturated;                       // unit-samples with |phi'| <= threshold
  double dead;                            // units with phi' == 0 on every sample
  double nonfinite_act, nonfinite_grad;   // NaN/Inf counts
  double tiny;                            // entries of dL/dW that are 0 or subnormal
  int64_t samples;                        // unit-samples (B * n_l)
  int64_t units;                          // n_l
};

// A layer's buffers (what reduce_layer below reads): activations and their gradients have act_rows rows
// (B * n_l), dW has w_rows (n_l * n_{l-1}), db and the batch-norm gradients
// `units` (n_l). u, du, dgamma, dbeta: batch-norm layers only (else null).
template <class T>
struct LayerBuffers {
  const T *z, *u, *h, *dh, *dz, *du, *dW, *db, *dgamma, *dbeta;
  int64_t act_rows, w_rows, units;
};

// The ratios and verdict of one network's statistics (summarize below).
struct Summary {
  double signal_ratio, weight_ratio, nonfinite;
  int verdict;
};
namespace {

inline const char* stat_name(int s) noexcept {
  static const char* const names[ST_COUNT] = {
      "grad_h", "grad_z", "grad_W", "grad_b", "mean_dphi", "saturated", "dead",
      "nonfinite_act", "nonfinite_grad", "tiny_grad_W", "grad_gamma", "grad_beta"};
  return (s >= 0 && s < ST_COUNT) ? names[s] : "unknown";
}

inline const char* verdict_name(int v) noexcept {
  static const char* const names[VERDICT_COUNT] = {"healthy", "vanishing", "exploding", "undetermined"};
  return (v >= 0 && v < VERDICT_COUNT) ? names[v] : "unknown";
}

// The verdict for the signal ratio |dL/dh_1| / |dL/dh_L|, the weight ratio
// |dL/dW_1| / |dL/dW_L| and the number of NaN/Inf produced: any NaN/Inf is
// exploding; else with the log10 of both ratios (log10 0 = -inf), NaN ones
// ignored: both NaN is undetermined, the larger above +threshold exploding,
// the smaller below -threshold vanishing, else healthy.
//
// Exactly those comparisons of log10, without a log10 per ratio: far from
// 10^+-threshold the ratio itself decides (verdict_settled); within a relative 1e-9
// of it (where log10's rounding could matter) log10 does (verdict_code).
static_assert(kVerdictThresholdDecades == 2.0, "kVerdictHi, kVerdictLo are 10^+-2");
constexpr double kVerdictBand = 1e-9, kVerdictHi = 100.0, kVerdictLo = 0.01;

// The verdict code (as a double) where comparisons of the ratios settle it; *hard set
// (and the code meaningless) where a ratio sits within kVerdictBand of 10^+-threshold
// and nothing else decided. & and |, not && and ||, and selects of doubles: no
// branches, so a loop over networks (verdict_columns) vectorises.
inline double verdict_settled(double sr, double wr, double nonfinite, bool* hard) noexcept {
  constexpr double hi1 = kVerdictHi * (1.0 + kVerdictBand), lo1 = kVerdictLo * (1.0 - kVerdictBand);
  constexpr double hi0 = kVerdictHi * (1.0 - kVerdictBand), lo0 = kVerdictLo * (1.0 + kVerdictBand);
  const bool s_ok = sr >= 0.0, w_ok = wr >= 0.0;  // log10 is NaN for NaN and negative ratios: ignored
  const bool s_up = s_ok & (sr > hi1), s_down = s_ok & (sr < lo1);
  const bool w_up = w_ok & (wr > hi1), w_down = w_ok & (wr < lo1);
  const bool s_in = (sr < hi0) & (sr > lo0), w_in = (wr < hi0) & (wr > lo0);
  const bool up = (nonfinite > 0.0) | s_up | w_up;
  double v = (s_down | w_down) ? double(VERDICT_VANISHING) : double(VERDICT_HEALTHY);
  v = !(s_ok | w_ok) ? double(VERDICT_UNDETERMINED) : v;
  v = up ? double(VERDICT_EXPLODING) : v;
  *hard = !up & ((s_ok & !(s_down | s_in)) | (w_ok & !(w_down | w_in)));
  return v;
}

inline int verdict_code(double signal_ratio, double weight_ratio, double nonfinite) noexcept {
  bool hard;
  const double v = verdict_settled(signal_ratio, weight_ratio, nonfinite, &hard);
  if (!hard) return int(v);
  // neither exploding nor NaN/Inf; a ratio near 10^+-threshold: log10 of both decides
  const double thr = kVerdictThresholdDecades;
  auto side = [thr](double r) {  // +1 above, -1 below, 0 within; NaN and negative: 0
    if (!(r >= 0.0)) return 0;
    const double lg = std::log10(r);
    return lg > thr ? 1 : (lg < -thr ? -1 : 0);
  };
  const int s = side(signal_ratio), w = side(weight_ratio);
  if (s > 0 || w > 0) return VERDICT_EXPLODING;
  if (s < 0 || w < 0) return VERDICT_VANISHING;
  return VERDICT_HEALTHY;
}

// The ratios and verdict of one network's statistics: L rows, statistic s of layer l
// at stats[(l - 1) * ls + s * ss] (rows: ls = ST_COUNT, ss = 1).
inline Summary summarize(const double* stats, int64_t L, int64_t ls = ST_COUNT, int64_t ss = 1) noexcept {
  const double* first = stats;
  const double* last = stats + (L - 1) * ls;
  Summary s;
  s.signal_ratio = first[ST_GRAD_H * ss] / last[ST_GRAD_H * ss];  // IEEE: 0/0 = NaN, x/0 = inf
  s.weight_ratio = first[ST_GRAD_W * ss] / last[ST_GRAD_W * ss];
  s.nonfinite = 0.0;
  for (int64_t l = 0; l < L; ++l)
    s.nonfinite += stats[l * ls + ST_NONFINITE_ACT * ss] + stats[l * ls + ST_NONFINITE_GRAD * ss];
  s.verdict = verdict_code(s.signal_ratio, s.weight_ratio, s.nonfinite);
  return s;
}

// summarize(...).verdict of n networks whose statistics are columns (network k's
// statistic s of layer l at stats[k + (l - 1) * ls + s * ss]), into out[k], 64 at a
// time: verdict_settled over the block (vectorised), verdict_code for the few it leaves.
inline void verdict_columns(const double* stats, int64_t L, int64_t ls, int64_t ss, int64_t n, int8_t* out) noexcept {
  constexpr int64_t kBlock = 64;
  const double *gh1 = stats + ST_GRAD_H * ss, *ghL = stats + (L - 1) * ls + ST_GRAD_H * ss;
  const double *gw1 = stats + ST_GRAD_W * ss, *gwL = stats + (L - 1) * ls + ST_GRAD_W * ss;
  double nf[kBlock], code[kBlock], hard[kBlock];  // (hard as doubles: one vector width)
  for (int64_t k0 = 0; k0 < n; k0 += kBlock) {
    const int64_t m = n - k0 < kBlock ? n - k0 : kBlock;
    for (int64_t k = 0; k < m; ++k) nf[k] = 0.0;
    for (int64_t l = 0; l < L; ++l) {  // (the order summarize adds them in)
      const double* a = stats + l * ls + ST_NONFINITE_ACT * ss + k0;
      const double* g = stats + l * ls + ST_NONFINITE_GRAD * ss + k0;
      for (int64_t k = 0; k < m; ++k) nf[k] += a[k] + g[k];
    }
    for (int64_t k = 0; k < m; ++k) {
      bool h;
      code[k] = verdict_settled(gh1[k0 + k] / ghL[k0 + k], gw1[k0 + k] / gwL[k0 + k], nf[k], &h);
      hard[k] = h ? 1.0 : 0.0;
    }
    for (int64_t k = 0; k < m; ++k)
      out[k0 + k] = hard[k] != 0.0 ? int8_t(verdict_code(gh1[k0 + k] / ghL[k0 + k], gw1[k0 + k] / gwL[k0 + k], nf[k]))
                                   : int8_t(code[k]);
  }
}

// ------------------------------------------------------------ lane reductions

// What the derivative statistics count, for one value d = phi'(u) (both
// engines accumulate these inside their backward loops, fused with
// dL/du = dL/da * phi'): saturated when |phi'| <= thr (thr =
// saturation_threshold(act, alpha)), alive when phi' != 0; a unit is dead
// when it is alive on no sample.
template <class T>
inline bool is_saturated(T d, double thr) noexcept { return std::fabs(double(d)) <= thr; }
template <class T>
inline bool is_alive(T d) noexcept { return d != T(0); }

// out[k] += the number of rows r where alive[r * stride + k] is zero (dead units).
template <class A>
inline void lane_count_dead(const A* alive, int64_t rows, int64_t stride, int64_t n, double* out) noexcept {
  for (int64_t r = 0; r < rows; ++r) {
    const A* row = alive + r * stride;
    for (int64_t k = 0; k < n; ++k) out[k] += row[k] == A(0) ? 1.0 : 0.0;
  }
}


template <class V>
inline void fill(V* p, int64_t n, V v) noexcept {
  for (int64_t k = 0; k < n; ++k) p[k] = v;
}

// 2^e for integer e in [-1022, 1023], built from its bits (vectorisable, exact).
inline double pow2(int64_t e) noexcept { return vmath::from_bits(uint64_t(1023 + e) << 52); }
// The exponent e of x = f 2^e, f in [0.5, 1), for finite x > 0 (subnormals: -1022).
inline int64_t exponent_of(double x) noexcept { return int64_t((vmath::bits(x) >> 52) & 0x7ff) - 1022; }

// Vectors of lanes for the reductions below (GCC/Clang vector extensions; without them
// the plain loops): a loop over lanes with its sums in memory is bound by their loads
// and stores, and GCC, handed a short loop over lanes inside one over rows, vectorises
// the rows with a transpose per row. Held in registers while the rows run, a lane's sums
// are the same operations in the same order: the same numbers on every path.
#if defined(__GNUC__) || defined(__clang__)
#define PYVANISH_LANE_VECTORS 1
#if defined(__AVX512F__)
constexpr int kLaneVecBytes = 64;
#elif defined(__AVX__)
constexpr int kLaneVecBytes = 32;
#else
constexpr int kLaneVecBytes = 16;
#endif
typedef double LaneVec __attribute__((vector_size(kLaneVecBytes)));
constexpr int64_t kLaneVec = kLaneVecBytes / int64_t(sizeof(double));
// kLaneVec consecutive lanes of one row, as doubles.
template <class T>
inline LaneVec load_lanes(const T* p) noexcept {
  LaneVec x;
  if constexpr (sizeof(T) == sizeof(double)) {
    std::memcpy(&x, p, sizeof x);
  } else {
    for (int64_t j = 0; j < kLaneVec; ++j) x[j] = double(p[j]);
  }
  return x;
}
#endif

// One pass over rows: per lane k < n a finiteness check (chk: sum of v - v,
// NaN iff some entry is NaN or inf) and the plain sum of squares (in double),
// accumulated into the given arrays.
template <class T>
inline void lane_scan(const T* v, int64_t rows, int64_t stride, int64_t n, double* chk, double* sum) noexcept {
  int64_t k0 = 0;
#if defined(PYVANISH_LANE_VECTORS)
  for (; k0 + 2 * kLaneVec <= n; k0 += 2 * kLaneVec) {  // two vectors: four independent chains
    LaneVec c0, c1, s0, s1;
    std::memcpy(&c0, chk + k0, sizeof c0);
    std::memcpy(&c1, chk + k0 + kLaneVec, sizeof c1);
    std::memcpy(&s0, sum + k0, sizeof s0);
    std::memcpy(&s1, sum + k0 + kLaneVec, sizeof s1);
    for (int64_t r = 0; r < rows; ++r) {
      const LaneVec x0 = load_lanes(v + r * stride + k0), x1 = load_lanes(v + r * stride + k0 + kLaneVec);
      c0 += x0 - x0;
      c1 += x1 - x1;
      s0 += x0 * x0;
      s1 += x1 * x1;
    }
    std::memcpy(chk + k0, &c0, sizeof c0);
    std::memcpy(chk + k0 + kLaneVec, &c1, sizeof c1);
    std::memcpy(sum + k0, &s0, sizeof s0);
    std::memcpy(sum + k0 + kLaneVec, &s1, sizeof s1);
  }
  for (; k0 + kLaneVec <= n; k0 += kLaneVec) {
    LaneVec c, s;
    std::memcpy(&c, chk + k0, sizeof c);
    std::memcpy(&s, sum + k0, sizeof s);
    for (int64_t r = 0; r < rows; ++r) {
      const LaneVec x = load_lanes(v + r * stride + k0);
      c += x - x;
      s += x * x;
    }
    std::memcpy(chk + k0, &c, sizeof c);
    std::memcpy(sum + k0, &s, sizeof s);
  }
#endif
  for (; k0 < n; ++k0)
    for (int64_t r = 0; r < rows; ++r) {
      const double x = double(v[r * stride + k0]);
      chk[k0] += x - x;
      sum[k0] += x * x;
    }
}

// amax[k] = max(amax[k], the largest |v| of lane k) over rows.
template <class T>
inline void lane_amax(const T* v, int64_t rows, int64_t stride, int64_t n, double* amax) noexcept {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * stride;
    for (int64_t k = 0; k < n; ++k) {
      const double a = std::fabs(double(row[k]));
      amax[k] = a > amax[k] ? a : amax[k];
    }
  }
}

// sum[k] += (v * scale[k])^2 over rows.
template <class T>
inline void lane_scaled_squares(const T* v, int64_t rows, int64_t stride, int64_t n, const double* scale,
                                double* sum) noexcept {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * stride;
    for (int64_t k = 0; k < n; ++k) {
      const double w = double(row[k]) * scale[k];
      sum[k] += w * w;
    }
  }
}

// Whether a plain sum of squares of finite values may be wrong: it overflowed
// (inf), or it is so small that squares may have underflowed (or it is 0).
// Then it is summed again, scaled by a power of two near the largest entry
// (exact), so the squares do neither. A sum in range needs no second pass:
// scaling by a power of two would change none of its bits. float: a float's
// square can neither overflow nor underflow a double, so never.
template <class T>
inline bool needs_rescale(double sum) noexcept {
  if constexpr (sizeof(T) < sizeof(double)) return false;
  return !((sum >= 0x1p-900) & (sum <= std::numeric_limits<double>::max()));
}
// The power-of-two exponent to scale by 2^-e (clamped so that 2^-e and 2^e exist).
inline int64_t rescale_exponent(double amax) noexcept {
  const int64_t ex = exponent_of(amax);
  return ex < -1000 ? -1000 : (ex > 1022 ? 1022 : ex);
}

// Per-lane L2 norms over rows: out[k] = |v[:, k]|, for k < n, without
// overflow or underflow in the squares; NaN if any NaN, inf if any inf.
// amax, chk, sum: n doubles of scratch each. Returns true when every entry is
// finite (then no NaN/Inf count is needed). One pass computes the finiteness
// check and the plain sum of squares; only lanes whose sum may have overflowed
// or underflowed (needs_rescale) are scanned again for their maximum and
// summed again, scaled.
template <class T>
inline bool lane_norms(const T* v, int64_t rows, int64_t stride, int64_t n, double* out, double* amax,
                       double* chk, double* sum) noexcept {
  if (rows == 1) {  // one value per lane: its norm is |v|, which is what sqrt(v^2) rounds to
    int64_t bad = 0;  // (in binary floating point, when v^2 neither overflows nor underflows,
    for (int64_t k = 0; k < n; ++k) {  //  and what the rescaled sum gives when it does)
      const double x = double(v[k]);
      out[k] = std::fabs(x);
      bad |= int64_t(x - x == 0.0) ^ 1;
    }
    return bad == 0;
  }
  fill(chk, n, 0.0);
  fill(sum, n, 0.0);
  lane_scan(v, rows, stride, n, chk, sum);
  int64_t bad = 0, rescale = 0;  // integer flags: the loop vectorises
  for (int64_t k = 0; k < n; ++k) {
    const int64_t ok = chk[k] == chk[k];
    bad |= ok ^ 1;
    rescale |= ok & int64_t(needs_rescale<T>(sum[k]));
  }
  const bool finite = bad == 0;
  if (!rescale) {
    for (int64_t k = 0; k < n; ++k) out[k] = std::sqrt(sum[k]);
    return finite;
  }
  fill(amax, n, 0.0);
  lane_amax(v, rows, stride, n, amax);
  // lanes in range, non-finite and all-zero lanes sum unscaled (exponent 0): the same sums again
  for (int64_t k = 0; k < n; ++k) {
    const bool ok = chk[k] == chk[k] && amax[k] > 0.0 && needs_rescale<T>(sum[k]);
    const int64_t ex = ok ? rescale_exponent(amax[k]) : 0;
    chk[k] = pow2(-ex);  // reuse: the scale
    amax[k] = pow2(ex);  // reuse: its inverse
    sum[k] = 0.0;
  }
  lane_scaled_squares(v, rows, stride, n, chk, sum);
  for (int64_t k = 0; k < n; ++k) out[k] = std::sqrt(sum[k]) * amax[k];
  return finite;
}

// Whether every entry is finite (one add per entry); chk: n values of scratch,
// of type C (double, or T itself: v - v is 0 or NaN in any precision).
template <class T, class C>
inline bool lane_all_finite(const T* v, int64_t rows, int64_t stride, int64_t n, C* chk) noexcept {
  fill(chk, n, C(0));
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * stride;
    for (int64_t k = 0; k < n; ++k) chk[k] += C(row[k]) - C(row[k]);
  }
  int64_t bad = 0;  // an integer flag: the loop vectorises
  for (int64_t k = 0; k < n; ++k) bad |= int64_t(chk[k] == chk[k]) ^ 1;
  return bad == 0;
}

// out[k] += the number of NaN/Inf entries of lane k.
template <class T>
inline void lane_count_nonfinite(const T* v, int64_t rows, int64_t stride, int64_t n, double* out) noexcept {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * stride;
    for (int64_t k = 0; k < n; ++k) {
      const T d = row[k] - row[k];  // 0 when finite, NaN for NaN and +-inf
      out[k] += !(d == d);
    }
  }
}

// out[k] += the number of entries of lane k that are 0 or subnormal.
template <class T>
inline void lane_count_tiny(const T* v, int64_t rows, int64_t stride, int64_t n, double* out) noexcept {
  const T smallest = std::numeric_limits<T>::min();
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * stride;
    for (int64_t k = 0; k < n; ++k) out[k] += std::fabs(row[k]) < smallest;
  }
}

// ------------------------------------------------------------ flat buffers
// A flat buffer of n values as n / kLanes rows of kLanes lanes, the tail
// (n % kLanes values) folded into lane 0; lanes combined in order at the end.

constexpr int64_t kLanes = 8;

// The L2 norm of v (n), overflow- and underflow-safe, NaN if any NaN, inf if
// any inf; *finite (if given) says whether every entry is finite.
template <class T>
inline double flat_norm(const T* v, int64_t n, bool* finite = nullptr) noexcept {
  const int64_t rows = n / kLanes, tail = n - rows * kLanes;
  const T* rest = v + rows * kLanes;
  double chk[kLanes] = {}, sum[kLanes] = {};
  lane_scan(v, rows, kLanes, kLanes, chk, sum);
  lane_scan(rest, tail, 1, 1, chk, sum);
  double c = 0.0, total = 0.0;
  for (int k = 0; k < kLanes; ++k) {
    c += chk[k];
    total += sum[k];
  }
  const bool ok = c == c;
  if (finite) *finite = ok;
  if (!ok || !needs_rescale<T>(total)) return std::sqrt(total);  // NaN or inf: the plain sum says which
  double amax[kLanes] = {};
  lane_amax(v, rows, kLanes, kLanes, amax);
  lane_amax(rest, tail, 1, 1, amax);
  double m = 0.0;
  for (int k = 0; k < kLanes; ++k) m = amax[k] > m ? amax[k] : m;
  if (m == 0.0) return 0.0;
  const int64_t ex = rescale_exponent(m);
  double scale[kLanes];
  fill(scale, kLanes, pow2(-ex));
  fill(sum, kLanes, 0.0);
  lane_scaled_squares(v, rows, kLanes, kLanes, scale, sum);
  lane_scaled_squares(rest, tail, 1, 1, scale, sum);
  total = 0.0;
  for (int k = 0; k < kLanes; ++k) total += sum[k];
  return std::sqrt(total) * pow2(ex);
}

template <class T>
inline bool flat_all_finite(const T* v, int64_t n) noexcept {
  const int64_t rows = n / kLanes, tail = n - rows * kLanes;
  T chk[kLanes], t[1];
  const bool body = lane_all_finite(v, rows, kLanes, kLanes, chk);
  const bool rest = lane_all_finite(v + rows * kLanes, tail, 1, 1, t);
  return body && rest;
}

template <class T>
inline int64_t flat_count_nonfinite(const T* v, int64_t n) noexcept {
  if (flat_all_finite(v, n)) return 0;
  double c[1] = {0.0};
  lane_count_nonfinite(v, n, 1, 1, c);
  return int64_t(c[0]);
}

template <class T>
inline int64_t flat_count_tiny(const T* v, int64_t n) noexcept {
  const int64_t rows = n / kLanes, tail = n - rows * kLanes;
  double c[kLanes] = {};
  lane_count_tiny(v, rows, kLanes, kLanes, c);
  lane_count_tiny(v + rows * kLanes, tail, 1, 1, c);
  double total = 0.0;
  for (int k = 0; k < kLanes; ++k) total += c[k];
  return int64_t(total);
}


// ------------------------------------------------------------ one layer, both engines
// Everything the statistics read of a layer's buffers, and the one function
// that reduces them (norms, NaN/Inf counts, underflowed weight gradients).
// Both engines call reduce_layer once per layer: the network with a
// FlatReducer (one lane: the whole buffer), the ensemble with a LaneReducer
// (one lane per member of its slice). A statistic of a buffer is added here
// alone: a field of LayerAccumulators and of LaneStats, its reduction in
// reduce_layer, its column in Stat / stat_name / stats_row.

// Where reduce_layer writes: one double per lane in each array.
struct LaneStats {
  double *grad_h, *grad_z, *grad_W, *grad_b, *grad_gamma, *grad_beta, *nonfinite_act, *nonfinite_grad, *tiny;
  static constexpr int64_t kArrays = 9;

  // The arrays carved, in order, from a block of kArrays * n doubles.
  static LaneStats over(double* block, int64_t n) noexcept {
    LaneStats s;
    double** fields[kArrays] = {&s.grad_h, &s.grad_z, &s.grad_W, &s.grad_b, &s.grad_gamma,
                                &s.grad_beta, &s.nonfinite_act, &s.nonfinite_grad, &s.tiny};
    for (int64_t i = 0; i < kArrays; ++i) *fields[i] = block + i * n;
    return s;
  }
  // n lanes written in place: field s at base + ST_s * ss (the n contiguous members of
  // one layer's column s of a member-innermost statistics array).
  static LaneStats columns(double* base, int64_t ss) noexcept {
    return {base + ST_GRAD_H * ss,       base + ST_GRAD_Z * ss,         base + ST_GRAD_W * ss,
            base + ST_GRAD_B * ss,       base + ST_GRAD_GAMMA * ss,     base + ST_GRAD_BETA * ss,
            base + ST_NONFINITE_ACT * ss, base + ST_NONFINITE_GRAD * ss, base + ST_TINY_GRAD * ss};
  }
  // One lane: the fields of a LayerAccumulators.
  static LaneStats of(LayerAccumulators& a) noexcept {
    return {&a.grad_h, &a.grad_z, &a.grad_W, &a.grad_b, &a.grad_gamma, &a.grad_beta,
            &a.nonfinite_act, &a.nonfinite_grad, &a.tiny};
  }
};

// out[k] = in[k] / d for k < n (in place allowed), d a positive count. Where d is a
// power of two (1, B * n_l of most layers) the loop multiplies by 1 / d, exact, which
// rounds x 2^-j as the division does (the same numbers; a multiply instead of a divide).
inline void divide_lanes(double* out, const double* in, double d, int64_t n) noexcept {
  const double inv = 1.0 / d;
  const bool pow2 = d >= 1.0 && d <= 0x1p1000 && (vmath::bits(d) & 0x000fffffffffffffull) == 0;
  if (pow2)
    for (int64_t k = 0; k < n; ++k) out[k] = in[k] * inv;
  else
    for (int64_t k = 0; k < n; ++k) out[k] = in[k] / d;
}

// Statistics rows (ST_COUNT doubles each, ss apart) of n lanes, lane k's at st + k * stride,
// from the lanes' buffer statistics and their sums of phi', saturated unit-samples
// and dead units (samples: unit-samples per lane, B * n_l; units: n_l). The three
// sums become their means in place first (divide_lanes), then each lane's row is
// written whole.
inline void stats_rows(const LaneStats& a, double* sum_dphi, double* saturated, double* dead, int64_t samples,
                       int64_t units, int64_t n, double* st, int64_t stride, int64_t ss = 1) noexcept {
  const double ns = double(samples), nu = double(units);
  divide_lanes(sum_dphi, sum_dphi, ns, n);
  divide_lanes(saturated, saturated, ns, n);
  divide_lanes(dead, dead, nu, n);
  for (int64_t k = 0; k < n; ++k) {
    double* r = st + k * stride;
    r[ST_GRAD_H * ss] = a.grad_h[k];
    r[ST_GRAD_Z * ss] = a.grad_z[k];
    r[ST_GRAD_W * ss] = a.grad_W[k];
    r[ST_GRAD_B * ss] = a.grad_b[k];
    r[ST_MEAN_DPHI * ss] = sum_dphi[k];
    r[ST_SATURATED * ss] = saturated[k];
    r[ST_DEAD * ss] = dead[k];
    r[ST_NONFINITE_ACT * ss] = a.nonfinite_act[k];
    r[ST_NONFINITE_GRAD * ss] = a.nonfinite_grad[k];
    r[ST_TINY_GRAD * ss] = a.tiny[k];
    r[ST_GRAD_GAMMA * ss] = a.grad_gamma[k];
    r[ST_GRAD_BETA * ss] = a.grad_beta[k];
  }
}

// The rest of n lanes' statistics when reduce_layer wrote into LaneStats::columns(base,
// ss): the means of the three sums, into their columns.
inline void stats_columns(const double* __restrict sum_dphi, const double* __restrict saturated,
                          const double* __restrict dead, int64_t samples, int64_t units, int64_t n,
                          double* base, int64_t ss) noexcept {
  const double ns = double(samples), nu = double(units);
  double* __restrict md = base + ST_MEAN_DPHI * ss;
  double* __restrict sa = base + ST_SATURATED * ss;
  double* __restrict de = base + ST_DEAD * ss;
  divide_lanes(md, sum_dphi, ns, n);
  divide_lanes(sa, saturated, ns, n);
  divide_lanes(de, dead, nu, n);
}

// One statistics row from a layer's accumulators.
inline void stats_row(const LayerAccumulators& acc, double* st) noexcept {
  LayerAccumulators a = acc;
  stats_rows(LaneStats::of(a), &a.sum_dphi, &a.saturated, &a.dead, a.samples, a.units, 1, st, ST_COUNT);
}

// The network's view of a buffer: one lane, the whole flat buffer (vectorised
// inside, see flat_norm).
struct FlatReducer {
  void fill(double* out, double v) const noexcept { *out = v; }
  template <class T>
  bool norm(const T* v, int64_t rows, double* out) const noexcept {
    bool finite = true;
    *out = flat_norm(v, rows, &finite);
    return finite;
  }
  template <class T>
  bool all_finite(const T* v, int64_t rows) const noexcept { return flat_all_finite(v, rows); }
  template <class T>
  void count_nonfinite(const T* v, int64_t rows, double* out) const noexcept {
    *out += double(flat_count_nonfinite(v, rows));
  }
  template <class T>
  void count_tiny(const T* v, int64_t rows, double* out) const noexcept { *out += double(flat_count_tiny(v, rows)); }
};

// The ensemble's view: n lanes of stride `stride` (its members), with three
// arrays of n doubles of scratch.
struct LaneReducer {
  int64_t stride, n;
  double *s1, *s2, *s3;
  void fill(double* out, double v) const noexcept { pyvanish::fill(out, n, v); }
  template <class T>
  bool norm(const T* v, int64_t rows, double* out) const noexcept {
    return lane_norms(v, rows, stride, n, out, s1, s2, s3);
  }
  template <class T>
  bool all_finite(const T* v, int64_t rows) const noexcept { return lane_all_finite(v, rows, stride, n, s1); }
  template <class T>
  void count_nonfinite(const T* v, int64_t rows, double* out) const noexcept {
    lane_count_nonfinite(v, rows, stride, n, out);
  }
  template <class T>
  void count_tiny(const T* v, int64_t rows, double* out) const noexcept { lane_count_tiny(v, rows, stride, n, out); }
};

// The buffer statistics of one layer, per lane. NaN/Inf are counted exactly
// only where the cheap finiteness checks (done with the norms) found some.
template <class R, class T>
inline void reduce_layer(const R& r, const LayerBuffers<T>& b, const LaneStats& out) noexcept {
  bool finite = r.norm(b.dh, b.act_rows, out.grad_h);
  finite &= r.norm(b.dz, b.act_rows, out.grad_z);
  finite &= r.norm(b.dW, b.w_rows, out.grad_W);
  finite &= r.norm(b.db, b.units, out.grad_b);
  if (b.dgamma) {
    finite &= r.norm(b.dgamma, b.units, out.grad_gamma);
    finite &= r.norm(b.dbeta, b.units, out.grad_beta);
    finite &= r.all_finite(b.du, b.act_rows);
  } else {
    r.fill(out.grad_gamma, std::nan(""));
    r.fill(out.grad_beta, std::nan(""));
  }
  r.fill(out.nonfinite_act, 0.0);
  if (!r.all_finite(b.z, b.act_rows) || !r.all_finite(b.h, b.act_rows) || (b.u && !r.all_finite(b.u, b.act_rows))) {
    r.count_nonfinite(b.z, b.act_rows, out.nonfinite_act);
    r.count_nonfinite(b.h, b.act_rows, out.nonfinite_act);
    if (b.u) r.count_nonfinite(b.u, b.act_rows, out.nonfinite_act);
  }
  r.fill(out.nonfinite_grad, 0.0);
  if (!finite) {
    r.count_nonfinite(b.dh, b.act_rows, out.nonfinite_grad);
    r.count_nonfinite(b.dz, b.act_rows, out.nonfinite_grad);
    r.count_nonfinite(b.dW, b.w_rows, out.nonfinite_grad);
    r.count_nonfinite(b.db, b.units, out.nonfinite_grad);
    if (b.dgamma) {
      r.count_nonfinite(b.du, b.act_rows, out.nonfinite_grad);
      r.count_nonfinite(b.dgamma, b.units, out.nonfinite_grad);
      r.count_nonfinite(b.dbeta, b.units, out.nonfinite_grad);
    }
  }
  r.fill(out.tiny, 0.0);
  r.count_tiny(b.dW, b.w_rows, out.tiny);
}

}  // namespace
}  // namespace pyvanish
