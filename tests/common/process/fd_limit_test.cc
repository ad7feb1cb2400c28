#include "common/process/fd_limit.h"

#include <sys/resource.h>

#include "gtest/gtest.h"

namespace lb::process {
namespace {

TEST(FdLimitTest, RaisesTheSoftLimitToTheHardLimit) {
  rlimit r{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &r), 0);
  rlimit lowered{r.rlim_max > 512 ? 512 : r.rlim_max, r.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);

  absl::StatusOr<FdLimit> limit = RaiseOpenFileLimit();
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ(limit->before, lowered.rlim_cur);
  EXPECT_EQ(limit->now, r.rlim_max);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &r), 0);
  EXPECT_EQ(r.rlim_cur, r.rlim_max);
}

TEST(FdLimitTest, ConnectionsLeaveRoomForUpstreamsAndTheReserve) {
  EXPECT_EQ(ConnectionsFor(1024), 480u);
  EXPECT_EQ(ConnectionsFor(1048576), 524256u);
  EXPECT_EQ(ConnectionsFor(100, 64), 18u);
  EXPECT_EQ(ConnectionsFor(64, 64), 1u);
  EXPECT_EQ(ConnectionsFor(0), 1u);
}

}  // namespace
}  // namespace lb::process
