#include "common/process/secret_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lb::process {
namespace {

using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& contents, mode_t mode) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  unlink(path.c_str());
  std::ofstream(path) << contents;
  chmod(path.c_str(), mode);
  return path;
}

TEST(SecretFileTest, OwnerOnlyFileIsReadAndTrimmed) {
  absl::StatusOr<std::string> s = ReadSecretFile(Write("ok", "  s3cret\n", 0600));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, "s3cret");
  EXPECT_EQ(*ReadSecretFile(Write("ro", "x", 0400)), "x");
}

TEST(SecretFileTest, GroupOrOtherAccessIsRefused) {
  for (mode_t mode : {0640, 0604, 0660, 0602, 0644, 0610}) {
    const std::string path = Write(absl::StrCat("mode", mode), "token", mode);
    absl::StatusOr<std::string> s = ReadSecretFile(path);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << mode;
    EXPECT_THAT(s.status().message(), HasSubstr(absl::StrCat("chmod 600 ", path)));
  }
  absl::StatusOr<std::string> s = ReadSecretFile(Write("m644", "token", 0644));
  EXPECT_THAT(s.status().message(), HasSubstr("has mode 0644"));
}

TEST(SecretFileTest, MissingEmptyAndNotRegular) {
  EXPECT_EQ(ReadSecretFile("/nonexistent/secret").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadSecretFile(Write("empty", " \n", 0600)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const char* dir = std::getenv("TEST_TMPDIR");
  EXPECT_EQ(ReadSecretFile(dir != nullptr ? dir : "/tmp").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace lb::process
