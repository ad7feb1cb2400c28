// Reading a file that a command-line flag names (a certificate, a key, a CA bundle), with errors
// that name the flag. Thread-safe.
#ifndef LB_COMMON_PROCESS_FLAG_FILE_H_
#define LB_COMMON_PROCESS_FLAG_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::process {

// The whole file. kInvalidArgument, each message starting "--FLAG: ": "cannot read PATH: why",
// "PATH is empty", "PATH is over N bytes". `flag` is given without dashes ("tls_cert", "cert").
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path,
                                         size_t max_bytes = 1 << 20);

}  // namespace lb::process

#endif  // LB_COMMON_PROCESS_FLAG_FILE_H_
