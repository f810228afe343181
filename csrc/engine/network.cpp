#include "engine/network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/network_passes.hpp"
#include "kernels/activations.hpp"
#include "kernels/batchnorm.hpp"
#include "engine/threads.hpp"
#include "kernels/kernels.hpp"

namespace pyvanish {

// ---------------------------------------------------------------- the passes, on simd_path()
template <class T>
void derivative_columns(const T* dphi, const T* da, T* du, int64_t B, int64_t units, int64_t j0, int64_t j1,
                        double thr, double* colsum, int64_t* colsat, unsigned char* alive) noexcept {
  PYVANISH_SIMD_DISPATCH(derivative_columns(dphi, da, du, B, units, j0, j1, thr, colsum, colsat, alive));
}
template <class T>
void layer_statistics(const LayerBuffers<T>& b, LayerAccumulators& acc, bool without_dW) noexcept {
  PYVANISH_SIMD_DISPATCH(layer_statistics(b, acc, without_dW));
}
template <class T>
bool weight_statistics(const T* dW, int64_t n, double* norm, double* tiny) noexcept {
  PYVANISH_SIMD_DISPATCH(weight_statistics(dW, n, norm, tiny));
}
template <class T>
double buffer_norm(const T* v, int64_t n) noexcept {
  PYVANISH_SIMD_DISPATCH(buffer_norm(v, n));
}
template <class T>
void sgd_update(T* p, T* v, const T* g, int64_t n, T lr, T mu, T wd) noexcept {
  PYVANISH_SIMD_DISPATCH(sgd_update(p, v, g, n, lr, mu, wd));
}
template <class T>
void adam_update(T* p, T* m, T* v, const T* g, int64_t n, T lr, T beta1, T beta2, T c1, T c2, T eps, T wd) noexcept {
  PYVANISH_SIMD_DISPATCH(adam_update(p, m, v, g, n, lr, beta1, beta2, c1, c2, eps, wd));
}

namespace {
// The backward pass's per-unit loop runs on pyvanish's threads for layers of at
// least kParallelMinElems values, in blocks of kParallelColumns units.
constexpr int64_t kParallelMinElems = int64_t(1) << 16;
constexpr int64_t kParallelColumns = 128;
constexpr int64_t kParallelChunk = 16384;  // elements per block of an elementwise kernel

// The threads for a pass over n values: all of pyvanish's for a large pass
// (one inside another parallel_for).
int threads_for(int64_t n) noexcept { return n >= kParallelMinElems && !in_parallel_for() ? num_threads() : 1; }

// The layer's statistics, with dW (the largest buffer) reduced on a second thread
// when `threads` > 1: the same functions on the same buffers, so the same values
// bitwise. A NaN or Inf in dW redoes the layer serially (its exact non-finite
// counts need every buffer's check).
template <class T>
void reduce_layer_split(const LayerBuffers<T>& bufs, LayerAccumulators& acc, int threads) noexcept {
  if (threads < 2) {
    layer_statistics<T>(bufs, acc, false);
    return;
  }
  double w_norm = 0.0, w_tiny = 0.0;
  bool w_finite = true;
  parallel_for(2, 1, 2, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      if (t == 0)
        layer_statistics<T>(bufs, acc, true);
      else
        w_finite = weight_statistics<T>(bufs.dW, bufs.w_rows, &w_norm, &w_tiny);
    }
  });
  if (!w_finite) {
    layer_statistics<T>(bufs, acc, false);
    return;
  }
  acc.grad_W = w_norm;
  acc.tiny = w_tiny;
}
}  // namespace

