// The main thread's view of upstreams: it turns configuration, active health checks and
// outlier reports into routing snapshots and installs them on every worker.
//
// Hosts keep their identity (and counters) across snapshots while the endpoint stays
// configured; an endpoint that leaves is marked `removed` so workers close its pooled
// connections, while requests in flight on it finish.
//
// Threading: the main dispatcher's thread only, after construction (which may happen on any
// thread before the loop runs). `on_published` runs there too, once every worker serves with
// the snapshot it announces.
#ifndef LB_PROXY_SERVER_CLUSTER_MANAGER_H_
#define LB_PROXY_SERVER_CLUSTER_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "proxy/balancer/balancer.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/health/active_checker.h"
#include "proxy/health/health_state.h"
#include "proxy/router/router.h"
#include "proxy/router/snapshot.h"
#include "proxy/server/worker_set.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/cluster_stats.h"
#include "proxy/upstream/host.h"

namespace lb::proxy {

class ClusterManager {
 public:
  using Published = std::function<void(std::shared_ptr<const router::Snapshot>)>;

  // `main` and `workers` must outlive the manager.
  ClusterManager(event::Dispatcher& main, WorkerSet& workers, Published on_published);
  ~ClusterManager();

  // Starts active health checks and the outlier detectors' clock.
  void Start();
  // The configuration to serve from now on.
  void SetConfig(std::shared_ptr<const ProxyConfig> config);
  // An attempt's outcome, reported by a worker.
  void OnResult(const std::shared_ptr<upstream::HostState>& host, router::UpstreamResult result);

 private:
  // Event log lines for endpoints added, removed, drained and undrained by a new config.
  static void LogEndpointChanges(const ProxyConfig* before, const ProxyConfig& after);
  void ScheduleRebuild();
  void Rebuild();
  void OnTick();

  event::Dispatcher& main_;
  WorkerSet& workers_;
  const Published on_published_;
  std::shared_ptr<const ProxyConfig> config_;
  std::unique_ptr<health::ActiveChecker> checker_;
  std::map<std::string, std::unique_ptr<health::OutlierDetector>> detectors_;
  // (cluster, "ip:port") -> host, for the endpoints of the current config.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<upstream::HostState>> hosts_;
  // Per cluster, kept while the cluster is configured (snapshots share them).
  std::map<std::string, std::shared_ptr<upstream::ClusterStats>> cluster_stats_;
  // TLS contexts, rebuilt only when their settings change (existing connections keep theirs).
  std::shared_ptr<const TlsListenerConfig> tls_listener_config_;
  std::shared_ptr<const tls::ServerContext> tls_server_;
  struct ClientTls {
    std::shared_ptr<const UpstreamTlsConfig> config;
    std::shared_ptr<const tls::ClientContext> context;
  };
  std::map<std::string, ClientTls> client_tls_;  // By cluster.
  // Hosts of clusters with a slow start window; while one ramps, the tick rebuilds each second.
  balancer::SlowStartTracker slow_start_;
  std::unique_ptr<event::Timer> tick_;
  uint64_t generation_ = 0;
  bool rebuild_pending_ = false;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_CLUSTER_MANAGER_H_
