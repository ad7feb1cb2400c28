// The audit trail (docs/audit.md): who changed what, kept in the store beside the model.
//
// Every accepted mutation of a cluster, endpoint, route or certificate is recorded as one
// lb.v1.Event per changed resource, under "events/<time>-<random>-<index>", written by the
// Registry in the same store transaction as the change itself: a crash can neither record a
// change that did not commit nor lose one that did. An event's revision (its sequence) is the
// create_revision of its key: the revision of that transaction.
//
// Who: the API layers (REST /config, /v1, gRPC) authenticate a call and put its Caller in a
// ScopedCaller for the duration of the registry call; the Registry reads CurrentCaller() on the
// same thread. Writes with no caller in scope are recorded as api "internal".
#ifndef LB_CONTROLLER_AUDIT_AUDIT_H_
#define LB_CONTROLLER_AUDIT_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/store/store.h"
#include "lb/v1/lb.pb.h"

namespace lb::audit {

inline constexpr char kEventPrefix[] = "events/";
// A before/after JSON larger than this is replaced by {"truncated_bytes":N} so one event stays
// well inside a store value (etcd's default request limit is 1.5 MiB).
inline constexpr size_t kMaxJsonBytes = 64 * 1024;
// ListEvents: default and largest limit.
inline constexpr uint32_t kDefaultListLimit = 100;
inline constexpr uint32_t kMaxListLimit = 1000;

// API names recorded in Event.api.
inline constexpr char kApiRestConfig[] = "rest_config";
inline constexpr char kApiRestV1[] = "rest_v1";
inline constexpr char kApiGrpc[] = "grpc";
inline constexpr char kApiKubernetes[] = "kubernetes";  // The in-process Kubernetes sync.
inline constexpr char kApiInternal[] = "internal";

// Identity recorded for writes when auth is off (and no client certificate was presented).
inline constexpr char kAnonymous[] = "anonymous";

struct Caller {
  std::string api;       // One of the kApi* names.
  std::string identity;  // Token name, client certificate subject, or kAnonymous.
  std::string peer;      // address:port, or "".
};

// Makes `caller` the current thread's caller until destroyed (nests; restores the previous).
// Not copyable; create and destroy on the same thread.
class ScopedCaller {
 public:
  explicit ScopedCaller(Caller caller);
  ~ScopedCaller();
  ScopedCaller(const ScopedCaller&) = delete;
  ScopedCaller& operator=(const ScopedCaller&) = delete;

 private:
  Caller caller_;
  const Caller* previous_;
};

// The innermost ScopedCaller of this thread, or nullptr.
const Caller* CurrentCaller();

// The identity of a call: the client certificate subject if one was verified, else the token's
// name if auth is on, else kAnonymous.
std::string Identity(absl::string_view cert_subject, absl::string_view token_name);

// JSON of an lb.v1 resource for before_json/after_json (proto field names; capped at
// kMaxJsonBytes). Certificates must be redacted by the caller.
std::string ResourceJson(const google::protobuf::Message& m);

// An event of the current caller (CurrentCaller(), else api "internal") at `now`, without
// revision, before/after or resource fields.
lb::v1::Event NewEvent(absl::string_view operation, absl::Time now);

// Puts for `events` (all of one transaction) at `now`: unique keys, ordered as given.
std::vector<store::Op> EventOps(const std::vector<lb::v1::Event>& events, absl::Time now);

// Events of one cluster or endpoint change: "create"/"delete" of the cluster when `before` or
// `after` is missing (with its endpoints), otherwise an "update" of the cluster if its settings
// differ (JSON without endpoints) and one event per endpoint added, removed or changed.
std::vector<lb::v1::Event> ClusterEvents(const lb::v1::Event& base,
                                         const std::optional<lb::v1::Cluster>& before,
                                         const std::optional<lb::v1::Cluster>& after);
// One event per route (by name) added, removed or changed between two route tables.
std::vector<lb::v1::Event> RouteEvents(const lb::v1::Event& base, const lb::v1::RouteTable& before,
                                       const lb::v1::RouteTable& after);
// A certificate created, replaced or deleted; both must be redacted already.
lb::v1::Event CertificateEvent(const lb::v1::Event& base,
                               const std::optional<lb::v1::Certificate>& before,
                               const std::optional<lb::v1::Certificate>& after);

struct ListOptions {
  std::string cluster;  // Empty: all.
  int64_t since = 0;    // Revision > since; 0: the newest `limit`.
  uint32_t limit = kDefaultListLimit;
};
// kInvalidArgument for a limit over kMaxListLimit or since < 0. Oldest first (by revision).
absl::StatusOr<std::vector<lb::v1::Event>> ListEvents(store::Store* store,
                                                      const ListOptions& options);

struct Retention {
  int64_t max_events = 10000;                 // --audit_max_events, 1..10,000,000.
  absl::Duration max_age = absl::Hours(168);  // --audit_max_age, 1m..10 years.
};
// kInvalidArgument naming the flag for values out of range.
absl::Status ValidateRetention(const Retention& retention);

// Deletes the events older than max_age at `now` and then the oldest beyond max_events, in
// transactions of at most 1,000 deletes. Returns how many it deleted.
absl::StatusOr<int64_t> Prune(store::Store* store, const Retention& retention, absl::Time now);

}  // namespace lb::audit

#endif  // LB_CONTROLLER_AUDIT_AUDIT_H_
