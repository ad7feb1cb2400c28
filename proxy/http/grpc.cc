#include "proxy/http/grpc.h"

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
