#include "proxy/event/lazy_timer.h"

#include "gtest/gtest.h"
#include "tests/test_common/event/simulated_time_dispatcher.h"

namespace lb::proxy::event {
namespace {

class LazyTimerTest : public ::testing::Test {
 protected:
  testing::SimulatedTimeDispatcher sim_;
  int fired_ = 0;
  LazyTimer timer_{sim_, [this] { ++fired_; }};
};

TEST_F(LazyTimerTest, FiresAtTheDeadline) {
  timer_.Arm(absl::Seconds(10));
  EXPECT_TRUE(timer_.armed());
  sim_.AdvanceTimeAndRun(absl::Milliseconds(9999));
  EXPECT_EQ(fired_, 0);
  sim_.AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_EQ(fired_, 1);
  EXPECT_FALSE(timer_.armed());
  sim_.AdvanceTimeAndRun(absl::Hours(1));
  EXPECT_EQ(fired_, 1);  // One-shot.
}

TEST_F(LazyTimerTest, MovingTheDeadlineLaterDelaysItWithoutFiringEarly) {
  timer_.Arm(absl::Seconds(10));
  sim_.AdvanceTimeAndRun(absl::Seconds(5));
  timer_.Arm(absl::Seconds(10));  // Now due at 15 s.
  EXPECT_EQ(sim_.armed_timers(), 1u);
  sim_.AdvanceTimeAndRun(absl::Seconds(5));  // The underlying timer wakes at 10 s...
  EXPECT_EQ(fired_, 0);                      // ... and re-arms for the rest.
  sim_.AdvanceTimeAndRun(absl::Milliseconds(4999));
  EXPECT_EQ(fired_, 0);
  sim_.AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_EQ(fired_, 1);
}

TEST_F(LazyTimerTest, MovingTheDeadlineEarlierReArms) {
  timer_.Arm(absl::Seconds(60));
  timer_.Arm(absl::Seconds(1));
  sim_.AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(fired_, 1);
}

TEST_F(LazyTimerTest, DisarmedNeverFiresAndCanBeArmedAgain) {
  timer_.Arm(absl::Seconds(1));
  timer_.Disarm();
  EXPECT_FALSE(timer_.armed());
  sim_.AdvanceTimeAndRun(absl::Seconds(5));
  EXPECT_EQ(fired_, 0);
  EXPECT_EQ(sim_.armed_timers(), 0u);  // The spurious wake-up did not re-arm.
  timer_.Arm(absl::Seconds(1));
  sim_.AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(fired_, 1);
}

TEST_F(LazyTimerTest, ReleaseDropsTheUnderlyingTimerAndArmMakesItAgain) {
  EXPECT_EQ(sim_.armed_timers(), 0u);  // Nothing is made before the first Arm().
  timer_.Arm(absl::Seconds(1));
  EXPECT_EQ(sim_.armed_timers(), 1u);
  timer_.Release();
  EXPECT_FALSE(timer_.armed());
  EXPECT_EQ(sim_.armed_timers(), 0u);
  sim_.AdvanceTimeAndRun(absl::Seconds(5));
  EXPECT_EQ(fired_, 0);
  timer_.Arm(absl::Seconds(2));
  sim_.AdvanceTimeAndRun(absl::Milliseconds(1999));
  EXPECT_EQ(fired_, 0);
  sim_.AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_EQ(fired_, 1);
}

TEST_F(LazyTimerTest, CallbackMayRelease) {
  LazyTimer* self = nullptr;
  int fired = 0;
  LazyTimer releasing(sim_, [&] {
    ++fired;
    self->Release();
  });
  self = &releasing;
  releasing.Arm(absl::Seconds(1));
  sim_.AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(fired, 1);
  releasing.Arm(absl::Seconds(1));
  sim_.AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(fired, 2);
}

TEST_F(LazyTimerTest, CallbackMayReArm) {
  int ticks = 0;
  LazyTimer* self = nullptr;
  LazyTimer ticking(sim_, [&] {
    if (++ticks < 3) self->Arm(absl::Seconds(1));
  });
  self = &ticking;
  ticking.Arm(absl::Seconds(1));
  sim_.AdvanceTimeAndRun(absl::Seconds(10));
  EXPECT_EQ(ticks, 3);
}

}  // namespace
}  // namespace lb::proxy::event
