// Reading a secret (a token, a password) from a file, the way ssh treats private keys: the file
// must be a regular file that neither group nor others may read or write, else it is refused.
#ifndef LB_COMMON_PROCESS_SECRET_FILE_H_
#define LB_COMMON_PROCESS_SECRET_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace lb::process {

// The file's contents with surrounding whitespace removed. Errors (the message names the path):
// kNotFound / kPermissionDenied if it cannot be read, kFailedPrecondition if it is not a
// regular file or its mode lets group or others read or write it ("chmod 600 PATH"),
// kInvalidArgument if it is empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace lb::process

#endif  // LB_COMMON_PROCESS_SECRET_FILE_H_
