// Runs work items 0..count-1 on XLA's intra-op thread pool, with the calling thread taking part.
//
// Items are claimed from a shared counter, so a pool task that starts late (or never, when the pool is
// busy with the caller itself) simply finds nothing left; the caller waits only for items already claimed.
// That rules out the deadlock of blocking a pool thread on tasks queued behind it. Each participant gets a
// distinct slot number, so it can own per-thread scratch buffers without locks.
//
// Which participant runs which item depends on thread timing, so buffers that *accumulate* across items
// must not be per slot (the sums would be reassociated differently from call to call): use
// parallel_for_lanes, whose lanes each own a fixed set of items.
#pragma once

#include <algorithm>
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

// How many lanes parallel_for_lanes uses on this pool: a few per participant, so lanes that are claimed
// dynamically still balance the load when there are more participants than cores.
inline int64_t lane_count(const xla::ffi::ThreadPool& pool) {
  return 4 * participant_count(pool);
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

// body(item, lane) for every item, where lane = item % lanes and each lane runs its items in increasing
// order on one thread at a time. A buffer owned by a lane therefore receives the same additions in the
// same order on every call, and reducing the lanes' buffers in lane order gives bitwise-reproducible
// results (for a given lane count).
inline void parallel_for_lanes(xla::ffi::ThreadPool& pool, int64_t count, int64_t lanes,
                               const std::function<void(int64_t item, int64_t lane)>& body) {
  parallel_for(pool, std::min(lanes, count), [&](int64_t lane, int64_t) {
    for (int64_t item = lane; item < count; item += lanes) body(item, lane);
  });
}

}  // namespace qpt::cpu
