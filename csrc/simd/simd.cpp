// The process-wide instruction-set choice (see simd.hpp).
#include "simd/simd.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(PYVANISH_X86) && defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#endif

namespace pyvanish {
namespace {

#if defined(PYVANISH_X86) && defined(_MSC_VER)
// Windows (clang-cl): cpuid and xgetbv, since __builtin_cpu_supports needs a
// run-time library there. The OS must save the vector registers (XCR0).
struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false, avx512dq = false;
  CpuFeatures() noexcept {
    int r[4];
    __cpuid(r, 0);
    const int max_leaf = r[0];
    __cpuid(r, 1);
    const bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    fma = (r[2] >> 12) & 1;
    if (!osxsave || !avx || max_leaf < 7) return;
    const unsigned long long xcr0 = _xgetbv(0);
    const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    __cpuidex(r, 7, 0);
    avx2 = ymm && ((r[1] >> 5) & 1);
    fma = fma && ymm;
    avx512f = zmm && ((r[1] >> 16) & 1);
    avx512dq = zmm && ((r[1] >> 17) & 1);
  }
};
const CpuFeatures& cpu() noexcept {
  static const CpuFeatures f;
  return f;
}
#define PV_CPU_HAS(feature) (cpu().feature)
#elif defined(PYVANISH_X86)
#define PV_CPU_HAS(feature) (__builtin_cpu_supports(#feature) != 0)
#endif

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
      return PV_CPU_HAS(avx2) && PV_CPU_HAS(fma);
    case SIMD_AVX512:
      return PV_CPU_HAS(avx512f) && PV_CPU_HAS(avx512dq) && PV_CPU_HAS(avx2) && PV_CPU_HAS(fma);
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
