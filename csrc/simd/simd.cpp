// The process-wide instruction-set choice (see simd.hpp).
#include "simd/simd.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pyvanish {
namespace {

int initial_path() noexcept {
  const char* env = std::getenv("PYVANISH_SIMD");
  if (!env) env = std::getenv("PYVANISH_GEMM_PATH");  // the older name
  if (env) {
    const int p = simd_path_of(env);
    if (p >= 0 && simd_supported(p)) return p;
  }
  return simd_best_path();
}

std::atomic<int>& current() noexcept {
  static std::atomic<int> path{initial_path()};
  return path;
}

}  // namespace

bool simd_supported(int path) noexcept {
  switch (path) {
    case SIMD_GENERIC:
      return true;
#if defined(PYVANISH_X86)
    case SIMD_AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SIMD_AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
      return false;
  }
}

int simd_best_path() noexcept {
  for (int p = SIMD_COUNT - 1; p > SIMD_GENERIC; --p)
    if (simd_supported(p)) return p;
  return SIMD_GENERIC;
}

int simd_path() noexcept { return current().load(std::memory_order_relaxed); }

bool simd_set_path(int path) noexcept {
  if (!simd_supported(path)) return false;
  current().store(path, std::memory_order_relaxed);
  return true;
}

const char* simd_path_name(int path) noexcept {
  switch (path) {
    case SIMD_GENERIC: return "generic";
    case SIMD_AVX2: return "avx2";
    case SIMD_AVX512: return "avx512";
    default: return "unknown";
  }
}

int simd_path_of(const char* name) noexcept {
  for (int p = 0; p < SIMD_COUNT; ++p)
    if (std::strcmp(name, simd_path_name(p)) == 0) return p;
  return -1;
}

}  // namespace pyvanish
