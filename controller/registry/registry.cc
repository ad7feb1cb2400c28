#include "controller/registry/registry.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/net/address.h"
#include "common/validation/validation_errors.h"
#include "controller/audit/audit.h"
#include "controller/model/certificate.h"
#include "controller/model/field_mask.h"
#include "controller/model/validation.h"
#include "google/protobuf/util/message_differencer.h"
#include "openssl/rand.h"

namespace lb::registry {
namespace {

constexpr int kMaxAttempts = 32;
// Ops per migration transaction: within etcd's --max-txn-ops as docs/etcd.md sets it.
constexpr size_t kMigrationMaxOps = 10240;

// Events added to the current attempt's transaction (AddEvents), counted by Commit once it
// commits. Attempts run on the thread that called Commit.
thread_local size_t pending_events = 0;

// Appends the audit trail's record of `events` (made at `now`) to a transaction's `ops`
// (docs/audit.md).
void AddEvents(const std::vector<lb::v1::Event>& events, absl::Time now,
               std::vector<store::Op>* ops) {
  for (store::Op& op : audit::EventOps(events, now)) ops->push_back(std::move(op));
  pending_events = events.size();
}

absl::StatusOr<std::optional<int64_t>> CommitOrConflict(store::Store* store,
                                                        const std::vector<store::Compare>& compares,
                                                        const std::vector<store::Op>& ops) {
  absl::StatusOr<int64_t> rev = store->Txn(compares, ops);
  if (rev.ok()) return std::optional<int64_t>(*rev);
  if (rev.status().code() == absl::StatusCode::kAborted) return std::optional<int64_t>();
  return rev.status();
}

// The cluster as stored: lb.proto's optional scalars were plain ones before, so their absence in
// older data meant 0; a cluster stored before circuit_breakers existed had the defaults.
bool ParseStoredCluster(const std::string& value, lb::v1::Cluster* cluster) {
  if (!cluster->ParseFromString(value)) return false;
  model::RestoreStoredZeros(cluster);
  model::SetCircuitBreakerDefaults(cluster->mutable_circuit_breakers());
  // Stored before clusters had a protocol: HTTP1, what proxies spoke to it.
  if (cluster->protocol() == lb::v1::UPSTREAM_PROTOCOL_UNSPECIFIED) {
    cluster->set_protocol(lb::v1::HTTP1);
  }
  return true;
}

// The route table as stored: routes written before `hosts` have only `host`.
bool ParseStoredRouteTable(const std::string& value, lb::v1::RouteTable* table) {
  if (!table->ParseFromString(value)) return false;
  for (lb::v1::Route& r : *table->mutable_routes()) {
    if (r.hosts_size() == 0) r.add_hosts(r.host().empty() ? "*" : r.host());
  }
  return true;
}

absl::Status CheckExpected(absl::string_view what, int64_t expected, int64_t actual) {
  if (expected != 0 && expected != actual) {
    return absl::AbortedError(
        absl::StrCat(what, " is at version ", actual, ", not ", expected, "; re-read and retry"));
  }
  return absl::OkStatus();
}

// A cluster's settings key: everything but the endpoints, which have keys of their own.
std::string Serialize(lb::v1::Cluster cluster) {
  cluster.clear_version();
  cluster.clear_endpoints();
  return cluster.SerializeAsString();
}

std::string Serialize(lb::v1::Endpoint endpoint) {
  endpoint.clear_resolved_addresses();
  return endpoint.SerializeAsString();
}

// An endpoint key's value; weight was a plain scalar once, so its absence meant 0 (as in
// model::RestoreStoredZeros).
bool ParseStoredEndpoint(const std::string& value, lb::v1::Endpoint* endpoint) {
  if (!endpoint->ParseFromString(value)) return false;
  if (!endpoint->has_weight()) endpoint->set_weight(0);
  return true;
}

// A key under kClusterPrefix: the cluster's name, and for an endpoint key its "address:port".
struct ClusterKeyParts {
  std::string cluster;
  std::string endpoint;  // Empty for the settings key.
};
constexpr char kEndpointsInfix[] = "/endpoints/";

// Nullopt for keys that are neither a cluster's settings nor one of its endpoints.
std::optional<ClusterKeyParts> ParseClusterKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, kClusterPrefix) || key.empty()) return std::nullopt;
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos) return ClusterKeyParts{std::string(key), ""};
  absl::string_view rest = key.substr(slash);
  if (!absl::ConsumePrefix(&rest, kEndpointsInfix) || rest.empty()) return std::nullopt;
  return ClusterKeyParts{std::string(key.substr(0, slash)), std::string(rest)};
}

// The cluster as read: `settings` (from its key; data from before per-endpoint keys embeds
// endpoints there) with the endpoints of its keys, in (create_revision, key) order, first.
void AddKeyedEndpoints(std::vector<lb::v1::Endpoint> keyed, lb::v1::Cluster* cluster) {
  if (cluster->endpoints_size() == 0) {
    for (lb::v1::Endpoint& e : keyed) *cluster->add_endpoints() = std::move(e);
    return;
  }
  google::protobuf::RepeatedPtrField<lb::v1::Endpoint> embedded;
  embedded.Swap(cluster->mutable_endpoints());
  absl::flat_hash_set<std::string> seen;
  for (lb::v1::Endpoint& e : keyed) {
    seen.insert(net::JoinHostPort(e.address(), e.port()));
    *cluster->add_endpoints() = std::move(e);
  }
  for (lb::v1::Endpoint& e : embedded) {
    if (!seen.contains(net::JoinHostPort(e.address(), e.port()))) {
      *cluster->add_endpoints() = std::move(e);
    }
  }
}

std::string Serialize(lb::v1::Certificate cert) {
  cert.clear_version();
  cert.clear_warnings();
  return cert.SerializeAsString();
}

absl::Status NotFoundCertificate(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("certificate \"", name, "\" not found"));
}

std::string Serialize(lb::v1::RouteTable table) {
  table.clear_version();
  return table.SerializeAsString();
}

// Index of address:port in the cluster, or -1.
int FindEndpoint(const lb::v1::Cluster& c, absl::string_view address, uint32_t port) {
  for (int i = 0; i < c.endpoints_size(); ++i) {
    if (c.endpoints(i).address() == address && c.endpoints(i).port() == port) return i;
  }
  return -1;
}

int FindRoute(const lb::v1::RouteTable& t, absl::string_view name) {
  for (int i = 0; i < t.routes_size(); ++i) {
    if (t.routes(i).name() == name) return i;
  }
  return -1;
}

// True if `a` and `b` match the same requests apart from hosts: the same path, method and header
// matches (in any order).
bool SameMatch(const lb::v1::Route& a, const lb::v1::Route& b) {
  if (a.path_prefix() != b.path_prefix() || a.path_exact() != b.path_exact() ||
      a.method() != b.method() || a.headers_size() != b.headers_size()) {
    return false;
  }
  std::vector<std::string> ha, hb;
  for (const auto& h : a.headers()) ha.push_back(h.SerializeAsString());
  for (const auto& h : b.headers()) hb.push_back(h.SerializeAsString());
  std::sort(ha.begin(), ha.end());
  std::sort(hb.begin(), hb.end());
  return ha == hb;
}

// How a route's path match is shown in errors: `path_prefix "/x"` or `path_exact "/x"`.
std::string PathText(const lb::v1::Route& r) {
  return r.path_exact().empty() ? absl::StrCat("path_prefix \"", r.path_prefix(), "\"")
                                : absl::StrCat("path_exact \"", r.path_exact(), "\"");
}

