// The time seam: production code asks a Clock for the time and for bounded waits, never
// absl::Now() or a bare AwaitWithTimeout, so tests can run it on simulated time
// (SimulatedClock, //common/time:simulated_clock, visible to tests only).
//
// Threading: every method may be called from any thread.
#ifndef LB_COMMON_TIME_CLOCK_H_
#define LB_COMMON_TIME_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lb {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;

  // With `mu` held: waits (releasing `mu` meanwhile) until `cond` holds or this clock reaches
  // `deadline`, and returns whether `cond` holds. Like absl::Mutex::AwaitWithDeadline, but the
  // deadline is on this clock.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                 absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return AwaitWithDeadline(mu, cond, Now() + timeout);
  }

  // The process's real clock (absl::Now()). Never destroyed.
  static Clock* Real();
};

}  // namespace lb

#endif  // LB_COMMON_TIME_CLOCK_H_
