// A Dispatcher whose timers run on simulated time, for tests. Everything else (fds, posts,
// deferred deletes, event-end hooks) is a real libevent dispatcher's, so code under test can
// talk to real sockets while its timeouts and intervals only pass when the test says so.
//
// Two ways to use it:
//  - with a thread running Run(): AdvanceTimeAndRun() may be called from any other thread; it
//    fires each due timer on the loop thread, one posted closure per timer, in deadline order,
//    and returns once they ran;
//  - with no loop running (single-threaded unit tests): AdvanceTimeAndRun() fires due timers on
//    the calling thread, and event-end hooks and deferred deletions wait for RunPendingWork()
//    (which AdvanceTimeAndRun() also does after each timer), as the loop would run them after
//    each callback.
#ifndef LB_TESTS_TEST_COMMON_EVENT_SIMULATED_TIME_DISPATCHER_H_
#define LB_TESTS_TEST_COMMON_EVENT_SIMULATED_TIME_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "proxy/event/dispatcher.h"

namespace lb::testing {

class SimulatedTimeDispatcher final : public proxy::event::Dispatcher {
 public:
  explicit SimulatedTimeDispatcher(absl::Time start = absl::FromUnixSeconds(1'700'000'000));
  ~SimulatedTimeDispatcher() override;

  // Moves the time forward by `d`, firing every timer that falls due on the way at its own
  // deadline (timers armed by those callbacks included).
  void AdvanceTimeAndRun(absl::Duration d);
  // Armed timers.
  size_t armed_timers() const;
  // Runs `fn` on the loop thread and waits for it (directly when no loop runs).
  void RunOnLoop(std::function<void()> fn);
  // No loop running: runs the queued event-end hooks, then frees what was deferred.
  void RunPendingWork();

  // Dispatcher.
  void Run() override;
  void Exit() override;
  void Post(std::function<void()> fn) override;
  void SetTurnEnd(std::function<void()> fn) override;
  void RunAtEventEnd(proxy::event::EventEndHook* hook) override;
  void CancelEventEnd(proxy::event::EventEndHook* hook) override;
  void DeferredDelete(std::unique_ptr<proxy::event::DeferredDeletable> object) override;
  bool IsThreadSafe() const override;
  std::unique_ptr<proxy::event::FdWatcher> WatchFd(int fd,
                                                   std::function<void(uint32_t)> cb) override;
  std::unique_ptr<proxy::event::Timer> CreateTimer(std::function<void()> cb) override;
  absl::Time Now() override;
  absl::Duration MonotonicNow() override { return Now() - absl::UnixEpoch(); }

 private:
  class SimTimer;
  using Key = std::pair<absl::Time, uint64_t>;  // Deadline, arming order.

  // Loop thread (or caller when no loop runs): fires the earliest timer due by `until`;
  // false if none.
  bool FireNext(absl::Time until);

  std::unique_ptr<proxy::event::Dispatcher> real_;
  std::atomic<int64_t> now_ns_;  // Since the Unix epoch.
  std::atomic<bool> running_{false};
  uint64_t next_seq_ = 0;            // Loop thread.
  std::map<Key, SimTimer*> timers_;  // Loop thread.
  // Without a running loop:
  proxy::event::EventEndQueue event_end_;
  std::vector<std::unique_ptr<proxy::event::DeferredDeletable>> deferred_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_EVENT_SIMULATED_TIME_DISPATCHER_H_
