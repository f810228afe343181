#include "ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "activations.hpp"
#include "threads.hpp"

namespace pyvanish {
namespace {

// Inner loops over members, on restrict pointers so that they vectorise.
template <class T>
inline void axpy(T* __restrict y, const T* __restrict a, const T* __restrict b, int64_t n) noexcept {
  for (int64_t k = 0; k < n; ++k) y[k] += a[k] * b[k];
}
template <class T>
inline void axpy_scalar(T* __restrict y, const T* __restrict a, T s, int64_t n) noexcept {
  for (int64_t k = 0; k < n; ++k) y[k] += a[k] * s;
}
template <class T>
inline void add(T* __restrict y, const T* __restrict a, int64_t n) noexcept {
  for (int64_t k = 0; k < n; ++k) y[k] += a[k];
}

// 2^e for integer e in [-1022, 1023], built from its bits (vectorisable, exact).
inline double pow2(int64_t e) noexcept {
  const uint64_t bits = uint64_t(1023 + e) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
// The exponent e of x = f 2^e, f in [0.5, 1), for finite x > 0 (subnormals: -1022).
inline int64_t exponent_of(double x) noexcept {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return int64_t((bits >> 52) & 0x7ff) - 1022;
}

// Per-member reductions over rows r of v[r * E + e], for e in [e0, e1):
// each member's sum runs over the rows in order, the members side by side
// (vectorised across e).
template <class T>
void lane_norms(const T* v, int64_t rows, int64_t E, int64_t e0, int64_t e1, double* out,
                double* amax, double* chk, double* sum) {
  const int64_t n = e1 - e0;
  std::fill(amax, amax + n, 0.0);
  std::fill(chk, chk + n, 0.0);
  std::fill(sum, sum + n, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * E + e0;
    for (int64_t k = 0; k < n; ++k) {
      const double a = std::fabs(double(row[k]));
      amax[k] = a > amax[k] ? a : amax[k];
      chk[k] += double(row[k]) - double(row[k]);  // NaN iff some entry is NaN or inf
    }
  }
  // scale each member by a power of two near its largest entry (exact), so
  // squares neither overflow nor underflow; non-finite members sum unscaled
  for (int64_t k = 0; k < n; ++k) {
    const bool ok = chk[k] == chk[k] && amax[k] > 0.0;
    int64_t ex = ok ? exponent_of(amax[k]) : 0;
    ex = ex < -1000 ? -1000 : (ex > 1022 ? 1022 : ex);
    chk[k] = pow2(-ex);     // reuse: the scale
    amax[k] = pow2(ex);     // reuse: its inverse
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * E + e0;
    for (int64_t k = 0; k < n; ++k) {
      const double w = double(row[k]) * chk[k];
      sum[k] += w * w;
    }
  }
  for (int64_t k = 0; k < n; ++k) out[k] = std::sqrt(sum[k]) * amax[k];
}

template <class T>
void lane_count_nonfinite(const T* v, int64_t rows, int64_t E, int64_t e0, int64_t e1, double* out) {
  const int64_t n = e1 - e0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = v + r * E + e0;
    for (int64_t k = 0; k < n; ++k) {
      const T d = row[k] - row[k];
      out[k] += !(d == d);
    }
  }
}

}  // namespace

namespace {
// numpy's lerp, a + (b - a) t from the nearer end, except that an infinite
// end with a positive weight gives that infinity (numpy gives NaN there:
// the 5 % quantile of members whose gradient underflowed to 0 is -inf).
double lerp(double a, double b, double t) {
  if (a == b || t == 0.0) return a;
  if (t == 1.0) return b;
  if (std::isinf(a) || std::isinf(b)) return std::isinf(a) && a < 0 ? a : (std::isinf(b) && b > 0 ? b : a + (b - a) * t);
  const double d = b - a;
  return t < 0.5 ? a + d * t : b - d * (1.0 - t);
}
}  // namespace

void log10_summary(const double* v, int64_t E, int64_t C, double* out, int threads) {
  static const double qs[3] = {0.05, 0.5, 0.95};
  parallel_for(C, 1, threads, [&](int64_t c0, int64_t c1) {
    std::vector<double> col(static_cast<size_t>(E)), lg(static_cast<size_t>(E));
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0.0, sq = 0.0;
      int64_t n = 0;
      for (int64_t e = 0; e < E; ++e) {
        const double x = v[e * C + c];
        col[size_t(e)] = x != x ? -INFINITY : x;  // order statistics of v are those of log10 v
        lg[size_t(e)] = std::log10(x);
      }
      for (int64_t e = 0; e < E; ++e)
        if (std::isfinite(lg[size_t(e)])) {
          sum += lg[size_t(e)];
          ++n;
        }
      const double mean = n ? sum / double(n) : std::nan("");
      for (int64_t e = 0; e < E; ++e)
        if (std::isfinite(lg[size_t(e)])) sq += (lg[size_t(e)] - mean) * (lg[size_t(e)] - mean);
      double* o = out + c * 5;
      o[0] = mean;
      o[1] = n ? std::sqrt(sq / double(n)) : std::nan("");
      // increasing ranks: each selection only partitions what lies above the last
      int64_t from = 0;
      for (int k = 0; k < 3; ++k) {
        const double pos = qs[k] * double(E - 1);
        const int64_t lo = int64_t(std::floor(pos));
        const int64_t hi = std::min(lo + 1, E - 1);
        std::nth_element(col.begin() + from, col.begin() + lo, col.end());
        const double a = col[size_t(lo)];
        const double b = hi == lo ? a : *std::min_element(col.begin() + lo + 1, col.end());
        const double la = a < 0 ? -INFINITY : std::log10(a), lb = b < 0 ? -INFINITY : std::log10(b);
        o[2 + k] = lerp(la, lb, pos - double(lo));
        from = lo;
      }
    }
  });
}

