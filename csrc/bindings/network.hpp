// The Network engine as seen from Python (shared by network.cpp and training.cpp).
#pragma once
#include <mutex>
#include <string>
#include <vector>

#include "bindings/common.hpp"
#include "engine/network.hpp"

namespace pyvanish {
namespace bindings {

// A Network<T> for Python: parameters and gradients exposed as NumPy views
// (kept alive by the engine object); its mutex is the only lock a network has.
template <class T>
struct PyNetwork {
  Network<T> net;
  explicit PyNetwork(std::vector<LayerSpec> specs) : net(std::move(specs)) {}

  // The network's lock, or a RuntimeError ("<fn>: this network is running in
  // another thread; ..."; no prefix when fn is null).
  std::unique_lock<std::mutex> lock(const char* fn) {
    std::unique_lock<std::mutex> l(net.mutex(), std::try_to_lock);
    if (!l.owns_lock())
      throw std::runtime_error((fn ? std::string(fn) + ": " : std::string()) +
                               "this network is running in another thread; "
                               "use one network per thread (Network.copy())");
    return l;
  }

  // Refuses batch norm on a single sample in training mode.
  void check_batch(int64_t B, const char* prefix) const {
    if (B != 1 || !net.training) return;
    for (int64_t l = 1; l <= net.depth(); ++l)
      if (net.layer(l).batchnorm)
        throw py::value_error(std::string(prefix) +
                              "batch normalisation needs more than one sample per batch in training "
                              "mode (batch statistics of one sample are undefined); layer " +
                              std::to_string(l) + " has batch norm");
  }
};

// Binds the training entry point of Network32/64 (training.cpp).
template <class T>
void bind_network_train(py::class_<PyNetwork<T>>& cls);

}  // namespace bindings
}  // namespace pyvanish
