// OpenBLAS (the PyPI package scipy-openblas32) for the large products.
//
// gemm<T> (gemm.hpp) sends products of at least kBlasMinWork multiply-adds
// here, except the small ones whose operands fit in L1 (gemm_small_blocks):
// those stay on the in-house kernels (gemm_impl.inc), which win where OpenBLAS's
// per-call set-up and packing dominate. OpenBLAS's own threads are off
// (one thread, set at load and re-asserted before each call): its threaded
// GEMM is not bitwise reproducible. Large products are split instead over
// pyvanish's parallel_for in output blocks of a fixed size (blas_gemm), so each
// block is computed by the same single-threaded call whatever the thread
// count, and results are bitwise identical for any set_num_threads().
#pragma once
#include <cstdint>

namespace pyvanish {

// Products with M*N*K below this go to the in-house kernels (measured
// crossover; see docs/guide/performance.rst).
constexpr int64_t kBlasMinWork = 8 * 8 * 8;
// Products of at most kSmallMaxWork multiply-adds with N >= kSmallMinN and K * N <=
// kGemmPack (gemm.hpp) go to the in-house register blocks, not OpenBLAS, on the AVX2 and
// generic paths: measured faster on Zen 4 (64x32x32 1.3-1.4x OpenBLAS's Haswell kernels,
// 256x64x64 1.1x), since their operands sit in L1 and need no packing. On the AVX-512 path
// OpenBLAS's SkylakeX kernels are as fast or faster (W2, W6 measured) and keep them. See
// docs/guide/performance.rst.
constexpr int64_t kSmallMaxWork = int64_t(1) << 20;
constexpr int64_t kSmallMinN = 16;
// The output block, in rows or columns of C, each OpenBLAS call computes.
constexpr int64_t kBlasBlock = 512;

// Sets OpenBLAS to one thread. Called once when _core is imported.
void blas_init() noexcept;
// OpenBLAS's kernel core (e.g. "Haswell", "SkylakeX"), config string, threads.
const char* blas_corename() noexcept;
const char* blas_config() noexcept;
int blas_num_threads() noexcept;

// C = alpha * op(A) * op(B) + beta * C through OpenBLAS, in fixed blocks of
// kBlasBlock output rows (M >= N) or columns (M < N), spread over
// num_threads() threads (one inside another parallel_for). Same contract as
// gemm<T>. Returns false, doing nothing, if a size does not fit OpenBLAS's
// 32-bit integers (the caller then uses the in-house kernels).
template <class T>
bool blas_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
               const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
               int64_t ldc) noexcept;

}  // namespace pyvanish
