// What only the etcd store does: failover between members, a watch that survives its member
// dying and history compacted meanwhile, compaction refusals, and bad options.
#include "controller/store/etcd_store.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/etcd_cluster.h"
#include "tests/test_common/wait.h"

namespace lb::store {
namespace {

using ::lb::testing::EtcdCluster;
using ::testing::HasSubstr;

// The state a watcher has built from the events it received.
class Mirror {
 public:
  WatchCallback Callback() {
    return [this](const std::vector<Event>& events) {
      absl::MutexLock lock(&mu_);
      for (const Event& e : events) {
        if (e.type == Event::Type::kDelete) {
          state_.erase(e.kv.key);
        } else {
          state_[e.kv.key] = e.kv.value;
        }
      }
      ++batches_;
    };
  }
  std::map<std::string, std::string> state() {
    absl::MutexLock lock(&mu_);
    return state_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> state_ ABSL_GUARDED_BY(mu_);
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
};

std::map<std::string, std::string> Snapshot(Store& store) {
  std::map<std::string, std::string> out;
  absl::StatusOr<std::vector<KeyValue>> kvs = store.List("");
  EXPECT_TRUE(kvs.ok()) << kvs.status();
  if (kvs.ok()) {
    for (const KeyValue& kv : *kvs) out[kv.key] = kv.value;
  }
  return out;
}

std::unique_ptr<EtcdStore> MustConnect(const std::vector<std::string>& endpoints) {
  EtcdStore::Options options;
  options.endpoints = endpoints;
  options.request_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<EtcdStore>> store = EtcdStore::Connect(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// A Txn that may land on a dying member: retried while kUnavailable, bounded.
absl::StatusOr<int64_t> TxnWithRetry(Store& store, const std::vector<Op>& ops) {
  absl::StatusOr<int64_t> r = absl::UnavailableError("not tried");
  for (int i = 0; i < 50; ++i) {
    r = store.Txn({}, ops);
    if (r.ok() || r.status().code() != absl::StatusCode::kUnavailable) return r;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return r;
}

TEST(EtcdStoreTest, ReadsAndWritesFailOverWhenTheirMemberDies) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  std::unique_ptr<EtcdStore> store = MustConnect((*cluster)->endpoints());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Txn({}, {Op::Put("k", "1")}).ok());
  const std::string first = store->CurrentEndpoint();
  EXPECT_EQ(first, (*cluster)->endpoints()[0]);

  (*cluster)->Kill(0);
  // A read moves to the next member at once.
  absl::StatusOr<std::optional<KeyValue>> kv = store->Get("k");
  ASSERT_TRUE(kv.ok()) << kv.status();
  EXPECT_EQ((*kv)->value, "1");
  EXPECT_NE(store->CurrentEndpoint(), first);
  // Writes go on (after a new leader is elected if the dead member led).
  absl::StatusOr<int64_t> r = TxnWithRetry(*store, {Op::Put("k", "2")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Snapshot(*store), (std::map<std::string, std::string>{{"k", "2"}}));
}

TEST(EtcdStoreTest, WatchSurvivesItsMemberDyingAndRelistsAfterCompaction) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  // The watcher's store talks to member 0; the writer's to member 1.
  std::unique_ptr<EtcdStore> watcher_store = MustConnect((*cluster)->endpoints());
  std::vector<std::string> others = {(*cluster)->endpoints()[1], (*cluster)->endpoints()[2]};
  std::unique_ptr<EtcdStore> writer = MustConnect(others);
  ASSERT_NE(watcher_store, nullptr);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Txn({}, {Op::Put("a", "1"), Op::Put("b", "1"), Op::Put("c", "1")}).ok());

  Mirror mirror;
  absl::StatusOr<int64_t> rev = watcher_store->CurrentRevision();
  ASSERT_TRUE(rev.ok());
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      watcher_store->Watch("", 0, mirror.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE(lb::testing::WaitUntil([&] { return mirror.state() == Snapshot(*writer); },
                                     absl::Seconds(10)));

  // The watcher's member dies; meanwhile keys change and the history is compacted, so the
  // watch cannot resume where it stopped: it must re-list and deliver the difference.
  (*cluster)->Kill(0);
  ASSERT_TRUE(TxnWithRetry(*writer, {Op::Put("a", "2")}).ok());
  ASSERT_TRUE(TxnWithRetry(*writer, {Op::Delete("b")}).ok());
  absl::StatusOr<int64_t> last = TxnWithRetry(*writer, {Op::Put("d", "1")});
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(writer->Compact(*last).ok());
  const std::map<std::string, std::string> expected = {{"a", "2"}, {"c", "1"}, {"d", "1"}};
  ASSERT_EQ(Snapshot(*writer), expected);
  EXPECT_TRUE(lb::testing::WaitUntil([&] { return mirror.state() == expected; }, absl::Seconds(15)))
      << "watcher never caught up; it sees " << mirror.state().size() << " keys";
  // And it keeps following live changes.
  ASSERT_TRUE(TxnWithRetry(*writer, {Op::Put("e", "1")}).ok());
  EXPECT_TRUE(
      lb::testing::WaitUntil([&] { return mirror.state().count("e") == 1; }, absl::Seconds(10)));
}

TEST(EtcdStoreTest, WatchFromCompactedHistoryIsOutOfRange) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  std::unique_ptr<EtcdStore> store = MustConnect((*cluster)->endpoints());
  ASSERT_NE(store, nullptr);
  absl::StatusOr<int64_t> r1 = store->Txn({}, {Op::Put("k", "1")});
  ASSERT_TRUE(r1.ok());
  absl::StatusOr<int64_t> r2 = store->Txn({}, {Op::Put("k", "2")});
  ASSERT_TRUE(r2.ok());
  absl::StatusOr<int64_t> r3 = store->Txn({}, {Op::Put("k", "3")});
  ASSERT_TRUE(r3.ok());
  ASSERT_TRUE(store->Compact(*r2).ok());
  absl::StatusOr<std::unique_ptr<WatchHandle>> old =
      store->Watch("", *r1, [](const std::vector<Event>&) {});
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(old.status().message(), HasSubstr("compacted"));
  absl::StatusOr<std::unique_ptr<WatchHandle>> from_zero =
      store->Watch("", 0, [](const std::vector<Event>&) {});
  EXPECT_EQ(from_zero.status().code(), absl::StatusCode::kOutOfRange);
  // From the compaction point on is fine.
  EXPECT_TRUE(store->Watch("", *r2, [](const std::vector<Event>&) {}).ok());
}

TEST(EtcdStoreTest, BadOptionsAndUnreachableEndpoints) {
  EtcdStore::Options options;
  EXPECT_EQ(EtcdStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.endpoints = {"127.0.0.1:1"};
  options.prefix = "";
  EXPECT_EQ(EtcdStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.prefix = "/lb/";
  options.username = "root";
  EXPECT_EQ(EtcdStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.username.clear();
  options.cert_file = "/nonexistent.crt";
  EXPECT_EQ(EtcdStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.key_file = "/nonexistent.key";
  absl::Status missing = EtcdStore::Connect(options).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.message(), HasSubstr("/nonexistent.crt"));
  options.cert_file.clear();
  options.key_file.clear();
  options.connect_timeout = absl::Milliseconds(500);
  absl::Status down = EtcdStore::Connect(options).status();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.message(), HasSubstr("127.0.0.1:1"));
}

TEST(EtcdStoreTest, PrefixEnd) {
  EXPECT_EQ(EtcdPrefixEnd("/lb/"), "/lb0");
  EXPECT_EQ(EtcdPrefixEnd("a\xff"), "b");
  EXPECT_EQ(EtcdPrefixEnd("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(EtcdPrefixEnd(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace lb::store
