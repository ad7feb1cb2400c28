// A cluster's circuit breakers end to end: set through the controller's REST API, sent over CDS,
// enforced by the proxy (503 naming the limit, counted in /stats), and raised again by a PATCH.
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kConcurrent = 6;
// Long enough that every request of a batch has arrived before the first one is answered.
constexpr absl::Duration kBackendDelay = absl::Seconds(2);

class CircuitBreakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(backend_.Start().ok());
    const int rest = controller_.rest_port();
    absl::Status s = V1Call(
        rest, "POST", "/v1/clusters",
        absl::StrCat(R"({"name":"slow","circuit_breakers":{"max_requests":2},)",
                     R"("endpoints":[{"address":"127.0.0.1","port":)", backend_.port(), "}]}"),
        201);
    ASSERT_TRUE(s.ok()) << s;
    s = V1Call(rest, "POST", "/v1/routes",
               R"({"name":"slow","path_prefix":"/slow","cluster":"slow"})", 201);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok()) << proxy_.LogTail();
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "slow", {backend_.address()}).ok());
  }

  // Waits until the proxy's /stats shows `value` for `series`.
  bool WaitForStat(const std::string& series, uint64_t value) {
    return WaitUntil(
        [&] {
          absl::StatusOr<uint64_t> v = StatValue(proxy_.admin_port(), series);
          return v.ok() && *v == value;
        },
        absl::Seconds(20));
  }

  // Sends kConcurrent requests to the slow cluster at once; their answers, in no order.
  std::vector<absl::StatusOr<HttpResponse>> SendConcurrently() {
    std::vector<absl::StatusOr<HttpResponse>> out(kConcurrent, absl::UnknownError("not sent"));
    absl::Notification go;
    std::vector<std::thread> threads;
    for (int i = 0; i < kConcurrent; ++i) {
      threads.emplace_back([this, &go, &out, i] {
        go.WaitForNotification();
        out[i] = HttpGet(proxy_.port(), absl::StrCat("/slow/", i));
      });
    }
    go.Notify();
    for (std::thread& t : threads) t.join();
    return out;
  }

  static std::string Series(const std::string& name, const std::string& limit) {
    return absl::StrCat(name, "{cluster=\"slow\",limit=\"", limit, "\"}");
  }

  ControllerProcess controller_;
  TestBackend backend_{"slow"};
  ProxyProcess proxy_{"breaker", {"--workers=2"}};
};

TEST_F(CircuitBreakerTest, RequestsOverMaxRequestsGet503UntilTheLimitIsRaised) {
  ASSERT_TRUE(WaitForStat(Series("lb_proxy_cluster_resources_max", "requests"), 2));
  backend_.set_delay(kBackendDelay);

  int ok = 0;
  for (const absl::StatusOr<HttpResponse>& r : SendConcurrently()) {
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status == 200) {
      ++ok;
      continue;
    }
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_THAT(r->body, HasSubstr("upstream overflow: cluster \"slow\" has its max_requests (2) "
                                   "in flight"));
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(backend_.requests(), 2u);  // The refused ones never reached it.
  absl::StatusOr<uint64_t> overflows =
      StatValue(proxy_.admin_port(), Series("lb_proxy_cluster_overflow_total", "requests"));
  ASSERT_TRUE(overflows.ok()) << overflows.status();
  EXPECT_EQ(*overflows, 4u);
  EXPECT_TRUE(WaitForStat(Series("lb_proxy_cluster_resources_in_use", "requests"), 0));

  // PATCH one limit: the others keep their values, and the same load passes.
  absl::Status s = V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/slow",
                          R"({"circuit_breakers":{"max_requests":10}})", 200);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(WaitForStat(Series("lb_proxy_cluster_resources_max", "requests"), 10));
  EXPECT_TRUE(WaitForStat(Series("lb_proxy_cluster_resources_max", "connections"), 1024));
  for (const absl::StatusOr<HttpResponse>& r : SendConcurrently()) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(backend_.requests(), 2u + kConcurrent);
  overflows = StatValue(proxy_.admin_port(), Series("lb_proxy_cluster_overflow_total", "requests"));
  ASSERT_TRUE(overflows.ok()) << overflows.status();
  EXPECT_EQ(*overflows, 4u);
}

}  // namespace
}  // namespace lb::testing
