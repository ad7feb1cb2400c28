// Wires the controller together: store, registry, hostname resolution, the lb.v1 gRPC service
// (plus grpc.health.v1 and reflection) and the REST API.
#ifndef LB_CONTROLLER_SERVER_CONTROLLER_H_
#define LB_CONTROLLER_SERVER_CONTROLLER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/evhttp_server.h"
#include "common/time/clock.h"
#include "controller/api/change_feed.h"
#include "controller/dns/hostname_cache.h"
#include "controller/kubernetes/curl_transport.h"
#include "controller/kubernetes/sync.h"
#include "controller/lrs/load_aggregator.h"
#include "controller/lrs/lrs_service.h"
#include "controller/server/tls_config.h"
#include "controller/store/etcd_store.h"
#include "controller/store/history_compactor.h"
#include "controller/ui/event_hub.h"
#include "controller/xds/xds_server.h"

namespace lb::controller {

// Every bound of the controller; each is a flag of controller/main.cc with the same default,
// documented in docs/architecture.md ("Limits") and counted in
// lb_controller_limit_exceeded_total{limit=FLAG}.
struct ControllerLimits {
  xds::XdsLimits xds;
  api::ChangeFeed::Limits watch;
  // gRPC: largest request message (--grpc_max_receive_bytes): gRPC's own default, 4 MiB. The
  // largest legitimate request is a cluster sent whole (CreateCluster, UpdateCluster): 10,000
  // endpoints (the model's cap) at up to ~400 bytes each; larger ones are built with AddEndpoint.
  // An ADS request at the name limits (10,000 names, 1 MiB) fits as well.
  int grpc_max_receive_bytes = 4 << 20;
  // Keepalive enforcement: clients may ping this often at most, even without calls
  // (--grpc_min_ping_interval); more often is answered with GOAWAY ENHANCE_YOUR_CALM after two
  // strikes (gRPC's rule). A ping a second costs nothing, and a client configured to ping that
  // often (the proxy's default is every 10 s) must not be sent away and flap between
  // controllers; floods are still refused.
  absl::Duration grpc_min_ping_interval = absl::Seconds(1);
  // The controller pings each connection this often and closes it when a ping is not answered
  // within the timeout, so streams of a vanished peer end (--grpc_keepalive_time,
  // --grpc_keepalive_timeout).
  absl::Duration grpc_keepalive_time = absl::Seconds(30);
  absl::Duration grpc_keepalive_timeout = absl::Seconds(10);
  // A connection without calls for this long is closed (--grpc_max_connection_idle).
  absl::Duration grpc_max_connection_idle = absl::Minutes(10);
  // Connections are closed (GOAWAY, then forcibly after the grace) at this age; infinite: never
  // (--grpc_max_connection_age, --grpc_max_connection_age_grace).
  absl::Duration grpc_max_connection_age = absl::InfiniteDuration();
  absl::Duration grpc_max_connection_age_grace = absl::Seconds(30);
  http::EvhttpServer::Limits rest;
  dns::HostnameCache::Limits dns;
  // The Load Reporting Service (docs/lrs.md): its interval and per-stream bounds, and what the
  // aggregator keeps.
  lrs::LrsOptions lrs;
  lrs::AggregatorLimits lrs_aggregator;
  // The web console's event streams (--ui_stream_max_clients, --ui_stream_max_queued_bytes,
  // --ui_stream_tick_interval); each stream also holds one REST connection.
  ui::EventHub::Limits ui_stream;
};

// --kubernetes: follow a Kubernetes cluster (docs/kubernetes.md, "Running with --kubernetes").
struct KubernetesOptions {
  bool enabled = false;
  std::string kubeconfig;  // Empty: the pod's service account (in-cluster).
  bool allow_insecure_skip_tls_verify = false;
  std::string service_account_dir = kubernetes::kServiceAccountDir;
  kubernetes::CurlTransportOptions transport;
  kubernetes::SyncOptions sync;
};

struct ControllerOptions {
  std::string grpc_listen = "127.0.0.1:18000";
  std::string rest_listen = "127.0.0.1:9091";
  // "sqlite": the embedded store in data_dir. "etcd": the etcd cluster of `etcd`, shared with
  // any number of other controllers (docs/etcd.md).
  std::string store = "sqlite";
  std::string data_dir = "lb-data";  // Created if missing; holds lb.db (SQLite, WAL).
  store::EtcdStore::Options etcd;
  // Watch history kept by either store (--history_max_revisions, --history_max_age).
  store::HistoryCompactor::Options history;
  // With --store=etcd: how often this controller publishes its proxies for the others'
  // /v1/proxies (an entry not refreshed for 4 intervals is not listed).
  absl::Duration fleet_publish_interval = absl::Seconds(5);
  std::string auth_token_file;  // Empty: no auth.
  // If set, written atomically once both listeners are up:
  // {"grpc_port":N,"rest_port":M,"pid":P}.
  std::string ready_file;
  absl::Duration dns_refresh_interval = absl::Seconds(30);
  // How often the session ticket keys rotate (--tls_ticket_key_rotation).
  absl::Duration tls_ticket_key_rotation = absl::Hours(1);
  ControllerTls tls;
  // Name this controller as the LRS server (lrs_server: {self: {}}) in the Clusters gRPC
  // clients get, so gRPC's own xDS clients report their load (--lrs_in_cds).
  bool lrs_in_cds = true;
  // Every timer and timestamp of the controller reads this clock (tests pass a simulated one).
  // Must outlive the controller.
  Clock* clock = Clock::Real();
  ControllerLimits limits;
  KubernetesOptions kubernetes;
};

class Controller {
 public:
  // Opens the store, bootstraps defaults on first start and starts serving.
  static absl::StatusOr<std::unique_ptr<Controller>> Start(const ControllerOptions& options);
  virtual ~Controller() = default;

  virtual int grpc_port() const = 0;
  virtual int rest_port() const = 0;

  // Stops serving: open streams end, in-flight calls finish. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace lb::controller

#endif  // LB_CONTROLLER_SERVER_CONTROLLER_H_