template <class T>
Network<T>::Network(std::vector<LayerSpec> layers) : layers_(std::move(layers)) {
  int64_t n = 0, ns = 0;
  skipped_by_.assign(layers_.size(), {});
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& s = layers_[i];
    w_off_.push_back(n);
    n += s.out * s.in + s.out + (s.normed() ? 2 * s.out : 0) + (s.prenorm ? 2 * s.in : 0);
    s_off_.push_back(ns);
    ns += s.batchnorm ? 2 * s.out : 0;
    if (s.skip >= 0) skipped_by_[size_t(s.skip)].push_back(int64_t(i) + 1);
  }
  params_.assign(size_t(n), T(0));
  grads_.assign(size_t(n), T(0));
  state_.assign(size_t(ns), T(0));
  for (int64_t l = 1; l <= depth(); ++l) {
    if (layer(l).normed()) std::fill_n(params_.data() + gamma_offset(l), layer(l).out, T(1));  // gamma = 1, beta = 0
    if (layer(l).prenorm) std::fill_n(params_.data() + pre_gamma_offset(l), layer(l).in, T(1));
    if (layer(l).batchnorm) std::fill_n(state_.data() + state_offset(l) + layer(l).out, layer(l).out, T(1));  // var = 1
  }
}

template <class T>
void Network<T>::reserve(int64_t B) {
  if (B == B_) return;
  off_.clear();
  int64_t n = 0, widest = 0;
  auto take = [&n](int64_t size) { const int64_t at = n; n += size; return at; };
  for (const auto& s : layers_) {
    const int64_t m = B * s.out;
    Offsets o;
    o.z = take(m);
    o.u = s.normed() ? take(m) : o.z;
    o.xhat = s.normed() ? take(m) : o.z;
    o.mean = s.batchnorm ? take(s.out) : 0;
    o.rstd = s.batchnorm ? take(s.out) : s.layernorm ? take(B) : 0;
    o.pin = s.prenorm ? take(B * s.in) : 0;
    o.pxhat = s.prenorm ? take(B * s.in) : 0;
    o.prstd = s.prenorm ? take(B) : 0;
    o.dpin = s.prenorm ? take(B * s.in) : 0;
    o.h = take(m);
    o.a = s.skip >= 0 ? take(m) : o.h;
    o.dh = take(m);
    o.da = s.skip >= 0 ? take(m) : o.dh;
    o.dz = take(m);
    o.du = s.normed() ? take(m) : o.dz;
    off_.push_back(o);
    widest = std::max(widest, s.out);
  }
  dx_off_ = take(B * layers_.front().in);
  dphi_off_ = take(B * widest);
  ws_.assign(size_t(n), T(0));
  alive_.assign(size_t(widest), 0);
  colsum_.assign(size_t(widest), 0.0);
  colsat_.assign(size_t(widest), 0);
  B_ = B;
}

template <class T>
void Network<T>::forward(const T* x, int64_t B) {
  reserve(B);
  const int64_t L = depth();
  T* ws = ws_.data();
  T* P = params_.data();
  auto hin = [&](int64_t l) -> const T* { return l == 0 ? x : ws + off_[size_t(l - 1)].h; };
  // forward
  for (int64_t l = 1; l <= L; ++l) {
    const LayerSpec& s = layer(l);
    const Offsets& o = off_[size_t(l - 1)];
    const int64_t m = B * s.out;
    const T* v = hin(l - 1);
    if (s.prenorm) {
      layernorm_forward<T>(ws + o.pin, ws + o.pxhat, ws + o.prstd, v, P + pre_gamma_offset(l), P + pre_beta_offset(l),
                           B, s.in, s.pre_eps);
      v = ws + o.pin;
    }
    dense_forward<T>(ws + o.z, v, P + weight_offset(l), P + bias_offset(l), B, s.in, s.out);
    if (s.layernorm)
      layernorm_forward<T>(ws + o.u, ws + o.xhat, ws + o.rstd, ws + o.z, P + gamma_offset(l), P + beta_offset(l), B,
                           s.out, s.eps);
    if (s.batchnorm) {
      T* run_mean = state_.data() + state_offset(l);
      T* run_var = run_mean + s.out;
      T *mean = ws + o.mean, *rstd = ws + o.rstd;
      if (training) {
        batchnorm_forward<T>(ws + o.u, ws + o.xhat, mean, rstd, ws + o.z, P + gamma_offset(l),
                             P + beta_offset(l), B, s.out, s.eps);
        const double unbias = B > 1 ? double(B) / double(B - 1) : 1.0;
        for (int64_t c = 0; c < s.out; ++c) {
          const double var = 1.0 / (double(rstd[c]) * double(rstd[c])) - s.eps;
          run_mean[c] = T((1.0 - momentum) * double(run_mean[c]) + momentum * double(mean[c]));
          run_var[c] = T((1.0 - momentum) * double(run_var[c]) + momentum * var * unbias);
        }
      } else {
        for (int64_t c = 0; c < s.out; ++c) {
          mean[c] = run_mean[c];
          rstd[c] = T(1.0 / std::sqrt(double(run_var[c]) + s.eps));
        }
        batchnorm_eval_forward<T>(ws + o.u, ws + o.xhat, ws + o.z, P + gamma_offset(l),
                                  P + beta_offset(l), mean, rstd, B, s.out);
      }
    }
    parallel_for(m, kParallelChunk, threads_for(m), [&](int64_t i0, int64_t i1) {  // elementwise: any split
      activation_forward<T>(s.act, T(s.alpha), ws + o.a + i0, ws + o.u + i0, i1 - i0);
    });
    if (s.skip >= 0) residual_forward<T>(ws + o.h, hin(s.skip), ws + o.a, T(s.scale), m);
  }
}

