#include "controller/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lb::store {
namespace {

constexpr int64_t kSchemaVersion = 1;

// This Abseil is built with its own string_view, distinct from std::string_view.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Maps a SQLite result code to a status carrying sqlite3_errmsg. Busy/locked are transient.
absl::Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = absl::StrCat("sqlite: ", AbslView(what), ": ", detail, " (code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// Runs SQL without results (may hold several statements).
absl::Status Exec(sqlite3* db, const char* sql) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  return absl::OkStatus();
}

// Runs a single-row, single-column query (e.g. a PRAGMA) and returns the column as text.
absl::StatusOr<std::string> QueryText(sqlite3* db, const char* sql) {
  std::string result;
  auto callback = [](void* out, int columns, char** values, char**) {
    if (columns > 0 && values[0] != nullptr) *static_cast<std::string*>(out) = values[0];
    return 0;
  };
  int rc = sqlite3_exec(db, sql, callback, &result, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  return result;
}

// The smallest string greater than every string starting with `prefix`, or nullopt if there is
// none (empty prefix or all 0xff bytes).
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::nullopt;
}

// Quotes a key for error messages.
std::string Quote(std::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(AbslView(key)), "\"");
}

// fsyncs the directory holding `path` so a newly created database file survives power loss.
absl::Status SyncParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open directory ", dir, ": ", std::strerror(errno)));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", dir, ": ", std::strerror(err)));
  return absl::OkStatus();
}

struct Blob {
  std::string_view bytes;
};

// A null pointer would bind SQL NULL; bind empty strings as zero-length values instead.
const char* NonNull(std::string_view s) { return s.data() != nullptr ? s.data() : ""; }

int BindOne(sqlite3_stmt* stmt, int index, int64_t value) {
  return sqlite3_bind_int64(stmt, index, value);
}
int BindOne(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text64(stmt, index, NonNull(text), text.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8);
}
int BindOne(sqlite3_stmt* stmt, int index, Blob blob) {
  return sqlite3_bind_blob64(stmt, index, NonNull(blob.bytes), blob.bytes.size(), SQLITE_TRANSIENT);
}

// One use of a cached prepared statement; resets it and clears its bindings when destroyed.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  template <typename... Args>
  absl::Status Bind(const Args&... args) {
    int index = 0;
    int rc = SQLITE_OK;
    ((rc = rc == SQLITE_OK ? BindOne(stmt_, ++index, args) : rc), ...);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, sqlite3_sql(stmt_));
    return absl::OkStatus();
  }

  // True if a row is available, false when the statement is done.
  absl::StatusOr<bool> Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, sqlite3_sql(stmt_));
  }

  // Runs a statement that returns no rows.
  absl::Status Run() {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    return absl::OkStatus();
  }

  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), size);
  }
  std::string Bytes(int column) {
    const void* bytes = sqlite3_column_blob(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    return bytes == nullptr ? std::string() : std::string(static_cast<const char*>(bytes), size);
  }

 private:
  sqlite3* const db_;
  sqlite3_stmt* const stmt_;
};

// Binds `first...`, then the prefix range: `prefix` and, if there is one, its end (exclusive).
template <typename... Args>
absl::Status BindPrefix(Query& query, std::string_view prefix,
                        const std::optional<std::string>& end, const Args&... first) {
  if (end.has_value()) return query.Bind(first..., prefix, std::string_view(*end));
  return query.Bind(first..., prefix);
}

}  // namespace

void SqliteStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void SqliteStore::StmtFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

struct SqliteStore::Statements {
  StmtPtr begin;
  StmtPtr commit;
  StmtPtr rollback;
  StmtPtr get_meta;
  StmtPtr set_meta;
  StmtPtr get;
  StmtPtr list_all;
  StmtPtr list_range;
  StmtPtr count_all;
  StmtPtr count_range;
  StmtPtr put;
  StmtPtr del;
  StmtPtr add_change;
  StmtPtr compact;
  StmtPtr history_all;
  StmtPtr history_range;
};

// Owns the watcher registry, the queue of pending deliveries and the thread running callbacks.
// Callbacks run one at a time, in queue order; the queue is filled in commit order because
// Publish and Add are called under the store's mutex.
class SqliteStore::Dispatcher {
 public:
  struct Watcher {
    Watcher(std::string prefix, int64_t after_revision, WatchCallback callback)
        : prefix(std::move(prefix)),
          after_revision(after_revision),
          callback(std::move(callback)) {}
    const std::string prefix;
    const int64_t after_revision;
    const WatchCallback callback;
    bool cancelled = false;  // Guarded by Dispatcher::mu_.
  };

