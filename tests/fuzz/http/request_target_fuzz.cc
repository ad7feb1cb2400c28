// Fuzz target for proxy/http/request_target.h (absolute-form targets and path normalisation).
//
// Input: byte 0 picks the options (bit 0 normalize, bit 1 merge_slashes) and the method (bit 2:
// CONNECT); the rest up to the first '\n' is the request target, the rest after it the Host
// value. Invariants, for every input:
//  - when the target is accepted and not left alone (CONNECT, "*", empty), it is origin-form
//    ('/' first), its query is the input's query byte for byte, and with normalize on no path
//    segment is "." or ".." (also spelt %2e); with merge_slashes no "//" in the path;
//  - canonicalizing the result again changes nothing (idempotent);
//  - an absolute-form target replaces Host with its authority, which is non-empty, has no '@',
//    and is a substring of the input target;
//  - NormalizePath's output starts with '/' and normalising it again changes nothing.
// Runs as an ordinary test through request_target_fuzz_test.cc; build with libFuzzer like
// http_parser_fuzz.cc (add proxy/http/request_target.cc and proxy/http/header_map.cc).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proxy/http/header_map.h"
#include "proxy/http/request_target.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "request_target_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

absl::string_view PathOf(absl::string_view target) { return target.substr(0, target.find('?')); }
absl::string_view QueryOf(absl::string_view target) {
  size_t q = target.find('?');
  return q == absl::string_view::npos ? absl::string_view() : target.substr(q);
}

bool HasDotSegment(absl::string_view path) {
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == absl::string_view::npos) end = path.size();
    std::string seg(path.substr(start, end - start));
    for (size_t i = 0; (i = seg.find("%2")) != std::string::npos;) {
      if (i + 2 < seg.size() && (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
        seg.replace(i, 3, ".");
      } else {
        seg[i] = '_';  // Not an encoded dot: leave the rest alone.
      }
    }
    if (seg == "." || seg == "..") return true;
    start = end + 1;
  }
  return false;
}

void CheckNormalized(absl::string_view target, const lb::http::PathOptions& options) {
  Check(!target.empty() && target[0] == '/', "origin-form after canonicalization");
  if (options.normalize) Check(!HasDotSegment(PathOf(target)), "dot-segment left in the path");
  if (options.merge_slashes) Check(!absl::StrContains(PathOf(target), "//"), "'//' left");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  lb::http::PathOptions options;
  options.normalize = (flags & 1) != 0;
  options.merge_slashes = (flags & 2) != 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nl = input.find('\n');
  const std::string target = input.substr(0, nl);
  const std::string host = nl == std::string::npos ? "" : input.substr(nl + 1);

  lb::http::RequestHeaderMapPtr h = lb::http::NewRequestHeaderMap();
  h->method = (flags & 4) != 0 ? lb::http::Method::kConnect : lb::http::Method::kGet;
  h->target = target;
  h->host = host;
  h->has_host = !host.empty();
  if (h->has_host) h->Add("Host", host);
  absl::Status s = lb::http::CanonicalizeRequestTarget(options, *h);
  if (s.ok()) {
    const bool left_alone = target.empty() || target == "*" || (flags & 4) != 0;
    if (left_alone) {
      Check(h->target == target, "a target left alone was changed");
    } else {
      CheckNormalized(h->target, options);
      Check(QueryOf(h->target) == QueryOf(target), "query changed");
      if (target[0] != '/') {
        Check(!h->host.empty(), "absolute-form without an authority");
        Check(!absl::StrContains(h->host, '@'), "userinfo kept in the authority");
        Check(absl::StrContains(target, h->host), "authority not from the target");
        auto field = h->Find("host");
        Check(field && field->value == h->host, "Host field not replaced");
      }
      // Idempotent.
      const std::string once(h->target);
      absl::Status again = lb::http::CanonicalizeRequestTarget(options, *h);
      Check(again.ok(), "canonical target refused the second time");
      Check(h->target == once, "canonicalization not idempotent");
    }
  }
  if (!target.empty() && target[0] == '/') {
    std::string out;
    if (lb::http::NormalizePath(target, options, &out)) {
      CheckNormalized(out, options);
      Check(QueryOf(out) == QueryOf(target), "NormalizePath changed the query");
      std::string twice;
      Check(!lb::http::NormalizePath(out, options, &twice), "NormalizePath not idempotent");
    }
  }
  return 0;
}