// kAlreadyExists if another route of `t` has one of the hosts of `r` with the same match (it
// would never match).
absl::Status CheckUniqueMatch(const lb::v1::RouteTable& t, const lb::v1::Route& r) {
  for (const lb::v1::Route& other : t.routes()) {
    if (other.name() == r.name() || !SameMatch(other, r)) continue;
    for (const std::string& host : r.hosts()) {
      for (const std::string& other_host : other.hosts()) {
        if (host != other_host) continue;
        const bool plain = r.method().empty() && r.headers_size() == 0;
        return absl::AlreadyExistsError(
            absl::StrCat("route \"", r.name(), "\": host \"", host, "\" with ", PathText(r),
                         plain ? "" : " and the same method and headers",
                         " is already routed by route \"", other.name(), "\""));
      }
    }
  }
  return absl::OkStatus();
}

// The endpoint fields UpdateEndpoint may change.
constexpr const char* kEndpointUpdatable[] = {"weight", "zone", "labels", "admin_state"};

// `mask`, or the fields set in `values` when it is empty; kInvalidArgument for fields that cannot
// change, or none.
absl::StatusOr<google::protobuf::FieldMask> EndpointMask(const lb::v1::Endpoint& values,
                                                         google::protobuf::FieldMask mask) {
  if (mask.paths_size() == 0) {
    if (values.has_weight()) mask.add_paths("weight");
    if (!values.zone().empty()) mask.add_paths("zone");
    if (!values.labels().empty()) mask.add_paths("labels");
    if (values.admin_state() != lb::v1::ADMIN_STATE_UNSPECIFIED) mask.add_paths("admin_state");
    if (mask.paths_size() == 0) {
      return absl::InvalidArgumentError(
          "nothing to change: give weight, zone, labels or admin_state");
    }
  }
  ValidationErrors errors;
  for (int i = 0; i < mask.paths_size(); ++i) {
    bool allowed = false;
    for (const char* f : kEndpointUpdatable) allowed |= mask.paths(i) == f;
    if (!allowed) {
      errors.AddFieldError(absl::StrCat("update_mask.paths[", i, "]"),
                           absl::StrCat("\"", mask.paths(i), "\" cannot change; only ",
                                        absl::StrJoin(kEndpointUpdatable, ", "),
                                        " (address and port identify the endpoint)"));
    }
  }
  if (!errors.ok()) return errors.status();
  return mask;
}

// kInvalidArgument for mask paths that a cluster update cannot change.
absl::Status CheckClusterMask(const google::protobuf::FieldMask& mask) {
  ValidationErrors errors;
  for (int i = 0; i < mask.paths_size(); ++i) {
    absl::string_view top = mask.paths(i);
    top = top.substr(0, top.find('.'));
    const char* why = top == "name"        ? "identifies the cluster"
                      : top == "endpoints" ? "change through the endpoint calls"
                      : top == "version"   ? "is output only"
                                           : nullptr;
    if (why != nullptr) {
      errors.AddFieldError(absl::StrCat("update_mask.paths[", i, "]"),
                           absl::StrCat("\"", mask.paths(i), "\" cannot change: ", top, " ", why));
    }
  }
  return errors.status();
}

absl::Status NotFoundCluster(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("cluster \"", name, "\" not found"));
}

absl::Status EndpointNotFound(const lb::v1::Cluster& c, absl::string_view address, uint32_t port) {
  return absl::NotFoundError(absl::StrCat("endpoint ", net::JoinHostPort(address, port),
                                          " not found in cluster \"", c.name(), "\""));
}

// Normalizes an address given to identify an endpoint.
absl::StatusOr<std::string> EndpointAddress(absl::string_view address, uint32_t port) {
  ValidationErrors errors;
  absl::StatusOr<std::string> normalized = model::NormalizeAddress(address);
  if (!normalized.ok()) errors.AddFieldError("address", normalized.status().message());
  if (std::string p = model::PortProblem(port); !p.empty()) errors.AddFieldError("port", p);
  if (!errors.ok()) return errors.status();
  return *normalized;
}

}  // namespace

std::string ClusterKey(absl::string_view name) { return absl::StrCat(kClusterPrefix, name); }

std::string EndpointPrefix(absl::string_view cluster) {
  return absl::StrCat(kClusterPrefix, cluster, kEndpointsInfix);
}

std::string EndpointKey(absl::string_view cluster, absl::string_view address, uint32_t port) {
  return absl::StrCat(EndpointPrefix(cluster), net::JoinHostPort(address, port));
}

absl::Status ChangeAssembler::Load(const std::vector<store::KeyValue>& kvs) {
  clusters_.clear();
  std::vector<std::string> touched;
  for (const store::KeyValue& kv : kvs) {
    if (!ApplyKey(kv, /*deleted=*/false, &touched)) {
      return absl::InternalError(absl::StrCat("stored value of ", kv.key, " is corrupt"));
    }
  }
  return absl::OkStatus();
}

bool ChangeAssembler::ApplyKey(const store::KeyValue& kv, bool deleted,
                               std::vector<std::string>* touched) {
  std::optional<ClusterKeyParts> parts = ParseClusterKey(kv.key);
  if (!parts.has_value()) return true;
  if (std::find(touched->begin(), touched->end(), parts->cluster) == touched->end()) {
    touched->push_back(parts->cluster);
  }
  State& state = clusters_[parts->cluster];
  if (parts->endpoint.empty()) {
    state.version = kv.mod_revision;
    if (deleted) {
      state.settings.reset();
      return true;
    }
    lb::v1::Cluster settings;
    if (!ParseStoredCluster(kv.value, &settings)) return false;
    state.settings = std::move(settings);
    return true;
  }
  if (auto it = state.created.find(parts->endpoint); it != state.created.end()) {
    state.endpoints.erase({it->second, parts->endpoint});
    state.created.erase(it);
  }
  if (deleted) return true;
  lb::v1::Endpoint endpoint;
  if (!ParseStoredEndpoint(kv.value, &endpoint)) return false;
  state.created[parts->endpoint] = kv.create_revision;
  state.endpoints[{kv.create_revision, parts->endpoint}] = std::move(endpoint);
  return true;
}

lb::v1::Cluster ChangeAssembler::Build(const State& state) const {
  lb::v1::Cluster cluster = *state.settings;
  std::vector<lb::v1::Endpoint> keyed;
  keyed.reserve(state.endpoints.size());
  for (const auto& [unused, e] : state.endpoints) keyed.push_back(e);
  AddKeyedEndpoints(std::move(keyed), &cluster);
  cluster.set_version(state.version);
  return cluster;
}

std::vector<lb::v1::Cluster> ChangeAssembler::Clusters() const {
  std::vector<lb::v1::Cluster> out;
  for (const auto& [name, state] : clusters_) {
    if (state.settings.has_value()) out.push_back(Build(state));
  }
  return out;
}

