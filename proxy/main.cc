// The proxy binary: flags, the ADS client, the ProxyServer, and SIGTERM/SIGINT handling.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net/address.h"
#include "common/process/fd_limit.h"
#include "common/process/ready_file.h"
#include "common/process/stop_signals.h"
#include "common/process/usage.h"
#include "proxy/accesslog/access_log.h"
#include "proxy/http/http2_codec.h"
#include "proxy/server/proxy_server.h"
#include "proxy/xds/ads_client.h"
#include "proxy/xds/grpc_xds_transport.h"
#include "proxy/xds/lrs_client.h"

ABSL_FLAG(std::string, controller, "127.0.0.1:18000",
          "Controller address(es), comma-separated, tried in turn");
ABSL_FLAG(std::string, listen, "0.0.0.0:8080", "Where clients connect (host:port)");
ABSL_FLAG(std::string, tls_listen, "",
          "TLS listener (host:port, e.g. 0.0.0.0:8443); empty: none. Its certificates come from "
          "the controller (Listener lb.ingress.https and its Secrets); until one arrives, "
          "connections to it are closed at once (lb_proxy_tls_no_certificate_total)");
ABSL_FLAG(absl::Duration, tls_handshake_timeout, absl::Seconds(10),
          "A TLS client that has not finished its handshake within this is disconnected");
ABSL_FLAG(int, https_port, 443,
          "The port written in https redirects' Location (left out when 443)");
ABSL_FLAG(std::string, admin_listen, "127.0.0.1:9901", "Admin API: /ready /stats /config_dump");
ABSL_FLAG(int, workers, 0, "Worker threads (0: one per core)");
ABSL_FLAG(bool, balance_connections, true,
          "Spread open client connections evenly over the workers (false: the kernel's "
          "SO_REUSEPORT hash decides)");
ABSL_FLAG(bool, share_listen_port, false,
          "Join a --listen port that another process already listens on (SO_REUSEPORT), e.g. "
          "to take over from an old process without refusing connections; without it such a "
          "port is an error");
ABSL_FLAG(std::string, node_id, "", "Node id sent to the controller (default: hostname)");
ABSL_FLAG(std::string, zone, "", "Zone of this proxy (reported to the controller)");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(15),
          "On SIGTERM, how long in-flight requests may take to finish");
ABSL_FLAG(absl::Duration, upstream_timeout, absl::Seconds(15),
          "No response head from the upstream within this: 504");
ABSL_FLAG(absl::Duration, request_header_timeout, absl::Seconds(10),
          "Request headers not complete within this: 408");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(60), "Idle client keep-alive timeout");
ABSL_FLAG(absl::Duration, idle_release_after, absl::Seconds(1),
          "An HTTP/1 keep-alive connection idle this long frees its request state (connection "
          "manager, codec, timers), keeping only its socket and a small record until "
          "--idle_timeout; 0: at once");
ABSL_FLAG(uint64_t, idle_release_above, 64,
          "When a worker holds more than this many connection managers (busy or idle), an "
          "idle HTTP/1 connection frees its request state at once rather than after "
          "--idle_release_after");
ABSL_FLAG(uint64_t, idle_warm_max, 256,
          "Parked plaintext HTTP/1 connections a worker keeps whole (their next request costs "
          "no system call more) until --idle_release_after; beyond this many, a parked "
          "connection keeps only its socket at once");
ABSL_FLAG(absl::Duration, stream_idle_timeout, absl::Minutes(5),
          "A request in progress with no byte either way for this long is reset (0: off)");
ABSL_FLAG(absl::Duration, tunnel_idle_timeout, absl::Hours(1),
          "The same for an upgraded connection (WebSocket) after its 101 (0: off)");
ABSL_FLAG(absl::Duration, upstream_response_timeout, absl::ZeroDuration(),
          "The whole response, from the request to its last byte: 504, or a reset once the "
          "head is out (0: off)");
