// Compatibility only: forwards to tests/test_common/net.h (see BUILD).
#ifndef LB_TESTS_UTIL_NET_H_
#define LB_TESTS_UTIL_NET_H_

#include "tests/test_common/net.h"

#endif  // LB_TESTS_UTIL_NET_H_
