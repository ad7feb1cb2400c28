// Runs the proxy binary (proxy/main.cc) with --help.
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {
namespace {

TEST(ProxyMainTest, HelpListsTheProxysOwnFlags) {
  absl::StatusOr<CommandResult> r =
      RunCommand({RunfilePath("lb/proxy/proxy"), "--help"}, absl::Seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 1);  // Abseil's exit code after --help.
  EXPECT_TRUE(absl::StartsWith(r->out, "proxy: The load balancer's proxy.\n")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "Flags from proxy/main.cc:")) << r->out;
  for (const char* flag : {"--controller", "--listen", "--admin_listen", "--workers",
                           "--drain_timeout", "--upstream_timeout", "--ready_file"}) {
    EXPECT_TRUE(absl::StrContains(r->out, flag)) << flag << " missing from:\n" << r->out;
  }
  EXPECT_TRUE(absl::StrContains(r->out, "default: \"0.0.0.0:8080\"")) << r->out;
  EXPECT_FALSE(absl::StrContains(r->out, "No flags matched")) << r->out;
  // Only its own: no controller flags, no library flags.
  EXPECT_FALSE(absl::StrContains(r->out, "--grpc_listen")) << r->out;
  EXPECT_FALSE(absl::StrContains(r->out, "--flagfile")) << r->out;
}

}  // namespace
}  // namespace lb::testing
