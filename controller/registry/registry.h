// The one mutation path of the controller: lb.v1 gRPC, the REST shim (/config and /v1) and
// therefore lbctl all call this class. It validates, then writes through the Store with
// compare-and-set on the revision of each key it read, so concurrent writers (threads here, or
// other controller replicas over a distributed store) never lose each other's updates.
//
// Every committed mutation of a cluster, endpoint, route or certificate also writes its audit
// events ("events/...", controller/audit/audit.h) in the same transaction, with the caller in
// audit::ScopedCaller on the calling thread.
//
// Layout in the store: "clusters/<name>" holds a Cluster's settings without endpoints, each
// endpoint is its own key "clusters/<name>/endpoints/<address:port>" (an lb.v1.Endpoint), so an
// endpoint change writes O(1) bytes however large its cluster is. Every endpoint change also
// rewrites the (small) settings key in the same transaction: the cluster's version is that key's
// mod_revision, bumped by every change of the cluster or one of its endpoints, and every write
// compares it. Endpoints are listed in (create_revision, key) order: the order they were added.
// Data written before this layout (endpoints inside the cluster value) is read as well and
// rewritten once by MigrateEndpointKeys (called by Bootstrap). "routes/default" holds the route
// table, "certificates/<name>" a Certificate with its private key, "meta/session_ticket_keys"
// the SessionTicketKeys, and "meta/bootstrapped" marks that first-start defaults were written.
//
// Every write takes an expected_version: 0 is unconditional; otherwise the write fails with
// kAborted, naming the current version, unless the cluster it changes (or the route table) is at
// that version. A write that changes nothing commits nothing: it succeeds with the current
// version.
//
// Thread-safe. Error codes: kInvalidArgument (bad input; state unchanged), kNotFound,
// kAlreadyExists, kFailedPrecondition (would break a reference, e.g. deleting a routed cluster),
// kAborted (expected_version mismatch, or too much contention), kUnavailable/kInternal (store).
#ifndef LB_CONTROLLER_REGISTRY_REGISTRY_H_
#define LB_CONTROLLER_REGISTRY_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/audit/audit.h"
#include "controller/store/store.h"
#include "google/protobuf/field_mask.pb.h"
#include "lb/v1/lb.pb.h"

namespace lb::registry {

inline constexpr char kDefaultCluster[] = "backend";
inline constexpr char kRouteTableName[] = "default";
inline constexpr char kClusterPrefix[] = "clusters/";
inline constexpr char kRouteTableKey[] = "routes/default";
inline constexpr char kBootstrapKey[] = "meta/bootstrapped";
inline constexpr char kCertificatePrefix[] = "certificates/";
// Rewritten by every certificate write and by every cluster write that references a
// certificate, so that checks across certificates (one default, distinct SNI names) and
// references from clusters hold under concurrent writers.
inline constexpr char kCertificateLockKey[] = "meta/certificates";
inline constexpr char kTicketKeysKey[] = "meta/session_ticket_keys";
// Session ticket keys kept (docs/tls.md): the newest encrypts, all decrypt.
inline constexpr int kTicketKeysKept = 3;
inline constexpr size_t kTicketKeyBytes = 80;

// Fills Endpoint.resolved_addresses for hostnames on reads. May be null.
using ResolvedLookup = std::function<std::vector<std::string>(const std::string& hostname)>;

// Counts of committed mutations, for metrics. Called after each successful commit.
using MutationObserver = std::function<void(absl::string_view op, const absl::Status& status)>;

class Registry {
 public:
  // `store` and `clock` must outlive the registry. `clock` dates audit events and judges
  // certificate validity (expired, not yet valid).
  explicit Registry(store::Store* store, Clock* clock = Clock::Real());

