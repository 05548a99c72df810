// Runs work items 0..count-1 on XLA's intra-op thread pool, with the calling thread taking part.
//
// Items are claimed from a shared counter, so a pool task that starts late (or never, when the pool is
// busy with the caller itself) simply finds nothing left; the caller waits only for items already claimed.
// That rules out the deadlock of blocking a pool thread on tasks queued behind it. Each participant gets a
// distinct slot number, so it can own per-thread accumulation buffers without locks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "xla/ffi/api/ffi.h"

namespace qpt::cpu {

// Upper bound on slot numbers handed out by parallel_for for a pool of this size.
inline int64_t participant_count(const xla::ffi::ThreadPool& pool) {
  return pool.num_threads() + 1;
}

// body(item, slot) for every item; slot < participant_count(pool).
inline void parallel_for(xla::ffi::ThreadPool& pool, int64_t count,
                         const std::function<void(int64_t item, int64_t slot)>& body) {
  struct Shared {
    std::atomic<int64_t> next_item{0};
    std::atomic<int64_t> next_slot{0};
    std::atomic<int64_t> finished{0};
    std::mutex mutex;
    std::condition_variable all_done;
    int64_t count = 0;
    std::function<void(int64_t, int64_t)> body;
  };
  auto shared = std::make_shared<Shared>();
  shared->count = count;
  shared->body = body;

  const auto work = [shared] {
    const int64_t slot = shared->next_slot.fetch_add(1);
    for (int64_t item = shared->next_item.fetch_add(1); item < shared->count;
         item = shared->next_item.fetch_add(1)) {
      shared->body(item, slot);
      if (shared->finished.fetch_add(1) + 1 == shared->count) {
        std::lock_guard<std::mutex> lock(shared->mutex);
        shared->all_done.notify_all();
      }
    }
  };
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), count - 1);
  for (int64_t h = 0; h < helpers; ++h) pool.Schedule([work] { work(); });
  work();
  std::unique_lock<std::mutex> lock(shared->mutex);
  shared->all_done.wait(lock, [&] { return shared->finished.load() == shared->count; });
}

}  // namespace qpt::cpu
