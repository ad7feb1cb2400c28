// HTTP/2 servers for tests, on nghttp2's own server session (so the proxy's client codec is
// checked against an independent implementation).
//
// H2ServerSession: bytes in, bytes out, no socket; the test decides when and how each stream
// is answered. H2Server: a loopback h2c server (prior knowledge) on its own thread, one
// H2ServerSession per connection, answering each request by its policy.
//
// Threading: H2ServerSession is single-threaded. H2Server's public methods may be called from
// any thread.
#ifndef LB_TESTS_TEST_COMMON_H2_SERVER_H_
#define LB_TESTS_TEST_COMMON_H2_SERVER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

struct nghttp2_session;

namespace lb::testing {

using H2Fields = std::vector<std::pair<std::string, std::string>>;

struct H2Request {
  int32_t stream_id = 0;
  H2Fields headers;  // Pseudo-fields included, in arrival order.
  std::string body;
  bool ended = false;  // END_STREAM received.
  bool reset = false;  // The client reset it.
  // First value of `name`, or "".
  std::string Get(absl::string_view name) const;
};

class H2ServerSession {
 public:
  // `max_concurrent_streams` 0: not sent (unlimited).
  explicit H2ServerSession(uint32_t max_concurrent_streams = 0);
  ~H2ServerSession();
  H2ServerSession(const H2ServerSession&) = delete;
  H2ServerSession& operator=(const H2ServerSession&) = delete;

  // Takes the client's bytes; false on a protocol error.
  bool Feed(absl::string_view bytes);
  // What the server has to send now.
  std::string Drain();

  // Requests by stream id (those whose head arrived).
  const std::map<int32_t, H2Request>& requests() const { return requests_; }
  // Queues a response: head, then `body` (if any), then trailers (if any) ending the stream.
  void Respond(int32_t stream_id, int status, const H2Fields& headers, std::string body,
               const H2Fields& trailers = {});
  void ResetStream(int32_t stream_id, uint32_t error_code);
  void GoAway(int32_t last_stream_id, uint32_t error_code = 0);
  bool want_io() const;

 private:
  struct Callbacks;
  struct Pending {
    std::string body;
    size_t offset = 0;
    H2Fields trailers;
  };

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, H2Request> requests_;
  std::map<int32_t, Pending> pending_;
};

// Answers every request `200` with body "NAME PATH" and "x-server: NAME", unless held; never
// with a content-length.
class H2Server {
 public:
  struct Options {
    std::string name = "h2";
    uint32_t max_concurrent_streams = 0;  // 0: not sent.
    // Responses wait until Release() (or until this many requests wait, if > 0).
    bool hold = false;
    // Adds "grpc-status: 0" trailers to every response.
    bool trailers = false;
    // Paths starting with "/echo" are answered with the request body, "/head" with every
    // request field (pseudo-fields and trailers included) as "name: value\n" lines.
    bool echo = false;
  };
  explicit H2Server(Options options);
  ~H2Server();

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  // Requests waiting for an answer (hold).
  int waiting() const { return waiting_.load(); }
  // Answers every held request.
  void Release();
  // Sends GOAWAY on every connection with last_stream_id = the lowest stream id held there
  // (that one is answered, later ones were "not processed"), and stops holding.
  void GoAwayKeepFirst();
  // Resets every held stream with `error_code`.
  void ResetHeld(uint32_t error_code);

 private:
  struct Conn;
  void Serve();
  void Answer(Conn& conn, int32_t id);

  Options options_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> waiting_{0};
  std::atomic<int> command_{0};  // 0 none, 1 release, 2 goaway, 3 reset.
  std::atomic<uint32_t> reset_code_{0};
  std::thread thread_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_H2_SERVER_H_
