// The activation loops for the avx512 instruction set (see activations_impl.inc,
// CMakeLists.txt).
#include "activations.hpp"

namespace pyvanish {
namespace avx512 {

#include "activations_impl.inc"

}  // namespace avx512
}  // namespace pyvanish
