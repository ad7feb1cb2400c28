// The HTTP connection manager: one client connection, its server codec, and one ActiveStream
// per request (created when the request begins, destroyed when its response is complete).
// The codec is chosen from the first bytes and ALPN (http/server_codec_factory.h). HTTP/1 has
// one stream at a time and its stream idle timeout lives on the manager; HTTP/2 streams run
// side by side, each with its own stream-idle timer, a reset ends only its stream, and the
// connection closes once no stream is left after GOAWAY (drain, client half-close, error).
// Every stream owns its router's timer.
//
// Idle keep-alive (HTTP/1, between requests): nothing of a request or of this manager stays on
// the heap, as in nginx. Once idle for idle_release_after, the manager parks its connection in
// the worker's IdleConnections (a small record with the keep-alive idle deadline; one timer for
// the whole list) and is destroyed; the next request's first byte makes a new manager for the
// connection (ConnectionManagerContext::ResumeConnection).
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
#include "proxy/event/fd_group.h"
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
  // An HTTP/1 connection idle this long parks in IdleConnections (0: at once). A short wait
  // keeps busy keep-alive clients from paying for a park and a resume per request...
  absl::Duration idle_release_after = absl::Seconds(1);
  // ... unless the worker holds more than this many connection managers: then an idle one
  // parks at once, so a crowd of clients going idle never holds that many managers' memory.
  size_t idle_release_above = 64;
  // A parked plaintext connection keeps only its socket once idle_release_after into its idle
  // time. Parked sooner (above), it waits whole ("warm": resumed without a system call) until
  // then, unless the worker already holds this many warm ones.
  size_t idle_warm_max = 256;
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
  // Parked plaintext connections kept whole for now (a gauge; IdleConnections caps it at
  // idle_warm_max, so it must be this worker's own).
  std::atomic<uint64_t> idle_warm{0};
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
  // The worker's parked connections.
  virtual IdleConnections& idle_connections() = 0;
  // `manager` parked its connection in idle_connections(): no call into it follows, and the
  // connection stays open (unlike OnConnectionManagerClosed).
  virtual void OnConnectionManagerParked(HttpConnectionManager* manager) = 0;
  // A parked connection has bytes of a new request: a new manager for it (constructed with
  // `resumed`), which reads them next.
  virtual HttpConnectionManager& ResumeConnection(std::unique_ptr<network::Connection> connection,
                                                  bool tls) = 0;
  // A parked connection closed (the client left, the idle timeout, or drain).
  virtual void OnParkedConnectionClosed() = 0;
  // Connection managers the worker holds now (busy, or idle and not parked yet).
  virtual size_t connection_managers() const = 0;
  // The connection is closed; no call into `manager` follows.
  virtual void OnConnectionManagerClosed(HttpConnectionManager* manager) = 0;
};

class HttpConnectionManager final : public network::ConnectionCallbacks,
                                    public http::ServerCodecCallbacks,
                                    public event::EventEndHook,
                                    public event::DeferredDeletable {
 public:
  // `tls`: the connection came from the TLS listener (its transport handshakes first; requests
  // on it have the scheme "https"). `resumed`: an HTTP/1 connection back from IdleConnections
  // (handshake done, protocol known, the next request's bytes in its read buffer).
  HttpConnectionManager(ConnectionManagerContext& context,
                        std::unique_ptr<network::Connection> connection, bool tls = false,
                        bool resumed = false);
  ~HttpConnectionManager() override;

  // Draining: closes now if idle, else once the response in progress is out.
  void StartDrain();
  // Closes at once; a request in flight is abandoned.
  void Close();
  // False before the first bytes.
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
  bool idle() const;
  // HTTP/1 between requests, nothing buffered: parks the connection (see the top of this
  // file); `this` is then closed_ and destroyed by the worker.
  void MaybePark();

  ConnectionManagerContext& context_;
  std::unique_ptr<network::Connection> connection_;
  // Made by ChooseCodec() once the first bytes arrive (null before, and for HTTP/1 between
  // requests); protocol_ is decided once per connection.
  std::unique_ptr<http::ServerCodec> codec_;
  http::ServerProtocol protocol_ = http::ServerProtocol::kUndecided;
  absl::Duration idle_since_;  // Monotonic; set with Timeout::kIdle.
  const std::string client_ip_;
  const bool tls_;
  event::LazyTimer timer_;         // The connection's timeouts (header, idle, closing...).
  event::LazyTimer router_timer_;  // The current HTTP/1 stream's router (RouterCallbacks).
  Timeout timeout_ = Timeout::kNone;
  std::unique_ptr<ActiveStream> stream_;  // HTTP/1: one request at a time.
  // HTTP/2: the streams in progress (each with its own timers).
  std::vector<std::unique_ptr<ActiveStream>> streams_;
  bool dispatching_ = false;
  bool closing_ = false;  // Flushing the last bytes before the close.
  bool closed_ = false;
  bool peer_ended_ = false;  // HTTP/2: the client half-closed; close once its streams end.
};

// A worker's parked connections: HTTP/1 keep-alive connections between requests, each a small
// record (its deadline, two links, and what must stay of the connection) instead of a
// connection manager. A plaintext connection keeps only its socket, watched for the next
// request's bytes (nginx keeps no more); a TLS one keeps its connection, whose transport holds
// the session. Oldest first: they all have the same idle timeout, so one timer serves the
// list. See docs/abuse-benchmark.md for what an idle connection costs.
//
// Threading: the worker's loop thread only. Destroying the list closes what is in it, without
// telling the context (the worker is going away).
class IdleConnections {
 public:
  explicit IdleConnections(ConnectionManagerContext& context);
  ~IdleConnections();
  size_t size() const { return size_; }
  // Closes every parked connection (drain).
  void CloseAll();

 private:
  friend class HttpConnectionManager;
  class Parked;
  // Takes `connection` (its callbacks are set here), closed at `deadline` (monotonic) unless a
  // request comes first. Deadlines are expected in the order of the calls (they are: all are
  // an idle start plus the same timeout); one that is not waits for those before it.
  void Park(std::unique_ptr<network::Connection> connection, bool tls, absl::Duration deadline);
  // When a plaintext one goes from whole to its socket alone: idle_release_after into its idle
  // time (monotonic).
  absl::Duration SocketAloneAt(const Parked* parked) const;
  // Keeps only its socket (in sockets_), if it still qualifies and sockets_ can be had.
  void ToSocketAlone(Parked* parked);
  void OnDemoteTimer();
  // The worker's count of warm connections (ConnectionManagerStats::idle_warm; the cap reads it).
  void AddWarm(int delta);
  // A new plaintext connection taking up a parked socket.
  std::unique_ptr<network::Connection> PlaintextConnection(int fd,
                                                           const event::SocketAddress& peer);
  void Unlink(Parked* parked);
  // Out of the list, closed; the context hears of it.
  void Close(Parked* parked);
  void Resume(Parked* parked, bool end_stream);
  void OnTimer();

  ConnectionManagerContext& context_;
  event::LazyTimer timer_;
  std::unique_ptr<event::FdGroup> sockets_;  // The parked sockets; made on first use.
  // Whole plaintext connections become their socket alone idle_release_after into their idle
  // time; those parked sooner (the worker held many managers) wait whole until then, so a
  // busy client's next request finds its connection as it was (at most idle_warm_max of
  // them). The first one that may still have to go (records before it are done), and the
  // timer for it.
  Parked* demote_next_ = nullptr;
  event::LazyTimer demote_timer_;
  Parked* head_ = nullptr;  // Due first.
  Parked* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_HTTP_CONNECTION_MANAGER_H_