template <class T>
double Network<T>::run(const T* x, const T* t, int64_t B, double* stats, double* grad_x, Summary* summary,
                       int loss_kind) {
  forward(x, B);
  const int64_t L = depth();
  T* ws = ws_.data();
  T* P = params_.data();
  T* G = grads_.data();
  auto hin = [&](int64_t l) -> const T* { return l == 0 ? x : ws + off_[size_t(l - 1)].h; };
  const LayerSpec& last = layer(L);
  T* y = ws + off_[size_t(L - 1)].h;
  const double loss = loss_batch<T>(loss_kind >= 0 ? loss_kind : this->loss, ws + off_[size_t(L - 1)].dh, y, t, B,
                                    last.out);
  // backward, reducing the statistics as each layer's buffers are produced
  for (int64_t l = L; l >= 1; --l) {
    const LayerSpec& s = layer(l);
    const Offsets& o = off_[size_t(l - 1)];
    const int64_t m = B * s.out;
    const T* dh_l = ws + o.dh;  // complete: later layers' skips were added already
    if (s.skip >= 0)
      for (int64_t i = 0; i < m; ++i) ws[o.da + i] = T(s.scale) * dh_l[i];
    const T* da = ws + o.da;
    T* du = ws + o.du;
    T* dphi = ws + dphi_off_;
    parallel_for(m, kParallelChunk, threads_for(m), [&](int64_t i0, int64_t i1) {  // elementwise: any split
      activation_derivative<T>(s.act, T(s.alpha), dphi + i0, ws + o.u + i0, ws + o.a + i0, i1 - i0);
    });
    const double thr = saturation_threshold(s.act, s.alpha);
    // du = da * phi', and per unit: sum of phi', saturated count, alive flag. Units are
    // independent (each sums over b in order), so wide layers split them over the
    // threads in fixed blocks: the same sums for any thread count.
    double* colsum = colsum_.data();
    int64_t* colsat = colsat_.data();
    unsigned char* alive = alive_.data();
    parallel_for(s.out, kParallelColumns, threads_for(m), [&](int64_t j0, int64_t j1) {
      derivative_columns<T>(dphi, da, du, B, s.out, j0, j1, thr, colsum, colsat, alive);
    });
    LayerAccumulators acc;
    double sum_dphi = 0.0, dead = 0.0;
    int64_t saturated = 0;
    for (int64_t j = 0; j < s.out; ++j) {
      sum_dphi += colsum[j];
      saturated += colsat[j];
    }
    lane_count_dead(alive, s.out, 1, 1, &dead);  // the units as rows of one lane
    T* dgamma = G + gamma_offset(l);
    T* dbeta = G + beta_offset(l);
    if (s.batchnorm)
      (training ? batchnorm_backward<T> : batchnorm_eval_backward<T>)(
          ws + o.dz, dgamma, dbeta, du, ws + o.xhat, P + gamma_offset(l), ws + o.rstd, B, s.out);
    if (s.layernorm)
      layernorm_backward<T>(ws + o.dz, dgamma, dbeta, du, ws + o.xhat, P + gamma_offset(l), ws + o.rstd, B, s.out);
    const T* dz = ws + o.dz;
    T* dinp = ws + (l == 1 ? dx_off_ : off_[size_t(l - 2)].dh);
    T* dW = G + weight_offset(l);
    T* db = G + bias_offset(l);
    if (s.prenorm) {  // through the dense step to the normalised input, then through LN'
      dense_backward<T>(ws + o.dpin, dW, db, dz, ws + o.pin, P + weight_offset(l), B, s.in, s.out);
      layernorm_backward<T>(dinp, G + pre_gamma_offset(l), G + pre_beta_offset(l), ws + o.dpin, ws + o.pxhat,
                            P + pre_gamma_offset(l), ws + o.prstd, B, s.in);
    } else {
      dense_backward<T>(dinp, dW, db, dz, hin(l - 1), P + weight_offset(l), B, s.in, s.out);
    }
    // dL/dh_{l-1} is now complete but for the skip paths that start at h_{l-1}
    for (int64_t r : skipped_by_[size_t(l - 1)]) {
      const T* dh_r = ws + off_[size_t(r - 1)].dh;
      for (int64_t i = 0; i < B * s.in; ++i) dinp[i] += dh_r[i];
    }

    const bool bn = s.normed();
    const LayerBuffers<T> bufs{ws + o.z, bn ? ws + o.u : nullptr, ws + o.h, dh_l, dz, bn ? du : nullptr, dW, db,
                               bn ? dgamma : nullptr, bn ? dbeta : nullptr, m, s.out * s.in, s.out};
    reduce_layer_split(bufs, acc, threads_for(s.out * s.in));
    acc.sum_dphi = sum_dphi;
    acc.saturated = double(saturated);
    acc.dead = dead;
    acc.samples = m;
    acc.units = s.out;
    stats_row(acc, stats + (l - 1) * ST_COUNT);
  }
  *grad_x = buffer_norm<T>(ws + dx_off_, B * layer(1).in);
  if (summary) *summary = summarize(stats, L);
  return loss;
}

