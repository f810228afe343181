// Ensemble32 / Ensemble64: E networks of one architecture in one call.
#include <algorithm>
#include <mutex>
#include <array>
#include <tuple>
#include <string>
#include <vector>

#include "bindings/common.hpp"
#include "engine/ensemble.hpp"
#include "engine/stats.hpp"
#include "engine/threads.hpp"
#include "kernels/philox.hpp"
#include "pyvanish_capi.h"

namespace pyvanish {
namespace bindings {
namespace {

template <class T>
struct PyEnsemble {
  Ensemble<T> ens;
  PyEnsemble(std::vector<LayerSpec> specs, int64_t E, std::vector<GenSpec> gen, uint64_t seed)
      : ens(std::move(specs), E, std::move(gen), seed) {}

  // x (B, n_0) or (B, n_0, E), t likewise -> (loss (E), stats (E, L, ST_COUNT),
  // grad_x (E), verdict_codes (E, int8), moments (3, L + 1, 2): mean and std of
  // log10 |dL/dh_l|, |dL/dW_l|, |dL/db_l| over the members).
  py::tuple run(const py::array& x, const py::array& t, bool check_finite) {
    const char* fn = "Ensemble.run";
    const int64_t E = ens.members(), n0 = ens.layer(1).in, nL = ens.layer(ens.depth()).out;
    const bool xpm = x.ndim() == 3, tpm = t.ndim() == 3;
    const T* xp = data<T>(x, fn, "x", xpm ? Shape{-1, n0, E} : Shape{-1, n0});
    const int64_t B = x.shape(0);
    const T* tp = data<T>(t, fn, "t", tpm ? Shape{B, nL, E} : Shape{B, nL});
    if (B == 0) throw py::value_error("x has no rows; the loss of an empty batch is undefined");
    if (check_finite) {
      if (!flat_all_finite(xp, x.size())) throw py::value_error("x contains NaN or Inf (pass check_finite=False to allow)");
      if (!flat_all_finite(tp, t.size())) throw py::value_error("t contains NaN or Inf (pass check_finite=False to allow)");
    }
    // the workspace: one tile per thread, whatever the member count (refused up front)
    const int threads = num_threads();
    check_memory("Ensemble.run", ens.workspace_bytes(B), 1, std::min<int64_t>(threads, (E + 15) / 16),
                 ("workspace for a batch of " + std::to_string(B) + " (one tile of members per thread; a smaller "
                  "batch, fewer threads or a smaller tile needs less)").c_str());
    std::unique_lock<std::mutex> lock(ens.mutex(), std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error("Ensemble.run: this ensemble is running in another thread");
    // (ST_COUNT, L, E), members innermost (the engine writes each layer's statistics in
    // place), returned as the (E, L, ST_COUNT) view
    const int64_t L = ens.depth();
    auto columns = alloc<double>({ST_COUNT, L, E});
    const py::ssize_t d = sizeof(double);
    py::array_t<double> stats({py::ssize_t(E), py::ssize_t(L), py::ssize_t(ST_COUNT)},
                              {d, py::ssize_t(E) * d, py::ssize_t(L * E) * d}, columns.data(), columns);
    auto grad_x = alloc<double>({E});
    auto loss = alloc<double>({E});
    auto codes = alloc<int8_t>({E});
    auto moments = alloc<double>({kMomentColumns, ens.depth() + 1, 2});
    double *sp = columns.mutable_data(), *gp = grad_x.mutable_data(), *lp = loss.mutable_data();
    int8_t* cp = codes.mutable_data();
    {
      py::gil_scoped_release nogil;
      ens.run(xp, xpm, tp, tpm, B, sp, StatsLayout::columns(E, L), gp, lp, threads, cp, moments.mutable_data());
    }
    return py::make_tuple(std::move(loss), std::move(stats), std::move(grad_x), std::move(codes),
                          std::move(moments));
  }

  // The spec comes validated from Python: only consistency is checked here,
  // and the memory the parameters need.
  static PyEnsemble* make(const std::vector<int64_t>& widths, const std::vector<int>& acts,
                          const std::vector<double>& alphas, const std::vector<int64_t>& skip,
                          const std::vector<double>& scale, int64_t members, int loss, std::vector<bool> layernorm,
                          std::vector<bool> prenorm, double ln_eps,
                          const std::vector<std::tuple<int, double, int, double>>& draw, uint64_t seed) {
    auto internal = [](const std::string& what) { return py::value_error("Ensemble: internal error: " + what); };
    if (widths.size() < 2) throw internal("widths needs at least 2 entries");
    const size_t L = widths.size() - 1;
    if (layernorm.empty()) layernorm.assign(L, false);
    if (prenorm.empty()) prenorm.assign(L, false);
    if (acts.size() != L || alphas.size() != L || skip.size() != L || scale.size() != L || layernorm.size() != L ||
        prenorm.size() != L)
      throw internal("expected " + std::to_string(L) + " entries per layer");
    if (members < 1) throw internal("members must be >= 1");
    if (loss < 0 || loss >= LOSS_GIVEN) throw internal("unknown loss " + std::to_string(loss));
    if (!draw.empty() && draw.size() != L) throw internal("draw needs one entry per layer");
    std::vector<GenSpec> gen;
    for (const auto& d : draw) {
      GenSpec g{std::get<0>(d), std::get<1>(d), std::get<2>(d), std::get<3>(d)};
      if (g.wdist < 0 || g.wdist > 2 || g.bdist < 0 || g.bdist > 2) throw internal("unknown distribution");
      gen.push_back(g);
    }
    std::vector<LayerSpec> specs(L);
    std::optional<int64_t> total = 0;  // (W_l, b_l) per layer and member, overflow-checked
    for (size_t l = 0; l < L; ++l) {
      if (widths[l] < 1 || widths[l + 1] < 1) throw internal("widths must be >= 1");
      if (skip[l] >= 0 && (skip[l] > int64_t(l) || widths[size_t(skip[l])] != widths[l + 1]))
        throw internal("layer " + std::to_string(l + 1) + " has an invalid residual source");
      specs[l] = {widths[l],     widths[l + 1], act_code(acts[l]), alphas[l],        false, ln_eps,
                  skip[l],       scale[l],      bool(layernorm[l]), bool(prenorm[l]), ln_eps};
      // W_l, b_l [, gamma_l, beta_l] [, gamma'_l, beta'_l]
      const auto w = mul(widths[l + 1], widths[l]);
      const auto c0 = w ? add(*w, widths[l + 1] * (layernorm[l] ? 3 : 1)) : std::nullopt;
      const auto c = c0 ? add(*c0, prenorm[l] ? 2 * widths[l] : 0) : std::nullopt;
      const auto cm = c ? mul(*c, members) : std::nullopt;
      total = total && cm ? add(*total, *cm) : std::nullopt;
    }
    if (gen.empty())  // drawn members store nothing
      check_memory("Ensemble", total, int64_t(sizeof(T)), 1, "parameters (gradients are kept per tile)");
    auto* p = new PyEnsemble(std::move(specs), members, std::move(gen), seed);
    p->ens.loss = loss;
    return p;
  }
};

template <class T>
void bind(py::module_& m, const char* name) {
  using PE = PyEnsemble<T>;
  py::class_<PE>(m, name)
      .def(py::init(&PE::make), py::arg("widths"), py::arg("activations"), py::arg("alphas"), py::arg("skip"),
           py::arg("scale"), py::arg("members"), py::arg("loss") = int(LOSS_MSE),
           py::arg("layernorm") = std::vector<bool>{}, py::arg("prenorm") = std::vector<bool>{},
           py::arg("ln_eps") = 1e-5, py::arg("draw") = std::vector<std::tuple<int, double, int, double>>{},
           py::arg("seed") = uint64_t(0))
      .def_property_readonly("drawn", [](PE& self) { return self.ens.drawn(); })
      .def("member_params", [](PE& self, int64_t m) {
        if (m < 0 || m >= self.ens.members()) throw py::index_error("member out of range");
        auto out = alloc<T>({self.ens.member_size()});
        self.ens.member_params(m, out.mutable_data());
        return out;
      }, py::arg("m"), "Member m's parameters in one network's layout (W, b [, gamma, beta] per layer)")
      .def_property_readonly("members", [](PE& self) { return self.ens.members(); })
      .def_property_readonly("loss", [](PE& self) { return self.ens.loss; })
      .def("workspace_bytes", [](PE& self, int64_t B) { return self.ens.workspace_bytes(B); }, py::arg("batch"))
      .def_property("tile", [](PE& self) { return self.ens.tile_; },
                    [](PE& self, int64_t v) { self.ens.tile_ = v; })
      .def_property_readonly("params", [](py::object self) {
        PE& p = self.cast<PE&>();
        return py::array_t<T>(std::vector<py::ssize_t>{py::ssize_t(p.ens.num_params())}, p.ens.params(), self);
      })
      .def("weight_offset", [](PE& self, int64_t l) { return self.ens.weight_offset(l); })
      .def("bias_offset", [](PE& self, int64_t l) { return self.ens.bias_offset(l); })
      .def("run", &PE::run, py::arg("x"), py::arg("t"), py::arg("check_finite") = true)
      // The engine pointer for the C API (pyvanish_capi.h: ensemble_run_d/_f); not owning.
      .def("_capsule", [](PE& self) {
        return py::capsule(static_cast<void*>(&self.ens),
                           sizeof(T) == 8 ? PYVANISH_ENSEMBLE64_CAPSULE : PYVANISH_ENSEMBLE32_CAPSULE);
      });
}

}  // namespace

void bind_ensemble(py::module_& m) {
  // For the tests of kernels/philox.hpp: one Philox4x32-10 block, and the normal quantile.
  m.def("_philox", [](std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
    philox::block(c.data(), k[0], k[1]);
    return c;
  }, py::arg("counter"), py::arg("key"));
  m.def("_normal_quantile", [](double p) { return philox::normal_quantile(p); }, py::arg("p"));
  bind<float>(m, "Ensemble32");
  bind<double>(m, "Ensemble64");
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
}

}  // namespace bindings
}  // namespace pyvanish
