#include "common/http/evhttp_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/http/reason_phrase.h"
#include "common/net/address.h"

namespace lb::http {
namespace {

constexpr int kAcceptPauseMs = 100;
// A pause of the listener is logged once per this many seconds at most.
constexpr int64_t kLogIntervalS = 10;

// Each server's listener -> the server, for the accept error callback (whose argument is
// evhttp's, not ours).
struct ListenerServers {
  absl::Mutex mu;
  absl::flat_hash_map<evconnlistener*, EvhttpServer*> servers ABSL_GUARDED_BY(mu);
};
ListenerServers& Listeners() {
  static ListenerServers* listeners = new ListenerServers();
  return *listeners;
}

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "UNKNOWN";
}

}  // namespace

absl::StatusOr<std::unique_ptr<EvhttpServer>> EvhttpServer::Start(const std::string& listen,
                                                                  Handler handler,
                                                                  size_t max_body_bytes,
                                                                  Limits limits,
                                                                  std::shared_ptr<ssl_ctx_st> tls) {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] { evthread_use_pthreads(); });
  absl::StatusOr<net::HostPort> hp = net::ParseHostPort(listen);
  if (!hp.ok()) return hp.status();
  if (limits.max_connections < 1) {
    return absl::InvalidArgumentError("the HTTP server needs max_connections >= 1");
  }

  std::unique_ptr<EvhttpServer> server(new EvhttpServer(limits));
  server->handler_ = std::move(handler);
  server->tls_ = std::move(tls);
  server->base_ = event_base_new();
  if (server->base_ == nullptr) return absl::InternalError("event_base_new failed");
  server->http_ = evhttp_new(server->base_);
  if (server->http_ == nullptr) return absl::InternalError("evhttp_new failed");
  evhttp_set_allowed_methods(server->http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                                EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                                EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                                EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  evhttp_set_max_body_size(server->http_, max_body_bytes);
  evhttp_set_max_headers_size(server->http_, 64 * 1024);
  const timeval idle = absl::ToTimeval(limits.idle_timeout);
  evhttp_set_timeout_tv(server->http_, &idle);
  evhttp_set_gencb(server->http_, &EvhttpServer::OnRequest, server.get());
  evhttp_set_bevcb(server->http_, &EvhttpServer::OnNewConnection, server.get());
  server->adopt_ = event_new(
      server->base_, -1, 0,
      [](evutil_socket_t, short, void* arg) { static_cast<EvhttpServer*>(arg)->Adopt(); },
      server.get());
  if (server->adopt_ == nullptr) return absl::InternalError("event_new failed");
  server->pump_ = event_new(
      server->base_, -1, 0,
      [](evutil_socket_t, short, void* arg) { static_cast<EvhttpServer*>(arg)->PumpStreams(); },
      server.get());
  if (server->pump_ == nullptr) return absl::InternalError("event_new failed");
  evhttp_bound_socket* bound =
      evhttp_bind_socket_with_handle(server->http_, hp->host.c_str(), hp->port);
  if (bound == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " (address in use or not local?)"));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    server->port_ = ss.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  // Out of descriptors, evconnlistener reports every failed accept() to its error callback
  // (evhttp sets none: libevent then logs each one) while the level-triggered listener fires
  // again at once: a spin. Instead the listener rests for a moment, with one log line a second
  // at most.
  server->listener_ = evhttp_bound_socket_get_listener(bound);
  server->resume_ = evtimer_new(
      server->base_,
      [](evutil_socket_t, short, void* arg) {
        auto* self = static_cast<EvhttpServer*>(arg);
        self->paused_on_error_ = false;
        if (!self->paused_at_cap_) evconnlistener_enable(self->listener_);
      },
      server.get());
  if (server->resume_ == nullptr) return absl::InternalError("evtimer_new failed");
  {
    absl::MutexLock lock(&Listeners().mu);
    Listeners().servers[server->listener_] = server.get();
  }
  evconnlistener_set_error_cb(server->listener_, &EvhttpServer::OnAcceptError);
  event_base* base = server->base_;
  server->stop_ = event_new(
      base, -1, 0,
      [](evutil_socket_t, short, void* arg) {
        event_base_loopbreak(static_cast<event_base*>(arg));
      },
      base);
  if (server->stop_ == nullptr) return absl::InternalError("event_new failed");
  server->thread_ = std::thread([base] { event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY); });
  return server;
}

