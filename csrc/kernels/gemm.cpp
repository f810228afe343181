// The one GEMM entry point: OpenBLAS for large products, the in-house kernels
// (chosen at run time per instruction set) for small ones. See gemm.hpp,
// blas.hpp, simd/simd.hpp.
#include "kernels/gemm.hpp"

#include "kernels/blas.hpp"

namespace pyvanish {

template <class T>
void gemm_inhouse(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) noexcept {
  PYVANISH_SIMD_DISPATCH(gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
}

bool gemm_uses_blas(int64_t M, int64_t N, int64_t K) noexcept {
  if (M <= 0 || N <= 0 || K <= 0 || M * N * K < kBlasMinWork) return false;
  // (not on the AVX-512 path: there OpenBLAS runs its SkylakeX kernels, as fast as the
  // register blocks on these shapes or faster; measured, docs/guide/performance.rst)
  const bool small = M * N * K <= kSmallMaxWork && N >= kSmallMinN && K * N <= kGemmPack;
  return !small || simd_path() == SIMD_AVX512;
}

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) noexcept {
  if (alpha != T(0) && gemm_uses_blas(M, N, K) &&
      blas_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  gemm_inhouse(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#define PYVANISH_INSTANTIATE(name, T)                                                    \
  template void name<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,   \
                        const T*, int64_t, T, T*, int64_t) noexcept;
PYVANISH_INSTANTIATE(gemm, float)
PYVANISH_INSTANTIATE(gemm, double)
PYVANISH_INSTANTIATE(gemm_inhouse, float)
PYVANISH_INSTANTIATE(gemm_inhouse, double)
#undef PYVANISH_INSTANTIATE

}  // namespace pyvanish
