#include "controller/kubernetes/sync.h"

#include <spdlog/spdlog.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/audit/audit.h"
#include "controller/model/validation.h"
#include "google/protobuf/util/message_differencer.h"

namespace lb::kubernetes {
namespace {

using google::protobuf::util::MessageDifferencer;

std::string EndpointId(const lb::v1::Endpoint& e) {
  return absl::StrCat(e.address(), "|", e.port());
}

// A cluster's settings as stored: no endpoints, no version.
lb::v1::Cluster Settings(lb::v1::Cluster c) {
  c.clear_endpoints();
  c.clear_version();
  return c;
}

// The fields of an endpoint the sync sets (UpdateEndpoint's mask).
bool SameEndpoint(const lb::v1::Endpoint& a, const lb::v1::Endpoint& b) {
  return a.weight() == b.weight() && a.zone() == b.zone() && a.admin_state() == b.admin_state() &&
         a.labels().size() == b.labels().size() &&
         std::equal(a.labels().begin(), a.labels().end(), b.labels().begin(),
                    [](const auto& x, const auto& y) {
                      return x.first == y.first && x.second == y.second;
                    });
}

std::string StatusPath(const StatusWrite& w) {
  const char* group = w.resource == "httproutes" ? "/apis/gateway.networking.k8s.io/v1"
                                                 : "/apis/networking.k8s.io/v1";
  return absl::StrCat(group, "/namespaces/", w.ns, "/", w.resource, "/", w.name, "/status");
}

}  // namespace

Sync::Sync(Transport* transport, store::Store* store, metrics::Registry* metrics,
           SyncOptions options)
    : transport_(transport),
      options_(std::move(options)),
      clock_(options_.reflector.clock),
      registry_(store, clock_),
      objects_(options_.max_objects) {
  registry_.SetWriter(kOwner);
  objects_.SetOnChange([this] {
    absl::MutexLock lock(&mu_);
    dirty_ = true;
  });
  for (ResourceKind& kind : SyncedKinds()) {
    reflectors_.push_back(
        std::make_unique<Reflector>(std::move(kind), transport_, &objects_, options_.reflector));
  }
  if (metrics != nullptr) {
    metrics->AddCollector([this](metrics::SampleSink& sink) { Collect(sink); });
  }
}

Sync::~Sync() { Stop(); }

void Sync::Start() {
  started_ = true;
  for (auto& r : reflectors_) r->Start();
  thread_ = std::thread([this] { Run(); });
}

void Sync::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (auto& r : reflectors_) r->Stop();
  if (thread_.joinable()) thread_.join();
}

bool Sync::Synced() const {
  for (const auto& r : reflectors_) {
    if (!r->Synced()) return false;
  }
  return true;
}

void Sync::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Wait for a change, or the periodic resync.
      clock_->AwaitWithTimeout(
          &mu_,
          absl::Condition(
              +[](Sync* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->dirty_ || s->stop_; }, this),
          options_.resync);
      if (stop_) return;
      // Debounce: let a burst of events settle.
      clock_->AwaitWithTimeout(&mu_, absl::Condition(&stop_), options_.debounce);
      if (stop_) return;
      dirty_ = false;
    }
    if (!Synced()) continue;  // The reflectors mark dirty once they have listed.
    absl::StatusOr<ApplyStats> stats = SyncOnce();
    if (stats.ok() && stats->errors > 0) {
      // Try again after a pause (a conflict with a manual object persists until it changes).
      absl::MutexLock lock(&mu_);
      clock_->AwaitWithTimeout(&mu_, absl::Condition(&stop_),
                               options_.reflector.backoff_initial * 4);
      dirty_ = true;
    }
  }
}

ObjectSnapshot Sync::Snapshot() const {
  ObjectSnapshot s;
  s.services = objects_.Get("services");
  s.endpoint_slices = objects_.Get("endpointslices");
  s.ingresses = objects_.Get("ingresses");
  s.secrets = objects_.Get("secrets");
  s.gateways = objects_.Get("gateways");
  s.http_routes = objects_.Get("httproutes");
  s.gateway_api_present = objects_.Present("gateways") && objects_.Present("httproutes");
  return s;
}

