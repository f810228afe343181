#include "engine/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/stats.hpp"
#include "engine/threads.hpp"
#include "kernels/philox.hpp"

namespace pyvanish {
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
Ensemble<T>::Ensemble(std::vector<LayerSpec> layers, int64_t members, std::vector<GenSpec> gen, uint64_t seed)
    : layers_(std::move(layers)), E_(members), gen_(std::move(gen)), seed_(seed) {
  int64_t n = 0, one = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& s = layers_[i];
    w_off_.push_back(n);
    p_off1_.push_back(one);
    const int64_t count = s.out * s.in + s.out + (s.layernorm ? 2 * s.out : 0) + (s.prenorm ? 2 * s.in : 0);
    n += count * E_;
    one += count;
  }
  p_off1_.push_back(one);
  if (drawn()) n = 0;  // nothing stored: every member is drawn where it is used
  // the residual layers whose skip starts at h_s, for s = 0..L-1, flattened
  for (size_t s = 0; s < layers_.size(); ++s)
    for (size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].skip == int64_t(s)) skips_.push_back(int64_t(i) + 1);
  size_t at = 0;
  for (size_t s = 0; s <= layers_.size(); ++s) {
    skip_begin_.push_back(nullptr);
    skip_at_.push_back(at);
    if (s < layers_.size())
      for (size_t i = 0; i < layers_.size(); ++i) at += layers_[i].skip == int64_t(s);
  }
  for (size_t s = 0; s < skip_at_.size(); ++s) skip_begin_[s] = skips_.data() + skip_at_[s];
  params_.assign(size_t(n), T(0));
  for (int64_t l = 1; l <= depth() && !drawn(); ++l) {  // gamma = 1, beta = 0
    if (layer(l).layernorm) std::fill_n(params_.data() + gamma_offset(l), layer(l).out * E_, T(1));
    if (layer(l).prenorm) std::fill_n(params_.data() + pre_gamma_offset(l), layer(l).in * E_, T(1));
  }
}

template <class T>
void Ensemble<T>::member_params(int64_t m, T* out) const noexcept {
  for (int64_t l = 1; l <= depth(); ++l) {
    const LayerSpec& s = layer(l);
    const int64_t count = p_off1_[size_t(l)] - p_off1_[size_t(l - 1)];
    T* o = out + p_off1_[size_t(l - 1)];
    if (!drawn()) {
      const T* src = params_.data() + w_off_[size_t(l - 1)] + m;
      for (int64_t q = 0; q < count; ++q) o[q] = src[q * E_];
      continue;
    }
    const GenSpec& g = gen_[size_t(l - 1)];
    for (int64_t q = 0; q < s.out * s.in; ++q)
      o[q] = T(philox::draw(g.wdist, g.wscale, seed_, uint64_t(m), uint32_t(l), 0u, uint64_t(q)));
    o += s.out * s.in;
    for (int64_t q = 0; q < s.out; ++q)
      o[q] = T(philox::draw(g.bdist, g.bscale, seed_, uint64_t(m), uint32_t(l), 1u, uint64_t(q)));
    o += s.out;
    if (s.layernorm) {
      std::fill_n(o, s.out, T(1));
      std::fill_n(o + s.out, s.out, T(0));
      o += 2 * s.out;
    }
    if (s.prenorm) {
      std::fill_n(o, s.in, T(1));
      std::fill_n(o + s.in, s.in, T(0));
    }
  }
}

