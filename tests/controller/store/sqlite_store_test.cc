#include "controller/store/sqlite_store.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/store/watch_recorder.h"

namespace lb::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(10);
constexpr char kDrainPrefix[] = "~drain/";

std::unique_ptr<SqliteStore> OpenMemory(SqliteStore::Options options = {}) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(":memory:", options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// A fresh database path under TEST_TMPDIR.
std::string TempDbPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  return path;
}

int64_t MustTxn(Store& store, const std::vector<Compare>& compares, const std::vector<Op>& ops) {
  absl::StatusOr<int64_t> revision = store.Txn(compares, ops);
  EXPECT_TRUE(revision.ok()) << revision.status();
  return revision.ok() ? *revision : -1;
}

int64_t MustPut(Store& store, const std::string& key, const std::string& value) {
  return MustTxn(store, {}, {Op::Put(key, value)});
}

std::optional<KeyValue> MustGet(Store& store, const std::string& key) {
  absl::StatusOr<std::optional<KeyValue>> kv = store.Get(key);
  EXPECT_TRUE(kv.ok()) << kv.status();
  return kv.ok() ? *kv : std::nullopt;
}

std::vector<std::string> ListKeys(Store& store, const std::string& prefix) {
  absl::StatusOr<std::vector<KeyValue>> kvs = store.List(prefix);
  EXPECT_TRUE(kvs.ok()) << kvs.status();
  std::vector<std::string> keys;
  if (kvs.ok()) {
    for (const KeyValue& kv : *kvs) keys.push_back(kv.key);
  }
  return keys;
}

int64_t Revision(Store& store) {
  absl::StatusOr<int64_t> revision = store.CurrentRevision();
  EXPECT_TRUE(revision.ok()) << revision.status();
  return revision.ok() ? *revision : -1;
}

void ExpectKv(const std::optional<KeyValue>& kv, const std::string& key, const std::string& value,
              int64_t create_revision, int64_t mod_revision) {
  ASSERT_TRUE(kv.has_value()) << key;
  EXPECT_EQ(kv->key, key);
  EXPECT_EQ(kv->value, value);
  EXPECT_EQ(kv->create_revision, create_revision);
  EXPECT_EQ(kv->mod_revision, mod_revision);
}

// A compact, comparable rendering of an event: "put key=value c<create> m<mod>" / "del key m<mod>".
// Every event with its revisions; Drain's sentinel writes are not recorded.
class Recorder : public WatchRecorder {
 public:
  Recorder() : WatchRecorder(kWait, Detail::kWithRevisions, kDrainPrefix) {}
};

std::unique_ptr<WatchHandle> MustWatch(Store& store, const std::string& prefix, int64_t after,
                                       WatchCallback callback) {
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
      store.Watch(prefix, after, std::move(callback));
  EXPECT_TRUE(handle.ok()) << handle.status();
  return handle.ok() ? std::move(*handle) : nullptr;
}

// Blocks until the dispatcher has delivered everything committed so far: a fresh watcher on a
// sentinel key sees the sentinel's commit only after every earlier queued callback ran.
void Drain(Store& store) {
  static std::atomic<int> counter{0};
  const std::string key = absl::StrCat(kDrainPrefix, counter++);
  absl::Notification done;
  std::unique_ptr<WatchHandle> handle =
      MustWatch(store, key, Revision(store), [&done](const std::vector<Event>&) {
        if (!done.HasBeenNotified()) done.Notify();
      });
  MustPut(store, key, "x");
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
}

// ---------------------------------------------------------------------------------------------
// Basic key-value operations.

TEST(SqliteStoreTest, EmptyStore) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Revision(*store), 0);
  EXPECT_EQ(MustGet(*store, "missing"), std::nullopt);
  EXPECT_THAT(ListKeys(*store, ""), IsEmpty());
  absl::StatusOr<int64_t> compact = store->CompactRevision();
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(*compact, 0);
}

TEST(SqliteStoreTest, PutGetAndRevisions) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(MustPut(*store, "a", "1"), 1);
  ExpectKv(MustGet(*store, "a"), "a", "1", 1, 1);
  EXPECT_EQ(MustPut(*store, "b", "2"), 2);
  EXPECT_EQ(MustPut(*store, "a", "3"), 3);
  ExpectKv(MustGet(*store, "a"), "a", "3", 1, 3);
  ExpectKv(MustGet(*store, "b"), "b", "2", 2, 2);
  // A multi-op txn is one revision; every key it writes gets that mod_revision.
  EXPECT_EQ(MustTxn(*store, {}, {Op::Put("a", "4"), Op::Put("c", "5"), Op::Delete("b")}), 4);
  ExpectKv(MustGet(*store, "a"), "a", "4", 1, 4);
  ExpectKv(MustGet(*store, "c"), "c", "5", 4, 4);
  EXPECT_EQ(MustGet(*store, "b"), std::nullopt);
  EXPECT_EQ(Revision(*store), 4);
}