std::vector<lb::v1::Change> ChangeAssembler::Apply(const std::vector<store::Event>& events) {
  std::vector<std::string> touched;
  absl::flat_hash_set<std::string> deleted_clusters;
  std::vector<lb::v1::Change> others;
  int64_t revision = 0;
  for (const store::Event& e : events) {
    revision = e.kv.mod_revision;
    const bool deleted = e.type == store::Event::Type::kDelete;
    if (absl::StartsWith(e.kv.key, kClusterPrefix)) {
      std::optional<ClusterKeyParts> parts = ParseClusterKey(e.kv.key);
      if (deleted && parts.has_value() && parts->endpoint.empty()) {
        deleted_clusters.insert(parts->cluster);
      }
      ApplyKey(e.kv, deleted, &touched);  // A corrupt value leaves the key as it was.
      continue;
    }
    absl::StatusOr<lb::v1::Change> change = Registry::ChangeFromEvent(e);
    if (change.ok()) others.push_back(std::move(*change));
  }
  std::vector<lb::v1::Change> out;
  for (const std::string& name : touched) {
    auto it = clusters_.find(name);
    lb::v1::Change change;
    change.set_revision(revision);
    if (it->second.settings.has_value()) {
      *change.mutable_cluster() = Build(it->second);
    } else if (deleted_clusters.contains(name)) {
      change.set_cluster_deleted(name);
      // Endpoint keys go with their cluster (one transaction); forget any left.
      clusters_.erase(it);
    } else {
      continue;  // Endpoint keys of a cluster not seen yet (replay before the snapshot).
    }
    out.push_back(std::move(change));
  }
  for (lb::v1::Change& c : others) out.push_back(std::move(c));
  return out;
}

std::string CertificateKey(absl::string_view name) {
  return absl::StrCat(kCertificatePrefix, name);
}

Registry::Registry(store::Store* store, Clock* clock) : store_(store), clock_(clock) {}

absl::StatusOr<int> Registry::MigrateEndpointKeys() {
  int migrated = 0;
  // One pass: every cluster with embedded endpoints, in transactions of at most
  // kMigrationMaxOps ops (one cluster is never split). nullopt after a conflict: list again.
  auto pass = [&]() -> absl::StatusOr<std::optional<bool>> {
    absl::StatusOr<std::vector<store::KeyValue>> kvs = store_->List(kClusterPrefix);
    if (!kvs.ok()) return kvs.status();
    absl::flat_hash_set<std::string> existing;
    for (const store::KeyValue& kv : *kvs) existing.insert(kv.key);
    std::vector<store::Compare> compares;
    std::vector<store::Op> ops;
    int batch = 0;
    auto flush = [&]() -> absl::StatusOr<bool> {
      if (ops.empty()) return true;
      Attempt a = CommitOrConflict(store_, compares, ops);
      if (!a.ok()) return a.status();
      if (!a->has_value()) return false;
      migrated += batch;
      compares.clear();
      ops.clear();
      batch = 0;
      return true;
    };
    for (const store::KeyValue& kv : *kvs) {
      std::optional<ClusterKeyParts> parts = ParseClusterKey(kv.key);
      if (!parts.has_value() || !parts->endpoint.empty()) continue;
      lb::v1::Cluster cluster;
      if (!ParseStoredCluster(kv.value, &cluster)) {
        return absl::InternalError(absl::StrCat("stored value of ", kv.key, " is corrupt"));
      }
      if (cluster.endpoints_size() == 0) continue;
      if (!ops.empty() && ops.size() + cluster.endpoints_size() + 1 > kMigrationMaxOps) {
        absl::StatusOr<bool> done = flush();
        if (!done.ok()) return done.status();
        if (!*done) return std::optional<bool>();
      }
      ++batch;
      compares.push_back({kv.key, kv.mod_revision});
      ops.push_back(store::Op::Put(kv.key, Serialize(cluster)));
      for (const lb::v1::Endpoint& e : cluster.endpoints()) {
        std::string key = EndpointKey(parts->cluster, e.address(), e.port());
        // A key of its own already wins (as on reads).
        if (!existing.contains(key)) ops.push_back(store::Op::Put(std::move(key), Serialize(e)));
      }
    }
    absl::StatusOr<bool> done = flush();
    if (!done.ok()) return done.status();
    if (!*done) return std::optional<bool>();
    return std::optional<bool>(true);
  };
  // Not through Commit: a start with nothing to migrate is no mutation to count.
  for (int i = 0; i < kMaxAttempts; ++i) {
    absl::StatusOr<std::optional<bool>> p = pass();
    if (!p.ok()) return p.status();
    if (p->has_value()) return migrated;
  }
  return absl::AbortedError("too many concurrent writers; try again");
}

absl::Status Registry::Bootstrap() {
  if (absl::StatusOr<int> migrated = MigrateEndpointKeys(); !migrated.ok()) {
    return absl::Status(
        migrated.status().code(),
        absl::StrCat("migrating clusters to per-endpoint keys: ", migrated.status().message()));
  }
  absl::StatusOr<std::optional<store::KeyValue>> marker = store_->Get(kBootstrapKey);
  if (!marker.ok()) return marker.status();
  if (marker->has_value()) return absl::OkStatus();

  lb::v1::Cluster backend;
  backend.set_name(kDefaultCluster);
  backend.set_lb_policy(lb::v1::RANDOM);
  absl::Status s = model::NormalizeCluster(&backend);
  if (!s.ok()) return s;
  lb::v1::RouteTable table;
  table.set_name(kRouteTableName);
  lb::v1::Route* route = table.add_routes();
  route->set_name("default");
  route->set_cluster(kDefaultCluster);
  s = model::NormalizeRoute(route);
  if (!s.ok()) return s;

  absl::StatusOr<int64_t> rev = store_->Txn(
      {{kBootstrapKey, 0}, {ClusterKey(kDefaultCluster), 0}, {kRouteTableKey, 0}},
      {store::Op::Put(ClusterKey(kDefaultCluster), Serialize(backend)),
       store::Op::Put(kRouteTableKey, Serialize(table)), store::Op::Put(kBootstrapKey, "1")});
  // kAborted: another replica bootstrapped first, or the data predates the marker.
  if (!rev.ok() && rev.status().code() == absl::StatusCode::kAborted) {
    rev = store_->Txn({{kBootstrapKey, 0}}, {store::Op::Put(kBootstrapKey, "1")});
    if (!rev.ok() && rev.status().code() == absl::StatusCode::kAborted) return absl::OkStatus();
  }
  return rev.status();
}

absl::StatusOr<int64_t> Registry::Commit(absl::string_view op,
                                         const std::function<Attempt()>& attempt) {
  absl::StatusOr<int64_t> result = absl::AbortedError("too many concurrent writers; try again");
  {
    absl::MutexLock lock(&commit_mu_);
    for (int i = 0; i < kMaxAttempts; ++i) {
      pending_events = 0;
      Attempt a = attempt();
      if (!a.ok()) {
        result = a.status();
        break;
      }
      if (a->has_value()) {
        result = **a;
        events_recorded_.fetch_add(pending_events, std::memory_order_relaxed);
        break;
      }
    }
    pending_events = 0;
  }
  if (observer_) observer_(op, result.status());
  return result;
}