template <class T>
int64_t Ensemble<T>::layout(int64_t B, int64_t Es, std::vector<EnsembleOffsets>* off, std::vector<int64_t>* g_off,
                            int64_t* dx_off, int64_t* n_grads) const {
  // Each buffer is followed by 64 bytes of padding: buffers of a tile are often a multiple
  // of 4 KB long (16 lanes x 8 samples x 16 units x 8 bytes), and a loop that reads one
  // and writes another at the same offset modulo 4 KB stalls on false store-to-load
  // dependencies (4K aliasing); staggered by 64 bytes each, they are not.
  constexpr int64_t pad = 64 / int64_t(sizeof(T));
  int64_t n = 0, g = 0;
  auto take = [&n](int64_t size) { const int64_t at = n; n += size + pad; return at; };
  if (off) off->clear();
  if (g_off) g_off->clear();
  for (const auto& s : layers_) {
    const int64_t m = B * s.out * Es;
    EnsembleOffsets o;
    o.z = take(m);
    o.h = take(m);
    o.a = s.skip >= 0 ? take(m) : o.h;
    o.dh = take(m);
    o.da = s.skip >= 0 ? take(m) : o.dh;
    o.dz = take(m);
    o.u = s.layernorm ? take(m) : o.z;
    o.xhat = s.layernorm ? take(m) : 0;
    o.rstd = s.layernorm ? take(B * Es) : 0;
    o.du = s.layernorm ? take(m) : o.dz;
    o.pin = s.prenorm ? take(B * s.in * Es) : 0;
    o.pxhat = s.prenorm ? take(B * s.in * Es) : 0;
    o.prstd = s.prenorm ? take(B * Es) : 0;
    o.dpin = s.prenorm ? take(B * s.in * Es) : 0;
    if (off) off->push_back(o);
    if (g_off) g_off->push_back(g);
    g += (s.out * s.in + s.out + (s.layernorm ? 2 * s.out : 0) + (s.prenorm ? 2 * s.in : 0)) * Es + pad;
  }
  const int64_t dx = take(B * layers_.front().in * Es);
  if (dx_off) *dx_off = dx;
  if (n_grads) *n_grads = g;
  return n;
}

template <class T>
int64_t Ensemble<T>::tile_for(int64_t B) const noexcept {
  const int64_t round = 16;  // a vector's worth of lanes for every type and instruction set
  if (tile_ > 0) return std::min<int64_t>((tile_ + round - 1) / round * round, kMaxTileLanes);
  // as many members as keep one tile's buffers within about half a typical L2 cache
  int64_t g = 0;
  const int64_t per = (layout(B, 1, nullptr, nullptr, nullptr, &g) + g) * int64_t(sizeof(T)) +
                      int64_t(sizeof(double)) * kEnsembleAccPerMember;
  const int64_t t = (int64_t(512) << 10) / std::max<int64_t>(per, 1) / round * round;
  const int64_t most = (E_ + round - 1) / round * round;
  // at least 4 vectors of lanes of this path (and 16): each register block of the lane
  // GEMMs runs over every vector of a tile, whose operands stay in L1 while it does; fewer
  // vectors and per-block overheads dominate (W5, f64 on Zen 4: 16 lanes best on AVX2, 32
  // on AVX-512)
  const int path = simd_path();
  const int64_t vec = (path == SIMD_AVX512 ? 64 : path == SIMD_AVX2 ? 32 : 16) / int64_t(sizeof(T));
  const int64_t least = std::max<int64_t>(round, (4 * vec + round - 1) / round * round);
  return std::min<int64_t>(most, std::max<int64_t>(least, std::min<int64_t>(t, kMaxTileLanes)));
}

template <class T>
bool Ensemble<T>::gathers(int64_t Es) const noexcept {
  constexpr int64_t kGatherBytes = int64_t(4) << 20;
  return !drawn() && E_ > Es && member_size() * Es * int64_t(sizeof(T)) <= kGatherBytes;
}

template <class T>
int64_t Ensemble<T>::workspace_bytes(int64_t B) const noexcept {
  const int64_t Es = tile_for(B);
  int64_t g = 0, widest = layers_.front().in;
  const int64_t w = layout(B, Es, nullptr, nullptr, nullptr, &g);
  for (const auto& s : layers_) widest = std::max(widest, s.out);
  return (w + g + widest * Es + (tile_params(Es) ? member_size() * Es : 0)) * int64_t(sizeof(T)) +
         Es * kEnsembleAccPerMember * int64_t(sizeof(double));
}

template <class T>
void Ensemble<T>::reserve(int64_t B, int64_t Es, int slots) {
  if (B == B_ && Es == Es_ && slots == slots_) return;
  int64_t g = 0;
  ws_size_ = layout(B, Es, &off_, &g_off_, &dx_off_, &g);
  g_size_ = g;
  widest_ = layers_.front().in;
  for (const auto& s : layers_) widest_ = std::max(widest_, s.out);
  ws_.assign(size_t(slots) * size_t(ws_size_ + g_size_), T(0));
  acc_.assign(size_t(slots) * size_t(Es * kEnsembleAccPerMember), 0.0);
  alive_.assign(size_t(slots) * size_t(widest_ * Es), T(0));
  tparams_.assign(tile_params(Es) ? size_t(slots) * size_t(member_size() * Es) : 0, T(0));
  B_ = B;
  Es_ = Es;
  slots_ = slots;
}

