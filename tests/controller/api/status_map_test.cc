// Tests of the absl::Status -> HTTP / gRPC translation (controller/api/status_map.cc).
#include "controller/api/status_map.h"

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace lb::api {
namespace {

TEST(HttpStatusForTest, EveryCode) {
  struct Case {
    absl::StatusCode code;
    int http;
  };
  using C = absl::StatusCode;
  for (const Case& c : {
           Case{C::kOk, 200},
           Case{C::kCancelled, 500},
           Case{C::kUnknown, 500},
           Case{C::kInvalidArgument, 400},
           Case{C::kDeadlineExceeded, 504},
           Case{C::kNotFound, 404},
           Case{C::kAlreadyExists, 409},
           Case{C::kPermissionDenied, 403},
           Case{C::kResourceExhausted, 429},
           Case{C::kFailedPrecondition, 409},
           Case{C::kAborted, 409},
           Case{C::kOutOfRange, 400},
           Case{C::kUnimplemented, 501},
           Case{C::kInternal, 500},
           Case{C::kUnavailable, 503},
           Case{C::kDataLoss, 500},
           Case{C::kUnauthenticated, 401},
       }) {
    absl::Status s = c.code == C::kOk ? absl::OkStatus() : absl::Status(c.code, "m");
    EXPECT_EQ(HttpStatusFor(s), c.http) << absl::StatusCodeToString(c.code);
  }
}

TEST(ToGrpcStatusTest, KeepsCodeAndMessage) {
  using C = absl::StatusCode;
  struct Case {
    C absl_code;
    grpc::StatusCode grpc_code;
  };
  for (const Case& c : {
           Case{C::kCancelled, grpc::StatusCode::CANCELLED},
           Case{C::kUnknown, grpc::StatusCode::UNKNOWN},
           Case{C::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
           Case{C::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
           Case{C::kNotFound, grpc::StatusCode::NOT_FOUND},
           Case{C::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
           Case{C::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
           Case{C::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
           Case{C::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
           Case{C::kAborted, grpc::StatusCode::ABORTED},
           Case{C::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
           Case{C::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
           Case{C::kInternal, grpc::StatusCode::INTERNAL},
           Case{C::kUnavailable, grpc::StatusCode::UNAVAILABLE},
           Case{C::kDataLoss, grpc::StatusCode::DATA_LOSS},
           Case{C::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
       }) {
    grpc::Status g = ToGrpcStatus(absl::Status(c.absl_code, "cluster \"x\" not found"));
    EXPECT_EQ(g.error_code(), c.grpc_code) << absl::StatusCodeToString(c.absl_code);
    EXPECT_EQ(g.error_message(), "cluster \"x\" not found");
    EXPECT_EQ(g.error_details(), "");
  }
}

TEST(ToGrpcStatusTest, Ok) {
  grpc::Status g = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(g.ok());
  EXPECT_EQ(g.error_message(), "");
}

TEST(ToGrpcStatusTest, MessageWithNulAndNonAsciiIsKept) {
  std::string message("a\0b \xc3\xa9", 6);
  grpc::Status g = ToGrpcStatus(absl::InternalError(message));
  EXPECT_EQ(g.error_message(), message);
}

}  // namespace
}  // namespace lb::api
