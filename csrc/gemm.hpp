// In-house GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, float and double.
//
// BLIS-style: B is packed into NR-column panels, A into MR-row panels, and a
// register-tiled micro-kernel multiplies one MR x NR tile. The same source
// (gemm_impl.inc) is compiled once per instruction set (generic x86-64/any
// CPU, AVX2+FMA, AVX-512), each in its own namespace; gemm() picks one at run
// time with __builtin_cpu_supports (or as forced by gemm_set_path / the
// PYVANISH_GEMM_PATH environment variable).
#pragma once
#include <cstdint>

namespace pyvanish {

// op(A) is (M, K): A is (M, K) with row stride lda, or (K, M) when trans_a.
// op(B) is (K, N): B is (K, N) with row stride ldb, or (N, K) when trans_b.
// C is (M, N) with row stride ldc. beta == 0 never reads C (it may hold NaN).
// Preconditions (checked by the bindings): M, N, K >= 0, strides >= row length,
// C does not alias A or B.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
          const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
          int64_t ldc) noexcept;

enum GemmPath : int { GEMM_AUTO = 0, GEMM_GENERIC = 1, GEMM_AVX2 = 2, GEMM_AVX512 = 3 };

// Best path this CPU supports (never GEMM_AUTO).
int gemm_best_path() noexcept;
// The path gemm() uses now.
int gemm_path() noexcept;
// Force a path (GEMM_AUTO: the best one). Returns false, changing nothing, if
// this CPU (or this build) cannot run it.
bool gemm_set_path(int path) noexcept;
const char* gemm_path_name(int path) noexcept;

// Each instruction-set variant exposes the same entry point.
#define PYVANISH_DECLARE_GEMM_VARIANT(ns)                                        \
  namespace ns {                                                               \
  template <class T>                                                           \
  void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,      \
            T alpha, const T* A, int64_t lda, const T* B, int64_t ldb, T beta, \
            T* C, int64_t ldc) noexcept;                                       \
  }
PYVANISH_DECLARE_GEMM_VARIANT(generic)
PYVANISH_DECLARE_GEMM_VARIANT(avx2)
PYVANISH_DECLARE_GEMM_VARIANT(avx512)
#undef PYVANISH_DECLARE_GEMM_VARIANT

}  // namespace pyvanish
