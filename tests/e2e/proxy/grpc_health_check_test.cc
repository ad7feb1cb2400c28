// gRPC health checks end to end: an HTTP2 cluster with a gRPC health check (lb.v1 over REST,
// CDS grpc_health_check) whose endpoints are real gRPC C++ servers with grpc++'s default
// health service. One server flipped to NOT_SERVING leaves rotation; SERVING again, it returns.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/grpc_echo_server.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr char kService[] = "test.echo.v1.Echo";

class GrpcHealthCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    std::string endpoints;
    for (GrpcEchoServer* s : {&a_, &b_, &c_}) {
      absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",", R"({"address":"127.0.0.1","port":)",
                      s->port(), "}");
    }
    absl::Status st = V1Call(
        controller_.rest_port(), "POST", "/v1/clusters",
        absl::StrCat(R"({"name":"echo","protocol":"HTTP2","health_check":{"grpc_service_name":")",
                     kService, R"(","interval":"200ms","timeout":"100ms","healthy_threshold":1,)",
                     R"("unhealthy_threshold":1},"endpoints":[)", endpoints, "]}"),
        201);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok()) << proxy_.LogTail();
  }

  ControllerProcess controller_;
  GrpcEchoServer a_{"a"};
  GrpcEchoServer b_{"b"};
  GrpcEchoServer c_{"c"};
  ProxyProcess proxy_{"grpc-hc", {"--workers=1"}};
};

TEST_F(GrpcHealthCheckTest, NotServingLeavesRotationAndServingComesBack) {
  const std::vector<std::string> all = {a_.address(), b_.address(), c_.address()};
  ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "echo", all).ok()) << proxy_.LogTail();
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
  ASSERT_TRUE(dump.ok());

  b_.SetServing(false);
  std::vector<std::string> without_b = {a_.address(), c_.address()};
  std::sort(without_b.begin(), without_b.end());
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
        if (!d.ok()) return false;
        std::vector<std::string> eligible = DumpEndpoints(*d, "echo", true);
        std::sort(eligible.begin(), eligible.end());
        return eligible == without_b;
      },
      absl::Seconds(20)))
      << ConfigDump(proxy_.admin_port())->dump() << proxy_.LogTail();
  // Still configured, just not eligible.
  dump = ConfigDump(proxy_.admin_port());
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(DumpEndpoints(*dump, "echo", false).size(), 3u);

  b_.SetServing(true);
  EXPECT_TRUE(WaitForEndpoints(proxy_.admin_port(), "echo", all).ok());
}

TEST_F(GrpcHealthCheckTest, AnUnknownServiceIsUnhealthy) {
  // Switch the check to a service no server registered: NOT_FOUND, so every endpoint fails
  // (and the cluster is in panic mode, which the dump says).
  absl::Status st = V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/echo",
                           R"({"health_check":{"grpc_service_name":"no.such.Service"}})", 200);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
        if (!d.ok()) return false;
        for (const auto& c : (*d)["clusters"]) {
          if (c["name"] != "echo") continue;
          int unhealthy = 0;
          for (const auto& e : c["endpoints"]) unhealthy += e.value("healthy", true) ? 0 : 1;
          return unhealthy == 3;
        }
        return false;
      },
      absl::Seconds(20)));
}

}  // namespace
}  // namespace lb::testing
