// Bearer-token authentication for mutating calls (REST and gRPC alike).
#ifndef LB_CONTROLLER_API_AUTH_H_
#define LB_CONTROLLER_API_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::api {

// Immutable after construction; safe to share between threads.
class TokenAuth {
 public:
  // No token: every call is allowed.
  TokenAuth() = default;
  explicit TokenAuth(std::string token) : token_(std::move(token)) {}

  // Reads the token from a file (surrounding whitespace trimmed). kInvalidArgument if the file
  // is empty, kNotFound/kPermissionDenied if it can't be read, kFailedPrecondition if group or
  // others have any access to it (as ssh refuses such keys).
  static absl::StatusOr<TokenAuth> FromFile(const std::string& path);

  bool enabled() const { return !token_.empty(); }

  // `authorization` is the Authorization header (or gRPC "authorization" metadata) value.
  // kUnauthenticated unless auth is disabled or it is "Bearer <token>": the scheme in any case,
  // one or more spaces, the exact token (RFC 9110).
  absl::Status Check(absl::string_view authorization) const;

 private:
  std::string token_;
};

}  // namespace lb::api

#endif  // LB_CONTROLLER_API_AUTH_H_
