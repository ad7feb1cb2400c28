#include "controller/server/controller.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/http/evhttp_server.h"
#include "common/metrics/metrics.h"
#include "common/net/address.h"
#include "common/process/ready_file.h"
#include "controller/api/auth.h"
#include "controller/api/grpc_service.h"
#include "controller/dns/hostname_cache.h"
#include "controller/dns/shared_hostnames.h"
#include "controller/fleet/leader_election.h"
#include "controller/fleet/proxy_directory.h"
#include "controller/fleet/readiness.h"
#include "controller/limits/limit_metrics.h"
#include "controller/model/model_cache.h"
#include "controller/model/model_metrics.h"
#include "controller/registry/registry.h"
#include "controller/rest/events_handler.h"
#include "controller/rest/rest_handler.h"
#include "controller/server/ticket_rotator.h"
#include "controller/server/tls_config.h"
#include "controller/store/sqlite_store.h"
#include "controller/ui/event_hub.h"
#include "controller/xds/xds_server.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace lb::controller {
namespace {

// gRPC channel arguments are int milliseconds.
int Millis(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), INT32_MAX));
}

// kInvalidArgument naming the first limit that cannot work.
absl::Status ValidateLimits(const ControllerLimits& l) {
  auto positive = [](absl::Duration d) { return d > absl::ZeroDuration(); };
  struct Check {
    bool ok;
    const char* flag;
  };
  for (const Check& c : {
           Check{l.xds.max_streams > 0, "xds_max_streams"},
           Check{l.xds.stream.max_names > 0, "xds_max_names_per_stream"},
           Check{l.xds.stream.max_name_bytes > 0, "xds_max_name_bytes_per_stream"},
           Check{l.xds.max_queued_bytes > 0, "xds_max_queued_bytes_per_stream"},
           Check{l.watch.max_watchers > 0, "watch_max_streams"},
           Check{l.watch.max_queued_bytes > 0, "watch_max_queued_bytes"},
           Check{l.grpc_max_receive_bytes > 0, "grpc_max_receive_bytes"},
           Check{positive(l.grpc_min_ping_interval), "grpc_min_ping_interval"},
           Check{positive(l.grpc_keepalive_time), "grpc_keepalive_time"},
           Check{positive(l.grpc_keepalive_timeout), "grpc_keepalive_timeout"},
           Check{positive(l.grpc_max_connection_idle), "grpc_max_connection_idle"},
           Check{positive(l.grpc_max_connection_age), "grpc_max_connection_age"},
           Check{positive(l.grpc_max_connection_age_grace), "grpc_max_connection_age_grace"},
           Check{l.rest.max_connections > 0, "rest_max_connections"},
           Check{positive(l.rest.idle_timeout), "rest_idle_timeout"},
           Check{positive(l.rest.request_timeout), "rest_request_timeout"},
           Check{l.dns.parallelism > 0, "dns_parallelism"},
           Check{positive(l.dns.timeout), "dns_timeout"},
           Check{l.dns.max_addresses_per_host > 0, "dns_max_addresses_per_host"},
           Check{l.lrs.interval >= absl::Milliseconds(100), "lrs_interval"},
           Check{l.lrs.max_streams > 0, "lrs_max_streams"},
           Check{l.lrs.max_clusters_per_report > 0, "lrs_max_clusters_per_report"},
           Check{l.lrs.max_endpoints_per_report > 0, "lrs_max_endpoints_per_report"},
           Check{l.lrs.max_report_bytes > 0, "lrs_max_report_bytes"},
           Check{positive(l.lrs_aggregator.window), "lrs_window"},
           Check{l.lrs_aggregator.max_series > 0, "lrs_max_series"},
           Check{l.lrs_aggregator.max_metric_endpoints > 0, "lrs_max_metric_endpoints"},
           Check{l.ui_stream.max_clients > 0, "ui_stream_max_clients"},
           Check{l.ui_stream.max_queued_bytes > 0, "ui_stream_max_queued_bytes"},
           Check{positive(l.ui_stream.tick_interval), "ui_stream_tick_interval"},
       }) {
    if (!c.ok) return absl::InvalidArgumentError(absl::StrCat("--", c.flag, " must be positive"));
  }
  return absl::OkStatus();
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before threads read env.
  return v != nullptr ? v : "";
}

