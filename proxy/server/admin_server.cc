#include "proxy/server/admin_server.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/health/active_checker.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/cluster_snapshot.h"

namespace lb::proxy {
namespace {

const char* PolicyName(LbPolicy p) {
  switch (p) {
    case LbPolicy::kRandom:
      return "RANDOM";
    case LbPolicy::kRoundRobin:
      return "ROUND_ROBIN";
    case LbPolicy::kLeastRequest:
      return "LEAST_REQUEST";
    case LbPolicy::kRingHash:
      return "RING_HASH";
    case LbPolicy::kMaglev:
      return "MAGLEV";
  }
  return "?";
}

nlohmann::json SourceJson(const xds::AdsClientStatus& s) {
  return {{"controller", s.controller},
          {"connected", s.connected},
          {"last_error", s.last_error},
          {"streams", s.streams},
          {"acks", s.acks},
          {"nacks", s.nack_count},
          {"versions", s.versions},
          {"last_nacks", s.nacks},
          {"warming_clusters", s.warming_clusters},
          {"warnings", s.warnings}};
}

std::string ConfigDump(const std::shared_ptr<const router::Snapshot>& snap,
                       const AdminSources& sources) {
  nlohmann::json j = nlohmann::json::object();
  j["generation"] = snap == nullptr ? 0 : snap->generation;
  if (sources.xds_status) j["source"] = SourceJson(sources.xds_status());
  nlohmann::json routes = nlohmann::json::array();
  nlohmann::json clusters = nlohmann::json::array();
  if (snap != nullptr) {
    for (const auto& vh : snap->virtual_hosts) {
      nlohmann::json v = {{"domain", vh.domain}, {"routes", nlohmann::json::array()}};
      for (const auto& r : vh.routes) {
        nlohmann::json route = {
            {"name", r.name}, {"prefix", r.prefix}, {"cluster", r.cluster}, {"retries", r.retries}};
        if (!r.scheme.empty()) route["scheme"] = r.scheme;
        if (r.redirect.has_value()) {
          route["redirect"] = {{"https", r.redirect->https}, {"status", r.redirect->status}};
        }
        v["routes"].push_back(std::move(route));
      }
      routes.push_back(v);
    }
    for (const auto& [name, cs] : snap->clusters) {
      nlohmann::json c = {
          {"name", name},
          {"policy", PolicyName(cs->config.policy)},
          {"version", cs->config.version},
          {"endpoints_version", cs->config.endpoints_version},
          {"panic", cs->panic},
          {"eligible", cs->eligible},
          {"table_size", cs->picker == nullptr ? 0 : cs->picker->table_size()},
          {"protocol", cs->config.protocol == UpstreamProtocol::kHttp2 ? "HTTP2" : "HTTP1"},
          {"health_check_path", cs->config.health_check.path},
          {"endpoints", nlohmann::json::array()}};
      if (const auto& tls = cs->config.tls; tls != nullptr) {
        // Names only: never a key.
        c["tls"] = {{"sni", tls->sni},
                    {"verify", tls->verify},
                    {"alpn", tls->alpn},
                    {"client_certificate",
                     tls->client_certificate.has_value() ? tls->client_certificate->name : ""}};
      }
      if (cs->config.health_check.grpc) {
        c["health_check_grpc_service"] = cs->config.health_check.grpc_service_name;
      }
      for (size_t i = 0; i < cs->hosts.size(); ++i) {
        const upstream::HostState& h = *cs->hosts[i];
        const upstream::HostView& v = cs->views[i];
        const bool configured = i < cs->config.endpoints.size();
        c["endpoints"].push_back({{"address", h.key},
                                  {"hostname", h.hostname},
                                  {"weight", configured ? cs->config.endpoints[i].weight : 0},
                                  {"zone", configured ? cs->config.endpoints[i].zone : ""},
                                  {"draining", v.draining},
                                  {"healthy", v.healthy},
                                  {"ejected", v.ejected},
                                  {"eligible", v.eligible},
                                  {"active_requests", h.active()},
                                  {"requests", h.requests()},
                                  {"failures", h.failures()}});
      }
      clusters.push_back(c);
    }
  }
  j["routes"] = routes;
  j["clusters"] = clusters;
  // The TLS listener's certificates (names only: never a key); null until one arrived.
  j["tls_listener"] = nullptr;
  if (snap != nullptr && snap->tls_server != nullptr) {
    const TlsListenerConfig& t = snap->tls_server->config();
    nlohmann::json certs = nlohmann::json::array();
    for (const auto& chain : t.chains) {
      certs.push_back({{"name", chain.certificate.name},
                       {"server_names", chain.server_names},
                       {"ocsp_staple", !chain.certificate.ocsp_staple.empty()}});
    }
    j["tls_listener"] = {{"version", t.version},
                         {"certificates", certs},
                         {"default_certificate",
                          t.default_certificate.has_value() ? t.default_certificate->name : ""},
                         {"ticket_keys", t.ticket_keys.size()},
                         {"alpn", t.alpn}};
  }
  return j.dump(2) + "\n";
}

}  // namespace

AdminServer::AdminServer(const WorkerSet& workers, AdminSources sources)
    : workers_(workers), sources_(std::move(sources)) {
  metrics_.AddCollector([this](metrics::SampleSink& sink) { Collect(sink); });
}

AdminServer::~AdminServer() { http_.reset(); }  // Stops the admin thread first.

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& listen,
                                                                const WorkerSet& workers,
                                                                AdminSources sources) {
  auto server = std::unique_ptr<AdminServer>(new AdminServer(workers, std::move(sources)));
  AdminServer* raw = server.get();
  absl::StatusOr<std::unique_ptr<http::EvhttpServer>> http = http::EvhttpServer::Start(
      listen, [raw](const http::HttpRequest& req) { return raw->Handle(req); }, 64 * 1024);
  if (!http.ok()) return http.status();
  server->http_ = std::move(*http);
  return server;
}

