// gRPC health checks end to end: an HTTP2 cluster with a gRPC health check (lb.v1 over REST,
// CDS grpc_health_check) whose endpoints are real gRPC C++ servers with grpc++'s default
// health service. One server flipped to NOT_SERVING leaves rotation; SERVING again, it returns.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/echo/v1/echo.grpc.pb.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr char kService[] = "test.echo.v1.Echo";

class NamedEcho final : public test::echo::v1::Echo::Service {
 public:
  explicit NamedEcho(std::string name) : name_(std::move(name)) {}
  grpc::Status Whoami(grpc::ServerContext*, const test::echo::v1::WhoamiRequest*,
                      test::echo::v1::WhoamiResponse* response) override {
    response->set_name(name_);
    return grpc::Status::OK;
  }

 private:
  std::string name_;
};

// A gRPC server on 127.0.0.1:0 with the echo service and grpc++'s health service.
struct GrpcServer {
  explicit GrpcServer(const std::string& name) : service(name) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    server->GetHealthCheckService()->SetServingStatus(kService, true);
  }
  ~GrpcServer() { server->Shutdown(); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }

  NamedEcho service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

class GrpcHealthCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    std::string endpoints;
    for (GrpcServer* s : {&a_, &b_, &c_}) {
      absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",", R"({"address":"127.0.0.1","port":)",
                      s->port, "}");
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
  GrpcServer a_{"a"};
  GrpcServer b_{"b"};
  GrpcServer c_{"c"};
  ProxyProcess proxy_{"grpc-hc", {"--workers=1"}};
};

TEST_F(GrpcHealthCheckTest, NotServingLeavesRotationAndServingComesBack) {
  const std::vector<std::string> all = {a_.address(), b_.address(), c_.address()};
  ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "echo", all).ok()) << proxy_.LogTail();
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
  ASSERT_TRUE(dump.ok());

  b_.server->GetHealthCheckService()->SetServingStatus(kService, false);
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

  b_.server->GetHealthCheckService()->SetServingStatus(kService, true);
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