void Sync::Failed(absl::string_view what, const absl::Status& status, ApplyStats* stats) {
  ++stats->errors;
  apply_errors_.fetch_add(1);
  spdlog::warn("kubernetes sync: {}: {}", std::string(what), status.ToString());
}

absl::StatusOr<ApplyStats> Sync::SyncOnce() {
  if (!Synced()) return absl::UnavailableError("kubernetes: not every kind is listed yet");
  const DesiredState desired = options_.translate_fn
                                   ? options_.translate_fn(Snapshot(), options_.translate)
                                   : Translate(Snapshot(), options_.translate);
  for (const std::string& w : desired.warnings) spdlog::debug("kubernetes translate: {}", w);
  ApplyStats stats;
  // The audit trail records these writes as the Kubernetes API's (docs/audit.md).
  const audit::ScopedCaller caller({audit::kApiKubernetes, kOwner, ""});
  ApplyClusters(desired, &stats);
  ApplyCertificates(desired, &stats);
  ApplyRoutes(desired, &stats);
  DeleteUnwanted(desired, &stats);
  WriteStatuses(desired, &stats);
  applies_.fetch_add(1);
  writes_.fetch_add(static_cast<uint64_t>(stats.writes));
  last_sync_unix_ms_.store(absl::ToUnixMillis(clock_->Now()));
  return stats;
}

void Sync::ApplyClusters(const DesiredState& desired, ApplyStats* stats) {
  absl::StatusOr<std::vector<lb::v1::Cluster>> current = registry_.ListClusters();
  if (!current.ok()) return Failed("list clusters", current.status(), stats);
  std::map<std::string, const lb::v1::Cluster*> by_name;
  for (const lb::v1::Cluster& c : *current) by_name[c.name()] = &c;
  for (const lb::v1::Cluster& want : desired.clusters) {
    auto it = by_name.find(want.name());
    if (it == by_name.end()) {
      absl::StatusOr<lb::v1::Cluster> r = registry_.CreateCluster(want);
      if (!r.ok()) {
        Failed(absl::StrCat("create cluster ", want.name()), r.status(), stats);
      } else {
        ++stats->writes;
      }
      continue;
    }
    const lb::v1::Cluster& have = *it->second;
    if (have.owner() != kOwner) {
      Failed(absl::StrCat("cluster ", want.name()),
             absl::FailedPreconditionError("a cluster of that name was made through the API"),
             stats);
      continue;
    }
    lb::v1::Cluster settings = Settings(want);
    if (absl::Status s = model::NormalizeCluster(&settings); !s.ok()) {
      Failed(absl::StrCat("cluster ", want.name()), s, stats);
      continue;
    }
    if (!MessageDifferencer::Equals(settings, Settings(have))) {
      absl::StatusOr<lb::v1::Cluster> r = registry_.UpdateCluster(Settings(want), 0);
      if (!r.ok()) {
        Failed(absl::StrCat("update cluster ", want.name()), r.status(), stats);
        continue;
      }
      ++stats->writes;
    }
    ApplyEndpoints(want, have, stats);
  }
}

void Sync::ApplyEndpoints(const lb::v1::Cluster& desired, const lb::v1::Cluster& current,
                          ApplyStats* stats) {
  std::map<std::string, const lb::v1::Endpoint*> have;
  for (const lb::v1::Endpoint& e : current.endpoints()) have[EndpointId(e)] = &e;
  std::set<std::string> wanted;
  // Adds and updates first, removals last: the cluster never loses a live endpoint early.
  for (lb::v1::Endpoint e : desired.endpoints()) {
    if (absl::Status s = model::NormalizeEndpoint(&e); !s.ok()) {
      Failed(absl::StrCat("cluster ", desired.name(), " endpoint"), s, stats);
      continue;
    }
    const std::string id = EndpointId(e);
    wanted.insert(id);
    auto it = have.find(id);
    absl::Status s;
    if (it == have.end()) {
      s = registry_.AddEndpoint(desired.name(), e).status();
    } else if (!SameEndpoint(e, *it->second)) {
      google::protobuf::FieldMask mask;
      for (const char* f : {"weight", "zone", "labels", "admin_state"}) mask.add_paths(f);
      s = registry_.UpdateEndpoint(desired.name(), e.address(), e.port(), e, mask, 0).status();
    } else {
      continue;
    }
    if (!s.ok()) {
      Failed(absl::StrCat("cluster ", desired.name(), " endpoint ", id), s, stats);
    } else {
      ++stats->writes;
    }
  }
  for (const auto& [id, e] : have) {
    if (wanted.count(id) != 0) continue;
    absl::Status s = registry_.RemoveEndpoint(desired.name(), e->address(), e->port()).status();
    if (!s.ok()) {
      Failed(absl::StrCat("cluster ", desired.name(), " remove endpoint ", id), s, stats);
    } else {
      ++stats->writes;
    }
  }
}

