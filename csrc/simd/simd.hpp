// The instruction-set choice, in one place.
//
// Code that benefits from wider vectors (the GEMM, the activation loops, the
// ensemble's per-member work) is written once, in an *_impl.inc file that
// opens `namespace pyvanish::PYVANISH_ISA`. CMake compiles each such file once
// per instruction set (generic everywhere; avx2 and avx512 on x86-64), from
// the template csrc/simd/isa_unit.cpp.in, with that instruction set's flags,
// so the wheel runs on any x86-64 CPU. The public entry points dispatch at run
// time on simd_path(): one process-wide choice, the best path the CPU has
// unless forced by simd_set_path() or, at import, by the environment variable
// PYVANISH_SIMD=generic|avx2|avx512 (PYVANISH_GEMM_PATH is honoured when
// PYVANISH_SIMD is unset; unknown or unsupported values are ignored).
// Results are deterministic for a given path; paths may differ in the last
// bits (FMA).
#pragma once

namespace pyvanish {

enum Simd : int { SIMD_GENERIC = 0, SIMD_AVX2 = 1, SIMD_AVX512 = 2, SIMD_COUNT };

// Whether this CPU (and this build) can run `path`.
bool simd_supported(int path) noexcept;
// The best path this CPU supports.
int simd_best_path() noexcept;
// The path in use now.
int simd_path() noexcept;
// Force a path. Returns false, changing nothing, if this CPU cannot run it.
bool simd_set_path(int path) noexcept;
// "generic", "avx2", "avx512" ("unknown" out of range).
const char* simd_path_name(int path) noexcept;
// The path named `name`, or -1.
int simd_path_of(const char* name) noexcept;

}  // namespace pyvanish

// Declares `decl` (a function or function template declaration) in every
// instruction-set namespace: pyvanish::generic, ::avx2, ::avx512.
#define PYVANISH_SIMD_DECLARE(...)      \
  namespace generic { __VA_ARGS__; }    \
  namespace avx2 { __VA_ARGS__; }       \
  namespace avx512 { __VA_ARGS__; }

// `return <isa>::call;` for the instruction set `path`: the body of every
// dispatching function, e.g.
//   void f(int x) noexcept { PYVANISH_SIMD_DISPATCH(f(x)); }
// (the generic variant is the default; the x86 ones exist only on x86-64).
#if defined(PYVANISH_X86)
#define PYVANISH_SIMD_DISPATCH_ON(path, call)                          \
  switch (path) {                                                      \
    case ::pyvanish::SIMD_AVX512: return ::pyvanish::avx512::call;     \
    case ::pyvanish::SIMD_AVX2: return ::pyvanish::avx2::call;         \
    default: return ::pyvanish::generic::call;                         \
  }
#else
#define PYVANISH_SIMD_DISPATCH_ON(path, call) \
  do {                                        \
    (void)(path);                             \
    return ::pyvanish::generic::call;         \
  } while (0)
#endif
#define PYVANISH_SIMD_DISPATCH(call) PYVANISH_SIMD_DISPATCH_ON(::pyvanish::simd_path(), call)
