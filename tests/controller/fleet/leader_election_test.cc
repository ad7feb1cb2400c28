// The election state machine on an in-process store (SQLite behind FakeStore, whose
// ExpireLease plays the lease running out), driven one round at a time on simulated time.
#include "controller/fleet/leader_election.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/time/simulated_clock.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/fake_store.h"

namespace lb::fleet {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kTtl = absl::Seconds(3);

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    inner_ = std::move(*s);
    fake_a_ = std::make_unique<testing::FakeStore>(inner_.get());
    fake_b_ = std::make_unique<testing::FakeStore>(inner_.get());
    a_ = Make(fake_a_.get(), "a");
    b_ = Make(fake_b_.get(), "b");
  }

  std::unique_ptr<LeaderElection> Make(store::Store* store, const std::string& id) {
    LeaderElection::Options o;
    o.id = id;
    o.lease_ttl = kTtl;
    auto e = std::make_unique<LeaderElection>(store, &clock_, o);
    e->SetOnChange([this, id](bool leader) {
      absl::MutexLock lock(&mu_);
      changes_.push_back(id + (leader ? "+" : "-"));
    });
    return e;
  }

  std::vector<std::string> Changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }

  // The lease named in the leader key.
  int64_t LeaderLease() {
    absl::StatusOr<std::optional<store::KeyValue>> kv = inner_->Get(kLeaderKey);
    if (!kv.ok() || !kv->has_value()) return 0;
    absl::StatusOr<LeaderRecord> r = LeaderRecord::Parse((*kv)->value);
    return r.ok() ? r->lease : 0;
  }

  // Before the elections: their Stop() at destruction reports to changes_.
  absl::Mutex mu_;
  std::vector<std::string> changes_ ABSL_GUARDED_BY(mu_);
  SimulatedClock clock_;
  std::unique_ptr<store::SqliteStore> inner_;
  std::unique_ptr<testing::FakeStore> fake_a_, fake_b_;
  std::unique_ptr<LeaderElection> a_, b_;
};

