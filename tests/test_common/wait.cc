#include "tests/test_common/wait.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace lb::testing {

bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout, absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cond()) return true;
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    absl::SleepFor(std::min(interval, deadline - now));
  }
}

}  // namespace lb::testing
