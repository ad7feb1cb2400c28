#include "common/process/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace lb::process {

absl::StatusOr<FdLimit> RaiseOpenFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", strerror(errno)));
  }
  FdLimit out{r.rlim_cur, r.rlim_cur};
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised{r.rlim_max, r.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.now = r.rlim_max;
  }
  return out;
}

uint64_t ConnectionsFor(uint64_t fd_limit, uint64_t reserved) {
  if (fd_limit <= reserved + 2) return 1;
  return (fd_limit - reserved) / 2;
}

}  // namespace lb::process