TEST(SqliteStoreTest, EmptyAndBinaryValues) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  const std::string binary("a\0b\xff", 4);
  MustTxn(*store, {}, {Op::Put("empty", ""), Op::Put("binary", binary)});
  ExpectKv(MustGet(*store, "empty"), "empty", "", 1, 1);
  ExpectKv(MustGet(*store, "binary"), "binary", binary, 1, 1);
}

TEST(SqliteStoreTest, DeleteAndRecreate) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "k", "v1");  // 1
  EXPECT_EQ(MustTxn(*store, {}, {Op::Delete("k")}), 2);
  EXPECT_EQ(MustGet(*store, "k"), std::nullopt);
  EXPECT_THAT(ListKeys(*store, ""), IsEmpty());
  EXPECT_EQ(MustPut(*store, "k", "v2"), 3);
  ExpectKv(MustGet(*store, "k"), "k", "v2", 3, 3);  // A new life: new create_revision.
}

TEST(SqliteStoreTest, ListPrefix) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustTxn(*store, {},
          {Op::Put("a0", "x"), Op::Put("a/2", "x"), Op::Put("a/", "x"), Op::Put("a/1", "x"),
           Op::Put("a", "x"), Op::Put("b/1", "x")});
  EXPECT_THAT(ListKeys(*store, "a/"), ElementsAre("a/", "a/1", "a/2"));
  EXPECT_THAT(ListKeys(*store, "a"), ElementsAre("a", "a/", "a/1", "a/2", "a0"));
  EXPECT_THAT(ListKeys(*store, ""), ElementsAre("a", "a/", "a/1", "a/2", "a0", "b/1"));
  EXPECT_THAT(ListKeys(*store, "b/"), ElementsAre("b/1"));
  EXPECT_THAT(ListKeys(*store, "c"), IsEmpty());

  absl::StatusOr<std::vector<KeyValue>> kvs = store->List("a/1");
  ASSERT_TRUE(kvs.ok()) << kvs.status();
  ASSERT_EQ(kvs->size(), 1u);
  ExpectKv((*kvs)[0], "a/1", "x", 1, 1);
}

TEST(SqliteStoreTest, ListPrefixWithHighBytes) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustTxn(*store, {},
          {Op::Put("\xff", "x"), Op::Put("\xff\xff", "x"), Op::Put("\xfe\xff", "x"),
           Op::Put("\xff\xff\x01", "x"), Op::Put("z", "x")});
  EXPECT_THAT(ListKeys(*store, "\xff"), ElementsAre("\xff", "\xff\xff", "\xff\xff\x01"));
  EXPECT_THAT(ListKeys(*store, "\xff\xff"), ElementsAre("\xff\xff", "\xff\xff\x01"));
  EXPECT_THAT(ListKeys(*store, "\xfe"), ElementsAre("\xfe\xff"));
}

TEST(SqliteStoreTest, SameKeyTwiceInOneTxn) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  // New key written twice: last value wins, created at this revision.
  EXPECT_EQ(MustTxn(*store, {}, {Op::Put("k", "1"), Op::Put("k", "2")}), 1);
  ExpectKv(MustGet(*store, "k"), "k", "2", 1, 1);
  // Existing key written twice keeps its create_revision.
  EXPECT_EQ(MustTxn(*store, {}, {Op::Put("k", "3"), Op::Put("k", "4")}), 2);
  ExpectKv(MustGet(*store, "k"), "k", "4", 1, 2);
  // Delete then put recreates it.
  EXPECT_EQ(MustTxn(*store, {}, {Op::Delete("k"), Op::Put("k", "5")}), 3);
  ExpectKv(MustGet(*store, "k"), "k", "5", 3, 3);
  // Put then delete of a new key leaves nothing.
  EXPECT_EQ(MustTxn(*store, {}, {Op::Put("n", "1"), Op::Delete("n")}), 4);
  EXPECT_EQ(MustGet(*store, "n"), std::nullopt);
  // Deleting twice: the second delete is of a missing key.
  absl::StatusOr<int64_t> twice = store->Txn({}, {Op::Delete("k"), Op::Delete("k")});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  ExpectKv(MustGet(*store, "k"), "k", "5", 3, 3);
  EXPECT_EQ(Revision(*store), 4);
}

