// Transport-neutral HTTP request/response for the controller's REST handlers and the proxy's
// admin handler, so they are testable without a network and the HTTP library stays behind one
// seam (evhttp_server).
#ifndef LB_COMMON_HTTP_HTTP_TYPES_H_
#define LB_COMMON_HTTP_HTTP_TYPES_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/http/response_stream.h"

namespace lb::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // Path and query, e.g. "/config?cluster=web".
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The client's address:port ("[v6]:port"), or "" when unknown (tests).
  std::string peer;
  // The subject (RFC 2253) of the client certificate verified on a TLS connection, or "".
  std::string client_cert_subject;

  // First header with this name (case-insensitive), or "".
  absl::string_view Header(absl::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // If set, `body` is ignored: the server sends the headers now and then what is written to the
  // stream (chunked), until it is closed (see response_stream.h). GET only.
  std::shared_ptr<ResponseStream> stream;
};

}  // namespace lb::http

#endif  // LB_COMMON_HTTP_HTTP_TYPES_H_
