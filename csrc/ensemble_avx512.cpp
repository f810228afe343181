// The ensemble's per-member work for the avx512 instruction set (see
// ensemble_impl.inc, CMakeLists.txt).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "activations.hpp"
#include "ensemble.hpp"

namespace pyvanish {
namespace avx512 {

#include "ensemble_impl.inc"

}  // namespace avx512
}  // namespace pyvanish
