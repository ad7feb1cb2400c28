// A Clock that only moves when a test moves it. Waits (Clock::AwaitWithDeadline) end when their
// condition holds or when Advance() reaches their deadline, so code that sleeps on the clock
// runs through hours of simulated time in microseconds and never depends on the machine's speed.
//
// Threading: every method may be called from any thread.
#ifndef LB_COMMON_TIME_SIMULATED_CLOCK_H_
#define LB_COMMON_TIME_SIMULATED_CLOCK_H_

#include <cstddef>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace lb {

class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));

  absl::Time Now() override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Moves the time forward by `d` (>= 0) and wakes every wait whose deadline has passed.
  void Advance(absl::Duration d);
  // Blocks (in real time, at most `timeout`) until at least `n` waits are in progress; for
  // tests that must not advance before the code under test has started waiting.
  bool WaitForWaiters(size_t n, absl::Duration timeout = absl::Seconds(10));
  size_t waiters();

 private:
  struct Waiter {
    absl::Mutex* mu;
    absl::Time deadline;
    bool expired = false;  // Written under *mu.
    int pins = 0;          // Advance() calls about to take *mu; guarded by mu_.
  };

  // Lock order: a waiter's own mutex may be held while taking mu_, never the reverse.
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::set<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb

#endif  // LB_COMMON_TIME_SIMULATED_CLOCK_H_
