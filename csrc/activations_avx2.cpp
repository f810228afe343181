// The activation loops for the avx2 instruction set (see activations_impl.inc,
// CMakeLists.txt).
#include "activations.hpp"

namespace pyvanish {
namespace avx2 {

#include "activations_impl.inc"

}  // namespace avx2
}  // namespace pyvanish