// V (n, cols) <- d LN(v)/dv V for one sample's layer norm (xhat (n), rstd, gamma (n)):
// column by column, gamma * rstd * (V - mean V - xhat mean(xhat V)).
template <class T>
static void layernorm_jvp(T* V, int64_t n, int64_t cols, const T* xhat, T rstd, const T* gamma) {
  for (int64_t c = 0; c < cols; ++c) {
    double s = 0.0, sx = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      s += double(V[j * cols + c]);
      sx += double(xhat[j]) * double(V[j * cols + c]);
    }
    const double m = s / double(n), mx = sx / double(n);
    for (int64_t j = 0; j < n; ++j)
      V[j * cols + c] = T(double(gamma[j]) * double(rstd) * ((double(V[j * cols + c]) - m) - double(xhat[j]) * mx));
  }
}

template <class T>
void Network<T>::jacobian(const T* x, int64_t B, T* J) {
  forward(x, B);
  const int64_t L = depth(), n0 = layer(1).in;
  const T* ws = ws_.data();
  const T* P = params_.data();
  // M_l = dh_l/dx for one sample, (n_l, n0); M_0 = I. Kept for every layer
  // (a residual layer adds the M of its source).
  std::vector<int64_t> moff(size_t(L) + 1);
  int64_t total = 0, widest = n0;
  for (int64_t l = 0; l <= L; ++l) {
    moff[size_t(l)] = total;
    total += (l == 0 ? n0 : layer(l).out) * n0;
    if (l > 0) widest = std::max(widest, layer(l).out);
  }
  std::vector<T> M(static_cast<size_t>(total)), D(static_cast<size_t>(widest)), V(static_cast<size_t>(widest * n0));
  for (int64_t b = 0; b < B; ++b) {
    T* M0 = M.data();
    std::fill(M0, M0 + n0 * n0, T(0));
    for (int64_t i = 0; i < n0; ++i) M0[i * n0 + i] = T(1);
    for (int64_t l = 1; l <= L; ++l) {
      const LayerSpec& s = layer(l);
      const Offsets& o = off_[size_t(l - 1)];
      T* Ml = M.data() + moff[size_t(l)];
      // dz/dx = W_l M_{l-1} (W_l LN'(M_{l-1}) for a pre-norm layer)
      const T* Min = M.data() + moff[size_t(l - 1)];
      if (s.prenorm) {
        std::copy(Min, Min + s.in * n0, V.data());
        layernorm_jvp(V.data(), s.in, n0, ws + o.pxhat + b * s.in, ws[o.prstd + b], P + pre_gamma_offset(l));
        Min = V.data();
      }
      gemm<T>(false, false, s.out, n0, s.in, T(1), P + weight_offset(l), s.in, Min, n0, T(0), Ml, n0);
      if (s.layernorm) layernorm_jvp(Ml, s.out, n0, ws + o.xhat + b * s.out, ws[o.rstd + b], P + gamma_offset(l));
      // da/dz = phi'(u) (times gamma * rstd through evaluation-mode batch norm)
      activation_derivative<T>(s.act, T(s.alpha), D.data(), ws + o.u + b * s.out, ws + o.a + b * s.out, s.out);
      if (s.batchnorm)
        for (int64_t j = 0; j < s.out; ++j) D[size_t(j)] *= P[gamma_offset(l) + j] * ws[o.rstd + j];
      const T sc = s.skip >= 0 ? T(s.scale) : T(1);
      for (int64_t j = 0; j < s.out; ++j) {
        const T d = sc * D[size_t(j)];
        for (int64_t c = 0; c < n0; ++c) Ml[j * n0 + c] *= d;
      }
      if (s.skip >= 0) {
        const T* Ms = M.data() + moff[size_t(s.skip)];
        for (int64_t k = 0; k < s.out * n0; ++k) Ml[k] += Ms[k];
      }
    }
    const int64_t nL = layer(L).out;
    std::copy(M.data() + moff[size_t(L)], M.data() + moff[size_t(L)] + nL * n0, J + b * nL * n0);
  }
}

