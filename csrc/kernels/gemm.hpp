// GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, float and double.
//
// gemm() is the one entry point (kernels.gemm, the C API's gemm_c, the dense
// layers): products of at least kBlasMinWork multiply-adds go to OpenBLAS
// (blas.hpp), split in fixed output blocks over pyvanish's threads, except the
// small ones whose operands fit in L1 (gemm_uses_blas says which); those and
// the tinier ones to the in-house kernels: register blocks of 6 rows by 2
// vectors of columns reading A and B where they are (op(B) = B^T copied first),
// the plain loop for the rest. The same source (gemm_impl.inc) is compiled
// once per instruction set (generic x86-64/any CPU, AVX2+FMA, AVX-512), each
// in its own namespace; gemm_inhouse() picks one at run time on simd_path()
// (simd/simd.hpp).
#pragma once
#include <cstdint>

#include "simd/simd.hpp"

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

// The in-house kernels alone, whatever the size (benchmarks and tests compare
// the two sides through _core._gemm_inhouse).
template <class T>
void gemm_inhouse(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
                  int64_t ldc) noexcept;

// The in-house kernels copy op(B) = B^T into at most this many values on the stack.
constexpr int64_t kGemmPack = 4096;

// Whether gemm() sends an (M, N, K) product to OpenBLAS.
bool gemm_uses_blas(int64_t M, int64_t N, int64_t K) noexcept;

// Each instruction-set variant (gemm_impl.inc) exposes the same entry point.
PYVANISH_SIMD_DECLARE(template <class T>
                      void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                                const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
                                int64_t ldc) noexcept)

}  // namespace pyvanish