// ---------------------------------------------------------------------------------------------
// Compare-and-set and invalid arguments.

TEST(SqliteStoreTest, CreateIfAbsentSucceedsOnce) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(MustTxn(*store, {Compare{"k", 0}}, {Op::Put("k", "first")}), 1);
  absl::StatusOr<int64_t> second = store->Txn({Compare{"k", 0}}, {Op::Put("k", "second")});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(second.status().message(), HasSubstr("\"k\""));
  EXPECT_THAT(second.status().message(), HasSubstr("actual 1"));
  ExpectKv(MustGet(*store, "k"), "k", "first", 1, 1);
  EXPECT_EQ(Revision(*store), 1);
}

TEST(SqliteStoreTest, StaleUpdateAbortsAndWritesNothing) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "k", "v1");                                              // 1
  EXPECT_EQ(MustTxn(*store, {Compare{"k", 1}}, {Op::Put("k", "v2")}), 2);  // Fresh: ok.
  absl::StatusOr<int64_t> stale =
      store->Txn({Compare{"k", 1}}, {Op::Put("other", "x"), Op::Put("k", "v3")});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(), HasSubstr("\"k\""));
  EXPECT_THAT(stale.status().message(), HasSubstr("expected mod_revision 1, actual 2"));
  ExpectKv(MustGet(*store, "k"), "k", "v2", 1, 2);
  EXPECT_EQ(MustGet(*store, "other"), std::nullopt);
  EXPECT_EQ(Revision(*store), 2);
  // The next successful txn takes the next revision: no gap.
  EXPECT_EQ(MustPut(*store, "z", "1"), 3);
}

TEST(SqliteStoreTest, AbortNamesFirstFailingCompare) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustTxn(*store, {}, {Op::Put("a", "1"), Op::Put("b", "1"), Op::Put("c", "1")});  // 1
  absl::StatusOr<int64_t> result = store->Txn(
      {Compare{"a", 1}, Compare{"b", 7}, Compare{"c", 9}, Compare{"d", 0}}, {Op::Put("a", "2")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result.status().message(), HasSubstr("\"b\""));
  EXPECT_THAT(result.status().message(), HasSubstr("expected mod_revision 7, actual 1"));
  // A compare expecting a missing key to exist reports actual 0.
  result = store->Txn({Compare{"missing", 1}}, {Op::Put("a", "2")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result.status().message(), HasSubstr("\"missing\""));
  EXPECT_THAT(result.status().message(), HasSubstr("actual 0"));
  ExpectKv(MustGet(*store, "a"), "a", "1", 1, 1);
}

TEST(SqliteStoreTest, CompareAfterDeleteSeesAbsentKey) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "k", "v");               // 1
  MustTxn(*store, {}, {Op::Delete("k")});  // 2
  EXPECT_EQ(MustTxn(*store, {Compare{"k", 0}}, {Op::Put("k", "again")}), 3);
  ExpectKv(MustGet(*store, "k"), "k", "again", 3, 3);
}

TEST(SqliteStoreTest, EmptyOpListIsInvalid) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<int64_t> result = store->Txn({}, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  result = store->Txn({Compare{"k", 0}}, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Revision(*store), 0);
}

TEST(SqliteStoreTest, DeleteMissingKeyIsInvalidAndAtomic) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "a", "1");  // 1
  absl::StatusOr<int64_t> result =
      store->Txn({}, {Op::Put("a", "2"), Op::Put("b", "2"), Op::Delete("nope")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("\"nope\""));
  // Nothing of the failed txn is visible.
  ExpectKv(MustGet(*store, "a"), "a", "1", 1, 1);
  EXPECT_EQ(MustGet(*store, "b"), std::nullopt);
  EXPECT_EQ(Revision(*store), 1);
  EXPECT_EQ(MustPut(*store, "c", "1"), 2);
}

