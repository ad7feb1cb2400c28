// The proxy's admin API on its own thread (evhttp):
//   /ready        200 "ready" once a snapshot is served and every routed cluster has its
//                 endpoints; 503 with the reason otherwise (and while draining)
//   /stats        Prometheus text: connections, requests, responses, retries, upstream
//                 connections, per-endpoint attempts/failures/eligibility (common/metrics)
//   /config_dump  JSON: routes, clusters and endpoints with health and counters, and the ADS
//                 client's state
// It reads only published, immutable data and atomics.
#ifndef LB_PROXY_SERVER_ADMIN_SERVER_H_
#define LB_PROXY_SERVER_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/http/evhttp_server.h"
#include "common/http/http_types.h"
#include "common/metrics/metrics.h"
#include "proxy/accesslog/access_log.h"
#include "proxy/router/snapshot.h"
#include "proxy/server/worker_set.h"
#include "proxy/xds/ads_status.h"

namespace lb::proxy {

// What the admin API shows. Each function may be called from the admin thread at any time.
struct AdminSources {
  std::function<std::shared_ptr<const router::Snapshot>()> published;
  std::function<bool()> draining;
  std::function<xds::AdsClientStatus()> xds_status;  // Null: no config source to show.
  const accesslog::AccessLog* access_log = nullptr;  // Null: no access log; else outlives us.
};

class AdminServer {
 public:
  // `workers` must outlive the server.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& listen,
                                                            const WorkerSet& workers,
                                                            AdminSources sources);
  ~AdminServer();

  int port() const { return http_->port(); }
  // Answers one request (what the HTTP server calls; tests call it directly).
  http::HttpResponse Handle(const http::HttpRequest& request);

 private:
  AdminServer(const WorkerSet& workers, AdminSources sources);
  void Collect(metrics::SampleSink& sink);

  const WorkerSet& workers_;
  AdminSources sources_;
  metrics::Registry metrics_;
  std::unique_ptr<http::EvhttpServer> http_;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_ADMIN_SERVER_H_
