// SqliteStore: the embedded, crash-safe Store, one SQLite database file (WAL, synchronous=FULL).
//
// Schema (version 1):
//   meta(name, value)          schema_version, revision (latest committed), compact_revision
//                              (history at or below it was dropped).
//   kv(key, value, create_revision, mod_revision)
//   changes(revision, seq, key, value, create_revision, deleted)   history replayed by Watch;
//                              only the last Options::history_limit revisions are kept.
//
// One SqliteStore per database file: watchers only see commits made through this object.
#ifndef LB_CONTROLLER_STORE_SQLITE_STORE_H_
#define LB_CONTROLLER_STORE_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lb::store {

// Thread-safe. All database access goes through one connection guarded by a mutex; watch
// callbacks run on a dispatcher thread owned by the store, without that mutex held, so a callback
// may call Get/List/Txn/CurrentRevision (but must not destroy the store).
// A WatchHandle may outlive the store (destroying it then is a no-op).
class SqliteStore final : public Store {
 public:
  struct Options {
    // Revisions of history kept for Watch replay (>= 1; --history_max_revisions). Older
    // history is compacted in the transaction that pushes it out of the window.
    int64_t history_limit = 10000;
    // How long a statement waits for a lock held by another connection before kUnavailable.
    absl::Duration busy_timeout = absl::Seconds(5);
  };

  // Opens (creating if missing) the database at `path`; its parent directory must exist.
  // ":memory:" gives a private in-memory database (for tests; not durable).
  // Errors: kInvalidArgument for bad options, kFailedPrecondition for a database written by a
  // newer schema version, kUnavailable/kInternal for SQLite failures.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           const Options& options);

  // Stops the dispatcher thread (pending callbacks are dropped) and closes the database.
  // Must not run on the dispatcher thread (i.e. inside a watch callback).
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override;
  absl::StatusOr<std::vector<KeyValue>> List(std::string_view prefix) override;
  absl::StatusOr<int64_t> Txn(const std::vector<Compare>& compares,
                              const std::vector<Op>& ops) override;
  absl::StatusOr<int64_t> CurrentRevision() override;
  absl::StatusOr<int64_t> Count(std::string_view prefix) override;
  // Leases never expire here (one process writes the file); see Store.
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override;
  absl::Status KeepAliveLease(int64_t lease) override;
  absl::Status RevokeLease(int64_t lease) override;
  // Also kInvalidArgument for a negative `after_revision`. An `after_revision` above the current
  // revision is fine: only commits with a greater revision are delivered.
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(std::string_view prefix,
                                                     int64_t after_revision,
                                                     WatchCallback callback) override;

  // Highest revision whose history was compacted: Watch needs after_revision >= this.
  absl::StatusOr<int64_t> CompactRevision();

  // Drops the history at and below `revision` (HistoryCompactor, by age). kOutOfRange if it
  // already was, kInvalidArgument above the current revision.
  absl::Status Compact(int64_t revision);

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
  using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;
  struct Statements;  // Prepared once in Open, finalized before the connection closes.
  class Dispatcher;   // Watcher registry, event queue and the callback thread.

  SqliteStore(const Options& options, DbPtr db, std::unique_ptr<Statements> stmts, int64_t revision,
              int64_t compact_revision);

  // Body of Txn between BEGIN IMMEDIATE and COMMIT; fills `events`.
  absl::StatusOr<int64_t> ApplyLocked(const std::vector<Compare>& compares,
                                      const std::vector<Op>& ops, std::vector<Event>& events,
                                      int64_t& compact_revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a commit: moves the written keys to the leases their puts name.
  void AttachLeasesLocked(const std::vector<Event>& events, const std::vector<Op>& ops)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rolls back the open transaction, if SQLite has not already done so.
  void RollbackLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  absl::Mutex mu_;
  DbPtr db_ ABSL_GUARDED_BY(mu_);
  // Declared after db_ so the statements are finalized first.
  std::unique_ptr<Statements> stmts_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_);
  int64_t compact_revision_ ABSL_GUARDED_BY(mu_);
  // Live leases and the keys attached to each (in memory only).
  absl::flat_hash_map<int64_t, absl::flat_hash_set<std::string>> leases_ ABSL_GUARDED_BY(mu_);
  int64_t next_lease_ ABSL_GUARDED_BY(mu_) = 1;
  // Shared with WatchHandles so a handle outliving the store stays safe. Lock order: mu_ first.
  const std::shared_ptr<Dispatcher> dispatcher_;
};

}  // namespace lb::store

#endif  // LB_CONTROLLER_STORE_SQLITE_STORE_H_
