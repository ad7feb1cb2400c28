// The controller binary: parses flags, starts the Controller, waits for SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "common/process/secret_file.h"
#include "common/process/stop_signals.h"
#include "common/process/usage.h"
#include "controller/server/controller.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:18000",
          "lb.v1 API, xDS (ADS), health and reflection; host:port, [v6]:port");
ABSL_FLAG(std::string, rest_listen, "127.0.0.1:9091",
          "REST: the seed's /config API, /v1 resources, /healthz, /readyz, /metrics");
ABSL_FLAG(std::string, store, "sqlite",
          "sqlite (embedded, in --data_dir) or etcd (--etcd_endpoints; several controllers may "
          "share it)");
ABSL_FLAG(std::string, data_dir, "lb-data", "Directory of the embedded store (created if missing)");
ABSL_FLAG(std::vector<std::string>, etcd_endpoints, {},
          "--store=etcd: client addresses of the etcd members, host:port[,host:port...]");
ABSL_FLAG(std::string, etcd_prefix, "/lb/", "--store=etcd: every key is stored under this prefix");
ABSL_FLAG(std::string, etcd_ca, "", "--store=etcd: CA bundle to verify etcd's certificates (TLS)");
ABSL_FLAG(std::string, etcd_cert, "",
          "--store=etcd: client certificate for etcd (with --etcd_key)");
ABSL_FLAG(std::string, etcd_key, "", "--store=etcd: client certificate's private key");
ABSL_FLAG(std::string, etcd_user, "", "--store=etcd: etcd user (with --etcd_password_file)");
ABSL_FLAG(std::string, etcd_password_file, "",
          "--store=etcd: file holding the etcd user's password (not readable by others)");
ABSL_FLAG(absl::Duration, etcd_request_timeout, absl::Seconds(5),
          "--store=etcd: deadline of each etcd call");
ABSL_FLAG(int64_t, history_max_revisions, lb::store::HistoryCompactor::Options().max_revisions,
          "Revisions of store history kept for watch resumption (both stores); older ones are "
          "compacted");
ABSL_FLAG(absl::Duration, history_max_age, lb::store::HistoryCompactor::Options().max_age,
          "Store history older than this is compacted (checked every minute)");
ABSL_FLAG(absl::Duration, fleet_publish_interval, absl::Seconds(5),
          "--store=etcd: how often this controller publishes its proxies for the others' "
          "/v1/proxies");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token that every mutating call must present");
ABSL_FLAG(std::string, ready_file, "",
          "Written with {\"grpc_port\",\"rest_port\",\"pid\"} once serving (for scripts/tests)");
ABSL_FLAG(absl::Duration, dns_refresh, absl::Seconds(30),
          "How often hostname endpoints are re-resolved");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(absl::Duration, tls_ticket_key_rotation, absl::Hours(1),
          "How often the proxies' shared TLS session ticket keys rotate (3 are kept)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the gRPC and REST listeners; with --tls_key: TLS on both");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, client_ca, "",
          "PEM CA bundle: gRPC and REST clients must present a certificate it issued (mTLS)");

// Kubernetes (docs/kubernetes.md, "Running with --kubernetes"); defaults from KubernetesOptions.
namespace {
const lb::controller::KubernetesOptions kKubeDefaults;
}  // namespace
ABSL_FLAG(bool, kubernetes, false,
          "Follow a Kubernetes cluster: Services, EndpointSlices, Ingresses, Secrets, Gateway API "
          "Gateways and HTTPRoutes become clusters, routes and certificates owned by kubernetes");
ABSL_FLAG(std::string, kubeconfig, "",
          "--kubernetes: kubeconfig file (its current context); empty: the pod's service account");
ABSL_FLAG(bool, kubernetes_allow_insecure_skip_tls_verify, false,
          "--kubernetes: accept a kubeconfig cluster with insecure-skip-tls-verify (the API "
          "server's identity is then not checked)");
ABSL_FLAG(std::string, ingress_class, kKubeDefaults.sync.translate.ingress_class,
          "--kubernetes: the IngressClass (ingressClassName) this load balancer serves");
ABSL_FLAG(std::string, gateway_class, kKubeDefaults.sync.translate.gateway_class,
          "--kubernetes: the GatewayClass whose Gateways' HTTPRoutes this load balancer serves");
ABSL_FLAG(std::string, gateway_controller_name,
          kKubeDefaults.sync.translate.gateway_controller_name,
          "--kubernetes: controllerName of our GatewayClass, written in HTTPRoute status");
