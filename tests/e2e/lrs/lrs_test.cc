// Load reports end to end: the controller binary with a short --lrs_interval, the proxy binary
// and gRPC's own xDS client (Debian's libgrpc, target xds:///echo) both report over the Load
// Reporting Service; the controller's aggregate (/metrics totals, the endpoints' status block)
// matches the requests actually sent, and a killed backend shows UNHEALTHY on 0/1 proxies.
#include <stdlib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "test/echo/v1/echo.grpc.pb.h"
#include "tests/test_common/backend_process.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class Echo final : public test::echo::v1::Echo::Service {
  grpc::Status Whoami(grpc::ServerContext*, const test::echo::v1::WhoamiRequest*,
                      test::echo::v1::WhoamiResponse* resp) override {
    resp->set_name("echo");
    return grpc::Status::OK;
  }
};

// The status block of `address` in GET /v1/clusters/CLUSTER/endpoints; null if missing.
nlohmann::json EndpointStatus(int rest_port, const std::string& cluster, const std::string& address,
                              int port) {
  absl::StatusOr<HttpResponse> r =
      HttpGet(rest_port, absl::StrCat("/v1/clusters/", cluster, "/endpoints"));
  if (!r.ok() || r->status != 200) return nullptr;
  nlohmann::json body = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return nullptr;
  for (const nlohmann::json& e : body.value("endpoints", nlohmann::json::array())) {
    if (e.value("address", "") == address && e.value("port", 0) == port) {
      return e.value("status", nlohmann::json());
    }
  }
  return nullptr;
}

uint64_t Metric(int rest_port, const std::string& series) {
  absl::StatusOr<uint64_t> v = PrometheusValue(rest_port, "/metrics", series);
  return v.ok() ? *v : 0;
}

class LrsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = controller_.Start();
    ASSERT_TRUE(s.ok()) << s;
    s = proxy_.Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    for (int i = 0; i < 2; ++i) {
      backends_.push_back(std::make_unique<BackendProcess>(absl::StrCat("web_", i)));
      s = backends_.back()->Start();
      ASSERT_TRUE(s.ok()) << s;
      s = SeedConfig(controller_.rest_port(), "add", backends_.back()->port());
      ASSERT_TRUE(s.ok()) << s;
    }
    s = WaitForEndpoints(
        proxy_.admin_port(), "backend",
        {LoopbackAddress(backends_[0]->port()), LoopbackAddress(backends_[1]->port())});
    ASSERT_TRUE(s.ok()) << s;
  }

  ControllerProcess controller_{{"--lrs_interval=1s", "--lrs_window=3s"}};
  ProxyProcess proxy_{"lrs-proxy"};
  std::vector<std::unique_ptr<BackendProcess>> backends_;
};