ABSL_FLAG(absl::Duration, max_grpc_timeout, absl::ZeroDuration(),
          "Longest grpc-timeout of a gRPC request honoured as its deadline (0: no cap but "
          "--upstream_response_timeout); a longer one is lowered, also upstream");
ABSL_FLAG(uint64_t, max_body_bytes, 64ull << 20,
          "Largest request body accepted, in bytes (0: no limit): 413 above it");
ABSL_FLAG(uint64_t, buffer_limit_bytes, 1 << 20,
          "Per connection (client and upstream, each direction of a tunnel): bytes read ahead "
          "and the write high watermark; a peer that does not read is paused here");
ABSL_FLAG(uint64_t, max_connections, 0,
          "Open client connections across workers; at the cap the listeners stop accepting "
          "for a moment (0: derived from the descriptor limit, which is raised to its hard "
          "limit at start)");
ABSL_FLAG(uint32_t, upstream_http2_max_concurrent_streams, 100,
          "HTTP/2 clusters: streams one upstream connection carries at once (1-2147483647; the "
          "upstream's SETTINGS and the cluster may lower it); more open another connection");
ABSL_FLAG(uint32_t, upstream_max_idle_per_host, 1024,
          "HTTP/1 clusters: idle keep-alive connections kept per endpoint and worker (0-65535); "
          "above it a finished connection is closed. Idle connections exist only after that "
          "many requests were in flight at once; a low cap makes bursts reconnect");
ABSL_FLAG(uint64_t, upstream_replay_buffer_bytes, 64 << 10,
          "HTTP/2 clusters: request body bytes kept per request to replay a stream the upstream "
          "did not process (GOAWAY, REFUSED_STREAM) on another endpoint; larger bodies get 502");
ABSL_FLAG(bool, normalize_path, true,
          "Remove dot-segments from request paths (RFC 3986) before routing; the upstream gets "
          "the normalised path");
ABSL_FLAG(bool, merge_slashes, false, "Merge runs of '/' in request paths before routing");
ABSL_FLAG(absl::Duration, accept_pause, absl::Milliseconds(100),
          "How long the listeners rest at --max_connections or when out of descriptors");
ABSL_FLAG(std::string, ready_file, "",
          "Written with {\"port\",\"admin_port\",\"pid\"} once listening (for scripts/tests)");
ABSL_FLAG(absl::Duration, controller_keepalive_time, absl::Seconds(10),
          "HTTP/2 ping interval on the controller stream (0: off); a controller that misses a "
          "ping for --controller_keepalive_timeout is given up for the next one");
ABSL_FLAG(absl::Duration, controller_keepalive_timeout, absl::Seconds(5),
          "How long a controller may take to answer a keepalive ping");
ABSL_FLAG(std::string, controller_ca, "",
          "PEM CA bundle the controller's certificate must chain to: TLS to the controller");
ABSL_FLAG(std::string, controller_cert, "",
          "PEM client certificate presented to the controller (mTLS); needs --controller_key");
ABSL_FLAG(std::string, controller_key, "", "PEM private key of --controller_cert");
ABSL_FLAG(std::string, access_log, "",
          "Per-request access log, JSON lines: a file (appended to; SIGUSR1 reopens it, for "
          "logrotate) or - for stdout; empty: off");
ABSL_FLAG(uint64_t, access_log_buffer_bytes, 4 << 20,
          "Access log lines waiting to be written; beyond it lines are dropped (and counted) "
          "rather than slowing requests");
ABSL_FLAG(uint32_t, http2_max_concurrent_streams, 100,
          "HTTP/2 (h2c and ALPN h2): streams a client may have open at once per connection "
          "(SETTINGS_MAX_CONCURRENT_STREAMS); more are refused (REFUSED_STREAM)");
ABSL_FLAG(uint32_t, http2_max_header_list_bytes, 64 << 10,
          "HTTP/2: largest request header list (name + value + 32 per field, after HPACK "
          "decoding; also trailers); a larger one resets its stream (ENHANCE_YOUR_CALM)");
