// Compatibility only: forwards to tests/test_common/subprocess.h (see BUILD).
#ifndef LB_TESTS_UTIL_SUBPROCESS_H_
#define LB_TESTS_UTIL_SUBPROCESS_H_

#include "tests/test_common/subprocess.h"

#endif  // LB_TESTS_UTIL_SUBPROCESS_H_