// --kubernetes: checks the flags, then reads the kubeconfig or the service account.
absl::StatusOr<kubernetes::ClusterConfig> KubernetesConfig(const KubernetesOptions& k) {
  const kubernetes::SyncOptions& s = k.sync;
  struct Check {
    bool ok;
    const char* flag;
    const char* rule;
  };
  for (const Check& c : {
           Check{s.reflector.backoff_max >= s.reflector.backoff_initial,
                 "kubernetes_resync_backoff_max", "must be at least 500ms"},
           Check{s.max_objects > 0, "kubernetes_max_objects", "must be positive"},
           Check{k.transport.max_event_bytes >= 1024, "kubernetes_max_event_bytes",
                 "must be at least 1024"},
           Check{!s.translate.ingress_class.empty(), "ingress_class", "must not be empty"},
           Check{!s.translate.gateway_class.empty(), "gateway_class", "must not be empty"},
           Check{!s.translate.gateway_controller_name.empty(), "gateway_controller_name",
                 "must not be empty"},
       }) {
    if (!c.ok) return absl::InvalidArgumentError(absl::StrCat("--", c.flag, " ", c.rule));
  }
  for (const std::string& a : s.translate.ingress_status_addresses) {
    if (a.empty() || a.find_first_of(" /,") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ingress_status_address: \"", a, "\" is not an IP address or a hostname"));
    }
  }
  absl::StatusOr<kubernetes::ClusterConfig> config =
      k.kubeconfig.empty()
          ? kubernetes::InClusterConfig(k.service_account_dir, Env("KUBERNETES_SERVICE_HOST"),
                                        Env("KUBERNETES_SERVICE_PORT"))
          : kubernetes::LoadKubeConfig(k.kubeconfig, k.allow_insecure_skip_tls_verify);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat("--kubernetes: ", config.status().message()));
  }
  return config;
}

// Every limit's configured value, as lb_controller_limit{limit=FLAG}.
void ExportLimits(const ControllerLimits& l, metrics::Registry* m) {
  auto seconds = [](absl::Duration d) {
    return d == absl::InfiniteDuration() ? int64_t{0} : absl::ToInt64Seconds(d);
  };
  limits::ExportLimit(m, "xds_max_streams", l.xds.max_streams);
  limits::ExportLimit(m, "xds_max_names_per_stream", l.xds.stream.max_names);
  limits::ExportLimit(m, "xds_max_name_bytes_per_stream", l.xds.stream.max_name_bytes);
  limits::ExportLimit(m, "xds_max_queued_bytes_per_stream", l.xds.max_queued_bytes);
  limits::ExportLimit(m, "watch_max_streams", l.watch.max_watchers);
  limits::ExportLimit(m, "watch_max_queued_bytes", l.watch.max_queued_bytes);
  limits::ExportLimit(m, "grpc_max_receive_bytes", l.grpc_max_receive_bytes);
  limits::ExportLimit(m, "grpc_min_ping_interval_seconds", seconds(l.grpc_min_ping_interval));
  limits::ExportLimit(m, "grpc_max_connection_idle_seconds", seconds(l.grpc_max_connection_idle));
  limits::ExportLimit(m, "grpc_max_connection_age_seconds", seconds(l.grpc_max_connection_age));
  limits::ExportLimit(m, "rest_max_connections", l.rest.max_connections);
  limits::ExportLimit(m, "rest_idle_timeout_seconds", seconds(l.rest.idle_timeout));
  limits::ExportLimit(m, "rest_request_timeout_seconds", seconds(l.rest.request_timeout));
  limits::ExportLimit(m, "dns_max_addresses_per_host", l.dns.max_addresses_per_host);
  limits::ExportLimit(m, "dns_parallelism", l.dns.parallelism);
  limits::ExportLimit(m, "dns_timeout_seconds", seconds(l.dns.timeout));
  limits::ExportLimit(m, "lrs_max_streams", l.lrs.max_streams);
  limits::ExportLimit(m, "lrs_max_clusters_per_report", l.lrs.max_clusters_per_report);
  limits::ExportLimit(m, "lrs_max_endpoints_per_report", l.lrs.max_endpoints_per_report);
  limits::ExportLimit(m, "lrs_max_report_bytes", l.lrs.max_report_bytes);
  limits::ExportLimit(m, "lrs_window_seconds", seconds(l.lrs_aggregator.window));
  limits::ExportLimit(m, "lrs_max_series", l.lrs_aggregator.max_series);
  limits::ExportLimit(m, "lrs_max_metric_endpoints", l.lrs_aggregator.max_metric_endpoints);
}

