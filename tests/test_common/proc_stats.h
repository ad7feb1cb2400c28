// Test helpers: what a process (usually a child under test) uses right now, read from /proc.
#ifndef LB_TESTS_TEST_COMMON_PROC_STATS_H_
#define LB_TESTS_TEST_COMMON_PROC_STATS_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace lb::testing {

struct ProcStats {
  uint64_t rss_bytes = 0;       // VmRSS.
  uint64_t peak_rss_bytes = 0;  // VmHWM.
  int threads = 0;
  int open_fds = 0;
  double cpu_seconds = 0;  // User + system, since the process started.
};

// kNotFound once the process is gone.
absl::StatusOr<ProcStats> ReadProcStats(pid_t pid);

// Sets the process's soft RLIMIT_NOFILE to `limit` (at most its hard limit, which is kept, so
// the limit can be raised again).
absl::Status SetOpenFileLimit(pid_t pid, uint64_t limit);

// The RLIMIT_NOFILE at which the process can open exactly `more` (>= 1) descriptors beyond
// those it has: new descriptors take the lowest free numbers, and the limit caps the number.
absl::StatusOr<uint64_t> FdLimitAllowing(pid_t pid, int more);

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_PROC_STATS_H_
