// The HTTP/1 connection pool of one host on one worker: one request per connection at a time,
// idle keep-alive connections reused most-recently-used first, up to `max_idle` kept.
//
// A connection is closed (never reused) when the response said so, when the request body was
// not completely sent, when the upstream sent anything beyond the response or while idle, when
// the host left the configuration, and after `idle_timeout` unused.
//
// Circuit breakers (the cluster's ClusterResources, shared with the other workers): a new
// connection takes a `connections` slot for its life and a `pending_requests` slot until it is
// set up; without one the request fails with kOverflow (this pool does not queue requests),
// unless `reclaim_idle` (set_reclaim_idle) closed an idle connection of another host of the
// cluster to free a slot: idle connections do not starve busy hosts of the cluster's slots.
//
// Threading: the worker's loop thread only.
#ifndef LB_PROXY_UPSTREAM_HTTP1_CONN_POOL_H_
#define LB_PROXY_UPSTREAM_HTTP1_CONN_POOL_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "proxy/event/dispatcher.h"
#include "proxy/http/http1_codec.h"
#include "proxy/network/transport_socket.h"
#include "proxy/upstream/cluster_stats.h"
#include "proxy/upstream/conn_pool.h"
#include "proxy/upstream/host.h"

namespace lb::proxy::upstream {

struct Http1PoolSettings {
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration idle_timeout = absl::Seconds(30);
  uint32_t max_idle = 64;
  // Read-buffer limit and write high watermark of each connection (0: the default).
  size_t buffer_limit_bytes = 0;
  http::Http1Settings codec;
};

class Http1ConnPool final : public ConnPool {
 public:
  // `dispatcher` and `stats` must outlive the pool. `cluster` (null: no limits) holds the
  // circuit breakers.
  // `transport` (null: plaintext) makes each connection's transport socket (the cluster's TLS);
  // a pool never mixes transports.
  Http1ConnPool(event::Dispatcher& dispatcher, std::shared_ptr<HostState> host,
                const Http1PoolSettings& settings, PoolStats& stats,
                std::shared_ptr<ClusterStats> cluster = nullptr,
                std::shared_ptr<const network::TransportSocketFactory> transport = nullptr);
  // Closes every connection; streams still waiting get no callback.
  ~Http1ConnPool() override;

  PoolHandle* NewStream(http::ResponseDecoder& decoder, PoolCallbacks& callbacks) override;
  void Drain() override;
  bool empty() const override { return clients_.empty(); }
  size_t idle_connections() const override { return idle_.size(); }

  // Applies to connections started from now on (clusters may change it).
  void set_connect_timeout(absl::Duration timeout) { settings_.connect_timeout = timeout; }
  // Called when the cluster's connection slots are all taken: closes an idle connection that
  // holds one (another pool's, same worker) and returns true, or returns false.
  void set_reclaim_idle(std::function<bool()> reclaim_idle) {
    reclaim_idle_ = std::move(reclaim_idle);
  }
  // Closes the least recently used idle connection; false if there is none.
  bool CloseOldestIdle();
  const HostState& host() const { return *host_; }
  const ClusterStats* cluster() const { return cluster_.get(); }

 private:
  class ActiveClient;

  void PutIdle(ActiveClient* client);
  // Closes the connection and frees the client at the end of the loop turn.
  void Close(ActiveClient* client);

  event::Dispatcher& dispatcher_;
  const std::shared_ptr<HostState> host_;
  Http1PoolSettings settings_;
  PoolStats& stats_;
  const std::shared_ptr<ClusterStats> cluster_;
  const std::shared_ptr<const network::TransportSocketFactory> transport_;
  bool draining_ = false;
  std::function<bool()> reclaim_idle_;
  std::list<std::unique_ptr<ActiveClient>> clients_;
  std::vector<ActiveClient*> idle_;  // Most recently used last.
};

}  // namespace lb::proxy::upstream

#endif  // LB_PROXY_UPSTREAM_HTTP1_CONN_POOL_H_
