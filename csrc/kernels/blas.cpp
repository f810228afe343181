// OpenBLAS through scipy-openblas32's prefixed CBLAS (see blas.hpp).
#include "kernels/blas.hpp"

#include <climits>

#include <cblas.h>  // scipy_openblas32/include: scipy_cblas_*, scipy_openblas_*

#include "engine/threads.hpp"

namespace pyvanish {
namespace {

void one_blas_thread() noexcept {
  if (scipy_openblas_get_num_threads() != 1) scipy_openblas_set_num_threads(1);
}

bool fits(int64_t v) noexcept { return v >= 0 && v <= INT_MAX; }

inline void call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C,
                 int ldc) noexcept {
  scipy_cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha,
                 const double* A, int lda, const double* B, int ldb, double beta, double* C,
                 int ldc) noexcept {
  scipy_cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

void blas_init() noexcept { one_blas_thread(); }
const char* blas_corename() noexcept { return scipy_openblas_get_corename(); }
const char* blas_config() noexcept { return scipy_openblas_get_config(); }
int blas_num_threads() noexcept { return scipy_openblas_get_num_threads(); }

template <class T>
bool blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) noexcept {
  if (!(fits(M) && fits(N) && fits(K) && fits(lda) && fits(ldb) && fits(ldc))) return false;
  one_blas_thread();  // in case someone (threadpoolctl) raised it
  const CBLAS_TRANSPOSE cta = ta ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE ctb = tb ? CblasTrans : CblasNoTrans;
  const bool by_rows = M >= N;  // split the longer side of C
  const int64_t n = by_rows ? M : N;
  const int threads = in_parallel_for() ? 1 : num_threads();
  parallel_for(n, kBlasBlock, threads, [&](int64_t b0, int64_t b1) {
    // One call per fixed block, whatever slice this thread was given.
    for (int64_t s = b0; s < b1; s += kBlasBlock) {
      const int64_t len = b1 - s < kBlasBlock ? b1 - s : kBlasBlock;
      if (by_rows)
        call(cta, ctb, int(len), int(N), int(K), alpha, ta ? A + s : A + s * lda, int(lda), B,
             int(ldb), beta, C + s * ldc, int(ldc));
      else
        call(cta, ctb, int(M), int(len), int(K), alpha, A, int(lda), tb ? B + s * ldb : B + s,
             int(ldb), beta, C + s, int(ldc));
    }
  });
  return true;
}

template bool blas_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                               int64_t, const float*, int64_t, float, float*, int64_t) noexcept;
template bool blas_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                int64_t, const double*, int64_t, double, double*, int64_t) noexcept;

}  // namespace pyvanish