EvhttpServer::~EvhttpServer() {
  // Not event_base_loopbreak() from here: if the loop thread has not entered event_base_loop()
  // yet, the request is lost (event_base_loop clears event_break on entry) and, with
  // EVLOOP_NO_EXIT_ON_EMPTY, the loop never returns. An activated event stays queued until the
  // loop runs it, whenever the loop starts, and wakes a loop that is waiting.
  if (thread_.joinable()) {
    event_active(stop_, EV_READ, 0);
    thread_.join();
  }
  if (listener_ != nullptr) {
    absl::MutexLock lock(&Listeners().mu);
    Listeners().servers.erase(listener_);
  }
  Adopt();  // Drops the references held for connections not yet adopted.
  // Producers may still hold their streams: they see them closed from now on.
  for (auto& [evcon, conn] : conns_) {
    if (conn->stream != nullptr) conn->stream->Disconnect();
  }
  // Frees the listener, then every connection: OnClose frees each Conn and its timer.
  stopping_ = true;
  if (http_ != nullptr) evhttp_free(http_);
  if (stop_ != nullptr) event_free(stop_);
  if (resume_ != nullptr) event_free(resume_);
  if (adopt_ != nullptr) event_free(adopt_);
  if (pump_ != nullptr) event_free(pump_);
  if (base_ != nullptr) event_base_free(base_);
}

void EvhttpServer::OnAcceptError(evconnlistener* listener, void*) {
  const int err = EVUTIL_SOCKET_ERROR();
  evconnlistener_disable(listener);
  EvhttpServer* self = nullptr;
  {
    absl::MutexLock lock(&Listeners().mu);
    auto it = Listeners().servers.find(listener);
    if (it != Listeners().servers.end()) self = it->second;
  }
  if (self == nullptr) return;
  self->paused_on_error_ = true;
  self->stats_->paused_on_error.fetch_add(1, std::memory_order_relaxed);
  timeval after{0, kAcceptPauseMs * 1000};
  evtimer_add(self->resume_, &after);
  self->LogPause(absl::StrCat("accept: ", evutil_socket_error_to_string(err),
                              "; not accepting for ", kAcceptPauseMs, " ms"));
}

void EvhttpServer::LogPause(const std::string& why) {
  // Real time: only rate-limits this log line.
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  if (now - last_log_s_ < kLogIntervalS) return;
  last_log_s_ = now;
  std::fprintf(stderr, "http server (port %d): %s\n", port_, why.c_str());
}