TEST(SqliteStoreTest, InvalidOptionsAndPaths) {
  SqliteStore::Options options;
  options.history_limit = 0;
  EXPECT_EQ(SqliteStore::Open(":memory:", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<SqliteStore>> missing_dir =
      SqliteStore::Open(TempDbPath("no/such/dir/store.db"));
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kInternal);
}

// ---------------------------------------------------------------------------------------------
// Durability.

TEST(SqliteStoreTest, ReopenKeepsDataAndRevision) {
  const std::string path = TempDbPath("reopen.db");
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    MustPut(**store, "a", "1");                                    // 1
    MustTxn(**store, {}, {Op::Put("b", "2"), Op::Put("a", "3")});  // 2
    MustPut(**store, "gone", "x");                                 // 3
    MustTxn(**store, {}, {Op::Delete("gone")});                    // 4
  }
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ(Revision(**store), 4);
    ExpectKv(MustGet(**store, "a"), "a", "3", 1, 2);
    ExpectKv(MustGet(**store, "b"), "b", "2", 2, 2);
    EXPECT_EQ(MustGet(**store, "gone"), std::nullopt);
    EXPECT_EQ(MustPut(**store, "c", "5"), 5);  // Keeps counting.
    // History survives too.
    Recorder recorder;
    auto handle = MustWatch(**store, "", 0, recorder.Callback());
    ASSERT_TRUE(recorder.WaitForBatches(5));
    EXPECT_EQ(recorder.Batches()[3], std::vector<std::string>{"del gone m4"});
  }
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ(Revision(**store), 5);
    ExpectKv(MustGet(**store, "c"), "c", "5", 5, 5);
  }
}

TEST(SqliteStoreTest, FileIsWalWithSchemaVersion) {
  const std::string path = TempDbPath("format.db");
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    MustPut(**store, "a", "1");
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto query = [db](const char* sql) {
    std::string result;
    sqlite3_exec(
        db, sql,
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) = values[0] != nullptr ? values[0] : "NULL";
          return 0;
        },
        &result, nullptr);
    return result;
  };
  EXPECT_EQ(query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query("SELECT value FROM meta WHERE name = 'schema_version'"), "1");
  EXPECT_EQ(query("SELECT value FROM meta WHERE name = 'revision'"), "1");
  sqlite3_close(db);
}

TEST(SqliteStoreTest, NewerSchemaVersionIsRejected) {
  const std::string path = TempDbPath("future.db");
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE name = 'schema_version'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("99"));
}

TEST(SqliteStoreTest, LockedDatabaseIsUnavailable) {
  const std::string path = TempDbPath("locked.db");
  SqliteStore::Options options;
  options.busy_timeout = absl::Milliseconds(50);
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  ASSERT_TRUE(store.ok()) << store.status();
  MustPut(**store, "k", "1");  // 1
  // Another connection holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::StatusOr<int64_t> result = (*store)->Txn({}, {Op::Put("k", "2")});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("locked"));
  // Reads still work in WAL mode.
  ExpectKv(MustGet(**store, "k"), "k", "1", 1, 1);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(MustPut(**store, "k", "3"), 2);
}

// ---------------------------------------------------------------------------------------------
// Watch.

TEST(SqliteStoreTest, WatchReplaysFromZero) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "a", "1");                                    // 1
  MustTxn(*store, {}, {Op::Put("b", "2"), Op::Put("a", "3")});  // 2
  MustTxn(*store, {}, {Op::Delete("a")});                       // 3
  Recorder recorder;
  auto handle = MustWatch(*store, "", 0, recorder.Callback());
  ASSERT_TRUE(recorder.WaitForBatches(3));
  Drain(*store);
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<std::string>>{
                                    {"put a=1 c1 m1"},
                                    {"put b=2 c2 m2", "put a=3 c1 m2"},
                                    {"del a m3"},
                                }));
}

TEST(SqliteStoreTest, WatchReplaysFromTheMiddleThenLive) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  for (int i = 1; i <= 4; ++i) MustPut(*store, "k", absl::StrCat(i));
  Recorder recorder;
  auto handle = MustWatch(*store, "", 2, recorder.Callback());
  ASSERT_TRUE(recorder.WaitForBatches(2));
  MustPut(*store, "k", "5");
  ASSERT_TRUE(recorder.WaitForBatches(3));
  Drain(*store);
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<std::string>>{
                                    {"put k=3 c1 m3"},
                                    {"put k=4 c1 m4"},
                                    {"put k=5 c1 m5"},
                                }));
}

