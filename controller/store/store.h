// The controller's durable key-value store: the one seam between the model and storage.
//
// The shape follows etcd v3 so that a distributed backend fits behind it without changing
// callers: every committed transaction gets the next store-wide revision, each key remembers the
// revision that last modified it, writes are conditional on those revisions (compare-and-set),
// and a watch delivers committed changes in revision order.
#ifndef LB_CONTROLLER_STORE_STORE_H_
#define LB_CONTROLLER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lb::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // Revision that created the key.
  int64_t mod_revision = 0;     // Revision that last wrote it.
};

// A condition of a transaction: `key` was last modified at `mod_revision`. A mod_revision of 0
// means the key must not exist.
struct Compare {
  std::string key;
  int64_t mod_revision = 0;
};

struct Op {
  // kDeletePrefix deletes every key starting with `key` (none is fine; one delete event per
  // key). It counts as one op however many keys it deletes (etcd's DeleteRange), so a
  // transaction stays within etcd's --max-txn-ops. No other op of its transaction may name a
  // key under that prefix (kInvalidArgument).
  enum class Kind { kPut, kDelete, kDeletePrefix };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // kPut only.
  // kPut only: the lease the key is attached to (0: none). The key is deleted when the lease
  // expires or is revoked; a later put without the lease detaches it (etcd's semantics).
  int64_t lease = 0;

  static Op Put(std::string key, std::string value) {
    return Op{Kind::kPut, std::move(key), std::move(value)};
  }
  static Op PutWithLease(std::string key, std::string value, int64_t lease) {
    return Op{Kind::kPut, std::move(key), std::move(value), lease};
  }
  static Op Delete(std::string key) { return Op{Kind::kDelete, std::move(key), {}}; }
  static Op DeletePrefix(std::string prefix) {
    return Op{Kind::kDeletePrefix, std::move(prefix), {}};
  }
};

// kInvalidArgument if a kDeletePrefix op of `ops` has an empty prefix or another op names a key
// under its prefix (both backends check this the same way).
absl::Status CheckPrefixDeletes(const std::vector<Op>& ops);

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // For kDelete: key and mod_revision (the deleting revision); value empty.
};

// Called with the events of one committed transaction, all with the same revision.
using WatchCallback = std::function<void(const std::vector<Event>&)>;

// Cancels its watch when destroyed. After the destructor returns the callback is not running
// and will not run again.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

// Thread-safe: every method may be called from any thread.
class Store {
 public:
  virtual ~Store() = default;

  // The key's current value, or std::nullopt if it does not exist.
  virtual absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) = 0;

  // Every key starting with `prefix`, in key order, as of one revision.
  virtual absl::StatusOr<std::vector<KeyValue>> List(std::string_view prefix) = 0;

  // Atomically: if every compare holds, applies `ops` in order under one new revision and
  // returns it once durable (it survives a crash of the process from then on). Errors:
  // kAborted if a compare failed (nothing written; re-read and retry), kInvalidArgument for an
  // empty op list or a delete of a missing key, kUnavailable/kInternal for storage failures.
  virtual absl::StatusOr<int64_t> Txn(const std::vector<Compare>& compares,
                                      const std::vector<Op>& ops) = 0;

  // The revision of the latest committed transaction (0 for an empty store).
  virtual absl::StatusOr<int64_t> CurrentRevision() = 0;

  // How many keys start with `prefix`, without reading their values (etcd: a count-only Range;
  // SQLite: SELECT COUNT). For caps checked on every write (endpoints per cluster).
  virtual absl::StatusOr<int64_t> Count(std::string_view prefix) = 0;

  // Leases (etcd's): keys put with Op::PutWithLease live as long as their lease. A lease lives
  // `ttl` (at least 1 s, whole seconds) after its grant or last KeepAliveLease, then it expires
  // and its keys are deleted in one revision; RevokeLease ends it at once the same way.
  // SQLite: the store has one writer process, so a lease never expires while the store is open
  // (the TTL is not enforced); revoking deletes its keys; leases do not survive a restart (their
  // keys then stay as plain keys). Errors: kInvalidArgument for a ttl under 1 s; KeepAliveLease
  // and RevokeLease: kNotFound for a lease that expired, was revoked or never existed; Txn:
  // kNotFound for a put with such a lease; kUnavailable when the store cannot be reached.
  virtual absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) = 0;
  virtual absl::Status KeepAliveLease(int64_t lease) = 0;
  virtual absl::Status RevokeLease(int64_t lease) = 0;

  // Delivers every change to keys under `prefix` with revision > `after_revision`, first the
  // retained history, then new commits as they happen, in revision order, one call at a time.
  // Callbacks run on a thread owned by the store and must not block for long or call Watch.
  // kOutOfRange if history after `after_revision` was already compacted.
  virtual absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(std::string_view prefix,
                                                             int64_t after_revision,
                                                             WatchCallback callback) = 0;
};

}  // namespace lb::store

#endif  // LB_CONTROLLER_STORE_STORE_H_