// Libevent 2.1's evhttp has no connection limit and no hook that sees a connection come and go
// (2.2 adds evhttp_set_max_connections). What it has: evhttp_set_bevcb, called for every
// accepted connection to make its bufferevent, and evhttp_connection_set_closecb, called exactly
// once when an incoming connection is freed. The bevcb runs before the evhttp_connection exists,
// so the connection is found afterwards, from the loop: evhttp sets the bufferevent's callback
// argument to it. The cap pauses the listener (the kernel's backlog holds the rest) and the
// close callback resumes it.
bufferevent* EvhttpServer::OnNewConnection(event_base* base, void* arg) {
  auto* self = static_cast<EvhttpServer*>(arg);
  bufferevent* bev = nullptr;
  if (self->tls_ != nullptr) {
    // evhttp sets the socket later (bufferevent_setfd), which starts the server handshake.
    SSL* ssl = SSL_new(self->tls_.get());
    if (ssl == nullptr) return nullptr;
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == nullptr) {
      SSL_free(ssl);
      return nullptr;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  } else {
    bev = bufferevent_socket_new(base, -1, 0);  // What evhttp makes by default.
  }
  if (bev == nullptr) return nullptr;  // evhttp tries its own, and fails likewise.
  bufferevent_incref(bev);  // Alive until Adopt, even if evhttp drops the connection first.
  self->unadopted_.push_back(bev);
  event_active(self->adopt_, EV_READ, 0);
  self->stats_->open.store(++self->open_, std::memory_order_relaxed);
  if (self->open_ >= self->limits_.max_connections && !self->paused_at_cap_) {
    // The listener checks between accepts: the next one waits.
    self->paused_at_cap_ = true;
    evconnlistener_disable(self->listener_);
    self->stats_->paused_at_cap.fetch_add(1, std::memory_order_relaxed);
    self->LogPause(
        absl::StrCat(self->open_, " connections open, the limit; not accepting until one closes"));
  }
  return bev;
}

void EvhttpServer::Adopt() {
  std::vector<bufferevent*> bevs;
  bevs.swap(unadopted_);
  for (bufferevent* bev : bevs) {
    bufferevent_event_cb event_cb = nullptr;
    void* arg = nullptr;
    bufferevent_getcb(bev, nullptr, nullptr, &event_cb, &arg);
    auto* evcon = static_cast<evhttp_connection*>(arg);
    if (event_cb != nullptr && evcon != nullptr &&
        evhttp_connection_get_bufferevent(evcon) == bev) {
      auto* conn = new Conn{this, evcon, nullptr, nullptr, nullptr};
      conn->deadline = evtimer_new(base_, &EvhttpServer::OnDeadline, conn);
      conns_[evcon] = conn;
      evhttp_connection_set_closecb(evcon, &EvhttpServer::OnClose, conn);
      Rearm(conn);
    } else {
      Closed();  // evhttp freed it already (its callbacks are cleared then).
    }
    bufferevent_decref(bev);
  }
}

void EvhttpServer::Rearm(Conn* conn) {
  if (conn->deadline == nullptr) return;
  const timeval after = absl::ToTimeval(limits_.request_timeout);
  evtimer_add(conn->deadline, &after);
}

void EvhttpServer::OnDeadline(int, short, void* arg) {
  auto* conn = static_cast<Conn*>(arg);
  conn->server->stats_->timed_out.fetch_add(1, std::memory_order_relaxed);
  evhttp_connection_free(conn->evcon);  // Runs OnClose, which frees `conn`.
}

void EvhttpServer::OnClose(evhttp_connection* evcon, void* arg) {
  auto* conn = static_cast<Conn*>(arg);
  EvhttpServer* self = conn->server;
  self->conns_.erase(evcon);
  if (conn->stream != nullptr) conn->stream->Disconnect();
  if (conn->deadline != nullptr) event_free(conn->deadline);
  delete conn;
  self->Closed();
}

void EvhttpServer::Closed() {
  stats_->open.store(--open_, std::memory_order_relaxed);
  if (stopping_) return;  // The listener is gone.
  if (paused_at_cap_ && open_ < limits_.max_connections) {
    paused_at_cap_ = false;
    if (!paused_on_error_) evconnlistener_enable(listener_);
  }
}

namespace {

// The client's address and, on TLS with a verified client certificate, its subject.
void FillPeer(evhttp_connection* evcon, HttpRequest* request) {
  if (evcon == nullptr) return;
  char* address = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(evcon, &address, &port);
  if (address != nullptr) request->peer = net::JoinHostPort(address, port);
  bufferevent* bev = evhttp_connection_get_bufferevent(evcon);
  SSL* ssl = bev == nullptr ? nullptr : bufferevent_openssl_get_ssl(bev);
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return;
  X509* cert = SSL_get_peer_certificate(ssl);
  if (cert == nullptr) return;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr &&
      X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    if (len > 0) request->client_cert_subject.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  X509_free(cert);
}

}  // namespace

