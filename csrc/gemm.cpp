// Run-time choice of the GEMM variant (see gemm.hpp).
#include "gemm.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pyvanish {
namespace {

bool cpu_can(int path) noexcept {
  switch (path) {
    case GEMM_GENERIC:
      return true;
#if defined(PYVANISH_X86)
    case GEMM_AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GEMM_AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
      return false;
  }
}

int initial_path() noexcept {
  // PYVANISH_GEMM_PATH=generic|avx2|avx512 forces a path at import (tests use
  // it to cover the generic kernel); unknown or unsupported values are ignored.
  if (const char* env = std::getenv("PYVANISH_GEMM_PATH")) {
    for (int p = GEMM_GENERIC; p <= GEMM_AVX512; ++p)
      if (std::strcmp(env, gemm_path_name(p)) == 0 && cpu_can(p)) return p;
  }
  return gemm_best_path();
}

std::atomic<int>& current() noexcept {
  static std::atomic<int> path{initial_path()};
  return path;
}

}  // namespace

int gemm_best_path() noexcept {
  for (int p = GEMM_AVX512; p > GEMM_GENERIC; --p)
    if (cpu_can(p)) return p;
  return GEMM_GENERIC;
}

int gemm_path() noexcept { return current().load(std::memory_order_relaxed); }

bool gemm_set_path(int path) noexcept {
  if (path == GEMM_AUTO) path = gemm_best_path();
  if (!cpu_can(path)) return false;
  current().store(path, std::memory_order_relaxed);
  return true;
}

const char* gemm_path_name(int path) noexcept {
  switch (path) {
    case GEMM_AUTO: return "auto";
    case GEMM_GENERIC: return "generic";
    case GEMM_AVX2: return "avx2";
    case GEMM_AVX512: return "avx512";
    default: return "unknown";
  }
}

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) noexcept {
  switch (gemm_path()) {
#if defined(PYVANISH_X86)
    case GEMM_AVX512:
      return avx512::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    case GEMM_AVX2:
      return avx2::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
    default:
      return generic::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                          int64_t, const float*, int64_t, float, float*, int64_t) noexcept;
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                           int64_t, const double*, int64_t, double, double*, int64_t) noexcept;

}  // namespace pyvanish
