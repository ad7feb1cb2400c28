// What a request's target means for routing, the same for every codec:
//  - absolute-form ("http://host:port/p?q", RFC 9112 3.2.2): the authority comes from the
//    target and replaces the Host field; the target becomes origin-form ("/p?q"). A scheme other
//    than http/https, userinfo ("user@host") or an empty authority is refused (400).
//  - the path (origin-form only; "*" and authority-form are left alone) is normalised before
//    route matching and sent upstream as normalised, so the proxy and the upstream see the same
//    path: dot-segments removed (RFC 3986 5.2.4, "%2e" counting as '.'), and optionally runs of
//    '/' merged. The query is never touched.
#ifndef LB_PROXY_HTTP_REQUEST_TARGET_H_
#define LB_PROXY_HTTP_REQUEST_TARGET_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proxy/http/header_map.h"

namespace lb::http {

struct PathOptions {
  bool normalize = true;  // Remove dot-segments.
  bool merge_slashes = false;
};

// The path part of `path` ("/a/../b?q" -> "/b?q") normalised per `options`; `path` must start
// with '/'. Returns false (and leaves `out` alone) when nothing changes.
bool NormalizePath(absl::string_view path, const PathOptions& options, std::string* out);

// Applies the rules above to a request head. InvalidArgument (the 400's reason) for a target
// that cannot be routed.
absl::Status CanonicalizeRequestTarget(const PathOptions& options, RequestHeaderMap& headers);

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_REQUEST_TARGET_H_
