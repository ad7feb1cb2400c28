// FdGroup over real sockets, on a loop thread: members report when readable (bytes or the
// peer's close), removed ones never do, and a callback may remove and close its own member.
#include "proxy/event/fd_group.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proxy/event/socket.h"
#include "tests/test_common/event/loop_thread.h"

namespace lb::proxy::event {
namespace {

using testing::LoopThread;
using testing::WaitFor;

class FdGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto& pair : pairs_) {
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    }
    loop_.Run([&] {
      absl::StatusOr<std::unique_ptr<FdGroup>> group =
          FdGroup::Create(loop_.dispatcher(), [this](void* tag) {
            const int i = static_cast<int>(reinterpret_cast<intptr_t>(tag));
            reports_.push_back(i);
            // Like a parked connection: take the member out and close it once it reports.
            group_->Remove(pairs_[i][0]);
            close(pairs_[i][0]);
            pairs_[i][0] = -1;
          });
      ASSERT_TRUE(group.ok()) << group.status();
      group_ = std::move(*group);
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(group_->Add(pairs_[i][0], reinterpret_cast<void*>(intptr_t{i})).ok());
      }
    });
  }
  void TearDown() override {
    loop_.Run([&] { group_.reset(); });
    for (auto& pair : pairs_) {
      for (int fd : pair) {
        if (fd >= 0) close(fd);
      }
    }
  }
  std::vector<int> Reports() {
    std::vector<int> out;
    loop_.Run([&] { out = reports_; });
    return out;
  }

  LoopThread loop_;
  int pairs_[3][2];
  std::unique_ptr<FdGroup> group_;
  std::vector<int> reports_;  // Loop thread.
};

TEST_F(FdGroupTest, ReadableMembersReportTheirTag) {
  ASSERT_EQ(send(pairs_[1][1], "x", 1, 0), 1);
  ASSERT_TRUE(WaitFor([&] { return Reports() == std::vector<int>({1}); }));
  close(pairs_[2][1]);  // The peer's close is readable too.
  pairs_[2][1] = -1;
  ASSERT_TRUE(WaitFor([&] { return Reports() == std::vector<int>({1, 2}); }));
  // Member 0 is quiet: nothing more.
  absl::SleepFor(absl::Milliseconds(50));  // Real time for real I/O that must not happen.
  EXPECT_EQ(Reports(), std::vector<int>({1, 2}));
}

TEST_F(FdGroupTest, RemovedMembersNeverReport) {
  loop_.Run([&] { group_->Remove(pairs_[0][0]); });
  ASSERT_EQ(send(pairs_[0][1], "x", 1, 0), 1);
  ASSERT_EQ(send(pairs_[1][1], "y", 1, 0), 1);
  ASSERT_TRUE(WaitFor([&] { return Reports() == std::vector<int>({1}); }));
  absl::SleepFor(absl::Milliseconds(50));  // Real time for real I/O that must not happen.
  EXPECT_EQ(Reports(), std::vector<int>({1}));
  EXPECT_EQ(PeekPending(pairs_[0][0]), Pending::kBytes);  // Still there, unread.
}

}  // namespace
}  // namespace lb::proxy::event
