#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "common/time/simulated_clock.h"
#include "gtest/gtest.h"

namespace lb {
namespace {

TEST(RealClockTest, NowFollowsAbslNow) {
  absl::Time before = absl::Now();
  absl::Time now = Clock::Real()->Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

TEST(RealClockTest, AwaitReturnsConditionOrTimesOut) {
  absl::Mutex mu;
  bool flag = true;
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(Clock::Real()->AwaitWithTimeout(&mu, absl::Condition(&flag), absl::Seconds(5)));
  flag = false;
  EXPECT_FALSE(Clock::Real()->AwaitWithTimeout(&mu, absl::Condition(&flag), absl::Milliseconds(1)));
}

TEST(SimulatedClockTest, OnlyMovesWhenAdvanced) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.Advance(-absl::Seconds(1));  // Never backwards.
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
}

TEST(SimulatedClockTest, PastDeadlineReturnsAtOnce) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(clock.AwaitWithDeadline(&mu, absl::Condition(&flag), clock.Now()));
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(SimulatedClockTest, WaitEndsWhenAdvancedPastDeadlineNotBefore) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithTimeout(&mu, absl::Condition(&flag), absl::Hours(1)) ? 1 : 0;
  });
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(absl::Minutes(59));
  EXPECT_EQ(clock.waiters(), 1u);  // Not due yet: still waiting.
  EXPECT_EQ(result.load(), -1);
  clock.Advance(absl::Minutes(1));
  waiter.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(SimulatedClockTest, WaitEndsWhenConditionHolds) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithTimeout(&mu, absl::Condition(&flag), absl::Hours(1)) ? 1 : 0;
  });
  ASSERT_TRUE(clock.WaitForWaiters(1));
  {
    absl::MutexLock lock(&mu);
    flag = true;
  }
  waiter.join();
  EXPECT_EQ(result.load(), 1);
}

// Many waiters with different deadlines, woken by many small advances from another thread
// while the waiters' owners take their mutex and read the clock: no deadlock, everyone wakes.
TEST(SimulatedClockTest, ManyWaitersNoDeadlock) {
  SimulatedClock clock;
  constexpr int kThreads = 8;
  absl::Mutex mu;
  bool never = false;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 20; ++round) {
        absl::MutexLock lock(&mu);
        (void)clock.Now();
        clock.AwaitWithTimeout(&mu, absl::Condition(&never), absl::Seconds(1 + i));
      }
      ++done;
    });
  }
  for (int step = 0; step < 100000 && done.load() < kThreads; ++step) {
    clock.Advance(absl::Seconds(1));
    std::this_thread::yield();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), kThreads);
}

}  // namespace
}  // namespace lb