ABSL_FLAG(std::vector<std::string>, ingress_status_address, {},
          "--kubernetes: IPs or hostnames written to Ingress status.loadBalancer (comma list)");
ABSL_FLAG(absl::Duration, kubernetes_resync_backoff_max, kKubeDefaults.sync.reflector.backoff_max,
          "--kubernetes: longest wait between retries of a failed list or watch");
ABSL_FLAG(uint64_t, kubernetes_max_objects, kKubeDefaults.sync.max_objects,
          "--kubernetes: Kubernetes objects held, all kinds together; more are refused");
ABSL_FLAG(uint64_t, kubernetes_max_event_bytes, kKubeDefaults.transport.max_event_bytes,
          "--kubernetes: largest watch event (one object); a larger one restarts the watch");

// Limits (docs/architecture.md, "Limits"); defaults from ControllerLimits.
namespace {
const lb::controller::ControllerLimits kDefaults;
}  // namespace
ABSL_FLAG(uint64_t, xds_max_streams, kDefaults.xds.max_streams,
          "Concurrent ADS streams; more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(uint64_t, xds_max_names_per_stream, kDefaults.xds.stream.max_names,
          "Resource names one ADS stream may subscribe to, all types together");
ABSL_FLAG(uint64_t, xds_max_name_bytes_per_stream, kDefaults.xds.stream.max_name_bytes,
          "Bytes of the resource names one ADS stream may subscribe to");
ABSL_FLAG(uint64_t, xds_max_queued_bytes_per_stream, kDefaults.xds.max_queued_bytes,
          "Bytes of responses queued for an ADS stream that does not read; then it is cut off");
ABSL_FLAG(uint64_t, watch_max_streams, kDefaults.watch.max_watchers,
          "Concurrent WatchChanges streams; more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(uint64_t, watch_max_queued_bytes, kDefaults.watch.max_queued_bytes,
          "Bytes of changes a WatchChanges stream may fall behind before it is cut off");
ABSL_FLAG(int32_t, grpc_max_receive_bytes, kDefaults.grpc_max_receive_bytes,
          "Largest gRPC request message (lb.v1 and ADS)");
ABSL_FLAG(absl::Duration, grpc_min_ping_interval, kDefaults.grpc_min_ping_interval,
          "Clients pinging more often (thrice) get GOAWAY ENHANCE_YOUR_CALM");
ABSL_FLAG(absl::Duration, grpc_keepalive_time, kDefaults.grpc_keepalive_time,
          "How often the controller pings each gRPC connection");
ABSL_FLAG(absl::Duration, grpc_keepalive_timeout, kDefaults.grpc_keepalive_timeout,
          "A connection whose ping is not answered within this is closed");
ABSL_FLAG(absl::Duration, grpc_max_connection_idle, kDefaults.grpc_max_connection_idle,
          "A gRPC connection without calls for this long is closed");
ABSL_FLAG(absl::Duration, grpc_max_connection_age, kDefaults.grpc_max_connection_age,
          "gRPC connections are closed at this age (inf: never)");
ABSL_FLAG(absl::Duration, grpc_max_connection_age_grace, kDefaults.grpc_max_connection_age_grace,
          "Time calls get to finish on a connection closed for its age");
ABSL_FLAG(int32_t, rest_max_connections, kDefaults.rest.max_connections,
          "Open REST connections; at the cap the listener waits for one to close");
ABSL_FLAG(absl::Duration, rest_idle_timeout, kDefaults.rest.idle_timeout,
          "A REST connection making no progress for this long is closed");
ABSL_FLAG(absl::Duration, rest_request_timeout, kDefaults.rest.request_timeout,
          "Each REST request must arrive whole within this (from accept or the last answer)");
ABSL_FLAG(int32_t, dns_parallelism, kDefaults.dns.parallelism,
          "Hostname resolutions running at once");
ABSL_FLAG(absl::Duration, dns_timeout, kDefaults.dns.timeout,
          "A hostname not resolved within this keeps its last good addresses");
ABSL_FLAG(uint64_t, dns_max_addresses_per_host, kDefaults.dns.max_addresses_per_host,
          "Addresses kept per hostname (they count against the cluster's endpoint limit)");
ABSL_FLAG(absl::Duration, lrs_interval, kDefaults.lrs.interval,
          "Load Reporting Service: how often clients report (gRPC clients: at most once a second)");
ABSL_FLAG(bool, lrs_in_cds, true,
          "Name this controller as the LRS server in gRPC clients' Clusters, so they report load");
