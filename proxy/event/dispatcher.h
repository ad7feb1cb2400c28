// The proxy's event-loop seam. One Dispatcher per thread; nothing outside proxy/event/ includes
// libevent. Threads talk only by posting closures to each other's dispatcher.
#ifndef LB_PROXY_EVENT_DISPATCHER_H_
#define LB_PROXY_EVENT_DISPATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lb::proxy::event {

// Readiness of a file descriptor. Level-triggered: a callback keeps firing while the condition
// holds and the interest is enabled.
class FdWatcher {
 public:
  enum Events : uint32_t { kRead = 1, kWrite = 2 };
  virtual ~FdWatcher() = default;  // Stops watching; does not close the fd.
  // Enables or disables interest in readability / writability.
  virtual void SetInterest(bool read, bool write) = 0;
};

// Something the dispatcher deletes at the end of the current loop turn (DeferredDelete), when
// none of its callbacks can be on the stack.
class DeferredDeletable {
 public:
  virtual ~DeferredDeletable() = default;
};

// Work that runs once the current event callback returns (see Dispatcher::RunAtEventEnd).
class EventEndHook {
 public:
  virtual ~EventEndHook() = default;
  virtual void OnEventEnd() = 0;

 private:
  friend class EventEndQueue;
  bool queued_ = false;
};

// The hooks queued during one event callback. Used by dispatcher implementations.
class EventEndQueue {
 public:
  void Add(EventEndHook* hook) {
    if (hook->queued_) return;
    hook->queued_ = true;
    hooks_.push_back(hook);
  }
  void Remove(EventEndHook* hook);
  // Runs the queued hooks (and those they queue) in order.
  void Run();

 private:
  std::vector<EventEndHook*> hooks_;
};

// A one-shot timer. Re-arming replaces the previous deadline.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void Arm(absl::Duration after) = 0;
  virtual void Disarm() = 0;
  virtual bool armed() const = 0;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;

  // A libevent loop. Post() and Exit() may be called from any thread; everything else only on
  // the loop thread.
  static absl::StatusOr<std::unique_ptr<Dispatcher>> Create();

  // Runs the loop on the calling thread until Exit().
  virtual void Run() = 0;
  // Any thread. Run() returns after the current iteration.
  virtual void Exit() = 0;
  // Any thread. `fn` runs on the loop thread, in posting order.
  virtual void Post(std::function<void()> fn) = 0;

  // Loop thread only. `fn` runs on the loop thread after the callbacks of each wake-up (once
  // per loop turn), e.g. to write out what those callbacks queued. Replaces any previous one.
  virtual void SetTurnEnd(std::function<void()> fn) = 0;

  // Loop thread only. `hook->OnEventEnd()` runs once the current event callback (fd, timer or
  // posted closure) has returned, before the next one: several connections written to by one
  // callback go out then, each in one system call. Queuing a queued hook does nothing. The
  // hook must live until it ran or CancelEventEnd(hook) was called.
  virtual void RunAtEventEnd(EventEndHook* hook) = 0;
  virtual void CancelEventEnd(EventEndHook* hook) = 0;

  // Loop thread only. Deletes `object` at the end of the current loop turn (or when the
  // dispatcher is destroyed), in the order given.
  virtual void DeferredDelete(std::unique_ptr<DeferredDeletable> object) = 0;

  // True on the thread that runs the loop, and on any thread while no thread runs it (set-up
  // and tear-down). For LB_DCHECK(dispatcher.IsThreadSafe()) on "loop thread only" calls.
  virtual bool IsThreadSafe() const = 0;

  // Loop thread only. `cb(events)` runs on the loop thread.
  virtual std::unique_ptr<FdWatcher> WatchFd(int fd, std::function<void(uint32_t)> cb) = 0;
  virtual std::unique_ptr<Timer> CreateTimer(std::function<void()> cb) = 0;

  // Time of the current wake-up when called from a callback (cached by the loop, cheap), the
  // clock otherwise. Wall-clock time: for stats and logs.
  virtual absl::Time Now() = 0;
  // A clock that never jumps (CLOCK_MONOTONIC; the simulated time in tests), as a duration
  // since an arbitrary origin. For deadlines.
  virtual absl::Duration MonotonicNow() = 0;
};

}  // namespace lb::proxy::event

#endif  // LB_PROXY_EVENT_DISPATCHER_H_
