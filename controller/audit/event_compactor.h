// Enforces the audit trail's retention (--audit_max_events, --audit_max_age): every `interval`
// it deletes events beyond either bound (audit::Prune). Shaped like store::HistoryCompactor.
// Several controllers on one etcd may each run one; a round that races another is retried at the
// next interval.
//
// One thread of its own, waiting on `clock`. Thread-safe.
#ifndef LB_CONTROLLER_AUDIT_EVENT_COMPACTOR_H_
#define LB_CONTROLLER_AUDIT_EVENT_COMPACTOR_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/audit/audit.h"
#include "controller/store/store.h"

namespace lb::audit {

class EventCompactor {
 public:
  struct Options {
    Retention retention;
    absl::Duration interval = absl::Minutes(1);
  };
  struct Stats {
    uint64_t pruned = 0;    // Events deleted.
    uint64_t rounds = 0;    // Successful rounds.
    uint64_t failures = 0;  // Failed rounds (store unreachable, a race with another pruner).
  };

  // ValidateRetention, and interval > 0.
  static absl::Status Validate(const Options& options);

  // `store` and `clock` must outlive the compactor.
  EventCompactor(store::Store* store, Clock* clock, Options options);
  ~EventCompactor();  // Stops the thread.

  // Starts the thread (first round after one interval).
  void Start();
  // One round now. Returns the error of the round.
  absl::Status RunOnce();
  Stats stats() const;

 private:
  store::Store* const store_;
  Clock* const clock_;
  const Options options_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace lb::audit

#endif  // LB_CONTROLLER_AUDIT_EVENT_COMPACTOR_H_
