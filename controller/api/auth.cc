#include "controller/api/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/process/secret_file.h"

namespace lb::api {

absl::StatusOr<TokenAuth> TokenAuth::FromFile(const std::string& path) {
  // One descriptor for the checks and the read; mode checked as ssh does for private keys.
  absl::StatusOr<std::string> contents = process::ReadSecretFile(path);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat("auth token file: ", contents.status().message()));
  }
  return Parse(*contents, path);
}

TokenAuth::TokenAuth(std::vector<std::pair<std::string, std::string>> tokens) {
  for (auto& [name, token] : tokens) {
    if (!token.empty()) tokens_.emplace_back(std::move(name), std::move(token));
  }
}

namespace {

bool ValidTokenName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '@' && c != '-') return false;
  }
  return true;
}

// Constant-time comparison: the time taken must not reveal how much of the token matched.
bool SameToken(absl::string_view given, absl::string_view token) {
  unsigned char diff = given.size() != token.size();
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(token[i] ^ (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<TokenAuth> TokenAuth::Parse(absl::string_view contents, absl::string_view path) {
  absl::string_view all = absl::StripAsciiWhitespace(contents);
  if (all.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file: ", path, " is empty"));
  }
  // One bare token (the original format): no line break and no ':'.
  if (all.find_first_of(":\n") == absl::string_view::npos) return TokenAuth(std::string(all));
  std::vector<std::pair<std::string, std::string>> tokens;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(all, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    absl::string_view name =
        absl::StripAsciiWhitespace(line.substr(0, colon == absl::string_view::npos ? 0 : colon));
    absl::string_view token = colon == absl::string_view::npos
                                  ? absl::string_view()
                                  : absl::StripAsciiWhitespace(line.substr(colon + 1));
    // The line itself may hold a secret: errors name its number only.
    if (!ValidTokenName(name) || token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "auth token file ", path, " line ", number,
          ": expected NAME:TOKEN (NAME of 1-64 characters [A-Za-z0-9_.@-], TOKEN not empty)"));
    }
    for (const auto& [n, t] : tokens) {
      if (n == name || t == token) {
        return absl::InvalidArgumentError(absl::StrCat("auth token file ", path, " line ", number,
                                                       ": the ", n == name ? "name" : "token",
                                                       " of an earlier line again"));
      }
    }
    tokens.emplace_back(std::string(name), std::string(token));
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file ", path, " holds no token"));
  }
  return TokenAuth(std::move(tokens));
}

absl::StatusOr<std::string> TokenAuth::Authenticate(absl::string_view authorization) const {
  if (tokens_.empty()) return std::string();
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
  // Every token is compared, so the time taken does not reveal which one matched.
  const std::string* found = nullptr;
  for (const auto& [name, token] : tokens_) {
    if (SameToken(given, token)) found = &name;
  }
  if (found == nullptr) return absl::UnauthenticatedError("invalid bearer token");
  return *found;
}

}  // namespace lb::api
