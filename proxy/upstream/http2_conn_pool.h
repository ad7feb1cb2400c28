// The HTTP/2 connection pool of one host on one worker: requests are streams multiplexed over
// as few connections as their limits allow.
//
// A stream goes on the first open connection with a free slot: fewer streams than the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS and our own cap (Http2ClientSettings::max_concurrent_streams,
// lowered by the cluster's max_concurrent_streams). When every connection is full a new one is
// opened (counted in PoolStats::http2_connections_full); streams asked for while it connects
// wait on it (up to the cap) and start once it is up. Connections are h2c with prior knowledge
// unless the transport socket factory makes them something else (TLS with ALPN "h2").
//
// GOAWAY: the connection takes no new stream; the streams the peer did not process (above its
// last_stream_id) are reset with kRemoteRefusedStream, which the router retries whatever the
// method; the others finish; then it closes. A connection without streams closes after
// `idle_timeout`, at once when the pool drains or its host left the configuration.
//
// Circuit breakers (the cluster's ClusterResources, shared with the other workers): a connection
// holds a `connections` slot for its life, a stream waiting for a connection holds a
// `pending_requests` slot until it starts; without one the request fails with kOverflow. The
// router holds `requests` per request, that is per stream.
//
// Threading: the worker's loop thread only.
#ifndef LB_PROXY_UPSTREAM_HTTP2_CONN_POOL_H_
#define LB_PROXY_UPSTREAM_HTTP2_CONN_POOL_H_

#include <cstdint>
#include <list>
#include <memory>

#include "absl/time/time.h"
#include "proxy/event/dispatcher.h"
#include "proxy/http/http2_client_codec.h"
#include "proxy/upstream/cluster_stats.h"
#include "proxy/upstream/conn_pool.h"
#include "proxy/upstream/host.h"

namespace lb::proxy::upstream {

struct Http2PoolSettings {
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration idle_timeout = absl::Seconds(30);
  // Read-buffer limit and write high watermark of each connection (0: the default).
  size_t buffer_limit_bytes = 0;
  http::Http2ClientSettings codec;
  // The transport of each connection; null: raw TCP (h2c).
  TransportSocketFactory transport_socket_factory;
};

class Http2ConnPool final : public ConnPool {
 public:
  // `dispatcher` and `stats` must outlive the pool. `cluster` (null: no limits) holds the
  // circuit breakers.
  Http2ConnPool(event::Dispatcher& dispatcher, std::shared_ptr<HostState> host,
                const Http2PoolSettings& settings, PoolStats& stats,
                std::shared_ptr<ClusterStats> cluster = nullptr);
  // Closes every connection; streams still waiting or open get no callback.
  ~Http2ConnPool() override;

  PoolHandle* NewStream(http::ResponseDecoder& decoder, PoolCallbacks& callbacks) override;
  void Drain() override;
  bool empty() const override { return clients_.empty(); }
  // Connections that are up and carry no stream.
  size_t idle_connections() const override;
  size_t connections() const { return clients_.size(); }

  // Apply to connections started from now on (clusters may change them). `max_streams` 0:
  // only the process-wide cap of the settings.
  void set_connect_timeout(absl::Duration timeout) { settings_.connect_timeout = timeout; }
  void set_cluster_max_concurrent_streams(uint32_t max_streams);
  const HostState& host() const { return *host_; }

 private:
  class ActiveClient;
  class PendingStream;

  // Closes the connection and frees the client at the end of the loop turn.
  void Close(ActiveClient* client);
  // The stream cap of new connections.
  uint32_t StreamCap() const;

  event::Dispatcher& dispatcher_;
  const std::shared_ptr<HostState> host_;
  Http2PoolSettings settings_;
  const uint32_t process_max_streams_;
  PoolStats& stats_;
  const std::shared_ptr<ClusterStats> cluster_;
  bool draining_ = false;
  std::list<std::unique_ptr<ActiveClient>> clients_;
};

}  // namespace lb::proxy::upstream

#endif  // LB_PROXY_UPSTREAM_HTTP2_CONN_POOL_H_
