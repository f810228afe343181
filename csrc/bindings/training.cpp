// Training: _core.TrainConfig and Network{32,64}.train.
#include <algorithm>
#include <cmath>

#include "bindings/network.hpp"

namespace pyvanish {
namespace bindings {
namespace {

// `cfg.steps` and `cfg.batch` come from idx (steps, batch).
template <class T>
py::dict train(PyNetwork<T>& self, const py::array& X, const py::array& Y, const py::array& idx,
               TrainConfig cfg, py::array m1, py::array m2) {
  Network<T>& net = self.net;
  const char* fn = "train";
  const int64_t n0 = net.layer(1).in, L = net.depth(), nL = net.layer(L).out;
  const T* xp = data<T>(X, fn, "X", {-1, n0});
  const int64_t N = X.shape(0);
  const T* yp = data<T>(Y, fn, "T", {N, nL});
  if (!same_dtype(idx, py::dtype::of<int64_t>()) || !(idx.flags() & py::array::c_style) || idx.ndim() != 2)
    throw py::type_error("train: idx must be a C-contiguous int64 array (steps, batch)");
  const int64_t steps = idx.shape(0), B = idx.shape(1);
  const int64_t* ip = static_cast<const int64_t*>(idx.data());
  for (int64_t i = 0; i < steps * B; ++i)
    if (ip[i] < 0 || ip[i] >= N) throw py::value_error("train: idx has an entry outside [0, N)");
  if (B < 1 || cfg.record_every < 1 || cfg.optimizer < OPT_SGD || cfg.optimizer > OPT_ADAM || cfg.t0 < 0)
    throw py::value_error("train: invalid batch, record_every, optimizer or t0");
  const Shape ps{net.num_params()};
  T* m1p = const_cast<T*>(data<T>(m1, fn, "m1", ps));
  T* m2p = const_cast<T*>(data<T>(m2, fn, "m2", ps));
  if (!m1.writeable() || !m2.writeable()) throw py::value_error("train: m1 and m2 must be writeable");
  for (int64_t l = 1; l <= L; ++l)
    if (B == 1 && net.training && net.layer(l).batchnorm)
      throw py::value_error("train: batch normalisation needs batches of more than one sample");
  auto lock = self.lock(fn);
  const int64_t cap = (steps + cfg.record_every - 1) / cfg.record_every + 1;
  auto step = alloc<int64_t>({cap});
  auto loss = alloc<double>({cap});
  auto gW = alloc<double>({cap, L}), gh = alloc<double>({cap, L + 1}), up = alloc<double>({cap, L});
  auto sat = alloc<double>({cap, L}), dead = alloc<double>({cap, L});
  cfg.steps = steps;
  cfg.batch = B;
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

}  // namespace

template <class T>
void bind_network_train(py::class_<PyNetwork<T>>& cls) {
  cls.def("train", &train<T>, py::arg("X"), py::arg("T"), py::arg("idx"), py::arg("cfg"), py::arg("m1"),
          py::arg("m2"));
}
template void bind_network_train<float>(py::class_<PyNetwork<float>>&);
template void bind_network_train<double>(py::class_<PyNetwork<double>>&);

void bind_training(py::module_& m) {
  py::class_<TrainConfig>(m, "TrainConfig", "Optimiser settings of Network{32,64}.train.")
      .def(py::init<>())
      .def_readwrite("optimizer", &TrainConfig::optimizer)
      .def_readwrite("lr", &TrainConfig::lr)
      .def_readwrite("momentum", &TrainConfig::momentum)
      .def_readwrite("beta1", &TrainConfig::beta1)
      .def_readwrite("beta2", &TrainConfig::beta2)
      .def_readwrite("eps", &TrainConfig::eps)
      .def_readwrite("weight_decay", &TrainConfig::weight_decay)
      .def_readwrite("record_every", &TrainConfig::record_every)
      .def_readwrite("t0", &TrainConfig::t0)
      .def_readwrite("total", &TrainConfig::total);
}

}  // namespace bindings
}  // namespace pyvanish