absl::StatusOr<Registry::Loaded> Registry::LoadCluster(absl::string_view name) {
  // The settings key, the endpoint keys, the settings key again: every endpoint change rewrites
  // the settings key, so an unchanged mod_revision means the endpoints read are that version's.
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(ClusterKey(name));
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) return NotFoundCluster(name);
    absl::StatusOr<std::vector<store::KeyValue>> endpoints = store_->List(EndpointPrefix(name));
    if (!endpoints.ok()) return endpoints.status();
    absl::StatusOr<std::optional<store::KeyValue>> again = store_->Get(ClusterKey(name));
    if (!again.ok()) return again.status();
    if (!again->has_value() || (*again)->mod_revision != (**kv).mod_revision) {
      kv = std::move(again);
      continue;
    }
    Loaded loaded;
    if (!ParseStoredCluster((*kv)->value, &loaded.cluster)) {
      return absl::InternalError(absl::StrCat("stored cluster \"", name, "\" is corrupt"));
    }
    std::sort(endpoints->begin(), endpoints->end(),
              [](const store::KeyValue& a, const store::KeyValue& b) {
                return std::tie(a.create_revision, a.key) < std::tie(b.create_revision, b.key);
              });
    std::vector<lb::v1::Endpoint> keyed(endpoints->size());
    for (size_t i = 0; i < endpoints->size(); ++i) {
      const store::KeyValue& e = (*endpoints)[i];
      if (!ParseStoredEndpoint(e.value, &keyed[i])) {
        return absl::InternalError(absl::StrCat("stored value of ", e.key, " is corrupt"));
      }
      loaded.endpoint_values[e.key] = e.value;
    }
    AddKeyedEndpoints(std::move(keyed), &loaded.cluster);
    loaded.mod_revision = (*kv)->mod_revision;
    loaded.cluster.set_version(loaded.mod_revision);
    return loaded;
  }
  return absl::AbortedError(
      absl::StrCat("cluster \"", name, "\" changed during every read; try again"));
}

absl::StatusOr<Registry::LoadedRoutes> Registry::LoadRoutes() {
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(kRouteTableKey);
  if (!kv.ok()) return kv.status();
  LoadedRoutes loaded;
  loaded.table.set_name(kRouteTableName);
  if (!kv->has_value()) return loaded;
  if (!ParseStoredRouteTable((*kv)->value, &loaded.table)) {
    return absl::InternalError("stored route table is corrupt");
  }
  loaded.mod_revision = (*kv)->mod_revision;
  loaded.table.set_version(loaded.mod_revision);
  return loaded;
}

void Registry::FillResolved(lb::v1::Cluster* cluster) const {
  if (!resolved_lookup_) return;
  for (auto& e : *cluster->mutable_endpoints()) {
    if (model::IsIpLiteral(e.address())) continue;
    for (auto& a : resolved_lookup_(e.address())) e.add_resolved_addresses(a);
  }
}

// `old_owner`: the stored object's owner (null: it does not exist yet); `new_owner`: the written
// object's (null: deleted).
absl::Status Registry::CheckOwner(absl::string_view kind, absl::string_view name,
                                  const std::string* old_owner,
                                  const std::string* new_owner) const {
  for (const std::string* owner : {old_owner, new_owner}) {
    if (owner == nullptr || *owner == writer_) continue;
    if (writer_.empty() && owner == old_owner) {
      return absl::FailedPreconditionError(
          absl::StrCat(kind, " \"", name, "\" is owned by ", *owner, "; change it in ",
                       *owner == "kubernetes" ? "Kubernetes" : *owner));
    }
    if (writer_.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(kind, " \"", name,
                                                        "\": owner is output only (set by the ",
                                                        *owner, " sync); leave it unset"));
    }
    return absl::FailedPreconditionError(absl::StrCat(kind, " \"", name, "\" is not owned by ",
                                                      writer_, "; ", writer_, " leaves it alone"));
  }
  return absl::OkStatus();
}

absl::StatusOr<lb::v1::Cluster> Registry::MutateCluster(
    absl::string_view op, absl::string_view name, int64_t expected_version,
    const std::function<absl::Status(lb::v1::Cluster*)>& edit) {
  lb::v1::Cluster result;
  absl::StatusOr<int64_t> rev = Commit(op, [&]() -> Attempt {
    absl::StatusOr<Loaded> loaded = LoadCluster(name);
    if (!loaded.ok()) return loaded.status();
    if (absl::Status e = CheckExpected(absl::StrCat("cluster \"", name, "\""), expected_version,
                                       loaded->mod_revision);
        !e.ok()) {
      return e;
    }
    result = loaded->cluster;
    if (absl::Status s = edit(&result); !s.ok()) return s;
    if (absl::Status o = CheckOwner("cluster", name, &loaded->cluster.owner(), &result.owner());
        !o.ok()) {
      return o;
    }
    if (google::protobuf::util::MessageDifferencer::Equals(result, loaded->cluster)) {
      return std::optional<int64_t>(loaded->mod_revision);  // Nothing to write.
    }
    std::vector<store::Compare> compares = {{ClusterKey(name), loaded->mod_revision}};
    // The settings key always (it carries the cluster's version), and only the endpoint keys
    // that differ.
    std::vector<store::Op> ops = {store::Op::Put(ClusterKey(name), Serialize(result))};
    absl::flat_hash_set<std::string> kept;
    for (const lb::v1::Endpoint& e : result.endpoints()) {
      std::string key = EndpointKey(name, e.address(), e.port());
      std::string value = Serialize(e);
      auto it = loaded->endpoint_values.find(key);
      if (it == loaded->endpoint_values.end() || it->second != value) {
        ops.push_back(store::Op::Put(key, std::move(value)));
      }
      kept.insert(std::move(key));
    }
    for (const auto& [key, unused] : loaded->endpoint_values) {
      if (!kept.contains(key)) ops.push_back(store::Op::Delete(key));
    }
    if (result.upstream_tls().client_certificate() !=
        loaded->cluster.upstream_tls().client_certificate()) {
      if (absl::Status r = ReferenceCertificate(result, &compares, &ops); !r.ok()) return r;
    }
    const absl::Time now = clock_->Now();
    AddEvents(audit::ClusterEvents(audit::NewEvent(op, now), loaded->cluster, result), now, &ops);
    return CommitOrConflict(store_, compares, ops);
  });
  if (!rev.ok()) return rev.status();
  result.set_version(*rev);
  FillResolved(&result);
  return result;
}

absl::StatusOr<lb::v1::Cluster> Registry::AddEndpoint(absl::string_view cluster,
                                                      lb::v1::Endpoint endpoint,
                                                      int64_t expected_version) {
  if (absl::Status s = model::NormalizeEndpoint(&endpoint); !s.ok()) {
    if (observer_) observer_("add_endpoint", s);
    return s;
  }
  return MutateCluster(
      "add_endpoint", cluster, expected_version, [&](lb::v1::Cluster* c) -> absl::Status {
        if (FindEndpoint(*c, endpoint.address(), endpoint.port()) >= 0) {
          return absl::AlreadyExistsError(
              absl::StrCat("endpoint ", net::JoinHostPort(endpoint.address(), endpoint.port()),
                           " already exists in cluster \"", c->name(), "\""));
        }
        if (c->endpoints_size() >= static_cast<int>(model::kMaxEndpointsPerCluster)) {
          return absl::FailedPreconditionError(
              absl::StrCat("cluster \"", c->name(), "\" already has ",
                           model::kMaxEndpointsPerCluster, " endpoints"));
        }
        *c->add_endpoints() = endpoint;
        return absl::OkStatus();
      });
}

absl::StatusOr<lb::v1::Cluster> Registry::RemoveEndpoint(absl::string_view cluster,
                                                         absl::string_view address, uint32_t port,
                                                         int64_t expected_version) {
  absl::StatusOr<std::string> normalized = EndpointAddress(address, port);
  if (!normalized.ok()) {
    if (observer_) observer_("remove_endpoint", normalized.status());
    return normalized.status();
  }
  return MutateCluster("remove_endpoint", cluster, expected_version,
                       [&](lb::v1::Cluster* c) -> absl::Status {
                         int i = FindEndpoint(*c, *normalized, port);
                         if (i < 0) {
                           return EndpointNotFound(*c, *normalized, port);
                         }
                         c->mutable_endpoints()->erase(c->mutable_endpoints()->begin() + i);
                         return absl::OkStatus();
                       });
}

