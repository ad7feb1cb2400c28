// EtcdStore: the Store on an etcd v3 cluster (etcd's own gRPC API, generated from the .proto
// files Debian ships), so that several controllers share one authoritative state.
//
// Mapping (docs/etcd.md):
//   key K                 etcd key Options::prefix + K
//   revision              etcd's cluster-wide revision: increasing, with gaps when other
//                         writers (other prefixes, other applications) commit in between
//   Txn                   one etcd Txn: each Compare{K, r} is MOD(K) == r; each delete of a key
//                         the transaction did not put first adds VERSION(K) > 0, so a delete of
//                         a missing key fails the whole transaction (kInvalidArgument, as in
//                         SqliteStore); several ops on one key collapse into the last one
//                         (etcd refuses duplicate keys), except that a delete followed by a put
//                         of the same key is refused (etcd cannot recreate a key in one Txn)
//   Count                 a Range with count_only
//   leases                LeaseGrant / LeaseKeepAlive (one request per call) / LeaseRevoke;
//                         a put's lease is the etcd put's lease
//   Watch                 an etcd Watch from after_revision + 1, events grouped by revision;
//                         reconnects (to the next endpoint) resume from the last delivered
//                         revision; if that history was compacted meanwhile, the watcher
//                         re-lists the prefix and delivers the difference as one synthetic
//                         revision, so callers see a consistent sequence without gaps
//
// Failover: one gRPC channel per endpoint; a call that fails with UNAVAILABLE or
// DEADLINE_EXCEEDED moves the store to the next endpoint. Reads are retried there once per
// endpoint; a Txn is not (it may have been applied): it fails with kUnavailable.
//
// Thread-safe. Watch callbacks run on a thread owned by their watch, without locks held; they
// may call Get/List/Txn/CurrentRevision and may destroy their own handle.
#ifndef LB_CONTROLLER_STORE_ETCD_STORE_H_
#define LB_CONTROLLER_STORE_ETCD_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/store/store.h"

namespace lb::store {

class EtcdStore final : public Store {
 public:
  struct Options {
    std::vector<std::string> endpoints;  // host:port of etcd members' client URLs; at least one.
    std::string prefix = "/lb/";         // Every key lives under it; must not be empty.
    // TLS to etcd: all empty for plaintext. ca_file alone: server verification only;
    // cert_file + key_file: client certificate as well.
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    // etcd authentication (both or neither): a token from Auth.Authenticate is sent with every
    // call and renewed when etcd says it expired.
    std::string username;
    std::string password;
    absl::Duration request_timeout = absl::Seconds(5);
    // How long Connect() waits for a first answer from any endpoint.
    absl::Duration connect_timeout = absl::Seconds(10);
    // Watch reconnects back off exponentially up to this.
    absl::Duration max_watch_backoff = absl::Seconds(2);
  };

  // Connects and checks that etcd answers (a Range on the prefix). Errors: kInvalidArgument for
  // bad options or unreadable TLS files, kUnavailable if no endpoint answers in time,
  // kUnauthenticated / kPermissionDenied from etcd auth.
  static absl::StatusOr<std::unique_ptr<EtcdStore>> Connect(const Options& options);

  ~EtcdStore() override;
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override;
  absl::StatusOr<std::vector<KeyValue>> List(std::string_view prefix) override;
  absl::StatusOr<int64_t> Txn(const std::vector<Compare>& compares,
                              const std::vector<Op>& ops) override;
  absl::StatusOr<int64_t> CurrentRevision() override;
  absl::StatusOr<int64_t> Count(std::string_view prefix) override;
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override;
  absl::Status KeepAliveLease(int64_t lease) override;
  absl::Status RevokeLease(int64_t lease) override;
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(std::string_view prefix,
                                                     int64_t after_revision,
                                                     WatchCallback callback) override;

  // Compacts etcd's history up to `revision` (tests and operators; etcd's own
  // --auto-compaction-* flags are the usual way).
  absl::Status Compact(int64_t revision);

  // The newest mod_revision among the keys under the prefix (0 if none): a linearizable Range
  // of one key, keys only, newest first. The readiness probe (controller/fleet/readiness.h).
  absl::StatusOr<int64_t> NewestModRevision();

  // While true, Get and List are serializable reads (answered by whichever member is reached,
  // from its local state, without a quorum): the last state while the cluster has no quorum.
  // Txn, Count, CurrentRevision and NewestModRevision stay linearizable.
  void SetSerializableReads(bool serializable);

  // The endpoint calls currently go to (for tests and /metrics).
  std::string CurrentEndpoint() const;

  class Impl;

 private:
  explicit EtcdStore(std::shared_ptr<Impl> impl);
  // Shared with watches, so a WatchHandle may outlive the store.
  std::shared_ptr<Impl> impl_;
};

// The smallest key greater than every key starting with `prefix` (etcd's range_end for a
// prefix), or "\0" (every key from `prefix` on) when there is none.
std::string EtcdPrefixEnd(std::string_view prefix);

}  // namespace lb::store

#endif  // LB_CONTROLLER_STORE_ETCD_STORE_H_
