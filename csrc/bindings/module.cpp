// pyvanish._core: the bindings, and only the bindings (one file per subject;
// see common.hpp for what every bound function does).
#include <string>
#include <vector>

#include "bindings/common.hpp"
#include "engine/stats.hpp"
#include "engine/threads.hpp"
#include "kernels/activations.hpp"
#include "kernels/blas.hpp"
#include "kernels/kernels.hpp"
#include "kernels/losses.hpp"
#include "simd/simd.hpp"

namespace pyvanish {
namespace bindings {
void bind_kernels(py::module_& m);
void bind_network(py::module_& m);
void bind_ensemble(py::module_& m);
void bind_training(py::module_& m);
void bind_capi(py::module_& m);
}  // namespace bindings
}  // namespace pyvanish

namespace py = pybind11;
using namespace pyvanish;

namespace {

std::string path_name() { return simd_path_name(simd_path()); }
std::string best_path_name() { return simd_path_name(simd_best_path()); }

// 'auto' | 'generic' | 'avx2' | 'avx512'; errors start with "<fn>:".
std::string set_path(const std::string& name, const char* fn) {
  const int p = name == "auto" ? simd_best_path() : simd_path_of(name.c_str());
  if (p < 0)
    throw py::value_error(std::string(fn) + ": path must be 'auto', 'generic', 'avx2' or 'avx512', got '" + name + "'");
  if (!simd_set_path(p))
    throw py::value_error(std::string(fn) + ": this CPU cannot run the '" + name + "' path");
  return path_name();
}

void bind_simd(py::module_& m) {
  m.def("simd_path", &path_name,
        "The instruction set the kernels use now: 'generic', 'avx2' or 'avx512'.");
  m.def("simd_best_path", &best_path_name, "The best instruction set this CPU supports.");
  m.def("simd_paths", [] {
    std::vector<std::string> paths;
    for (int p = 0; p < SIMD_COUNT; ++p)
      if (simd_supported(p)) paths.emplace_back(simd_path_name(p));
    return py::tuple(py::cast(paths));
  }, "The instruction sets this CPU can run, generic first.");
  m.def("set_simd_path", [](const std::string& name) { return set_path(name, "set_simd_path"); },
        py::arg("path"), "Force an instruction set ('auto': the best); returns the one in use.");
  // The older names, same functions.
  m.def("gemm_path", &path_name, "The GEMM micro-kernel in use: 'generic', 'avx2' or 'avx512'.");
  m.def("gemm_best_path", &best_path_name);
  m.def("set_gemm_path", [](const std::string& name) { return set_path(name, "set_gemm_path"); },
        py::arg("path"));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyvanish's compiled core (private; use pyvanish.kernels and friends).";
#ifdef PYVANISH_VERSION
  m.attr("__version__") = PYVANISH_VERSION;
#endif
  std::vector<std::string> names;
  for (int a = 0; a < ACT_COUNT; ++a) names.emplace_back(activation_name(a));
  m.attr("ACTIVATIONS") = py::tuple(py::cast(names));
  std::vector<std::string> stats;
  for (int i = 0; i < ST_COUNT; ++i) stats.emplace_back(stat_name(i));
  m.attr("STAT_NAMES") = py::tuple(py::cast(stats));
  std::vector<std::string> verdicts;
  for (int v = 0; v < VERDICT_COUNT; ++v) verdicts.emplace_back(verdict_name(v));
  m.attr("VERDICTS") = py::tuple(py::cast(verdicts));
  std::vector<std::string> losses;
  for (int k = 0; k < LOSS_COUNT; ++k) losses.emplace_back(loss_name(k));
  m.attr("LOSSES") = py::tuple(py::cast(losses));
  m.attr("VERDICT_THRESHOLD_DECADES") = kVerdictThresholdDecades;
  m.def("max_derivative", &max_derivative, py::arg("act"), py::arg("alpha"));

  blas_init();  // OpenBLAS on one thread: pyvanish's threads split the large GEMMs
  bind_simd(m);
  m.def("blas_info", [] {
    py::dict d;
    d["corename"] = std::string(blas_corename());
    d["config"] = std::string(blas_config());
    d["threads"] = blas_num_threads();
    d["min_work"] = kBlasMinWork;
    d["block"] = kBlasBlock;
    d["small_max_work"] = kSmallMaxWork;
    d["small_min_n"] = kSmallMinN;
    d["small_max_kn"] = kGemmPack;
    return d;
  }, "OpenBLAS's kernel core, config string and threads; the GEMM dispatch constants.");
  bindings::bind_kernels(m);
  bindings::bind_training(m);  // TrainConfig before the classes whose train() takes it
  bindings::bind_network(m);
  bindings::bind_ensemble(m);
  bindings::bind_capi(m);  // the C API table over the kernels and engines above

  m.def("num_threads", &num_threads, "Threads the parallel kernels use.");
  m.def("set_num_threads", [](int n) { set_num_threads(n); }, py::arg("n"),
        "Set the threads the parallel kernels use (n <= 0: the default, OMP_NUM_THREADS or all cores).");
  m.def("subnormals_flushed", &subnormals_flushed,
        "True if the FPU flushes subnormals to zero (FTZ/DAZ) on this thread.");
}
