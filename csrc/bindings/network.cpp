// Network32 / Network64: the single-network engine.
#include "bindings/network.hpp"

#include <algorithm>
#include <cmath>

#include "engine/stats.hpp"
#include "pyvanish_capi.h"

namespace pyvanish {
namespace bindings {
namespace {

template <class T>
struct NetworkMethods {
  using PN = PyNetwork<T>;

  static py::array view(T* base, int64_t n, py::handle owner) {
    return py::array_t<T>(std::vector<py::ssize_t>{py::ssize_t(n)}, base, owner);
  }

  // Copies of per-layer buffers l = first..L of the last run (caller holds the lock).
  static py::list layers(const Network<T>& net, const std::string& which) {
    const int64_t B = net.batch(), L = net.depth();
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
      out.append(copy_of(src, B, n));
    }
    return out;
  }

  // x (B, n_0), t (B, n_L) -> the fields of a GradientReport as a dict: batch, loss,
  // grad_x, stats (L, ST_COUNT), grad_h (L + 1: grad_x then each layer's), signal_ratio,
  // weight_ratio, verdict (its name) and grads (None, or with grads=True a dict of copies).
  // The arrays are read-only. Errors carry no function prefix (Python adds its own).
  // loss_kind < 0: the network's own loss; LOSS_GIVEN: t is dL/dy.
  static py::dict run(PN& self, const py::array& x, const py::array& t, bool check_finite, bool grads,
                      int loss_kind) {
    if (loss_kind >= LOSS_COUNT) throw py::value_error("loss_kind must be < " + std::to_string(LOSS_COUNT));
    Network<T>& net = self.net;
    const int64_t L = net.depth(), n0 = net.layer(1).in, nL = net.layer(L).out;
    const T* xp = data<T>(x, nullptr, "x", {-1, n0});
    const int64_t B = x.shape(0);
    const T* tp = data<T>(t, nullptr, "t", {B, nL});
    if (B == 0) throw py::value_error("x has no rows; the loss of an empty batch is undefined");
    self.check_batch(B, "");
    if (check_finite) {
      if (!flat_all_finite(xp, B * n0)) throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
      if (!flat_all_finite(tp, B * nL)) throw py::value_error("t contains NaN or Inf (pass check_finite=False to allow)");
    }
    auto lock = self.lock(nullptr);
    auto stats = alloc<double>({L, ST_COUNT});
    auto grad_h = alloc<double>({L + 1});
    double* sp = stats.mutable_data();
    double grad_x = 0.0, loss = 0.0;
    Summary sum;
    {
      int64_t work = 0;
      for (int64_t l = 1; l <= L; ++l) work += B * net.layer(l).in * net.layer(l).out;
      MaybeRelease r(work);
      loss = net.run(xp, tp, B, sp, &grad_x, &sum, loss_kind);
    }
    double* gh = grad_h.mutable_data();
    gh[0] = grad_x;
    for (int64_t l = 1; l <= L; ++l) gh[l] = sp[(l - 1) * ST_COUNT + ST_GRAD_H];
    read_only(stats);
    read_only(grad_h);
    py::dict out;
    auto put = [&out](py::handle key, py::object value) { PyDict_SetItem(out.ptr(), key.ptr(), value.ptr()); };
    put(PV_KEY("batch"), py::int_(B));
    put(PV_KEY("loss"), py::float_(loss));
    put(PV_KEY("grad_x"), py::float_(grad_x));
    put(PV_KEY("stats"), std::move(stats));
    put(PV_KEY("grad_h"), std::move(grad_h));
    put(PV_KEY("signal_ratio"), py::float_(sum.signal_ratio));
    put(PV_KEY("weight_ratio"), py::float_(sum.weight_ratio));
    put(PV_KEY("verdict"), py::reinterpret_borrow<py::object>(verdict_str(sum.verdict)));
    if (!grads) {
      put(PV_KEY("grads"), py::none());
      return out;
    }
    py::dict g;
    auto pg = alloc<T>({net.num_params()});
    std::copy(net.grads(), net.grads() + net.num_params(), pg.mutable_data());
    g["params_grad"] = std::move(pg);
    g["dh"] = layers(net, "dh");
    g["dz"] = layers(net, "dz");
    g["du"] = layers(net, "du");
    g["h"] = layers(net, "h");
    g["z"] = layers(net, "z");
    put(PV_KEY("grads"), std::move(g));
    return out;
  }

  // The verdict's name as an interned str, made once per verdict.
  static py::handle verdict_str(int v) {
    static PyObject* names[VERDICT_COUNT + 1] = {};
    const int i = (v >= 0 && v < VERDICT_COUNT) ? v : VERDICT_COUNT;
    if (!names[i]) names[i] = PyUnicode_InternFromString(verdict_name(v));
    return names[i];
  }

