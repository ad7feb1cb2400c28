// The HTTP connection manager: one client connection, its server codec, and one ActiveStream
// per request (created when the request begins, destroyed when its response is complete).
// The codec is chosen from the first bytes and ALPN (http/server_codec_factory.h). HTTP/1 has
// one stream at a time and its stream idle timeout lives on the manager; HTTP/2 streams run
// side by side, each with its own stream-idle timer, a reset ends only its stream, and the
// connection closes once no stream is left after GOAWAY (drain, client half-close, error).
// Every stream owns its router's timer.
//
// Idle keep-alive (HTTP/1, between requests): nothing of a request stays on the heap, as in
// nginx. The codec is given back at the end of the event (made again, from a per-thread free
// list, on the next request's first byte), the read and write buffers and the timer are freed,
// and the keep-alive idle timeout is the worker's IdleConnections list's; what is left is the
// connection and this manager.
//
// It owns what belongs to the connection rather than to a request: the request-header timeout
// (408; it runs from accept and from the first byte of each later request), the keep-alive idle
// timeout, the stream idle timeout (no byte either way while a request is in progress; a
// tunnel's own, longer one after a 101), the body-size limit (413), answers to requests the codec
// refused (400/431/501/505), the access log line of each request, drain ("Connection: close" on the
// answer in progress, idle connections closed at once) and closing. Everything about reaching the
// upstream is the stream's router::Router.
//
// Threading: the worker's loop thread only. Lifetime: the worker owns managers; a manager
// tells it when its connection is closed (ConnectionManagerContext::OnConnectionManagerClosed)
// and is then destroyed by the worker at the end of the loop turn.
#ifndef LB_PROXY_SERVER_HTTP_CONNECTION_MANAGER_H_
#define LB_PROXY_SERVER_HTTP_CONNECTION_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proxy/accesslog/access_log.h"
#include "proxy/event/dispatcher.h"
#include "proxy/event/lazy_timer.h"
#include "proxy/http/codec.h"
#include "proxy/http/http1_codec.h"
#include "proxy/http/http2_codec.h"
#include "proxy/http/request_target.h"
#include "proxy/http/server_codec_factory.h"
#include "proxy/network/connection.h"
#include "proxy/router/router.h"
#include "proxy/server/snapshot_pins.h"
#include "proxy/upstream/cluster_stats.h"

