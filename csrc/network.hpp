// The network engine: forward, loss, backward and every per-layer gradient
// statistic of DESIGN.md §2 for a dense network, in one call.
//
//   z_l = h_{l-1} W_l^T + b_l      W_l (n_l, n_{l-1}), b_l (n_l)
//   a_l = phi_l(z_l)
//   h_l = a_l                       h_0 = x (B, n_0);  y = h_L
//   L   = 1/(2B) sum_b |y_b - t_b|^2
//
// The engine owns its parameters (one contiguous buffer, W_1 b_1 W_2 b_2 ...)
// and a workspace sized for the last batch size it saw, so repeated calls
// allocate nothing. Statistics are reduced inside the backward pass. No
// Python here; preconditions are checked by the bindings.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

namespace pyvanish {

struct LayerSpec {
  int64_t in = 0, out = 0;  // widths n_{l-1}, n_l
  int act = 0;              // enum Act
  double alpha = 0.0;       // leaky_relu slope / elu scale
};

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
  ST_COUNT
};
const char* stat_name(int s) noexcept;

// sup |phi'| of an activation (its saturation threshold is 1% of this).
double max_derivative(int act, double alpha) noexcept;

// L2 norm without overflow or underflow in the squares (float: summed in
// double; double: scaled by a power of two). NaN if any NaN, inf if any inf.
template <class T>
double norm2(const T* v, int64_t n) noexcept;
template <class T>
int64_t count_nonfinite(const T* v, int64_t n) noexcept;

template <class T>
class Network {
 public:
  explicit Network(std::vector<LayerSpec> layers);  // may throw bad_alloc

  int64_t depth() const noexcept { return int64_t(layers_.size()); }
  const LayerSpec& layer(int64_t l) const noexcept { return layers_[size_t(l - 1)]; }
  int64_t num_params() const noexcept { return int64_t(params_.size()); }
  T* params() noexcept { return params_.data(); }
  T* grads() noexcept { return grads_.data(); }
  int64_t weight_offset(int64_t l) const noexcept { return w_off_[size_t(l - 1)]; }
  int64_t bias_offset(int64_t l) const noexcept { return w_off_[size_t(l - 1)] + layer(l).out * layer(l).in; }

  // x (B, n_0), t (B, n_L), B >= 1. Writes stats (L, ST_COUNT) and
  // grad_x = |dL/dx|; returns the loss. The per-layer buffers below hold
  // this call's values until the next call.
  double run(const T* x, const T* t, int64_t B, double* stats, double* grad_x);

  int64_t batch() const noexcept { return B_; }
  const T* z(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].z; }
  const T* h(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].h; }
  const T* dh(int64_t l) const noexcept {  // l = 0..L, dh(0) = dL/dx
    return ws_.data() + (l == 0 ? dx_off_ : off_[size_t(l - 1)].dh);
  }
  const T* dz(int64_t l) const noexcept { return ws_.data() + off_[size_t(l - 1)].dz; }

  // Serialises use: one call at a time per network.
  std::mutex& mutex() noexcept { return mu_; }

 private:
  struct Offsets { int64_t z, h, dh, dz; };
  void reserve(int64_t B);

  std::vector<LayerSpec> layers_;
  std::vector<int64_t> w_off_;
  std::vector<T> params_, grads_;
  int64_t B_ = 0;
  std::vector<T> ws_;        // z, h, dh, dz per layer, dL/dx, one phi' scratch
  std::vector<Offsets> off_;
  int64_t dx_off_ = 0, dphi_off_ = 0;
  std::vector<unsigned char> alive_;
  std::mutex mu_;
};

}  // namespace pyvanish
