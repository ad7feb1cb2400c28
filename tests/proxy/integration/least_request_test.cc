// Least request through the real proxy: in-flight counts are per endpoint and outlive config
// updates, so a request still running on an endpoint steers new ones away from it after the
// proxy has installed a newer snapshot.
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/controller_fixture.h"
#include "tests/integration/http_client.h"
#include "tests/proxy/integration/backend.h"
#include "tests/proxy/integration/lb_fixture.h"

namespace lb::testing {
namespace {

std::string Hello(const std::string& name) { return absl::StrCat("Hello from ", name, "\n"); }

class LeastRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(web1_.Start().ok());
    ASSERT_TRUE(web2_.Start().ok());
    absl::Status s = proxy_.Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    s = proxy_.WaitReady();
    ASSERT_TRUE(s.ok()) << s;
  }

  // The config dump's generation, or -1.
  int64_t Generation() {
    absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
    return d.ok() ? d->value("generation", int64_t{-1}) : -1;
  }

  // active_requests of `address` in cluster "backend", or -1.
  int64_t Active(const std::string& address) {
    absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
    if (!d.ok()) return -1;
    nlohmann::json e = DumpEndpoint(*d, "backend", address);
    return e.is_null() ? -1 : e.value("active_requests", int64_t{-1});
  }

  ControllerProcess controller_;
  TestBackend web1_{"web_1"};
  TestBackend web2_{"web_2"};
  ProxyProcess proxy_{"lr-proxy"};
};

TEST_F(LeastRequestTest, InFlightRequestKeepsCountingAcrossConfigUpdates) {
  const int rest = controller_.rest_port();
  ASSERT_TRUE(SeedConfig(rest, "add", web1_.port()).ok());
  ASSERT_TRUE(SeedConfig(rest, "add", web2_.port()).ok());
  absl::Status s = V1Call(rest, "PUT", "/v1/clusters/backend",
                          R"({"name":"backend","lb_policy":"LEAST_REQUEST"})", 200);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
        if (!d.ok()) return false;
        for (const auto& c : (*d)["clusters"]) {
          if (c.value("name", "") == "backend") {
            return c.value("policy", "") == "LEAST_REQUEST" && c.value("eligible", 0) == 2;
          }
        }
        return false;
      },
      absl::Seconds(20)))
      << proxy_.LogTail();

  // One slow request holds an endpoint ("busy"); the other one is idle.
  std::thread slow([&] {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/?delay_ms=4000");
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  });
  std::string busy, idle;
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (Active(web1_.address()) == 1) {
          busy = "web_1";
          idle = "web_2";
        } else if (Active(web2_.address()) == 1) {
          busy = "web_2";
          idle = "web_1";
        }
        return !busy.empty();
      },
      absl::Seconds(2)));

  // A config change elsewhere makes the proxy build a new snapshot while the request runs.
  const int64_t before = Generation();
  ASSERT_TRUE(V1Call(rest, "POST", "/v1/clusters", R"({"name":"other"})", 201).ok());
  ASSERT_TRUE(WaitUntil([&] { return Generation() > before; }, absl::Seconds(20)));

  // With two endpoints, least request compares both: every new request goes to the idle one.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, Hello(idle)) << "request " << i << "; busy endpoint is " << busy;
  }
  slow.join();
}

}  // namespace
}  // namespace lb::testing