  // Cancels its watcher on destruction; may outlive the store.
  class Handle final : public WatchHandle {
   public:
    Handle(std::shared_ptr<Dispatcher> dispatcher, std::shared_ptr<Watcher> watcher)
        : dispatcher_(std::move(dispatcher)), watcher_(std::move(watcher)) {}
    ~Handle() override { dispatcher_->Cancel(watcher_); }

   private:
    const std::shared_ptr<Dispatcher> dispatcher_;
    const std::shared_ptr<Watcher> watcher_;
  };

  Dispatcher() {
    thread_ = std::thread([this] { Run(); });
    absl::MutexLock lock(&mu_);
    thread_id_ = thread_.get_id();
  }
  ~Dispatcher() { Stop(); }

  // Stops and joins the thread; pending deliveries are dropped. Idempotent.
  void Stop() {
    std::deque<Item> dropped;
    std::vector<std::shared_ptr<Watcher>> watchers;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      if (std::this_thread::get_id() == thread_id_) {
        std::fprintf(stderr, "SqliteStore destroyed from inside a watch callback\n");
        std::abort();
      }
      stop_ = true;
    }
    thread_.join();
    absl::MutexLock lock(&mu_);
    thread_id_ = std::thread::id();  // Ids are reused: never match a later thread.
    dropped.swap(queue_);
    watchers.swap(watchers_);
    // Captured state of callbacks is released outside the lock (locals die after `lock`).
  }

  // Registers a watcher whose replayed history is `replay` (one batch per revision, ascending).
  std::shared_ptr<Watcher> Add(std::string prefix, int64_t after_revision, WatchCallback callback,
                               std::vector<std::vector<Event>> replay) {
    auto watcher =
        std::make_shared<Watcher>(std::move(prefix), after_revision, std::move(callback));
    absl::MutexLock lock(&mu_);
    for (std::vector<Event>& events : replay) {
      queue_.push_back(
          Item{watcher, std::make_shared<const std::vector<Event>>(std::move(events))});
    }
    watchers_.push_back(watcher);
    return watcher;
  }

  // Queues the events of one committed revision for every interested watcher. Called under the
  // store's mutex, so the events are not copied for a watcher that takes them all (the usual
  // case): those share one vector.
  void Publish(int64_t revision, std::vector<Event> events) {
    auto all = std::make_shared<const std::vector<Event>>(std::move(events));
    absl::MutexLock lock(&mu_);
    for (const std::shared_ptr<Watcher>& watcher : watchers_) {
      if (revision <= watcher->after_revision) continue;
      size_t matching = 0;
      for (const Event& event : *all) {
        matching += absl::StartsWith(event.kv.key, watcher->prefix) ? 1 : 0;
      }
      if (matching == all->size()) {
        queue_.push_back(Item{watcher, all});
      } else if (matching > 0) {
        auto some = std::make_shared<std::vector<Event>>();
        for (const Event& event : *all) {
          if (absl::StartsWith(event.kv.key, watcher->prefix)) some->push_back(event);
        }
        queue_.push_back(Item{watcher, std::move(some)});
      }
    }
  }

  // After return the watcher's callback is not running (unless the caller is that callback)
  // and never runs again.
  void Cancel(const std::shared_ptr<Watcher>& watcher) {
    std::deque<Item> dropped;  // Destroyed after the lock is released.
    absl::MutexLock lock(&mu_);
    watcher->cancelled = true;
    for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
      if (*it == watcher) {
        watchers_.erase(it);
        break;
      }
    }
    std::deque<Item> kept;
    for (Item& item : queue_) {
      (item.watcher == watcher ? dropped : kept).push_back(std::move(item));
    }
    queue_.swap(kept);
    if (std::this_thread::get_id() == thread_id_) return;  // From a callback: cannot wait.
    const Watcher* target = watcher.get();
    auto not_running = [this, target] {
      mu_.AssertHeld();  // Conditions are evaluated with mu_ held.
      return running_ != target;
    };
    mu_.Await(absl::Condition(&not_running));
  }

 private:
  struct Item {
    std::shared_ptr<Watcher> watcher;
    std::shared_ptr<const std::vector<Event>> events;  // Possibly shared with other watchers.
  };

  bool HasWorkOrStopped() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || !queue_.empty();
  }

  void Run() {
    while (true) {
      Item item;  // Destroyed (with any callback state it owns last) outside the lock.
      {
        absl::MutexLock lock(&mu_);
        running_ = nullptr;
        mu_.Await(absl::Condition(this, &Dispatcher::HasWorkOrStopped));
        if (stop_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        if (item.watcher->cancelled) continue;
        running_ = item.watcher.get();
      }
      item.watcher->callback(*item.events);
    }
  }

  absl::Mutex mu_;
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  const Watcher* running_ ABSL_GUARDED_BY(mu_) = nullptr;  // Whose callback is executing.
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id thread_id_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return Open(path, Options());
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               const Options& options) {
  if (options.history_limit < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("history_limit must be at least 1, got ", options.history_limit));
  }
  if (options.busy_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("busy_timeout must not be negative");
  }
  const bool in_memory = path == ":memory:";

  // The store's mutex serializes all use of the connection, hence NOMUTEX.
  sqlite3* raw_db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw_db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  DbPtr db(raw_db);
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, absl::StrCat("open ", path));
  sqlite3* d = db.get();

  rc = sqlite3_busy_timeout(d, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  if (rc != SQLITE_OK) return SqliteError(d, rc, "busy_timeout");

  absl::StatusOr<std::string> mode = QueryText(d, "PRAGMA journal_mode=WAL");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal" && !(in_memory && *mode == "memory")) {
    return absl::InternalError(
        absl::StrCat("sqlite: cannot enable WAL on ", path, ": journal_mode is ", *mode));
  }
  // FULL: the WAL is fsynced at every commit, so an acknowledged Txn survives power loss.
  if (absl::Status s = Exec(d, "PRAGMA synchronous=FULL"); !s.ok()) return s;
  absl::StatusOr<std::string> synchronous = QueryText(d, "PRAGMA synchronous");
  if (!synchronous.ok()) return synchronous.status();
  if (*synchronous != "2") {
    return absl::InternalError(absl::StrCat("sqlite: synchronous is ", *synchronous, ", not FULL"));
  }

  // Schema, created or checked atomically.
  if (absl::Status s = Exec(d,
                            "BEGIN IMMEDIATE;"
                            "CREATE TABLE IF NOT EXISTS meta("
                            "  name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL"
                            ") WITHOUT ROWID;"
                            "INSERT OR IGNORE INTO meta(name, value) VALUES('schema_version', 1);");
      !s.ok()) {
    if (!sqlite3_get_autocommit(d)) Exec(d, "ROLLBACK").IgnoreError();
    return s;
  }
  absl::StatusOr<std::string> version =
      QueryText(d, "SELECT value FROM meta WHERE name = 'schema_version'");
  if (!version.ok() || *version != absl::StrCat(kSchemaVersion)) {
    Exec(d, "ROLLBACK").IgnoreError();
    if (!version.ok()) return version.status();
    // Migrations from older versions go here once there is a version 2.
    return absl::FailedPreconditionError(absl::StrCat("store ", path, " has schema version ",
                                                      *version, "; this binary supports version ",
                                                      kSchemaVersion));
  }
  if (absl::Status s = Exec(d,
                            "CREATE TABLE IF NOT EXISTS kv("
                            "  key TEXT PRIMARY KEY NOT NULL,"
                            "  value BLOB NOT NULL,"
                            "  create_revision INTEGER NOT NULL,"
                            "  mod_revision INTEGER NOT NULL"
                            ") WITHOUT ROWID;"
                            "CREATE TABLE IF NOT EXISTS changes("
                            "  revision INTEGER NOT NULL,"
                            "  seq INTEGER NOT NULL,"
                            "  key TEXT NOT NULL,"
                            "  value BLOB NOT NULL,"
                            "  create_revision INTEGER NOT NULL,"
                            "  deleted INTEGER NOT NULL,"
                            "  PRIMARY KEY(revision, seq)"
                            ") WITHOUT ROWID;"
                            "INSERT OR IGNORE INTO meta(name, value) VALUES('revision', 0);"
                            "INSERT OR IGNORE INTO meta(name, value) VALUES('compact_revision', 0);"
                            "COMMIT;");
      !s.ok()) {
    if (!sqlite3_get_autocommit(d)) Exec(d, "ROLLBACK").IgnoreError();
    return s;
  }
  if (!in_memory) {
    if (absl::Status s = SyncParentDirectory(path); !s.ok()) return s;
  }

  auto stmts = std::make_unique<Statements>();
  const std::pair<StmtPtr*, const char*> sqls[] = {
      {&stmts->begin, "BEGIN IMMEDIATE"},
      {&stmts->commit, "COMMIT"},
      {&stmts->rollback, "ROLLBACK"},
      {&stmts->get_meta, "SELECT value FROM meta WHERE name = ?1"},
      {&stmts->set_meta, "UPDATE meta SET value = ?2 WHERE name = ?1"},
      {&stmts->get, "SELECT value, create_revision, mod_revision FROM kv WHERE key = ?1"},
      {&stmts->list_all,
       "SELECT key, value, create_revision, mod_revision FROM kv WHERE key >= ?1 ORDER BY key"},
      {&stmts->list_range,
       "SELECT key, value, create_revision, mod_revision FROM kv WHERE key >= ?1 AND key < ?2 "
       "ORDER BY key"},
      {&stmts->count_all, "SELECT COUNT(*) FROM kv WHERE key >= ?1"},
      {&stmts->count_range, "SELECT COUNT(*) FROM kv WHERE key >= ?1 AND key < ?2"},
      {&stmts->put,
       "INSERT OR REPLACE INTO kv(key, value, create_revision, mod_revision) "
       "VALUES(?1, ?2, ?3, ?4)"},
      {&stmts->del, "DELETE FROM kv WHERE key = ?1"},
      {&stmts->add_change,
       "INSERT INTO changes(revision, seq, key, value, create_revision, deleted) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&stmts->compact, "DELETE FROM changes WHERE revision <= ?1"},
      {&stmts->history_all,
       "SELECT revision, key, value, create_revision, deleted FROM changes "
       "WHERE revision > ?1 AND key >= ?2 ORDER BY revision, seq"},
      {&stmts->history_range,
       "SELECT revision, key, value, create_revision, deleted FROM changes "
       "WHERE revision > ?1 AND key >= ?2 AND key < ?3 ORDER BY revision, seq"},
  };
  for (const auto& [target, sql] : sqls) {
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v3(d, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    target->reset(stmt);
    if (rc != SQLITE_OK) return SqliteError(d, rc, sql);
  }

  int64_t meta[2] = {0, 0};
  const char* names[2] = {"revision", "compact_revision"};
  for (int i = 0; i < 2; ++i) {
    Query query(d, stmts->get_meta.get());
    if (absl::Status s = query.Bind(std::string_view(names[i])); !s.ok()) return s;
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row)
      return absl::InternalError(absl::StrCat("store ", path, ": meta row ", names[i], " missing"));
    meta[i] = query.Int(0);
  }

  return std::unique_ptr<SqliteStore>(
      new SqliteStore(options, std::move(db), std::move(stmts), meta[0], meta[1]));
}

