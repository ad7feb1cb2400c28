// Tests of common/process/ready_file.cc in the test's temporary directory.
#include "common/process/ready_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lb::process {
namespace {

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/ready_file_test.XXXXXX");
  return mkdtemp(path.data()) != nullptr ? path : "";
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  return out;
}

TEST(WriteFileAtomicallyTest, WritesAndReplaces) {
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string path = dir + "/f.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first, longer content\n").ok());
  EXPECT_EQ(Read(path), "first, longer content\n");
  ASSERT_TRUE(WriteFileAtomically(path, "second\n").ok());
  EXPECT_EQ(Read(path), "second\n");
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(Read(path), "");
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"f.json"});  // No temporary file left.
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsNotFound) {
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string path = dir + "/missing/f.json";
  absl::Status s = WriteFileAtomically(path, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            absl::StrCat("cannot write ", path, ".tmp.", getpid(), ": No such file or directory"));
}

TEST(WriteFileAtomicallyTest, RenameOntoADirectoryFailsAndLeavesNoTemporaryFile) {
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string path = dir + "/taken";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  absl::Status s = WriteFileAtomically(path, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), absl::StrCat("cannot rename ", path, ".tmp.", getpid(), " to ", path,
                                      ": Is a directory"));
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"taken"});
}

TEST(WriteReadyFileTest, PortsInOrderThenPid) {
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string path = dir + "/ready.json";
  ASSERT_TRUE(WriteReadyFile(path, {{"grpc_port", 18000}, {"rest_port", 9091}}).ok());
  EXPECT_EQ(Read(path),
            absl::StrCat("{\"grpc_port\":18000,\"rest_port\":9091,\"pid\":", getpid(), "}\n"));
  ASSERT_TRUE(WriteReadyFile(path, {}).ok());
  EXPECT_EQ(Read(path), absl::StrCat("{\"pid\":", getpid(), "}\n"));
}

}  // namespace
}  // namespace lb::process
