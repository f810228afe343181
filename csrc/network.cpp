#include "network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "activations.hpp"
#include "kernels.hpp"

namespace pyvanish {

const char* stat_name(int s) noexcept {
  static const char* const names[ST_COUNT] = {
      "grad_h", "grad_z", "grad_W", "grad_b", "mean_dphi", "saturated", "dead",
      "nonfinite_act", "nonfinite_grad", "tiny_grad_W"};
  return (s >= 0 && s < ST_COUNT) ? names[s] : "unknown";
}

double max_derivative(int act, double alpha) noexcept {
  switch (act) {
    case ACT_SIGMOID: return 0.25;
    case ACT_LEAKY_RELU:
    case ACT_ELU: return std::max(1.0, alpha);
    case ACT_GELU: return 1.128904145185155;   // at z = sqrt 2
    case ACT_SILU: return 1.099839320128867;   // at z = 2.3994
    default: return 1.0;  // identity, tanh, relu, softplus
  }
}

template <class T>
int64_t count_nonfinite(const T* v, int64_t n) noexcept {
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T d = v[i] - v[i];  // 0 when finite, NaN for NaN and +-inf
    c += !(d == d);
  }
  return c;
}

template <>
double norm2<float>(const float* v, int64_t n) noexcept {
  double s = 0.0;  // float squares cannot overflow or underflow a double
  for (int64_t i = 0; i < n; ++i) s += double(v[i]) * double(v[i]);
  return std::sqrt(s);
}

template <>
double norm2<double>(const double* v, int64_t n) noexcept {
  double amax = 0.0;
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(v[i]);
    amax = a > amax ? a : amax;
    bad |= !(v[i] - v[i] == 0.0);
  }
  if (bad) {  // NaN or inf: the naive sum says which
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += v[i] * v[i];
    return std::sqrt(s);
  }
  if (amax == 0.0) return 0.0;
  int e;
  std::frexp(amax, &e);  // amax = f 2^e, f in [0.5, 1)
  // Scale by 2^-e in two exact steps (2^-e alone may overflow for subnormals).
  const double s1 = std::ldexp(1.0, -e / 2), s2 = std::ldexp(1.0, -e - (-e / 2));
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double w = v[i] * s1 * s2;
    s += w * w;
  }
  return std::ldexp(std::sqrt(s), e);
}

template <class T>
static int64_t count_tiny(const T* v, int64_t n) noexcept {
  int64_t c = 0;
  const T smallest = std::numeric_limits<T>::min();
  for (int64_t i = 0; i < n; ++i) c += std::fabs(v[i]) < smallest;
  return c;
}

template <class T>
Network<T>::Network(std::vector<LayerSpec> layers) : layers_(std::move(layers)) {
  int64_t n = 0;
  for (const auto& s : layers_) {
    w_off_.push_back(n);
    n += s.out * s.in + s.out;
  }
  params_.assign(size_t(n), T(0));
  grads_.assign(size_t(n), T(0));
}

template <class T>
void Network<T>::reserve(int64_t B) {
  if (B == B_) return;
  off_.clear();
  int64_t n = 0, widest = 0;
  for (const auto& s : layers_) {
    const int64_t m = B * s.out;
    off_.push_back({n, n + m, n + 2 * m, n + 3 * m});
    n += 4 * m;
    widest = std::max(widest, s.out);
  }
  dx_off_ = n;
  n += B * layers_.front().in;
  dphi_off_ = n;
  n += B * widest;
  ws_.assign(size_t(n), T(0));
  alive_.assign(size_t(widest), 0);
  B_ = B;
}

template <class T>
double Network<T>::run(const T* x, const T* t, int64_t B, double* stats, double* grad_x) {
  reserve(B);
  const int64_t L = depth();
  T* ws = ws_.data();
  // forward
  for (int64_t l = 1; l <= L; ++l) {
    const LayerSpec& s = layer(l);
    const T* inp = l == 1 ? x : h(l - 1);
    const Offsets& o = off_[size_t(l - 1)];
    dense_act_forward<T>(ws + o.z, ws + o.h, inp, params_.data() + weight_offset(l),
                         params_.data() + bias_offset(l), s.act, T(s.alpha), B, s.in, s.out);
  }
  const LayerSpec& last = layer(L);
  const double loss = mse_forward<T>(h(L), t, B, last.out);
  mse_backward<T>(ws + off_[size_t(L - 1)].dh, h(L), t, B, last.out);
  // backward, reducing the statistics as each layer's buffers are produced
  for (int64_t l = L; l >= 1; --l) {
    const LayerSpec& s = layer(l);
    const Offsets& o = off_[size_t(l - 1)];
    const int64_t m = B * s.out;
    T* dphi = ws + dphi_off_;
    T* dz = ws + o.dz;
    const T* dh_l = ws + o.dh;
    activation_derivative<T>(s.act, T(s.alpha), dphi, ws + o.z, ws + o.h, m);
    const double thr = 0.01 * max_derivative(s.act, s.alpha);
    double sum_dphi = 0.0;
    int64_t saturated = 0;
    unsigned char* alive = alive_.data();
    std::fill(alive, alive + s.out, 0);
    for (int64_t b = 0; b < B; ++b) {
      const T* d = dphi + b * s.out;
      const T* g = dh_l + b * s.out;
      T* out = dz + b * s.out;
      for (int64_t j = 0; j < s.out; ++j) {
        out[j] = g[j] * d[j];
        sum_dphi += double(d[j]);
        saturated += std::fabs(double(d[j])) <= thr;
        alive[j] |= d[j] != T(0);
      }
    }
    int64_t dead = 0;
    for (int64_t j = 0; j < s.out; ++j) dead += !alive[j];
    const T* inp = l == 1 ? x : h(l - 1);
    T* dinp = ws + (l == 1 ? dx_off_ : off_[size_t(l - 2)].dh);
    T* dW = grads_.data() + weight_offset(l);
    T* db = grads_.data() + bias_offset(l);
    dense_backward<T>(dinp, dW, db, dz, inp, params_.data() + weight_offset(l), B, s.in, s.out);

    double* st = stats + (l - 1) * ST_COUNT;
    const int64_t nw = s.out * s.in;
    st[ST_GRAD_H] = norm2(dh_l, m);
    st[ST_GRAD_Z] = norm2(dz, m);
    st[ST_GRAD_W] = norm2(dW, nw);
    st[ST_GRAD_B] = norm2(db, s.out);
    st[ST_MEAN_DPHI] = sum_dphi / double(m);
    st[ST_SATURATED] = double(saturated) / double(m);
    st[ST_DEAD] = double(dead) / double(s.out);
    st[ST_NONFINITE_ACT] = double(count_nonfinite(ws + o.z, m) + count_nonfinite(ws + o.h, m));
    st[ST_NONFINITE_GRAD] = double(count_nonfinite(dh_l, m) + count_nonfinite(dz, m) +
                                   count_nonfinite(dW, nw) + count_nonfinite(db, s.out));
    st[ST_TINY_GRAD] = double(count_tiny(dW, nw));
  }
  *grad_x = norm2(ws + dx_off_, B * layer(1).in);
  return loss;
}

template class Network<float>;
template class Network<double>;
template int64_t count_nonfinite<float>(const float*, int64_t) noexcept;
template int64_t count_nonfinite<double>(const double*, int64_t) noexcept;

}  // namespace pyvanish