SqliteStore::SqliteStore(const Options& options, DbPtr db, std::unique_ptr<Statements> stmts,
                         int64_t revision, int64_t compact_revision)
    : options_(options),
      db_(std::move(db)),
      stmts_(std::move(stmts)),
      revision_(revision),
      compact_revision_(compact_revision),
      dispatcher_(std::make_shared<Dispatcher>()) {}

SqliteStore::~SqliteStore() {
  dispatcher_->Stop();
  absl::MutexLock lock(&mu_);
  stmts_.reset();
  db_.reset();
}

absl::StatusOr<std::optional<KeyValue>> SqliteStore::Get(std::string_view key) {
  absl::MutexLock lock(&mu_);
  Query query(db_.get(), stmts_->get.get());
  if (absl::Status s = query.Bind(key); !s.ok()) return s;
  absl::StatusOr<bool> row = query.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<KeyValue>();
  return KeyValue{std::string(key), query.Bytes(0), query.Int(1), query.Int(2)};
}

absl::StatusOr<std::vector<KeyValue>> SqliteStore::List(std::string_view prefix) {
  const std::optional<std::string> end = PrefixEnd(prefix);
  absl::MutexLock lock(&mu_);
  Query query(db_.get(), end.has_value() ? stmts_->list_range.get() : stmts_->list_all.get());
  if (absl::Status s = BindPrefix(query, prefix, end); !s.ok()) return s;
  std::vector<KeyValue> result;
  while (true) {
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    result.push_back(KeyValue{query.Text(0), query.Bytes(1), query.Int(2), query.Int(3)});
  }
  return result;
}

