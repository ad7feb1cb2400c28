// Tests of common/process/usage.cc: which files --help takes flags from.
#include "common/process/usage.h"

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "gtest/gtest.h"

namespace lb::process {
namespace {

TEST(SetProgramUsageTest, HelpListsFlagsOfFilesUnderTheDirectory) {
  SetProgramUsage("proxy: the load balancer's proxy", "proxy/");
  EXPECT_EQ(absl::ProgramUsageMessage(), "proxy: the load balancer's proxy");
  // Abseil's only accessor of the active configuration.
  absl::FlagsUsageConfig config = absl::flags_internal::GetUsageConfig();
  for (const auto& filter : {config.contains_help_flags, config.contains_helpshort_flags,
                             config.contains_helppackage_flags}) {
    EXPECT_TRUE(filter("proxy/main.cc"));
    EXPECT_TRUE(filter("proxy/server/proxy_server.cc"));
    EXPECT_FALSE(filter("controller/main.cc"));
    EXPECT_FALSE(filter("external/absl/flags/parse.cc"));
    EXPECT_FALSE(filter("tests/proxy/main_test.cc"));
  }
}

}  // namespace
}  // namespace lb::process