void Sync::ApplyCertificates(const DesiredState& desired, ApplyStats* stats) {
  absl::StatusOr<std::vector<lb::v1::Certificate>> current = registry_.ListCertificates();
  if (!current.ok()) return Failed("list certificates", current.status(), stats);
  std::map<std::string, const lb::v1::Certificate*> by_name;
  for (const lb::v1::Certificate& c : *current) by_name[c.name()] = &c;
  for (const lb::v1::Certificate& want : desired.certificates) {
    auto it = by_name.find(want.name());
    // Reads are redacted (no key), so an existing one is rewritten: the registry commits
    // nothing when it is unchanged.
    absl::StatusOr<lb::v1::Certificate> r = it == by_name.end()
                                                ? registry_.CreateCertificate(want)
                                                : registry_.UpdateCertificate(want, 0);
    if (!r.ok()) {
      Failed(absl::StrCat("certificate ", want.name()), r.status(), stats);
    } else if (it == by_name.end() || r->version() != it->second->version()) {
      ++stats->writes;
    }
  }
}

void Sync::ApplyRoutes(const DesiredState& desired, ApplyStats* stats) {
  absl::StatusOr<lb::v1::RouteTable> table = registry_.GetRouteTable();
  if (!table.ok()) return Failed("read routes", table.status(), stats);
  std::map<std::string, const lb::v1::Route*> by_name;
  for (const lb::v1::Route& r : table->routes()) by_name[r.name()] = &r;
  std::set<std::string> wanted;
  for (const lb::v1::Route& want : desired.routes) wanted.insert(want.name());
  // Unwanted owned routes first: a route moving between names must not collide with itself.
  for (const lb::v1::Route& r : table->routes()) {
    if (r.owner() != kOwner || wanted.count(r.name()) != 0) continue;
    absl::Status s = registry_.DeleteRoute(r.name(), 0).status();
    if (!s.ok()) {
      Failed(absl::StrCat("delete route ", r.name()), s, stats);
    } else {
      ++stats->writes;
    }
  }
  for (const lb::v1::Route& want : desired.routes) {
    auto it = by_name.find(want.name());
    absl::Status s;
    if (it == by_name.end()) {
      s = registry_.CreateRoute(want, 0).status();
    } else {
      lb::v1::Route normalized = want;
      if (s = model::NormalizeRoute(&normalized); s.ok()) {
        if (MessageDifferencer::Equals(normalized, *it->second)) continue;
        s = registry_.UpdateRoute(want, 0).status();
      }
    }
    if (!s.ok()) {
      Failed(absl::StrCat("route ", want.name()), s, stats);
    } else {
      ++stats->writes;
    }
  }
}

