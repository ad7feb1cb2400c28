// Connections to one upstream host, owned by one worker: requests get a stream on an idle
// keep-alive connection or on a new one. HTTP/1 today (http1_conn_pool.h); HTTP/2 pools, which
// put many streams on one connection, implement the same interface.
//
// Threading: the worker's loop thread only.
#ifndef LB_PROXY_UPSTREAM_CONN_POOL_H_
#define LB_PROXY_UPSTREAM_CONN_POOL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/strings/string_view.h"
#include "proxy/http/codec.h"
#include "proxy/network/transport_socket.h"

namespace lb::proxy::upstream {

enum class PoolFailureReason : uint8_t {
  kConnectFailure,  // The host refused or could not be reached: its fault.
  kTimeout,         // No connection within the cluster's connect timeout: its fault.
  kLocalResource,   // This process or machine is out of descriptors or ports: not its fault.
  kOverflow,        // The cluster's circuit breaker (connections or pending) is full.
};

class PoolCallbacks {
 public:
  virtual ~PoolCallbacks() = default;
  // A stream is ready: send the request with `encoder` (its response goes to the decoder given
  // to NewStream). `reused`: on a connection that carried requests before.
  virtual void OnPoolReady(http::RequestEncoder& encoder, bool reused) = 0;
  virtual void OnPoolFailure(PoolFailureReason reason, absl::string_view details) = 0;
};

// A NewStream() request that is still waiting for its connection.
class PoolHandle {
 public:
  virtual ~PoolHandle() = default;
  // No callback follows.
  virtual void Cancel() = 0;
};

// Counters a worker's pools share (read by the admin thread).
struct PoolStats {
  std::atomic<uint64_t> connects{0};          // New connections started.
  std::atomic<uint64_t> reuses{0};            // Streams on pooled connections.
  std::atomic<uint64_t> connect_failures{0};  // Refused, unreachable or timed out.
  std::atomic<uint64_t> local_failures{0};    // Out of descriptors or ports.
  // HTTP/2 pools: connections opened because every open one had its most concurrent streams
  // (the peer's SETTINGS or --upstream_http2_max_concurrent_streams), and GOAWAYs received.
  std::atomic<uint64_t> http2_connections_full{0};
  std::atomic<uint64_t> http2_goaways{0};
};

// Makes the transport of each new upstream connection (raw TCP, or TLS with ALPN "h2" for
// HTTP/2 pools); null means raw.
using TransportSocketFactory = std::function<std::unique_ptr<network::TransportSocket>()>;

class ConnPool {
 public:
  virtual ~ConnPool() = default;
  // Asks for a stream whose response goes to `decoder`. Exactly one of the callbacks follows
  // unless the handle is canceled: before NewStream returns (it returns nullptr then: an idle
  // connection was there, or the connect failed at once), or later (it returns the handle).
  virtual PoolHandle* NewStream(http::ResponseDecoder& decoder, PoolCallbacks& callbacks) = 0;
  // Closes idle connections and keeps no more; streams in progress finish.
  virtual void Drain() = 0;
  // No connections at all (the pool may be destroyed).
  virtual bool empty() const = 0;
  virtual size_t idle_connections() const = 0;
};

}  // namespace lb::proxy::upstream

#endif  // LB_PROXY_UPSTREAM_CONN_POOL_H_
