#include "common/process/usage.h"

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace lb::process {

void SetProgramUsage(absl::string_view message, const std::string& flags_dir) {
  absl::SetProgramUsageMessage(message);
  auto own = [flags_dir](absl::string_view file) { return absl::StartsWith(file, flags_dir); };
  absl::FlagsUsageConfig config;
  config.contains_help_flags = own;
  config.contains_helpshort_flags = own;
  config.contains_helppackage_flags = own;
  absl::SetFlagsUsageConfig(config);
}

}  // namespace lb::process