  void SetResolvedLookup(ResolvedLookup lookup) { resolved_lookup_ = std::move(lookup); }
  void SetMutationObserver(MutationObserver observer) { observer_ = std::move(observer); }
  // Audit events committed by this registry (docs/audit.md; one per changed resource).
  uint64_t events_recorded() const { return events_recorded_.load(std::memory_order_relaxed); }
  // Who writes through this registry: "" for the API (gRPC, REST, lbctl), "kubernetes" for the
  // Kubernetes sync's own Registry. Writes that would change, delete or create an object whose
  // owner is not the writer fail with kFailedPrecondition ("... is owned by kubernetes; change
  // it in Kubernetes"), state unchanged: the API cannot touch owned objects (nor set owner), the
  // sync cannot touch manual ones. Set before use.
  void SetWriter(std::string owner) { writer_ = std::move(owner); }

  // On the very first start of a store: cluster "backend" (the seed's single upstream, RANDOM)
  // and a route "/" to it. Later starts change nothing, even if the user deleted them. Runs
  // MigrateEndpointKeys first.
  absl::Status Bootstrap();

  // Rewrites every cluster stored with embedded endpoints (the layout before per-endpoint keys)
  // into its settings key and one key per endpoint: one transaction for all of them unless that
  // exceeds 10,240 ops (etcd's --max-txn-ops in docs/etcd.md), then several, each holding whole
  // clusters (compare-and-set on each, retried on conflict). Reads see the same model before,
  // between and after. Versions of migrated clusters change once; nothing else does. No-op when
  // nothing is embedded. Returns the number of clusters migrated.
  absl::StatusOr<int> MigrateEndpointKeys();

  // kAlreadyExists if address:port is in the cluster; kNotFound if the cluster is missing.
  absl::StatusOr<lb::v1::Cluster> AddEndpoint(absl::string_view cluster, lb::v1::Endpoint endpoint,
                                              int64_t expected_version = 0);
  // kNotFound if the endpoint (or cluster) is missing.
  absl::StatusOr<lb::v1::Cluster> RemoveEndpoint(absl::string_view cluster,
                                                 absl::string_view address, uint32_t port,
                                                 int64_t expected_version = 0);
  absl::StatusOr<lb::v1::Cluster> SetEndpointState(absl::string_view cluster,
                                                   absl::string_view address, uint32_t port,
                                                   lb::v1::AdminState state,
                                                   int64_t expected_version = 0);
  // Changes one endpoint in place: the fields `mask` names, from `values` (weight, zone, labels,
  // admin_state; a named field unset in `values` gets its default). An empty mask names the
  // fields set in `values`. kInvalidArgument for other fields or nothing to change.
  absl::StatusOr<lb::v1::Cluster> UpdateEndpoint(absl::string_view cluster,
                                                 absl::string_view address, uint32_t port,
                                                 const lb::v1::Endpoint& values,
                                                 google::protobuf::FieldMask mask,
                                                 int64_t expected_version);

  // One endpoint of a cluster, and the cluster's version in `cluster_version` if not null.
  // `address` is normalized first, as by the writes, so any spelling of it ("WEB.internal.",
  // "::FFFF:1.2.3.4") finds the endpoint. kInvalidArgument for a bad address or port;
  // kNotFound if the endpoint (or cluster) is missing.
  absl::StatusOr<lb::v1::Endpoint> GetEndpoint(absl::string_view cluster, absl::string_view address,
                                               uint32_t port, int64_t* cluster_version = nullptr);
  absl::StatusOr<lb::v1::Cluster> GetCluster(absl::string_view name);
  absl::StatusOr<std::vector<lb::v1::Cluster>> ListClusters();
  absl::StatusOr<lb::v1::Cluster> CreateCluster(lb::v1::Cluster cluster);
  // Replaces the settings of an existing cluster (unset ones get their defaults), keeping its
  // endpoints.
  absl::StatusOr<lb::v1::Cluster> UpdateCluster(lb::v1::Cluster cluster, int64_t expected_version);
  // With a non-empty mask, changes only the settings it names (see lb.proto,
  // UpdateClusterRequest); "name", "endpoints" and "version" are kInvalidArgument.
  absl::StatusOr<lb::v1::Cluster> UpdateCluster(lb::v1::Cluster cluster,
                                                const google::protobuf::FieldMask& mask,
                                                int64_t expected_version);
  absl::Status DeleteCluster(absl::string_view name, int64_t expected_version);

