// Readiness on an in-process store: unreachable, lagging, caught up again; the write gate.
#include "controller/fleet/readiness.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "common/time/simulated_clock.h"
#include "controller/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "tests/test_common/fake_store.h"

namespace lb::fleet {
namespace {

class ReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    inner_ = std::move(*s);
    fake_ = std::make_unique<testing::FakeStore>(inner_.get());
    Readiness::Options o;
    o.max_lag = absl::Seconds(5);
    readiness_ = std::make_unique<Readiness>(
        fake_.get(),
        [this]() -> absl::StatusOr<int64_t> {
          if (!probe_error_.ok()) return probe_error_;
          if (probe_ahead_ > 0) return *inner_->CurrentRevision() + probe_ahead_;
          return inner_->CurrentRevision();
        },
        &clock_, o);
    gate_ = std::make_unique<ReadyGatedStore>(fake_.get(), readiness_.get());
  }

  SimulatedClock clock_;
  std::unique_ptr<store::SqliteStore> inner_;
  std::unique_ptr<testing::FakeStore> fake_;
  absl::Status probe_error_;
  int64_t probe_ahead_ = 0;
  std::unique_ptr<Readiness> readiness_;
  std::unique_ptr<ReadyGatedStore> gate_;
};

TEST(ReadinessOptionsTest, Validate) {
  Readiness::Options o;
  EXPECT_TRUE(Readiness::Validate(o).ok());
  o.max_lag = absl::ZeroDuration();
  EXPECT_EQ(Readiness::Validate(o).code(), absl::StatusCode::kInvalidArgument);
  o.max_lag = absl::Seconds(1);
  o.check_interval = absl::Milliseconds(1);
  EXPECT_EQ(Readiness::Validate(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReadinessTest, UnreachableStoreRefusesWritesWithTheReasonAndComesBack) {
  readiness_->CheckOnce();
  EXPECT_TRUE(readiness_->Check().ok());
  EXPECT_TRUE(gate_->Txn({}, {store::Op::Put("a", "1")}).ok());

  probe_error_ = absl::UnavailableError("etcd 127.0.0.1:2379 range: no quorum");
  readiness_->CheckOnce();
  EXPECT_FALSE(readiness_->ready());
  EXPECT_EQ(readiness_->Check().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(readiness_->Check().message(),
            "the store is unreachable (etcd 127.0.0.1:2379 range: no quorum)");
  const int txns = fake_->txn_calls();
  absl::StatusOr<int64_t> refused = gate_->Txn({}, {store::Op::Put("a", "2")});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message(),
            "controller not ready (the store is unreachable (etcd 127.0.0.1:2379 range: no "
            "quorum)): write refused; retry when /readyz is 200");
  EXPECT_EQ(fake_->txn_calls(), txns);  // Never reached the store.
  EXPECT_EQ(inner_->Get("a")->value().value, "1");
  EXPECT_TRUE(gate_->Get("a").ok());  // Reads go on.

  probe_error_ = absl::OkStatus();
  readiness_->CheckOnce();
  EXPECT_TRUE(readiness_->ready());
  EXPECT_TRUE(gate_->Txn({}, {store::Op::Put("a", "3")}).ok());
  EXPECT_EQ(readiness_->transitions(), 2);
}

TEST_F(ReadinessTest, ALagBeyondTheMaximumIsNotReadyUntilTheWatchCatchesUp) {
  readiness_->CheckOnce();
  ASSERT_TRUE(readiness_->ready());
  // The store is one revision ahead of what the watch delivered.
  probe_ahead_ = 1;
  readiness_->CheckOnce();
  EXPECT_TRUE(readiness_->ready());  // Behind, but not for long yet.
  clock_.Advance(absl::Seconds(6));
  readiness_->CheckOnce();
  EXPECT_FALSE(readiness_->ready());
  EXPECT_TRUE(absl::StrContains(readiness_->Check().message(), "view is behind the store by 6s"))
      << readiness_->Check();
  // The revision arrives through the watch: caught up.
  probe_ahead_ = 0;
  ASSERT_TRUE(inner_->Txn({}, {store::Op::Put("k", "v")}).ok());
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    readiness_->CheckOnce();
    ready = readiness_->ready();
    if (!ready) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(ready);
}

}  // namespace
}  // namespace lb::fleet
