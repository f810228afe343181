// The ensemble's per-member work for the generic instruction set (see
// ensemble_impl.inc, CMakeLists.txt).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "activations.hpp"
#include "ensemble.hpp"

namespace pyvanish {
namespace generic {

#include "ensemble_impl.inc"

}  // namespace generic
}  // namespace pyvanish
