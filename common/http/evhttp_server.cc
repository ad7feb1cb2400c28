#include "common/http/evhttp_server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
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

// Each server's listener -> its resume timer, for the accept error callback (whose argument is
// evhttp's, not ours).
struct ListenerTimers {
  absl::Mutex mu;
  absl::flat_hash_map<evconnlistener*, event*> resume ABSL_GUARDED_BY(mu);
};
ListenerTimers& PausedListeners() {
  static ListenerTimers* timers = new ListenerTimers();
  return *timers;
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
                                                                  size_t max_body_bytes) {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] { evthread_use_pthreads(); });
  absl::StatusOr<net::HostPort> hp = net::ParseHostPort(listen);
  if (!hp.ok()) return hp.status();

  std::unique_ptr<EvhttpServer> server(new EvhttpServer());
  server->handler_ = std::move(handler);
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
  evhttp_set_timeout(server->http_, 30);
  evhttp_set_gencb(server->http_, &EvhttpServer::OnRequest, server.get());
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
        evconnlistener_enable(static_cast<evconnlistener*>(arg));
      },
      server->listener_);
  if (server->resume_ == nullptr) return absl::InternalError("evtimer_new failed");
  {
    absl::MutexLock lock(&PausedListeners().mu);
    PausedListeners().resume[server->listener_] = server->resume_;
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
    absl::MutexLock lock(&PausedListeners().mu);
    PausedListeners().resume.erase(listener_);
  }
  if (stop_ != nullptr) event_free(stop_);
  if (resume_ != nullptr) event_free(resume_);
  if (http_ != nullptr) evhttp_free(http_);
  if (base_ != nullptr) event_base_free(base_);
}

void EvhttpServer::OnAcceptError(evconnlistener* listener, void*) {
  const int err = EVUTIL_SOCKET_ERROR();
  evconnlistener_disable(listener);
  event* resume = nullptr;
  {
    absl::MutexLock lock(&PausedListeners().mu);
    auto it = PausedListeners().resume.find(listener);
    if (it != PausedListeners().resume.end()) resume = it->second;
  }
  if (resume == nullptr) return;
  timeval after{0, kAcceptPauseMs * 1000};
  evtimer_add(resume, &after);
  static std::atomic<int64_t> last_log_s{0};
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  if (last_log_s.exchange(now) != now) {
    std::fprintf(stderr, "http server: accept: %s; not accepting for %d ms\n",
                 evutil_socket_error_to_string(err), kAcceptPauseMs);
  }
}

void EvhttpServer::OnRequest(evhttp_request* req, void* arg) {
  auto* self = static_cast<EvhttpServer*>(arg);
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

  HttpResponse response = self->handler_(request);

  evkeyvalq* out_headers = evhttp_request_get_output_headers(req);
  if (!response.content_type.empty()) {
    evhttp_add_header(out_headers, "Content-Type", response.content_type.c_str());
  }
  for (const auto& [k, v] : response.headers) evhttp_add_header(out_headers, k.c_str(), v.c_str());
  evbuffer* body = evbuffer_new();
  // A HEAD answer has headers only (RFC 9110 9.3.2); a body would desync the connection.
  if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
    evbuffer_add(body, response.body.data(), response.body.size());
  }
  evhttp_send_reply(req, response.status, ReasonPhrase(response.status).data(), body);
  evbuffer_free(body);
}

}  // namespace lb::http