  // The forward pass alone: [h_1 .. h_L] (copies). Errors carry no prefix.
  static py::list forward(PN& self, const py::array& x, bool check_finite) {
    Network<T>& net = self.net;
    const int64_t n0 = net.layer(1).in;
    const T* xp = data<T>(x, nullptr, "x", {-1, n0});
    const int64_t B = x.shape(0);
    self.check_batch(B, "");
    if (check_finite && !flat_all_finite(xp, B * n0))
      throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
    auto lock = self.lock(nullptr);
    if (B == 0) {  // nothing to run (batch norm must not see an empty batch)
      py::list out;
      for (int64_t l = 1; l <= net.depth(); ++l) out.append(alloc<T>({0, net.layer(l).out}));
      return out;
    }
    {
      int64_t work = 0;
      for (int64_t l = 1; l <= net.depth(); ++l) work += B * net.layer(l).in * net.layer(l).out;
      MaybeRelease r(work);
      net.forward(xp, B);
    }
    return layers(net, "h");
  }

  static py::array jacobian(PN& self, const py::array& x, bool check_finite) {
    Network<T>& net = self.net;
    const char* fn = "Network.jacobian";
    const int64_t n0 = net.layer(1).in, nL = net.layer(net.depth()).out;
    const T* xp = data<T>(x, fn, "x", {-1, n0});
    const int64_t B = x.shape(0);
    if (check_finite && !flat_all_finite(xp, B * n0))
      throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
    if (net.training)
      for (int64_t l = 1; l <= net.depth(); ++l)
        if (net.layer(l).batchnorm)
          throw py::value_error("the per-sample Jacobian of a batch-norm network needs evaluation mode "
                                "(training-mode batch statistics couple the samples): set training = False");
    auto lock = self.lock(nullptr);
    auto J = alloc<T>({B, nL, n0});
    if (B == 0) return std::move(J);
    T* jp = J.mutable_data();
    {
      py::gil_scoped_release nogil;
      net.jacobian(xp, B, jp);
    }
    return std::move(J);
  }

  // Copies of one per-layer buffer of the last run: "z", "u", "a", "h", "dh" (l = 0..L), "du", "dz".
  static py::list buffers(PN& self, const std::string& which) {
    auto lock = self.lock(nullptr);
    if (self.net.batch() < 0) throw py::value_error("Network.buffers: the network has not been run yet");
    return layers(self.net, which);
  }

  // Copies values (1-d, C-contiguous, of T) into the parameters at offset,
  // under the network's lock: a write never lands in the middle of a run.
  static void assign(PN& self, int64_t offset, const py::array& values) {
    const T* v = data<T>(values, nullptr, "values", {-1});
    const int64_t n = values.shape(0);
    if (offset < 0 || n > self.net.num_params() || offset > self.net.num_params() - n)
      throw py::value_error("values of " + std::to_string(n) + " at offset " + std::to_string(offset) +
                            " do not fit in " + std::to_string(self.net.num_params()) + " parameters");
    auto lock = self.lock(nullptr);
    std::copy(v, v + n, self.net.params() + offset);
  }

