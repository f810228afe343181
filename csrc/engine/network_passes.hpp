// The single-network engine's passes over its buffers, per instruction set.
//
// Network (network.cpp) is compiled once, for any x86-64; the loops that read
// or write every value of a layer once (the derivative pass with its per-unit
// sums, the statistics of engine/stats.hpp, the optimiser's update) are
// compiled once per instruction set in network_passes_impl.inc and chosen at
// run time on simd_path(), like the GEMM and the activations. The statistics'
// lane-wise sums run in a fixed order, so every path gives the same numbers.
#pragma once
#include <cstdint>

#include "engine/stats.hpp"
#include "simd/simd.hpp"

namespace pyvanish {

// du (B, units) = da * phi'(u) for a layer with activation `act`, dphi its
// scratch (B * units); per unit over the batch: sum of phi' (colsum), saturated
// count (colsat, |phi'| <= thr) and alive flag (alive). Writes the layer's
// totals: sum of phi', saturated unit-samples, dead units.
template <class T>
void derivative_pass(int act, double alpha, double thr, T* dphi, T* du, const T* u, const T* a, const T* da,
                     int64_t B, int64_t units, double* colsum, int64_t* colsat, unsigned char* alive,
                     LayerAccumulators& acc) noexcept;

// The buffer statistics of one layer (reduce_layer with the whole buffers as one lane).
template <class T>
void layer_statistics(const LayerBuffers<T>& b, LayerAccumulators& acc) noexcept;

// |v| (n values), overflow- and underflow-safe (flat_norm).
template <class T>
double buffer_norm(const T* v, int64_t n) noexcept;

// One SGD step over n parameters: v = mu v + (g + wd p); p -= lr v.
template <class T>
void sgd_update(T* p, T* v, const T* g, int64_t n, T lr, T mu, T wd) noexcept;

// One Adam step: m, v the moments, c1 = 1 / (1 - beta1^t), c2 = 1 / (1 - beta2^t).
template <class T>
void adam_update(T* p, T* m, T* v, const T* g, int64_t n, T lr, T beta1, T beta2, T c1, T c2, T eps,
                 T wd) noexcept;

PYVANISH_SIMD_DECLARE(template <class T>
                      void derivative_pass(int act, double alpha, double thr, T* dphi, T* du, const T* u,
                                           const T* a, const T* da, int64_t B, int64_t units, double* colsum,
                                           int64_t* colsat, unsigned char* alive, LayerAccumulators& acc) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> void layer_statistics(const LayerBuffers<T>& b,
                                                                LayerAccumulators& acc) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> double buffer_norm(const T* v, int64_t n) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> void sgd_update(T* p, T* v, const T* g, int64_t n, T lr, T mu,
                                                          T wd) noexcept)
PYVANISH_SIMD_DECLARE(template <class T>
                      void adam_update(T* p, T* m, T* v, const T* g, int64_t n, T lr, T beta1, T beta2, T c1,
                                       T c2, T eps, T wd) noexcept)

}  // namespace pyvanish
