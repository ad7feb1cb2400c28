#include "tests/test_common/event/simulated_time_dispatcher.h"

#include "absl/synchronization/notification.h"

namespace lb::testing {

class SimulatedTimeDispatcher::SimTimer final : public proxy::event::Timer {
 public:
  SimTimer(SimulatedTimeDispatcher* owner, std::function<void()> cb)
      : owner_(owner), cb_(std::move(cb)) {}
  ~SimTimer() override { Disarm(); }

  void Arm(absl::Duration after) override {
    Disarm();
    if (after < absl::ZeroDuration()) after = absl::ZeroDuration();
    key_ = {owner_->Now() + after, owner_->next_seq_++};
    owner_->timers_.emplace(key_, this);
    armed_ = true;
  }
  void Disarm() override {
    if (!armed_) return;
    owner_->timers_.erase(key_);
    armed_ = false;
  }
  bool armed() const override { return armed_; }

  void Fire() {
    Disarm();
    cb_();  // May destroy `this`.
  }

 private:
  SimulatedTimeDispatcher* const owner_;
  std::function<void()> cb_;
  Key key_;
  bool armed_ = false;
};

SimulatedTimeDispatcher::SimulatedTimeDispatcher(absl::Time start)
    : now_ns_(absl::ToUnixNanos(start)) {
  absl::StatusOr<std::unique_ptr<proxy::event::Dispatcher>> real =
      proxy::event::Dispatcher::Create();
  real_ = std::move(*real);
}

SimulatedTimeDispatcher::~SimulatedTimeDispatcher() = default;

absl::Time SimulatedTimeDispatcher::Now() {
  return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
}

bool SimulatedTimeDispatcher::FireNext(absl::Time until) {
  if (timers_.empty() || timers_.begin()->first.first > until) return false;
  auto it = timers_.begin();
  if (it->first.first > Now()) now_ns_.store(absl::ToUnixNanos(it->first.first));
  it->second->Fire();
  return true;
}

void SimulatedTimeDispatcher::AdvanceTimeAndRun(absl::Duration d) {
  const absl::Time until = Now() + d;
  if (!running_.load(std::memory_order_acquire)) {
    while (FireNext(until)) {
    }
  } else {
    while (true) {
      bool fired = false;
      RunOnLoop([&] { fired = FireNext(until); });
      if (!fired) break;
    }
  }
  if (Now() < until) now_ns_.store(absl::ToUnixNanos(until), std::memory_order_release);
}

size_t SimulatedTimeDispatcher::armed_timers() const { return timers_.size(); }

void SimulatedTimeDispatcher::RunOnLoop(std::function<void()> fn) {
  if (!running_.load(std::memory_order_acquire) || real_->IsThreadSafe()) {
    fn();
    return;
  }
  absl::Notification done;
  real_->Post([&] {
    fn();
    done.Notify();
  });
  done.WaitForNotification();
}

void SimulatedTimeDispatcher::Run() {
  running_.store(true, std::memory_order_release);
  real_->Run();
  running_.store(false, std::memory_order_release);
}

void SimulatedTimeDispatcher::Exit() { real_->Exit(); }
void SimulatedTimeDispatcher::Post(std::function<void()> fn) { real_->Post(std::move(fn)); }
void SimulatedTimeDispatcher::SetTurnEnd(std::function<void()> fn) {
  real_->SetTurnEnd(std::move(fn));
}
void SimulatedTimeDispatcher::RunAtEventEnd(proxy::event::EventEndHook* hook) {
  real_->RunAtEventEnd(hook);
}
void SimulatedTimeDispatcher::CancelEventEnd(proxy::event::EventEndHook* hook) {
  real_->CancelEventEnd(hook);
}
void SimulatedTimeDispatcher::DeferredDelete(
    std::unique_ptr<proxy::event::DeferredDeletable> object) {
  real_->DeferredDelete(std::move(object));
}
bool SimulatedTimeDispatcher::IsThreadSafe() const { return real_->IsThreadSafe(); }
std::unique_ptr<proxy::event::FdWatcher> SimulatedTimeDispatcher::WatchFd(
    int fd, std::function<void(uint32_t)> cb) {
  return real_->WatchFd(fd, std::move(cb));
}
std::unique_ptr<proxy::event::Timer> SimulatedTimeDispatcher::CreateTimer(
    std::function<void()> cb) {
  return std::make_unique<SimTimer>(this, std::move(cb));
}

}  // namespace lb::testing