  // The spec comes validated from Python: only consistency is checked here
  // (a mismatch is a bug in pyvanish, reported, never a crash), and the
  // memory the parameters need.
  static PN* make(const std::vector<int64_t>& widths, const std::vector<int>& acts, const std::vector<double>& alphas,
                  std::vector<bool> batchnorm, std::vector<double> eps, std::vector<int64_t> skip,
                  std::vector<double> scale, std::vector<bool> layernorm, std::vector<bool> prenorm, double ln_eps,
                  int loss) {
    auto internal = [](const std::string& what) { return py::value_error("Network: internal error: " + what); };
    if (widths.size() < 2) throw internal("widths needs at least 2 entries");
    const size_t L = widths.size() - 1;
    if (batchnorm.empty()) batchnorm.assign(L, false);
    if (eps.empty()) eps.assign(L, 1e-5);
    if (skip.empty()) skip.assign(L, -1);
    if (scale.empty()) scale.assign(L, 1.0);
    if (layernorm.empty()) layernorm.assign(L, false);
    if (prenorm.empty()) prenorm.assign(L, false);
    if (acts.size() != L || alphas.size() != L || batchnorm.size() != L || eps.size() != L ||
        skip.size() != L || scale.size() != L || layernorm.size() != L || prenorm.size() != L)
      throw internal("expected " + std::to_string(L) + " entries per layer");
    if (loss < 0 || loss >= LOSS_GIVEN) throw internal("unknown loss " + std::to_string(loss));
    std::vector<LayerSpec> specs(L);
    for (size_t l = 0; l < L; ++l) {
      if (widths[l] < 1 || widths[l + 1] < 1) throw internal("widths must be >= 1");
      if (skip[l] >= 0 && (skip[l] > int64_t(l) || widths[size_t(skip[l])] != widths[l + 1]))
        throw internal("layer " + std::to_string(l + 1) + " has an invalid residual source");
      if (batchnorm[l] && layernorm[l]) throw internal("a layer cannot have both batch norm and layer norm");
      specs[l] = {widths[l], widths[l + 1], act_code(acts[l]), alphas[l], bool(batchnorm[l]),
                  layernorm[l] ? ln_eps : eps[l], skip[l], scale[l], bool(layernorm[l]), bool(prenorm[l]), ln_eps};
    }
    // W_l, b_l [, gamma_l, beta_l] per layer, overflow-checked
    std::optional<int64_t> total = 0;
    for (size_t l = 0; l < L && total; ++l) {
      const auto w = mul(widths[l + 1], widths[l]);
      const auto extra = mul(widths[l + 1], batchnorm[l] || layernorm[l] ? 3 : 1);
      const auto pre = mul(widths[l], prenorm[l] ? 2 : 0);
      const auto c = w && extra && pre ? add(*w, *extra) : std::nullopt;
      const auto c2 = c ? add(*c, *pre) : std::nullopt;
      total = c2 ? add(*total, *c2) : std::nullopt;
    }
    check_memory("Network", total, int64_t(sizeof(T)), 2, "parameters and their gradients");
    auto* p = new PN(std::move(specs));
    p->net.loss = loss;
    return p;
  }
};

template <class T>
void bind(py::module_& m, const char* name) {
  using PN = PyNetwork<T>;
  using M = NetworkMethods<T>;
  py::class_<PN> cls(m, name);
  cls.def(py::init(&M::make), py::arg("widths"), py::arg("activations"), py::arg("alphas"),
          py::arg("batchnorm") = std::vector<bool>{}, py::arg("eps") = std::vector<double>{},
          py::arg("skip") = std::vector<int64_t>{}, py::arg("scale") = std::vector<double>{},
          py::arg("layernorm") = std::vector<bool>{}, py::arg("prenorm") = std::vector<bool>{},
          py::arg("ln_eps") = 1e-5, py::arg("loss") = int(LOSS_MSE))
      .def_property_readonly("depth", [](PN& self) { return self.net.depth(); })
      .def_property_readonly("loss", [](PN& self) { return self.net.loss; })
      .def_property_readonly("params", [](py::object self) {
        PN& p = self.cast<PN&>();
        return M::view(p.net.params(), p.net.num_params(), self);
      })
      .def_property_readonly("grads", [](py::object self) {
        PN& p = self.cast<PN&>();
        return M::view(p.net.grads(), p.net.num_params(), self);
      })
      .def_property_readonly("state", [](py::object self) {
        PN& p = self.cast<PN&>();
        return M::view(p.net.state(), p.net.num_state(), self);
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
      .def("pre_gamma_offset", [](PN& self, int64_t l) { return self.net.pre_gamma_offset(l); })
      .def("pre_beta_offset", [](PN& self, int64_t l) { return self.net.pre_beta_offset(l); })
      .def("state_offset", [](PN& self, int64_t l) { return self.net.state_offset(l); })
      .def("weight_offset", [](PN& self, int64_t l) { return self.net.weight_offset(l); })
      .def("bias_offset", [](PN& self, int64_t l) { return self.net.bias_offset(l); })
      .def("run", &M::run, py::arg("x"), py::arg("t"), py::arg("check_finite") = true, py::arg("grads") = false,
           py::arg("loss_kind") = -1)
      .def("forward", &M::forward, py::arg("x"), py::arg("check_finite") = true)
      .def("buffers", &M::buffers, py::arg("which"))
      .def("jacobian", &M::jacobian, py::arg("x"), py::arg("check_finite") = true)
      .def("assign", &M::assign, py::arg("offset"), py::arg("values"))
      // The engine pointer for the C API (pyvanish_capi.h: network_run_d/_f); not owning.
      .def("_capsule", [](PN& self) {
        return py::capsule(static_cast<void*>(&self.net),
                           sizeof(T) == 8 ? PYVANISH_NETWORK64_CAPSULE : PYVANISH_NETWORK32_CAPSULE);
      });
  bind_network_train<T>(cls);
}

}  // namespace

void bind_network(py::module_& m) {
  bind<float>(m, "Network32");
  bind<double>(m, "Network64");
}

}  // namespace bindings
}  // namespace pyvanish
