// Fuzz target for the grpc-timeout parser and formatter of proxy/http/grpc.h.
//
// Input: a grpc-timeout header value. Invariants, for every input:
//  - ParseGrpcTimeout accepts exactly 1 to 8 ASCII digits followed by one of H M S m u n, and
//    what it returns is not negative and at most 99999999 hours;
//  - an accepted value formats (FormatGrpcTimeout) to an accepted value that is never shorter
//    and, unless the value was 0, shorter than the original plus one unit of the result
//    (rounding up only);
//  - formatting is idempotent: Format(Parse(Format(d))) == Format(d).
// Runs as an ordinary test through grpc_timeout_fuzz_test.cc; build with libFuzzer like
// http_parser_fuzz.cc (add proxy/http/grpc.cc and proxy/http/header_map.cc).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/http/grpc.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "grpc_timeout_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool WellFormed(absl::string_view v) {
  if (v.size() < 2 || v.size() > 9) return false;
  for (char c : v.substr(0, v.size() - 1)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::string_view("HMSmun").find(v.back()) != absl::string_view::npos;
}

absl::Duration UnitOf(char c) {
  switch (c) {
    case 'H':
      return absl::Hours(1);
    case 'M':
      return absl::Minutes(1);
    case 'S':
      return absl::Seconds(1);
    case 'm':
      return absl::Milliseconds(1);
    case 'u':
      return absl::Microseconds(1);
    default:
      return absl::Nanoseconds(1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const std::optional<absl::Duration> d = lb::http::ParseGrpcTimeout(input);
  Check(d.has_value() == WellFormed(input), "accepted exactly the well-formed values");
  if (!d.has_value()) return 0;
  Check(*d >= absl::ZeroDuration() && *d <= absl::Hours(99999999), "value in range");
  const std::string formatted = lb::http::FormatGrpcTimeout(*d);
  Check(WellFormed(formatted), "formatted value well-formed");
  const std::optional<absl::Duration> back = lb::http::ParseGrpcTimeout(formatted);
  Check(back.has_value() && *back >= *d, "formatting never shortens");
  if (*d > absl::ZeroDuration()) {
    Check(*back < *d + UnitOf(formatted.back()), "formatting rounds up by less than a unit");
  }
  Check(lb::http::FormatGrpcTimeout(*back) == formatted, "formatting idempotent");
  return 0;
}
