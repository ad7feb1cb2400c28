// --help for the project's binaries. Abseil's --help lists the flags defined in files named
// after the program ("controller.cc" for "controller"); ours live in main.cc, so by default it
// prints "No flags matched".
#ifndef LB_COMMON_PROCESS_USAGE_H_
#define LB_COMMON_PROCESS_USAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace lb::process {

// Sets the usage message and makes --help, --helpshort and --helppackage list the flags defined
// in files under `flags_dir` (e.g. "proxy/"). Call once in main(), before
// absl::ParseCommandLine.
void SetProgramUsage(absl::string_view message, const std::string& flags_dir);

}  // namespace lb::process

#endif  // LB_COMMON_PROCESS_USAGE_H_
