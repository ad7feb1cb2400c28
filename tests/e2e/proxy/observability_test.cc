// What an operator sees of the proxy: event lines in its log for configuration, drains and
// health changes, and per-cluster response counters and latency histograms in /stats.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(backend_.Start().ok());
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok());
    ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", backend_.port()).ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "backend", {backend_.address()}).ok());
  }

  // Waits until the proxy's log has a line containing every one of `parts`.
  bool LogHas(const std::vector<std::string>& parts) {
    return WaitUntil(
        [&] {
          std::string log = proxy_.LogTail(1 << 20);
          size_t start = 0;
          while (start < log.size()) {
            size_t end = log.find('\n', start);
            if (end == std::string::npos) end = log.size();
            absl::string_view line(log.data() + start, end - start);
            bool all = absl::StartsWith(line, "{\"time\":");
            for (const std::string& p : parts) all = all && absl::StrContains(line, p);
            if (all) return true;
            start = end + 1;
          }
          return false;
        },
        absl::Seconds(15));
  }

  ControllerProcess controller_;
  TestBackend backend_{"web"};
  ProxyProcess proxy_{"observed", {"--workers=2"}};
};

TEST_F(ObservabilityTest, ConfigDrainAndHealthChangesAreLoggedAsEvents) {
  EXPECT_TRUE(LogHas({"\"event\":\"controller_connected\""}));
  EXPECT_TRUE(LogHas({"\"event\":\"config_accepted\"", "ClusterLoadAssignment"}));
  EXPECT_TRUE(LogHas({"\"event\":\"endpoint_added\"", "\"cluster\":\"backend\"",
                      absl::StrCat("\"endpoint\":\"", backend_.address(), "\"")}));

  ASSERT_TRUE(V1Call(controller_.rest_port(), "PATCH",
                     absl::StrCat("/v1/clusters/backend/endpoints/127.0.0.1/", backend_.port()),
                     R"({"admin_state":"DRAINING"})", 200)
                  .ok());
  EXPECT_TRUE(LogHas({"\"event\":\"endpoint_draining\"", backend_.address()}));
  // The drain's endpoint update is logged with the version the proxy then ACKs.
  const std::string eds = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  std::string acked;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
        if (!dump.ok()) return false;
        nlohmann::json versions = (*dump)["source"]["versions"];
        if (!versions.is_object() || !versions.contains(eds)) return false;
        nlohmann::json e = DumpEndpoint(*dump, "backend", backend_.address());
        acked = versions[eds].get<std::string>();
        return e.is_object() && e.value("draining", false);
      },
      absl::Seconds(15)));
  EXPECT_TRUE(LogHas({"\"event\":\"config_accepted\"", absl::StrCat("\"type\":\"", eds, "\""),
                      absl::StrCat("\"version\":\"", acked, "\"")}))
      << acked << "\n"
      << proxy_.LogTail();

  // An active health check on a backend that answers 503 takes it out, and says so.
  backend_.set_healthy(false);
  ASSERT_TRUE(V1Call(controller_.rest_port(), "PUT", "/v1/clusters/backend",
                     R"({"health_check":{"path":"/health","interval":"0.1s","timeout":"0.1s",)"
                     R"("healthy_threshold":1,"unhealthy_threshold":1}})",
                     200)
                  .ok());
  EXPECT_TRUE(LogHas({"\"event\":\"endpoint_health\"", "\"healthy\":false", backend_.address()}));
  backend_.set_healthy(true);
  EXPECT_TRUE(LogHas({"\"event\":\"endpoint_health\"", "\"healthy\":true", backend_.address()}));
}

// Outlier detection: an ejection and the return after base_ejection_time are event lines.
TEST_F(ObservabilityTest, EjectionAndReturnAreLoggedAsEvents) {
  // The proxy's version of cluster backend; "" if it has none.
  auto version = [&] {
    absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
    if (!dump.ok()) return std::string();
    for (const nlohmann::json& c : (*dump)["clusters"]) {
      if (c["name"] == "backend") return c["version"].dump();
    }
    return std::string();
  };
  const std::string before = version();
  ASSERT_NE(before, "");
  ASSERT_TRUE(V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/backend",
                     R"({"outlier_detection":{"consecutive_5xx":3,"max_ejection_percent":100,)"
                     R"("base_ejection_time":"500ms"}})",
                     200)
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return version() != before; }, absl::Seconds(15)));
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/?status=503");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 503);
  }
  EXPECT_TRUE(LogHas({"\"event\":\"endpoint_ejected\"", "\"cluster\":\"backend\"",
                      absl::StrCat("\"endpoint\":\"", backend_.address(), "\""),
                      "\"reason\":\"consecutive_5xx\"", "\"until\":"}))
      << proxy_.LogTail();
  EXPECT_TRUE(LogHas({"\"event\":\"endpoint_returned\"", "\"cluster\":\"backend\"",
                      absl::StrCat("\"endpoint\":\"", backend_.address(), "\"")}))
      << proxy_.LogTail();
}

TEST_F(ObservabilityTest, StatsCountResponsesPerClusterWithLatencyHistograms) {
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200);
  }
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/?status=503");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 503);
  }
  absl::StatusOr<uint64_t> ok2xx = StatValue(
      proxy_.admin_port(), "lb_proxy_cluster_responses_total{cluster=\"backend\",class=\"2xx\"}");
  ASSERT_TRUE(ok2xx.ok()) << ok2xx.status();
  EXPECT_EQ(*ok2xx, 20u);
  absl::StatusOr<uint64_t> bad5xx = StatValue(
      proxy_.admin_port(), "lb_proxy_cluster_responses_total{cluster=\"backend\",class=\"5xx\"}");
  ASSERT_TRUE(bad5xx.ok()) << bad5xx.status();
  EXPECT_EQ(*bad5xx, 3u);
  absl::StatusOr<uint64_t> count = StatValue(
      proxy_.admin_port(), "lb_proxy_cluster_request_duration_seconds_count{cluster=\"backend\"}");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 23u);
  absl::StatusOr<uint64_t> inf = StatValue(
      proxy_.admin_port(),
      "lb_proxy_cluster_request_duration_seconds_bucket{cluster=\"backend\",le=\"+Inf\"}");
  ASSERT_TRUE(inf.ok()) << inf.status();
  EXPECT_EQ(*inf, 23u);
  absl::StatusOr<uint64_t> all =
      StatValue(proxy_.admin_port(), "lb_proxy_request_duration_seconds_count");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_GE(*all, 23u);
}

}  // namespace
}  // namespace lb::testing
