#include "proxy/event/dispatcher.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace lb::proxy::event {
namespace {

struct EventDeleter {
  void operator()(::event* e) const { event_free(e); }
};
struct BaseDeleter {
  void operator()(event_base* b) const { event_base_free(b); }
};
using EventPtr = std::unique_ptr<::event, EventDeleter>;

class LibeventFdWatcher : public FdWatcher {
 public:
  LibeventFdWatcher(event_base* base, int fd, std::function<void(uint32_t)> cb)
      : base_(base), fd_(fd), cb_(std::move(cb)) {}

  void SetInterest(bool read, bool write) override {
    short want = (read ? EV_READ : 0) | (write ? EV_WRITE : 0);
    if (want == current_) return;
    if (ev_ != nullptr) event_del(ev_.get());
    current_ = want;
    if (want == 0) return;
    if (ev_ == nullptr) {
      ev_.reset(event_new(base_, fd_, want | EV_PERSIST, &LibeventFdWatcher::OnEvent, this));
    } else {
      event_assign(ev_.get(), base_, fd_, want | EV_PERSIST, &LibeventFdWatcher::OnEvent, this);
    }
    event_add(ev_.get(), nullptr);
  }

 private:
  static void OnEvent(evutil_socket_t, short what, void* arg) {
    auto* self = static_cast<LibeventFdWatcher*>(arg);
    uint32_t events = ((what & EV_READ) ? kRead : 0) | ((what & EV_WRITE) ? kWrite : 0);
    self->cb_(events);  // May destroy `self`.
  }

  event_base* const base_;
  const int fd_;
  std::function<void(uint32_t)> cb_;
  EventPtr ev_;
  short current_ = 0;
};

class LibeventTimer : public Timer {
 public:
  LibeventTimer(event_base* base, std::function<void()> cb) : cb_(std::move(cb)) {
    ev_.reset(evtimer_new(base, &LibeventTimer::OnEvent, this));
  }
  void Arm(absl::Duration after) override {
    timeval tv = absl::ToTimeval(after < absl::ZeroDuration() ? absl::ZeroDuration() : after);
    evtimer_add(ev_.get(), &tv);
    armed_ = true;
  }
  void Disarm() override {
    evtimer_del(ev_.get());
    armed_ = false;
  }
  bool armed() const override { return armed_; }

 private:
  static void OnEvent(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<LibeventTimer*>(arg);
    self->armed_ = false;
    self->cb_();  // May destroy `self`.
  }
  std::function<void()> cb_;
  EventPtr ev_;
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
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
    wake_ev_.reset(
        event_new(base_.get(), wake_fd_, EV_READ | EV_PERSIST, &LibeventDispatcher::OnWake, this));
    event_add(wake_ev_.get(), nullptr);
    return absl::OkStatus();
  }

  ~LibeventDispatcher() override {
    wake_ev_.reset();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  void Run() override {
    while (!exit_.load(std::memory_order_acquire)) {
      event_base_loop(base_.get(), EVLOOP_ONCE);
      have_now_ = false;
    }
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
    return std::make_unique<LibeventFdWatcher>(base_.get(), fd, std::move(cb));
  }

  std::unique_ptr<Timer> CreateTimer(std::function<void()> cb) override {
    return std::make_unique<LibeventTimer>(base_.get(), std::move(cb));
  }

  event_base* native_base() override { return base_.get(); }

  absl::Time Now() override {
    if (!have_now_) {
      timeval tv;
      event_base_gettimeofday_cached(base_.get(), &tv);
      now_ = absl::TimeFromTimeval(tv);
      have_now_ = true;
    }
    return now_;
  }

 private:
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
    for (auto& fn : work) fn();
  }

  std::unique_ptr<event_base, BaseDeleter> base_;
  int wake_fd_ = -1;
  EventPtr wake_ev_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> exit_{false};
  bool have_now_ = false;
  absl::Time now_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Create() {
  auto d = std::make_unique<LibeventDispatcher>();
  if (absl::Status s = d->Init(); !s.ok()) return s;
  return d;
}

}  // namespace lb::proxy::event
