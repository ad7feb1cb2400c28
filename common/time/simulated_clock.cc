#include "common/time/simulated_clock.h"

#include <vector>

namespace lb {

SimulatedClock::SimulatedClock(absl::Time start) : now_(start) {}

absl::Time SimulatedClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool SimulatedClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                       absl::Time deadline) {
  if (cond.Eval()) return true;
  Waiter waiter{mu, deadline};
  {
    absl::MutexLock lock(&mu_);
    if (now_ >= deadline) return false;
    waiters_.insert(&waiter);
  }
  struct Arg {
    const absl::Condition* cond;
    Waiter* waiter;
  } arg{&cond, &waiter};
  mu->Await(absl::Condition(+[](Arg* a) { return a->waiter->expired || a->cond->Eval(); }, &arg));
  // Leave only once no Advance() still holds a pointer to `waiter` (it may be about to take
  // *mu, so *mu is released meanwhile).
  mu->Unlock();
  {
    absl::MutexLock lock(&mu_);
    waiters_.erase(&waiter);
    mu_.Await(absl::Condition(+[](Waiter* w) { return w->pins == 0; }, &waiter));
  }
  mu->Lock();
  return cond.Eval();
}

void SimulatedClock::Advance(absl::Duration d) {
  std::vector<Waiter*> due;
  {
    absl::MutexLock lock(&mu_);
    if (d > absl::ZeroDuration()) now_ += d;
    for (Waiter* w : waiters_) {
      if (w->deadline <= now_) {
        ++w->pins;
        due.push_back(w);
      }
    }
  }
  for (Waiter* w : due) {
    absl::MutexLock waiter_lock(w->mu);
    w->expired = true;
  }
  absl::MutexLock lock(&mu_);
  for (Waiter* w : due) --w->pins;
}

bool SimulatedClock::WaitForWaiters(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiters_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

size_t SimulatedClock::waiters() {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace lb