template <class T>
Ensemble<T>::Ensemble(std::vector<LayerSpec> layers, int64_t members)
    : layers_(std::move(layers)), E_(members) {
  int64_t n = 0;
  skipped_by_.assign(layers_.size(), {});
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& s = layers_[i];
    w_off_.push_back(n);
    n += (s.out * s.in + s.out) * E_;
    if (s.skip >= 0) skipped_by_[size_t(s.skip)].push_back(int64_t(i) + 1);
  }
  params_.assign(size_t(n), T(0));
  grads_.assign(size_t(n), T(0));
}

template <class T>
void Ensemble<T>::reserve(int64_t B) {
  if (B == B_) return;
  off_.clear();
  int64_t n = 0, widest = layers_.front().in;
  auto take = [&n](int64_t size) { const int64_t at = n; n += size; return at; };
  for (const auto& s : layers_) {
    const int64_t m = B * s.out * E_;
    Offsets o;
    o.z = take(m);
    o.h = take(m);
    o.a = s.skip >= 0 ? take(m) : o.h;
    o.dh = take(m);
    o.da = s.skip >= 0 ? take(m) : o.dh;
    o.dz = take(m);
    off_.push_back(o);
    widest = std::max(widest, s.out);
  }
  dx_off_ = take(B * layers_.front().in * E_);
  dphi_off_ = take(B * widest * E_);
  ws_.assign(size_t(n), T(0));
  acc_.assign(size_t(E_) * 8, 0.0);
  alive_.assign(size_t(widest * E_), 0);
  B_ = B;
}

template <class T>
void Ensemble<T>::run(const T* x, bool xpm, const T* t, bool tpm, int64_t B, double* stats,
                      double* grad_x, double* loss, int threads) {
  reserve(B);
  // slices of members, 16 at a time (a vector's worth for every type and ISA)
  parallel_for(E_, 16, threads, [&](int64_t e0, int64_t e1) {
    run_slice(e0, e1, x, xpm, t, tpm, B, stats, grad_x, loss);
  });
}

