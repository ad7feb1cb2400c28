// One process per port: a second proxy on a port that is taken exits with a clear error
// instead of silently sharing the clients (SO_REUSEPORT), unless it asks to share.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {
namespace {

// Nothing listens here: the proxy under test never reaches a controller, which is fine for
// what happens at start-up.
constexpr char kNoController[] = "127.0.0.1:1";

TEST(ListenTest, TakenTrafficPortIsRefused) {
  ProxyProcess first("first", {"--workers=2"});
  ASSERT_TRUE(first.Start(kNoController).ok()) << first.LogTail();
  const std::string taken = absl::StrCat("127.0.0.1:", first.port());
  absl::StatusOr<CommandResult> second =
      RunCommand({ProxyProcess::BinaryPath(), "--controller=127.0.0.1:1",
                  absl::StrCat("--listen=", taken), "--admin_listen=127.0.0.1:0"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(second->err, taken + " is already in use")) << second->err;
}

TEST(ListenTest, SharingTheTrafficPortIsAnExplicitChoice) {
  ProxyProcess first("first", {"--workers=1"});
  ASSERT_TRUE(first.Start(kNoController).ok()) << first.LogTail();
  ProxyProcess second("second", {absl::StrCat("--listen=127.0.0.1:", first.port()),
                                 "--share_listen_port", "--workers=1"});
  ASSERT_TRUE(second.Start(kNoController).ok()) << second.LogTail();
  EXPECT_EQ(second.port(), first.port());
}

TEST(ListenTest, TakenTlsPortIsRefused) {
  ProxyProcess first("first", {"--workers=2", "--tls_listen=127.0.0.1:0"});
  ASSERT_TRUE(first.Start(kNoController).ok()) << first.LogTail();
  ASSERT_NE(first.tls_port(), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", first.tls_port());
  absl::StatusOr<CommandResult> second =
      RunCommand({ProxyProcess::BinaryPath(), "--controller=127.0.0.1:1", "--listen=127.0.0.1:0",
                  absl::StrCat("--tls_listen=", taken), "--admin_listen=127.0.0.1:0"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(second->err, taken + " is already in use")) << second->err;
}

TEST(ListenTest, TakenAdminPortIsRefused) {
  ProxyProcess first("first", {"--workers=1"});
  ASSERT_TRUE(first.Start(kNoController).ok()) << first.LogTail();
  const std::string taken = absl::StrCat("127.0.0.1:", first.admin_port());
  absl::StatusOr<CommandResult> second =
      RunCommand({ProxyProcess::BinaryPath(), "--controller=127.0.0.1:1", "--listen=127.0.0.1:0",
                  absl::StrCat("--admin_listen=", taken)});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(second->err, taken)) << second->err;
}

}  // namespace
}  // namespace lb::testing
