// Bounded polling for tests: wait until a condition holds, never a fixed sleep.
#ifndef LB_TESTS_TEST_COMMON_WAIT_H_
#define LB_TESTS_TEST_COMMON_WAIT_H_

#include <functional>

#include "absl/time/time.h"

namespace lb::testing {

// Evaluates `cond` at once and then every `interval` until it is true or `timeout` has passed;
// returns its last value. `cond` runs on the calling thread.
bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout,
               absl::Duration interval = absl::Milliseconds(20));

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_WAIT_H_
