// pyvanish._core: the bindings, and only the bindings.
//
// Each function: check dtypes and shapes (O(1), before touching memory),
// allocate outputs, release the GIL around the raw-pointer work, call the
// kernel, return. Arrays must already be C-contiguous, aligned, native
// float32/float64, all of one dtype (pyvanish's Python layer converts
// array-likes); anything else raises TypeError, a wrong shape ValueError,
// both naming the public function and the argument.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "activations.hpp"
#include "batchnorm.hpp"
#include "gemm.hpp"
#include "kernels.hpp"
#include "ensemble.hpp"
#include "network.hpp"
#include "threads.hpp"

namespace py = pybind11;
using namespace pyvanish;

namespace {

using Shape = std::vector<int64_t>;

// Work below this many elements keeps the GIL (releasing costs more).
constexpr int64_t kReleaseGil = 1 << 14;

struct MaybeRelease {  // drops the GIL for large work only
  std::optional<py::gil_scoped_release> g;
  explicit MaybeRelease(int64_t work) {
    if (work >= kReleaseGil) g.emplace();
  }
};

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) os << ", ";
    if (s[i] < 0) os << '*'; else os << s[i];
  }
  if (s.size() == 1) os << ',';
  os << ')';
  return os.str();
}

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

std::string where(const char* fn, const char* name) { return std::string(fn) + ": " + name; }

// The dtype every array of the call must have: that of the first one.
bool is_f64(const py::array& a, const char* fn, const char* name) {
  if (a.dtype().is(py::dtype::of<double>())) return true;
  if (a.dtype().is(py::dtype::of<float>())) return false;
  throw py::type_error(where(fn, name) + " has dtype " + std::string(py::str(a.dtype())) +
                       ", expected float32 or float64");
}

// Checks dtype T, C-contiguity, alignment and (unless want is empty and
// any_shape) the shape, -1 meaning any size on that axis.
template <class T>
const T* data(const py::array& a, const char* fn, const char* name, const Shape& want,
              bool any_shape = false) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(where(fn, name) + " has dtype " + std::string(py::str(a.dtype())) +
                         ", expected " + std::string(py::str(py::dtype::of<T>())) +
                         " like the other arrays");
  if (!(a.flags() & py::array::c_style) ||
      !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::type_error(where(fn, name) + " must be a C-contiguous, aligned array");
  if (!any_shape) {
    bool ok = a.ndim() == py::ssize_t(want.size());
    for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == a.shape(i);
    if (!ok)
      throw py::value_error(where(fn, name) + " has shape " + shape_str(shape_of(a)) +
                            ", expected " + shape_str(want));
  }
  return static_cast<const T*>(a.data());
}

