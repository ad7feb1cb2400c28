// Tests of bearer-token authentication (controller/api/auth.cc).
#include "controller/api/auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lb::api {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = TempPath(name);
  {
    std::ofstream out(path, std::ios::trunc);
    out << content;
  }
  chmod(path.c_str(), 0600);  // A token file others can read is refused.
  return path;
}

void ExpectUnauthenticated(const absl::Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_EQ(s.message(), message);
}

TEST(TokenAuthTest, DisabledAllowsEverything) {
  TokenAuth auth;
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Check("").ok());
  EXPECT_TRUE(auth.Check("Bearer anything").ok());
  EXPECT_TRUE(auth.Check("garbage").ok());
  EXPECT_FALSE(TokenAuth("").enabled());
}

TEST(TokenAuthTest, AcceptsExactlyBearerToken) {
  TokenAuth auth("s3cret");
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.Check("Bearer s3cret").ok());
}

TEST(TokenAuthTest, SchemeIsCaseInsensitiveAndSpacesMayRepeat) {
  // RFC 9110 11.1: auth-scheme is case-insensitive; credentials = auth-scheme 1*SP token68.
  TokenAuth auth("s3cret");
  for (const char* header :
       {"bearer s3cret", "BEARER s3cret", "bEaReR s3cret", "Bearer  s3cret", "bearer   s3cret"}) {
    EXPECT_TRUE(auth.Check(header).ok()) << header;
  }
}

TEST(TokenAuthTest, MissingOrMalformedHeader) {
  TokenAuth auth("s3cret");
  const std::string needs = "this call needs an Authorization: Bearer token";
  ExpectUnauthenticated(auth.Check(""), needs);
  ExpectUnauthenticated(auth.Check("s3cret"), needs);
  ExpectUnauthenticated(auth.Check("Bearer\ts3cret"), needs);
  ExpectUnauthenticated(auth.Check("Bearers3cret"), needs);
  ExpectUnauthenticated(auth.Check("Bearerx s3cret"), needs);
  ExpectUnauthenticated(auth.Check("Basic czNjcmV0"), needs);
  ExpectUnauthenticated(auth.Check("Bearer"), needs);
  ExpectUnauthenticated(auth.Check(" Bearer s3cret"), needs);
}

TEST(TokenAuthTest, WrongToken) {
  TokenAuth auth("s3cret");
  const std::string invalid = "invalid bearer token";
  ExpectUnauthenticated(auth.Check("Bearer "), invalid);
  ExpectUnauthenticated(auth.Check("Bearer s3cre"), invalid);    // Prefix.
  ExpectUnauthenticated(auth.Check("Bearer s3crett"), invalid);  // Longer.
  ExpectUnauthenticated(auth.Check("Bearer s3cret "), invalid);  // Trailing space.
  ExpectUnauthenticated(auth.Check("bearer  S3cret"), invalid);
  ExpectUnauthenticated(auth.Check("Bearer S3CRET"), invalid);
  ExpectUnauthenticated(auth.Check("Bearer x3cret"), invalid);
  ExpectUnauthenticated(auth.Check(std::string("Bearer s3cret\0", 14)), invalid);
  // A given token that is the stored one followed by NUL bytes must not match either.
  TokenAuth nul_padded(std::string("ab"));
  ExpectUnauthenticated(nul_padded.Check(std::string("Bearer ab\0\0", 11)), invalid);
}

TEST(TokenAuthTest, FromFileTrimsWhitespace) {
  std::string path = WriteFile("token_ok", "  s3cret\n\n");
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->enabled());
  EXPECT_TRUE(auth->Check("Bearer s3cret").ok());
  EXPECT_EQ(auth->Check("Bearer   s3cret ").code(), absl::StatusCode::kUnauthenticated);
}

TEST(TokenAuthTest, BareTokenIsNamedToken) {
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(WriteFile("token_bare", "s3cret\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  absl::StatusOr<std::string> name = auth->Authenticate("Bearer s3cret");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "token");
  EXPECT_EQ(*TokenAuth().Authenticate(""), "");
}

TEST(TokenAuthTest, NamedTokens) {
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(
      WriteFile("token_named", "# operators\n\nops: tok-ops \nci:tok-ci:with-colon\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(*auth->Authenticate("Bearer tok-ops"), "ops");
  EXPECT_EQ(*auth->Authenticate("bearer tok-ci:with-colon"), "ci");
  ExpectUnauthenticated(auth->Check("Bearer ops"), "invalid bearer token");
  ExpectUnauthenticated(auth->Check("Bearer ops:tok-ops"), "invalid bearer token");
  ExpectUnauthenticated(auth->Check(""), "this call needs an Authorization: Bearer token");
}

TEST(TokenAuthTest, MalformedNamedTokenFiles) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ops:a\nsecret-without-name\n", "line 2: expected NAME:TOKEN"},
      {"ops:\n", "line 1: expected NAME:TOKEN"},
      {"bad name:x\n", "line 1: expected NAME:TOKEN"},
      {"ops:a\nops:b\n", "line 2: the name of an earlier line again"},
      {"ops:a\nci:a\n", "line 2: the token of an earlier line again"},
      {"# only a comment\nops:a\n#x\n", ""},
  };
  for (const auto& [content, want] : cases) {
    absl::StatusOr<TokenAuth> auth = TokenAuth::Parse(content, "F");
    if (want.empty()) {
      EXPECT_TRUE(auth.ok()) << content << auth.status();
      continue;
    }
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument) << content;
    EXPECT_THAT(std::string(auth.status().message()), ::testing::HasSubstr(want)) << content;
    // Never the secret itself.
    EXPECT_THAT(std::string(auth.status().message()), ::testing::Not(::testing::HasSubstr(":a")));
  }
}

TEST(TokenAuthTest, FromFileEmpty) {
  for (const char* content : {"", " \n\t\r\n"}) {
    std::string path = WriteFile("token_empty", content);
    absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(auth.status().message(), absl::StrCat("auth token file: ", path, " is empty"));
  }
}

TEST(TokenAuthTest, FromFileMissing) {
  std::string path = TempPath("no_such_token_file");
  std::remove(path.c_str());
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(auth.status().message(),
            absl::StrCat("auth token file: cannot read ", path, ": No such file or directory"));
}

TEST(TokenAuthTest, FromFileNotARegularFile) {
  for (const std::string& path : {TempPath(""), std::string("/dev/null")}) {
    absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition) << path;
    EXPECT_EQ(auth.status().message(),
              absl::StrCat("auth token file: ", path, " is not a regular file"));
  }
}

TEST(TokenAuthTest, FromFileAccessibleByOthersIsRefused) {
  std::string path = WriteFile("token_open", "s3cret");
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(auth.status().message(),
            absl::StrCat("auth token file: ", path,
                         " holds a secret but has mode 0640: group and others must have no access "
                         "(chmod 600 ",
                         path, ")"));
  ASSERT_EQ(chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(TokenAuth::FromFile(path).ok());
}

TEST(TokenAuthTest, FromFileUnreadable) {
  if (geteuid() == 0) GTEST_SKIP() << "root can read any file";
  std::string path = WriteFile("token_unreadable", "s3cret");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth.status().message(),
            absl::StrCat("auth token file: cannot read ", path, ": Permission denied"));
}

}  // namespace
}  // namespace lb::api
