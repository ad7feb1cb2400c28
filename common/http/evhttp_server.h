// An HTTP server on libevent's evhttp, on one dedicated thread: the transport of the
// controller's REST API and of the proxy's admin server. The controller's only libevent user.
#ifndef LB_COMMON_HTTP_EVHTTP_SERVER_H_
#define LB_COMMON_HTTP_EVHTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/http_types.h"
#include "common/http/response_stream.h"

struct bufferevent;
struct event;
struct event_base;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;
struct evconnlistener;
struct ssl_ctx_st;

namespace lb::http {

// Bounds of one EvhttpServer.
struct EvhttpLimits {
  // Open connections at most. At the cap the listener stops accepting (new clients wait in
  // the kernel's backlog) until one closes.
  int max_connections = 256;
  // A connection that makes no progress reading or writing for this long is closed.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Each request must arrive whole within this time of the connection's accept or of the
  // previous answer, or the connection is closed: a slow (or idle keep-alive) client holds a
  // slot no longer.
  absl::Duration request_timeout = absl::Seconds(15);
};

class EvhttpServer {
 public:
  // Runs on the server's thread, one request at a time.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  using Limits = EvhttpLimits;

  // What happened so far; readable from any thread, also after the server is gone.
  struct Stats {
    std::atomic<int64_t> open{0};              // Connections open now.
    std::atomic<uint64_t> paused_at_cap{0};    // Times the listener paused at max_connections.
    std::atomic<uint64_t> paused_on_error{0};  // ... after accept() failed (EMFILE, ENFILE...).
    std::atomic<uint64_t> timed_out{0};        // Connections closed at request_timeout.
  };

  // Binds `listen` ("127.0.0.1:9091", "[::1]:0") and starts serving. Bodies over
  // `max_body_bytes` are refused by evhttp itself with 413. With `tls` (an OpenSSL SSL_CTX,
  // shared with the caller) every connection is TLS over bufferevent_openssl: a client that does
  // not complete the handshake (plaintext, no client certificate where the context requires one)
  // is closed without an answer.
  static absl::StatusOr<std::unique_ptr<EvhttpServer>> Start(
      const std::string& listen, Handler handler, size_t max_body_bytes, Limits limits = {},
      std::shared_ptr<ssl_ctx_st> tls = nullptr);
  // Stops the loop and joins the thread; in-flight handler calls finish first.
  ~EvhttpServer();

  int port() const { return port_; }
  std::shared_ptr<const Stats> stats() const { return stats_; }

 private:
  // One accepted connection, from the moment its evhttp_connection is known (see Adopt).
  struct Conn {
    EvhttpServer* server;
    evhttp_connection* evcon;
    event* deadline;  // request_timeout.
    // While a streamed response is open (HttpResponse::stream): its request and stream.
    evhttp_request* stream_req = nullptr;
    std::shared_ptr<ResponseStream> stream;
  };

  explicit EvhttpServer(Limits limits) : limits_(limits), stats_(std::make_shared<Stats>()) {}
  static void OnRequest(::evhttp_request* req, void* arg);
  static void OnAcceptError(::evconnlistener* listener, void* arg);
  // evhttp's per-connection hook (evhttp_set_bevcb): counts the connection and queues it for
  // Adopt, which runs once evhttp has built the connection around the bufferevent.
  static bufferevent* OnNewConnection(event_base* base, void* arg);
  void Adopt();
  static void OnClose(evhttp_connection* evcon, void* arg);
  static void OnDeadline(int fd, short what, void* arg);
  // One connection fewer; resumes accepting if the cap paused it.
  void Closed();
  void Rearm(Conn* conn);
  // Starts the streamed response of `response` on `req` (headers already added).
  void StartStream(evhttp_request* req, const HttpResponse& response);
  // Moves what every open stream has queued to its connection; ends closed streams. A stream
  // whose client has not taken the previous chunks (its output holds max_queued_bytes or more)
  // is skipped: its queue then fills and overflows, which ends it.
  void PumpStreams();
  // Logs `why` to stderr, once per 10 s at most.
  void LogPause(const std::string& why);

  const Limits limits_;
  const std::shared_ptr<Stats> stats_;
  std::shared_ptr<ssl_ctx_st> tls_;  // Null: plaintext.
  Handler handler_;
  struct event_base* base_ = nullptr;
  struct evhttp* http_ = nullptr;
  // Activated by the destructor; its callback breaks the loop from the loop's own thread.
  struct event* stop_ = nullptr;
  struct evconnlistener* listener_ = nullptr;
  // Re-enables the listener after an accept failure (EMFILE...) paused it.
  struct event* resume_ = nullptr;
  // Activated by OnNewConnection; runs Adopt.
  struct event* adopt_ = nullptr;
  // Activated by any stream's Write or Close (from any thread); runs PumpStreams.
  struct event* pump_ = nullptr;
  // The rest is used on the loop thread only.
  std::vector<bufferevent*> unadopted_;  // Each holds a reference (bufferevent_incref).
  absl::flat_hash_map<evhttp_connection*, Conn*> conns_;
  int open_ = 0;
  bool paused_at_cap_ = false;
  bool paused_on_error_ = false;
  bool stopping_ = false;  // In the destructor: connections close, the listener is gone.
  int64_t last_log_s_ = 0;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace lb::http

#endif  // LB_COMMON_HTTP_EVHTTP_SERVER_H_
