#include "proxy/event/dispatcher.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/base/recycled.h"

namespace lb::proxy::event {

void EventEndQueue::Remove(EventEndHook* hook) {
  if (!hook->queued_) return;
  hook->queued_ = false;
  for (EventEndHook*& h : hooks_) {
    if (h == hook) h = nullptr;
  }
}

void EventEndQueue::Run() {
  // Index loop: hooks may queue more hooks while running.
  for (size_t i = 0; i < hooks_.size(); ++i) {
    EventEndHook* hook = hooks_[i];
    if (hook == nullptr) continue;
    hook->queued_ = false;
    hook->OnEventEnd();
  }
  hooks_.clear();
}

namespace {

struct EventDeleter {
  void operator()(::event* e) const { event_free(e); }
};
struct BaseDeleter {
  void operator()(event_base* b) const { event_base_free(b); }
};
using EventPtr = std::unique_ptr<::event, EventDeleter>;

// The event lives inside the watcher (one allocation per watched descriptor, not two: a
// connection keeps one for its whole life).
class LibeventFdWatcher final : public FdWatcher {
 public:
  // The event keeps the base and the descriptor; assigned now with no interest.
  LibeventFdWatcher(event_base* base, EventEndQueue* event_end, int fd,
                    std::function<void(uint32_t)> cb)
      : event_end_(event_end), cb_(std::move(cb)) {
    event_assign(&ev_, base, fd, 0, &LibeventFdWatcher::OnEvent, this);
  }
  ~LibeventFdWatcher() override {
    if (current_ != 0) event_del(&ev_);
  }

  void SetInterest(bool read, bool write) override {
    short want = (read ? EV_READ : 0) | (write ? EV_WRITE : 0);
    if (want == current_) return;
    if (current_ != 0) event_del(&ev_);
    current_ = want;
    if (want == 0) return;
    event_assign(&ev_, event_get_base(&ev_), event_get_fd(&ev_), want | EV_PERSIST,
                 &LibeventFdWatcher::OnEvent, this);
    event_add(&ev_, nullptr);
  }

 private:
  static void OnEvent(evutil_socket_t, short what, void* arg) {
    auto* self = static_cast<LibeventFdWatcher*>(arg);
    EventEndQueue* event_end = self->event_end_;
    uint32_t events =
        ((what & EV_READ) ? uint32_t{kRead} : 0u) | ((what & EV_WRITE) ? uint32_t{kWrite} : 0u);
    self->cb_(events);  // May destroy `self`.
    event_end->Run();
  }

  EventEndQueue* const event_end_;
  std::function<void(uint32_t)> cb_;
  ::event ev_;
  short current_ = 0;  // The interest ev_ is added with (0: not added).
};

// libevent keeps timers in a min-heap (O(log n) per add and delete). Timeouts that share one
// duration can instead go into a "common timeout" FIFO queue, O(1) each. The proxy arms a
// handful of distinct durations (header, idle, upstream, connect timeouts) several times per
// request, so each gets a queue; durations past kMaxCommonTimeouts fall back to the heap.
class CommonTimeouts {
 public:
  explicit CommonTimeouts(event_base* base) : base_(base) {}
  // The timeval to pass to event_add for `tv`: a common-timeout marker when possible.
  const timeval* For(const timeval& tv) {
    int64_t key = int64_t{tv.tv_sec} * 1000000 + tv.tv_usec;
    if (key == 0) return nullptr;
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCommonTimeouts) return nullptr;
    const timeval* common = event_base_init_common_timeout(base_, &tv);
    cache_.emplace(key, common);
    return common;
  }

 private:
  // libevent allows 256 per base; configs rarely use more than a few distinct durations.
  static constexpr size_t kMaxCommonTimeouts = 64;
  event_base* const base_;
  absl::flat_hash_map<int64_t, const timeval*> cache_;
};

// The event lives inside the timer (libevent's event_struct.h), and timers come from a per-thread
// free list (Recycled): creating one per request costs no allocation.
class LibeventTimer final : public Timer, public Recycled<LibeventTimer> {
 public:
  LibeventTimer(event_base* base, CommonTimeouts* common, EventEndQueue* event_end,
                std::function<void()> cb)
      : common_(common), event_end_(event_end), cb_(std::move(cb)) {
    evtimer_assign(&ev_, base, &LibeventTimer::OnEvent, this);
  }
  ~LibeventTimer() override { Disarm(); }

  void Arm(absl::Duration after) override {
    timeval tv = absl::ToTimeval(after < absl::ZeroDuration() ? absl::ZeroDuration() : after);
    const timeval* common = common_->For(tv);
    evtimer_add(&ev_, common != nullptr ? common : &tv);
    armed_ = true;
  }
  void Disarm() override {
    if (!armed_) return;  // The request path disarms more often than it arms.
    evtimer_del(&ev_);
    armed_ = false;
  }
  bool armed() const override { return armed_; }

