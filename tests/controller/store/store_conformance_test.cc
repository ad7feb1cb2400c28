// The Store contract (controller/store/store.h), run against every backend: SQLite in-process,
// and etcd (Debian's etcd-server, started by the test) as one member and as a 3-member cluster.
// Revisions are only compared relatively: etcd's are cluster-wide, so they have gaps.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/store/etcd_store.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/store/watch_recorder.h"
#include "tests/test_common/etcd_cluster.h"

namespace lb::store {
namespace {

using ::lb::testing::EtcdCluster;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(15);

enum class Backend { kSqlite, kEtcd1, kEtcd3 };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kSqlite:
      return "Sqlite";
    case Backend::kEtcd1:
      return "EtcdOneMember";
    case Backend::kEtcd3:
      return "EtcdThreeMembers";
  }
  return "Unknown";
}

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() {
    one_.reset();
    three_.reset();
  }

  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:");
      ASSERT_TRUE(s.ok()) << s.status();
      store_ = std::move(*s);
      return;
    }
    std::unique_ptr<EtcdCluster>& cluster = GetParam() == Backend::kEtcd1 ? one_ : three_;
    if (cluster == nullptr) {
      absl::StatusOr<std::unique_ptr<EtcdCluster>> c =
          EtcdCluster::Start(GetParam() == Backend::kEtcd1 ? 1 : 3);
      ASSERT_TRUE(c.ok()) << c.status();
      cluster = std::move(*c);
    }
    EtcdStore::Options options;
    options.endpoints = cluster->endpoints();
    // Each test has its own key space in the shared cluster.
    options.prefix = absl::StrCat("/conformance/", ++test_counter_, "/");
    absl::StatusOr<std::unique_ptr<EtcdStore>> s = EtcdStore::Connect(options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  int64_t MustTxn(const std::vector<Compare>& compares, const std::vector<Op>& ops) {
    absl::StatusOr<int64_t> revision = store_->Txn(compares, ops);
    EXPECT_TRUE(revision.ok()) << revision.status();
    return revision.ok() ? *revision : -1;
  }
  int64_t MustPut(const std::string& key, const std::string& value) {
    return MustTxn({}, {Op::Put(key, value)});
  }
  std::optional<KeyValue> MustGet(const std::string& key) {
    absl::StatusOr<std::optional<KeyValue>> kv = store_->Get(key);
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? *kv : std::nullopt;
  }
  std::vector<std::string> ListKeys(const std::string& prefix) {
    absl::StatusOr<std::vector<KeyValue>> kvs = store_->List(prefix);
    EXPECT_TRUE(kvs.ok()) << kvs.status();
    std::vector<std::string> keys;
    if (kvs.ok()) {
      for (const KeyValue& kv : *kvs) keys.push_back(kv.key);
    }
    return keys;
  }
  int64_t Revision() {
    absl::StatusOr<int64_t> revision = store_->CurrentRevision();
    EXPECT_TRUE(revision.ok()) << revision.status();
    return revision.ok() ? *revision : -1;
  }

  static std::unique_ptr<EtcdCluster> one_;
  static std::unique_ptr<EtcdCluster> three_;
  static int test_counter_;
  std::unique_ptr<Store> store_;
};

std::unique_ptr<EtcdCluster> StoreConformanceTest::one_;
std::unique_ptr<EtcdCluster> StoreConformanceTest::three_;
int StoreConformanceTest::test_counter_ = 0;

void ExpectKv(const std::optional<KeyValue>& kv, const std::string& key, const std::string& value,
              int64_t create_revision, int64_t mod_revision) {
  ASSERT_TRUE(kv.has_value()) << key;
  EXPECT_EQ(kv->key, key);
  EXPECT_EQ(kv->value, value);
  EXPECT_EQ(kv->create_revision, create_revision);
  EXPECT_EQ(kv->mod_revision, mod_revision);
}