template <class T>
py::array_t<T> alloc(const Shape& shape) {
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

int act_code(int act) {
  if (act < 0 || act >= ACT_COUNT)
    throw py::value_error("activation code " + std::to_string(act) + " is out of range 0.." +
                          std::to_string(ACT_COUNT - 1));
  return act;
}

// ---------------------------------------------------------------- activations

template <class T>
py::array act_forward(int act, double alpha, const py::array& inp) {
  const Shape s = shape_of(inp);
  const T* x = data<T>(inp, "activation_forward", "inp", s);
  auto out = alloc<T>(s);
  T* o = out.mutable_data();
  {
    MaybeRelease r(inp.size());
    activation_forward<T>(act, T(alpha), o, x, inp.size());
  }
  return std::move(out);
}

template <class T>
py::array act_backward(int act, double alpha, const py::array& dout, const py::array& inp,
                       const py::array& out) {
  const char* fn = "activation_backward";
  const Shape s = shape_of(dout);
  const T* g = data<T>(dout, fn, "dout", s);
  const T* x = data<T>(inp, fn, "inp", s);
  const T* y = data<T>(out, fn, "out", s);
  auto dinp = alloc<T>(s);
  T* d = dinp.mutable_data();
  {
    MaybeRelease r(dout.size());
    activation_backward<T>(act, T(alpha), d, g, x, y, dout.size());
  }
  return std::move(dinp);
}

template <class T>
py::array act_derivative(int act, double alpha, const py::array& inp, const py::array& out) {
  const char* fn = "activation_derivative";
  const Shape s = shape_of(inp);
  const T* x = data<T>(inp, fn, "inp", s);
  const T* y = data<T>(out, fn, "out", s);
  auto dphi = alloc<T>(s);
  T* d = dphi.mutable_data();
  {
    MaybeRelease r(inp.size());
    activation_derivative<T>(act, T(alpha), d, x, y, inp.size());
  }
  return std::move(dphi);
}

// ---------------------------------------------------------------- dense

template <class T>
py::array dense_fwd(const py::array& inp, const py::array& weight, const std::optional<py::array>& bias) {
  const char* fn = "dense_forward";
  const T* x = data<T>(inp, fn, "inp", {-1, -1});
  const int64_t B = inp.shape(0), C = inp.shape(1);
  const T* w = data<T>(weight, fn, "weight", {-1, C});
  const int64_t OC = weight.shape(0);
  const T* b = bias ? data<T>(*bias, fn, "bias", {OC}) : nullptr;
  auto out = alloc<T>({B, OC});
  T* o = out.mutable_data();
  {
    MaybeRelease r(B * OC * (C + 1));
    dense_forward<T>(o, x, w, b, B, C, OC);
  }
  return std::move(out);
}

template <class T>
py::tuple dense_bwd(const py::array& dout, const py::array& inp, const py::array& weight) {
  const char* fn = "dense_backward";
  const T* x = data<T>(inp, fn, "inp", {-1, -1});
  const int64_t B = inp.shape(0), C = inp.shape(1);
  const T* w = data<T>(weight, fn, "weight", {-1, C});
  const int64_t OC = weight.shape(0);
  const T* g = data<T>(dout, fn, "dout", {B, OC});
  auto dinp = alloc<T>({B, C});
  auto dweight = alloc<T>({OC, C});
  auto dbias = alloc<T>({OC});
  T *di = dinp.mutable_data(), *dw = dweight.mutable_data(), *db = dbias.mutable_data();
  {
    MaybeRelease r(B * OC * (C + 1));
    dense_backward<T>(di, dw, db, g, x, w, B, C, OC);
  }
  return py::make_tuple(dinp, dweight, dbias);
}

template <class T>
py::tuple dense_act_fwd(const py::array& inp, const py::array& weight,
                        const std::optional<py::array>& bias, int act, double alpha) {
  const char* fn = "dense_act_forward";
  const T* x = data<T>(inp, fn, "inp", {-1, -1});
  const int64_t B = inp.shape(0), C = inp.shape(1);
  const T* w = data<T>(weight, fn, "weight", {-1, C});
  const int64_t OC = weight.shape(0);
  const T* b = bias ? data<T>(*bias, fn, "bias", {OC}) : nullptr;
  auto z = alloc<T>({B, OC});
  auto a = alloc<T>({B, OC});
  T *zp = z.mutable_data(), *ap = a.mutable_data();
  {
    MaybeRelease r(B * OC * (C + 1));
    dense_act_forward<T>(zp, ap, x, w, b, act, T(alpha), B, C, OC);
  }
  return py::make_tuple(z, a);
}

template <class T>
py::tuple dense_act_bwd(const py::array& dout, const py::array& inp, const py::array& weight,
                        const py::array& z, const py::array& a, int act, double alpha) {
  const char* fn = "dense_act_backward";
  const T* x = data<T>(inp, fn, "inp", {-1, -1});
  const int64_t B = inp.shape(0), C = inp.shape(1);
  const T* w = data<T>(weight, fn, "weight", {-1, C});
  const int64_t OC = weight.shape(0);
  const T* g = data<T>(dout, fn, "dout", {B, OC});
  const T* zp = data<T>(z, fn, "z", {B, OC});
  const T* ap = data<T>(a, fn, "a", {B, OC});
  auto dinp = alloc<T>({B, C});
  auto dweight = alloc<T>({OC, C});
  auto dbias = alloc<T>({OC});
  auto dz = alloc<T>({B, OC});
  T *di = dinp.mutable_data(), *dw = dweight.mutable_data(), *db = dbias.mutable_data(),
    *dzp = dz.mutable_data();
  {
    MaybeRelease r(B * OC * (C + 1));
    dense_act_backward<T>(di, dw, db, dzp, g, x, w, zp, ap, act, T(alpha), B, C, OC);
  }
  return py::make_tuple(dinp, dweight, dbias, dz);
}

// ---------------------------------------------------------------- loss

template <class T>
double mse_fwd(const py::array& pred, const py::array& target) {
  const char* fn = "mse_forward";
  const T* p = data<T>(pred, fn, "pred", {-1, -1});
  const int64_t B = pred.shape(0), N = pred.shape(1);
  const T* t = data<T>(target, fn, "target", {B, N});
  if (B == 0) throw py::value_error("mse_forward: pred has no rows; the mean over an empty batch is undefined");
  MaybeRelease r(B * N);
  return mse_forward<T>(p, t, B, N);
}

template <class T>
py::array mse_bwd(const py::array& pred, const py::array& target) {
  const char* fn = "mse_backward";
  const T* p = data<T>(pred, fn, "pred", {-1, -1});
  const int64_t B = pred.shape(0), N = pred.shape(1);
  const T* t = data<T>(target, fn, "target", {B, N});
  if (B == 0) throw py::value_error("mse_backward: pred has no rows; the mean over an empty batch is undefined");
  auto d = alloc<T>({B, N});
  T* dp = d.mutable_data();
  {
    MaybeRelease r(B * N);
    mse_backward<T>(dp, p, t, B, N);
  }
  return std::move(d);
}


// ---------------------------------------------------------------- batch norm, residual

template <class T>
py::tuple bn_fwd(const py::array& inp, const py::array& gamma, const py::array& beta, double eps) {
  const char* fn = "batchnorm_forward";
  const T* x = data<T>(inp, fn, "inp", {-1, -1});
  const int64_t B = inp.shape(0), C = inp.shape(1);
  const T* g = data<T>(gamma, fn, "gamma", {C});
  const T* b = data<T>(beta, fn, "beta", {C});
  if (!(eps > 0.0) || !std::isfinite(eps)) throw py::value_error("batchnorm_forward: eps must be positive and finite");
  if (B < 2) throw py::value_error("batchnorm_forward: inp needs at least 2 rows (batch statistics of one sample are undefined)");
  auto out = alloc<T>({B, C}), xhat = alloc<T>({B, C});
  auto mean = alloc<T>({C}), rstd = alloc<T>({C});
  T *o = out.mutable_data(), *xh = xhat.mutable_data(), *m = mean.mutable_data(), *r = rstd.mutable_data();
  {
    MaybeRelease rel(B * C);
    batchnorm_forward<T>(o, xh, m, r, x, g, b, B, C, eps);
  }
  return py::make_tuple(out, xhat, mean, rstd);
}

template <class T>
py::tuple bn_bwd(const py::array& dout, const py::array& xhat, const py::array& gamma, const py::array& rstd) {
  const char* fn = "batchnorm_backward";
  const T* g = data<T>(dout, fn, "dout", {-1, -1});
  const int64_t B = dout.shape(0), C = dout.shape(1);
  const T* xh = data<T>(xhat, fn, "xhat", {B, C});
  const T* ga = data<T>(gamma, fn, "gamma", {C});
  const T* r = data<T>(rstd, fn, "rstd", {C});
  auto dinp = alloc<T>({B, C}), dgamma = alloc<T>({C}), dbeta = alloc<T>({C});
  T *di = dinp.mutable_data(), *dg = dgamma.mutable_data(), *db = dbeta.mutable_data();
  {
    MaybeRelease rel(B * C);
    batchnorm_backward<T>(di, dg, db, g, xh, ga, r, B, C);
  }
  return py::make_tuple(dinp, dgamma, dbeta);
}

template <class T>
py::array res_fwd(const py::array& skip, const py::array& inp, double scale) {
  const char* fn = "residual_forward";
  const Shape s = shape_of(skip);
  const T* sk = data<T>(skip, fn, "skip", s);
  const T* x = data<T>(inp, fn, "inp", s);
  auto out = alloc<T>(s);
  T* o = out.mutable_data();
  {
    MaybeRelease rel(skip.size());
    residual_forward<T>(o, sk, x, T(scale), skip.size());
  }
  return std::move(out);
}

template <class T>
py::tuple res_bwd(const py::array& dout, double scale) {
  const char* fn = "residual_backward";
  const Shape s = shape_of(dout);
  const T* g = data<T>(dout, fn, "dout", s);
  auto dinp = alloc<T>(s), dskip = alloc<T>(s);
  T *di = dinp.mutable_data(), *ds = dskip.mutable_data();
  {
    MaybeRelease rel(dout.size());
    std::fill(ds, ds + dout.size(), T(0));
    residual_backward<T>(di, ds, g, T(scale), dout.size());
  }
  return py::make_tuple(dinp, dskip);
}

// ---------------------------------------------------------------- gemm

template <class T>
py::array gemm_(const py::array& a, const py::array& b, bool ta, bool tb) {
  const char* fn = "gemm";
  const T* ap = data<T>(a, fn, "a", {-1, -1});
  const int64_t M = ta ? a.shape(1) : a.shape(0), K = ta ? a.shape(0) : a.shape(1);
  const T* bp = data<T>(b, fn, "b", tb ? Shape{-1, K} : Shape{K, -1});
  const int64_t N = tb ? b.shape(0) : b.shape(1);
  auto c = alloc<T>({M, N});
  T* cp = c.mutable_data();
  {
    MaybeRelease r(M * N * (K + 1));
    gemm<T>(ta, tb, M, N, K, T(1), ap, a.shape(1), bp, b.shape(1), T(0), cp, N);
  }
  return std::move(c);
}


// ---------------------------------------------------------------- network

// A Network<T> for Python: parameters and gradients exposed as NumPy views
// (kept alive by the engine object), one call runs everything.
template <class T>
struct PyNetwork {
  Network<T> net;
  explicit PyNetwork(std::vector<LayerSpec> specs) : net(std::move(specs)) {}

  py::array view(T* base, int64_t offset, Shape shape, py::handle owner) {
    return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()), base + offset, owner);
  }

  py::tuple run(const py::array& x, const py::array& t, bool check_finite) {
    const char* fn = "Network.run";
    const int64_t n0 = net.layer(1).in, nL = net.layer(net.depth()).out;
    const T* xp = data<T>(x, fn, "x", {-1, n0});
    const int64_t B = x.shape(0);
    const T* tp = data<T>(t, fn, "t", {B, nL});
    if (B == 0) throw py::value_error("x has no rows; the loss of an empty batch is undefined");
    for (int64_t l = 1; l <= net.depth(); ++l)
      if (B == 1 && net.training && net.layer(l).batchnorm)
        throw py::value_error("batch normalisation needs more than one sample per batch in training "
                              "mode (batch statistics of one sample are undefined); layer " +
                              std::to_string(l) + " has batch norm");
    if (check_finite) {
      if (count_nonfinite(xp, B * n0)) throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
      if (count_nonfinite(tp, B * nL)) throw py::value_error("t contains NaN or Inf (pass check_finite=False to allow)");
    }
    std::unique_lock<std::mutex> lock(net.mutex(), std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error("Network.run: this network is running in another thread; "
                               "use one network per thread (Network.copy())");
    auto stats = alloc<double>({net.depth(), ST_COUNT});
    double* sp = stats.mutable_data();
    double grad_x = 0.0, loss = 0.0;
    {
      int64_t work = 0;
      for (int64_t l = 1; l <= net.depth(); ++l) work += B * net.layer(l).in * net.layer(l).out;
      MaybeRelease r(work);
      loss = net.run(xp, tp, B, sp, &grad_x);
    }
    return py::make_tuple(loss, std::move(stats), grad_x);
  }

  py::array jacobian(const py::array& x, bool check_finite) {
    const char* fn = "Network.jacobian";
    const int64_t n0 = net.layer(1).in, nL = net.layer(net.depth()).out;
    const T* xp = data<T>(x, fn, "x", {-1, n0});
    const int64_t B = x.shape(0);
    if (check_finite && count_nonfinite(xp, B * n0))
      throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
    if (net.training)
      for (int64_t l = 1; l <= net.depth(); ++l)
        if (net.layer(l).batchnorm)
          throw py::value_error("the per-sample Jacobian of a batch-norm network needs evaluation mode "
                                "(training-mode batch statistics couple the samples): set training = False");
    std::unique_lock<std::mutex> lock(net.mutex(), std::try_to_lock);
    if (!lock.owns_lock()) throw std::runtime_error("Network.jacobian: this network is running in another thread");
    auto J = alloc<T>({B, nL, n0});
    if (B == 0) return std::move(J);
    T* jp = J.mutable_data();
    {
      py::gil_scoped_release nogil;
      net.jacobian(xp, B, jp);
    }
    return std::move(J);
  }

  py::dict train(const py::array& X, const py::array& Y, const py::array& idx, int optimizer, double lr,
                 double momentum, double beta1, double beta2, double eps, double weight_decay,
                 int64_t record_every, py::array m1, py::array m2, int64_t t0, int64_t total) {
    const char* fn = "train";
    const int64_t n0 = net.layer(1).in, L = net.depth(), nL = net.layer(L).out;
    const T* xp = data<T>(X, fn, "X", {-1, n0});
    const int64_t N = X.shape(0);
    const T* yp = data<T>(Y, fn, "T", {N, nL});
    if (!idx.dtype().is(py::dtype::of<int64_t>()) || !(idx.flags() & py::array::c_style) || idx.ndim() != 2)
      throw py::type_error("train: idx must be a C-contiguous int64 array (steps, batch)");
    const int64_t steps = idx.shape(0), B = idx.shape(1);
    const int64_t* ip = static_cast<const int64_t*>(idx.data());
    for (int64_t i = 0; i < steps * B; ++i)
      if (ip[i] < 0 || ip[i] >= N) throw py::value_error("train: idx has an entry outside [0, N)");
    if (B < 1 || record_every < 1 || optimizer < OPT_SGD || optimizer > OPT_ADAM || t0 < 0)
      throw py::value_error("train: invalid batch, record_every, optimizer or t0");
    const Shape ps{net.num_params()};
    T* m1p = const_cast<T*>(data<T>(m1, fn, "m1", ps));
    T* m2p = const_cast<T*>(data<T>(m2, fn, "m2", ps));
    if (!m1.writeable() || !m2.writeable()) throw py::value_error("train: m1 and m2 must be writeable");
    for (int64_t l = 1; l <= L; ++l)
      if (B == 1 && net.training && net.layer(l).batchnorm)
        throw py::value_error("train: batch normalisation needs batches of more than one sample");
    std::unique_lock<std::mutex> lock(net.mutex(), std::try_to_lock);
    if (!lock.owns_lock()) throw std::runtime_error("train: this network is running in another thread");
    const int64_t cap = (steps + record_every - 1) / record_every + 1;
    auto step = alloc<int64_t>({cap});
    auto loss = alloc<double>({cap});
    auto gW = alloc<double>({cap, L}), gh = alloc<double>({cap, L + 1}), up = alloc<double>({cap, L});
    auto sat = alloc<double>({cap, L}), dead = alloc<double>({cap, L});
    typename Network<T>::TrainConfig cfg;
    cfg.optimizer = optimizer;
    cfg.lr = lr; cfg.momentum = momentum; cfg.beta1 = beta1; cfg.beta2 = beta2; cfg.eps = eps;
    cfg.weight_decay = weight_decay; cfg.steps = steps; cfg.batch = B; cfg.record_every = record_every;
    cfg.t0 = t0;
    cfg.total = total;
    typename Network<T>::TrainRecord rec{step.mutable_data(), loss.mutable_data(), gW.mutable_data(),
                                         gh.mutable_data(), up.mutable_data(), sat.mutable_data(),
                                         dead.mutable_data()};
    int64_t done = 0, nrec = 0;
    {
      py::gil_scoped_release nogil;
      done = net.train(xp, yp, ip, cfg, m1p, m2p, rec, &nrec);
    }
    py::dict out;
    py::slice first(0, nrec, 1);
    out["steps_done"] = done;
    out["step"] = step[first];
    out["loss"] = loss[first];
    out["grad_W"] = gW[first];
    out["grad_h"] = gh[first];
    out["update_ratio"] = up[first];
    out["saturated"] = sat[first];
    out["dead"] = dead[first];
    return out;
  }

  // Copies of one per-layer buffer of the last run: "z", "u", "a", "h", "dh" (l = 0..L), "du", "dz".
  py::list buffers(const std::string& which) {
    std::unique_lock<std::mutex> lock(net.mutex(), std::try_to_lock);
    if (!lock.owns_lock()) throw std::runtime_error("Network.buffers: this network is running in another thread");
    const int64_t B = net.batch(), L = net.depth();
    if (B < 0) throw py::value_error("Network.buffers: the network has not been run yet");
    py::list out;
    const int64_t first = which == "dh" ? 0 : 1;
    for (int64_t l = first; l <= L; ++l) {
      const int64_t n = l == 0 ? net.layer(1).in : net.layer(l).out;
      const T* src = which == "z" ? net.z(l) : which == "h" ? net.h(l) : which == "dh" ? net.dh(l)
                   : which == "dz" ? net.dz(l) : which == "u" ? net.u(l) : which == "a" ? net.a(l)
                   : which == "du" ? net.du(l) : nullptr;
      if (!src)
        throw py::value_error("Network.buffers: which must be 'z', 'u', 'a', 'h', 'dh', 'du' or 'dz', got '" +
                              which + "'");
      auto a = alloc<T>({B, n});
      std::copy(src, src + B * n, a.mutable_data());
      out.append(std::move(a));
    }
    return out;
  }
};

