#include "proxy/http/grpc.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lb::http {

bool IsGrpcContentType(absl::string_view content_type) {
  constexpr absl::string_view kGrpc = "application/grpc";
  if (!absl::StartsWithIgnoreCase(content_type, kGrpc)) return false;
  const absl::string_view rest = content_type.substr(kGrpc.size());
  return rest.empty() || rest[0] == '+' || rest[0] == ';';
}

bool IsGrpcRequest(const RequestHeaderMap& headers) {
  std::optional<HeaderMap::Field> type = headers.Find("content-type");
  return type.has_value() && IsGrpcContentType(type->value);
}

GrpcCode GrpcStatusForLocalReply(int http_status) {
  switch (http_status) {
    case 400:
      return GrpcCode::kInternal;
    case 401:
      return GrpcCode::kUnauthenticated;
    case 403:
      return GrpcCode::kPermissionDenied;
    case 404:
    case 501:
      return GrpcCode::kUnimplemented;
    case 408:
    case 504:
      return GrpcCode::kDeadlineExceeded;
    case 413:
    case 431:
      return GrpcCode::kResourceExhausted;
    case 429:
    case 502:
    case 503:
      return GrpcCode::kUnavailable;
    default:
      return GrpcCode::kUnknown;
  }
}

std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  switch (value.back()) {
    case 'H':
      return absl::Hours(n);
    case 'M':
      return absl::Minutes(n);
    case 'S':
      return absl::Seconds(n);
    case 'm':
      return absl::Milliseconds(n);
    case 'u':
      return absl::Microseconds(n);
    case 'n':
      return absl::Nanoseconds(n);
    default:
      return std::nullopt;
  }
}

std::string FormatGrpcTimeout(absl::Duration timeout) {
  constexpr int64_t kMax = 99999999;  // 8 digits.
  struct Unit {
    absl::Duration size;
    char name;
  };
  static const Unit kUnits[] = {{absl::Nanoseconds(1), 'n'},  {absl::Microseconds(1), 'u'},
                                {absl::Milliseconds(1), 'm'}, {absl::Seconds(1), 'S'},
                                {absl::Minutes(1), 'M'},      {absl::Hours(1), 'H'}};
  timeout = std::max(timeout, absl::Nanoseconds(1));
  for (const Unit& u : kUnits) {
    absl::Duration rest;
    // Compared before rounding up: a huge quotient saturates at the int64 maximum.
    const int64_t n = absl::IDivDuration(timeout, u.size, &rest);
    const bool round_up = rest > absl::ZeroDuration();
    if (n < kMax || (n == kMax && !round_up)) {
      return absl::StrCat(n + (round_up ? 1 : 0), absl::string_view(&u.name, 1));
    }
  }
  return absl::StrCat(kMax, "H");
}

std::string PercentEncodeGrpcMessage(absl::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u <= 0x7e && c != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

void MakeGrpcLocalReply(int http_status, absl::string_view message, ResponseHeaderMap& headers) {
  headers.status = 200;
  headers.content_length = 0;  // No body (HTTP/1 needs the length to keep the connection).
  headers.Add("content-type", "application/grpc");
  headers.Add("grpc-status", absl::StrCat(static_cast<int>(GrpcStatusForLocalReply(http_status))));
  headers.Add("grpc-message", PercentEncodeGrpcMessage(message));
}

}  // namespace lb::http
