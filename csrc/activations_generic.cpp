// The activation loops for the generic instruction set (see activations_impl.inc,
// CMakeLists.txt).
#include "activations.hpp"

namespace pyvanish {
namespace generic {

#include "activations_impl.inc"

}  // namespace generic
}  // namespace pyvanish
