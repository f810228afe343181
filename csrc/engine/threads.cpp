#include "engine/threads.hpp"

#include <atomic>
#include <cstdlib>
#include <thread>

namespace pyvanish {
namespace {
std::atomic<int> g_threads{0};
thread_local bool tl_in_slice = false;

int default_threads() noexcept {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}
}  // namespace

int num_threads() noexcept {
  const int n = g_threads.load(std::memory_order_relaxed);
  return n >= 1 ? n : default_threads();
}

bool in_parallel_for() noexcept { return tl_in_slice; }

detail::ParallelSlice::ParallelSlice() noexcept : outer_(tl_in_slice) { tl_in_slice = true; }
detail::ParallelSlice::~ParallelSlice() { tl_in_slice = outer_; }

void set_num_threads(int n) noexcept { g_threads.store(n >= 1 ? n : 0, std::memory_order_relaxed); }

}  // namespace pyvanish
