// Template part of threads.hpp.
#pragma once
#include <algorithm>
#include <system_error>
#include <thread>
#include <vector>

namespace pyvanish {

namespace detail {
// Marks the calling thread as inside a parallel_for slice for its lifetime.
class ParallelSlice {
 public:
  ParallelSlice() noexcept;
  ~ParallelSlice();
  ParallelSlice(const ParallelSlice&) = delete;
  ParallelSlice& operator=(const ParallelSlice&) = delete;

 private:
  bool outer_;
};

// Runs call(ctx, s) for every slice s < slices: s = 0 on the calling thread, the others
// on the process's pool of waiting threads (threads.cpp), and returns when all are done.
// False, with nothing run, when the pool is taken (another parallel_for is using it, in
// another thread or around this one) or cannot start enough threads.
bool pool_run(int64_t slices, void (*call)(void*, int64_t), void* ctx) noexcept;
}  // namespace detail

template <class Fn>
void parallel_for(int64_t n, int64_t grain, int threads, Fn&& fn) {
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  const int64_t t = std::max<int64_t>(1, std::min<int64_t>(threads, chunks));
  if (t <= 1) {
    fn(int64_t(0), n);
    return;
  }
  const int64_t per = (chunks + t - 1) / t * grain;  // elements per slice, a multiple of grain
  auto slice = [&fn, per, n](int64_t s) {
    detail::ParallelSlice mark;
    fn(s * per, std::min(n, (s + 1) * per));
  };
  using Slice = decltype(slice);
  if (detail::pool_run((n + per - 1) / per, [](void* c, int64_t s) { (*static_cast<Slice*>(c))(s); }, &slice))
    return;
  // the pool is taken: threads of this call's own
  std::vector<std::thread> pool;
  pool.reserve(size_t(t - 1));
  int64_t start_next = per;
  try {
    for (; start_next < n; start_next += per) {
      const int64_t b = start_next, e = std::min(n, start_next + per);
      pool.emplace_back([&fn, b, e] {
        detail::ParallelSlice mark;
        fn(b, e);
      });
    }
  } catch (const std::system_error&) {
    // could not start a thread: this thread does the rest
    const int64_t from = start_next;
    detail::ParallelSlice mark;
    fn(int64_t(0), std::min(n, per));
    for (auto& th : pool) th.join();
    for (int64_t b = from; b < n; b += per) fn(b, std::min(n, b + per));
    return;
  }
  {
    detail::ParallelSlice mark;
    fn(int64_t(0), std::min(n, per));
  }
  for (auto& th : pool) th.join();
}

}  // namespace pyvanish