class ControllerImpl : public Controller {
 public:
  ~ControllerImpl() override { Shutdown(); }

  int grpc_port() const override { return grpc_port_; }
  int rest_port() const override { return rest_->port(); }

  void Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      shut_down_ = true;
    }
    if (sync_) sync_->Stop();
    if (service_) service_->Shutdown();
    rest_.reset();
    if (events_) events_->Stop();
    if (xds_) xds_->Shutdown();
    if (lrs_) lrs_->Shutdown();
    if (grpc_server_) {
      // gRPC's deadline is on the real clock, whatever ControllerOptions::clock is.
      grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    }
    if (directory_) directory_->Stop();
    // Steps down (revokes the lease) so another controller takes over at once; stops
    // resolving through the callback. Kept (not reset): /metrics reads it.
    if (election_) election_->Stop();
    if (readiness_) readiness_->Stop();
    watch_.reset();
    hostnames_.reset();
    ticket_rotator_.reset();
  }

  // The audit trail's retention (docs/audit.md), and its metrics.
  absl::Status StartAudit(const ControllerOptions& o) {
    if (absl::Status s = audit::EventCompactor::Validate(o.audit); !s.ok()) return s;
    audit_compactor_ = std::make_unique<audit::EventCompactor>(store_.get(), o.clock, o.audit);
    audit_compactor_->Start();
    metrics_.AddCollector([this](metrics::SampleSink& sink) {
      sink.Counter("lb_controller_audit_events_recorded_total",
                   "Audit events written with the mutations they record.", {},
                   registry_->events_recorded());
      sink.Counter("lb_controller_audit_events_pruned_total",
                   "Audit events deleted by --audit_max_events and --audit_max_age.", {},
                   audit_compactor_->stats().pruned);
      sink.Counter("lb_controller_audit_prune_failures_total",
                   "Rounds of audit pruning that failed (store unreachable, a race).", {},
                   audit_compactor_->stats().failures);
    });
    return absl::OkStatus();
  }

  absl::Status Init(const ControllerOptions& o) {
    if (absl::Status s = ValidateLimits(o.limits); !s.ok()) return s;
    // The cluster's address and credentials before anything listens.
    std::optional<kubernetes::ClusterConfig> kube;
    if (o.kubernetes.enabled) {
      absl::StatusOr<kubernetes::ClusterConfig> c = KubernetesConfig(o.kubernetes);
      if (!c.ok()) return c.status();
      kube = std::move(*c);
    }
    // TLS material first: a bad file stops the start before anything listens.
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> grpc_credentials =
        GrpcServerCredentials(o.tls);
    if (!grpc_credentials.ok()) return grpc_credentials.status();
    absl::StatusOr<std::shared_ptr<ssl_ctx_st>> rest_tls = RestSslContext(o.tls);
    if (!rest_tls.ok()) return rest_tls.status();
    if (!o.auth_token_file.empty()) {
      absl::StatusOr<api::TokenAuth> auth = api::TokenAuth::FromFile(o.auth_token_file);
      if (!auth.ok()) return auth.status();
      auth_ = std::move(*auth);
    }
    if (absl::Status s = store::HistoryCompactor::Validate(o.history); !s.ok()) return s;
    store::HistoryCompactor::CompactFn compact;
    if (o.store == "etcd") {
      absl::StatusOr<std::unique_ptr<store::EtcdStore>> store = store::EtcdStore::Connect(o.etcd);
      if (!store.ok()) return store.status();
      compact = [etcd = store->get()](int64_t revision) { return etcd->Compact(revision); };
      store_ = std::move(*store);
    } else if (o.store == "sqlite") {
      if (mkdir(o.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return absl::InternalError(
            absl::StrCat("cannot create data dir ", o.data_dir, ": ", strerror(errno)));
      }
      store::SqliteStore::Options sqlite;
      sqlite.history_limit = o.history.max_revisions;
      absl::StatusOr<std::unique_ptr<store::SqliteStore>> store =
          store::SqliteStore::Open(absl::StrCat(o.data_dir, "/lb.db"), sqlite);
      if (!store.ok()) return store.status();
      compact = [sqlite = store->get()](int64_t revision) { return sqlite->Compact(revision); };
      store_ = std::move(*store);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--store must be sqlite or etcd, not \"", o.store, "\""));
    }
    // Readiness gates the model's writes (fail fast while the store is unreachable or this
    // controller lags it); reads go on, on etcd from the reached member's last state.
    fleet::Readiness::Options ro;
    ro.max_lag = o.ready_max_lag;
    ro.check_interval = o.ready_check_interval;
    if (absl::Status s = fleet::Readiness::Validate(ro); !s.ok()) return s;
    fleet::LeaderElection::Options eo;
    eo.id = "id";  // The real one (host:grpc port) once the gRPC port is known.
    eo.lease_ttl = o.leader_lease_ttl;
    if (absl::Status s = fleet::LeaderElection::Validate(eo); !s.ok()) return s;
    auto* etcd = dynamic_cast<store::EtcdStore*>(store_.get());
    fleet::Readiness::Probe probe = [store = store_.get()] { return store->CurrentRevision(); };
    if (etcd != nullptr) probe = [etcd] { return etcd->NewestModRevision(); };
    readiness_ = std::make_unique<fleet::Readiness>(store_.get(), std::move(probe), o.clock, ro);
    if (etcd != nullptr) {
      readiness_->SetOnChange([etcd](bool ready) { etcd->SetSerializableReads(!ready); });
    }
    readiness_->Start();
    gated_store_ = std::make_unique<fleet::ReadyGatedStore>(store_.get(), readiness_.get());
    registry_ = std::make_unique<registry::Registry>(gated_store_.get(), o.clock);
    registry_->SetMutationObserver([this](absl::string_view op, const absl::Status& s) {
      metrics_
          .GetCounter("lb_controller_mutations_total", "Model mutations by operation and result.",
                      {{"op", std::string(op)}, {"code", absl::StatusCodeToString(s.code())}})
          ->Increment();
    });
    if (absl::Status s = registry_->Bootstrap(); !s.ok()) return s;
    compactor_ = std::make_unique<store::HistoryCompactor>(store_.get(), std::move(compact),
                                                           o.clock, o.history);
    compactor_->Start();
    metrics_.AddCollector([compactor = compactor_.get()](metrics::SampleSink& sink) {
      const store::HistoryCompactor::Stats stats = compactor->stats();
      sink.Counter("lb_controller_store_compactions_total",
                   "Compactions of the store's watch history by --history_max_revisions and "
                   "--history_max_age.",
                   {}, stats.compactions);
      sink.Counter("lb_controller_store_compaction_failures_total",
                   "Rounds of history compaction that failed (store unreachable).", {},
                   stats.failures);
      sink.Gauge("lb_controller_store_compacted_revision",
                 "History at and below this revision was compacted by this controller.", {},
                 static_cast<double>(stats.compacted_revision));
    });
    if (absl::Status s = StartAudit(o); !s.ok()) return s;
    if (o.tls_ticket_key_rotation < absl::Seconds(1)) {
      return absl::InvalidArgumentError("--tls_ticket_key_rotation must be at least 1s");
    }
    // Before the watch below: the initial state then has the keys.
    ticket_rotator_ =
        std::make_unique<TicketRotator>(registry_.get(), o.clock, o.tls_ticket_key_rotation);
    if (absl::Status s = ticket_rotator_->Start(); !s.ok()) return s;

    const ControllerLimits& limits = o.limits;
    ExportLimits(limits, &metrics_);
    resolver_ = dns::NewSystemResolver();
    hostnames_ = std::make_unique<dns::SharedHostnames>(
        store_.get(), resolver_.get(), o.dns_refresh_interval, o.clock, limits.dns, &metrics_);
    registry_->SetResolvedLookup(
        [this](const std::string& host) { return hostnames_->Lookup(host); });
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    xds_ = std::make_unique<xds::XdsServer>(
        [this](const std::string& h) { return hostnames_->Lookup(h); }, &metrics_,
        absl::StrCat("lb-controller/", host, "/", getpid()), o.clock, limits.xds);
    xds_->set_lrs_in_cds(o.lrs_in_cds);
    hostnames_->SetOnChange([this] { xds_->OnDnsChange(); });
    loads_ = std::make_unique<lrs::LoadAggregator>(limits.lrs_aggregator, &metrics_, o.clock);
    lrs_ = std::make_unique<lrs::LrsService>(
        loads_.get(),
        [this] {
          std::vector<std::string> names;
          for (const auto& [name, cluster] : model_.Current()->clusters) names.push_back(name);
          return names;
        },
        limits.lrs, &metrics_, o.clock);
    model_metrics_ = std::make_unique<model::ModelMetrics>(&metrics_);
    feed_ = std::make_unique<api::ChangeFeed>(limits.watch, &metrics_);
    // In this order for every change: xDS first, then the names to resolve, then metrics, then
    // WatchChanges streams.
    model_.AddObserver(xds_.get());
    model_.AddObserver(hostnames_.get());
    model_.AddObserver(model_metrics_.get());
    model_.AddObserver(feed_.get());
    absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
        registry_->Watch([this](const lb::v1::Change& change) { model_.Apply(change); });
    if (!watch.ok()) return watch.status();
    watch_ = std::move(*watch);
    // Resolved addresses: what the store holds, resolved by the leader. With SQLite this
    // controller is the only one and leads at once.
    if (absl::Status s = hostnames_->Start(); !s.ok()) return s;
    if (o.store != "etcd") hostnames_->SetLeader(true);
    hostnames_->RefreshNow();
    xds_->OnDnsChange();
    xds_->Flush();  // Serve xDS only once the current model is published.

    if (kube.has_value()) {
      kube_transport_ =
          std::make_unique<kubernetes::CurlTransport>(std::move(*kube), o.kubernetes.transport);
      kubernetes::SyncOptions sync_options = o.kubernetes.sync;
      sync_options.reflector.clock = o.clock;
      sync_ = std::make_unique<kubernetes::Sync>(kube_transport_.get(), gated_store_.get(),
                                                 &metrics_, std::move(sync_options));
      sync_->Start();
    }

    service_ = std::make_unique<api::LoadBalancerService>(registry_.get(), &auth_, &metrics_);
    service_->SetChangeFeed(feed_.get());
    service_->SetEndpointStatusSource(
        [this, clock = o.clock](const std::string& cluster,
                                google::protobuf::RepeatedPtrField<lb::v1::Endpoint>* endpoints) {
          loads_->FillStatus(cluster, endpoints, clock->Now());
        });
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    // gRPC sets SO_REUSEPORT by default, which lets a second controller bind the same port and
    // take half of the calls. One process per port: a taken port fails the start.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(o.grpc_listen, *grpc_credentials, &grpc_port_);
    builder.RegisterService(service_.get());
    builder.RegisterService(xds_.get());
    builder.RegisterService(lrs_.get());
    service_->SetProxiesSource([this] { return ListProxies(); });
    service_->SetLeaderSource([this] {
      fleet::LeaderElection* election = election_view_.load();
      return election == nullptr ? std::string() : election->view().leader.id;
    });
    builder.SetMaxReceiveMessageSize(limits.grpc_max_receive_bytes);
    // Keepalive enforcement: pings more often than the minimum, even without calls, earn
    // strikes; two strikes and the connection gets GOAWAY ENHANCE_YOUR_CALM.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                               Millis(limits.grpc_min_ping_interval));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
    // Our own pings find dead peers; unlimited pings without data, or an idle ADS stream would
    // stop being checked after two.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(limits.grpc_keepalive_time));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                               Millis(limits.grpc_keepalive_timeout));
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               Millis(limits.grpc_max_connection_idle));
    if (limits.grpc_max_connection_age != absl::InfiniteDuration()) {
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                                 Millis(limits.grpc_max_connection_age));
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                                 Millis(limits.grpc_max_connection_age_grace));
    }
    grpc_server_ = builder.BuildAndStart();
    if (grpc_server_ == nullptr || grpc_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", o.grpc_listen,
                                                 " (address in use or not local?)"));
    }
    const std::string controller_id = net::JoinHostPort(host, grpc_port_);
    if (absl::Status s = StartElection(o, controller_id); !s.ok()) return s;
    if (o.store == "etcd") {
      fleet::ProxyDirectory::Options fo;
      fo.controller_id = controller_id;
      fo.publish_interval = o.fleet_publish_interval;
      fo.stale_after = 4 * o.fleet_publish_interval;
      directory_ = std::make_unique<fleet::ProxyDirectory>(
          store_.get(), o.clock, [this] { return xds_->ListProxies(); }, fo);
      directory_->Start();
    }

    rest_handler_ =
        std::make_unique<rest::RestHandler>(registry_.get(), &auth_, &metrics_, o.clock);
    rest_handler_->SetReadiness([this] { return readiness_->Check(); });
    rest_handler_->SetEndpointStatusSource(
        [this, clock = o.clock](const std::string& cluster,
                                google::protobuf::RepeatedPtrField<lb::v1::Endpoint>* endpoints) {
          loads_->FillStatus(cluster, endpoints, clock->Now());
        });
    events_ = std::make_unique<ui::EventHub>(
        limits.ui_stream, feed_.get(),
        [this] {
          std::string bytes;
          (void)ListProxies().SerializeToString(&bytes);
          return absl::StrCat(absl::Hex(std::hash<std::string>{}(bytes), absl::kZeroPad16));
        },
        &metrics_, o.clock);
    if (absl::Status s = events_->Start(); !s.ok()) return s;
    rest_handler_->AddExtraHandler([this](const http::HttpRequest& req, http::HttpResponse* resp) {
      absl::string_view path = req.target;
      path = path.substr(0, path.find('?'));
      if (path == "/v1/stream") {
        *resp = events_->Open(req);
        return true;
      }
      if (path == "/v1/leader") {
        *resp = LeaderResponse(req);
        return true;
      }
      if (rest::ServeEvents(registry_.get(), req, resp)) return true;  // The audit trail.
      if (path != "/v1/proxies") return false;
      if (req.method != "GET" && req.method != "HEAD") {
        *resp = rest::MethodNotAllowed(req.method, "GET, HEAD");
        return true;
      }
      resp->content_type = "application/json";
      resp->body = rest::ProtoJson(ListProxies()) + "\n";
      return true;
    });
    absl::StatusOr<std::unique_ptr<http::EvhttpServer>> rest = http::EvhttpServer::Start(
        o.rest_listen, [this](const http::HttpRequest& req) { return rest_handler_->Handle(req); },
        16 * rest::kMaxBodyBytes, limits.rest, *rest_tls);
    if (!rest.ok()) return rest.status();
    rest_ = std::move(*rest);
    // The stats outlive the server: /metrics may be rendered while it shuts down.
    metrics_.AddCollector([stats = rest_->stats()](metrics::SampleSink& sink) {
      sink.Gauge("lb_controller_rest_connections", "Open REST connections.", {},
                 static_cast<double>(stats->open.load()));
      sink.Counter(limits::kExceededName, limits::kExceededHelp,
                   {{"limit", "rest_max_connections"}}, stats->paused_at_cap.load());
      sink.Counter(limits::kExceededName, limits::kExceededHelp,
                   {{"limit", "rest_request_timeout"}}, stats->timed_out.load());
      sink.Counter("lb_controller_rest_accept_paused_total",
                   "Times the REST listener stopped accepting after accept() failed (EMFILE...).",
                   {}, stats->paused_on_error.load());
    });

    spdlog::info("controller: gRPC on {} (port {}), REST on {} (port {}), data in {}{}{}",
                 o.grpc_listen, grpc_port_, o.rest_listen, rest_->port(),
                 o.store == "etcd" ? absl::StrCat("etcd ", absl::StrJoin(o.etcd.endpoints, ","),
                                                  " under ", o.etcd.prefix)
                                   : o.data_dir,
                 auth_.enabled() ? ", auth on" : "",
                 o.tls.cert_file.empty()        ? ""
                 : o.tls.client_ca_file.empty() ? ", TLS"
                                                : ", mTLS (client certificates required)");
    if (!o.ready_file.empty()) {
      return process::WriteReadyFile(o.ready_file,
                                     {{"grpc_port", grpc_port_}, {"rest_port", rest_->port()}});
    }
    return absl::OkStatus();
  }

 private:
  // The election among the controllers sharing etcd (with SQLite: always this one), and its
  // metrics. The leader resolves hostnames for all.
  absl::Status StartElection(const ControllerOptions& o, const std::string& id) {
    if (o.store == "etcd") {
      fleet::LeaderElection::Options eo;
      eo.id = id;
      eo.lease_ttl = o.leader_lease_ttl;
      election_ = std::make_unique<fleet::LeaderElection>(store_.get(), o.clock, eo);
    } else {
      election_ = fleet::LeaderElection::AlwaysLeader(id, o.clock);
    }
    election_->SetOnChange([this](bool leader) {
      hostnames_->SetLeader(leader);
      if (leader) hostnames_->RefreshNow();
    });
    election_->Step();  // A first round now: the first controller leads from the start.
    election_->Start();
    election_view_.store(election_.get());
    metrics_.AddCollector([this](metrics::SampleSink& sink) {
      sink.Gauge("lb_controller_leader",
                 "1 while this controller is the elected leader (--leader_lease_ttl).", {},
                 election_->IsLeader() ? 1 : 0);
      sink.Counter("lb_controller_elections_won_total", "Times this controller became the leader.",
                   {}, election_->elections_won());
      sink.Gauge("lb_controller_ready",
                 "1 while /readyz is 200: the store answers and this controller is caught up "
                 "(--ready_max_lag).",
                 {}, readiness_->ready() ? 1 : 0);
      sink.Counter("lb_controller_ready_transitions_total", "Times readiness changed (either way).",
                   {}, readiness_->transitions());
    });
    return absl::OkStatus();
  }

  // GET /v1/leader.
  http::HttpResponse LeaderResponse(const http::HttpRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") {
      return rest::MethodNotAllowed(req.method, "GET, HEAD");
    }
    const fleet::LeaderElection::View v = election_->view();
    nlohmann::json body = {
        {"id", v.id},
        {"is_leader", v.is_leader},
        {"leader", v.leader.id.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.leader.id)},
        {"since", v.leader.id.empty()
                      ? nlohmann::json(nullptr)
                      : nlohmann::json(absl::FormatTime(absl::RFC3339_sec, v.leader.since,
                                                        absl::UTCTimeZone()))},
        {"lease_ttl_seconds", absl::ToInt64Seconds(v.leader.lease_ttl)},
    };
    http::HttpResponse resp;
    resp.content_type = "application/json";
    resp.body = body.dump() + "\n";
    return resp;
  }

  // Every controller's proxies with a shared store, else this one's.
  lb::v1::ListProxiesResponse ListProxies() {
    return directory_ ? directory_->List() : xds_->ListProxies();
  }

  metrics::Registry metrics_;
  api::TokenAuth auth_;
  std::unique_ptr<store::Store> store_;
  // Readiness of store_ and the gate the registry writes through; never reset before the
  // controller is destroyed (/metrics reads it).
  std::unique_ptr<fleet::Readiness> readiness_;
  std::unique_ptr<fleet::ReadyGatedStore> gated_store_;
  std::unique_ptr<fleet::LeaderElection> election_;
  // election_ for the gRPC threads, which start before it exists.
  std::atomic<fleet::LeaderElection*> election_view_{nullptr};
  // Reads store_; declared after it so it stops first.
  std::unique_ptr<store::HistoryCompactor> compactor_;
  std::unique_ptr<audit::EventCompactor> audit_compactor_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<TicketRotator> ticket_rotator_;
  std::unique_ptr<dns::Resolver> resolver_;
  // Fed by the store's watch (watch_); observed by xds_, hostnames_ and model_metrics_, which
  // it outlives; the watch is cancelled before they go.
  model::ModelCache model_;
  std::unique_ptr<dns::SharedHostnames> hostnames_;
  std::unique_ptr<xds::XdsServer> xds_;
  // With --store=etcd; reads xds_, writes store_; stopped in Shutdown() after the servers.
  std::unique_ptr<fleet::ProxyDirectory> directory_;
  // Load reports: the service feeds the aggregator; REST, lb.v1 and /metrics read it.
  std::unique_ptr<lrs::LoadAggregator> loads_;
  std::unique_ptr<lrs::LrsService> lrs_;
  std::unique_ptr<model::ModelMetrics> model_metrics_;
  std::unique_ptr<api::ChangeFeed> feed_;
  // /v1/stream; a watcher of feed_, stopped in Shutdown() right after the REST server.
  std::unique_ptr<ui::EventHub> events_;
  std::unique_ptr<store::WatchHandle> watch_;
  std::unique_ptr<api::LoadBalancerService> service_;
  // With --kubernetes: writes the registry (as owner "kubernetes") through store_; stopped first.
  std::unique_ptr<kubernetes::Transport> kube_transport_;
  std::unique_ptr<kubernetes::Sync> sync_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::unique_ptr<rest::RestHandler> rest_handler_;
  std::unique_ptr<http::EvhttpServer> rest_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Controller>> Controller::Start(const ControllerOptions& options) {
  auto controller = std::make_unique<ControllerImpl>();
  if (absl::Status s = controller->Init(options); !s.ok()) {
    controller->Shutdown();
    return s;
  }
  return controller;
}

}  // namespace lb::controller
