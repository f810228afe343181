// The ensemble engine: E independently initialised networks of one
// architecture, forward, loss, backward and every per-layer statistic
// (engine/stats.hpp, the same as Network's) for each member, in one call.
//
// Layout: the member index is innermost. Layer l's weight is (n_l, n_{l-1}, E),
// its bias (n_l, E): every scalar operation of one network becomes a contiguous
// vector operation across members, so narrow networks (widths 1-16) vectorise
// however small they are, and the products of wider ones run as register-blocked
// GEMMs with members as lanes (lane_gemm). Members are split across threads in
// contiguous slices, each slice run a tile of Es members at a time in the thread's
// own workspace: activations (B, n_l, Es), gradients (n_l, n_{l-1}, Es), so the
// workspace is bounded by threads x tile, not by the members. Each member's numbers
// are computed by the same code in the same order whatever the thread count or
// tile (bitwise identical).
//
// Supports dense layers, every activation, residual connections, layer norm
// (after the dense step, and pre-norm on a layer's input) and every loss; not
// batch norm (the Python layer runs such ensembles member by member).
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "engine/network.hpp"
#include "simd/simd.hpp"

namespace pyvanish {

// Per column c of v (E, C), over the E members: the mean and standard
// deviation (population) of log10 v over the members where it is finite, and
// the 5 / 50 / 95 % quantiles of log10 v (NaN counted as -inf; linear
// interpolation between order statistics as numpy.quantile, except that an
// infinite neighbour with positive weight gives that infinity). out (C, 5) =
// [mean, std, q05, q50, q95]. Columns are split across `threads`.
void log10_summary(const double* v, int64_t E, int64_t C, double* out, int threads);

// Scratch doubles per member for the per-member accumulators (ensemble_impl.inc).
constexpr int64_t kEnsembleAccPerMember = 8 + LaneStats::kArrays;

// The summary run computes with the statistics: per chunk of kMomentChunk members
// (fixed, whatever the threads or tiles), column (|dL/dh_l| for l = 0..L, |dL/dW_l|,
// |dL/db_l| for l = 1..L) and layer, the count, mean and M2 of log10 of the finite
// values; merged in chunk order (Chan et al.) into the mean and (population) std.
constexpr int64_t kMomentChunk = 16;
// The most members a tile holds (Ensemble::tile_for caps it).
constexpr int64_t kMaxTileLanes = 256;
constexpr int64_t kMomentColumns = 3;

// u, xhat, rstd, du: a layer-norm layer's normalised z, its xhat, 1/std per (sample, member)
// and dL/du; pin, pxhat, prstd, dpin: a pre-norm layer's normalised input, its xhat,
// 1/std and the gradient reaching it.
// How one layer of a drawn ensemble is drawn (kernels/philox.hpp: philox::Dist).
struct GenSpec {
  int wdist = 0;
  double wscale = 0.0;
  int bdist = 2;
  double bscale = 0.0;
};

// Where Ensemble::run writes statistic s (enum Stat) of layer l = 1..L of member e:
// stats[e * member + (l - 1) * layer + s * stat].
struct StatsLayout {
  int64_t member, layer, stat;
  // (E, L, ST_COUNT): a row per member and layer (the C API's layout)
  static StatsLayout rows(int64_t L) noexcept { return {L * ST_COUNT, ST_COUNT, 1}; }
  // (ST_COUNT, L, E): members innermost, so each layer's statistic is written as n
  // contiguous lanes in place (Python's layout, seen as an (E, L, ST_COUNT) view)
  static StatsLayout columns(int64_t E, int64_t L) noexcept { return {1, E, L * E}; }
};

struct EnsembleOffsets { int64_t z, a, h, dh, da, dz, u, xhat, rstd, du, pin, pxhat, prstd, dpin; };

// Everything the per-member work needs, as plain pointers (see ensemble_impl.inc).
template <class T>
struct EnsembleSlice {
  const LayerSpec* layers;
  int64_t L, E, B;
  int64_t Es;  // lane stride of the tile workspace (members per tile)
  const T* params;
  T* grads;  // the tile's parameter gradients, layer l's at g_off[l - 1]
  T* ws;     // the tile's activations and their gradients (off, dx_off)
  const int64_t* w_off;
  const int64_t* g_off;
  const EnsembleOffsets* off;
  const int64_t* const* skip_begin;  // skip_begin[s] .. skip_begin[s + 1]: layers with skip s
  int64_t dx_off;
  double* acc;  // kEnsembleAccPerMember doubles per lane of the tile
  T* alive;     // (widest, Es)
  const T* x;
  const T* t;
  bool x_per_member, t_per_member;
  int loss_kind;  // enum Loss (kernels/losses.hpp)
  double *stats, *grad_x, *loss;
  StatsLayout st;  // where stats go
  double* moments;  // (chunks, kMomentColumns, L + 1, 3): count, mean, M2 (or null)
  int8_t* verdicts;  // each member's verdict code (E), or null
  const int64_t* p_off1;  // per layer: its parameters' offset in one member's (times the lane stride)
  const GenSpec* gen;     // per layer, for members drawn where they are used; null: stored
  uint64_t seed;
  T* tparams;  // drawn or gathered members: the tile's parameters (stride Es)
  bool gather;  // stored members copied into tparams tile by tile (see Ensemble::gathers)
};

// The per-member work on members [e0, e1), once per instruction set (ensemble_impl.inc).
PYVANISH_SIMD_DECLARE(template <class T>
                      void ensemble_slice(const EnsembleSlice<T>& S, int64_t e0, int64_t e1) noexcept)

template <class T>
class Ensemble {
 public:
  // gen (one per layer): the members are drawn where they are used, from (seed, member,
  // layer) (kernels/philox.hpp), and no parameters are stored; empty: stored. May throw
  // bad_alloc.
  Ensemble(std::vector<LayerSpec> layers, int64_t members, std::vector<GenSpec> gen = {}, uint64_t seed = 0);
  bool drawn() const noexcept { return !gen_.empty(); }
  // Whether a run in tiles of Es members copies each tile's stored parameters into a
  // buffer of lane stride Es first: the lane GEMMs then read rows of Es contiguous
  // lanes instead of Es out of every E (a page apart in wide ensembles: TLB misses).
  // For members whose tile of parameters is small (kGatherBytes); drawn members always
  // have such a buffer.
  bool gathers(int64_t Es) const noexcept;
  bool tile_params(int64_t Es) const noexcept { return drawn() || gathers(Es); }
  // Member m's parameters in one network's layout (per layer W, b [, gamma, beta] [, gamma', beta']).
  int64_t member_size() const noexcept { return p_off1_.back(); }
  void member_params(int64_t m, T* out) const noexcept;

