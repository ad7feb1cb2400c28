// Runs the controller binary (controller/main.cc) with --help.
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {
namespace {

TEST(ControllerMainTest, HelpListsTheControllersOwnFlags) {
  absl::StatusOr<CommandResult> r =
      RunCommand({RunfilePath("lb/controller/controller"), "--help"}, absl::Seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 1);  // Abseil's exit code after --help.
  EXPECT_TRUE(absl::StartsWith(r->out, "controller: The load balancer's controller.\n")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "Flags from controller/main.cc:")) << r->out;
  for (const char* flag :
       {"--grpc_listen", "--rest_listen", "--data_dir", "--auth_token_file", "--ready_file",
        "--dns_refresh", "--log_level", "--history_max_revisions", "--history_max_age"}) {
    EXPECT_TRUE(absl::StrContains(r->out, flag)) << flag << " missing from:\n" << r->out;
  }
  EXPECT_TRUE(absl::StrContains(r->out, "default: \"127.0.0.1:18000\"")) << r->out;
  EXPECT_FALSE(absl::StrContains(r->out, "No flags matched")) << r->out;
  // Only its own: no proxy flags, no library flags.
  EXPECT_FALSE(absl::StrContains(r->out, "--drain_timeout")) << r->out;
  EXPECT_FALSE(absl::StrContains(r->out, "--flagfile")) << r->out;
}

}  // namespace
}  // namespace lb::testing
