// Compatibility only: forwards to tests/test_common/http_client.h (see BUILD).
#ifndef LB_TESTS_INTEGRATION_HTTP_CLIENT_H_
#define LB_TESTS_INTEGRATION_HTTP_CLIENT_H_

#include "tests/test_common/http_client.h"

#endif  // LB_TESTS_INTEGRATION_HTTP_CLIENT_H_
