#include "proxy/http/request_target.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lb::http {
namespace {

// "." or ".." with each dot possibly written "%2e"/"%2E": 1 or 2; else 0.
int DotSegment(absl::string_view segment) {
  int dots = 0;
  while (!segment.empty()) {
    if (segment[0] == '.') {
      segment.remove_prefix(1);
    } else if (segment.size() >= 3 && segment[0] == '%' && segment[1] == '2' &&
               (segment[2] == 'e' || segment[2] == 'E')) {
      segment.remove_prefix(3);
    } else {
      return 0;
    }
    if (++dots > 2) return 0;
  }
  return dots;
}

}  // namespace

bool NormalizePath(absl::string_view path, const PathOptions& options, std::string* out) {
  const size_t query = path.find('?');
  absl::string_view p = path.substr(0, query);
  absl::string_view rest = query == absl::string_view::npos ? "" : path.substr(query);
  // Segments after the leading '/'; a trailing empty one keeps a trailing slash.
  std::vector<absl::string_view> kept;
  bool changed = false;
  size_t start = 1;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == absl::string_view::npos) end = p.size();
    absl::string_view segment = p.substr(start, end - start);
    const bool last = end == p.size();
    const int dots = options.normalize ? DotSegment(segment) : 0;
    if (dots == 1) {
      changed = true;
      if (last) kept.emplace_back();  // "/a/." -> "/a/"
    } else if (dots == 2) {
      changed = true;
      if (!kept.empty()) kept.pop_back();
      if (last) kept.emplace_back();  // "/a/b/.." -> "/a/"
    } else if (segment.empty() && !last && options.merge_slashes) {
      changed = true;
    } else {
      kept.push_back(segment);
    }
    start = end + 1;
  }
  if (!changed) return false;
  std::string result;
  result.reserve(path.size());
  for (absl::string_view s : kept) absl::StrAppend(&result, "/", s);
  if (result.empty()) result = "/";
  absl::StrAppend(&result, rest);
  *out = std::move(result);
  return true;
}

absl::Status CanonicalizeRequestTarget(const PathOptions& options, RequestHeaderMap& headers) {
  absl::string_view target = headers.target;
  if (target.empty() || target == "*" || headers.method == Method::kConnect) {
    return absl::OkStatus();
  }
  if (target[0] != '/') {
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    const size_t colon = target.find("://");
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("request target is neither a path nor an absolute URI");
    }
    absl::string_view scheme = target.substr(0, colon);
    if (!absl::EqualsIgnoreCase(scheme, "http") && !absl::EqualsIgnoreCase(scheme, "https")) {
      return absl::InvalidArgumentError("request target has an unsupported scheme");
    }
    absl::string_view after = target.substr(colon + 3);
    const size_t end = after.find_first_of("/?");
    absl::string_view authority = after.substr(0, end);
    if (authority.empty()) return absl::InvalidArgumentError("request target has no host");
    if (absl::StrContains(authority, '@')) {
      return absl::InvalidArgumentError("request target carries user information");
    }
    absl::string_view rest = end == absl::string_view::npos ? "" : after.substr(end);
    // The views stay valid: the target (and so the authority) lives in the map's raw bytes.
    headers.Remove("host");
    headers.Add("Host", authority);
    headers.host = authority;
    headers.has_host = true;
    if (!rest.empty() && rest[0] == '/') {
      headers.target = rest;
    } else {
      headers.owned_target = absl::StrCat("/", rest);
      headers.target = headers.owned_target;
    }
  }
  std::string normalized;
  if (NormalizePath(headers.target, options, &normalized)) {
    headers.owned_target = std::move(normalized);
    headers.target = headers.owned_target;
  }
  return absl::OkStatus();
}

}  // namespace lb::http