ABSL_FLAG(uint64_t, lrs_max_streams, kDefaults.lrs.max_streams,
          "Concurrent LRS streams (reporters); more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(uint64_t, lrs_max_clusters_per_report, kDefaults.lrs.max_clusters_per_report,
          "ClusterStats in one load report; more end the stream with RESOURCE_EXHAUSTED");
ABSL_FLAG(uint64_t, lrs_max_endpoints_per_report, kDefaults.lrs.max_endpoints_per_report,
          "Endpoint entries in one load report; more end the stream with RESOURCE_EXHAUSTED");
ABSL_FLAG(uint64_t, lrs_max_report_bytes, kDefaults.lrs.max_report_bytes,
          "Bytes of one load report; more end the stream with RESOURCE_EXHAUSTED");
ABSL_FLAG(absl::Duration, lrs_window, kDefaults.lrs_aggregator.window,
          "Load reports older than this leave the aggregate (rates, health per proxy)");
ABSL_FLAG(uint64_t, lrs_max_series, kDefaults.lrs_aggregator.max_series,
          "(reporter, cluster, endpoint) series kept; new ones beyond it are dropped");
ABSL_FLAG(uint64_t, lrs_max_metric_endpoints, kDefaults.lrs_aggregator.max_metric_endpoints,
          "(cluster, endpoint) pairs with load gauges on /metrics");

ABSL_FLAG(uint64_t, ui_stream_max_clients, kDefaults.ui_stream.max_clients,
          "Web console event streams (/v1/stream) open at once; more get 503");
ABSL_FLAG(uint64_t, ui_stream_max_queued_bytes, kDefaults.ui_stream.max_queued_bytes,
          "Bytes of events a console stream may fall behind before it is dropped");
ABSL_FLAG(absl::Duration, ui_stream_tick_interval, kDefaults.ui_stream.tick_interval,
          "How often console streams get a tick (proxies digest, heartbeat)");

