// Test helper: a minimal HTTP/1.1 client over a raw TCP socket, for byte-for-byte checks of
// what a server sends. One request per fresh connection (with "Connection: close"); nothing is
// added, dropped or rewritten that the caller did not ask for, and every received byte is kept.
// Its response parser (ParseHttpResponse) also serves keep-alive clients that read several
// responses from one connection (tests/proxy/integration/lb_fixture.h).
#ifndef LB_TESTS_INTEGRATION_HTTP_CLIENT_H_
#define LB_TESTS_INTEGRATION_HTTP_CLIENT_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

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
  std::string version;  // "HTTP/1.1"
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
// Content-Length, chunked encoding, or the connection closing) and closes. Fails on connect
// errors, on a connection closed before the response is complete, on a malformed response, and
// once `timeout` has passed in total.
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

}  // namespace lb::testing

#endif  // LB_TESTS_INTEGRATION_HTTP_CLIENT_H_