void Sync::DeleteUnwanted(const DesiredState& desired, ApplyStats* stats) {
  std::set<std::string> clusters, certificates;
  for (const auto& c : desired.clusters) clusters.insert(c.name());
  for (const auto& c : desired.certificates) certificates.insert(c.name());
  absl::StatusOr<std::vector<lb::v1::Cluster>> current = registry_.ListClusters();
  if (!current.ok()) return Failed("list clusters", current.status(), stats);
  for (const lb::v1::Cluster& c : *current) {
    if (c.owner() != kOwner || clusters.count(c.name()) != 0) continue;
    if (absl::Status s = registry_.DeleteCluster(c.name(), 0); !s.ok()) {
      Failed(absl::StrCat("delete cluster ", c.name()), s, stats);
    } else {
      ++stats->writes;
    }
  }
  absl::StatusOr<std::vector<lb::v1::Certificate>> certs = registry_.ListCertificates();
  if (!certs.ok()) return Failed("list certificates", certs.status(), stats);
  for (const lb::v1::Certificate& c : *certs) {
    if (c.owner() != kOwner || certificates.count(c.name()) != 0) continue;
    if (absl::Status s = registry_.DeleteCertificate(c.name(), 0); !s.ok()) {
      Failed(absl::StrCat("delete certificate ", c.name()), s, stats);
    } else {
      ++stats->writes;
    }
  }
}

void Sync::WriteStatuses(const DesiredState& desired, ApplyStats* stats) {
  for (const StatusWrite& w : desired.status_writes) {
    const std::string path = StatusPath(w);
    const std::string body = w.patch.dump();
    auto it = written_status_.find(path);
    if (it != written_status_.end() && it->second == body) continue;
    absl::StatusOr<HttpResponse> r = transport_->MergePatch(path, body);
    if (!r.ok()) {
      Failed(absl::StrCat("PATCH ", path), r.status(), stats);
      continue;
    }
    if (r->status == 404) {
      written_status_.erase(path);  // The object is gone; nothing to write.
      continue;
    }
    if (r->status / 100 != 2) {
      Failed(absl::StrCat("PATCH ", path),
             absl::UnavailableError(absl::StrCat("HTTP ", r->status, ": ", r->body.substr(0, 200))),
             stats);
      continue;
    }
    written_status_[path] = body;
    ++stats->status_writes;
    status_writes_.fetch_add(1);
  }
}

void Sync::Collect(metrics::SampleSink& sink) const {
  for (const auto& r : reflectors_) {
    const std::string& kind = r->kind().resource;
    const metrics::Labels labels = {{"kind", kind}};
    const ReflectorStats& s = r->stats();
    sink.Gauge("lb_kubernetes_objects", "Kubernetes objects held, by kind", labels,
               static_cast<double>(objects_.Count(kind)));
    sink.Gauge("lb_kubernetes_kind_present",
               "1 when the kind is served (0: e.g. no Gateway API CRDs)", labels,
               objects_.Present(kind) ? 1 : 0);
    sink.Counter("lb_kubernetes_lists_total", "Successful lists (first list and relists), by kind",
                 labels, s.lists.load());
    sink.Counter("lb_kubernetes_relists_total", "Relists forced by 410 Gone/Expired, by kind",
                 labels, s.relists_gone.load());
    sink.Counter("lb_kubernetes_watch_restarts_total",
                 "Watches resumed from the last resourceVersion, by kind", labels,
                 s.watch_restarts.load());
    sink.Counter("lb_kubernetes_watch_errors_total",
                 "Failed lists and watches (each followed by a backoff), by kind", labels,
                 s.errors.load());
    sink.Counter("lb_kubernetes_watch_events_total", "Watch events applied, by kind", labels,
                 s.events.load());
    sink.Counter("lb_kubernetes_objects_over_cap_total",
                 "Objects refused by --kubernetes_max_objects, by kind", labels, s.over_cap.load());
  }
  sink.Counter("lb_kubernetes_sync_applies_total", "Translations applied to the registry", {},
               applies_.load());
  sink.Counter("lb_kubernetes_sync_writes_total", "Registry writes made by the sync", {},
               writes_.load());
  sink.Counter("lb_kubernetes_sync_apply_errors_total",
               "Registry writes and status patches of the sync that failed", {},
               apply_errors_.load());
  sink.Counter("lb_kubernetes_status_writes_total", "Status subresource patches made", {},
               status_writes_.load());
  sink.Gauge("lb_kubernetes_last_sync_timestamp_seconds", "When the sync last applied (Unix time)",
             {}, static_cast<double>(last_sync_unix_ms_.load()) / 1000.0);
}

}  // namespace lb::kubernetes
