// The request and response header changes the proxy makes on the way through, as one unit
// (hop-by-hop fields and framing are the codecs' business and never reach a map):
//   request:  X-Forwarded-For gets the client address appended (all earlier values kept, in
//             order, in one field); X-Forwarded-Proto is set to the scheme the client used;
//             a request without Host gets "Host: localhost" (HTTP/1.0 allows none, HTTP/1.1
//             upstreams require one); Expect is removed when the proxy answers 100-continue
//             itself.
// Added fields go after the client's own, in the order above.
#ifndef LB_PROXY_ROUTER_HEADER_REWRITER_H_
#define LB_PROXY_ROUTER_HEADER_REWRITER_H_

#include "absl/strings/string_view.h"
#include "proxy/http/header_map.h"

namespace lb::proxy::router {

struct RequestRewrite {
  absl::string_view client_ip;  // "192.0.2.1" / "2001:db8::1".
  absl::string_view scheme = "http";
};

void RewriteRequest(const RequestRewrite& rewrite, http::RequestHeaderMap& headers);

}  // namespace lb::proxy::router

#endif  // LB_PROXY_ROUTER_HEADER_REWRITER_H_
