// Test helper: an in-process HTTP/1.1 upstream on 127.0.0.1 for end-to-end tests of the proxy.
//
// One accept thread and one thread per connection, blocking sockets. Every wait is bounded or
// interrupted by Stop(). Request heads and chunked bodies are parsed with the proxy's own
// RequestParser and ChunkedDecoder (//proxy/http:parser); a request they reject is answered
// with their status (400, 431, 501, 505) and "Connection: close", and is not counted. By default
// every request is answered with 200 and the body "Hello from <name>\n", with Content-Length and
// keep-alive (HTTP/1.1 rules; HTTP/1.0 only with "Connection: keep-alive"). Every response carries
// "X-Backend: <name>".
//
// Per-request behaviour, chosen by the request:
//  - path == health_path() (default "/health"): 200 "ok\n", or 503 "unhealthy\n" after
//    set_healthy(false). Not counted in requests().
//  - path starting with "/echo": the body is the request body (de-chunked), and every request
//    header named in set_echo_headers() (default: X-Forwarded-For, X-Forwarded-Proto, Host) is
//    copied back as "X-Echo-<Name>: <value>" (all values of a repeated field, joined by ", ").
//  - path starting with "/head": the body is the request head exactly as received (request
//    line and header lines, up to and including the blank line).
//  - path starting with "/trailers": the body is the trailer section of a chunked request
//    body as received (field lines with CRLF; empty if none).
//  - query parameters (any path): delay_ms=N (wait before answering), status=N (answer code),
//    chunks=N (answer with Transfer-Encoding: chunked in N chunks, chunk_delay_ms=M apart;
//    with trailers=1 the last chunk carries "X-Checksum: abc", "Content-Length: 99" (not
//    allowed as a trailer) and "X-Count: 2"),
//    size=N (body of N bytes 'x' instead of the hello text), reset=1 (read the request, then
//    close the connection with an RST without answering), close=1 (answer with
//    "Connection: close" and close), hop=1 (add the hop-by-hop fields "Connection: X-Bar",
//    "X-Bar: secret", "Keep-Alive: timeout=5", and "X-Kept: yes"), bad=N (answer with broken
//    bytes, then close: 1 Content-Length with Transfer-Encoding, 2 not HTTP, 3 body shorter
//    than its Content-Length, 4 nothing at all, 5 bad chunk size mid-body).
//  - "Expect: 100-continue": answers "100 Continue" before reading the body.
//  - an Upgrade header (with "Connection: upgrade"): answers 101 Switching Protocols with the
//    same Upgrade value, then echoes every byte it receives back until the peer closes.
//
// Global knobs (any thread; they apply to requests whose head is read afterwards): status code,
// delay, reset-after-headers, healthy. Stop() closes the listener and every connection
// abruptly (RST), like a crashed process; Start() may be called again afterwards on the same
// port.
#ifndef LB_TESTS_TEST_COMMON_BACKEND_H_
#define LB_TESTS_TEST_COMMON_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lb::testing {

class TestBackend {
 public:
  explicit TestBackend(std::string name);
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;
  ~TestBackend();  // Stop().

  // Listens on 127.0.0.1:`port` (0: the kernel picks; see port()). After a Stop(), Start(0)
  // reuses the previous port.
  absl::Status Start(int port = 0);
  // Closes the listener and all connections with RST; joins every thread. Idempotent.
  void Stop();

  bool running() const { return running_.load(); }
  int port() const { return port_; }
  const std::string& name() const { return name_; }
  // "127.0.0.1:<port>"
  std::string address() const;

  void set_status(int status) { status_.store(status); }
  void set_delay(absl::Duration delay) { delay_ms_.store(absl::ToInt64Milliseconds(delay)); }
  // Read each request head, then close the connection with an RST without answering.
  void set_reset_after_headers(bool on) { reset_after_headers_.store(on); }
  void set_healthy(bool healthy) { healthy_.store(healthy); }
  void set_health_path(const std::string& path);
  std::string health_path() const;
  void set_echo_headers(std::vector<std::string> names);

  // Requests whose head was read (health checks excluded).
  uint64_t requests() const { return requests_.load(); }
  uint64_t health_checks() const { return health_checks_.load(); }
  uint64_t connections_accepted() const { return accepted_.load(); }
  int open_connections() const { return open_.load(); }
  // Number of requests that were being answered (head read, response not finished) right now.
  int in_flight() const { return in_flight_.load(); }

 private:
  struct Conn {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void AcceptLoop();
  void Serve(Conn* conn);
  // Sleeps up to `ms` unless stopped; false if stopped.
  bool Sleep(int64_t ms);
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::thread accept_thread_;
  std::atomic<bool> running_{false};

  std::atomic<int> status_{200};
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<bool> reset_after_headers_{false};
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> health_checks_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> in_flight_{0};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::list<std::unique_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::string health_path_ ABSL_GUARDED_BY(mu_) = "/health";
  std::vector<std::string> echo_headers_ ABSL_GUARDED_BY(mu_) = {"X-Forwarded-For",
                                                                 "X-Forwarded-Proto", "Host"};
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_BACKEND_H_
