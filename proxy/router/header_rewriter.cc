#include "proxy/router/header_rewriter.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace lb::proxy::router {

void RewriteRequest(const RequestRewrite& rewrite, http::RequestHeaderMap& headers) {
  std::string xff;
  bool had_xff = false;
  const bool expect = headers.expect_100_continue;
  headers.RemoveIf([&xff, &had_xff, expect](const http::HeaderMap::Field& f) {
    // Cheap first test: every name looked for starts with 'x' or 'e'.
    const char first = f.name.empty() ? '\0' : static_cast<char>(f.name[0] | 0x20);
    if (first == 'x') {
      if (http::EqualsIgnoreCase(f.name, "x-forwarded-for")) {
        absl::StrAppend(&xff, had_xff ? ", " : "", f.value);
        had_xff = true;
        return true;
      }
      return http::EqualsIgnoreCase(f.name, "x-forwarded-proto");
    }
    return expect && first == 'e' && http::EqualsIgnoreCase(f.name, "expect");
  });
  if (had_xff) absl::StrAppend(&xff, ", ", rewrite.client_ip);
  if (!headers.has_host) headers.Add("Host", "localhost");
  headers.Add("X-Forwarded-For", had_xff ? absl::string_view(xff) : rewrite.client_ip);
  headers.Add("X-Forwarded-Proto", rewrite.scheme);
}

}  // namespace lb::proxy::router