TEST_F(LrsTest, ProxyAndGrpcClientReportWhatWasSent) {
  const int rest = controller_.rest_port();
  // gRPC's xDS client, on cluster "echo".
  Echo echo;
  int echo_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &echo_port);
  builder.RegisterService(&echo);
  std::unique_ptr<grpc::Server> echo_server = builder.BuildAndStart();
  ASSERT_NE(echo_port, 0);
  absl::Status s =
      V1Call(rest, "POST", "/v1/clusters",
             absl::StrCat(R"({"name":"echo","lb_policy":"ROUND_ROBIN",)",
                          R"("endpoints":[{"address":"127.0.0.1","port":)", echo_port, "}]}"),
             201);
  ASSERT_TRUE(s.ok()) << s;
  const std::string bootstrap =
      absl::StrCat(R"({"xds_servers":[{"server_uri":")", controller_.grpc_target(),
                   R"(","channel_creds":[{"type":"insecure"}],"server_features":["xds_v3"]}],)",
                   R"("node":{"id":"lrs-grpc-client"}})");
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap.c_str(), 1);
  auto stub = test::echo::v1::Echo::NewStub(
      grpc::CreateChannel("xds:///echo", grpc::InsecureChannelCredentials()));
  constexpr int kGrpcCalls = 30;
  for (int i = 0; i < kGrpcCalls; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ctx.set_wait_for_ready(true);
    test::echo::v1::WhoamiResponse resp;
    grpc::Status st = stub->Whoami(&ctx, test::echo::v1::WhoamiRequest(), &resp);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
  }

  // The proxy, on cluster "backend".
  constexpr int kHttpRequests = 40;
  for (int i = 0; i < kHttpRequests; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200);
  }

  // Reports come every second: the totals reach exactly what was sent, and stay there.
  const std::string backend_total = R"(lb_lrs_cluster_requests_total{cluster="backend"})";
  const std::string echo_total = R"(lb_lrs_cluster_requests_total{cluster="echo"})";
  EXPECT_TRUE(
      WaitUntil([&] { return Metric(rest, backend_total) >= kHttpRequests; }, absl::Seconds(20)));
  EXPECT_TRUE(WaitUntil([&] { return Metric(rest, echo_total) >= kGrpcCalls; }, absl::Seconds(20)));
  absl::SleepFor(absl::Milliseconds(2500));  // Two more report intervals: nothing more comes.
  EXPECT_EQ(Metric(rest, backend_total), static_cast<uint64_t>(kHttpRequests));
  EXPECT_EQ(Metric(rest, echo_total), static_cast<uint64_t>(kGrpcCalls));
  EXPECT_EQ(Metric(rest, R"(lb_lrs_cluster_errors_total{cluster="backend"})"), 0u);
  uint64_t per_endpoint = 0;
  for (const auto& b : backends_) {
    per_endpoint +=
        Metric(rest, absl::StrCat(R"(lb_lrs_endpoint_requests_total{cluster="backend",)",
                                  R"(endpoint=")", LoopbackAddress(b->port()), "\"}"));
  }
  EXPECT_EQ(per_endpoint, static_cast<uint64_t>(kHttpRequests));

  // Each backend endpoint: one proxy reporting, seeing it healthy.
  for (const auto& b : backends_) {
    nlohmann::json status = EndpointStatus(rest, "backend", "127.0.0.1", b->port());
    ASSERT_TRUE(status.is_object()) << status.dump();
    EXPECT_EQ(status.value("proxies_total", -1), 1) << status.dump();
    EXPECT_EQ(status.value("proxies_healthy", -1), 1) << status.dump();
    for (const char* key : {"rps", "error_rate", "p99_ms", "in_flight", "per_proxy"}) {
      EXPECT_TRUE(status.contains(key)) << key << " in " << status.dump();
    }
    ASSERT_EQ(status["per_proxy"].size(), 1u) << status.dump();
    EXPECT_EQ(status["per_proxy"][0].value("node_id", ""), "lrs-proxy");
    EXPECT_EQ(status["per_proxy"][0].value("health", ""), "HEALTHY");
  }
}

TEST_F(LrsTest, KilledBackendShowsUnhealthy) {
  const int rest = controller_.rest_port();
  absl::Status s = V1Call(rest, "PUT", "/v1/clusters/backend",
                          R"({"name":"backend","health_check":{"path":"/health",)"
                          R"("interval":"0.2s","timeout":"0.1s","healthy_threshold":1,)"
                          R"("unhealthy_threshold":2}})",
                          200);
  ASSERT_TRUE(s.ok()) << s;
  auto health = [&](int port) {
    nlohmann::json st = EndpointStatus(rest, "backend", "127.0.0.1", port);
    if (!st.is_object() || st.value("proxies_total", 0) != 1) return std::string("none");
    return st["per_proxy"][0].value("health", "");
  };
  const int dead = backends_[1]->port();
  const int alive = backends_[0]->port();
  ASSERT_TRUE(WaitUntil([&] { return health(dead) == "HEALTHY" && health(alive) == "HEALTHY"; },
                        absl::Seconds(20)));
  backends_[1]->Kill();
  std::string last;
  EXPECT_TRUE(WaitUntil(
      [&] {
        last = health(dead);
        return last == "UNHEALTHY";
      },
      absl::Seconds(20)))
      << "last: " << last;
  nlohmann::json st = EndpointStatus(rest, "backend", "127.0.0.1", dead);
  EXPECT_EQ(st.value("proxies_total", -1), 1) << st.dump();
  EXPECT_EQ(st.value("proxies_healthy", -1), 0) << st.dump();
  EXPECT_EQ(health(alive), "HEALTHY");
}

}  // namespace
}  // namespace lb::testing
