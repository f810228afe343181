// Losses: the last step of both engines (and of training), one sample at a time.
//
// Each loss is averaged the way torch.nn.functional does by default, except
// MSE, which keeps pyvanish's 1/2 (its gradient is the plain residual):
//   LOSS_MSE            L = 1/(2B) sum_{b,j} (y - t)^2            dL/dy = (y - t) / B
//   LOSS_CROSS_ENTROPY  L = 1/B sum_b sum_j t_j (lse(y_b) - y_bj)  dL/dy = (softmax(y_b) sum_j t_bj - t_b) / B
//                       (softmax over the output units fused with the negative log-likelihood;
//                        t_b: a probability vector, one-hot for a class index; F.cross_entropy)
//   LOSS_BCE            L = 1/(B N) sum_{b,j} max(y,0) - y t + log1p(exp(-|y|))
//                                                               dL/dy = (sigmoid(y) - t) / (B N)
//                       (sigmoid fused with binary cross-entropy; F.binary_cross_entropy_with_logits)
//   LOSS_GIVEN          dL/dy = t, the caller's own gradient; L is NaN (unknown)
// Stable for logits of +-1e300: lse = m + log sum exp(y - m) with m = max y, and
// terms with t_j = 0 are skipped (so 0 * inf never appears). Sums in double.
//
// Internal linkage (unnamed namespace): also compiled into the per-ISA units
// of the ensemble engine (see kernels/vmath.hpp).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/vmath.hpp"

namespace pyvanish {

enum Loss : int { LOSS_MSE = 0, LOSS_CROSS_ENTROPY = 1, LOSS_BCE = 2, LOSS_GIVEN = 3, LOSS_COUNT = 4 };

inline const char* loss_name(int kind) noexcept {
  switch (kind) {
    case LOSS_MSE: return "mse";
    case LOSS_CROSS_ENTROPY: return "cross_entropy";
    case LOSS_BCE: return "bce";
    case LOSS_GIVEN: return "given";
    default: return "";
  }
}

namespace {

// What the summed per-sample terms are divided by: B, or B N for bce.
inline double loss_divisor(int kind, int64_t B, int64_t N) noexcept {
  return kind == LOSS_BCE ? double(B) * double(N) : double(B);
}

// One sample: y, dy (n values, stride ys) and t (n values, stride ts). Adds the
// sample's terms to acc (in order) and writes dy = dL/dy (`scale` = 1 / divisor).
template <class T>
inline void loss_sample(int kind, T* dy, const T* y, int64_t ys, const T* t, int64_t ts, int64_t n, T scale,
                        double& acc) noexcept {
  switch (kind) {
    case LOSS_MSE:
      for (int64_t j = 0; j < n; ++j) {
        const double d = double(y[j * ys]) - double(t[j * ts]);
        acc += 0.5 * (d * d);
        dy[j * ys] = (y[j * ys] - t[j * ts]) * scale;
      }
      return;
    case LOSS_CROSS_ENTROPY: {
      double m = -vmath::kInf;
      bool nan = false;
      for (int64_t j = 0; j < n; ++j) {
        const double v = double(y[j * ys]);
        nan |= v != v;
        m = v > m ? v : m;
      }
      double s = 0.0, tsum = 0.0;
      for (int64_t j = 0; j < n; ++j) s += vmath::exp(double(y[j * ys]) - m);
      const double lse = nan ? vmath::kNaN : m + std::log(s);
      for (int64_t j = 0; j < n; ++j) {
        const double p = double(t[j * ts]);
        if (p != 0.0) acc += p * (lse - double(y[j * ys]));
        tsum += p;
      }
      const double sc = double(scale);
      for (int64_t j = 0; j < n; ++j) {
        const double q = nan ? vmath::kNaN : vmath::exp(double(y[j * ys]) - m) / s;
        dy[j * ys] = T((q * tsum - double(t[j * ts])) * sc);
      }
      return;
    }
    case LOSS_BCE:
      for (int64_t j = 0; j < n; ++j) {
        const double v = double(y[j * ys]), p = double(t[j * ts]);
        const double pos = v > 0.0 ? v : 0.0;
        // y t skipped where t = 0 (as cross-entropy's 0 log 0): +-inf logits stay finite terms
        acc += (pos - (p != 0.0 ? v * p : 0.0)) + vmath::log1p(vmath::exp_nonpositive(-std::fabs(v)));
        dy[j * ys] = T((vmath::sigmoid(v) - p) * double(scale));
      }
      return;
    default:  // LOSS_GIVEN
      for (int64_t j = 0; j < n; ++j) dy[j * ys] = t[j * ts];
      acc = vmath::kNaN;
      return;
  }
}

// The whole batch, rows of n contiguous values: dy (B, n) = dL/dy; returns L.
template <class T>
inline double loss_batch(int kind, T* dy, const T* y, const T* t, int64_t B, int64_t n) noexcept {
  const double div = loss_divisor(kind, B, n);
  const T scale = T(1) / T(div);
  double acc = 0.0;
  for (int64_t b = 0; b < B; ++b) loss_sample(kind, dy + b * n, y + b * n, 1, t + b * n, 1, n, scale, acc);
  return acc / div;
}

}  // namespace
}  // namespace pyvanish