absl::StatusOr<lb::v1::Cluster> Registry::SetEndpointState(absl::string_view cluster,
                                                           absl::string_view address, uint32_t port,
                                                           lb::v1::AdminState state,
                                                           int64_t expected_version) {
  absl::StatusOr<std::string> normalized = EndpointAddress(address, port);
  absl::Status s = normalized.status();
  if (s.ok() && (state == lb::v1::ADMIN_STATE_UNSPECIFIED || !lb::v1::AdminState_IsValid(state))) {
    s = absl::InvalidArgumentError("admin_state: must be ACTIVE or DRAINING");
  }
  if (!s.ok()) {
    if (observer_) observer_("set_endpoint_state", s);
    return s;
  }
  return MutateCluster("set_endpoint_state", cluster, expected_version,
                       [&](lb::v1::Cluster* c) -> absl::Status {
                         int i = FindEndpoint(*c, *normalized, port);
                         if (i < 0) return EndpointNotFound(*c, *normalized, port);
                         c->mutable_endpoints(i)->set_admin_state(state);
                         return absl::OkStatus();
                       });
}

absl::StatusOr<lb::v1::Cluster> Registry::UpdateEndpoint(absl::string_view cluster,
                                                         absl::string_view address, uint32_t port,
                                                         const lb::v1::Endpoint& values,
                                                         google::protobuf::FieldMask mask,
                                                         int64_t expected_version) {
  absl::StatusOr<std::string> normalized = EndpointAddress(address, port);
  absl::StatusOr<google::protobuf::FieldMask> fields =
      normalized.ok() ? EndpointMask(values, std::move(mask)) : normalized.status();
  if (!fields.ok()) {
    if (observer_) observer_("update_endpoint", fields.status());
    return fields.status();
  }
  return MutateCluster(
      "update_endpoint", cluster, expected_version, [&](lb::v1::Cluster* c) -> absl::Status {
        int i = FindEndpoint(*c, *normalized, port);
        if (i < 0) return EndpointNotFound(*c, *normalized, port);
        lb::v1::Endpoint updated = c->endpoints(i);
        if (absl::Status s = model::ApplyFieldMask(*fields, values, &updated); !s.ok()) return s;
        if (absl::Status s = model::NormalizeEndpoint(&updated); !s.ok()) return s;
        *c->mutable_endpoints(i) = std::move(updated);
        return absl::OkStatus();
      });
}

absl::StatusOr<lb::v1::Endpoint> Registry::GetEndpoint(absl::string_view cluster,
                                                       absl::string_view address, uint32_t port,
                                                       int64_t* cluster_version) {
  absl::StatusOr<std::string> normalized = EndpointAddress(address, port);
  if (!normalized.ok()) return normalized.status();
  // The settings key, the endpoint's key, the settings key again (see LoadCluster): no need to
  // read the cluster's other endpoints.
  const std::string key = ClusterKey(cluster);
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(key);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) return NotFoundCluster(cluster);
    absl::StatusOr<std::optional<store::KeyValue>> e =
        store_->Get(EndpointKey(cluster, *normalized, port));
    if (!e.ok()) return e.status();
    absl::StatusOr<std::optional<store::KeyValue>> again = store_->Get(key);
    if (!again.ok()) return again.status();
    if (!again->has_value() || (*again)->mod_revision != (**kv).mod_revision) {
      kv = std::move(again);
      continue;
    }
    lb::v1::Cluster c;
    if (!ParseStoredCluster((*kv)->value, &c)) {
      return absl::InternalError(absl::StrCat("stored cluster \"", cluster, "\" is corrupt"));
    }
    lb::v1::Endpoint endpoint;
    if (e->has_value()) {
      if (!ParseStoredEndpoint((*e)->value, &endpoint)) {
        return absl::InternalError(absl::StrCat("stored value of ", (*e)->key, " is corrupt"));
      }
    } else {
      // Not migrated yet: embedded in the settings.
      int i = FindEndpoint(c, *normalized, port);
      if (i < 0) return EndpointNotFound(c, *normalized, port);
      endpoint = c.endpoints(i);
    }
    if (cluster_version != nullptr) *cluster_version = (*kv)->mod_revision;
    c.clear_endpoints();
    *c.add_endpoints() = std::move(endpoint);
    FillResolved(&c);
    return std::move(*c.mutable_endpoints(0));
  }
  return absl::AbortedError(
      absl::StrCat("cluster \"", cluster, "\" changed during every read; try again"));
}

absl::StatusOr<lb::v1::Cluster> Registry::GetCluster(absl::string_view name) {
  absl::StatusOr<Loaded> loaded = LoadCluster(name);
  if (!loaded.ok()) return loaded.status();
  FillResolved(&loaded->cluster);
  return std::move(loaded->cluster);
}

absl::StatusOr<std::vector<lb::v1::Cluster>> Registry::ListClusters() {
  // One List: settings and endpoint keys as of one revision.
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store_->List(kClusterPrefix);
  if (!kvs.ok()) return kvs.status();
  ChangeAssembler assembler;
  if (absl::Status s = assembler.Load(*kvs); !s.ok()) return s;
  std::vector<lb::v1::Cluster> out = assembler.Clusters();
  for (lb::v1::Cluster& c : out) FillResolved(&c);
  return out;
}

absl::StatusOr<lb::v1::Cluster> Registry::CreateCluster(lb::v1::Cluster cluster) {
  absl::Status s = model::NormalizeCluster(&cluster);
  if (s.ok()) s = NormalizeClusterTls(&cluster);
  if (s.ok()) s = CheckOwner("cluster", cluster.name(), nullptr, &cluster.owner());
  absl::StatusOr<int64_t> rev = Commit("create_cluster", [&]() -> Attempt {
    if (!s.ok()) return s;
    absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(ClusterKey(cluster.name()));
    if (!kv.ok()) return kv.status();
    if (kv->has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat("cluster \"", cluster.name(), "\" already exists"));
    }
    std::vector<store::Compare> compares = {{ClusterKey(cluster.name()), 0}};
    std::vector<store::Op> ops = {store::Op::Put(ClusterKey(cluster.name()), Serialize(cluster))};
    for (const lb::v1::Endpoint& e : cluster.endpoints()) {
      ops.push_back(
          store::Op::Put(EndpointKey(cluster.name(), e.address(), e.port()), Serialize(e)));
    }
    if (absl::Status r = ReferenceCertificate(cluster, &compares, &ops); !r.ok()) return r;
    const absl::Time now = clock_->Now();
    AddEvents(audit::ClusterEvents(audit::NewEvent("create_cluster", now), std::nullopt, cluster),
              now, &ops);
    return CommitOrConflict(store_, compares, ops);
  });
  if (!rev.ok()) return rev.status();
  cluster.set_version(*rev);
  FillResolved(&cluster);
  return cluster;
}

absl::StatusOr<lb::v1::Cluster> Registry::UpdateCluster(lb::v1::Cluster cluster,
                                                        int64_t expected_version) {
  return UpdateCluster(std::move(cluster), google::protobuf::FieldMask(), expected_version);
}