template <class T>
void Ensemble<T>::run(const T* x, bool xpm, const T* t, bool tpm, int64_t B, double* stats, StatsLayout layout,
                      double* grad_x, double* loss, int threads, int8_t* verdicts, double* moments) {
  const int64_t Es = tile_for(B);
  const int64_t chunks = (E_ + 15) / 16;  // members go to threads 16 at a time
  const int slots = int(std::max<int64_t>(1, std::min<int64_t>(threads, chunks)));
  reserve(B, Es, slots);
  EnsembleSlice<T> S;
  S.layers = layers_.data();
  S.L = depth();
  S.E = E_;
  S.B = B;
  S.Es = Es;
  S.params = params_.data();
  S.w_off = w_off_.data();
  S.p_off1 = p_off1_.data();
  S.gen = drawn() ? gen_.data() : nullptr;
  S.gather = gathers(Es);
  S.seed = seed_;
  S.g_off = g_off_.data();
  S.off = off_.data();
  S.skip_begin = skip_begin_.data();
  S.dx_off = dx_off_;
  S.x = x;
  S.t = t;
  S.x_per_member = xpm;
  S.t_per_member = tpm;
  S.loss_kind = this->loss;
  S.stats = stats;
  S.st = layout;
  S.grad_x = grad_x;
  S.loss = loss;
  const int64_t L1 = depth() + 1, nchunks = (E_ + kMomentChunk - 1) / kMomentChunk;
  if (moments) chunk_moments_.assign(size_t(nchunks * kMomentColumns * L1 * 3), 0.0);
  S.moments = moments ? chunk_moments_.data() : nullptr;
  S.verdicts = verdicts;
  const int path = simd_path();  // one choice for the whole call
  // Slot k (a thread) takes members [k per, (k + 1) per), a multiple of 16, and runs
  // them a tile of Es members at a time in its own workspace.
  const int64_t per = (chunks + slots - 1) / slots * 16;
  parallel_for(slots, 1, slots, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      EnsembleSlice<T> Sk = S;
      Sk.ws = ws_.data() + size_t(k) * size_t(ws_size_ + g_size_);
      Sk.grads = Sk.ws + ws_size_;
      Sk.acc = acc_.data() + size_t(k) * size_t(Es * kEnsembleAccPerMember);
      Sk.alive = alive_.data() + size_t(k) * size_t(widest_ * Es);
      Sk.tparams = tile_params(Es) ? tparams_.data() + size_t(k) * size_t(member_size() * Es) : nullptr;
      const int64_t m1 = std::min(E_, (k + 1) * per);
      for (int64_t a = k * per; a < m1; a += Es) {
        const int64_t b = std::min(m1, a + Es);
        [&]() noexcept { PYVANISH_SIMD_DISPATCH_ON(path, ensemble_slice(Sk, a, b)); }();
      }
    }
  });
  if (!moments) return;
  // merge the chunks in order: the same numbers for any thread count and tile. Chunk by
  // chunk over all (column, layer) entries at once: each entry's merges stay in chunk
  // order (the same numbers), and its chain of dependent updates overlaps the others'.
  const int64_t entries = kMomentColumns * L1;
  std::vector<double> cnt(size_t(entries), 0.0), mean(size_t(entries), 0.0), m2(size_t(entries), 0.0);
  for (int64_t k = 0; k < nchunks; ++k) {
    const double* chunk = chunk_moments_.data() + k * entries * 3;
    for (int64_t i = 0; i < entries; ++i) {
      const double* p = chunk + i * 3;
      if (p[0] == 0.0) continue;
      const double tot = cnt[i] + p[0], d = p[1] - mean[i];
      mean[i] += d * (p[0] / tot);
      m2[i] += p[2] + d * d * (cnt[i] * p[0] / tot);
      cnt[i] = tot;
    }
  }
  for (int64_t i = 0; i < entries; ++i) {
    moments[i * 2] = cnt[i] > 0.0 ? mean[i] : std::nan("");
    moments[i * 2 + 1] = cnt[i] > 0.0 ? std::sqrt(m2[i] / cnt[i]) : std::nan("");
  }
}

template class Ensemble<float>;
template class Ensemble<double>;

}  // namespace pyvanish
