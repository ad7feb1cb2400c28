#include "controller/api/auth.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace lb::api {

absl::StatusOr<TokenAuth> TokenAuth::FromFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth token file ", path, " is not a regular file"));
  }
  // As ssh does for private keys: a secret others can read is no secret.
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "auth token file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path,
        st.st_mode & 07777, path));
  }
  std::ifstream in(path);
  if (!in) {
    int err = errno;
    std::string msg = absl::StrCat("cannot read auth token file ", path, ": ", strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(msg) : absl::NotFoundError(msg);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(ss.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file ", path, " is empty"));
  }
  return TokenAuth(std::move(token));
}

absl::Status TokenAuth::Check(absl::string_view authorization) const {
  if (token_.empty()) return absl::OkStatus();
  // RFC 9110 11.1: the scheme is case-insensitive, then one or more spaces.
  absl::string_view given = authorization;
  constexpr absl::string_view kScheme = "bearer";
  if (given.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(given.substr(0, kScheme.size()), kScheme) ||
      given[kScheme.size()] != ' ') {
    return absl::UnauthenticatedError("this call needs an Authorization: Bearer token");
  }
  given.remove_prefix(kScheme.size());
  while (absl::ConsumePrefix(&given, " ")) {
  }
  // Constant-time comparison: the time taken must not reveal how much of the token matched.
  unsigned char diff = given.size() != token_.size();
  for (size_t i = 0; i < token_.size(); ++i) {
    diff |= static_cast<unsigned char>(token_[i] ^ (i < given.size() ? given[i] : 0));
  }
  if (diff != 0) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

}  // namespace lb::api