template <class T>
void Ensemble<T>::run_slice(int64_t e0, int64_t e1, const T* x, bool xpm, const T* t, bool tpm,
                            int64_t B, double* stats, double* grad_x, double* loss) {
  const int64_t E = E_, L = depth(), n = e1 - e0;
  T* ws = ws_.data();
  const T* P = params_.data();
  T* G = grads_.data();
  double* acc = acc_.data() + e0 * 8;  // this slice's scratch: 8 doubles per member
  double *a0 = acc, *a1 = acc + n, *a2 = acc + 2 * n, *a3 = acc + 3 * n, *a4 = acc + 4 * n,
         *a5 = acc + 5 * n, *a6 = acc + 6 * n, *a7 = acc + 7 * n;
  const int64_t n0 = layers_.front().in;
  // ---------------------------------------------------------------- forward
  for (int64_t l = 1; l <= L; ++l) {
    const LayerSpec& s = layer(l);
    const Offsets& o = off_[size_t(l - 1)];
    const T* W = P + weight_offset(l);
    const T* bias = P + bias_offset(l);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < s.out; ++j) {
        T* z = ws + o.z + (b * s.out + j) * E + e0;
        const T* bj = bias + j * E + e0;
        for (int64_t k = 0; k < n; ++k) z[k] = bj[k];
        for (int64_t i = 0; i < s.in; ++i) {
          const T* w = W + (j * s.in + i) * E + e0;
          if (l == 1 && !xpm)
            axpy_scalar(z, w, x[b * s.in + i], n);
          else
            axpy(z, w, l == 1 ? x + (b * s.in + i) * E + e0 : ws + off_[size_t(l - 2)].h + (b * s.in + i) * E + e0, n);
        }
        T* a = ws + o.a + (b * s.out + j) * E + e0;
        activation_forward<T>(s.act, T(s.alpha), a, z, n);
        if (s.skip >= 0) {
          T* h = ws + o.h + (b * s.out + j) * E + e0;
          const T sc = T(s.scale);
          if (s.skip == 0 && !xpm) {
            const T xv = x[b * n0 + j];
            for (int64_t k = 0; k < n; ++k) h[k] = xv + sc * a[k];
          } else {
            const T* hs = s.skip == 0 ? x + (b * n0 + j) * E + e0
                                      : ws + off_[size_t(s.skip - 1)].h + (b * s.out + j) * E + e0;
            for (int64_t k = 0; k < n; ++k) h[k] = hs[k] + sc * a[k];
          }
        }
      }
  }
  // ---------------------------------------------------------------- loss
  const LayerSpec& last = layer(L);
  {
    const Offsets& o = off_[size_t(L - 1)];
    std::fill(a0, a0 + n, 0.0);
    const T invB = T(1) / T(B);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < last.out; ++j) {
        const int64_t r = (b * last.out + j);
        const T* y = ws + o.h + r * E + e0;
        T* dy = ws + o.dh + r * E + e0;
        for (int64_t k = 0; k < n; ++k) {
          const T tv = tpm ? t[r * E + e0 + k] : t[r];
          const double d = double(y[k]) - double(tv);
          a0[k] += d * d;
          dy[k] = (y[k] - tv) * invB;
        }
      }
    for (int64_t k = 0; k < n; ++k) loss[e0 + k] = a0[k] / (2.0 * double(B));
  }
  // ---------------------------------------------------------------- backward
  for (int64_t l = L; l >= 1; --l) {
    const LayerSpec& s = layer(l);
    const Offsets& o = off_[size_t(l - 1)];
    const int64_t rows = B * s.out;
    if (s.skip >= 0)
      for (int64_t r = 0; r < rows; ++r) {
        const T* dh = ws + o.dh + r * E + e0;
        T* da = ws + o.da + r * E + e0;
        for (int64_t k = 0; k < n; ++k) da[k] = T(s.scale) * dh[k];
      }
    // dphi, dz = da * dphi, and per member: sum phi', saturated count, alive units
    const double thr = 0.01 * max_derivative(s.act, s.alpha);
    std::fill(a1, a1 + n, 0.0);
    std::fill(a2, a2 + n, 0.0);
    unsigned char* alive = alive_.data();
    for (int64_t j = 0; j < s.out; ++j) std::fill(alive + j * E + e0, alive + j * E + e1, 0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < s.out; ++j) {
        const int64_t off = (b * s.out + j) * E + e0;
        T* dphi = ws + dphi_off_ + off;
        activation_derivative<T>(s.act, T(s.alpha), dphi, ws + o.z + off, ws + o.a + off, n);
        const T* da = ws + o.da + off;
        T* dz = ws + o.dz + off;
        unsigned char* al = alive + j * E + e0;
        for (int64_t k = 0; k < n; ++k) {
          dz[k] = da[k] * dphi[k];
          a1[k] += double(dphi[k]);
          a2[k] += std::fabs(double(dphi[k])) <= thr;
          al[k] |= dphi[k] != T(0);
        }
      }
    std::fill(a3, a3 + n, 0.0);
    for (int64_t j = 0; j < s.out; ++j) {
      const unsigned char* al = alive + j * E + e0;
      for (int64_t k = 0; k < n; ++k) a3[k] += !al[k];
    }
    // dW[j, i] = sum_b dz[b, j] h[b, i];  db[j] = sum_b dz[b, j]
    T* dW = G + weight_offset(l);
    T* db = G + bias_offset(l);
    for (int64_t j = 0; j < s.out; ++j) {
      T* dbj = db + j * E + e0;
      std::fill(dbj, dbj + n, T(0));
      for (int64_t i = 0; i < s.in; ++i) std::fill(dW + (j * s.in + i) * E + e0, dW + (j * s.in + i) * E + e1, T(0));
      for (int64_t b = 0; b < B; ++b) {
        const T* dz = ws + o.dz + (b * s.out + j) * E + e0;
        add(dbj, dz, n);
        for (int64_t i = 0; i < s.in; ++i) {
          T* w = dW + (j * s.in + i) * E + e0;
          if (l == 1 && !xpm)
            axpy_scalar(w, dz, x[b * s.in + i], n);
          else
            axpy(w, dz, l == 1 ? x + (b * s.in + i) * E + e0 : ws + off_[size_t(l - 2)].h + (b * s.in + i) * E + e0, n);
        }
      }
    }
    // dh_{l-1}[b, i] = sum_j dz[b, j] W[j, i], then the skips that start at h_{l-1}
    T* dinp = ws + (l == 1 ? dx_off_ : off_[size_t(l - 2)].dh);
    const T* W = P + weight_offset(l);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < s.in; ++i) {
        T* d = dinp + (b * s.in + i) * E + e0;
        std::fill(d, d + n, T(0));
        for (int64_t j = 0; j < s.out; ++j)
          axpy(d, ws + o.dz + (b * s.out + j) * E + e0, W + (j * s.in + i) * E + e0, n);
        for (int64_t r : skipped_by_[size_t(l - 1)])
          add(d, ws + off_[size_t(r - 1)].dh + (b * s.in + i) * E + e0, n);
      }
    // statistics
    double* tmp = a4;  // per-member results, then copied into stats
    auto put = [&](int stat, const double* v) {
      for (int64_t k = 0; k < n; ++k) stats[((e0 + k) * L + (l - 1)) * ST_COUNT + stat] = v[k];
    };
    lane_norms(ws + o.dh, rows, E, e0, e1, tmp, a5, a6, a7);
    put(ST_GRAD_H, tmp);
    lane_norms(ws + o.dz, rows, E, e0, e1, tmp, a5, a6, a7);
    put(ST_GRAD_Z, tmp);
    lane_norms(dW, s.out * s.in, E, e0, e1, tmp, a5, a6, a7);
    put(ST_GRAD_W, tmp);
    lane_norms(db, s.out, E, e0, e1, tmp, a5, a6, a7);
    put(ST_GRAD_B, tmp);
    for (int64_t k = 0; k < n; ++k) {
      a1[k] /= double(rows);
      a2[k] /= double(rows);
      a3[k] /= double(s.out);
    }
    put(ST_MEAN_DPHI, a1);
    put(ST_SATURATED, a2);
    put(ST_DEAD, a3);
    std::fill(tmp, tmp + n, 0.0);
    lane_count_nonfinite(ws + o.z, rows, E, e0, e1, tmp);
    lane_count_nonfinite(ws + o.h, rows, E, e0, e1, tmp);
    put(ST_NONFINITE_ACT, tmp);
    std::fill(tmp, tmp + n, 0.0);
    lane_count_nonfinite(ws + o.dh, rows, E, e0, e1, tmp);
    lane_count_nonfinite(ws + o.dz, rows, E, e0, e1, tmp);
    lane_count_nonfinite(dW, s.out * s.in, E, e0, e1, tmp);
    lane_count_nonfinite(db, s.out, E, e0, e1, tmp);
    put(ST_NONFINITE_GRAD, tmp);
    std::fill(tmp, tmp + n, 0.0);
    const T smallest = std::numeric_limits<T>::min();
    for (int64_t r = 0; r < s.out * s.in; ++r) {
      const T* w = dW + r * E + e0;
      for (int64_t k = 0; k < n; ++k) tmp[k] += std::fabs(w[k]) < smallest;
    }
    put(ST_TINY_GRAD, tmp);
    std::fill(tmp, tmp + n, std::nan(""));
    put(ST_GRAD_GAMMA, tmp);
    put(ST_GRAD_BETA, tmp);
  }
  lane_norms(ws + dx_off_, B * layer(1).in, E, e0, e1, a4, a5, a6, a7);
  for (int64_t k = 0; k < n; ++k) grad_x[e0 + k] = a4[k];
}

template class Ensemble<float>;
template class Ensemble<double>;

}  // namespace pyvanish
