// Bearer-token authentication for mutating calls (REST and gRPC alike).
#ifndef LB_CONTROLLER_API_AUTH_H_
#define LB_CONTROLLER_API_AUTH_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::api {

// The name a single bare token in a token file gets (docs/audit.md).
inline constexpr char kDefaultTokenName[] = "token";

// One or more named tokens; any of them allows every mutating call. Names are recorded in the
// audit trail, tokens never. Immutable after construction; safe to share between threads.
class TokenAuth {
 public:
  // No token: every call is allowed.
  TokenAuth() = default;
  explicit TokenAuth(std::string token) {
    if (!token.empty()) tokens_.emplace_back(kDefaultTokenName, std::move(token));
  }
  // (name, token) pairs; empty tokens are ignored.
  explicit TokenAuth(std::vector<std::pair<std::string, std::string>> tokens);

  // Reads a token file: either one bare token (named "token"), or one "NAME:TOKEN" per line
  // (NAME: [A-Za-z0-9_.@-], 1-64 characters; blank lines and lines starting with '#' skipped;
  // surrounding whitespace trimmed). kInvalidArgument if it holds no token, a malformed line
  // (by number, never its content), or a name or token twice; kNotFound/kPermissionDenied if it
  // can't be read, kFailedPrecondition if it is not a regular file or group or others have any
  // access to it (as ssh refuses such keys). Messages start with "auth token file: ".
  static absl::StatusOr<TokenAuth> FromFile(const std::string& path);
  // The same, from the file's contents; `path` names it in errors.
  static absl::StatusOr<TokenAuth> Parse(absl::string_view contents, absl::string_view path);

  bool enabled() const { return !tokens_.empty(); }

  // `authorization` is the Authorization header (or gRPC "authorization" metadata) value.
  // kUnauthenticated unless auth is disabled or it is "Bearer <token>": the scheme in any case,
  // one or more spaces, the exact token (RFC 9110).
  absl::Status Check(absl::string_view authorization) const {
    return Authenticate(authorization).status();
  }
  // As Check, and the matching token's name ("" when auth is disabled).
  absl::StatusOr<std::string> Authenticate(absl::string_view authorization) const;

 private:
  std::vector<std::pair<std::string, std::string>> tokens_;  // (name, token).
};

}  // namespace lb::api

#endif  // LB_CONTROLLER_API_AUTH_H_
