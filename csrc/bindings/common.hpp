// What every binding file shares: array checks, output allocation, the GIL.
//
// Each bound function: check dtypes and shapes (O(1), before touching memory),
// allocate outputs, release the GIL around the raw-pointer work, call the
// kernel or engine, return. Arrays must already be C-contiguous, aligned,
// native float32/float64, all of one dtype (pyvanish's Python layer converts
// array-likes); anything else raises TypeError, a wrong shape ValueError, both
// naming the function (when given) and the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#if defined(_WIN32)
#define NOMINMAX
#include <windows.h>  // GlobalMemoryStatusEx
#else
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/activations.hpp"

namespace pyvanish {
namespace bindings {

namespace py = pybind11;

using Shape = std::vector<int64_t>;

// Work below this many elements keeps the GIL (releasing costs more).
constexpr int64_t kReleaseGil = 1 << 14;

struct MaybeRelease {  // drops the GIL for large work only
  std::optional<py::gil_scoped_release> g;
  explicit MaybeRelease(int64_t work) {
    if (work >= kReleaseGil) g.emplace();
  }
};

inline std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) os << ", ";
    if (s[i] < 0) os << '*'; else os << s[i];
  }
  if (s.size() == 1) os << ',';
  os << ')';
  return os.str();
}

inline Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

// "fn: name", or just "name" when fn is null (the caller adds its public name).
inline std::string where(const char* fn, const char* name) {
  return fn ? std::string(fn) + ": " + name : std::string(name);
}

// Dtypes compare by equivalence, not identity: an array that went through
// pickle has a dtype equal to float64 but not the same object. A byte-swapped
// float64 is not equivalent (PyArray_EquivTypes compares the byte order too).
inline bool same_dtype(const py::array& a, const py::dtype& d) {
  const py::dtype& ad = a.dtype();
  if (ad.is(d)) return true;
  return py::detail::npy_api::get().PyArray_EquivTypes_(ad.ptr(), d.ptr());
}

// The dtype every array of the call must have: that of the first one.
inline bool is_f64(const py::array& a, const char* fn, const char* name) {
  if (same_dtype(a, py::dtype::of<double>())) return true;
  if (same_dtype(a, py::dtype::of<float>())) return false;
  throw py::type_error(where(fn, name) + " has dtype " + std::string(py::str(a.dtype())) +
                       ", expected float32 or float64");
}

// Checks dtype T, C-contiguity, alignment and (unless any_shape) the shape,
// -1 meaning any size on that axis.
template <class T>
const T* data(const py::array& a, const char* fn, const char* name, const Shape& want,
              bool any_shape = false) {
  if (!same_dtype(a, py::dtype::of<T>()))
    throw py::type_error(where(fn, name) + " has dtype " + std::string(py::str(a.dtype())) +
                         ", expected " + std::string(py::str(py::dtype::of<T>())) +
                         " like the other arrays");
  if (!(a.flags() & py::array::c_style) ||
      !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::type_error(where(fn, name) + " must be a C-contiguous, aligned array");
  if (!any_shape) {
    bool ok = a.ndim() == py::ssize_t(want.size());
    for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == a.shape(i);
    if (!ok)
      throw py::value_error(where(fn, name) + " has shape " + shape_str(shape_of(a)) +
                            ", expected " + shape_str(want));
  }
  return static_cast<const T*>(a.data());
}

template <class T>
py::array_t<T> alloc(const Shape& shape) {
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

// A copy of n values as a new (rows, cols) array.
// Marks a freshly made result array read-only (results of a run are not to be edited in place).
inline void read_only(const py::array& a) {
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
}

// A dict key made once per call site and kept for the process (interned and never
// freed, so nothing is released after the interpreter has finalised).
#define PV_KEY(s) ([]() -> py::handle { static PyObject* const k = PyUnicode_InternFromString(s); return k; }())

template <class T>
py::array_t<T> copy_of(const T* src, int64_t rows, int64_t cols) {
  auto a = alloc<T>({rows, cols});
  std::copy(src, src + rows * cols, a.mutable_data());
  return a;
}

inline int act_code(int act) {
  if (act < 0 || act >= ACT_COUNT)
    throw py::value_error("activation code " + std::to_string(act) + " is out of range 0.." +
                          std::to_string(ACT_COUNT - 1));
  return act;
}

// a * b and a + b for sizes, or nullopt on int64 overflow (or a negative operand).
// (Both operands are non-negative, so the plain checks are exact.)
inline std::optional<int64_t> mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || (a != 0 && b > INT64_MAX / a)) return std::nullopt;
  return a * b;
}
inline std::optional<int64_t> add(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || b > INT64_MAX - a) return std::nullopt;
  return a + b;
}

// The memory this process may still use, in bytes: the smaller of physical
// memory and the address-space limit (RLIMIT_AS), or INT64_MAX if unknown.
inline int64_t memory_limit_bytes() {
  int64_t limit = INT64_MAX;
#if defined(_WIN32)
  MEMORYSTATUSEX st;
  st.dwLength = sizeof(st);
  if (GlobalMemoryStatusEx(&st) && st.ullTotalPhys < uint64_t(INT64_MAX)) limit = int64_t(st.ullTotalPhys);
#else
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    if (auto b = mul(int64_t(pages), int64_t(page))) limit = *b;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < uint64_t(limit))
    limit = int64_t(rl.rlim_cur);
#endif
  return limit;
}

[[noreturn]] inline void throw_memory_error(const std::string& msg) {
  PyErr_SetString(PyExc_MemoryError, msg.c_str());
  throw py::error_already_set();
}

// Refuses, with a MemoryError naming `cls` and the bytes, `count` values of
// `elem` bytes each, `copies` times, when that overflows int64 or exceeds the
// memory available. count nullopt: it overflowed already.
inline void check_memory(const char* cls, std::optional<int64_t> count, int64_t elem, int64_t copies,
                         const char* what) {
  std::optional<int64_t> bytes = count ? mul(*count, elem) : std::nullopt;
  if (bytes) bytes = mul(*bytes, copies);
  if (!bytes)
    throw_memory_error(std::string(cls) + ": the " + what + " need more than 2^63 bytes (the size overflows int64)");
  const int64_t limit = memory_limit_bytes();
  if (*bytes > limit)
    throw_memory_error(std::string(cls) + ": the " + what + " need " + std::to_string(*bytes) +
                       " bytes, more than the " + std::to_string(limit) + " bytes of memory available");
}

}  // namespace bindings
}  // namespace pyvanish

// One overload set per function: dispatch on the first array's dtype.
#define PV_DISPATCH(first, fn, name, call) \
  (::pyvanish::bindings::is_f64(first, fn, name) ? call<double> : call<float>)
