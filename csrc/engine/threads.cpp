#include "engine/threads.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#ifdef _WIN32
#include <process.h>
#define PV_GETPID _getpid
#else
#include <unistd.h>
#define PV_GETPID getpid
#endif

namespace pyvanish {
namespace {
std::atomic<int> g_threads{0};
thread_local bool tl_in_slice = false;

// The threads parallel_for runs its slices on. Worker i runs slice i + 1 of each job
// (a new generation) that has that many slices. Never destroyed: its threads are
// detached and wait until the process ends.
//
// Waiting: a worker that has finished a slice watches for the next job for up to
// kSpin before it sleeps on the condition variable, and so does the caller for its
// workers to finish. Waking a sleeping thread costs tens of microseconds (far more in a
// virtual machine whose idle vCPU has halted: W4 runs of 0.4 ms took up to 0.8 ms), and
// calls come back to back (the layers of a network, a benchmark's loop, a sweep). The
// job itself is read and written under the mutex; only the generation and the count of
// slices left are also read without it, to watch.
constexpr std::chrono::microseconds kSpin{200};

struct Pool {
  long pid = 0;            // the process that started it (a forked child starts its own)
  std::mutex busy;         // held by the parallel_for using the pool
  std::mutex m;            // guards the job below (written under it, watched without)
  std::condition_variable wake, done;
  std::atomic<uint64_t> generation{0};
  std::atomic<int64_t> remaining{0};
  std::atomic<bool> watch{true};  // whether waiting threads watch before they sleep (spin_until)
  int64_t cores = 0;              // hardware threads (asked once: glibc reads a file for it)
  int64_t slices = 0;
  void (*call)(void*, int64_t) = nullptr;
  void* ctx = nullptr;
  int64_t workers = 0;
};

inline void cpu_relax() noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Whether ready() became true within kSpin (checked between short pauses). Not at all
// when the job had more slices than the machine has hardware threads: a thread that
// watched would then take a core from one still working.
template <class Ready>
bool spin_until(const Pool* p, Ready ready) noexcept {
  if (!p->watch.load(std::memory_order_relaxed)) return ready();
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) return ready();
  }
}

void work(Pool* p, int64_t i, uint64_t seen) {
  for (;;) {
    spin_until(p, [&] { return p->generation.load(std::memory_order_acquire) != seen; });
    std::unique_lock<std::mutex> lk(p->m);
    p->wake.wait(lk, [&] { return p->generation.load(std::memory_order_relaxed) != seen; });
    seen = p->generation.load(std::memory_order_relaxed);
    if (i + 1 >= p->slices) continue;
    void (*call)(void*, int64_t) = p->call;
    void* ctx = p->ctx;
    lk.unlock();
    call(ctx, i + 1);
    lk.lock();
    if (p->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) p->done.notify_one();
  }
}

// This process's pool (made on first use; a pool inherited through fork is left alone:
// its threads and perhaps its locks are the parent's).
Pool* pool() noexcept {
  static std::atomic<Pool*> current{nullptr};
  const long pid = long(PV_GETPID());
  Pool* p = current.load(std::memory_order_acquire);
  if (p && p->pid == pid) return p;
  Pool* fresh = new (std::nothrow) Pool;
  if (!fresh) return nullptr;
  fresh->pid = pid;
  fresh->cores = int64_t(std::thread::hardware_concurrency());
  if (current.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;  // another thread made this process's pool first
  return p && p->pid == pid ? p : nullptr;
}

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

bool detail::pool_run(int64_t slices, void (*call)(void*, int64_t), void* ctx) noexcept {
  Pool* p = pool();
  if (!p || !p->busy.try_lock()) return false;
  std::lock_guard<std::mutex> hold(p->busy, std::adopt_lock);
  try {
    for (; p->workers < slices - 1; ++p->workers) std::thread(work, p, p->workers, p->generation.load()).detach();
  } catch (...) {  // could not start a thread (those started wait for the next job)
    return false;
  }
  {
    std::lock_guard<std::mutex> lk(p->m);
    p->call = call;
    p->ctx = ctx;
    p->slices = slices;
    p->remaining.store(slices - 1, std::memory_order_relaxed);
    p->watch.store(p->cores == 0 || slices <= p->cores, std::memory_order_relaxed);
    p->generation.fetch_add(1, std::memory_order_release);
  }
  p->wake.notify_all();  // (no system call when every worker is still watching)
  call(ctx, 0);
  if (spin_until(p, [&] { return p->remaining.load(std::memory_order_acquire) == 0; })) return true;
  std::unique_lock<std::mutex> lk(p->m);
  p->done.wait(lk, [&] { return p->remaining.load(std::memory_order_relaxed) == 0; });
  return true;
}

void set_num_threads(int n) noexcept { g_threads.store(n >= 1 ? n : 0, std::memory_order_relaxed); }

}  // namespace pyvanish