absl::StatusOr<lb::v1::Cluster> Registry::UpdateCluster(lb::v1::Cluster cluster,
                                                        const google::protobuf::FieldMask& mask,
                                                        int64_t expected_version) {
  // Endpoints are not part of an update; validate the settings alone.
  cluster.clear_endpoints();
  const bool replace = mask.paths_size() == 0;
  absl::Status s = replace ? model::NormalizeCluster(&cluster) : CheckClusterMask(mask);
  if (s.ok() && replace) s = NormalizeClusterTls(&cluster);
  if (!s.ok()) {
    if (observer_) observer_("update_cluster", s);
    return s;
  }
  const std::string name = cluster.name();
  return MutateCluster(
      "update_cluster", name, expected_version, [&](lb::v1::Cluster* c) -> absl::Status {
        lb::v1::Cluster updated;
        if (replace) {
          updated = cluster;
        } else {
          updated = *c;
          updated.clear_endpoints();
          if (absl::Status e = model::ApplyFieldMask(mask, cluster, &updated); !e.ok()) return e;
          if (absl::Status e = model::NormalizeCluster(&updated); !e.ok()) return e;
          if (absl::Status e = NormalizeClusterTls(&updated); !e.ok()) return e;
        }
        updated.set_version(c->version());
        *updated.mutable_endpoints() = std::move(*c->mutable_endpoints());
        *c = std::move(updated);
        return absl::OkStatus();
      });
}

absl::Status Registry::DeleteCluster(absl::string_view name, int64_t expected_version) {
  return Commit("delete_cluster",
                [&]() -> Attempt {
                  absl::StatusOr<Loaded> loaded = LoadCluster(name);
                  if (!loaded.ok()) return loaded.status();
                  if (absl::Status e = CheckExpected(absl::StrCat("cluster \"", name, "\""),
                                                     expected_version, loaded->mod_revision);
                      !e.ok()) {
                    return e;
                  }
                  const absl::Status o = CheckOwner("cluster", name, &loaded->cluster.owner(), {});
                  if (!o.ok()) return o;
                  absl::StatusOr<LoadedRoutes> routes = LoadRoutes();
                  if (!routes.ok()) return routes.status();
                  for (const auto& r : routes->table.routes()) {
                    const std::vector<std::string> used = model::RouteClusters(r);
                    if (std::find(used.begin(), used.end(), name) != used.end()) {
                      return absl::FailedPreconditionError(
                          absl::StrCat("cluster \"", name, "\" is used by route \"", r.name(),
                                       "\"; delete or change the route first"));
                    }
                  }
                  std::vector<store::Op> ops = {store::Op::Delete(ClusterKey(name)),
                                                store::Op::DeletePrefix(EndpointPrefix(name))};
                  const absl::Time now = clock_->Now();
                  AddEvents(audit::ClusterEvents(audit::NewEvent("delete_cluster", now),
                                                 loaded->cluster, std::nullopt),
                            now, &ops);
                  return CommitOrConflict(store_,
                                          {{ClusterKey(name), loaded->mod_revision},
                                           {kRouteTableKey, routes->mod_revision}},
                                          ops);
                })
      .status();
}

absl::StatusOr<lb::v1::RouteTable> Registry::GetRouteTable() {
  absl::StatusOr<LoadedRoutes> routes = LoadRoutes();
  if (!routes.ok()) return routes.status();
  return std::move(routes->table);
}

absl::StatusOr<lb::v1::RouteTable> Registry::MutateRoutes(
    absl::string_view op, int64_t expected_version,
    const std::function<absl::Status(lb::v1::RouteTable*)>& edit) {
  lb::v1::RouteTable result;
  absl::StatusOr<int64_t> rev = Commit(op, [&]() -> Attempt {
    absl::StatusOr<LoadedRoutes> loaded = LoadRoutes();
    if (!loaded.ok()) return loaded.status();
    if (absl::Status e = CheckExpected("route table", expected_version, loaded->mod_revision);
        !e.ok()) {
      return e;
    }
    result = loaded->table;
    if (absl::Status s = edit(&result); !s.ok()) return s;
    if (absl::Status o = CheckRouteOwners(loaded->table, result); !o.ok()) return o;
    if (loaded->mod_revision != 0 &&
        google::protobuf::util::MessageDifferencer::Equals(result, loaded->table)) {
      return std::optional<int64_t>(loaded->mod_revision);  // Nothing to write.
    }
    // Every routed cluster must exist at commit time.
    std::vector<store::Compare> compares = {{kRouteTableKey, loaded->mod_revision}};
    for (const auto& r : result.routes()) {
      for (const std::string& cluster : model::RouteClusters(r)) {
        bool seen = false;
        for (const auto& c : compares) seen |= c.key == ClusterKey(cluster);
        if (seen) continue;
        absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(ClusterKey(cluster));
        if (!kv.ok()) return kv.status();
        if (!kv->has_value()) {
          return absl::FailedPreconditionError(absl::StrCat("route \"", r.name(), "\": cluster \"",
                                                            cluster,
                                                            "\" does not exist; create it first"));
        }
        compares.push_back({ClusterKey(cluster), (*kv)->mod_revision});
      }
    }
    std::vector<store::Op> ops = {store::Op::Put(kRouteTableKey, Serialize(result))};
    const absl::Time now = clock_->Now();
    AddEvents(audit::RouteEvents(audit::NewEvent(op, now), loaded->table, result), now, &ops);
    return CommitOrConflict(store_, compares, ops);
  });
  if (!rev.ok()) return rev.status();
  result.set_version(*rev);
  return result;
}

absl::Status Registry::CheckRouteOwners(const lb::v1::RouteTable& before,
                                        const lb::v1::RouteTable& after) const {
  std::map<std::string, std::pair<const lb::v1::Route*, const lb::v1::Route*>> routes;
  for (const auto& r : before.routes()) routes[r.name()].first = &r;
  for (const auto& r : after.routes()) routes[r.name()].second = &r;
  for (const auto& [name, pair] : routes) {
    const auto& [old_route, new_route] = pair;
    if (old_route != nullptr && new_route != nullptr &&
        google::protobuf::util::MessageDifferencer::Equals(*old_route, *new_route)) {
      continue;
    }
    if (absl::Status o = CheckOwner("route", name, old_route ? &old_route->owner() : nullptr,
                                    new_route ? &new_route->owner() : nullptr);
        !o.ok()) {
      return o;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<lb::v1::RouteTable> Registry::CreateRoute(lb::v1::Route route,
                                                         int64_t expected_version) {
  absl::Status s = model::NormalizeRoute(&route);
  return MutateRoutes("create_route", expected_version, [&](lb::v1::RouteTable* t) -> absl::Status {
    if (!s.ok()) return s;
    if (FindRoute(*t, route.name()) >= 0) {
      return absl::AlreadyExistsError(absl::StrCat("route \"", route.name(), "\" already exists"));
    }
    if (absl::Status e = CheckUniqueMatch(*t, route); !e.ok()) return e;
    *t->add_routes() = route;
    return absl::OkStatus();
  });
}

absl::StatusOr<lb::v1::RouteTable> Registry::UpdateRoute(lb::v1::Route route,
                                                         int64_t expected_version) {
  absl::Status s = model::NormalizeRoute(&route);
  return MutateRoutes("update_route", expected_version, [&](lb::v1::RouteTable* t) -> absl::Status {
    if (!s.ok()) return s;
    int i = FindRoute(*t, route.name());
    if (i < 0) return absl::NotFoundError(absl::StrCat("route \"", route.name(), "\" not found"));
    if (absl::Status e = CheckUniqueMatch(*t, route); !e.ok()) return e;
    *t->mutable_routes(i) = route;
    return absl::OkStatus();
  });
}

absl::StatusOr<lb::v1::RouteTable> Registry::DeleteRoute(absl::string_view name,
                                                         int64_t expected_version) {
  return MutateRoutes("delete_route", expected_version, [&](lb::v1::RouteTable* t) -> absl::Status {
    int i = FindRoute(*t, name);
    if (i < 0) return absl::NotFoundError(absl::StrCat("route \"", name, "\" not found"));
    t->mutable_routes()->erase(t->mutable_routes()->begin() + i);
    return absl::OkStatus();
  });
}

absl::Status Registry::NormalizeClusterTls(lb::v1::Cluster* cluster) {
  if (absl::StartsWith(cluster->name(), "lb.")) {
    // xDS names of the controller's own resources (e.g. the Listener "lb.ingress.https").
    return absl::InvalidArgumentError("cluster.name: must not start with \"lb.\" (reserved)");
  }
  if (!cluster->has_upstream_tls()) return absl::OkStatus();
  ValidationErrors errors;
  ValidationErrors::ScopedField field(&errors, "cluster.upstream_tls");
  model::NormalizeUpstreamTls(cluster->mutable_upstream_tls(), &errors);
  return errors.status();
}

absl::Status Registry::ReferenceCertificate(const lb::v1::Cluster& cluster,
                                            std::vector<store::Compare>* compares,
                                            std::vector<store::Op>* ops) {
  const std::string& name = cluster.upstream_tls().client_certificate();
  if (name.empty()) return absl::OkStatus();
  absl::StatusOr<std::optional<store::KeyValue>> lock = store_->Get(kCertificateLockKey);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(CertificateKey(name));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cluster \"", cluster.name(), "\": upstream_tls.client_certificate \"", name,
                     "\" does not exist; add the certificate first"));
  }
  compares->push_back({CertificateKey(name), (*kv)->mod_revision});
  compares->push_back({kCertificateLockKey, lock->has_value() ? (*lock)->mod_revision : 0});
  ops->push_back(store::Op::Put(kCertificateLockKey, "1"));
  return absl::OkStatus();
}

