// Test helper: a minimal HTTP/1.1 client over raw loopback TCP sockets, for byte-for-byte checks
// of what a server sends.
//
//  - HttpCall/HttpGet/HttpPost: one request per fresh connection (with "Connection: close");
//    nothing is added, dropped or rewritten that the caller did not ask for, and every received
//    byte is kept.
//  - Connection: one keep-alive connection for several (or pipelined, or raw) exchanges.
//
// Responses are parsed by ParseHttpResponse, the only HTTP response parser of the tests: the
// head by the proxy's own ResponseParser and chunked bodies by its ChunkedDecoder
// (//proxy/http:parser), so what the tests accept is what the proxy itself accepts from an
// upstream (see docs/http-rules.md).
#ifndef LB_TESTS_TEST_COMMON_HTTP_CLIENT_H_
#define LB_TESTS_TEST_COMMON_HTTP_CLIENT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lb::testing {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  // Path and query.
  // Sent in this order after "Host:". Content-Length and "Connection: close" are added unless
  // present here (Content-Length only when there is a body or the method is POST/PUT/PATCH, and
  // never when Transfer-Encoding is given).
  HttpHeaders headers;
  std::string body;
};

struct HttpResponse {
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  int status = 0;
  std::string reason;
  HttpHeaders headers;  // As received, in order (names not case-folded).
  std::string body;     // De-chunked if the response was chunked.
  bool chunked = false;
  // Status codes of interim (1xx) responses that preceded this one, e.g. 100 Continue (101 is
  // final, not interim).
  std::vector<int> interim;
  // The bytes of this response, interim ones included. From HttpCall: every byte the connection
  // carried (anything after the response is an error there).
  std::string raw;

  // Value of the first header with this name (case-insensitive), or "" if absent.
  std::string Header(absl::string_view name) const;
  bool HasHeader(absl::string_view name) const;
};

// Connects to 127.0.0.1:`port`, sends `request`, reads one complete response (framed by
// Content-Length, chunked encoding, or the connection closing) and waits for the server to
// close. Fails on connect errors (kUnavailable), on a connection closed before the response is
// complete (kUnavailable), on a malformed response or bytes after it (kInvalidArgument), and
// once `timeout` has passed in total (kDeadlineExceeded).
absl::StatusOr<HttpResponse> HttpCall(int port, const HttpRequest& request,
                                      absl::Duration timeout = absl::Seconds(10));

// Like HttpCall but sends exactly `raw_request`. `head` says the response has no body.
absl::StatusOr<HttpResponse> HttpCallRaw(int port, absl::string_view raw_request,
                                         absl::Duration timeout = absl::Seconds(10),
                                         bool head = false);

// Shorthands.
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     const HttpHeaders& headers = {});
absl::StatusOr<HttpResponse> HttpPost(int port, const std::string& target, const std::string& body,
                                      const HttpHeaders& headers = {});

// The value of one series ("name" or "name{labels}", exactly as rendered) of the Prometheus
// text that GET `path` answers; kNotFound if it is not there.
absl::StatusOr<uint64_t> PrometheusValue(int port, const std::string& path,
                                         const std::string& series);

// The bytes HttpCall would send for `request` to 127.0.0.1:`port`.
std::string SerializeRequest(int port, const HttpRequest& request);

// Parses one response from the front of `bytes`. kUnavailable while it is incomplete: with
// `closed` false, a response without Content-Length and not chunked is incomplete because its
// body runs to the end of the connection. kInvalidArgument if it is malformed. `head`: the
// response to a HEAD request (no body).
//
// Without `consumed`, `bytes` is everything one connection carries: once `closed`, bytes after
// the response are malformed. With `consumed` (keep-alive and pipelined responses), bytes after
// the response are left alone and, on success, `*consumed` is how many bytes the response used.
absl::StatusOr<HttpResponse> ParseHttpResponse(absl::string_view bytes, bool head, bool closed,
                                               size_t* consumed = nullptr);

// One client TCP connection to 127.0.0.1:port (TCP_NODELAY); keeps bytes received beyond a
// response for the next Read. Used by one thread at a time.
class Connection {
 public:
  // kUnavailable if refused, kDeadlineExceeded after `timeout`.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      int port, absl::Duration timeout = absl::Seconds(5));
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends all of `bytes`. kUnavailable if the peer closed or reset the connection (errno in
  // the message), kDeadlineExceeded after `timeout`.
  absl::Status Send(absl::string_view bytes, absl::Duration timeout = absl::Seconds(5));
  // Reads one response (collecting interim 1xx) with ParseHttpResponse. `head`: the response to
  // a HEAD request. kUnavailable if the connection ends first, kDeadlineExceeded after
  // `timeout`, kInvalidArgument if malformed.
  absl::StatusOr<HttpResponse> Read(absl::Duration timeout = absl::Seconds(10), bool head = false);
  // Sends a GET (HTTP/1.1, keep-alive, "Host: test") and reads the response.
  absl::StatusOr<HttpResponse> Get(const std::string& target, const HttpHeaders& headers = {},
                                   absl::Duration timeout = absl::Seconds(10));
  // Returns whatever arrives within `timeout` (stops early once `want` bytes are buffered, or at
  // the end of the connection).
  std::string ReadRaw(size_t want, absl::Duration timeout);
  // True if the peer closes (EOF or reset) within `timeout`. Bytes that arrive meanwhile are
  // appended to `extra` (if given) and otherwise dropped.
  bool WaitClosed(absl::Duration timeout, std::string* extra = nullptr);
  // Closes our write side.
  void HalfClose();
  bool eof() const { return eof_; }
  int fd() const { return fd_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  // Reads once, waiting up to `deadline`; false (with `error` set if given) on EOF, error or
  // timeout.
  bool Fill(absl::Time deadline, std::string* error);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_HTTP_CLIENT_H_
