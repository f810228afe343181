// The GEMM for the avx512 instruction set (see gemm_impl.inc, CMakeLists.txt).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "gemm.hpp"

#define PV_VBYTES 64

namespace pyvanish {
namespace avx512 {

template <class T> struct Cfg;
template <> struct Cfg<double> {
  static constexpr int MR = 12, NV = 2;
  static constexpr int64_t KC = 192, MC = 144, NC = 4096;
};
template <> struct Cfg<float> {
  static constexpr int MR = 12, NV = 2;
  static constexpr int64_t KC = 256, MC = 144, NC = 4096;
};

#include "gemm_impl.inc"

}  // namespace avx512
}  // namespace pyvanish