ABSL_FLAG(uint32_t, http2_initial_stream_window_bytes, 64 << 10,
          "HTTP/2: request body bytes a client may send per stream before the proxy passed "
          "them on (the most a stream buffers)");
ABSL_FLAG(uint32_t, http2_initial_connection_window_bytes, 1 << 20,
          "HTTP/2: the same for all streams of a connection together");
ABSL_FLAG(uint32_t, http2_max_premature_resets_per_second, 100,
          "HTTP/2: streams a client may reset before their response began, per connection and "
          "second; more end the connection with GOAWAY ENHANCE_YOUR_CALM (rapid reset)");
ABSL_FLAG(uint32_t, http2_max_outbound_control_frames, 1000,
          "HTTP/2: PING and SETTINGS acknowledgements queued for a client that does not read; "
          "more close the connection (ping/settings flood)");
ABSL_FLAG(uint32_t, http2_max_consecutive_empty_frames, 1,
          "HTTP/2: DATA/HEADERS/CONTINUATION frames without payload in a row; more end the "
          "connection with GOAWAY ENHANCE_YOUR_CALM");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(bool, lrs, true,
          "Report load and endpoint health to the controller (Load Reporting Service, at the "
          "interval the controller asks for)");

int main(int argc, char** argv) {
  lb::process::SetProgramUsage(
      "The load balancer's proxy.\n  proxy --controller=127.0.0.1:18000 --listen=0.0.0.0:8080",
      "proxy/");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil checks every mutex acquisition for lock-order cycles; that costs a few
  // percent on gRPC's and our hot locks. Tests still run with the default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  lb::process::StopSignals stop({SIGUSR1});  // Before any thread starts.

  absl::StatusOr<lb::net::HostPort> listen = lb::net::ParseHostPort(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) {
    std::fprintf(stderr, "proxy: --listen: %s\n", std::string(listen.status().message()).c_str());
    return 2;
  }
  lb::proxy::ProxyOptions options;
  options.listen_host = listen->host;
  options.listen_port = listen->port;
  if (std::string tls = absl::GetFlag(FLAGS_tls_listen); !tls.empty()) {
    absl::StatusOr<lb::net::HostPort> tls_listen = lb::net::ParseHostPort(tls);
    if (!tls_listen.ok()) {
      std::fprintf(stderr, "proxy: --tls_listen: %s\n",
                   std::string(tls_listen.status().message()).c_str());
      return 2;
    }
    options.tls_listen_host = tls_listen->host;
    options.tls_listen_port = tls_listen->port;
  }
  options.worker.tls_handshake_timeout = absl::GetFlag(FLAGS_tls_handshake_timeout);
  if (options.worker.tls_handshake_timeout <= absl::ZeroDuration()) {
    std::fprintf(stderr, "proxy: --tls_handshake_timeout must be positive\n");
    return 2;
  }
  const int https_port = absl::GetFlag(FLAGS_https_port);
  if (https_port < 1 || https_port > 65535) {
    std::fprintf(stderr, "proxy: --https_port must be from 1 to 65535\n");
    return 2;
  }
  options.worker.https_port = static_cast<uint16_t>(https_port);
  options.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.balance_connections = absl::GetFlag(FLAGS_balance_connections);
  options.share_port = absl::GetFlag(FLAGS_share_listen_port);
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  options.worker.upstream_timeout = absl::GetFlag(FLAGS_upstream_timeout);
  options.worker.request_header_timeout = absl::GetFlag(FLAGS_request_header_timeout);
  options.worker.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  options.worker.idle_release_after = absl::GetFlag(FLAGS_idle_release_after);
  options.worker.idle_release_above = absl::GetFlag(FLAGS_idle_release_above);
  options.worker.idle_warm_max = absl::GetFlag(FLAGS_idle_warm_max);
  options.worker.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  options.worker.stream_idle_timeout = absl::GetFlag(FLAGS_stream_idle_timeout);
  options.worker.tunnel_idle_timeout = absl::GetFlag(FLAGS_tunnel_idle_timeout);
  options.worker.upstream_response_timeout = absl::GetFlag(FLAGS_upstream_response_timeout);
  options.worker.max_grpc_timeout = absl::GetFlag(FLAGS_max_grpc_timeout);
  if (options.worker.max_grpc_timeout < absl::ZeroDuration()) {
    std::fprintf(stderr, "proxy: --max_grpc_timeout must not be negative\n");
    return 2;
  }
  if (options.worker.idle_release_after < absl::ZeroDuration()) {
    std::fprintf(stderr, "proxy: --idle_release_after must not be negative\n");
    return 2;
  }
  options.worker.buffer_limit_bytes = absl::GetFlag(FLAGS_buffer_limit_bytes);
  options.worker.accept_pause = absl::GetFlag(FLAGS_accept_pause);
  options.worker.normalize_path = absl::GetFlag(FLAGS_normalize_path);
  options.worker.merge_slashes = absl::GetFlag(FLAGS_merge_slashes);
  lb::http::Http2Settings& http2 = options.worker.http2;
  http2.max_concurrent_streams = absl::GetFlag(FLAGS_http2_max_concurrent_streams);
  http2.max_header_list_bytes = absl::GetFlag(FLAGS_http2_max_header_list_bytes);
  http2.initial_stream_window_bytes = absl::GetFlag(FLAGS_http2_initial_stream_window_bytes);
  http2.initial_connection_window_bytes =
      absl::GetFlag(FLAGS_http2_initial_connection_window_bytes);
  http2.max_premature_resets_per_second =
      absl::GetFlag(FLAGS_http2_max_premature_resets_per_second);
  http2.max_outbound_control_frames = absl::GetFlag(FLAGS_http2_max_outbound_control_frames);
  http2.max_consecutive_empty_frames = absl::GetFlag(FLAGS_http2_max_consecutive_empty_frames);
  if (absl::Status s = lb::http::ValidateHttp2Settings(http2); !s.ok()) {
    std::fprintf(stderr, "proxy: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  options.worker.upstream_http2_max_concurrent_streams =
      absl::GetFlag(FLAGS_upstream_http2_max_concurrent_streams);
  options.worker.upstream_replay_buffer_bytes = absl::GetFlag(FLAGS_upstream_replay_buffer_bytes);
  options.worker.max_idle_per_host = absl::GetFlag(FLAGS_upstream_max_idle_per_host);
  if (options.worker.max_idle_per_host > 65535) {
    std::fprintf(stderr, "proxy: --upstream_max_idle_per_host must be from 0 to 65535\n");
    return 2;
  }
  if (options.worker.upstream_http2_max_concurrent_streams < 1 ||
      options.worker.upstream_http2_max_concurrent_streams > 2147483647u) {
    std::fprintf(stderr,
                 "proxy: --upstream_http2_max_concurrent_streams must be from 1 to 2147483647\n");
    return 2;
  }
  if (options.worker.buffer_limit_bytes < 16 * 1024) {
    std::fprintf(stderr, "proxy: --buffer_limit_bytes must be at least 16384\n");
    return 2;
  }
  std::unique_ptr<lb::proxy::accesslog::AccessLog> access_log;
  if (std::string path = absl::GetFlag(FLAGS_access_log); !path.empty()) {
    absl::StatusOr<std::unique_ptr<lb::proxy::accesslog::AccessLog>> log =
        lb::proxy::accesslog::AccessLog::Open(
            {path, static_cast<size_t>(absl::GetFlag(FLAGS_access_log_buffer_bytes))});
    if (!log.ok()) {
      std::fprintf(stderr, "proxy: --access_log: %s\n",
                   std::string(log.status().message()).c_str());
      return 2;
    }
    access_log = std::move(*log);
    options.worker.access_log = access_log.get();
  }
  absl::StatusOr<lb::process::FdLimit> fds = lb::process::RaiseOpenFileLimit();
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  if (fds.ok()) {
    if (options.max_connections == 0) {
      options.max_connections = lb::process::ConnectionsFor(fds->now);
    }
    spdlog::info("proxy: descriptor limit {} (was {}); at most {} client connections", fds->now,
                 fds->before, options.max_connections);
  } else {
    spdlog::warn("proxy: {}", std::string(fds.status().message()));
  }
  absl::StatusOr<std::unique_ptr<lb::proxy::ProxyServer>> server =
      lb::proxy::ProxyServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "proxy: %s\n", std::string(server.status().ToString()).c_str());
    return 1;
  }

  lb::proxy::xds::AdsClientOptions ads;
  ads.tls_listener = options.tls_listen_port >= 0;
  for (absl::string_view c :
       absl::StrSplit(absl::GetFlag(FLAGS_controller), ',', absl::SkipWhitespace())) {
    ads.controllers.emplace_back(c);
  }
  ads.node_id = absl::GetFlag(FLAGS_node_id);
  if (ads.node_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    ads.node_id = host;
  }
  ads.zone = absl::GetFlag(FLAGS_zone);
  ads.keepalive_time = absl::GetFlag(FLAGS_controller_keepalive_time);
  ads.keepalive_timeout = absl::GetFlag(FLAGS_controller_keepalive_timeout);
  lb::proxy::xds::GrpcXdsTransportOptions transport;
  transport.keepalive_time = ads.keepalive_time;
  transport.keepalive_timeout = ads.keepalive_timeout;
  if (absl::Status s = lb::proxy::xds::LoadControllerTls(
          absl::GetFlag(FLAGS_controller_ca), absl::GetFlag(FLAGS_controller_cert),
          absl::GetFlag(FLAGS_controller_key), &transport);
      !s.ok()) {
    std::fprintf(stderr, "proxy: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  ads.transport = std::make_shared<lb::proxy::xds::GrpcXdsTransportFactory>(transport);
  lb::proxy::ProxyServer* srv = server->get();
  // Declared before the ADS client, which hands it streams: destroyed after it.
  lb::proxy::xds::LrsClient lrs({ads.node_id, ads.zone, ads.user_agent, ads.user_agent_version},
                                [srv] { return srv->LoadView(); });
  if (absl::GetFlag(FLAGS_lrs)) {
    ads.on_lrs_stream = [&lrs](std::unique_ptr<lb::proxy::xds::LrsStream> s) {
      lrs.Attach(std::move(s));
    };
    lrs.Start();
  }
  lb::proxy::xds::AdsClient client(ads, [srv](std::shared_ptr<const lb::proxy::ProxyConfig> c) {
    srv->SetConfig(std::move(c));
  });
  srv->SetSourceStatus([&client] { return client.GetStatus(); });
  if (absl::Status s = client.Start(); !s.ok()) {
    std::fprintf(stderr, "proxy: %s\n", std::string(s.ToString()).c_str());
    return 2;
  }
  spdlog::info("proxy: listening on {}:{} ({} workers), admin on port {}, controller {}",
               options.listen_host, srv->port(), options.workers, srv->admin_port(),
               absl::GetFlag(FLAGS_controller));
  if (std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    absl::Status s = lb::process::WriteReadyFile(
        ready,
        {{"port", srv->port()}, {"admin_port", srv->admin_port()}, {"tls_port", srv->tls_port()}});
    if (!s.ok()) {
      std::fprintf(stderr, "proxy: --ready_file: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  int signo;
  while ((signo = stop.Wait()) == SIGUSR1) {
    if (access_log != nullptr) access_log->Reopen();
  }
  spdlog::info("proxy: signal {}, draining (up to {})", signo,
               absl::FormatDuration(options.drain_timeout));
  client.Stop();
  lrs.Stop();
  bool clean = srv->Shutdown();
  spdlog::info("proxy: {}", clean ? "drained" : "drain timeout; remaining requests cut");
  return 0;
}
