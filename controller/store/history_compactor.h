// Bounds a store's watch history by revision count and by age, for both backends: every
// `interval` it samples the store's current revision and compacts up to the newer of
//   current - max_revisions        and   the newest sampled revision at least max_age old,
// through `compact` (SqliteStore::Compact, or EtcdStore::Compact: etcd's Compact RPC). Watchers
// that need compacted history get kOutOfRange and re-list (Store::Watch).
//
// Age is measured from this process's samples: after a restart, history older than max_age is
// dropped max_age after the first sample. Several controllers on one etcd each run one; a
// compaction another already did is not an error.
//
// One thread of its own, waiting on `clock`. Thread-safe.
#ifndef LB_CONTROLLER_STORE_HISTORY_COMPACTOR_H_
#define LB_CONTROLLER_STORE_HISTORY_COMPACTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/store/store.h"

namespace lb::store {

class HistoryCompactor {
 public:
  struct Options {
    int64_t max_revisions = 10000;             // --history_max_revisions, >= 1.
    absl::Duration max_age = absl::Hours(24);  // --history_max_age, >= 1s.
    absl::Duration interval = absl::Minutes(1);
  };
  struct Stats {
    int64_t compacted_revision = 0;  // Highest revision this compactor compacted up to.
    uint64_t compactions = 0;        // Successful Compact calls.
    uint64_t failures = 0;           // Failed rounds (store unreachable, ...).
  };
  // Compacts history at and below the revision. kOutOfRange means it already was.
  using CompactFn = std::function<absl::Status(int64_t revision)>;

  // kInvalidArgument (naming the flag) for max_revisions < 1, max_age < 1s or interval <= 0.
  static absl::Status Validate(const Options& options);

  // `store` and `clock` must outlive the compactor.
  HistoryCompactor(Store* store, CompactFn compact, Clock* clock, Options options);
  ~HistoryCompactor();  // Stops the thread.

  // Starts the thread (first round after one interval).
  void Start();

  // One round now: samples the revision and compacts if due. Returns the error of the round.
  absl::Status RunOnce();

  Stats stats() const;

 private:
  Store* const store_;
  const CompactFn compact_;
  Clock* const clock_;
  const Options options_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // (time, revision) samples, oldest first; at most max_age / interval + 2 of them.
  std::deque<std::pair<absl::Time, int64_t>> samples_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace lb::store

#endif  // LB_CONTROLLER_STORE_HISTORY_COMPACTOR_H_
