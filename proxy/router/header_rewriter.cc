#include "proxy/router/header_rewriter.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace lb::proxy::router {

void RewriteRequest(const RequestRewrite& rewrite, http::RequestHeaderMap& headers) {
  std::string xff;
  const bool expect = headers.expect_100_continue;
  headers.RemoveIf([&xff, expect](const http::HeaderMap::Field& f) {
    if (http::EqualsIgnoreCase(f.name, "x-forwarded-for")) {
      absl::StrAppend(&xff, xff.empty() ? "" : ", ", f.value);
      return true;
    }
    return http::EqualsIgnoreCase(f.name, "x-forwarded-proto") ||
           (expect && http::EqualsIgnoreCase(f.name, "expect"));
  });
  absl::StrAppend(&xff, xff.empty() ? "" : ", ", rewrite.client_ip);
  if (!headers.has_host) headers.Add("Host", "localhost");
  headers.Add("X-Forwarded-For", xff);
  headers.Add("X-Forwarded-Proto", rewrite.scheme);
}

}  // namespace lb::proxy::router
