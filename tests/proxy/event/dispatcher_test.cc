#include "proxy/event/dispatcher.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/check.h"
#include "gtest/gtest.h"

namespace lb::proxy::event {
namespace {

// Runs `d` on this thread until Exit() or `limit` passes (then fails the test).
void RunBounded(Dispatcher& d, absl::Duration limit = absl::Seconds(5)) {
  std::unique_ptr<Timer> guard = d.CreateTimer([&d] {
    ADD_FAILURE() << "dispatcher did not exit in time";
    d.Exit();
  });
  guard->Arm(limit);
  d.Run();
}

TEST(DispatcherTest, TimersWithOneDurationFireInArmingOrder) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  std::vector<int> fired;
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 20; ++i) {
    timers.push_back((*d)->CreateTimer([&, i] {
      fired.push_back(i);
      if (fired.size() == 20) (*d)->Exit();
    }));
  }
  for (auto& t : timers) t->Arm(absl::Milliseconds(10));
  RunBounded(**d);
  std::vector<int> want;
  for (int i = 0; i < 20; ++i) want.push_back(i);
  EXPECT_EQ(fired, want);
  for (auto& t : timers) EXPECT_FALSE(t->armed());
}

TEST(DispatcherTest, RearmReplacesTheDeadlineAndDisarmCancels) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  std::vector<std::string> fired;
  std::unique_ptr<Timer> a = (*d)->CreateTimer([&] { fired.push_back("a"); });
  std::unique_ptr<Timer> b = (*d)->CreateTimer([&] { fired.push_back("b"); });
  std::unique_ptr<Timer> cancelled = (*d)->CreateTimer([&] { fired.push_back("cancelled"); });
  std::unique_ptr<Timer> end = (*d)->CreateTimer([&] { (*d)->Exit(); });
  a->Arm(absl::Milliseconds(5));
  b->Arm(absl::Milliseconds(20));
  a->Arm(absl::Milliseconds(40));  // Now after b.
  cancelled->Arm(absl::Milliseconds(5));
  cancelled->Disarm();
  EXPECT_TRUE(a->armed());
  EXPECT_FALSE(cancelled->armed());
  end->Arm(absl::Milliseconds(80));
  RunBounded(**d);
  EXPECT_EQ(fired, (std::vector<std::string>{"b", "a"}));
}

TEST(DispatcherTest, ManyDistinctDurationsAndZeroAllFire) {
  // More distinct durations than the common-timeout cache holds: the rest use the heap.
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  constexpr int kTimers = 150;
  int fired = 0;
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < kTimers; ++i) {
    timers.push_back((*d)->CreateTimer([&] {
      if (++fired == kTimers + 2) (*d)->Exit();
    }));
    timers.back()->Arm(absl::Microseconds(1000 + 37 * i));
  }
  timers.push_back((*d)->CreateTimer([&] {
    if (++fired == kTimers + 2) (*d)->Exit();
  }));
  timers.back()->Arm(absl::ZeroDuration());
  timers.push_back((*d)->CreateTimer([&] {
    if (++fired == kTimers + 2) (*d)->Exit();
  }));
  timers.back()->Arm(-absl::Seconds(1));  // Negative means now.
  RunBounded(**d);
  EXPECT_EQ(fired, kTimers + 2);
}

TEST(DispatcherTest, PostFromOtherThreadsRunsInOrderOnTheLoop) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  std::vector<int> seen;
  std::thread::id loop_thread = std::this_thread::get_id();
  bool all_on_loop = true;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      (*d)->Post([&, i] {
        all_on_loop = all_on_loop && std::this_thread::get_id() == loop_thread;
        seen.push_back(i);
        if (i == 99) (*d)->Exit();
      });
    }
  });
  RunBounded(**d);
  poster.join();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_TRUE(all_on_loop);
}

TEST(DispatcherTest, TurnEndRunsAfterTheCallbacksOfEachWakeUp) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  std::vector<std::string> seen;
  (*d)->SetTurnEnd([&] {
    if (seen.empty()) return;  // A turn with nothing for us (e.g. the guard timer's setup).
    seen.push_back("end");
    if (seen.size() >= 4) (*d)->Exit();
  });
  (*d)->Post([&] { seen.push_back("a"); });
  (*d)->Post([&] { seen.push_back("b"); });
  (*d)->Post([&] { seen.push_back("c"); });
  RunBounded(**d);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "end"}));
}

TEST(DispatcherTest, FdWatcherReportsReadAndWriteAndStopsWhenDisabled) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  int reads = 0, writes = 0;
  std::unique_ptr<FdWatcher> w;
  w = (*d)->WatchFd(sv[0], [&](uint32_t ev) {
    if (ev & FdWatcher::kWrite) {
      ++writes;
      w->SetInterest(true, false);  // Writable once is enough.
      ASSERT_EQ(write(sv[1], "x", 1), 1);
    }
    if (ev & FdWatcher::kRead) {
      ++reads;
      char c;
      ASSERT_EQ(read(sv[0], &c, 1), 1);
      w->SetInterest(false, false);
      (*d)->Post([&] { (*d)->Exit(); });
    }
  });
  w->SetInterest(false, true);
  RunBounded(**d);
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(reads, 1);
  close(sv[0]);
  close(sv[1]);
}

TEST(DispatcherTest, NowAdvancesBetweenIterations) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  absl::Time first = (*d)->Now();
  absl::Time later;
  std::unique_ptr<Timer> t = (*d)->CreateTimer([&] {
    later = (*d)->Now();
    (*d)->Exit();
  });
  t->Arm(absl::Milliseconds(20));
  RunBounded(**d);
  EXPECT_GE(later - first, absl::Milliseconds(15));
  EXPECT_LT(later - first, absl::Seconds(5));
}

// The "loop thread only" contract: IsThreadSafe() holds on the loop's thread while it runs and
// before/after (set-up, tear-down), not on another thread meanwhile; LB_DCHECK(IsThreadSafe())
// aborts there in builds without NDEBUG (the clang build).
TEST(DispatcherTest, IsThreadSafeOnlyOnTheRunningLoopsThread) {
  auto d = Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)->IsThreadSafe());  // Not running: whoever owns it.
  bool on_loop = false;
  absl::Notification running;
  absl::Notification checked;
  (*d)->Post([&] {
    on_loop = (*d)->IsThreadSafe();
    running.Notify();
  });
  std::thread loop([&] {
    std::unique_ptr<Timer> poll;
    poll = (*d)->CreateTimer([&] {
      if (checked.HasBeenNotified()) {
        (*d)->Exit();
      } else {
        poll->Arm(absl::Milliseconds(1));
      }
    });
    poll->Arm(absl::Milliseconds(1));
    RunBounded(**d);
  });
  ASSERT_TRUE(running.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE((*d)->IsThreadSafe());
#ifndef NDEBUG
  EXPECT_DEATH(LB_DCHECK((*d)->IsThreadSafe()), "check failed: \\(\\*d\\)->IsThreadSafe\\(\\)");
#endif
  checked.Notify();
  loop.join();
  EXPECT_TRUE((*d)->IsThreadSafe());
}

}  // namespace
}  // namespace lb::proxy::event
