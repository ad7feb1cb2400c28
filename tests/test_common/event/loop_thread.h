// A SimulatedTimeDispatcher running on its own thread, like a worker's or the proxy's main
// loop: tests reach code under test only through Run() (on the loop, waited for), and move
// its clock with Advance().
#ifndef LB_TESTS_TEST_COMMON_EVENT_LOOP_THREAD_H_
#define LB_TESTS_TEST_COMMON_EVENT_LOOP_THREAD_H_

#include <functional>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/test_common/event/simulated_time_dispatcher.h"

namespace lb::testing {

class LoopThread {
 public:
  LoopThread() : thread_([this] { dispatcher_.Run(); }) {
    // Bounded: the thread starts the loop within moments.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (dispatcher_.IsThreadSafe() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  ~LoopThread() {
    dispatcher_.Exit();
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  SimulatedTimeDispatcher& dispatcher() { return dispatcher_; }
  // Runs `fn` on the loop thread and waits for it.
  void Run(std::function<void()> fn) { dispatcher_.RunOnLoop(std::move(fn)); }
  void Advance(absl::Duration d) { dispatcher_.AdvanceTimeAndRun(d); }

 private:
  SimulatedTimeDispatcher dispatcher_;
  std::thread thread_;
};

// Polls `pred` (real time, for real I/O) until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_EVENT_LOOP_THREAD_H_
