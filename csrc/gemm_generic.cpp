// The GEMM for the generic instruction set (see gemm_impl.inc, CMakeLists.txt).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "gemm.hpp"

#define PV_VBYTES 16

namespace pyvanish {
namespace generic {

template <class T> struct Cfg;
template <> struct Cfg<double> {
  static constexpr int MR = 6, NV = 2;
  static constexpr int64_t KC = 256, MC = 72, NC = 4096;
};
template <> struct Cfg<float> {
  static constexpr int MR = 6, NV = 2;
  static constexpr int64_t KC = 256, MC = 72, NC = 4096;
};

#include "gemm_impl.inc"

}  // namespace generic
}  // namespace pyvanish