// Batches of "put key=value" / "del key" as a watch delivered them, with their revisions.
class Recorder : public WatchRecorder {
 public:
  Recorder() : WatchRecorder(kWait) {}
};

TEST_P(StoreConformanceTest, EmptyStore) {
  EXPECT_EQ(MustGet("missing"), std::nullopt);
  EXPECT_THAT(ListKeys(""), IsEmpty());
  EXPECT_GE(Revision(), 0);
}

TEST_P(StoreConformanceTest, PutGetAndRevisions) {
  const int64_t r1 = MustPut("a", "1");
  EXPECT_GT(r1, 0);
  ExpectKv(MustGet("a"), "a", "1", r1, r1);
  const int64_t r2 = MustPut("a", "2");
  EXPECT_GT(r2, r1);
  ExpectKv(MustGet("a"), "a", "2", r1, r2);
  EXPECT_GE(Revision(), r2);
}

TEST_P(StoreConformanceTest, EmptyAndBinaryValues) {
  const std::string binary("\0\x01\xff\n", 4);
  MustTxn({}, {Op::Put("empty", ""), Op::Put("bin", binary)});
  EXPECT_EQ(MustGet("empty")->value, "");
  EXPECT_EQ(MustGet("bin")->value, binary);
}

TEST_P(StoreConformanceTest, ListPrefixInKeyOrder) {
  MustTxn({}, {Op::Put("b/2", "x"), Op::Put("a/1", "x"), Op::Put("b/1", "x"), Op::Put("b", "x"),
               Op::Put("c", "x"), Op::Put("\xff\xff", "x"), Op::Put("\xff", "x")});
  EXPECT_THAT(ListKeys("b/"), ElementsAre("b/1", "b/2"));
  EXPECT_THAT(ListKeys("b"), ElementsAre("b", "b/1", "b/2"));
  EXPECT_THAT(ListKeys(""), ElementsAre("a/1", "b", "b/1", "b/2", "c", "\xff", "\xff\xff"));
  EXPECT_THAT(ListKeys("\xff"), ElementsAre("\xff", "\xff\xff"));
  EXPECT_THAT(ListKeys("d"), IsEmpty());
}

TEST_P(StoreConformanceTest, DeleteAndRecreate) {
  const int64_t r1 = MustPut("k", "1");
  const int64_t r2 = MustTxn({}, {Op::Delete("k")});
  EXPECT_GT(r2, r1);
  EXPECT_EQ(MustGet("k"), std::nullopt);
  const int64_t r3 = MustPut("k", "2");
  ExpectKv(MustGet("k"), "k", "2", r3, r3);
}

TEST_P(StoreConformanceTest, SameKeyTwiceInOneTxn) {
  const int64_t r1 = MustTxn({}, {Op::Put("k", "1"), Op::Put("k", "2")});
  ExpectKv(MustGet("k"), "k", "2", r1, r1);
  const int64_t r2 = MustTxn({}, {Op::Put("k", "3"), Op::Put("k", "4")});
  ExpectKv(MustGet("k"), "k", "4", r1, r2);
  MustTxn({}, {Op::Put("n", "1"), Op::Delete("n")});
  EXPECT_EQ(MustGet("n"), std::nullopt);
  absl::StatusOr<int64_t> twice = store_->Txn({}, {Op::Delete("k"), Op::Delete("k")});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  ExpectKv(MustGet("k"), "k", "4", r1, r2);
}

TEST_P(StoreConformanceTest, CreateIfAbsentSucceedsOnce) {
  const int64_t r1 = MustTxn({Compare{"k", 0}}, {Op::Put("k", "first")});
  absl::StatusOr<int64_t> second = store_->Txn({Compare{"k", 0}}, {Op::Put("k", "second")});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("compare failed on key \"k\": expected mod_revision 0, "
                                     "actual ",
                                     r1)));
  ExpectKv(MustGet("k"), "k", "first", r1, r1);
}