http::HttpResponse AdminServer::Handle(const http::HttpRequest& req) {
  absl::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  std::shared_ptr<const router::Snapshot> snap = sources_.published();
  http::HttpResponse r;
  if (path == "/ready") {
    const bool draining = sources_.draining();
    std::string missing;
    if (snap != nullptr) {
      // Ready only when every routed cluster is warm (has its endpoints).
      for (const auto& vh : snap->virtual_hosts) {
        for (const auto& route : vh.routes) {
          if (snap->FindCluster(route.cluster) == nullptr) missing = route.cluster;
        }
      }
    }
    if (snap == nullptr || draining || !missing.empty()) {
      r.status = 503;
      r.body = draining          ? "draining\n"
               : snap == nullptr ? "no configuration received yet\n"
                                 : absl::StrCat("cluster \"", missing, "\" is not ready\n");
    } else {
      r.body = "ready\n";
    }
    return r;
  }
  if (path == "/stats") {
    r.content_type = metrics::kTextContentType;
    r.body = metrics_.Render();
    return r;
  }
  if (path == "/config_dump") {
    r.content_type = "application/json";
    r.body = ConfigDump(snap, sources_);
    return r;
  }
  r.status = 404;
  r.body = "admin endpoints: /ready /stats /config_dump\n";
  return r;
}