absl::StatusOr<lb::v1::Certificate> Registry::PutCertificate(absl::string_view op,
                                                             lb::v1::Certificate cert, bool create,
                                                             int64_t expected_version) {
  absl::Status s = model::NormalizeCertificate(&cert, clock_->Now());
  if (!s.ok()) {
    if (observer_) observer_(op, s);
    return s;
  }
  const std::string key = CertificateKey(cert.name());
  absl::StatusOr<int64_t> rev = Commit(op, [&]() -> Attempt {
    absl::StatusOr<std::optional<store::KeyValue>> lock = store_->Get(kCertificateLockKey);
    if (!lock.ok()) return lock.status();
    absl::StatusOr<std::vector<store::KeyValue>> all = store_->List(kCertificatePrefix);
    if (!all.ok()) return all.status();
    int64_t own_revision = 0;
    const std::string* own_value = nullptr;
    for (const store::KeyValue& kv : *all) {
      if (kv.key == key) {
        own_revision = kv.mod_revision;
        own_value = &kv.value;
      }
    }
    if (create && own_revision != 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("certificate \"", cert.name(), "\" already exists"));
    }
    if (!create) {
      if (own_revision == 0) return NotFoundCertificate(cert.name());
      if (absl::Status e = CheckExpected(absl::StrCat("certificate \"", cert.name(), "\""),
                                         expected_version, own_revision);
          !e.ok()) {
        return e;
      }
      if (*own_value == Serialize(cert)) {
        return std::optional<int64_t>(own_revision);  // Nothing to write.
      }
    }
    lb::v1::Certificate own;
    if (own_value != nullptr && !own.ParseFromString(*own_value)) {
      return absl::InternalError(absl::StrCat("stored value of ", key, " is corrupt"));
    }
    if (absl::Status o = CheckOwner("certificate", cert.name(),
                                    own_value != nullptr ? &own.owner() : nullptr, &cert.owner());
        !o.ok()) {
      return o;
    }
    for (const store::KeyValue& kv : *all) {
      if (kv.key == key) continue;
      lb::v1::Certificate other;
      if (!other.ParseFromString(kv.value)) {
        return absl::InternalError(absl::StrCat("stored value of ", kv.key, " is corrupt"));
      }
      if (cert.default_() && other.default_()) {
        return absl::FailedPreconditionError(
            absl::StrCat("certificate \"", other.name(),
                         "\" is already the default; only one certificate can be"));
      }
      for (const std::string& sni : cert.sni()) {
        for (const std::string& other_sni : other.sni()) {
          if (sni == other_sni) {
            return absl::AlreadyExistsError(
                absl::StrCat("certificate \"", cert.name(), "\": SNI name \"", sni,
                             "\" is already served by certificate \"", other.name(), "\""));
          }
        }
      }
    }
    std::vector<store::Op> ops = {store::Op::Put(key, Serialize(cert)),
                                  store::Op::Put(kCertificateLockKey, "1")};
    const absl::Time now = clock_->Now();
    std::optional<lb::v1::Certificate> before;
    if (own_value != nullptr) {
      before.emplace();
      if (!before->ParseFromString(*own_value)) {
        return absl::InternalError(absl::StrCat("stored value of ", key, " is corrupt"));
      }
      before = model::RedactCertificate(std::move(*before), now);
    }
    AddEvents({audit::CertificateEvent(audit::NewEvent(op, now), before,
                                       model::RedactCertificate(cert, now))},
              now, &ops);
    return CommitOrConflict(
        store_,
        {{key, own_revision}, {kCertificateLockKey, lock->has_value() ? (*lock)->mod_revision : 0}},
        ops);
  });
  if (!rev.ok()) return rev.status();
  cert.set_version(*rev);
  return model::RedactCertificate(std::move(cert), clock_->Now());
}

absl::StatusOr<lb::v1::Certificate> Registry::CreateCertificate(lb::v1::Certificate cert) {
  return PutCertificate("create_certificate", std::move(cert), /*create=*/true, 0);
}

absl::StatusOr<lb::v1::Certificate> Registry::UpdateCertificate(lb::v1::Certificate cert,
                                                                int64_t expected_version) {
  return PutCertificate("update_certificate", std::move(cert), /*create=*/false, expected_version);
}

absl::Status Registry::DeleteCertificate(absl::string_view name, int64_t expected_version) {
  const std::string key = CertificateKey(name);
  return Commit(
             "delete_certificate",
             [&]() -> Attempt {
               absl::StatusOr<std::optional<store::KeyValue>> lock =
                   store_->Get(kCertificateLockKey);
               if (!lock.ok()) return lock.status();
               absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(key);
               if (!kv.ok()) return kv.status();
               if (!kv->has_value()) return NotFoundCertificate(name);
               if (absl::Status e = CheckExpected(absl::StrCat("certificate \"", name, "\""),
                                                  expected_version, (*kv)->mod_revision);
                   !e.ok()) {
                 return e;
               }
               absl::StatusOr<std::vector<lb::v1::Cluster>> clusters = ListClusters();
               if (!clusters.ok()) return clusters.status();
               for (const lb::v1::Cluster& c : *clusters) {
                 if (c.upstream_tls().client_certificate() == name) {
                   return absl::FailedPreconditionError(absl::StrCat(
                       "certificate \"", name, "\" is the client certificate of cluster \"",
                       c.name(), "\"; change the cluster first"));
                 }
               }
               lb::v1::Certificate before;
               if (!before.ParseFromString((*kv)->value)) {
                 return absl::InternalError(absl::StrCat("stored value of ", key, " is corrupt"));
               }
               if (absl::Status o = CheckOwner("certificate", name, &before.owner(), {}); !o.ok()) {
                 return o;
               }
               std::vector<store::Op> ops = {store::Op::Delete(key),
                                             store::Op::Put(kCertificateLockKey, "1")};
               const absl::Time now = clock_->Now();
               AddEvents({audit::CertificateEvent(audit::NewEvent("delete_certificate", now),
                                                  model::RedactCertificate(std::move(before), now),
                                                  std::nullopt)},
                         now, &ops);
               return CommitOrConflict(
                   store_,
                   {{key, (*kv)->mod_revision},
                    {kCertificateLockKey, lock->has_value() ? (*lock)->mod_revision : 0}},
                   ops);
             })
      .status();
}

