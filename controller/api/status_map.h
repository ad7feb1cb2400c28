// absl::Status to HTTP and gRPC: the one place where error codes are translated.
#ifndef LB_CONTROLLER_API_STATUS_MAP_H_
#define LB_CONTROLLER_API_STATUS_MAP_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace lb::api {

// 400 kInvalidArgument/kOutOfRange, 401 kUnauthenticated, 403 kPermissionDenied,
// 404 kNotFound, 409 kAlreadyExists/kFailedPrecondition/kAborted, 429 kResourceExhausted,
// 501 kUnimplemented, 503 kUnavailable, 504 kDeadlineExceeded, 500 otherwise.
int HttpStatusFor(const absl::Status& status);

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace lb::api

#endif  // LB_CONTROLLER_API_STATUS_MAP_H_