TEST_P(StoreConformanceTest, StaleUpdateAbortsAndWritesNothing) {
  const int64_t r1 = MustPut("k", "v1");
  const int64_t r2 = MustTxn({Compare{"k", r1}}, {Op::Put("k", "v2")});
  absl::StatusOr<int64_t> stale =
      store_->Txn({Compare{"k", r1}}, {Op::Put("other", "x"), Op::Put("k", "v3")});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(),
              HasSubstr(absl::StrCat("\"k\": expected mod_revision ", r1, ", actual ", r2)));
  ExpectKv(MustGet("k"), "k", "v2", r1, r2);
  EXPECT_EQ(MustGet("other"), std::nullopt);
}

TEST_P(StoreConformanceTest, AbortNamesFirstFailingCompare) {
  const int64_t r1 = MustTxn({}, {Op::Put("a", "1"), Op::Put("b", "1")});
  absl::StatusOr<int64_t> result = store_->Txn(
      {Compare{"a", r1}, Compare{"b", r1 + 1000}, Compare{"d", 0}}, {Op::Put("a", "2")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result.status().message(),
              HasSubstr(absl::StrCat("\"b\": expected mod_revision ", r1 + 1000, ", actual ", r1)));
  result = store_->Txn({Compare{"missing", 1}}, {Op::Put("a", "2")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result.status().message(), HasSubstr("\"missing\""));
  EXPECT_THAT(result.status().message(), HasSubstr("actual 0 (key does not exist)"));
  ExpectKv(MustGet("a"), "a", "1", r1, r1);
}

TEST_P(StoreConformanceTest, EmptyOpListIsInvalid) {
  EXPECT_EQ(store_->Txn({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Txn({Compare{"k", 0}}, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, DeleteMissingKeyIsInvalidAndAtomic) {
  const int64_t r1 = MustPut("a", "1");
  absl::StatusOr<int64_t> result =
      store_->Txn({}, {Op::Put("a", "2"), Op::Put("b", "2"), Op::Delete("nope")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("delete of missing key \"nope\""));
  ExpectKv(MustGet("a"), "a", "1", r1, r1);
  EXPECT_EQ(MustGet("b"), std::nullopt);
}

TEST_P(StoreConformanceTest, DeletePrefixDeletesEveryKeyUnderItAtomically) {
  MustTxn({}, {Op::Put("c/web", "s"), Op::Put("c/web/e/1", "a"), Op::Put("c/web/e/2", "b"),
               Op::Put("c/web2", "t"), Op::Put("c/web2/e/1", "c")});
  const int64_t settings = MustGet("c/web")->mod_revision;
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("c/", Revision(), recorder.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  // A stale compare aborts it: nothing is deleted.
  EXPECT_EQ(
      store_->Txn({{"c/web", settings + 1000}}, {Op::Delete("c/web"), Op::DeletePrefix("c/web/")})
          .status()
          .code(),
      absl::StatusCode::kAborted);
  EXPECT_THAT(ListKeys("c/"),
              ElementsAre("c/web", "c/web/e/1", "c/web/e/2", "c/web2", "c/web2/e/1"));
  const int64_t r =
      MustTxn({{"c/web", settings}}, {Op::Delete("c/web"), Op::DeletePrefix("c/web/")});
  EXPECT_THAT(ListKeys("c/"), ElementsAre("c/web2", "c/web2/e/1"));
  ASSERT_TRUE(recorder.WaitForBatches(1));
  std::vector<std::vector<std::string>> batches = recorder.Batches();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(batches[0],
              ::testing::UnorderedElementsAre("del c/web", "del c/web/e/1", "del c/web/e/2"));
  EXPECT_EQ(recorder.Revisions(), (std::vector<int64_t>{r, r, r}));
  // Deleting nothing under a prefix is fine alongside another op.
  MustTxn({}, {Op::Put("c/x", "1"), Op::DeletePrefix("c/nothing/")});
  EXPECT_EQ(MustGet("c/x")->value, "1");
}

TEST_P(StoreConformanceTest, DeletePrefixRefusesOtherOpsUnderItsPrefix) {
  MustPut("p/a", "1");
  for (const std::vector<Op>& ops :
       std::vector<std::vector<Op>>{{Op::DeletePrefix("p/"), Op::Put("p/b", "2")},
                                    {Op::Delete("p/a"), Op::DeletePrefix("p/")},
                                    {Op::DeletePrefix("")}}) {
    absl::StatusOr<int64_t> r = store_->Txn({}, ops);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
  EXPECT_THAT(ListKeys("p/"), ElementsAre("p/a"));
}

TEST_P(StoreConformanceTest, WatchReplaysFromTheMiddleThenLive) {
  MustPut("a/1", "x");
  const int64_t r2 = MustPut("a/2", "y");
  const int64_t r3 = MustTxn({}, {Op::Put("a/1", "z"), Op::Put("b/1", "w")});
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("a/", r2 - 1, recorder.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE(recorder.WaitForBatches(2));
  const int64_t r4 = MustTxn({}, {Op::Delete("a/2")});
  ASSERT_TRUE(recorder.WaitForBatches(3));
  EXPECT_EQ(recorder.Batches(),
            (std::vector<std::vector<std::string>>{{"put a/2=y"}, {"put a/1=z"}, {"del a/2"}}));
  EXPECT_EQ(recorder.Revisions(), (std::vector<int64_t>{r2, r3, r4}));
}

TEST_P(StoreConformanceTest, WatchOneBatchPerTransaction) {
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("", Revision(), recorder.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  const int64_t r1 = MustTxn({}, {Op::Put("x", "1"), Op::Put("y", "1"), Op::Put("z", "1")});
  const int64_t r2 = MustTxn({}, {Op::Delete("x"), Op::Put("y", "2")});
  ASSERT_TRUE(recorder.WaitForBatches(2));
  std::vector<std::vector<std::string>> batches = recorder.Batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_THAT(batches[0], ::testing::UnorderedElementsAre("put x=1", "put y=1", "put z=1"));
  EXPECT_THAT(batches[1], ::testing::UnorderedElementsAre("del x", "put y=2"));
  EXPECT_EQ(recorder.Revisions(), (std::vector<int64_t>{r1, r1, r1, r2, r2}));
}

TEST_P(StoreConformanceTest, WatchAfterFutureRevision) {
  MustPut("k", "1");
  Recorder recorder;
  // After the next revision: the next commit is not delivered, the one after it is.
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("k", Revision() + 1, recorder.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  MustPut("k", "2");
  const int64_t r3 = MustPut("k", "3");
  ASSERT_TRUE(recorder.WaitForBatches(1));
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<std::string>>{{"put k=3"}}));
  EXPECT_EQ(recorder.Revisions(), std::vector<int64_t>{r3});
}

TEST_P(StoreConformanceTest, WatchRejectsBadArguments) {
  EXPECT_EQ(store_->Watch("", -1, [](const std::vector<Event>&) {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Watch("", 0, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, CancelFromInsideOwnCallbackAndCallbackMayWrite) {
  std::unique_ptr<WatchHandle> handle;
  absl::Notification done;
  std::atomic<int> calls{0};
  absl::Mutex mu;
  absl::StatusOr<std::unique_ptr<WatchHandle>> h =
      store_->Watch("w/", Revision(), [&](const std::vector<Event>&) {
        ++calls;
        // The callback may use the store, then cancel its own watch.
        EXPECT_TRUE(store_->Txn({}, {Op::Put("other", "from callback")}).ok());
        absl::MutexLock lock(&mu);
        handle.reset();
        done.Notify();
      });
  ASSERT_TRUE(h.ok()) << h.status();
  {
    absl::MutexLock lock(&mu);
    handle = std::move(*h);
  }
  MustPut("w/1", "x");
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  MustPut("w/2", "x");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(MustGet("other")->value, "from callback");
}

TEST_P(StoreConformanceTest, NoCallbackAfterHandleDestroyed) {
  std::atomic<int> calls{0};
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("", Revision(), [&](const std::vector<Event>&) { ++calls; });
  ASSERT_TRUE(handle.ok()) << handle.status();
  handle->reset();
  MustPut("k", "1");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(StoreConformanceTest, ConcurrentWritersAreSeenInRevisionOrder) {
  constexpr int kThreads = 4;
  constexpr int kTxnsPerThread = 25;
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("", Revision(), recorder.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([this, t] {
      for (int i = 0; i < kTxnsPerThread; ++i) {
        EXPECT_TRUE(store_->Txn({}, {Op::Put(absl::StrCat("t", t, "/", i), "x")}).ok());
      }
    });
  }
  for (std::thread& w : writers) w.join();
  ASSERT_TRUE(recorder.WaitForBatches(kThreads * kTxnsPerThread));
  std::vector<int64_t> revisions = recorder.Revisions();
  ASSERT_EQ(revisions.size(), static_cast<size_t>(kThreads * kTxnsPerThread));
  for (size_t i = 1; i < revisions.size(); ++i) EXPECT_LT(revisions[i - 1], revisions[i]);
}

TEST_P(StoreConformanceTest, CountCountsKeysUnderThePrefixOnly) {
  MustTxn({}, {Op::Put("c/1", "x"), Op::Put("c/2", "y"), Op::Put("c", "z"), Op::Put("d", "w")});
  absl::StatusOr<int64_t> n = store_->Count("c/");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(*store_->Count("c"), 3);
  EXPECT_EQ(*store_->Count(""), 4);
  EXPECT_EQ(*store_->Count("e"), 0);
  MustTxn({}, {Op::Delete("c/1")});
  EXPECT_EQ(*store_->Count("c/"), 1);
}

TEST_P(StoreConformanceTest, RevokingALeaseDeletesItsKeysOnly) {
  EXPECT_EQ(store_->GrantLease(absl::Milliseconds(500)).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<int64_t> lease = store_->GrantLease(absl::Seconds(30));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE(*lease, 0);
  const int64_t r1 = MustTxn({Compare{"leader", 0}},
                             {Op::PutWithLease("leader", "me", *lease),
                              Op::PutWithLease("moved", "1", *lease), Op::Put("plain", "x")});
  // A put without the lease detaches the key.
  MustPut("moved", "2");
  ExpectKv(MustGet("leader"), "leader", "me", r1, r1);
  EXPECT_TRUE(store_->KeepAliveLease(*lease).ok());

  Recorder recorder;
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store_->Watch("", Revision(), recorder.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE(store_->RevokeLease(*lease).ok());
  ASSERT_TRUE(recorder.WaitForBatches(1));
  EXPECT_THAT(recorder.Batches(), ElementsAre(ElementsAre("del leader")));
  EXPECT_EQ(MustGet("leader"), std::nullopt);
  EXPECT_EQ(MustGet("moved")->value, "2");
  EXPECT_EQ(MustGet("plain")->value, "x");

  EXPECT_EQ(store_->KeepAliveLease(*lease).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeLease(*lease).code(), absl::StatusCode::kNotFound);
  absl::StatusOr<int64_t> put = store_->Txn({}, {Op::PutWithLease("late", "x", *lease)});
  EXPECT_EQ(put.status().code(), absl::StatusCode::kNotFound) << put.status();
  EXPECT_EQ(MustGet("late"), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values(Backend::kSqlite, Backend::kEtcd1, Backend::kEtcd3),
                         BackendName);

}  // namespace
}  // namespace lb::store
