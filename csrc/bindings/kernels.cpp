// The layer kernels: activations, dense, MSE, batch norm, residual, GEMM.
#include <algorithm>
#include <cmath>
#include <optional>

#include "bindings/common.hpp"
#include "kernels/activations.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/blas.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kernels.hpp"
#include "kernels/losses.hpp"

namespace pyvanish {
namespace bindings {
namespace {

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

// (loss, dL/dpred) of any loss (kernels/losses.hpp; kind LOSS_GIVEN is not a loss).
template <class T>
py::tuple loss_(const py::array& pred, const py::array& target, int kind) {
  const char* fn = "loss_forward_backward";  // pyvanish.kernels' name for it
  const T* p = data<T>(pred, fn, "pred", {-1, -1});
  const int64_t B = pred.shape(0), N = pred.shape(1);
  const T* t = data<T>(target, fn, "target", {B, N});
  if (kind < 0 || kind >= LOSS_GIVEN)
    throw py::value_error("loss_forward_backward: unknown loss code " + std::to_string(kind));
  if (B == 0)
    throw py::value_error("loss_forward_backward: pred has no rows; the mean over an empty batch is undefined");
  auto d = alloc<T>({B, N});
  T* dp = d.mutable_data();
  double value = 0.0;
  {
    MaybeRelease r(B * N);
    value = loss_batch<T>(kind, dp, p, t, B, N);
  }
  return py::make_tuple(value, std::move(d));
}

// ---------------------------------------------------------------- batch norm, layer norm, residual

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
py::tuple ln_fwd(const py::array& inp, const py::array& gamma, const py::array& beta, double eps) {
  const char* fn = "layernorm_forward";
  const T* x = data<T>(inp, fn, "inp", {-1, -1});
  const int64_t B = inp.shape(0), C = inp.shape(1);
  const T* g = data<T>(gamma, fn, "gamma", {C});
  const T* b = data<T>(beta, fn, "beta", {C});
  if (!(eps > 0.0) || !std::isfinite(eps)) throw py::value_error("layernorm_forward: eps must be positive and finite");
  if (C == 0) throw py::value_error("layernorm_forward: inp has no columns (the mean over no features is undefined)");
  auto out = alloc<T>({B, C}), xhat = alloc<T>({B, C});
  auto rstd = alloc<T>({B});
  T *o = out.mutable_data(), *xh = xhat.mutable_data(), *r = rstd.mutable_data();
  {
    MaybeRelease rel(B * C);
    layernorm_forward<T>(o, xh, r, x, g, b, B, C, eps);
  }
  return py::make_tuple(out, xhat, rstd);
}

template <class T>
py::tuple ln_bwd(const py::array& dout, const py::array& xhat, const py::array& gamma, const py::array& rstd) {
  const char* fn = "layernorm_backward";
  const T* g = data<T>(dout, fn, "dout", {-1, -1});
  const int64_t B = dout.shape(0), C = dout.shape(1);
  const T* xh = data<T>(xhat, fn, "xhat", {B, C});
  const T* ga = data<T>(gamma, fn, "gamma", {C});
  const T* r = data<T>(rstd, fn, "rstd", {B});
  if (C == 0) throw py::value_error("layernorm_backward: dout has no columns");
  auto dinp = alloc<T>({B, C}), dgamma = alloc<T>({C}), dbeta = alloc<T>({C});
  T *di = dinp.mutable_data(), *dg = dgamma.mutable_data(), *db = dbeta.mutable_data();
  {
    MaybeRelease rel(B * C);
    layernorm_backward<T>(di, dg, db, g, xh, ga, r, B, C);
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

// Backend: 0 gemm() (the dispatching entry point), 1 in-house only, 2 OpenBLAS only.
template <class T, int Backend = 0>
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
    if (Backend == 1 ||
        (Backend == 2 && !blas_gemm<T>(ta, tb, M, N, K, T(1), ap, a.shape(1), bp, b.shape(1), T(0), cp, N)))
      gemm_inhouse<T>(ta, tb, M, N, K, T(1), ap, a.shape(1), bp, b.shape(1), T(0), cp, N);
    else if (Backend == 0)
      gemm<T>(ta, tb, M, N, K, T(1), ap, a.shape(1), bp, b.shape(1), T(0), cp, N);
  }
  return std::move(c);
}

template <class T>
py::array gemm_inhouse_(const py::array& a, const py::array& b, bool ta, bool tb) {
  return gemm_<T, 1>(a, b, ta, tb);
}
template <class T>
py::array gemm_blas_(const py::array& a, const py::array& b, bool ta, bool tb) {
  return gemm_<T, 2>(a, b, ta, tb);
}

}  // namespace

void bind_kernels(py::module_& m) {
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

  m.def("loss", [](const py::array& pred, const py::array& target, int kind) {
    return PV_DISPATCH(pred, "loss_forward_backward", "pred", loss_)(pred, target, kind);
  }, py::arg("pred"), py::arg("target"), py::arg("kind"));

  m.def("layernorm_forward", [](const py::array& inp, const py::array& gamma, const py::array& beta, double eps) {
    return PV_DISPATCH(inp, "layernorm_forward", "inp", ln_fwd)(inp, gamma, beta, eps);
  }, py::arg("inp"), py::arg("gamma"), py::arg("beta"), py::arg("eps"));
  m.def("layernorm_backward", [](const py::array& dout, const py::array& xhat, const py::array& gamma, const py::array& rstd) {
    return PV_DISPATCH(dout, "layernorm_backward", "dout", ln_bwd)(dout, xhat, gamma, rstd);
  }, py::arg("dout"), py::arg("xhat"), py::arg("gamma"), py::arg("rstd"));
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
  // One side whatever the size: for tests and the crossover benchmark.
  m.def("_gemm_inhouse", [](const py::array& a, const py::array& b, bool trans_a, bool trans_b) {
    return PV_DISPATCH(a, "gemm", "a", gemm_inhouse_)(a, b, trans_a, trans_b);
  }, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false);
  m.def("_gemm_blas", [](const py::array& a, const py::array& b, bool trans_a, bool trans_b) {
    return PV_DISPATCH(a, "gemm", "a", gemm_blas_)(a, b, trans_a, trans_b);
  }, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false);
  m.def("_gemm_uses_blas", &gemm_uses_blas, py::arg("M"), py::arg("N"), py::arg("K"));
}

}  // namespace bindings
}  // namespace pyvanish
