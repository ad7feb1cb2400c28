// gRPC's own xDS client (Debian's libgrpc) against the controller: a channel to
// xds:///backend balances over the endpoints registered in cluster "backend", follows adds
// and removals, and honours the cluster's max_requests.
#include <stdlib.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "controller/server/controller.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "test/echo/v1/echo.grpc.pb.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb {
namespace {

class NamedEcho final : public test::echo::v1::Echo::Service {
 public:
  explicit NamedEcho(std::string name) : name_(std::move(name)) {}
  grpc::Status Whoami(grpc::ServerContext*, const test::echo::v1::WhoamiRequest*,
                      test::echo::v1::WhoamiResponse* resp) override {
    ++in_flight_;
    if (hold_) release_.WaitForNotificationWithTimeout(absl::Seconds(20));
    --in_flight_;
    resp->set_name(name_);
    return grpc::Status::OK;
  }

  // From now on every call waits (at most 20 s) until Release().
  void Hold() { hold_ = true; }
  void Release() { release_.Notify(); }
  int in_flight() const { return in_flight_; }

 private:
  std::string name_;
  std::atomic<bool> hold_{false};
  std::atomic<int> in_flight_{0};
  absl::Notification release_;
};

struct EchoServer {
  std::unique_ptr<NamedEcho> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

EchoServer StartEcho(const std::string& name) {
  EchoServer s;
  s.service = std::make_unique<NamedEcho>(name);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &s.port);
  builder.RegisterService(s.service.get());
  s.server = builder.BuildAndStart();
  return s;
}

class GrpcXdsClientTest : public ::testing::Test {
 protected:
  // One controller for every test: gRPC's XdsClient is process-wide and may outlive a test's
  // channels, still connected to the server its bootstrap named.
  static void SetUpTestSuite() {
    controller::ControllerOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.rest_listen = "127.0.0.1:0";
    options.data_dir = testing::MakeTempDir();
    absl::StatusOr<std::unique_ptr<controller::Controller>> c =
        controller::Controller::Start(options);
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
    lb_ = lb::v1::LoadBalancer::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", controller_->grpc_port()), grpc::InsecureChannelCredentials()));
    std::string bootstrap =
        absl::StrCat(R"({"xds_servers":[{"server_uri":"127.0.0.1:)", controller_->grpc_port(),
                     R"(","channel_creds":[{"type":"insecure"}],"server_features":["xds_v3"]}],)",
                     R"("node":{"id":"grpc-test-client","locality":{"zone":"z1"}}})");
    setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap.c_str(), 1);
  }
  static void TearDownTestSuite() {
    lb_.reset();
    controller_.reset();
  }

  void AddEndpoint(int port, const std::string& cluster = "backend") {
    grpc::ClientContext ctx;
    lb::v1::AddEndpointRequest req;
    req.set_cluster(cluster);
    req.mutable_endpoint()->set_address("127.0.0.1");
    req.mutable_endpoint()->set_port(port);
    lb::v1::AddEndpointResponse resp;
    ASSERT_TRUE(lb_->AddEndpoint(&ctx, req, &resp).ok());
  }

  void RemoveEndpoint(int port) {
    grpc::ClientContext ctx;
    lb::v1::RemoveEndpointRequest req;
    req.set_cluster("backend");
    req.set_address("127.0.0.1");
    req.set_port(port);
    lb::v1::RemoveEndpointResponse resp;
    ASSERT_TRUE(lb_->RemoveEndpoint(&ctx, req, &resp).ok());
  }

  // Calls until the set of names seen in the last `window` calls equals `want`, or 20 s pass.
  std::set<std::string> CallUntil(test::echo::v1::Echo::Stub* stub,
                                  const std::set<std::string>& want) {
    std::vector<std::string> recent;
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::set<std::string> seen;
    for (int i = 0; i < 5000 && absl::Now() < deadline; ++i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      ctx.set_wait_for_ready(true);
      test::echo::v1::WhoamiResponse resp;
      grpc::Status s = stub->Whoami(&ctx, test::echo::v1::WhoamiRequest(), &resp);
      if (!s.ok()) {
        absl::SleepFor(absl::Milliseconds(20));  // Poll interval of this bounded loop.
        continue;
      }
      recent.push_back(resp.name());
      if (recent.size() > 12) recent.erase(recent.begin());
      seen = std::set<std::string>(recent.begin(), recent.end());
      if (recent.size() == 12 && seen == want) return seen;
    }
    return seen;
  }

  static std::unique_ptr<controller::Controller> controller_;
  static std::unique_ptr<lb::v1::LoadBalancer::Stub> lb_;
};

