// The descriptor limit a server runs with: raised to the hard limit at start (as HAProxy and
// Envoy expect to be able to), and the connection cap that leaves room within it.
#ifndef LB_COMMON_PROCESS_FD_LIMIT_H_
#define LB_COMMON_PROCESS_FD_LIMIT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace lb::process {

struct FdLimit {
  uint64_t before = 0;  // Soft RLIMIT_NOFILE at start.
  uint64_t now = 0;     // After raising it (the hard limit, unless that failed).
};

// Raises the soft RLIMIT_NOFILE to the hard limit. An error only if the limit cannot be read;
// a refused raise leaves `now` == `before`.
absl::StatusOr<FdLimit> RaiseOpenFileLimit();

// How many client connections fit in `fd_limit` descriptors when each may need one more to its
// upstream: half of what is left after `reserved` for listeners, pools' spare, logs and the
// control plane. At least 1.
uint64_t ConnectionsFor(uint64_t fd_limit, uint64_t reserved = 64);

}  // namespace lb::process

#endif  // LB_COMMON_PROCESS_FD_LIMIT_H_