int main(int argc, char** argv) {
  lb::process::SetProgramUsage(
      "The load balancer's controller.\n  controller [--grpc_listen=127.0.0.1:18000] "
      "[--rest_listen=127.0.0.1:9091] [--data_dir=lb-data] [--auth_token_file=FILE]",
      "controller/");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil checks every mutex acquisition for lock-order cycles; that costs a few
  // percent on gRPC's and our hot locks. Tests still run with the default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  // Before any thread starts; main waits for the stop signal below.
  lb::process::StopSignals stop;

  lb::controller::ControllerOptions options;
  options.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  options.rest_listen = absl::GetFlag(FLAGS_rest_listen);
  options.store = absl::GetFlag(FLAGS_store);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.etcd.endpoints = absl::GetFlag(FLAGS_etcd_endpoints);
  options.etcd.prefix = absl::GetFlag(FLAGS_etcd_prefix);
  options.etcd.ca_file = absl::GetFlag(FLAGS_etcd_ca);
  options.etcd.cert_file = absl::GetFlag(FLAGS_etcd_cert);
  options.etcd.key_file = absl::GetFlag(FLAGS_etcd_key);
  options.etcd.username = absl::GetFlag(FLAGS_etcd_user);
  options.etcd.request_timeout = absl::GetFlag(FLAGS_etcd_request_timeout);
  options.history.max_revisions = absl::GetFlag(FLAGS_history_max_revisions);
  options.history.max_age = absl::GetFlag(FLAGS_history_max_age);
  options.fleet_publish_interval = absl::GetFlag(FLAGS_fleet_publish_interval);
  if (const std::string path = absl::GetFlag(FLAGS_etcd_password_file); !path.empty()) {
    absl::StatusOr<std::string> password = lb::process::ReadSecretFile(path);
    if (!password.ok()) {
      std::fprintf(stderr, "controller: --etcd_password_file: %s\n",
                   std::string(password.status().message()).c_str());
      return 1;
    }
    options.etcd.password = *password;
  }
  options.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  options.ready_file = absl::GetFlag(FLAGS_ready_file);
  options.dns_refresh_interval = absl::GetFlag(FLAGS_dns_refresh);
  options.tls_ticket_key_rotation = absl::GetFlag(FLAGS_tls_ticket_key_rotation);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_client_ca);
  lb::controller::ControllerLimits& limits = options.limits;
  limits.xds.max_streams = absl::GetFlag(FLAGS_xds_max_streams);
  limits.xds.stream.max_names = absl::GetFlag(FLAGS_xds_max_names_per_stream);
  limits.xds.stream.max_name_bytes = absl::GetFlag(FLAGS_xds_max_name_bytes_per_stream);
  limits.xds.max_queued_bytes = absl::GetFlag(FLAGS_xds_max_queued_bytes_per_stream);
  limits.watch.max_watchers = absl::GetFlag(FLAGS_watch_max_streams);
  limits.watch.max_queued_bytes = absl::GetFlag(FLAGS_watch_max_queued_bytes);
  limits.grpc_max_receive_bytes = absl::GetFlag(FLAGS_grpc_max_receive_bytes);
  limits.grpc_min_ping_interval = absl::GetFlag(FLAGS_grpc_min_ping_interval);
  limits.grpc_keepalive_time = absl::GetFlag(FLAGS_grpc_keepalive_time);
  limits.grpc_keepalive_timeout = absl::GetFlag(FLAGS_grpc_keepalive_timeout);
  limits.grpc_max_connection_idle = absl::GetFlag(FLAGS_grpc_max_connection_idle);
  limits.grpc_max_connection_age = absl::GetFlag(FLAGS_grpc_max_connection_age);
  limits.grpc_max_connection_age_grace = absl::GetFlag(FLAGS_grpc_max_connection_age_grace);
  limits.rest.max_connections = absl::GetFlag(FLAGS_rest_max_connections);
  limits.rest.idle_timeout = absl::GetFlag(FLAGS_rest_idle_timeout);
  limits.rest.request_timeout = absl::GetFlag(FLAGS_rest_request_timeout);
  limits.dns.parallelism = absl::GetFlag(FLAGS_dns_parallelism);
  limits.dns.timeout = absl::GetFlag(FLAGS_dns_timeout);
  limits.dns.max_addresses_per_host = absl::GetFlag(FLAGS_dns_max_addresses_per_host);
  limits.lrs.interval = absl::GetFlag(FLAGS_lrs_interval);
  limits.lrs.max_streams = absl::GetFlag(FLAGS_lrs_max_streams);
  limits.lrs.max_clusters_per_report = absl::GetFlag(FLAGS_lrs_max_clusters_per_report);
  limits.lrs.max_endpoints_per_report = absl::GetFlag(FLAGS_lrs_max_endpoints_per_report);
  limits.lrs.max_report_bytes = absl::GetFlag(FLAGS_lrs_max_report_bytes);
  limits.lrs_aggregator.window = absl::GetFlag(FLAGS_lrs_window);
  limits.lrs_aggregator.max_series = absl::GetFlag(FLAGS_lrs_max_series);
  limits.lrs_aggregator.max_metric_endpoints = absl::GetFlag(FLAGS_lrs_max_metric_endpoints);
  options.lrs_in_cds = absl::GetFlag(FLAGS_lrs_in_cds);
  limits.ui_stream.max_clients = absl::GetFlag(FLAGS_ui_stream_max_clients);
  limits.ui_stream.max_queued_bytes = absl::GetFlag(FLAGS_ui_stream_max_queued_bytes);
  limits.ui_stream.tick_interval = absl::GetFlag(FLAGS_ui_stream_tick_interval);
  lb::controller::KubernetesOptions& kube = options.kubernetes;
  kube.enabled = absl::GetFlag(FLAGS_kubernetes);
  kube.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  kube.allow_insecure_skip_tls_verify =
      absl::GetFlag(FLAGS_kubernetes_allow_insecure_skip_tls_verify);
  kube.sync.translate.ingress_class = absl::GetFlag(FLAGS_ingress_class);
  kube.sync.translate.gateway_class = absl::GetFlag(FLAGS_gateway_class);
  kube.sync.translate.gateway_controller_name = absl::GetFlag(FLAGS_gateway_controller_name);
  kube.sync.translate.ingress_status_addresses = absl::GetFlag(FLAGS_ingress_status_address);
  kube.sync.reflector.backoff_max = absl::GetFlag(FLAGS_kubernetes_resync_backoff_max);
  kube.sync.max_objects = absl::GetFlag(FLAGS_kubernetes_max_objects);
  kube.transport.max_event_bytes = absl::GetFlag(FLAGS_kubernetes_max_event_bytes);
  absl::StatusOr<std::unique_ptr<lb::controller::Controller>> controller =
      lb::controller::Controller::Start(options);
  if (!controller.ok()) {
    std::fprintf(stderr, "controller: %s\n", std::string(controller.status().ToString()).c_str());
    return 1;
  }
  int signo = stop.Wait();
  spdlog::info("controller: signal {}, shutting down", signo);
  (*controller)->Shutdown();
  return 0;
}