 private:
  static void OnEvent(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<LibeventTimer*>(arg);
    EventEndQueue* event_end = self->event_end_;
    self->armed_ = false;
    self->cb_();  // May destroy `self`.
    event_end->Run();
  }
  CommonTimeouts* const common_;
  EventEndQueue* const event_end_;
  std::function<void()> cb_;
  ::event ev_;
  bool armed_ = false;
};

class LibeventDispatcher : public Dispatcher {
 public:
  absl::Status Init() {
    event_config* cfg = event_config_new();
    // Each base is used by one thread only; cross-thread wakeups go through an eventfd.
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    base_.reset(event_base_new_with_config(cfg));
    event_config_free(cfg);
    if (base_ == nullptr) return absl::InternalError("event_base_new failed");
    common_timeouts_ = std::make_unique<CommonTimeouts>(base_.get());
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
    wake_ev_.reset(
        event_new(base_.get(), wake_fd_, EV_READ | EV_PERSIST, &LibeventDispatcher::OnWake, this));
    event_add(wake_ev_.get(), nullptr);
    return absl::OkStatus();
  }

  ~LibeventDispatcher() override {
    ClearDeferred();
    wake_ev_.reset();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  void Run() override {
    loop_thread_.store(std::this_thread::get_id(), std::memory_order_release);
    while (!exit_.load(std::memory_order_acquire)) {
      event_base_loop(base_.get(), EVLOOP_ONCE);
      event_end_.Run();  // Anything queued outside a callback.
      if (turn_end_) turn_end_();
      ClearDeferred();
    }
    loop_thread_.store(std::thread::id(), std::memory_order_release);
  }

  void RunAtEventEnd(EventEndHook* hook) override { event_end_.Add(hook); }
  void CancelEventEnd(EventEndHook* hook) override { event_end_.Remove(hook); }

  void DeferredDelete(std::unique_ptr<DeferredDeletable> object) override {
    deferred_.push_back(std::move(object));
  }

  bool IsThreadSafe() const override {
    std::thread::id loop = loop_thread_.load(std::memory_order_acquire);
    return loop == std::thread::id() || loop == std::this_thread::get_id();
  }

  void Exit() override {
    exit_.store(true, std::memory_order_release);
    Wake();
  }

  void Post(std::function<void()> fn) override {
    bool wake;
    {
      absl::MutexLock lock(&mu_);
      wake = posted_.empty();
      posted_.push_back(std::move(fn));
    }
    if (wake) Wake();
  }

  std::unique_ptr<FdWatcher> WatchFd(int fd, std::function<void(uint32_t)> cb) override {
    return std::make_unique<LibeventFdWatcher>(base_.get(), &event_end_, fd, std::move(cb));
  }

  std::unique_ptr<Timer> CreateTimer(std::function<void()> cb) override {
    return std::make_unique<LibeventTimer>(base_.get(), common_timeouts_.get(), &event_end_,
                                           std::move(cb));
  }

  void SetTurnEnd(std::function<void()> fn) override { turn_end_ = std::move(fn); }

  // libevent caches the time once per wake-up while callbacks run; outside the loop this reads
  // the clock.
  absl::Duration MonotonicNow() override {
    // The real clock: a dispatcher is the time source of its loop.
    return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }

  absl::Time Now() override {
    timeval tv;
    event_base_gettimeofday_cached(base_.get(), &tv);
    return absl::TimeFromTimeval(tv);
  }

 private:
  // Deleting an object may defer more deletions: repeat until none is left. Both vectors keep
  // their capacity, so a loop turn allocates nothing here.
  void ClearDeferred() {
    while (!deferred_.empty()) {
      deleting_.swap(deferred_);
      deleting_.clear();
    }
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }

  static void OnWake(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<LibeventDispatcher*>(arg);
    uint64_t n;
    (void)!read(fd, &n, sizeof(n));
    std::deque<std::function<void()>> work;
    {
      absl::MutexLock lock(&self->mu_);
      work.swap(self->posted_);
    }
    for (auto& fn : work) {
      fn();
      self->event_end_.Run();
    }
  }

  std::unique_ptr<event_base, BaseDeleter> base_;
  std::unique_ptr<CommonTimeouts> common_timeouts_;
  int wake_fd_ = -1;
  EventPtr wake_ev_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> exit_{false};
  std::function<void()> turn_end_;
  std::vector<std::unique_ptr<DeferredDeletable>> deferred_;
  std::vector<std::unique_ptr<DeferredDeletable>> deleting_;
  EventEndQueue event_end_;
  std::atomic<std::thread::id> loop_thread_{};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Create() {
  auto d = std::make_unique<LibeventDispatcher>();
  if (absl::Status s = d->Init(); !s.ok()) return s;
  return d;
}

}  // namespace lb::proxy::event