void AdminServer::Collect(metrics::SampleSink& sink) {
  // Sums over workers; each term is exact, the sum is a moment's view.
  auto sum = [this](auto get) {
    uint64_t total = 0;
    for (size_t i = 0; i < workers_.size(); ++i) {
      total += get(workers_.worker(i).stats()).load(std::memory_order_relaxed);
    }
    return total;
  };
#define LB_SUM(field) \
  sum([](const WorkerStats& s) -> const std::atomic<uint64_t>& { return s.field; })
  sink.Counter("lb_proxy_connections_accepted_total", "Client connections accepted.", {},
               LB_SUM(connections_accepted));
  sink.Gauge("lb_proxy_connections_active", "Open client connections.", {},
             LB_SUM(connections_active));
  sink.Gauge("lb_proxy_connections_idle",
             "Of those, HTTP/1 keep-alive connections parked between requests (their request "
             "state freed).",
             {}, LB_SUM(connections_idle));
  sink.Gauge("lb_proxy_connections_idle_warm",
             "Of the parked ones, plaintext connections kept whole until --idle_release_after "
             "(at most --idle_warm_max per worker); the others keep only their socket, or are TLS.",
             {}, LB_SUM(http.idle_warm));
  sink.Counter("lb_proxy_connections_handed_off_total",
               "Client connections accepted by one worker and served by a less loaded one.", {},
               LB_SUM(connections_handed_off));
  if (const ConnectionLimit* limit = workers_.connection_limit()) {
    sink.Gauge("lb_proxy_max_connections", "The cap on open client connections.", {},
               static_cast<double>(limit->max()));
  }
  const char* paused_help =
      "Times the listeners stopped accepting for a moment: at the connection cap, or out of "
      "descriptors.";
  sink.Counter("lb_proxy_accept_paused_total", paused_help, {{"reason", "max_connections"}},
               LB_SUM(accept_paused_max_connections));
  sink.Counter("lb_proxy_accept_paused_total", paused_help, {{"reason", "descriptors"}},
               LB_SUM(accept_paused_descriptors));
  for (size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = workers_.worker(i);
    sink.Gauge("lb_proxy_worker_connections_active", "Open client connections per worker.",
               {{"worker", absl::StrCat(w.index())}},
               w.stats().connections_active.load(std::memory_order_relaxed));
  }
  sink.Counter("lb_proxy_requests_total", "Requests received.", {}, LB_SUM(http.requests));
  sink.Gauge("lb_proxy_requests_active", "Requests in flight.", {}, LB_SUM(http.requests_active));
  const char* responses_help = "Responses sent, by status class.";
  sink.Counter("lb_proxy_responses_total", responses_help, {{"class", "2xx"}},
               LB_SUM(http.responses_2xx));
  sink.Counter("lb_proxy_responses_total", responses_help, {{"class", "3xx"}},
               LB_SUM(http.responses_3xx));
  sink.Counter("lb_proxy_responses_total", responses_help, {{"class", "4xx"}},
               LB_SUM(http.responses_4xx));
  sink.Counter("lb_proxy_responses_total", responses_help, {{"class", "5xx"}},
               LB_SUM(http.responses_5xx));
  sink.Counter("lb_proxy_local_replies_total", "Answers made by the proxy itself.", {},
               LB_SUM(http.local_replies));
  sink.Counter("lb_proxy_retries_total", "Attempts retried on another endpoint.", {},
               LB_SUM(router.retries));
  sink.Counter("lb_proxy_upstream_timeouts_total", "No upstream response head in time (504).", {},
               LB_SUM(router.upstream_timeouts));
  sink.Counter("lb_proxy_downstream_resets_total",
               "Clients that closed or broke the connection while their request was in progress.",
               {}, LB_SUM(http.downstream_resets));
  const char* timeouts_help = "Connections and streams cut by a timeout, by kind.";
  for (const auto& [kind, value] : std::vector<std::pair<const char*, uint64_t>>{
           {"request_header", LB_SUM(http.request_header_timeouts)},
           {"idle", LB_SUM(http.idle_timeouts)},
           {"stream_idle", LB_SUM(http.stream_idle_timeouts)},
           {"tunnel_idle", LB_SUM(http.tunnel_idle_timeouts)},
           {"upstream_head", LB_SUM(router.upstream_timeouts)},
           {"upstream_response", LB_SUM(router.upstream_response_timeouts)},
           {"grpc_timeout", LB_SUM(router.grpc_timeouts)},
           {"tls_handshake", tls::Stats().handshake_timeouts.load(std::memory_order_relaxed)}}) {
    sink.Counter("lb_proxy_timeouts_total", timeouts_help, {{"kind", kind}}, value);
  }
  const tls::TlsStats& tls_stats = tls::Stats();
  auto tls_counter = [&sink](const char* name, const char* help,
                             const std::atomic<uint64_t>& value) {
    sink.Counter(name, help, {}, value.load(std::memory_order_relaxed));
  };
  tls_counter("lb_proxy_tls_handshakes_total", "TLS handshakes completed (both directions).",
              tls_stats.handshakes);
  tls_counter("lb_proxy_tls_resumed_total", "Of those, resumed sessions (tickets).",
              tls_stats.resumed);
  tls_counter("lb_proxy_tls_handshake_errors_total", "TLS handshakes that failed.",
              tls_stats.handshake_errors);
  tls_counter("lb_proxy_tls_unrecognized_name_total",
              "TLS clients refused with unrecognized_name: no certificate for their SNI.",
              tls_stats.unrecognized_name);
  tls_counter("lb_proxy_tls_no_certificate_total",
              "TLS connections closed because no certificate was received yet.",
              tls_stats.no_certificate);
  tls_counter("lb_proxy_tls_verify_failures_total",
              "Upstream TLS certificates that failed verification.", tls_stats.verify_failures);
  tls_counter("lb_proxy_tls_connection_errors_total", "TLS errors after the handshake.",
              tls_stats.connection_errors);
  tls_counter("lb_proxy_tls_ocsp_staples_total", "Handshakes that carried an OCSP staple.",
              tls_stats.ocsp_staples);
  sink.Counter("lb_proxy_upstream_connects_total", "New upstream connections.", {},
               LB_SUM(pool.connects));
  sink.Counter("lb_proxy_upstream_reuses_total", "Requests sent on pooled connections.", {},
               LB_SUM(pool.reuses));
  sink.Counter("lb_proxy_upstream_connect_failures_total",
               "Upstream connects refused, unreachable or timed out.", {},
               LB_SUM(pool.connect_failures));
  sink.Counter("lb_proxy_upstream_local_failures_total",
               "Upstream connects this proxy could not start (out of descriptors or ports).", {},
               LB_SUM(pool.local_failures));
  sink.Counter("lb_proxy_health_checks_skipped_total",
               "Active health checks this proxy could not start (out of descriptors or ports); "
               "no verdict on the host.",
               {}, health::Stats().skipped.load(std::memory_order_relaxed));
  for (const auto& [result, value] :
       {std::pair<const char*, const std::atomic<uint64_t>&>{"pass", health::Stats().passed},
        {"fail", health::Stats().failed}}) {
    sink.Counter("lb_proxy_health_checks_total",
                 "Active health checks that ended with a verdict on the host.",
                 {{"result", result}}, value.load(std::memory_order_relaxed));
  }
  sink.Counter("lb_proxy_upstream_http2_connections_full_total",
               "HTTP/2 upstream connections opened because every open one carried its most "
               "concurrent streams (--upstream_http2_max_concurrent_streams or the peer's).",
               {}, LB_SUM(pool.http2_connections_full));
  sink.Counter("lb_proxy_upstream_http2_goaways_total",
               "GOAWAY frames received from HTTP/2 upstreams.", {}, LB_SUM(pool.http2_goaways));
  sink.Counter("lb_proxy_upstream_refused_not_replayed_total",
               "HTTP/2 streams the upstream did not process, not retried because their body was "
               "over --upstream_replay_buffer_bytes.",
               {}, LB_SUM(router.refused_not_replayed));
  sink.Counter("lb_proxy_retries_refused_total",
               "Retries after a connect timeout refused by the worker's retry budget.", {},
               LB_SUM(router.retries_refused));
  sink.Counter("lb_proxy_http2_connections_total", "Client connections that speak HTTP/2.", {},
               LB_SUM(http.http2.connections));
  sink.Counter("lb_proxy_http2_streams_total", "HTTP/2 request streams opened by clients.", {},
               LB_SUM(http.http2.streams));
  sink.Counter("lb_proxy_http2_premature_resets_total",
               "HTTP/2 streams the client reset before their response began.", {},
               LB_SUM(http.http2.premature_resets));
  sink.Counter("lb_proxy_http2_refused_streams_total",
               "HTTP/2 streams refused over --http2_max_concurrent_streams.", {},
               LB_SUM(http.http2.refused_streams));
  sink.Counter("lb_proxy_http2_protocol_errors_total",
               "HTTP/2 connections ended for a protocol error of the client.", {},
               LB_SUM(http.http2.protocol_errors));
  sink.Counter("lb_proxy_http2_drain_goaways_total",
               "HTTP/2 connections sent GOAWAY NO_ERROR on drain.", {},
               LB_SUM(http.http2.graceful_goaways));
  const char* h2_limit_help = "HTTP/2 limits hit: streams reset or connections ended, by flag.";
  for (const auto& [limit, value] : std::vector<std::pair<const char*, uint64_t>>{
           {"http2_max_header_list_bytes", LB_SUM(http.http2.header_list_too_large)},
           {"http2_max_premature_resets_per_second", LB_SUM(http.http2.rapid_reset)},
           {"http2_max_consecutive_empty_frames", LB_SUM(http.http2.empty_frames)},
           {"http2_max_outbound_control_frames", LB_SUM(http.http2.control_flood)}}) {
    sink.Counter("lb_proxy_http2_limit_exceeded_total", h2_limit_help, {{"limit", limit}}, value);
  }
#undef LB_SUM
  if (const accesslog::AccessLog* log = sources_.access_log) {
    sink.Counter("lb_proxy_access_log_lines_total", "Access log lines queued for writing.", {},
                 log->lines());
    sink.Counter("lb_proxy_access_log_dropped_total",
                 "Access log lines dropped: the writer was behind by --access_log_buffer_bytes.",
                 {}, log->dropped());
    sink.Counter("lb_proxy_access_log_write_errors_total",
                 "Failed writes (or reopens) of the access log.", {}, log->write_errors());
  }
  upstream::LatencySummary latency;
  for (size_t i = 0; i < workers_.size(); ++i) {
    latency.Add(workers_.worker(i).stats().http.request_latency);
  }
  sink.Histogram("lb_proxy_request_duration_seconds",
                 "From a request's head to the end of its response.", {}, latency.bounds_seconds,
                 latency.counts, latency.sum_seconds);

  std::shared_ptr<const router::Snapshot> snap = sources_.published();
  sink.Gauge("lb_proxy_config_generation", "Snapshots published.", {},
             snap == nullptr ? 0 : static_cast<double>(snap->generation));
  if (snap == nullptr) return;
  for (const auto& [name, cs] : snap->clusters) {
    if (cs->stats != nullptr) {
      for (int c = 1; c <= 5; ++c) {
        sink.Counter("lb_proxy_cluster_responses_total",
                     "Responses for requests routed to the cluster (upstream and proxy-made), by "
                     "status class.",
                     {{"cluster", name}, {"class", absl::StrCat(c, "xx")}},
                     cs->stats->responses(c));
      }
      const upstream::ClusterResources& res = cs->stats->resources();
      for (const auto& [limit, r] :
           std::vector<std::pair<const char*, const upstream::ResourceLimit*>>{
               {"connections", &res.connections},
               {"pending_requests", &res.pending_requests},
               {"requests", &res.requests},
               {"retries", &res.retries}}) {
        metrics::Labels labels = {{"cluster", name}, {"limit", limit}};
        sink.Gauge("lb_proxy_cluster_resources_in_use",
                   "In use against the cluster's circuit breaker, by limit.", labels,
                   static_cast<double>(r->count()));
        sink.Gauge("lb_proxy_cluster_resources_max",
                   "The cluster's circuit breaker thresholds, by limit.", labels,
                   static_cast<double>(r->max()));
        sink.Counter("lb_proxy_cluster_overflow_total",
                     "Requests refused (503) or retries not made at the cluster's circuit breaker, "
                     "by limit.",
                     labels, r->overflows());
      }
      upstream::LatencySummary l = cs->stats->latency();
      sink.Histogram("lb_proxy_cluster_request_duration_seconds",
                     "From routing a request to the cluster to the end of its response.",
                     {{"cluster", name}}, l.bounds_seconds, l.counts, l.sum_seconds);
    }
    for (size_t i = 0; i < cs->hosts.size(); ++i) {
      metrics::Labels labels = {{"cluster", name}, {"endpoint", cs->hosts[i]->key}};
      sink.Counter("lb_proxy_upstream_requests_total", "Attempts per endpoint.", labels,
                   cs->hosts[i]->requests());
      sink.Counter("lb_proxy_upstream_failures_total", "Failed attempts per endpoint.", labels,
                   cs->hosts[i]->failures());
      sink.Gauge("lb_proxy_upstream_eligible", "Endpoint takes new requests (1) or not (0).",
                 labels, cs->views[i].eligible ? 1 : 0);
    }
  }
}

}  // namespace lb::proxy