void EvhttpServer::OnRequest(evhttp_request* req, void* arg) {
  auto* self = static_cast<EvhttpServer*>(arg);
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  HttpRequest request;
  request.method = MethodName(evhttp_request_get_command(req));
  request.target = evhttp_request_get_uri(req);
  evkeyvalq* headers = evhttp_request_get_input_headers(req);
  for (evkeyval* h = headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
    request.headers.emplace_back(h->key, h->value);
  }
  evbuffer* in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  request.body.resize(n);
  if (n > 0) evbuffer_copyout(in, request.body.data(), n);
  FillPeer(evcon, &request);

  HttpResponse response = self->handler_(request);

  evkeyvalq* out_headers = evhttp_request_get_output_headers(req);
  if (!response.content_type.empty()) {
    evhttp_add_header(out_headers, "Content-Type", response.content_type.c_str());
  }
  for (const auto& [k, v] : response.headers) evhttp_add_header(out_headers, k.c_str(), v.c_str());
  if (response.stream != nullptr) {
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
      self->StartStream(req, response);
      return;
    }
    response.stream->Disconnect();  // HEAD: headers only; the producer sees it closed.
  }
  evbuffer* body = evbuffer_new();
  // A HEAD answer has headers only (RFC 9110 9.3.2); a body would desync the connection.
  if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
    evbuffer_add(body, response.body.data(), response.body.size());
  }
  evhttp_send_reply(req, response.status, ReasonPhrase(response.status).data(), body);
  evbuffer_free(body);
  // The next request has request_timeout from now.
  auto it = self->conns_.find(evcon);
  if (it != self->conns_.end()) self->Rearm(it->second);
}

void EvhttpServer::StartStream(evhttp_request* req, const HttpResponse& response) {
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  auto it = conns_.find(evcon);
  if (it == conns_.end()) {  // Not adopted (cannot happen once a request arrived): refuse.
    response.stream->Disconnect();
    evhttp_send_error(req, 503, ReasonPhrase(503).data());
    return;
  }
  Conn* conn = it->second;
  // A stream lasts as long as both sides want: no request deadline while it is open. The idle
  // timeout still closes a client that stops reading what is written.
  if (conn->deadline != nullptr) evtimer_del(conn->deadline);
  conn->stream_req = req;
  conn->stream = response.stream;
  evhttp_send_reply_start(req, response.status, ReasonPhrase(response.status).data());
  event* pump = pump_;
  response.stream->SetWakeup([pump] { event_active(pump, EV_READ, 0); });
  PumpStreams();
}

void EvhttpServer::PumpStreams() {
  std::vector<Conn*> ended;
  for (auto& [evcon, conn] : conns_) {
    if (conn->stream == nullptr) continue;
    evbuffer* output = bufferevent_get_output(evhttp_connection_get_bufferevent(evcon));
    // An overflowed stream ends at once, without the rest of its queue.
    const bool overflowed = conn->stream->overflowed();
    if (!overflowed && evbuffer_get_length(output) >= conn->stream->max_queued_bytes()) continue;
    std::string chunk;
    const bool closed = conn->stream->Take(&chunk);
    if (!chunk.empty() && !overflowed) {
      evbuffer* buf = evbuffer_new();
      evbuffer_add(buf, chunk.data(), chunk.size());
      evhttp_send_reply_chunk(conn->stream_req, buf);
      evbuffer_free(buf);
    }
    if (closed) ended.push_back(conn);
  }
  for (Conn* conn : ended) {
    evhttp_request* req = conn->stream_req;
    conn->stream->SetWakeup(nullptr);
    conn->stream = nullptr;
    conn->stream_req = nullptr;
    Rearm(conn);
    evhttp_send_reply_end(req);  // May free the connection (and `conn`, through OnClose).
  }
}

}  // namespace lb::http