namespace lb::proxy {

struct ConnectionManagerOptions {
  absl::Duration request_header_timeout = absl::Seconds(10);  // 408 after this.
  absl::Duration idle_timeout = absl::Seconds(60);            // Client keep-alive idle.
  // While a request is in progress: no byte either way for this long resets it (0: off).
  absl::Duration stream_idle_timeout = absl::Minutes(5);
  absl::Duration tunnel_idle_timeout = absl::Hours(1);  // The same, after a 101 (0: off).
  uint64_t max_body_bytes = 0;                          // 0: unlimited; else 413 above.
  // TLS connections: the handshake must finish within this (counted in tls::Stats()); the
  // request-header timeout starts after it.
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
  // Read-buffer limit and write high watermark of the client connection (0: the default).
  size_t buffer_limit_bytes = 0;
  http::Http1Settings codec;
  http::Http2Settings http2;
  http::PathOptions path;  // Path normalisation before routing.
};

struct ConnectionManagerStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> requests_active{0};
  std::atomic<uint64_t> responses_2xx{0};
  std::atomic<uint64_t> responses_3xx{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> local_replies{0};  // Answers the proxy made itself.
  // Clients that closed or broke the connection while their request was in progress.
  std::atomic<uint64_t> downstream_resets{0};
  // Connections and streams cut by each of the manager's timeouts.
  std::atomic<uint64_t> request_header_timeouts{0};
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> stream_idle_timeouts{0};
  std::atomic<uint64_t> tunnel_idle_timeouts{0};
  // From a request's head to the end of its response (answered requests only).
  upstream::LatencyCounters request_latency;
  http::Http2Stats http2;
};

class HttpConnectionManager;
class IdleConnections;

// The worker's services, as a connection manager sees them.
class ConnectionManagerContext {
 public:
  virtual ~ConnectionManagerContext() = default;
  virtual event::Dispatcher& dispatcher() = 0;
  virtual const ConnectionManagerOptions& connection_manager_options() const = 0;
  virtual ConnectionManagerStats& connection_manager_stats() = 0;
  virtual router::RouterContext& router_context() = 0;
  virtual SnapshotPins& snapshots() = 0;
  virtual bool draining() const = 0;
  // Where finished requests are logged (null: nowhere).
  virtual accesslog::AccessLog* access_log() = 0;
  // The worker's idle connections (made with connection_manager_options().idle_timeout).
  virtual IdleConnections& idle_connections() = 0;
  // The connection is closed; no call into `manager` follows.
  virtual void OnConnectionManagerClosed(HttpConnectionManager* manager) = 0;
};

class HttpConnectionManager final : public network::ConnectionCallbacks,
                                    public http::ServerCodecCallbacks,
                                    public event::EventEndHook,
                                    public event::DeferredDeletable {
 public:
  // `tls`: the connection came from the TLS listener (its transport handshakes first; requests
  // on it have the scheme "https").
  HttpConnectionManager(ConnectionManagerContext& context,
                        std::unique_ptr<network::Connection> connection, bool tls = false);
  ~HttpConnectionManager() override;

  // Draining: closes now if idle, else once the response in progress is out.
  void StartDrain();
  // Closes at once; a request in flight is abandoned.
  void Close();
  // False before the first bytes and, for HTTP/1, while idle between requests.
  bool holds_codec() const { return codec_ != nullptr; }

  // network::ConnectionCallbacks.
  void OnEvent(network::ConnectionEvent event) override;
  void OnData(event::Buffer& data, bool end_stream) override;
  void OnAboveWriteBufferHighWatermark() override;
  void OnBelowWriteBufferLowWatermark() override;

  // http::ServerCodecCallbacks.
  http::RequestDecoder& NewStream(http::ResponseEncoder& encoder) override;

  // event::EventEndHook: dispatches input that waited for a response to finish.
  void OnEventEnd() override;

 private:
  class ActiveStream;
  enum class Timeout : uint8_t {
    kNone,
    kHandshake,
    kRequestHeader,
    kIdle,
    kClosing,
    kStreamIdle,
    kTunnelIdle
  };

  void Dispatch(bool end_stream);
  // Picks the codec once the first bytes tell the protocol (server_codec_factory.h); false
  // while they do not yet.
  bool ChooseCodec();
  bool multiplexing() const { return codec_ != nullptr && codec_->multiplexing(); }
  // HTTP/2: takes `stream` out of the active set (destroyed at the end of the loop turn), then
  // goes idle or closes as the connection's state says.
  void RemoveStream(ActiveStream* stream);
  // HTTP/2: with no stream left, closes once the codec takes no more (GOAWAY) or the proxy
  // drains; otherwise starts the keep-alive idle timeout.
  void CheckIdle();
  void OnStreamComplete(ActiveStream* stream);
  // The response was cut short: the connection closes without flushing.
  void OnStreamReset(ActiveStream* stream);
  void CloseAfterFlush();
  void Finish();
  void ArmTimeout(Timeout which);
  // Bytes moved on the stream in progress: its idle timeout starts again.
  void OnStreamActivity() { ArmTimeout(timeout_); }
  void OnTimeout();
  void DisarmTimer() {
    if (timer_ != nullptr) timer_->Disarm();
  }
  void ArmTimer(absl::Duration after);
  // IdleConnections: idle for the idle timeout.
  void OnIdleTimeout();
  // Out of IdleConnections, if in it.
  void LeaveIdleList();
  bool idle() const;
  // HTTP/1 between requests, nothing buffered: the codec goes (see the top of this file).
  void ReleaseIdleCodec();

  ConnectionManagerContext& context_;
  std::unique_ptr<network::Connection> connection_;
  // Made by ChooseCodec() once the first bytes arrive (null before, and for HTTP/1 between
  // requests); protocol_ is decided once per connection.
  std::unique_ptr<http::ServerCodec> codec_;
  http::ServerProtocol protocol_ = http::ServerProtocol::kUndecided;
  const bool tls_;
  // The connection's timeouts but the idle one (header, closing, stream idle): made when
  // first armed, freed while idle.
  std::unique_ptr<event::LazyTimer> timer_;
  Timeout timeout_ = Timeout::kNone;
  std::unique_ptr<ActiveStream> stream_;  // HTTP/1: one request at a time.
  // HTTP/2: the streams in progress (each with its own timers).
  std::vector<std::unique_ptr<ActiveStream>> streams_;
  bool dispatching_ = false;
  bool closing_ = false;  // Flushing the last bytes before the close.
  bool closed_ = false;
  bool peer_ended_ = false;   // HTTP/2: the client half-closed; close once its streams end.
  bool idle_listed_ = false;  // In IdleConnections (timeout_ is kIdle).
  // IdleConnections' links and this connection's deadline there (monotonic).
  HttpConnectionManager* idle_prev_ = nullptr;
  HttpConnectionManager* idle_next_ = nullptr;
  absl::Duration idle_deadline_;

  friend class IdleConnections;
};

// A worker's idle connections (keep-alive between requests, or HTTP/2 without a stream),
// oldest first. All of them have the same idle timeout, so the oldest is the first to expire:
// one timer serves the list, and an idle connection holds two links and a deadline instead of
// a timer of its own (about 200 bytes each; docs/abuse-benchmark.md).
//
// Threading: the worker's loop thread only. Outlives the managers in it.
class IdleConnections {
 public:
  IdleConnections(event::Dispatcher& dispatcher, absl::Duration timeout);
  size_t size() const { return size_; }

 private:
  friend class HttpConnectionManager;
  // To the tail, due `timeout` from now (out of the list first if in it).
  void Add(HttpConnectionManager* manager);
  void Remove(HttpConnectionManager* manager);
  void OnTimer();

  event::Dispatcher& dispatcher_;
  const absl::Duration timeout_;
  event::LazyTimer timer_;
  HttpConnectionManager* head_ = nullptr;  // Due first.
  HttpConnectionManager* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_HTTP_CONNECTION_MANAGER_H_