  int64_t members() const noexcept { return E_; }
  int64_t depth() const noexcept { return int64_t(layers_.size()); }
  const LayerSpec& layer(int64_t l) const noexcept { return layers_[size_t(l - 1)]; }
  int64_t num_params() const noexcept { return int64_t(params_.size()); }
  T* params() noexcept { return params_.data(); }
  // W_l (n_l, n_{l-1}, E), b_l (n_l, E), then [gamma_l, beta_l (n_l, E)] of a layer-norm
  // layer and [gamma'_l, beta'_l (n_{l-1}, E)] of a pre-norm one (gamma = 1, beta = 0)
  int64_t weight_offset(int64_t l) const noexcept { return w_off_[size_t(l - 1)]; }
  int64_t bias_offset(int64_t l) const noexcept { return w_off_[size_t(l - 1)] + layer(l).out * layer(l).in * E_; }
  int64_t gamma_offset(int64_t l) const noexcept { return bias_offset(l) + layer(l).out * E_; }
  int64_t pre_gamma_offset(int64_t l) const noexcept {
    return bias_offset(l) + layer(l).out * E_ * (layer(l).layernorm ? 3 : 1);
  }

  // x: (B, n_0) shared by all members, or (B, n_0, E) per member; t likewise
  // with n_L. Writes stats (laid out as `layout` says), grad_x (E), loss (E) and, if
  // given, each member's verdict code (E, engine/stats.hpp: verdict_code) and
  // the mean and std of log10 |dL/dh_l|, |dL/dW_l|, |dL/db_l| over the members
  // (moments (kMomentColumns, L + 1, 2); l = 0 of the last two is NaN).
  void run(const T* x, bool x_per_member, const T* t, bool t_per_member, int64_t B,
           double* stats, StatsLayout layout, double* grad_x, double* loss, int threads,
           int8_t* verdicts = nullptr, double* moments = nullptr);

  std::mutex& mutex() noexcept { return mu_; }
  int loss = LOSS_MSE;  // enum Loss (kernels/losses.hpp)
  int64_t tile_ = 0;  // members per tile (0: chosen by size; rounded up to 16); results do not depend on it

  // The members per tile for batch B (a multiple of 16), and the bytes of workspace
  // one thread needs for it: what a run allocates per thread, whatever E.
  int64_t tile_for(int64_t B) const noexcept;
  int64_t workspace_bytes(int64_t B) const noexcept;

 private:
  // per member of a tile: workspace and gradient entries, and the offsets for Es lanes
  int64_t layout(int64_t B, int64_t Es, std::vector<EnsembleOffsets>* off, std::vector<int64_t>* g_off,
                 int64_t* dx_off, int64_t* n_grads) const;
  void reserve(int64_t B, int64_t Es, int slots);

  std::vector<LayerSpec> layers_;
  int64_t E_;
  std::vector<int64_t> w_off_;
  std::vector<int64_t> p_off1_;  // L + 1 entries: cumulative parameters of one member
  std::vector<GenSpec> gen_;
  uint64_t seed_ = 0;
  std::vector<int64_t> skips_;
  std::vector<size_t> skip_at_;
  std::vector<const int64_t*> skip_begin_;
  std::vector<T> params_;
  int64_t B_ = -1, Es_ = 0;  // the workspace's batch and tile (none yet)
  int slots_ = 0;
  int64_t ws_size_ = 0, g_size_ = 0, widest_ = 0;  // per slot
  std::vector<T> ws_;        // slots x (activations and their gradients, then parameter gradients)
  std::vector<EnsembleOffsets> off_;
  std::vector<int64_t> g_off_;
  int64_t dx_off_ = 0;
  std::vector<double> acc_;  // slots x Es x kEnsembleAccPerMember
  std::vector<T> alive_;     // slots x (widest, Es)
  std::vector<double> chunk_moments_;  // see EnsembleSlice::moments
  std::vector<T> tparams_;             // drawn or gathered members: slots x (member_size, Es)
  std::mutex mu_;
};

}  // namespace pyvanish