TEST(LeaderRecordTest, RoundTripsAndRejectsGarbage) {
  LeaderRecord r;
  r.id = "host:18000";
  r.since = absl::FromUnixMicros(1'700'000'000'123'456);
  r.lease_ttl = absl::Seconds(10);
  r.lease = 42;
  absl::StatusOr<LeaderRecord> back = LeaderRecord::Parse(r.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->since, r.since);
  EXPECT_EQ(back->lease_ttl, r.lease_ttl);
  EXPECT_EQ(back->lease, 42);
  for (const char* bad : {"", "a", "a\n1\n2", "a\nx\n2\n3", "\n1\n2\n3", "a\n1\n2\n3\n4"}) {
    EXPECT_EQ(LeaderRecord::Parse(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(LeaderElectionOptionsTest, Validate) {
  LeaderElection::Options o;
  o.id = "a";
  EXPECT_TRUE(LeaderElection::Validate(o).ok());
  o.lease_ttl = absl::Milliseconds(999);
  EXPECT_EQ(LeaderElection::Validate(o).code(), absl::StatusCode::kInvalidArgument);
  o.lease_ttl = absl::Seconds(1);
  o.id = "a\nb";
  EXPECT_EQ(LeaderElection::Validate(o).code(), absl::StatusCode::kInvalidArgument);
  o.id = "";
  EXPECT_EQ(LeaderElection::Validate(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AlwaysLeaderTest, LeadsWithoutAStore) {
  SimulatedClock clock;
  std::unique_ptr<LeaderElection> e = LeaderElection::AlwaysLeader("solo", &clock);
  e->Start();
  e->Step();
  EXPECT_TRUE(e->IsLeader());
  EXPECT_EQ(e->view().leader.id, "solo");
  EXPECT_EQ(e->elections_won(), 1);
  e->Stop();
}

TEST_F(LeaderElectionTest, FirstCampaignWinsTheOtherFollows) {
  a_->Step();
  b_->Step();
  EXPECT_TRUE(a_->IsLeader());
  EXPECT_FALSE(b_->IsLeader());
  EXPECT_EQ(b_->view().leader.id, "a");
  EXPECT_EQ(b_->view().id, "b");
  EXPECT_EQ(a_->view().leader.lease_ttl, kTtl);
  EXPECT_EQ(a_->elections_won(), 1);
  EXPECT_EQ(b_->elections_won(), 0);
  // Further rounds change nothing.
  clock_.Advance(kTtl / 2);
  a_->Step();
  b_->Step();
  EXPECT_TRUE(a_->IsLeader());
  EXPECT_FALSE(b_->IsLeader());
  EXPECT_THAT(Changes(), ElementsAre("a+"));
}

TEST_F(LeaderElectionTest, AnExpiredLeaseHandsLeadershipOver) {
  a_->Step();
  b_->Step();
  ASSERT_TRUE(a_->IsLeader());
  ASSERT_TRUE(fake_a_->ExpireLease(LeaderLease()).ok());
  b_->Step();
  EXPECT_TRUE(b_->IsLeader());
  // A learns at its next renewal that its lease is gone, and follows.
  clock_.Advance(kTtl / 3);
  a_->Step();
  EXPECT_FALSE(a_->IsLeader());
  EXPECT_EQ(a_->view().leader.id, "b");
  EXPECT_THAT(Changes(), ElementsAre("a+", "b+", "a-"));
}

TEST_F(LeaderElectionTest, ALeaderCutOffFromTheStoreStepsDownAfterOneTtl) {
  a_->Step();
  ASSERT_TRUE(a_->IsLeader());
  fake_a_->FailLease(absl::UnavailableError("etcd down"));
  fake_a_->FailGet(absl::UnavailableError("etcd down"));
  clock_.Advance(kTtl / 2);
  a_->Step();
  EXPECT_TRUE(a_->IsLeader());  // Its lease may still be alive.
  clock_.Advance(kTtl / 2);
  a_->Step();
  EXPECT_FALSE(a_->IsLeader());
  // Back: a new lease, and the old key (its lease expired in the store) is gone.
  ASSERT_TRUE(inner_->RevokeLease(LeaderLease()).ok());
  fake_a_->FailLease(absl::OkStatus());
  fake_a_->FailGet(absl::OkStatus());
  a_->Step();
  EXPECT_TRUE(a_->IsLeader());
  EXPECT_EQ(a_->elections_won(), 2);
}

TEST_F(LeaderElectionTest, NoLeaseNoCampaign) {
  fake_a_->FailLease(absl::UnavailableError("etcd down"));
  a_->Step();
  EXPECT_FALSE(a_->IsLeader());
  absl::StatusOr<std::optional<store::KeyValue>> kv = inner_->Get(kLeaderKey);
  ASSERT_TRUE(kv.ok());
  EXPECT_FALSE(kv->has_value());
}

TEST_F(LeaderElectionTest, StopStepsDownAndTheWatchingFollowerTakesOverAtOnce) {
  a_->Step();
  ASSERT_TRUE(a_->IsLeader());
  b_->Start();
  // B's thread ran a round (follower) and waits; without any time passing, A stepping down
  // deletes the key and B's watch wakes it to campaign.
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  a_->Stop();
  EXPECT_FALSE(a_->IsLeader());
  bool led = false;
  for (int i = 0; i < 200 && !led; ++i) {
    led = b_->IsLeader();
    if (!led) absl::SleepFor(absl::Milliseconds(25));
  }
  EXPECT_TRUE(led);
  EXPECT_EQ(b_->view().leader.id, "b");
  b_->Stop();
  absl::StatusOr<std::optional<store::KeyValue>> kv = inner_->Get(kLeaderKey);
  ASSERT_TRUE(kv.ok());
  EXPECT_FALSE(kv->has_value());
}

}  // namespace
}  // namespace lb::fleet