TEST(SqliteStoreTest, WatchLiveEventsAndPrefixFilter) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "a/old", "0");  // 1
  Recorder recorder;
  auto handle = MustWatch(*store, "a/", Revision(*store), recorder.Callback());
  MustPut(*store, "a0", "x");                                                        // 2: filtered
  MustTxn(*store, {}, {Op::Put("b", "x"), Op::Put("a/1", "y"), Op::Put("a", "z")});  // 3
  MustTxn(*store, {}, {Op::Delete("a/old")});                                        // 4
  MustPut(*store, "b", "again");                                                     // 5: filtered
  ASSERT_TRUE(recorder.WaitForBatches(2));
  Drain(*store);
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<std::string>>{
                                    {"put a/1=y c3 m3"},
                                    {"del a/old m4"},
                                }));
}

TEST(SqliteStoreTest, WatchReplayAppliesPrefixFilter) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustTxn(*store, {}, {Op::Put("a/1", "x"), Op::Put("a0", "x"), Op::Put("a/2", "x")});  // 1
  MustPut(*store, "a0", "y");                                                           // 2
  MustPut(*store, "a/1", "z");                                                          // 3
  Recorder recorder;
  auto handle = MustWatch(*store, "a/", 0, recorder.Callback());
  ASSERT_TRUE(recorder.WaitForBatches(2));
  Drain(*store);
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<std::string>>{
                                    {"put a/1=x c1 m1", "put a/2=x c1 m1"},
                                    {"put a/1=z c1 m3"},
                                }));
}

TEST(SqliteStoreTest, WatchAfterFutureRevision) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustPut(*store, "k", "1");  // 1
  Recorder recorder;
  auto handle = MustWatch(*store, "", 3, recorder.Callback());
  MustPut(*store, "k", "2");  // 2: not delivered
  MustPut(*store, "k", "3");  // 3: not delivered
  MustPut(*store, "k", "4");  // 4
  ASSERT_TRUE(recorder.WaitForBatches(1));
  Drain(*store);
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<std::string>>{{"put k=4 c1 m4"}}));
}

TEST(SqliteStoreTest, WatchRejectsBadArguments) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Watch("", -1, [](const std::vector<Event>&) {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Watch("", 0, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SqliteStoreTest, WatchOrderWithConcurrentWriters) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kTxnsPerThread = 50;
  constexpr int kTotal = kThreads * kTxnsPerThread;
  Recorder early;  // Registered before any write: all live.
  auto early_handle = MustWatch(*store, "", 0, early.Callback());
  Recorder late;  // Registered while writers run: replay then live, no gap, no duplicate.
  std::unique_ptr<WatchHandle> late_handle;
  absl::Notification halfway;
  std::atomic<int> written{0};

  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kTxnsPerThread; ++i) {
        const std::string key = absl::StrCat("w", t, "/", i % 5);
        absl::StatusOr<int64_t> revision = store->Txn({}, {Op::Put(key, absl::StrCat(i))});
        EXPECT_TRUE(revision.ok()) << revision.status();
        if (++written == kTotal / 2) halfway.Notify();
      }
    });
  }
  ASSERT_TRUE(halfway.WaitForNotificationWithTimeout(kWait));
  late_handle = MustWatch(*store, "", 0, late.Callback());
  for (std::thread& writer : writers) writer.join();

  ASSERT_TRUE(early.WaitForBatches(kTotal));
  ASSERT_TRUE(late.WaitForBatches(kTotal));
  Drain(*store);
  std::vector<int64_t> expected;
  for (int64_t r = 1; r <= kTotal; ++r) expected.push_back(r);
  EXPECT_EQ(early.Revisions(), expected);
  EXPECT_EQ(late.Revisions(), expected);
  EXPECT_EQ(Revision(*store), kTotal + 1);  // +1: Drain's sentinel.
}

TEST(SqliteStoreTest, CancelFromAnotherThreadWaitsForRunningCallback) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  absl::Notification entered;
  absl::Notification release;
  std::atomic<int> calls{0};
  auto handle = MustWatch(*store, "k", 0, [&](const std::vector<Event>&) {
    if (++calls == 1) {
      entered.Notify();
      release.WaitForNotificationWithTimeout(kWait);
    }
  });
  MustPut(*store, "k", "1");
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kWait));
  MustPut(*store, "k", "2");  // Queued behind the running callback.

  absl::Notification destroyed;
  std::thread canceller([&] {
    handle.reset();
    destroyed.Notify();
  });
  // The destructor must not return while the callback runs.
  EXPECT_FALSE(destroyed.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  release.Notify();
  ASSERT_TRUE(destroyed.WaitForNotificationWithTimeout(kWait));
  canceller.join();

  MustPut(*store, "k", "3");
  Drain(*store);
  EXPECT_EQ(calls.load(), 1);
}

