// A worker thread: its own event loop, its own SO_REUSEPORT listener, its client connections
// (one HttpConnectionManager each) and its connection pools to upstream hosts. It reads the
// routing snapshot the main thread posts to it and shares no mutable state with other workers
// (host counters are per-worker cache lines).
//
// Threading: the public methods may be called from any thread unless they say otherwise;
// everything else runs on the worker's thread.
#ifndef LB_PROXY_SERVER_WORKER_H_
#define LB_PROXY_SERVER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proxy/event/dispatcher.h"
#include "proxy/event/socket.h"
#include "proxy/router/router.h"
#include "proxy/router/snapshot.h"
#include "proxy/server/connection_balancer.h"
#include "proxy/server/connection_limit.h"
#include "proxy/server/http_connection_manager.h"
#include "proxy/upstream/conn_pool.h"
#include "proxy/upstream/host.h"

namespace lb::proxy {

struct WorkerOptions {
  absl::Duration request_header_timeout = absl::Seconds(10);  // 408 after this.
  absl::Duration upstream_timeout = absl::Seconds(15);        // No response head: 504.
  absl::Duration idle_timeout = absl::Seconds(60);            // Client keep-alive idle.
  // An idle HTTP/1 keep-alive connection releases its request state after this (0: at once).
  absl::Duration idle_release_after = absl::Seconds(1);
  size_t idle_release_above = 64;  // ... or at once above this many managers per worker.
  size_t idle_warm_max = 256;      // Parked connections kept whole per worker.
  absl::Duration upstream_idle_timeout = absl::Seconds(30);  // Pooled connection idle.
  // No byte either way on a request in progress (a tunnel: tunnel_idle_timeout). 0: off.
  absl::Duration stream_idle_timeout = absl::Minutes(5);
  absl::Duration tunnel_idle_timeout = absl::Hours(1);
  // Request start to the response's last byte (0: off).
  absl::Duration upstream_response_timeout = absl::ZeroDuration();
  // Cap of a gRPC request's grpc-timeout (0: none but upstream_response_timeout).
  absl::Duration max_grpc_timeout = absl::ZeroDuration();
  uint64_t max_body_bytes = 0;  // 0: unlimited; else 413 above it.
  // Per connection, client and upstream: bytes read ahead, and the write high watermark.
  size_t buffer_limit_bytes = 1024 * 1024;
  // After EMFILE/ENFILE on accept, or at max_connections, the listener rests this long.
  absl::Duration accept_pause = absl::Milliseconds(100);
  // A TLS connection that has not finished its handshake within this is closed.
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
  uint16_t https_port = 443;   // The port of https redirects (left out when 443).
  http::Http2Settings http2;   // Downstream HTTP/2 limits (http2_codec.h).
  bool normalize_path = true;  // RFC 3986 dot-segments, before routing.
  bool merge_slashes = false;
  // HTTP/1 pools: idle connections kept per host (--upstream_max_idle_per_host). 64 made a
  // burst of a thousand requests reconnect a third of them (docs/edge-benchmark.md).
  uint32_t max_idle_per_host = 1024;
  // HTTP/2 clusters: streams one upstream connection carries at once (the peer's SETTINGS
  // and the cluster's own limit may lower it); more open another connection.
  uint32_t upstream_http2_max_concurrent_streams = 100;
  // HTTP/2 clusters: request body kept to replay a stream the upstream did not process.
  size_t upstream_replay_buffer_bytes = 64 * 1024;
  // Retries that take a slot (router.h) in flight may not exceed this share of active
  // requests (plus a floor of 3).
  double retry_budget = 0.2;
  // Where finished requests are logged (null: nowhere); outlives the workers.
  accesslog::AccessLog* access_log = nullptr;
};

// Counters a worker keeps; read by the admin thread (relaxed).
struct WorkerStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_active{0};
  // Of those, HTTP/1 keep-alive connections parked between requests (IdleConnections).
  std::atomic<uint64_t> connections_idle{0};
  // Accepted here and given to a less loaded worker (ConnectionBalancer).
  std::atomic<uint64_t> connections_handed_off{0};
  // Times the listener stopped accepting: at --max_connections, and out of descriptors.
  std::atomic<uint64_t> accept_paused_max_connections{0};
  std::atomic<uint64_t> accept_paused_descriptors{0};
  ConnectionManagerStats http;
  router::RouterStats router;
  upstream::PoolStats pool;
};

// Outlier signals a worker sends to the main thread (on the worker's thread).
using ResultSink =
    std::function<void(const std::shared_ptr<upstream::HostState>&, router::UpstreamResult)>;

class Worker {
 public:
  // `listen_fd` is this worker's own SO_REUSEPORT socket (the worker takes ownership), and
  // `tls_listen_fd` (-1: none) its TLS listener's. `limit` (null: none) is shared by all
  // workers and outlives them; both listeners count against it.
  Worker(int index, int listen_fd, const WorkerOptions& options, ResultSink sink,
         ConnectionLimit* limit = nullptr, int tls_listen_fd = -1);
  ~Worker();

  // Before Start(): accepted connections go to the worker `balancer` picks; `hand_off` gives
  // one to another worker (calls that worker's Adopt()). Both outlive the worker.
  using HandOff =
      std::function<void(int worker, int fd, const event::SocketAddress& peer, bool tls)>;
  void SetBalancing(ConnectionBalancer* balancer, HandOff hand_off);
  void Start();
  // A client connection another worker accepted for this one (takes the fd); `tls`: from the
  // TLS listener.
  void Adopt(int fd, const event::SocketAddress& peer, bool tls = false);
  // Worker thread only (see WorkerSet::RunOnAllWorkers): the snapshot new requests use from
  // now on.
  void InstallSnapshot(std::shared_ptr<const router::Snapshot> snapshot);
  // Runs `fn` on the worker's thread.
  void Post(std::function<void()> fn);
  // Stop accepting, close idle client connections, answer the rest with "Connection: close";
  // `done` runs (on the worker) when no request is in flight.
  void Drain(std::function<void()> done);
  // Stops the loop and joins; open connections are closed.
  void Stop();

  const WorkerStats& stats() const { return stats_; }
  int index() const { return index_; }

  class Impl;

 private:
  const int index_;
  WorkerStats stats_;
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_WORKER_H_