  absl::StatusOr<lb::v1::RouteTable> GetRouteTable();
  // kAlreadyExists for a route name in use, or a host and path_prefix another route has.
  absl::StatusOr<lb::v1::RouteTable> CreateRoute(lb::v1::Route route, int64_t expected_version = 0);
  absl::StatusOr<lb::v1::RouteTable> UpdateRoute(lb::v1::Route route, int64_t expected_version);
  absl::StatusOr<lb::v1::RouteTable> DeleteRoute(absl::string_view name, int64_t expected_version);

  // Certificates ("certificates/<name>"; docs/tls.md). Every result is redacted: no private key.
  // kInvalidArgument for what NormalizeCertificate refuses; kFailedPrecondition for a second
  // default; kAlreadyExists for a name in use or an SNI name another certificate has.
  absl::StatusOr<lb::v1::Certificate> CreateCertificate(lb::v1::Certificate cert);
  // Replaces an existing certificate (kNotFound otherwise), at `expected_version` (0: any).
  absl::StatusOr<lb::v1::Certificate> UpdateCertificate(lb::v1::Certificate cert,
                                                        int64_t expected_version);
  // kFailedPrecondition while a cluster's upstream_tls.client_certificate names it.
  absl::Status DeleteCertificate(absl::string_view name, int64_t expected_version);
  absl::StatusOr<lb::v1::Certificate> GetCertificate(absl::string_view name);
  // By name.
  absl::StatusOr<std::vector<lb::v1::Certificate>> ListCertificates();

  // The audit trail (audit::ListEvents over this registry's store).
  absl::StatusOr<std::vector<lb::v1::Event>> ListEvents(const audit::ListOptions& options) {
    return audit::ListEvents(store_, options);
  }

  // Session ticket keys: when none are stored, or keys[0] is at least `period` old at `now`,
  // stores a new random key first and keeps at most kTicketKeysKept. Safe for several
  // controllers at once (compare-and-set: one of them rotates). Returns the stored keys.
  absl::StatusOr<lb::v1::SessionTicketKeys> RotateTicketKeys(absl::Time now, absl::Duration period);

  // Calls `on_change` for the current state (every cluster, then the route table), then with a
  // Change whose initial_state_end is set, then for every committed change, in order, on the
  // store's watch thread. A change may be delivered twice around the switch from snapshot to
  // live; each Change carries the full object, so applying it again is harmless. Cancel by
  // destroying the handle.
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> Watch(
      std::function<void(const lb::v1::Change&)> on_change);

  // Decodes a store event of a key outside clusters/ (route table, certificate, ticket keys)
  // into a Change; ChangeAssembler decodes cluster keys.
  static absl::StatusOr<lb::v1::Change> ChangeFromEvent(const store::Event& event);

 private:
  struct Loaded {
    lb::v1::Cluster cluster;
    int64_t mod_revision = 0;
    // Serialized value of each stored endpoint key, by key.
    std::map<std::string, std::string> endpoint_values;
  };
  absl::StatusOr<Loaded> LoadCluster(absl::string_view name);
  struct LoadedRoutes {
    lb::v1::RouteTable table;
    int64_t mod_revision = 0;  // 0: no table stored yet.
  };
  absl::StatusOr<LoadedRoutes> LoadRoutes();

  // One read-modify-write attempt: the committed revision, or nullopt when a compare failed
  // and it should re-read and try again.
  using Attempt = absl::StatusOr<std::optional<int64_t>>;
  // Runs `attempt` until it commits or fails (bounded), and reports the outcome to the
  // mutation observer.
  absl::StatusOr<int64_t> Commit(absl::string_view op, const std::function<Attempt()>& attempt);