absl::StatusOr<int64_t> SqliteStore::Count(std::string_view prefix) {
  const std::optional<std::string> end = PrefixEnd(prefix);
  absl::MutexLock lock(&mu_);
  Query query(db_.get(), end.has_value() ? stmts_->count_range.get() : stmts_->count_all.get());
  if (absl::Status s = BindPrefix(query, prefix, end); !s.ok()) return s;
  absl::StatusOr<bool> row = query.Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError("store: COUNT returned no row");
  return query.Int(0);
}

absl::StatusOr<int64_t> SqliteStore::GrantLease(absl::Duration ttl) {
  if (ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease: ttl ", absl::FormatDuration(ttl), " is under 1s"));
  }
  absl::MutexLock lock(&mu_);
  const int64_t id = next_lease_++;
  leases_[id];
  return id;
}

absl::Status SqliteStore::KeepAliveLease(int64_t lease) {
  absl::MutexLock lock(&mu_);
  if (!leases_.contains(lease)) {
    return absl::NotFoundError(absl::StrCat("lease ", lease, " expired or was revoked"));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::RevokeLease(int64_t lease) {
  std::vector<Op> ops;
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(lease);
    if (it == leases_.end()) {
      return absl::NotFoundError(absl::StrCat("lease ", lease, " expired or was revoked"));
    }
    for (const std::string& key : it->second) ops.push_back(Op::Delete(key));
    leases_.erase(it);
  }
  if (ops.empty()) return absl::OkStatus();
  // The keys attached to the lease exist (a delete detaches them), so this cannot fail on a
  // missing key; a storage failure leaves them as plain keys.
  absl::StatusOr<int64_t> r = Txn({}, ops);
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<int64_t> SqliteStore::CurrentRevision() {
  absl::MutexLock lock(&mu_);
  return revision_;
}

absl::StatusOr<int64_t> SqliteStore::CompactRevision() {
  absl::MutexLock lock(&mu_);
  return compact_revision_;
}

absl::Status SqliteStore::Compact(int64_t revision) {
  absl::MutexLock lock(&mu_);
  if (revision <= compact_revision_) {
    return absl::OutOfRangeError(absl::StrCat("compact: history up to revision ", compact_revision_,
                                              " was already compacted"));
  }
  if (revision > revision_) {
    return absl::InvalidArgumentError(
        absl::StrCat("compact: revision ", revision, " is after the current one, ", revision_));
  }
  sqlite3* db = db_.get();
  // The lambda below runs with mu_ held; the analysis cannot see that inside it.
  Statements& stmts = *stmts_;
  {
    Query begin(db, stmts.begin.get());
    if (absl::Status s = begin.Run(); !s.ok()) return s;
  }
  absl::Status s = [&]() -> absl::Status {
    Query compact(db, stmts.compact.get());
    if (absl::Status s = compact.Bind(revision); !s.ok()) return s;
    if (absl::Status s = compact.Run(); !s.ok()) return s;
    Query meta(db, stmts.set_meta.get());
    if (absl::Status s = meta.Bind(std::string_view("compact_revision"), revision); !s.ok()) {
      return s;
    }
    if (absl::Status s = meta.Run(); !s.ok()) return s;
    Query commit(db, stmts.commit.get());
    return commit.Run();
  }();
  if (!s.ok()) {
    RollbackLocked();
    return s;
  }
  compact_revision_ = revision;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::Txn(const std::vector<Compare>& compares,
                                         const std::vector<Op>& ops) {
  if (ops.empty()) return absl::InvalidArgumentError("txn: empty op list");
  if (absl::Status s = CheckPrefixDeletes(ops); !s.ok()) return s;
  std::vector<Event> events;
  events.reserve(ops.size());
  absl::MutexLock lock(&mu_);
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kPut && op.lease != 0 && !leases_.contains(op.lease)) {
      return absl::NotFoundError(absl::StrCat("txn: lease ", op.lease, " of key ", Quote(op.key),
                                              " expired or was revoked"));
    }
  }
  {
    Query begin(db_.get(), stmts_->begin.get());
    if (absl::Status s = begin.Run(); !s.ok()) return s;
  }
  int64_t compact_revision = compact_revision_;
  absl::StatusOr<int64_t> revision = ApplyLocked(compares, ops, events, compact_revision);
  if (!revision.ok()) {
    RollbackLocked();
    return revision.status();
  }
  absl::Status committed;
  {
    Query commit(db_.get(), stmts_->commit.get());
    committed = commit.Run();
  }
  if (!committed.ok()) {
    RollbackLocked();
    return committed;
  }
  // Durable from here. Publishing under mu_ keeps the watch queue in commit order.
  revision_ = *revision;
  compact_revision_ = compact_revision;
  if (!leases_.empty()) AttachLeasesLocked(events, ops);
  dispatcher_->Publish(*revision, std::move(events));
  return *revision;
}

absl::StatusOr<int64_t> SqliteStore::ApplyLocked(const std::vector<Compare>& compares,
                                                 const std::vector<Op>& ops,
                                                 std::vector<Event>& events,
                                                 int64_t& compact_revision) {
  sqlite3* db = db_.get();
  Statements& stmts = *stmts_;
  // Reads the key's current row inside the transaction (seeing this txn's earlier ops).
  auto get = [&](const std::string& key) -> absl::StatusOr<std::optional<KeyValue>> {
    Query query(db, stmts.get.get());
    if (absl::Status s = query.Bind(std::string_view(key)); !s.ok()) return s;
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<KeyValue>();
    return KeyValue{key, query.Bytes(0), query.Int(1), query.Int(2)};
  };
  auto set_meta = [&](std::string_view name, int64_t value) {
    Query query(db, stmts.set_meta.get());
    if (absl::Status s = query.Bind(name, value); !s.ok()) return s;
    return query.Run();
  };

  int64_t current = 0;
  {
    Query query(db, stmts.get_meta.get());
    if (absl::Status s = query.Bind(std::string_view("revision")); !s.ok()) return s;
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::InternalError("store: meta row revision missing");
    current = query.Int(0);
  }
  const int64_t revision = current + 1;

  for (const Compare& compare : compares) {
    absl::StatusOr<std::optional<KeyValue>> kv = get(compare.key);
    if (!kv.ok()) return kv.status();
    const int64_t actual = kv->has_value() ? (*kv)->mod_revision : 0;
    if (actual != compare.mod_revision) {
      return absl::AbortedError(absl::StrCat(
          "txn: compare failed on key ", Quote(compare.key), ": expected mod_revision ",
          compare.mod_revision, ", actual ", actual, actual == 0 ? " (key does not exist)" : ""));
    }
  }

  // Appends one change row and its event.
  int64_t seq = 0;
  auto record = [&](Event event) -> absl::Status {
    Query change(db, stmts.add_change.get());
    if (absl::Status s = change.Bind(revision, seq++, std::string_view(event.kv.key),
                                     Blob{event.kv.value}, event.kv.create_revision,
                                     static_cast<int64_t>(event.type == Event::Type::kDelete));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = change.Run(); !s.ok()) return s;
    events.push_back(std::move(event));
    return absl::OkStatus();
  };
  auto del = [&](const std::string& key) -> absl::Status {
    Query del(db, stmts.del.get());
    if (absl::Status s = del.Bind(std::string_view(key)); !s.ok()) return s;
    if (absl::Status s = del.Run(); !s.ok()) return s;
    Event event;
    event.type = Event::Type::kDelete;
    event.kv.key = key;
    event.kv.mod_revision = revision;
    return record(std::move(event));
  };

  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kDeletePrefix) {
      const std::optional<std::string> end = PrefixEnd(op.key);
      std::vector<std::string> keys;
      {
        Query query(db, end.has_value() ? stmts.list_range.get() : stmts.list_all.get());
        if (absl::Status s = BindPrefix(query, op.key, end); !s.ok()) return s;
        while (true) {
          absl::StatusOr<bool> row = query.Step();
          if (!row.ok()) return row.status();
          if (!*row) break;
          keys.push_back(query.Text(0));
        }
      }
      for (const std::string& key : keys) {
        if (absl::Status s = del(key); !s.ok()) return s;
      }
      continue;
    }
    absl::StatusOr<std::optional<KeyValue>> existing = get(op.key);
    if (!existing.ok()) return existing.status();
    if (op.kind == Op::Kind::kDelete) {
      if (!existing->has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("txn: delete of missing key ", Quote(op.key)));
      }
      if (absl::Status s = del(op.key); !s.ok()) return s;
      continue;
    }
    Event event;
    event.kv.key = op.key;
    event.kv.mod_revision = revision;
    event.type = Event::Type::kPut;
    event.kv.value = op.value;
    event.kv.create_revision = existing->has_value() ? (*existing)->create_revision : revision;
    Query put(db, stmts.put.get());
    if (absl::Status s =
            put.Bind(std::string_view(op.key), Blob{op.value}, event.kv.create_revision, revision);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = put.Run(); !s.ok()) return s;
    if (absl::Status s = record(std::move(event)); !s.ok()) return s;
  }

  if (absl::Status s = set_meta("revision", revision); !s.ok()) return s;
  // Keep revisions (revision - history_limit, revision]; compact in this same transaction.
  const int64_t floor = revision - options_.history_limit;
  if (floor > compact_revision) {
    Query compact(db, stmts.compact.get());
    if (absl::Status s = compact.Bind(floor); !s.ok()) return s;
    if (absl::Status s = compact.Run(); !s.ok()) return s;
    if (absl::Status s = set_meta("compact_revision", floor); !s.ok()) return s;
    compact_revision = floor;
  }
  return revision;
}

