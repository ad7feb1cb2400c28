// HistoryCompactor over both backends: compaction by revision count and by age on simulated
// time, a Watch from compacted history is kOutOfRange afterwards, a compaction another
// controller already did is no error, and failures are counted.
#include "controller/store/history_compactor.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/time/simulated_clock.h"
#include "controller/store/etcd_store.h"
#include "controller/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "tests/test_common/etcd_cluster.h"
#include "tests/test_common/fake_store.h"

namespace lb::store {
namespace {

int64_t PutN(Store* store, int n) {
  int64_t last = 0;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<int64_t> r = store->Txn({}, {Op::Put(absl::StrCat("k", i % 3), "v")});
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) last = *r;
  }
  return last;
}

absl::StatusCode WatchFrom(Store* store, int64_t after) {
  return store->Watch("", after, [](const std::vector<Event>&) {}).status().code();
}

TEST(HistoryCompactorTest, ValidatesOptions) {
  HistoryCompactor::Options o;
  EXPECT_TRUE(HistoryCompactor::Validate(o).ok());
  o.max_revisions = 0;
  EXPECT_EQ(HistoryCompactor::Validate(o).message(),
            "--history_max_revisions must be at least 1, got 0");
  o = {};
  o.max_age = absl::Milliseconds(10);
  EXPECT_EQ(HistoryCompactor::Validate(o).message(),
            "--history_max_age must be at least 1s, got 10ms");
  o = {};
  o.interval = absl::ZeroDuration();
  EXPECT_EQ(HistoryCompactor::Validate(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST(HistoryCompactorTest, SqliteByRevisionCountAndByAge) {
  // The store itself keeps 1000 revisions; the compactor bounds them to 100, and by age.
  SqliteStore::Options so;
  so.history_limit = 1000;
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:", so);
  ASSERT_TRUE(s.ok()) << s.status();
  SqliteStore* sqlite = s->get();
  SimulatedClock clock;
  HistoryCompactor::Options o;
  o.max_revisions = 100;
  o.max_age = absl::Minutes(10);
  o.interval = absl::Minutes(1);
  HistoryCompactor compactor(
      sqlite, [sqlite](int64_t r) { return sqlite->Compact(r); }, &clock, o);

  // 50 revisions: nothing to compact.
  int64_t r = PutN(sqlite, 50);
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(*sqlite->CompactRevision(), 0);
  // 250: by count, up to 150.
  r = PutN(sqlite, 200);
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(*sqlite->CompactRevision(), r - 100);
  EXPECT_EQ(WatchFrom(sqlite, r - 101), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(WatchFrom(sqlite, r - 100), absl::StatusCode::kOk);
  EXPECT_EQ(compactor.stats().compactions, 1u);

  // By age: no writes for 10 minutes, so all of that history is old.
  clock.Advance(absl::Minutes(9));
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(*sqlite->CompactRevision(), r - 100);  // Sampled 9 minutes ago: not yet.
  clock.Advance(absl::Minutes(1));
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(*sqlite->CompactRevision(), r);
  EXPECT_EQ(compactor.stats().compacted_revision, r);
  EXPECT_EQ(compactor.stats().compactions, 2u);
  EXPECT_EQ(WatchFrom(sqlite, r - 1), absl::StatusCode::kOutOfRange);
  // Younger revisions stay until they are old.
  const int64_t young = PutN(sqlite, 5);
  clock.Advance(absl::Minutes(1));
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(*sqlite->CompactRevision(), r);
  clock.Advance(absl::Minutes(10));
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(*sqlite->CompactRevision(), young);
  EXPECT_EQ(compactor.stats().compactions, 3u);
  // Nothing new: no further compaction.
  clock.Advance(absl::Minutes(30));
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(compactor.stats().compactions, 3u);
  EXPECT_EQ(compactor.stats().failures, 0u);
}

TEST(HistoryCompactorTest, SqliteCompactErrors) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:");
  ASSERT_TRUE(s.ok()) << s.status();
  const int64_t r = PutN(s->get(), 5);
  EXPECT_EQ((*s)->Compact(r + 1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*s)->Compact(3).ok());
  EXPECT_EQ((*s)->Compact(3).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*s)->Compact(2).code(), absl::StatusCode::kOutOfRange);
}

TEST(HistoryCompactorTest, StoreFailuresAreCounted) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:");
  ASSERT_TRUE(s.ok()) << s.status();
  testing::FakeStore fake(s->get());
  SimulatedClock clock;
  HistoryCompactor::Options o;
  o.max_revisions = 1;
  HistoryCompactor compactor(
      &fake, [](int64_t) { return absl::UnavailableError("down"); }, &clock, o);
  PutN(s->get(), 3);
  EXPECT_EQ(compactor.RunOnce().code(), absl::StatusCode::kUnavailable);
  fake.FailCurrentRevision(absl::UnavailableError("no revision"));
  EXPECT_EQ(compactor.RunOnce().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(compactor.stats().failures, 2u);
  EXPECT_EQ(compactor.stats().compactions, 0u);
}

TEST(HistoryCompactorTest, ThreadRunsEveryInterval) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:");
  ASSERT_TRUE(s.ok()) << s.status();
  SqliteStore* sqlite = s->get();
  SimulatedClock clock;
  HistoryCompactor::Options o;
  o.max_revisions = 2;
  o.interval = absl::Minutes(1);
  HistoryCompactor compactor(
      sqlite, [sqlite](int64_t r) { return sqlite->Compact(r); }, &clock, o);
  const int64_t r = PutN(sqlite, 10);
  compactor.Start();
  // Advance until the thread ran a round (bounded: 200 minutes of simulated time).
  for (int i = 0; i < 200 && compactor.stats().compactions == 0; ++i) {
    clock.Advance(absl::Minutes(1));
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(compactor.stats().compactions, 1u);
  EXPECT_EQ(*sqlite->CompactRevision(), r - 2);
}

TEST(HistoryCompactorTest, EtcdCompactRpcAndASecondController) {
  absl::StatusOr<std::unique_ptr<testing::EtcdCluster>> etcd = testing::EtcdCluster::Start(1);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdStore::Options eo;
  eo.endpoints = (*etcd)->endpoints();
  absl::StatusOr<std::unique_ptr<EtcdStore>> a = EtcdStore::Connect(eo);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::unique_ptr<EtcdStore>> b = EtcdStore::Connect(eo);
  ASSERT_TRUE(b.ok()) << b.status();
  SimulatedClock clock;
  HistoryCompactor::Options o;
  o.max_revisions = 10;
  EtcdStore* ea = a->get();
  EtcdStore* eb = b->get();
  HistoryCompactor first(
      ea, [ea](int64_t r) { return ea->Compact(r); }, &clock, o);
  HistoryCompactor second(
      eb, [eb](int64_t r) { return eb->Compact(r); }, &clock, o);
  const int64_t r = PutN(ea, 30);
  ASSERT_TRUE(first.RunOnce().ok());
  EXPECT_EQ(first.stats().compacted_revision, r - 10);
  EXPECT_EQ(first.stats().compactions, 1u);
  EXPECT_EQ(WatchFrom(ea, r - 12), absl::StatusCode::kOutOfRange);
  // The other controller finds it done: no error, not counted as its compaction.
  ASSERT_TRUE(second.RunOnce().ok());
  EXPECT_EQ(second.stats().compactions, 0u);
  EXPECT_EQ(second.stats().failures, 0u);
  EXPECT_EQ(second.stats().compacted_revision, r - 10);
}

}  // namespace
}  // namespace lb::store