TEST(SqliteStoreTest, CancelFromInsideOwnCallback) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  struct State {
    std::unique_ptr<WatchHandle> handle;
    int calls = 0;
    absl::Notification cancelled;
  };
  auto state = std::make_shared<State>();
  // The store is empty, so nothing is delivered before the handle is stored.
  state->handle = MustWatch(*store, "", 0, [state](const std::vector<Event>&) {
    ++state->calls;
    state->handle.reset();  // Must not deadlock.
    state->cancelled.Notify();
  });
  MustPut(*store, "k", "1");
  MustPut(*store, "k", "2");
  ASSERT_TRUE(state->cancelled.WaitForNotificationWithTimeout(kWait));
  MustPut(*store, "k", "3");
  Drain(*store);
  EXPECT_EQ(state->calls, 1);
  EXPECT_EQ(state->handle, nullptr);
}

TEST(SqliteStoreTest, CallbackMayReadAndWriteTheStore) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  absl::Notification done;
  std::optional<KeyValue> seen;
  absl::StatusOr<int64_t> written = absl::UnknownError("not run");
  auto handle = MustWatch(*store, "in/", 0, [&](const std::vector<Event>& events) {
    absl::StatusOr<std::optional<KeyValue>> kv = store->Get(events[0].kv.key);
    if (kv.ok()) seen = *kv;
    written = store->Txn({}, {Op::Put("out/echo", events[0].kv.value)});
    done.Notify();
  });
  MustPut(*store, "in/x", "hello");  // 1
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  ExpectKv(seen, "in/x", "hello", 1, 1);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 2);
  ExpectKv(MustGet(*store, "out/echo"), "out/echo", "hello", 2, 2);
}

TEST(SqliteStoreTest, CompactionLimitsWatchHistory) {
  SqliteStore::Options options;
  options.history_limit = 3;
  auto store = OpenMemory(options);
  ASSERT_NE(store, nullptr);
  for (int i = 1; i <= 10; ++i) MustPut(*store, "k", absl::StrCat(i));
  absl::StatusOr<int64_t> compact = store->CompactRevision();
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(*compact, 7);

  for (int64_t after : {0, 6}) {
    absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
        store->Watch("", after, [](const std::vector<Event>&) {});
    EXPECT_EQ(handle.status().code(), absl::StatusCode::kOutOfRange) << after;
    EXPECT_THAT(handle.status().message(), HasSubstr("compacted"));
  }
  Recorder recorder;
  auto handle = MustWatch(*store, "", 7, recorder.Callback());
  ASSERT_TRUE(recorder.WaitForBatches(3));
  Drain(*store);  // Revision 11, compacts to 8.
  EXPECT_EQ(recorder.Revisions(), (std::vector<int64_t>{8, 9, 10}));
  compact = store->CompactRevision();
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(*compact, 8);
  // Current data is unaffected by compaction.
  ExpectKv(MustGet(*store, "k"), "k", "10", 1, 10);
}

TEST(SqliteStoreTest, CompactionPersistsAcrossReopen) {
  const std::string path = TempDbPath("compact.db");
  SqliteStore::Options options;
  options.history_limit = 2;
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 1; i <= 5; ++i) MustPut(**store, "k", absl::StrCat(i));
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<int64_t> compact = (*store)->CompactRevision();
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(*compact, 3);
  EXPECT_EQ((*store)->Watch("", 2, [](const std::vector<Event>&) {}).status().code(),
            absl::StatusCode::kOutOfRange);
  Recorder recorder;
  auto handle = MustWatch(**store, "", 3, recorder.Callback());
  ASSERT_TRUE(recorder.WaitForBatches(2));
  EXPECT_EQ(recorder.Revisions(), (std::vector<int64_t>{4, 5}));
}

TEST(SqliteStoreTest, HandleMayOutliveStore) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  Recorder recorder;
  auto handle = MustWatch(*store, "", 0, recorder.Callback());
  MustPut(*store, "k", "1");
  ASSERT_TRUE(recorder.WaitForBatches(1));
  store.reset();
  handle.reset();  // Must not crash or hang.
  EXPECT_EQ(recorder.Batches().size(), 1u);
}

}  // namespace
}  // namespace lb::store
