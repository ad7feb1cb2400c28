// An HTTP server on libevent's evhttp, on one dedicated thread: the transport of the
// controller's REST API and of the proxy's admin server. The controller's only libevent user.
#ifndef LB_COMMON_HTTP_EVHTTP_SERVER_H_
#define LB_COMMON_HTTP_EVHTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/http/http_types.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_request;
struct evconnlistener;

namespace lb::http {

class EvhttpServer {
 public:
  // Runs on the server's thread, one request at a time.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds `listen` ("127.0.0.1:9091", "[::1]:0") and starts serving. Bodies over
  // `max_body_bytes` are refused by evhttp itself with 413.
  static absl::StatusOr<std::unique_ptr<EvhttpServer>> Start(const std::string& listen,
                                                             Handler handler,
                                                             size_t max_body_bytes);
  // Stops the loop and joins the thread; in-flight handler calls finish first.
  ~EvhttpServer();

  int port() const { return port_; }

 private:
  EvhttpServer() = default;
  static void OnRequest(::evhttp_request* req, void* arg);
  static void OnAcceptError(::evconnlistener* listener, void* arg);

  Handler handler_;
  struct event_base* base_ = nullptr;
  struct evhttp* http_ = nullptr;
  // Activated by the destructor; its callback breaks the loop from the loop's own thread.
  struct event* stop_ = nullptr;
  struct evconnlistener* listener_ = nullptr;
  // Re-enables the listener after an accept failure (EMFILE...) paused it.
  struct event* resume_ = nullptr;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace lb::http

#endif  // LB_COMMON_HTTP_EVHTTP_SERVER_H_