template <class T>
int64_t Network<T>::train(const T* X, const T* Y, const int64_t* idx, const TrainConfig& cfg, T* m1, T* m2,
                          const TrainRecord& rec, int64_t* records_written) {
  const int64_t L = depth(), n0 = layer(1).in, nL = layer(L).out, B = cfg.batch;
  const int64_t np = num_params();
  std::vector<T> xb(size_t(B * n0)), yb(size_t(B * nL));
  std::vector<double> stats(size_t(L * ST_COUNT));
  T* P = params_.data();
  const T* G = grads_.data();
  int64_t nrec = 0, done = 0;
  double b1t = 1.0, b2t = 1.0;  // beta^t of the current step, t = t0 + k + 1
  for (int64_t k = 0; k < cfg.steps; ++k) {
    const int64_t* rows = idx + k * B;
    for (int64_t b = 0; b < B; ++b) {
      std::copy(X + rows[b] * n0, X + (rows[b] + 1) * n0, xb.data() + b * n0);
      std::copy(Y + rows[b] * nL, Y + (rows[b] + 1) * nL, yb.data() + b * nL);
    }
    double grad_x = 0.0;
    const double loss = run(xb.data(), yb.data(), B, stats.data(), &grad_x);
    const int64_t g = cfg.t0 + k;  // the step's number in the whole run
    const bool record = (g % cfg.record_every == 0) || g == cfg.total - 1 || !std::isfinite(loss);
    // weight norms before the step (for the update ratio)
    std::vector<double> wnorm;
    if (record) {
      wnorm.resize(size_t(L));
      for (int64_t l = 1; l <= L; ++l)
        wnorm[size_t(l - 1)] = buffer_norm<T>(P + weight_offset(l), layer(l).out * layer(l).in);
    }
    // one record of this step's statistics (the update ratios come later)
    auto write_record = [&] {
      rec.step[nrec] = g;
      rec.loss[nrec] = loss;
      for (int64_t l = 1; l <= L; ++l) {
        const double* st = stats.data() + (l - 1) * ST_COUNT;
        rec.grad_W[nrec * L + l - 1] = st[ST_GRAD_W];
        rec.grad_h[nrec * (L + 1) + l] = st[ST_GRAD_H];
        rec.update[nrec * L + l - 1] = std::nan("");
        rec.saturated[nrec * L + l - 1] = st[ST_SATURATED];
        rec.dead[nrec * L + l - 1] = st[ST_DEAD];
      }
      rec.grad_h[nrec * (L + 1)] = grad_x;
    };
    if (!std::isfinite(loss)) {  // stop cleanly: record the step, leave the parameters as they are
      write_record();
      ++nrec;
      break;
    }
    // the optimiser step, over the whole parameter vector; m1 holds the
    // update direction so that |dW_l| can be measured afterwards
    const T lr = T(cfg.lr);
    if (cfg.optimizer == OPT_ADAM) {
      // pow of the step number (not a running product): the same numbers
      // however the run is split into calls
      b1t = std::pow(cfg.beta1, double(g + 1));
      b2t = std::pow(cfg.beta2, double(g + 1));
      const T c1 = T(1.0 / (1.0 - b1t)), c2 = T(1.0 / (1.0 - b2t));
      adam_update<T>(P, m1, m2, G, np, lr, T(cfg.beta1), T(cfg.beta2), c1, c2, T(cfg.eps), T(cfg.weight_decay));
    } else {
      sgd_update<T>(P, m1, G, np, lr, T(cfg.momentum), T(cfg.weight_decay));
    }
    ++done;
    if (record) {
      write_record();
      // |dW_l| of this step: lr * (the update direction) over layer l's weights
      for (int64_t l = 1; l <= L; ++l) {
        const int64_t off = weight_offset(l), n = layer(l).out * layer(l).in;
        double step_norm;
        if (cfg.optimizer == OPT_ADAM) {
          // recompute the applied step from the moments (m1 = m, m2 = v)
          const double c1 = 1.0 / (1.0 - b1t), c2 = 1.0 / (1.0 - b2t);
          std::vector<T> d(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i)
            d[size_t(i)] = T(cfg.lr) * (m1[off + i] * T(c1)) / (std::sqrt(m2[off + i] * T(c2)) + T(cfg.eps));
          step_norm = buffer_norm<T>(d.data(), n);
        } else if (cfg.momentum == 0.0 && cfg.weight_decay == 0.0) {
          // plain SGD: the direction is dL/dW_l itself, whose norm the statistics hold
          step_norm = std::fabs(cfg.lr) * stats[size_t((l - 1) * ST_COUNT + ST_GRAD_W)];
        } else {
          step_norm = std::fabs(cfg.lr) * buffer_norm<T>(m1 + off, n);
        }
        const double w = wnorm[size_t(l - 1)];
        rec.update[nrec * L + l - 1] = w > 0 ? step_norm / w : (step_norm > 0 ? INFINITY : 0.0);
      }
      ++nrec;
    }
    if (!flat_all_finite(P, np)) break;  // a parameter overflowed: stop cleanly
  }
  *records_written = nrec;
  return done;
}

template class Network<float>;
template class Network<double>;

}  // namespace pyvanish
