// A timer for deadlines that move on every request (idle, header and response timeouts):
// moving the deadline later or disarming only writes a field; the underlying timer is touched
// when the new deadline is earlier than the one it is armed for. When it fires before the
// current deadline (the deadline moved), it re-arms itself for the rest. The cost is at most one
// extra wake-up per timeout period, against an event_add/event_del pair per request.
//
// Threading: the dispatcher's loop thread only.
#ifndef LB_PROXY_EVENT_LAZY_TIMER_H_
#define LB_PROXY_EVENT_LAZY_TIMER_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/time/time.h"
#include "common/base/recycled.h"
#include "proxy/event/dispatcher.h"

namespace lb::proxy::event {

// Recycled: owners that free theirs while idle make one again per request without a malloc.
class LazyTimer final : public Recycled<LazyTimer> {
 public:
  // `cb` runs on the loop thread once the deadline passes. It may re-arm or destroy the timer.
  // The underlying timer is made by the first Arm().
  LazyTimer(Dispatcher& dispatcher, std::function<void()> cb)
      : dispatcher_(dispatcher), cb_(std::move(cb)) {}

  // Deadline `after` from now (replacing any earlier one).
  void Arm(absl::Duration after) {
    deadline_ = dispatcher_.MonotonicNow() + after;
    if (timer_ == nullptr) timer_ = dispatcher_.CreateTimer([this] { OnFire(); });
    if (!timer_->armed() || deadline_ < armed_for_) {
      armed_for_ = deadline_;
      timer_->Arm(after);
    }
  }
  void Disarm() { deadline_ = absl::InfiniteDuration(); }
  bool armed() const { return deadline_ != absl::InfiniteDuration(); }
  // Disarms and frees the underlying timer (the next Arm() makes one again): for owners that
  // may sit idle for long, holding many of these.
  void Release() {
    Disarm();
    timer_.reset();
  }

 private:
  void OnFire() {
    if (deadline_ == absl::InfiniteDuration()) return;  // Disarmed meanwhile.
    const absl::Duration now = dispatcher_.MonotonicNow();
    if (now < deadline_) {  // Moved later meanwhile.
      armed_for_ = deadline_;
      timer_->Arm(deadline_ - now);
      return;
    }
    deadline_ = absl::InfiniteDuration();
    cb_();
  }

  Dispatcher& dispatcher_;
  std::function<void()> cb_;
  std::unique_ptr<Timer> timer_;  // Null until armed, and after Release().
  // Monotonic deadlines.
  absl::Duration deadline_ = absl::InfiniteDuration();   // The one that counts.
  absl::Duration armed_for_ = absl::InfiniteDuration();  // The one timer_ waits for.
};

}  // namespace lb::proxy::event

#endif  // LB_PROXY_EVENT_LAZY_TIMER_H_