void SqliteStore::AttachLeasesLocked(const std::vector<Event>& events, const std::vector<Op>& ops) {
  // Every written key leaves the lease it had; a put with a lease joins that one (the last
  // put of a key in the transaction wins).
  absl::flat_hash_map<std::string, int64_t> lease_of;
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kPut) lease_of[op.key] = op.lease;
  }
  for (const Event& e : events) {
    for (auto& [id, keys] : leases_) keys.erase(e.kv.key);
  }
  for (const Event& e : events) {
    if (e.type != Event::Type::kPut) continue;
    auto it = lease_of.find(e.kv.key);
    if (it != lease_of.end() && it->second != 0) leases_[it->second].insert(e.kv.key);
  }
}

void SqliteStore::RollbackLocked() {
  if (sqlite3_get_autocommit(db_.get())) return;  // SQLite already rolled back.
  Query rollback(db_.get(), stmts_->rollback.get());
  rollback.Run().IgnoreError();
}

absl::StatusOr<std::unique_ptr<WatchHandle>> SqliteStore::Watch(std::string_view prefix,
                                                                int64_t after_revision,
                                                                WatchCallback callback) {
  if (after_revision < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch: negative after_revision ", after_revision));
  }
  if (!callback) return absl::InvalidArgumentError("watch: empty callback");
  const std::optional<std::string> end = PrefixEnd(prefix);
  std::vector<std::vector<Event>> replay;
  // Reading history and registering under mu_ means no commit falls between the two: every
  // later commit is published to the new watcher, every earlier one is in `replay`.
  absl::MutexLock lock(&mu_);
  if (after_revision < compact_revision_) {
    return absl::OutOfRangeError(absl::StrCat(
        "watch: history after revision ", after_revision, " was compacted (retained history",
        " starts after revision ", compact_revision_, "); re-list and watch from there"));
  }
  {
    Query query(db_.get(),
                end.has_value() ? stmts_->history_range.get() : stmts_->history_all.get());
    if (absl::Status s = BindPrefix(query, prefix, end, after_revision); !s.ok()) return s;
    int64_t last_revision = 0;
    while (true) {
      absl::StatusOr<bool> row = query.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      const int64_t revision = query.Int(0);
      if (replay.empty() || revision != last_revision) replay.emplace_back();
      last_revision = revision;
      Event event;
      event.kv.key = query.Text(1);
      event.kv.mod_revision = revision;
      if (query.Int(4) != 0) {
        event.type = Event::Type::kDelete;
      } else {
        event.type = Event::Type::kPut;
        event.kv.value = query.Bytes(2);
        event.kv.create_revision = query.Int(3);
      }
      replay.back().push_back(std::move(event));
    }
  }
  std::shared_ptr<Dispatcher::Watcher> watcher =
      dispatcher_->Add(std::string(prefix), after_revision, std::move(callback), std::move(replay));
  return std::unique_ptr<WatchHandle>(new Dispatcher::Handle(dispatcher_, std::move(watcher)));
}

}  // namespace lb::store
