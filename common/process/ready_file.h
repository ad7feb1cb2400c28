// Files a server writes for scripts and tests that start it: written atomically, so a reader
// polling for the file never sees half of it.
#ifndef LB_COMMON_PROCESS_READY_FILE_H_
#define LB_COMMON_PROCESS_READY_FILE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lb::process {

// Replaces `path` with `content`: written to a temporary file next to it, then renamed over it,
// so readers see the old file (or none) or all of `content`. kNotFound if the directory does not
// exist, kPermissionDenied if it is not writable, kInternal for other failures; no temporary
// file is left behind.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content);

// The ready file of a server, once it serves: {"<name>":<port>,...,"pid":<this process>} and a
// newline, `ports` in the order given, written atomically. Errors as WriteFileAtomically.
absl::Status WriteReadyFile(const std::string& path,
                            const std::vector<std::pair<std::string, int>>& ports);

}  // namespace lb::process

#endif  // LB_COMMON_PROCESS_READY_FILE_H_