std::unique_ptr<controller::Controller> GrpcXdsClientTest::controller_;
std::unique_ptr<lb::v1::LoadBalancer::Stub> GrpcXdsClientTest::lb_;

TEST_F(GrpcXdsClientTest, BalancesOverBackendAndFollowsAddAndDel) {
  EchoServer a = StartEcho("a"), b = StartEcho("b"), c = StartEcho("c");
  AddEndpoint(a.port);
  AddEndpoint(b.port);

  auto channel = grpc::CreateChannel("xds:///backend", grpc::InsecureChannelCredentials());
  auto stub = test::echo::v1::Echo::NewStub(channel);
  EXPECT_EQ(CallUntil(stub.get(), {"a", "b"}), (std::set<std::string>{"a", "b"}));

  AddEndpoint(c.port);
  EXPECT_EQ(CallUntil(stub.get(), {"a", "b", "c"}), (std::set<std::string>{"a", "b", "c"}));

  RemoveEndpoint(a.port);
  EXPECT_EQ(CallUntil(stub.get(), {"b", "c"}), (std::set<std::string>{"b", "c"}));

  // The controller saw this client, and it ACKed what it was sent. The client may use an
  // update before its ACK arrives: wait (bounded) for the ACKs.
  lb::v1::ListProxiesResponse proxies;
  auto all_acked = [&] {
    grpc::ClientContext ctx;
    proxies.Clear();
    if (!lb_->ListProxies(&ctx, lb::v1::ListProxiesRequest(), &proxies).ok()) return false;
    for (const auto& p : proxies.proxies()) {
      for (const auto& r : p.resources()) {
        if (r.version_acked() != r.version_sent()) return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(testing::WaitUntil(all_acked, absl::Seconds(10)));
  ASSERT_EQ(proxies.proxies_size(), 1);
  EXPECT_EQ(proxies.proxies(0).node_id(), "grpc-test-client");
  EXPECT_EQ(proxies.proxies(0).protocol(), "sotw");
  EXPECT_EQ(proxies.proxies(0).zone(), "z1");
  ASSERT_EQ(proxies.proxies(0).resources_size(), 3);  // CDS, EDS, LDS (route is inline).
  for (const auto& r : proxies.proxies(0).resources()) {
    EXPECT_EQ(r.nacks(), 0u) << r.type_url() << ": " << r.last_nack_error();
    EXPECT_EQ(r.version_acked(), r.version_sent()) << r.type_url();
  }
  for (auto* s : {&a, &b, &c}) s->server->Shutdown();
}

TEST_F(GrpcXdsClientTest, HonoursTheClustersMaxRequests) {
  {
    grpc::ClientContext ctx;
    lb::v1::CreateClusterRequest req;
    req.mutable_cluster()->set_name("limited");
    req.mutable_cluster()->mutable_circuit_breakers()->set_max_requests(1);
    lb::v1::Cluster resp;
    ASSERT_TRUE(lb_->CreateCluster(&ctx, req, &resp).ok());
  }
  EchoServer a = StartEcho("a");
  AddEndpoint(a.port, "limited");
  auto channel = grpc::CreateChannel("xds:///limited", grpc::InsecureChannelCredentials());
  auto stub = test::echo::v1::Echo::NewStub(channel);
  ASSERT_EQ(CallUntil(stub.get(), {"a"}), (std::set<std::string>{"a"}));

  // One call held in the server takes the only slot; the next one is dropped by the client.
  a.service->Hold();
  grpc::Status held;
  std::thread first([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    test::echo::v1::WhoamiResponse resp;
    held = stub->Whoami(&ctx, test::echo::v1::WhoamiRequest(), &resp);
  });
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (a.service->in_flight() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));  // Poll interval of this bounded wait.
  }
  EXPECT_EQ(a.service->in_flight(), 1);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    test::echo::v1::WhoamiResponse resp;
    grpc::Status s = stub->Whoami(&ctx, test::echo::v1::WhoamiRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_EQ(s.error_message(), "circuit breaker drop");
  }
  a.service->Release();
  first.join();
  EXPECT_TRUE(held.ok()) << held.error_message();
  a.server->Shutdown();
}

}  // namespace
}  // namespace lb
