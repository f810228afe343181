// The single-network engine's passes over its buffers, per instruction set.
//
// Network (network.cpp) is compiled once, for any x86-64; the loops that read
// or write every value of a layer once (the derivative pass's per-unit sums,
// the statistics of engine/stats.hpp, the optimiser's update) are
// compiled once per instruction set in network_passes_impl.inc and chosen at
// run time on simd_path(), like the GEMM and the activations. The statistics'
// lane-wise sums run in a fixed order, so every path gives the same numbers.
#pragma once
#include <cstdint>

#include "engine/stats.hpp"
#include "simd/simd.hpp"

namespace pyvanish {

// Units j0 .. j1 of a layer's derivative pass: du (B, units) = da * phi' (dphi:
// phi'(u), computed before), and per unit over the batch in order: the sum of phi'
// (colsum), the saturated count (colsat, |phi'| <= thr) and the alive flag (alive),
// each zeroed first. Units are independent: blocks of them may run on different
// threads.
template <class T>
void derivative_columns(const T* dphi, const T* da, T* du, int64_t B, int64_t units, int64_t j0, int64_t j1,
                        double thr, double* colsum, int64_t* colsat, unsigned char* alive) noexcept;

// The buffer statistics of one layer (reduce_layer with the whole buffers as one
// lane); with without_dW, dW is left out (its norm reads 0, its tiny count 0; see
// weight_statistics).
template <class T>
void layer_statistics(const LayerBuffers<T>& b, LayerAccumulators& acc, bool without_dW) noexcept;

// dW's part of the statistics alone: its norm and tiny count; returns whether it is finite.
template <class T>
bool weight_statistics(const T* dW, int64_t n, double* norm, double* tiny) noexcept;

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
                      void derivative_columns(const T* dphi, const T* da, T* du, int64_t B, int64_t units,
                                              int64_t j0, int64_t j1, double thr, double* colsum, int64_t* colsat,
                                              unsigned char* alive) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> void layer_statistics(const LayerBuffers<T>& b, LayerAccumulators& acc,
                                                                bool without_dW) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> bool weight_statistics(const T* dW, int64_t n, double* norm,
                                                                 double* tiny) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> double buffer_norm(const T* v, int64_t n) noexcept)
PYVANISH_SIMD_DECLARE(template <class T> void sgd_update(T* p, T* v, const T* g, int64_t n, T lr, T mu,
                                                          T wd) noexcept)
PYVANISH_SIMD_DECLARE(template <class T>
                      void adam_update(T* p, T* m, T* v, const T* g, int64_t n, T lr, T beta1, T beta2, T c1,
                                       T c2, T eps, T wd) noexcept)

}  // namespace pyvanish
