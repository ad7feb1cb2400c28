// The proxy's event-loop seam. One Dispatcher per thread; nothing outside proxy/event/ includes
// libevent. Threads talk only by posting closures to each other's dispatcher.
#ifndef LB_PROXY_EVENT_DISPATCHER_H_
#define LB_PROXY_EVENT_DISPATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct event_base;

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

  // `thread_safe_post`: Post() may be called from other threads (always true here; the loop
  // itself is never touched by other threads).
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

  // Loop thread only. `cb(events)` runs on the loop thread.
  virtual std::unique_ptr<FdWatcher> WatchFd(int fd, std::function<void(uint32_t)> cb) = 0;
  virtual std::unique_ptr<Timer> CreateTimer(std::function<void()> cb) = 0;

  // Time of the current wake-up when called from a callback (cached by the loop, cheap), the
  // clock otherwise. For timeouts and stats.
  virtual absl::Time Now() = 0;

  // The libevent base, for the few components that drive libevent themselves (the active
  // health checker). Loop thread only.
  virtual struct event_base* native_base() = 0;
};

}  // namespace lb::proxy::event

#endif  // LB_PROXY_EVENT_DISPATCHER_H_