absl::StatusOr<lb::v1::Certificate> Registry::GetCertificate(absl::string_view name) {
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(CertificateKey(name));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return NotFoundCertificate(name);
  lb::v1::Certificate cert;
  if (!cert.ParseFromString((*kv)->value)) {
    return absl::InternalError(absl::StrCat("stored certificate \"", name, "\" is corrupt"));
  }
  cert.set_version((*kv)->mod_revision);
  return model::RedactCertificate(std::move(cert), clock_->Now());
}

absl::StatusOr<std::vector<lb::v1::Certificate>> Registry::ListCertificates() {
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store_->List(kCertificatePrefix);
  if (!kvs.ok()) return kvs.status();
  std::vector<lb::v1::Certificate> out;
  absl::Time now = clock_->Now();
  for (const store::KeyValue& kv : *kvs) {
    lb::v1::Certificate cert;
    if (!cert.ParseFromString(kv.value)) {
      return absl::InternalError(absl::StrCat("stored value of ", kv.key, " is corrupt"));
    }
    cert.set_version(kv.mod_revision);
    out.push_back(model::RedactCertificate(std::move(cert), now));
  }
  return out;
}

absl::StatusOr<lb::v1::SessionTicketKeys> Registry::RotateTicketKeys(absl::Time now,
                                                                     absl::Duration period) {
  lb::v1::SessionTicketKeys result;
  absl::StatusOr<int64_t> rev = Commit("rotate_ticket_keys", [&]() -> Attempt {
    absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(kTicketKeysKey);
    if (!kv.ok()) return kv.status();
    result.Clear();
    if (kv->has_value() && !result.ParseFromString((*kv)->value)) {
      return absl::InternalError("stored session ticket keys are corrupt");
    }
    const int64_t current = kv->has_value() ? (*kv)->mod_revision : 0;
    absl::Time rotated = absl::FromUnixSeconds(result.rotated_at().seconds());
    if (result.keys_size() > 0 && now - rotated < period && rotated <= now) {
      return std::optional<int64_t>(current);  // Not due.
    }
    std::string key(kTicketKeyBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) !=
        1) {
      return absl::InternalError("no random bytes for a session ticket key");
    }
    result.mutable_keys()->Add(std::move(key));
    // The new key goes first.
    for (int i = result.keys_size() - 1; i > 0; --i) result.mutable_keys()->SwapElements(i, i - 1);
    while (result.keys_size() > kTicketKeysKept) result.mutable_keys()->RemoveLast();
    result.mutable_rotated_at()->set_seconds(absl::ToUnixSeconds(now));
    return CommitOrConflict(store_, {{kTicketKeysKey, current}},
                            {store::Op::Put(kTicketKeysKey, result.SerializeAsString())});
  });
  if (!rev.ok()) return rev.status();
  return result;
}

absl::StatusOr<lb::v1::Change> Registry::ChangeFromEvent(const store::Event& event) {
  lb::v1::Change change;
  change.set_revision(event.kv.mod_revision);
  absl::string_view key = event.kv.key;
  if (absl::StartsWith(key, kClusterPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster key ", event.kv.key, ": decode it with a ChangeAssembler"));
  }
  if (absl::ConsumePrefix(&key, kCertificatePrefix)) {
    if (event.type == store::Event::Type::kDelete) {
      change.set_certificate_deleted(std::string(key));
      return change;
    }
    if (!change.mutable_certificate()->ParseFromString(event.kv.value)) {
      return absl::InternalError(absl::StrCat("stored value of ", event.kv.key, " is corrupt"));
    }
    change.mutable_certificate()->set_version(event.kv.mod_revision);
    return change;
  }
  if (key == kTicketKeysKey && event.type == store::Event::Type::kPut) {
    if (!change.mutable_session_ticket_keys()->ParseFromString(event.kv.value)) {
      return absl::InternalError("stored session ticket keys are corrupt");
    }
    return change;
  }
  if (key == kRouteTableKey && event.type == store::Event::Type::kPut) {
    if (!ParseStoredRouteTable(event.kv.value, change.mutable_route_table())) {
      return absl::InternalError("stored route table is corrupt");
    }
    change.mutable_route_table()->set_version(event.kv.mod_revision);
    return change;
  }
  return absl::NotFoundError(absl::StrCat("not a model key: ", event.kv.key));
}

absl::StatusOr<std::unique_ptr<store::WatchHandle>> Registry::Watch(
    std::function<void(const lb::v1::Change&)> on_change) {
  absl::StatusOr<int64_t> rev = store_->CurrentRevision();
  if (!rev.ok()) return rev.status();
  // Owned by the watch callback from here on (it runs one call at a time).
  auto assembler = std::make_shared<ChangeAssembler>();
  absl::StatusOr<std::vector<store::KeyValue>> cluster_kvs = store_->List(kClusterPrefix);
  if (!cluster_kvs.ok()) return cluster_kvs.status();
  if (absl::Status s = assembler->Load(*cluster_kvs); !s.ok()) return s;
  cluster_kvs->clear();
  absl::StatusOr<LoadedRoutes> routes = LoadRoutes();
  if (!routes.ok()) return routes.status();
  for (lb::v1::Cluster& c : assembler->Clusters()) {
    lb::v1::Change change;
    change.set_revision(c.version());
    *change.mutable_cluster() = std::move(c);
    on_change(change);
  }
  // Certificates (with their keys: this feeds the model cache, never a client) and the ticket
  // keys, before the route table, as the initial state's part of the model.
  absl::StatusOr<std::vector<store::KeyValue>> certs = store_->List(kCertificatePrefix);
  if (!certs.ok()) return certs.status();
  absl::StatusOr<std::optional<store::KeyValue>> ticket_keys = store_->Get(kTicketKeysKey);
  if (!ticket_keys.ok()) return ticket_keys.status();
  std::vector<store::KeyValue> secrets = std::move(*certs);
  if (ticket_keys->has_value()) secrets.push_back(**ticket_keys);
  for (const store::KeyValue& kv : secrets) {
    store::Event event;
    event.kv = kv;
    absl::StatusOr<lb::v1::Change> secret = ChangeFromEvent(event);
    if (!secret.ok()) return secret.status();
    on_change(*secret);
  }
  lb::v1::Change change;
  change.set_revision(routes->mod_revision);
  *change.mutable_route_table() = std::move(routes->table);
  on_change(change);
  lb::v1::Change end;
  end.set_revision(*rev);
  end.set_initial_state_end(true);
  on_change(end);
  return store_->Watch("", *rev,
                       [on_change = std::move(on_change),
                        assembler = std::move(assembler)](const std::vector<store::Event>& events) {
                         for (const lb::v1::Change& change : assembler->Apply(events)) {
                           on_change(change);
                         }
                       });
}

}  // namespace lb::registry