template <class T>
void bind_network(py::module_& m, const char* name) {
  using PN = PyNetwork<T>;
  py::class_<PN>(m, name)
      .def(py::init([](const std::vector<int64_t>& widths, const std::vector<int>& acts,
                       const std::vector<double>& alphas, std::vector<bool> batchnorm,
                       std::vector<double> eps, std::vector<int64_t> skip, std::vector<double> scale) {
             if (widths.size() < 2)
               throw py::value_error("Network: widths needs at least 2 entries (input and output), got " +
                                     std::to_string(widths.size()));
             const size_t L = widths.size() - 1;
             for (size_t i = 0; i < widths.size(); ++i)
               if (widths[i] < 1)
                 throw py::value_error("Network: widths[" + std::to_string(i) + "] is " +
                                       std::to_string(widths[i]) + ", expected >= 1");
             if (batchnorm.empty()) batchnorm.assign(L, false);
             if (eps.empty()) eps.assign(L, 1e-5);
             if (skip.empty()) skip.assign(L, -1);
             if (scale.empty()) scale.assign(L, 1.0);
             if (acts.size() != L || alphas.size() != L || batchnorm.size() != L || eps.size() != L ||
                 skip.size() != L || scale.size() != L)
               throw py::value_error("Network: expected " + std::to_string(L) + " entries per layer in "
                                     "activations, alphas, batchnorm, eps, skip and scale");
             std::vector<LayerSpec> specs(L);
             for (size_t l = 0; l < L; ++l) {
               const std::string layer = "layer " + std::to_string(l + 1);
               if (!(eps[l] > 0.0) || !std::isfinite(eps[l]))
                 throw py::value_error("Network: " + layer + ": batch-norm eps must be positive and finite");
               if (skip[l] >= 0) {
                 if (skip[l] > int64_t(l))
                   throw py::value_error("Network: " + layer + ": a residual connection must come from an "
                                         "earlier layer, got h_" + std::to_string(skip[l]));
                 if (widths[size_t(skip[l])] != widths[l + 1])
                   throw py::value_error("Network: " + layer + " is residual (h_" + std::to_string(l + 1) +
                                         " = h_" + std::to_string(skip[l]) + " + F) but h_" +
                                         std::to_string(skip[l]) + " has width " +
                                         std::to_string(widths[size_t(skip[l])]) + " and h_" +
                                         std::to_string(l + 1) + " has width " + std::to_string(widths[l + 1]));
               }
               specs[l] = {widths[l], widths[l + 1], act_code(acts[l]), alphas[l], bool(batchnorm[l]),
                           eps[l], skip[l], scale[l]};
             }
             return new PN(std::move(specs));
           }),
           py::arg("widths"), py::arg("activations"), py::arg("alphas"),
           py::arg("batchnorm") = std::vector<bool>{}, py::arg("eps") = std::vector<double>{},
           py::arg("skip") = std::vector<int64_t>{}, py::arg("scale") = std::vector<double>{})
      .def_property_readonly("depth", [](PN& self) { return self.net.depth(); })
      .def_property_readonly("params", [](py::object self) {
        PN& p = self.cast<PN&>();
        return p.view(p.net.params(), 0, {p.net.num_params()}, self);
      })
      .def_property_readonly("grads", [](py::object self) {
        PN& p = self.cast<PN&>();
        return p.view(p.net.grads(), 0, {p.net.num_params()}, self);
      })
      .def_property_readonly("state", [](py::object self) {
        PN& p = self.cast<PN&>();
        return p.view(p.net.state(), 0, {p.net.num_state()}, self);
      })
      .def_property("training", [](PN& self) { return self.net.training; },
                    [](PN& self, bool v) { self.net.training = v; })
      .def_property("momentum", [](PN& self) { return self.net.momentum; },
                    [](PN& self, double v) {
                      if (!(v >= 0.0 && v <= 1.0)) throw py::value_error("momentum must be in [0, 1]");
                      self.net.momentum = v;
                    })
      .def("gamma_offset", [](PN& self, int64_t l) { return self.net.gamma_offset(l); })
      .def("beta_offset", [](PN& self, int64_t l) { return self.net.beta_offset(l); })
      .def("state_offset", [](PN& self, int64_t l) { return self.net.state_offset(l); })
      .def("weight_offset", [](PN& self, int64_t l) { return self.net.weight_offset(l); })
      .def("bias_offset", [](PN& self, int64_t l) { return self.net.bias_offset(l); })
      .def("run", &PN::run, py::arg("x"), py::arg("t"), py::arg("check_finite") = true)
      .def("buffers", &PN::buffers, py::arg("which"))
      .def("jacobian", &PN::jacobian, py::arg("x"), py::arg("check_finite") = true)
      .def("train", &PN::train, py::arg("X"), py::arg("T"), py::arg("idx"), py::arg("optimizer"), py::arg("lr"),
           py::arg("momentum"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
           py::arg("record_every"), py::arg("m1"), py::arg("m2"), py::arg("t0"), py::arg("total"));
}

// ---------------------------------------------------------------- ensemble

template <class T>
struct PyEnsemble {
  Ensemble<T> ens;
  PyEnsemble(std::vector<LayerSpec> specs, int64_t E) : ens(std::move(specs), E) {}

  py::tuple run(const py::array& x, const py::array& t, bool check_finite) {
    const char* fn = "Ensemble.run";
    const int64_t E = ens.members(), n0 = ens.layer(1).in, nL = ens.layer(ens.depth()).out;
    const bool xpm = x.ndim() == 3, tpm = t.ndim() == 3;
    const T* xp = data<T>(x, fn, "x", xpm ? Shape{-1, n0, E} : Shape{-1, n0});
    const int64_t B = x.shape(0);
    const T* tp = data<T>(t, fn, "t", tpm ? Shape{B, nL, E} : Shape{B, nL});
    if (B == 0) throw py::value_error("x has no rows; the loss of an empty batch is undefined");
    if (check_finite) {
      if (count_nonfinite(xp, x.size())) throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
      if (count_nonfinite(tp, t.size())) throw py::value_error("t contains NaN or Inf (pass check_finite=False to allow)");
    }
    std::unique_lock<std::mutex> lock(ens.mutex(), std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error("Ensemble.run: this ensemble is running in another thread");
    auto stats = alloc<double>({E, ens.depth(), ST_COUNT});
    auto grad_x = alloc<double>({E});
    auto loss = alloc<double>({E});
    double *sp = stats.mutable_data(), *gp = grad_x.mutable_data(), *lp = loss.mutable_data();
    {
      py::gil_scoped_release nogil;
      ens.run(xp, xpm, tp, tpm, B, sp, gp, lp, num_threads());
    }
    return py::make_tuple(std::move(loss), std::move(stats), std::move(grad_x));
  }
};

template <class T>
void bind_ensemble(py::module_& m, const char* name) {
  using PE = PyEnsemble<T>;
  py::class_<PE>(m, name)
      .def(py::init([](const std::vector<int64_t>& widths, const std::vector<int>& acts,
                       const std::vector<double>& alphas, const std::vector<int64_t>& skip,
                       const std::vector<double>& scale, int64_t members) {
             if (widths.size() < 2) throw py::value_error("Ensemble: widths needs at least 2 entries");
             const size_t L = widths.size() - 1;
             if (acts.size() != L || alphas.size() != L || skip.size() != L || scale.size() != L)
               throw py::value_error("Ensemble: expected " + std::to_string(L) + " entries per layer");
             if (members < 1) throw py::value_error("Ensemble: members must be >= 1, got " + std::to_string(members));
             std::vector<LayerSpec> specs(L);
             for (size_t l = 0; l < L; ++l) {
               if (widths[l] < 1 || widths[l + 1] < 1) throw py::value_error("Ensemble: widths must be >= 1");
               if (skip[l] >= 0 && (skip[l] > int64_t(l) || widths[size_t(skip[l])] != widths[l + 1]))
                 throw py::value_error("Ensemble: layer " + std::to_string(l + 1) + ": invalid residual source");
               specs[l] = {widths[l], widths[l + 1], act_code(acts[l]), alphas[l], false, 1e-5, skip[l], scale[l]};
             }
             return new PE(std::move(specs), members);
           }),
           py::arg("widths"), py::arg("activations"), py::arg("alphas"), py::arg("skip"), py::arg("scale"),
           py::arg("members"))
      .def_property_readonly("members", [](PE& self) { return self.ens.members(); })
      .def_property("tile", [](PE& self) { return self.ens.tile_; },
                    [](PE& self, int64_t v) { self.ens.tile_ = v; })
      .def_property_readonly("params", [](py::object self) {
        PE& p = self.cast<PE&>();
        return py::array_t<T>(std::vector<py::ssize_t>{py::ssize_t(p.ens.num_params())}, p.ens.params(), self);
      })
      .def("weight_offset", [](PE& self, int64_t l) { return self.ens.weight_offset(l); })
      .def("bias_offset", [](PE& self, int64_t l) { return self.ens.bias_offset(l); })
      .def("run", &PE::run, py::arg("x"), py::arg("t"), py::arg("check_finite") = true);
}

// One overload set per function: dispatch on the first array's dtype.
#define PV_DISPATCH(first, fn, name, call) \
  (is_f64(first, fn, name) ? call<double> : call<float>)

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyvanish's compiled core (private; use pyvanish.kernels and friends).";
#ifdef PYVANISH_VERSION
  m.attr("__version__") = PYVANISH_VERSION;
#endif
  std::vector<std::string> names;
  for (int a = 0; a < ACT_COUNT; ++a) names.emplace_back(activation_name(a));
  m.attr("ACTIVATIONS") = py::tuple(py::cast(names));

  m.def("activation_forward", [](int act, double alpha, const py::array& inp) {
    return PV_DISPATCH(inp, "activation_forward", "inp", act_forward)(act_code(act), alpha, inp);
  }, py::arg("act"), py::arg("alpha"), py::arg("inp"));
  m.def("activation_backward", [](int act, double alpha, const py::array& dout, const py::array& inp, const py::array& out) {
    return PV_DISPATCH(dout, "activation_backward", "dout", act_backward)(act_code(act), alpha, dout, inp, out);
  }, py::arg("act"), py::arg("alpha"), py::arg("dout"), py::arg("inp"), py::arg("out"));
  m.def("activation_derivative", [](int act, double alpha, const py::array& inp, const py::array& out) {
    return PV_DISPATCH(inp, "activation_derivative", "inp", act_derivative)(act_code(act), alpha, inp, out);
  }, py::arg("act"), py::arg("alpha"), py::arg("inp"), py::arg("out"));

  m.def("dense_forward", [](const py::array& inp, const py::array& weight, const std::optional<py::array>& bias) {
    return PV_DISPATCH(inp, "dense_forward", "inp", dense_fwd)(inp, weight, bias);
  }, py::arg("inp"), py::arg("weight"), py::arg("bias") = py::none());
  m.def("dense_backward", [](const py::array& dout, const py::array& inp, const py::array& weight) {
    return PV_DISPATCH(inp, "dense_backward", "inp", dense_bwd)(dout, inp, weight);
  }, py::arg("dout"), py::arg("inp"), py::arg("weight"));
  m.def("dense_act_forward", [](const py::array& inp, const py::array& weight, const std::optional<py::array>& bias, int act, double alpha) {
    return PV_DISPATCH(inp, "dense_act_forward", "inp", dense_act_fwd)(inp, weight, bias, act_code(act), alpha);
  }, py::arg("inp"), py::arg("weight"), py::arg("bias"), py::arg("act"), py::arg("alpha"));
  m.def("dense_act_backward", [](const py::array& dout, const py::array& inp, const py::array& weight, const py::array& z, const py::array& a, int act, double alpha) {
    return PV_DISPATCH(inp, "dense_act_backward", "inp", dense_act_bwd)(dout, inp, weight, z, a, act_code(act), alpha);
  }, py::arg("dout"), py::arg("inp"), py::arg("weight"), py::arg("z"), py::arg("a"), py::arg("act"), py::arg("alpha"));

  m.def("mse_forward", [](const py::array& pred, const py::array& target) {
    return PV_DISPATCH(pred, "mse_forward", "pred", mse_fwd)(pred, target);
  }, py::arg("pred"), py::arg("target"));
  m.def("mse_backward", [](const py::array& pred, const py::array& target) {
    return PV_DISPATCH(pred, "mse_backward", "pred", mse_bwd)(pred, target);
  }, py::arg("pred"), py::arg("target"));

  m.def("batchnorm_forward", [](const py::array& inp, const py::array& gamma, const py::array& beta, double eps) {
    return PV_DISPATCH(inp, "batchnorm_forward", "inp", bn_fwd)(inp, gamma, beta, eps);
  }, py::arg("inp"), py::arg("gamma"), py::arg("beta"), py::arg("eps"));
  m.def("batchnorm_backward", [](const py::array& dout, const py::array& xhat, const py::array& gamma, const py::array& rstd) {
    return PV_DISPATCH(dout, "batchnorm_backward", "dout", bn_bwd)(dout, xhat, gamma, rstd);
  }, py::arg("dout"), py::arg("xhat"), py::arg("gamma"), py::arg("rstd"));
  m.def("residual_forward", [](const py::array& skip, const py::array& inp, double scale) {
    return PV_DISPATCH(skip, "residual_forward", "skip", res_fwd)(skip, inp, scale);
  }, py::arg("skip"), py::arg("inp"), py::arg("scale"));
  m.def("residual_backward", [](const py::array& dout, double scale) {
    return PV_DISPATCH(dout, "residual_backward", "dout", res_bwd)(dout, scale);
  }, py::arg("dout"), py::arg("scale"));

  m.def("gemm", [](const py::array& a, const py::array& b, bool trans_a, bool trans_b) {
    return PV_DISPATCH(a, "gemm", "a", gemm_)(a, b, trans_a, trans_b);
  }, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false);

  m.def("gemm_path", [] { return std::string(gemm_path_name(gemm_path())); },
        "The GEMM micro-kernel in use: 'generic', 'avx2' or 'avx512'.");
  m.def("gemm_best_path", [] { return std::string(gemm_path_name(gemm_best_path())); });
  m.def("set_gemm_path", [](const std::string& name) {
    for (int p = GEMM_AUTO; p <= GEMM_AVX512; ++p)
      if (name == gemm_path_name(p)) {
        if (!gemm_set_path(p))
          throw py::value_error("set_gemm_path: this CPU cannot run the '" + name + "' path");
        return std::string(gemm_path_name(gemm_path()));
      }
    throw py::value_error("set_gemm_path: path must be 'auto', 'generic', 'avx2' or 'avx512', got '" + name + "'");
  }, py::arg("path"));
  std::vector<std::string> stats;
  for (int i = 0; i < ST_COUNT; ++i) stats.emplace_back(stat_name(i));
  m.attr("STAT_NAMES") = py::tuple(py::cast(stats));
  m.def("max_derivative", &max_derivative, py::arg("act"), py::arg("alpha"));
  bind_network<float>(m, "Network32");
  bind_network<double>(m, "Network64");
  bind_ensemble<float>(m, "Ensemble32");
  bind_ensemble<double>(m, "Ensemble64");
  m.def("log10_summary", [](const py::array& v) {
    const char* fn = "log10_summary";
    const double* vp = data<double>(v, fn, "v", {-1, -1});
    const int64_t E = v.shape(0), C = v.shape(1);
    if (E == 0) throw py::value_error("log10_summary: v has no rows");
    auto out = alloc<double>({C, 5});
    double* op = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      log10_summary(vp, E, C, op, num_threads());
    }
    return out;
  }, py::arg("v"), "Per column: mean, std (of finite log10), q05, q50, q95 of log10 v.");
  m.def("num_threads", &num_threads, "Threads the parallel kernels use.");
  m.def("set_num_threads", [](int n) { set_num_threads(n); }, py::arg("n"),
        "Set the threads the parallel kernels use (n <= 0: the default, OMP_NUM_THREADS or all cores).");

  m.def("subnormals_flushed", &subnormals_flushed,
        "True if the FPU flushes subnormals to zero (FTZ/DAZ) on this thread.");
}
