// A minimal, fork-safe parallel-for. Slices run on a pool of threads that watch for the
// next call for up to 200 us, then sleep on a condition variable (threads.cpp), started on first use
// and grown as needed; a forked child starts its own (the parent's threads do not exist
// there), and a call that finds the pool in use (another thread's parallel_for, or a
// nested one) starts threads of its own and joins them. Work is split into contiguous,
// statically assigned slices, so each result is computed by the same code in the same
// order whatever the thread count: results are bitwise identical for any number of
// threads.
#pragma once
#include <cstdint>

namespace pyvanish {

// The number of threads parallel kernels use: set_num_threads(n) if called
// with n >= 1, else OMP_NUM_THREADS if set, else the hardware's.
int num_threads() noexcept;
void set_num_threads(int n) noexcept;  // n <= 0: back to the default

// Calls fn(begin, end) on `threads` contiguous slices of [0, n) that are
// multiples of `grain` (the last may be shorter), in parallel; the calling
// thread runs the first slice. Falls back to one thread if a thread cannot
// be started. fn must not throw.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, int threads, Fn&& fn);

// True on a thread running a slice of a multi-threaded parallel_for: nested
// parallel kernels (a large GEMM inside an ensemble's member loop) then run on
// that one thread instead of starting more.
bool in_parallel_for() noexcept;

}  // namespace pyvanish

#include "engine/threads_impl.hpp"