  // Read-modify-write of one cluster at `expected_version` (0: any); `edit` changes the cluster
  // or returns an error. An edit that changes nothing commits nothing.
  absl::StatusOr<lb::v1::Cluster> MutateCluster(
      absl::string_view op, absl::string_view name, int64_t expected_version,
      const std::function<absl::Status(lb::v1::Cluster*)>& edit);
  absl::StatusOr<lb::v1::RouteTable> MutateRoutes(
      absl::string_view op, int64_t expected_version,
      const std::function<absl::Status(lb::v1::RouteTable*)>& edit);

  void FillResolved(lb::v1::Cluster* cluster) const;
  absl::Status CheckOwner(absl::string_view kind, absl::string_view name,
                          const std::string* old_owner, const std::string* new_owner) const;
  absl::Status CheckRouteOwners(const lb::v1::RouteTable& before,
                                const lb::v1::RouteTable& after) const;

  // Checks a cluster's upstream_tls (fields; not the certificate's existence).
  static absl::Status NormalizeClusterTls(lb::v1::Cluster* cluster);
  // For a commit of `cluster`: when it names a client certificate, kFailedPrecondition if that
  // is missing, else adds the compares and the lock-key put that keep it from being deleted
  // meanwhile.
  absl::Status ReferenceCertificate(const lb::v1::Cluster& cluster,
                                    std::vector<store::Compare>* compares,
                                    std::vector<store::Op>* ops);
  // Writes (or with `create`, creates) a certificate: checks across all certificates, then one
  // compare-and-set of it and the lock key.
  absl::StatusOr<lb::v1::Certificate> PutCertificate(absl::string_view op, lb::v1::Certificate cert,
                                                     bool create, int64_t expected_version);

  store::Store* const store_;
  Clock* const clock_;
  ResolvedLookup resolved_lookup_;
  MutationObserver observer_;
  std::atomic<uint64_t> events_recorded_{0};
  // Serialises this process's mutations (each attempt and its commit). Without it, two
  // writers of one cluster could starve each other: one always read while the other
  // committed, and lost its compare-and-set every time (seen: 3 writes against 1,200 in 10 s,
  // then kAborted). Writers in other processes (etcd) still meet at the compare-and-set.
  absl::Mutex commit_mu_;
  std::string writer_;
};

// "clusters/<name>".
std::string ClusterKey(absl::string_view name);
// "clusters/<name>/endpoints/", the prefix of the cluster's endpoint keys.
std::string EndpointPrefix(absl::string_view cluster);
// "clusters/<name>/endpoints/<address:port>" ("[v6]:port" for IPv6).
std::string EndpointKey(absl::string_view cluster, absl::string_view address, uint32_t port);

// Turns the store's per-key events into lb.v1.Changes that carry whole clusters: it keeps every
// cluster's settings and endpoints, so an event on one endpoint key yields its whole cluster.
// Not thread-safe; one per watch.
class ChangeAssembler {
 public:
  // Replaces the state with the keys of one List(kClusterPrefix). kInternal for a corrupt value.
  absl::Status Load(const std::vector<store::KeyValue>& kvs);
  // Every cluster with settings, by name, as Registry reads return them.
  std::vector<lb::v1::Cluster> Clusters() const;
  // The Changes of one committed transaction: every cluster it touched (whole, or
  // cluster_deleted), then the other model keys in event order. Corrupt values and keys outside
  // the model are skipped.
  std::vector<lb::v1::Change> Apply(const std::vector<store::Event>& events);

 private:
  struct State {
    std::optional<lb::v1::Cluster> settings;  // Parsed cluster key; unset until it is seen.
    int64_t version = 0;
    // Endpoint keys: in (create_revision, key) order, and each key's create_revision.
    std::map<std::pair<int64_t, std::string>, lb::v1::Endpoint> endpoints;
    std::map<std::string, int64_t> created;
  };
  // False for a corrupt value.
  bool ApplyKey(const store::KeyValue& kv, bool deleted, std::vector<std::string>* touched);
  lb::v1::Cluster Build(const State& state) const;

  std::map<std::string, State> clusters_;
};
// "certificates/<name>".
std::string CertificateKey(absl::string_view name);

}  // namespace lb::registry

#endif  // LB_CONTROLLER_REGISTRY_REGISTRY_H_
