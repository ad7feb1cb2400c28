// gRPC as the proxy sees it: which requests are gRPC calls, and how an answer the proxy makes
// itself (no route, no healthy endpoint, overflow, timeouts, limits) is said to a gRPC client:
// HTTP 200, content-type application/grpc, grpc-status and a percent-encoded grpc-message, in
// one HEADERS frame with END_STREAM on HTTP/2 ("Trailers-Only", gRPC's PROTOCOL-HTTP2.md).
// gRPC-Web (application/grpc-web*) is not gRPC here.
#ifndef LB_PROXY_HTTP_GRPC_H_
#define LB_PROXY_HTTP_GRPC_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/http/header_map.h"

namespace lb::http {

// gRPC status codes (grpc/doc/statuscodes.md).
enum class GrpcCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "application/grpc", "application/grpc+proto", "application/grpc;..." (ASCII case-insensitive).
bool IsGrpcContentType(absl::string_view content_type);
bool IsGrpcRequest(const RequestHeaderMap& headers);

// The gRPC status of a local reply the proxy would otherwise answer with `http_status`:
//   404 no route, 501                      UNIMPLEMENTED
//   502/503 no endpoint, overflow, connect UNAVAILABLE
//   504/408 timeouts                       DEADLINE_EXCEEDED
//   413/431 limits                         RESOURCE_EXHAUSTED
//   400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 429 UNAVAILABLE, else UNKNOWN.
GrpcCode GrpcStatusForLocalReply(int http_status);

// The grpc-timeout request header (gRPC's PROTOCOL-HTTP2.md): 1 to 8 ASCII digits, then one
// unit of H, M, S, m, u, n. nullopt if malformed (gRPC says to ignore such a value).
std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value);
// A grpc-timeout value for `timeout` (> 0): the finest unit whose value fits 8 digits, rounded
// up so that the deadline is never earlier than `timeout`.
std::string FormatGrpcTimeout(absl::Duration timeout);

// grpc-message encoding: bytes outside 0x20-0x7E, and '%', as %XX.
std::string PercentEncodeGrpcMessage(absl::string_view message);

// The Trailers-Only answer for a local reply: status 200, content-type, grpc-status,
// grpc-message, Content-Length 0 (the caller ends the stream with the head).
void MakeGrpcLocalReply(int http_status, absl::string_view message, ResponseHeaderMap& headers);

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_GRPC_H_
