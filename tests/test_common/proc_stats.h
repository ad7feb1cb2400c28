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

// Sets the process's RLIMIT_NOFILE (soft and hard) to `limit`, as `ulimit -n` would have.
absl::Status SetOpenFileLimit(pid_t pid, uint64_t limit);

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_PROC_STATS_H_
