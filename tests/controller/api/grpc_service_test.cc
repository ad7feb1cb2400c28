// Tests of the lb.v1 gRPC service (controller/api/grpc_service.cc) in-process: a real gRPC server
// on 127.0.0.1:0 and the generated stub, over a Registry on an in-memory SqliteStore.
#include "controller/api/grpc_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "controller/api/auth.h"
#include "controller/registry/registry.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/test_common/fake_store.h"

namespace lb::api {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

constexpr char kToken[] = "s3cret";
constexpr absl::Duration kDeadline = absl::Seconds(10);

class GrpcServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(TokenAuth(kToken)); }
  void TearDown() override { Stop(); }

  void Start(TokenAuth auth) {
    auth_ = std::move(auth);
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    fake_ = std::make_unique<testing::FakeStore>(store_.get());
    registry_ = std::make_unique<registry::Registry>(fake_.get());
    ASSERT_TRUE(registry_->Bootstrap().ok());
    metrics_ = std::make_unique<metrics::Registry>();
    service_ =
        std::make_unique<LoadBalancerService>(registry_.get(), &auth_, metrics_.get(), &clock_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = lb::v1::LoadBalancer::NewStub(channel_);
  }

  void Stop() {
    if (service_) service_->Shutdown();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    stub_.reset();
    channel_.reset();
    server_.reset();
    service_.reset();
    registry_.reset();
    fake_.reset();
    store_.reset();
  }

  // A context with a deadline and, if `token` is not null, "authorization: Bearer <token>".
  std::unique_ptr<grpc::ClientContext> Ctx(const char* token = kToken) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    if (token != nullptr) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    return ctx;
  }

  std::string State() {
    std::string out;
    absl::StatusOr<int64_t> rev = store_->CurrentRevision();
    out += "revision " + (rev.ok() ? std::to_string(*rev) : rev.status().ToString()) + "\n";
    absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
    if (cs.ok()) {
      for (const auto& c : *cs) out += c.ShortDebugString() + "\n";
    }
    absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
    out += t.ok() ? t->ShortDebugString() : t.status().ToString();
    return out;
  }

  lb::v1::AddEndpointRequest AddReq(const std::string& cluster, const std::string& address,
                                    uint32_t port) {
    lb::v1::AddEndpointRequest req;
    req.set_cluster(cluster);
    req.mutable_endpoint()->set_address(address);
    req.mutable_endpoint()->set_port(port);
    return req;
  }

  static void ExpectStatus(const grpc::Status& s, grpc::StatusCode code,
                           const std::string& message) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_EQ(s.error_message(), message);
  }

  TokenAuth auth_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<testing::FakeStore> fake_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<metrics::Registry> metrics_;
  // Never advanced: WatchChanges must end on shutdown without waiting for its poll.
  SimulatedClock clock_;
  std::unique_ptr<LoadBalancerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<lb::v1::LoadBalancer::Stub> stub_;
};

// ---------------------------------------------------------------------------------------------
// Auth

TEST_F(GrpcServiceTest, MutationsNeedTheTokenAndChangeNothingWithoutIt) {
  std::string before = State();
  for (const char* token : {static_cast<const char*>(nullptr), "wrong", ""}) {
    const std::string message = token == nullptr ? "this call needs an Authorization: Bearer token"
                                                 : "invalid bearer token";
    SCOPED_TRACE(token == nullptr ? "<no metadata>" : token);
    {
      lb::v1::AddEndpointResponse resp;
      ExpectStatus(stub_->AddEndpoint(Ctx(token).get(), AddReq("backend", "10.0.0.1", 80), &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::RemoveEndpointRequest req;
      req.set_cluster("backend");
      req.set_address("10.0.0.1");
      req.set_port(80);
      lb::v1::RemoveEndpointResponse resp;
      ExpectStatus(stub_->RemoveEndpoint(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::SetEndpointStateRequest req;
      req.set_cluster("backend");
      req.set_address("10.0.0.1");
      req.set_port(80);
      req.set_admin_state(lb::v1::DRAINING);
      lb::v1::SetEndpointStateResponse resp;
      ExpectStatus(stub_->SetEndpointState(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::UpdateEndpointRequest req;
      req.set_cluster("backend");
      req.set_address("10.0.0.1");
      req.set_port(80);
      req.mutable_endpoint()->set_weight(2);
      lb::v1::UpdateEndpointResponse resp;
      ExpectStatus(stub_->UpdateEndpoint(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::CreateClusterRequest req;
      req.mutable_cluster()->set_name("web");
      lb::v1::Cluster resp;
      ExpectStatus(stub_->CreateCluster(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::UpdateClusterRequest req;
      req.mutable_cluster()->set_name("backend");
      lb::v1::Cluster resp;
      ExpectStatus(stub_->UpdateCluster(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::DeleteClusterRequest req;
      req.set_name("backend");
      lb::v1::DeleteClusterResponse resp;
      ExpectStatus(stub_->DeleteCluster(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::CreateRouteRequest req;
      req.mutable_route()->set_name("r");
      req.mutable_route()->set_cluster("backend");
      lb::v1::RouteTableResponse resp;
      ExpectStatus(stub_->CreateRoute(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::UpdateRouteRequest req;
      req.mutable_route()->set_name("default");
      req.mutable_route()->set_cluster("backend");
      lb::v1::RouteTableResponse resp;
      ExpectStatus(stub_->UpdateRoute(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
    {
      lb::v1::DeleteRouteRequest req;
      req.set_name("default");
      lb::v1::RouteTableResponse resp;
      ExpectStatus(stub_->DeleteRoute(Ctx(token).get(), req, &resp),
                   grpc::StatusCode::UNAUTHENTICATED, message);
    }
  }
  EXPECT_EQ(State(), before);
}

TEST_F(GrpcServiceTest, LowerCaseBearerSchemeIsAccepted) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
  ctx->AddMetadata("authorization", absl::StrCat("bearer ", kToken));
  lb::v1::AddEndpointResponse resp;
  grpc::Status s = stub_->AddEndpoint(ctx.get(), AddReq("backend", "10.0.0.1", 80), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(GrpcServiceTest, EveryEndpointWriteTakesAnExpectedVersion) {
  lb::v1::AddEndpointResponse added;
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &added).ok());
  const int64_t version = added.cluster().version();
  const std::string want =
      absl::StrCat("cluster \"backend\" is at version ", version, ", not 1; re-read and retry");
  const std::string before = State();
  {
    lb::v1::AddEndpointRequest req = AddReq("backend", "10.0.0.2", 80);
    req.set_expected_version(1);
    lb::v1::AddEndpointResponse resp;
    ExpectStatus(stub_->AddEndpoint(Ctx().get(), req, &resp), grpc::StatusCode::ABORTED, want);
  }
  {
    lb::v1::RemoveEndpointRequest req;
    req.set_cluster("backend");
    req.set_address("10.0.0.1");
    req.set_port(80);
    req.set_expected_version(1);
    lb::v1::RemoveEndpointResponse resp;
    ExpectStatus(stub_->RemoveEndpoint(Ctx().get(), req, &resp), grpc::StatusCode::ABORTED, want);
  }
  {
    lb::v1::SetEndpointStateRequest req;
    req.set_cluster("backend");
    req.set_address("10.0.0.1");
    req.set_port(80);
    req.set_admin_state(lb::v1::DRAINING);
    req.set_expected_version(1);
    lb::v1::SetEndpointStateResponse resp;
    ExpectStatus(stub_->SetEndpointState(Ctx().get(), req, &resp), grpc::StatusCode::ABORTED, want);
  }
  lb::v1::UpdateEndpointRequest update;
  update.set_cluster("backend");
  update.set_address("10.0.0.1");
  update.set_port(80);
  update.mutable_endpoint()->set_weight(5);
  update.set_expected_version(1);
  lb::v1::UpdateEndpointResponse updated;
  ExpectStatus(stub_->UpdateEndpoint(Ctx().get(), update, &updated), grpc::StatusCode::ABORTED,
               want);
  EXPECT_EQ(State(), before);
  update.set_expected_version(version);
  ASSERT_TRUE(stub_->UpdateEndpoint(Ctx().get(), update, &updated).ok());
  EXPECT_EQ(updated.cluster().endpoints(0).weight(), 5u);
  EXPECT_GT(updated.cluster().version(), version);
  // The same values again: success, same version.
  update.set_expected_version(0);
  lb::v1::UpdateEndpointResponse again;
  ASSERT_TRUE(stub_->UpdateEndpoint(Ctx().get(), update, &again).ok());
  EXPECT_EQ(again.cluster().version(), updated.cluster().version());
  // weight 0 is refused, as on every surface.
  update.mutable_endpoint()->set_weight(0);
  ExpectStatus(stub_->UpdateEndpoint(Ctx().get(), update, &again),
               grpc::StatusCode::INVALID_ARGUMENT,
               "endpoint.weight: must be from 1 to 10000, got 0");
  lb::v1::AddEndpointRequest zero = AddReq("backend", "10.0.0.3", 80);
  zero.mutable_endpoint()->set_weight(0);
  lb::v1::AddEndpointResponse resp;
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), zero, &resp), grpc::StatusCode::INVALID_ARGUMENT,
               "endpoint.weight: must be from 1 to 10000, got 0");
}

TEST_F(GrpcServiceTest, UpdateClusterWithAMaskChangesOnlyThoseFields) {
  lb::v1::UpdateClusterRequest req;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(cluster {
             name: "backend"
             health_check {
               path: "/healthz"
               interval { seconds: 2 }
             }
           })pb",
      &req));
  lb::v1::Cluster c;
  ASSERT_TRUE(stub_->UpdateCluster(Ctx().get(), req, &c).ok());
  req.Clear();
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(cluster { name: "backend" lb_policy: ROUND_ROBIN }
           update_mask { paths: "lb_policy" })pb",
      &req));
  ASSERT_TRUE(stub_->UpdateCluster(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.lb_policy(), lb::v1::ROUND_ROBIN);
  EXPECT_EQ(c.health_check().path(), "/healthz");
  EXPECT_EQ(c.health_check().interval().seconds(), 2);
  // Without a mask it replaces: the health check goes back to its defaults (off).
  req.clear_update_mask();
  ASSERT_TRUE(stub_->UpdateCluster(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.health_check().path(), "");
  EXPECT_EQ(c.health_check().interval().seconds(), 5);
}

TEST_F(GrpcServiceTest, ReadsNeedNoToken) {
  lb::v1::ListClustersResponse clusters;
  EXPECT_TRUE(stub_->ListClusters(Ctx(nullptr).get(), {}, &clusters).ok());
  EXPECT_EQ(clusters.clusters_size(), 1);
  lb::v1::GetClusterRequest get;
  get.set_name("backend");
  lb::v1::Cluster cluster;
  EXPECT_TRUE(stub_->GetCluster(Ctx(nullptr).get(), get, &cluster).ok());
  lb::v1::ListEndpointsRequest list;
  list.set_cluster("backend");
  lb::v1::ListEndpointsResponse endpoints;
  EXPECT_TRUE(stub_->ListEndpoints(Ctx(nullptr).get(), list, &endpoints).ok());
  lb::v1::RouteTableResponse routes;
  EXPECT_TRUE(stub_->ListRoutes(Ctx(nullptr).get(), {}, &routes).ok());
  // A wrong token on a read is ignored too.
  EXPECT_TRUE(stub_->ListRoutes(Ctx("wrong").get(), {}, &routes).ok());
}

TEST_F(GrpcServiceTest, NoTokenConfiguredAllowsEverything) {
  Stop();
  Start(TokenAuth());
  lb::v1::AddEndpointResponse resp;
  grpc::Status s = stub_->AddEndpoint(Ctx(nullptr).get(), AddReq("backend", "10.0.0.1", 80), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = stub_->AddEndpoint(Ctx("anything").get(), AddReq("backend", "10.0.0.2", 80), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.cluster().endpoints_size(), 2);
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST_F(GrpcServiceTest, AddEndpoint) {
  lb::v1::AddEndpointResponse resp;
  grpc::Status s = stub_->AddEndpoint(Ctx().get(), AddReq("backend", "Web.Internal.", 80), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<lb::v1::Cluster> stored = registry_->GetCluster("backend");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(resp.cluster(), *stored)) << resp.DebugString();
  ASSERT_EQ(resp.cluster().endpoints_size(), 1);
  EXPECT_EQ(resp.cluster().endpoints(0).address(), "web.internal");
  EXPECT_EQ(resp.cluster().endpoints(0).weight(), 1u);
  EXPECT_EQ(resp.cluster().version(), 2);
}

TEST_F(GrpcServiceTest, AddEndpointErrors) {
  lb::v1::AddEndpointResponse resp;
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &resp).ok());
  std::string before = State();
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &resp),
               grpc::StatusCode::ALREADY_EXISTS,
               "endpoint 10.0.0.1:80 already exists in cluster \"backend\"");
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), AddReq("nope", "10.0.0.1", 80), &resp),
               grpc::StatusCode::NOT_FOUND, "cluster \"nope\" not found");
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "1.2.3.999", 0), &resp),
               grpc::StatusCode::INVALID_ARGUMENT,
               "endpoint.address: \"1.2.3.999\" is neither an IP address nor a hostname; "
               "endpoint.port: must be from 1 to 65535, got 0");
  lb::v1::AddEndpointRequest no_endpoint;
  no_endpoint.set_cluster("backend");
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), no_endpoint, &resp),
               grpc::StatusCode::INVALID_ARGUMENT,
               "endpoint.address: is required; endpoint.port: must be from 1 to 65535, got 0");
  EXPECT_EQ(State(), before);
}

TEST_F(GrpcServiceTest, NonUtf8StringsNeverReachTheStore) {
  // The client serializes a zone of byte 0xFF; proto3 parsing on the server must reject it,
  // or the stored cluster would no longer parse.
  std::string before = State();
  lb::v1::AddEndpointRequest req = AddReq("backend", "10.0.0.1", 80);
  req.mutable_endpoint()->set_zone("\xff");
  lb::v1::AddEndpointResponse resp;
  grpc::Status s = stub_->AddEndpoint(Ctx().get(), req, &resp);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(State(), before);
  lb::v1::GetClusterRequest get;
  get.set_name("backend");
  lb::v1::Cluster cluster;
  EXPECT_TRUE(stub_->GetCluster(Ctx().get(), get, &cluster).ok());
}

TEST_F(GrpcServiceTest, RemoveEndpoint) {
  lb::v1::AddEndpointResponse added;
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "::1", 80), &added).ok());
  lb::v1::RemoveEndpointRequest req;
  req.set_cluster("backend");
  req.set_address("0:0:0:0:0:0:0:1");
  req.set_port(80);
  lb::v1::RemoveEndpointResponse resp;
  grpc::Status s = stub_->RemoveEndpoint(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.cluster().endpoints_size(), 0);
  EXPECT_EQ(resp.cluster().version(), 3);
  std::string before = State();
  ExpectStatus(stub_->RemoveEndpoint(Ctx().get(), req, &resp), grpc::StatusCode::NOT_FOUND,
               "endpoint [::1]:80 not found in cluster \"backend\"");
  req.set_address("a b");
  ExpectStatus(stub_->RemoveEndpoint(Ctx().get(), req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
               "address: \"a b\" is neither an IP address nor a hostname");
  req.set_address("::1");
  req.set_cluster("nope");
  ExpectStatus(stub_->RemoveEndpoint(Ctx().get(), req, &resp), grpc::StatusCode::NOT_FOUND,
               "cluster \"nope\" not found");
  EXPECT_EQ(State(), before);
}

TEST_F(GrpcServiceTest, SetEndpointState) {
  lb::v1::AddEndpointResponse added;
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &added).ok());
  lb::v1::SetEndpointStateRequest req;
  req.set_cluster("backend");
  req.set_address("10.0.0.1");
  req.set_port(80);
  req.set_admin_state(lb::v1::DRAINING);
  lb::v1::SetEndpointStateResponse resp;
  grpc::Status s = stub_->SetEndpointState(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.cluster().endpoints(0).admin_state(), lb::v1::DRAINING);
  std::string before = State();
  req.set_admin_state(lb::v1::ADMIN_STATE_UNSPECIFIED);
  ExpectStatus(stub_->SetEndpointState(Ctx().get(), req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
               "admin_state: must be ACTIVE or DRAINING");
  req.set_admin_state(lb::v1::ACTIVE);
  req.set_port(81);
  ExpectStatus(stub_->SetEndpointState(Ctx().get(), req, &resp), grpc::StatusCode::NOT_FOUND,
               "endpoint 10.0.0.1:81 not found in cluster \"backend\"");
  EXPECT_EQ(State(), before);
}

TEST_F(GrpcServiceTest, ListEndpoints) {
  lb::v1::AddEndpointResponse added;
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.2", 80), &added).ok());
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &added).ok());
  lb::v1::ListEndpointsRequest req;
  req.set_cluster("backend");
  lb::v1::ListEndpointsResponse resp;
  ASSERT_TRUE(stub_->ListEndpoints(Ctx(nullptr).get(), req, &resp).ok());
  ASSERT_EQ(resp.endpoints_size(), 2);
  EXPECT_EQ(resp.endpoints(0).address(), "10.0.0.2");
  EXPECT_EQ(resp.endpoints(1).address(), "10.0.0.1");
  EXPECT_EQ(resp.version(), 3);
  req.set_cluster("nope");
  ExpectStatus(stub_->ListEndpoints(Ctx(nullptr).get(), req, &resp), grpc::StatusCode::NOT_FOUND,
               "cluster \"nope\" not found");
}

// ---------------------------------------------------------------------------------------------
// Clusters

TEST_F(GrpcServiceTest, ClusterLifecycle) {
  lb::v1::CreateClusterRequest create;
  create.mutable_cluster()->set_name("web");
  create.mutable_cluster()->set_lb_policy(lb::v1::LEAST_REQUEST);
  lb::v1::Cluster created;
  grpc::Status s = stub_->CreateCluster(Ctx().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.version(), 2);
  EXPECT_EQ(created.lb_policy(), lb::v1::LEAST_REQUEST);
  EXPECT_EQ(created.retries().value(), 2u);

  lb::v1::GetClusterRequest get;
  get.set_name("web");
  lb::v1::Cluster got;
  ASSERT_TRUE(stub_->GetCluster(Ctx(nullptr).get(), get, &got).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got, created));

  lb::v1::UpdateClusterRequest update;
  update.mutable_cluster()->set_name("web");
  update.mutable_cluster()->set_lb_policy(lb::v1::MAGLEV);
  update.set_expected_version(2);
  lb::v1::Cluster updated;
  s = stub_->UpdateCluster(Ctx().get(), update, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(updated.lb_policy(), lb::v1::MAGLEV);
  EXPECT_EQ(updated.version(), 3);

  lb::v1::ListClustersResponse list;
  ASSERT_TRUE(stub_->ListClusters(Ctx(nullptr).get(), {}, &list).ok());
  ASSERT_EQ(list.clusters_size(), 2);
  EXPECT_EQ(list.clusters(0).name(), "backend");
  EXPECT_EQ(list.clusters(1).name(), "web");
  EXPECT_TRUE(MessageDifferencer::Equals(list.clusters(1), updated));

  lb::v1::DeleteClusterRequest del;
  del.set_name("web");
  del.set_expected_version(3);
  lb::v1::DeleteClusterResponse deleted;
  s = stub_->DeleteCluster(Ctx().get(), del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ExpectStatus(stub_->GetCluster(Ctx(nullptr).get(), get, &got), grpc::StatusCode::NOT_FOUND,
               "cluster \"web\" not found");
}

TEST_F(GrpcServiceTest, ClusterErrors) {
  lb::v1::CreateClusterRequest create;
  create.mutable_cluster()->set_name("web");
  lb::v1::Cluster c;
  ASSERT_TRUE(stub_->CreateCluster(Ctx().get(), create, &c).ok());
  std::string before = State();
  ExpectStatus(stub_->CreateCluster(Ctx().get(), create, &c), grpc::StatusCode::ALREADY_EXISTS,
               "cluster \"web\" already exists");
  create.mutable_cluster()->set_name("a b");
  ExpectStatus(stub_->CreateCluster(Ctx().get(), create, &c), grpc::StatusCode::INVALID_ARGUMENT,
               "cluster.name: must be 1-128 characters of [a-zA-Z0-9_.-]");

  lb::v1::UpdateClusterRequest update;
  update.mutable_cluster()->set_name("web");
  update.set_expected_version(1);
  ExpectStatus(stub_->UpdateCluster(Ctx().get(), update, &c), grpc::StatusCode::ABORTED,
               "cluster \"web\" is at version 2, not 1; re-read and retry");
  update.mutable_cluster()->set_name("nope");
  update.set_expected_version(0);
  ExpectStatus(stub_->UpdateCluster(Ctx().get(), update, &c), grpc::StatusCode::NOT_FOUND,
               "cluster \"nope\" not found");
  update.mutable_cluster()->set_name("web");
  update.mutable_cluster()->mutable_healthy_panic_threshold()->set_value(101);
  ExpectStatus(stub_->UpdateCluster(Ctx().get(), update, &c), grpc::StatusCode::INVALID_ARGUMENT,
               "cluster.healthy_panic_threshold: must be from 0 to 100, got 101");

  lb::v1::DeleteClusterRequest del;
  lb::v1::DeleteClusterResponse deleted;
  del.set_name("backend");
  ExpectStatus(
      stub_->DeleteCluster(Ctx().get(), del, &deleted), grpc::StatusCode::FAILED_PRECONDITION,
      "cluster \"backend\" is used by route \"default\"; delete or change the route first");
  del.set_name("web");
  del.set_expected_version(7);
  ExpectStatus(stub_->DeleteCluster(Ctx().get(), del, &deleted), grpc::StatusCode::ABORTED,
               "cluster \"web\" is at version 2, not 7; re-read and retry");
  del.set_name("nope");
  del.set_expected_version(0);
  ExpectStatus(stub_->DeleteCluster(Ctx().get(), del, &deleted), grpc::StatusCode::NOT_FOUND,
               "cluster \"nope\" not found");
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Routes

TEST_F(GrpcServiceTest, RouteLifecycle) {
  lb::v1::RouteTableResponse resp;
  ASSERT_TRUE(stub_->ListRoutes(Ctx(nullptr).get(), {}, &resp).ok());
  EXPECT_EQ(resp.route_table().version(), 1);
  ASSERT_EQ(resp.route_table().routes_size(), 1);

  lb::v1::CreateRouteRequest create;
  create.mutable_route()->set_name("api");
  create.mutable_route()->set_path_prefix("/api");
  create.mutable_route()->set_cluster("backend");
  grpc::Status s = stub_->CreateRoute(Ctx().get(), create, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.route_table().version(), 2);
  ASSERT_EQ(resp.route_table().routes_size(), 2);
  EXPECT_EQ(resp.route_table().routes(1).host(), "*");

  lb::v1::UpdateRouteRequest update;
  *update.mutable_route() = create.route();
  update.mutable_route()->set_host("Example.com");
  update.set_expected_version(2);
  s = stub_->UpdateRoute(Ctx().get(), update, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.route_table().routes(1).host(), "example.com");
  EXPECT_EQ(resp.route_table().version(), 3);

  lb::v1::DeleteRouteRequest del;
  del.set_name("api");
  del.set_expected_version(3);
  s = stub_->DeleteRoute(Ctx().get(), del, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.route_table().routes_size(), 1);
  EXPECT_EQ(resp.route_table().version(), 4);
}

TEST_F(GrpcServiceTest, RouteErrors) {
  std::string before = State();
  lb::v1::RouteTableResponse resp;
  lb::v1::CreateRouteRequest create;
  create.mutable_route()->set_name("r");
  create.mutable_route()->set_cluster("nope");
  create.mutable_route()->set_path_prefix("/r");
  ExpectStatus(stub_->CreateRoute(Ctx().get(), create, &resp),
               grpc::StatusCode::FAILED_PRECONDITION,
               "route \"r\": cluster \"nope\" does not exist; create it first");
  create.mutable_route()->set_cluster("backend");
  create.mutable_route()->set_path_prefix("/");
  ExpectStatus(stub_->CreateRoute(Ctx().get(), create, &resp), grpc::StatusCode::ALREADY_EXISTS,
               "route \"r\": host \"*\" with path_prefix \"/\" is already routed by route "
               "\"default\"");
  create.set_expected_version(99);
  ExpectStatus(stub_->CreateRoute(Ctx().get(), create, &resp), grpc::StatusCode::ABORTED,
               "route table is at version 1, not 99; re-read and retry");
  create.set_expected_version(0);
  create.mutable_route()->set_name("default");
  create.mutable_route()->set_cluster("backend");
  ExpectStatus(stub_->CreateRoute(Ctx().get(), create, &resp), grpc::StatusCode::ALREADY_EXISTS,
               "route \"default\" already exists");
  create.mutable_route()->set_path_prefix("nope");
  ExpectStatus(stub_->CreateRoute(Ctx().get(), create, &resp), grpc::StatusCode::INVALID_ARGUMENT,
               "route.path_prefix: must start with \"/\" and contain no spaces");

  lb::v1::UpdateRouteRequest update;
  update.mutable_route()->set_name("x");
  update.mutable_route()->set_cluster("backend");
  ExpectStatus(stub_->UpdateRoute(Ctx().get(), update, &resp), grpc::StatusCode::NOT_FOUND,
               "route \"x\" not found");
  update.mutable_route()->set_name("default");
  update.set_expected_version(5);
  ExpectStatus(stub_->UpdateRoute(Ctx().get(), update, &resp), grpc::StatusCode::ABORTED,
               "route table is at version 1, not 5; re-read and retry");

  lb::v1::DeleteRouteRequest del;
  del.set_name("x");
  ExpectStatus(stub_->DeleteRoute(Ctx().get(), del, &resp), grpc::StatusCode::NOT_FOUND,
               "route \"x\" not found");
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Store errors and metrics

TEST_F(GrpcServiceTest, StoreErrorsKeepTheirCode) {
  fake_->FailTxn(absl::UnavailableError("store unreachable"));
  lb::v1::AddEndpointResponse resp;
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &resp),
               grpc::StatusCode::UNAVAILABLE, "store unreachable");
  fake_->FailTxn(absl::OkStatus());
  fake_->FailList(absl::InternalError("list failed"));
  lb::v1::ListClustersResponse list;
  ExpectStatus(stub_->ListClusters(Ctx(nullptr).get(), {}, &list), grpc::StatusCode::INTERNAL,
               "list failed");
  fake_->FailList(absl::OkStatus());
  fake_->AbortNextTxns(100);
  ExpectStatus(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &resp),
               grpc::StatusCode::ABORTED, "too many concurrent writers; try again");
}

TEST_F(GrpcServiceTest, CallsAreCountedByMethodAndCode) {
  lb::v1::AddEndpointResponse resp;
  stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &resp);
  stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &resp);
  stub_->AddEndpoint(Ctx(nullptr).get(), AddReq("backend", "10.0.0.1", 80), &resp);
  lb::v1::RouteTableResponse routes;
  stub_->ListRoutes(Ctx(nullptr).get(), {}, &routes);
  std::string text = metrics_->Render();
  EXPECT_THAT(
      text,
      HasSubstr(
          "# HELP lb_controller_grpc_requests_total lb.v1 gRPC calls by "
          "method and code.\n"
          "# TYPE lb_controller_grpc_requests_total counter\n"
          "lb_controller_grpc_requests_total{method=\"AddEndpoint\",code=\"ALREADY_EXISTS\"} 1\n"
          "lb_controller_grpc_requests_total{method=\"AddEndpoint\",code=\"OK\"} 1\n"
          "lb_controller_grpc_requests_total{method=\"AddEndpoint\",code=\"UNAUTHENTICATED\"} 1\n"
          "lb_controller_grpc_requests_total{method=\"ListRoutes\",code=\"OK\"} 1\n"));
}

// ---------------------------------------------------------------------------------------------
// WatchChanges

TEST_F(GrpcServiceTest, WatchChangesStreamsStateThenChanges) {
  auto ctx = Ctx(nullptr);
  std::unique_ptr<grpc::ClientReader<lb::v1::Change>> reader =
      stub_->WatchChanges(ctx.get(), lb::v1::WatchChangesRequest());
  lb::v1::Change change;
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_EQ(change.revision(), 1);
  ASSERT_EQ(change.kind_case(), lb::v1::Change::kCluster) << change.DebugString();
  absl::StatusOr<lb::v1::Cluster> backend = registry_->GetCluster("backend");
  ASSERT_TRUE(backend.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(change.cluster(), *backend)) << change.DebugString();
  ASSERT_TRUE(reader->Read(&change));
  ASSERT_EQ(change.kind_case(), lb::v1::Change::kRouteTable) << change.DebugString();
  EXPECT_EQ(change.revision(), 1);
  EXPECT_EQ(change.route_table().routes_size(), 1);
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_TRUE(change.initial_state_end()) << change.DebugString();
  EXPECT_EQ(change.revision(), 1);

  lb::v1::AddEndpointResponse added;
  ASSERT_TRUE(stub_->AddEndpoint(Ctx().get(), AddReq("backend", "10.0.0.1", 80), &added).ok());
  ASSERT_TRUE(reader->Read(&change));
  ASSERT_EQ(change.kind_case(), lb::v1::Change::kCluster) << change.DebugString();
  EXPECT_EQ(change.revision(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(change.cluster(), added.cluster()))
      << change.DebugString();

  lb::v1::CreateClusterRequest create;
  create.mutable_cluster()->set_name("web");
  lb::v1::Cluster web;
  ASSERT_TRUE(stub_->CreateCluster(Ctx().get(), create, &web).ok());
  lb::v1::DeleteClusterRequest del;
  del.set_name("web");
  lb::v1::DeleteClusterResponse deleted;
  ASSERT_TRUE(stub_->DeleteCluster(Ctx().get(), del, &deleted).ok());
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_EQ(change.cluster().name(), "web");
  EXPECT_EQ(change.revision(), 3);
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_EQ(change.revision(), 4);
  EXPECT_EQ(change.cluster_deleted(), "web");

  ctx->TryCancel();
  while (reader->Read(&change)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(GrpcServiceTest, WatchChangesEndsOnShutdown) {
  auto ctx = Ctx(nullptr);
  std::unique_ptr<grpc::ClientReader<lb::v1::Change>> reader =
      stub_->WatchChanges(ctx.get(), lb::v1::WatchChangesRequest());
  lb::v1::Change change;
  ASSERT_TRUE(reader->Read(&change));
  ASSERT_TRUE(reader->Read(&change));
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_TRUE(change.initial_state_end());
  service_->Shutdown();
  int extra = 0;
  while (reader->Read(&change)) ++extra;
  EXPECT_EQ(extra, 0);
  grpc::Status s = reader->Finish();
  ExpectStatus(s, grpc::StatusCode::UNAVAILABLE, "controller is shutting down");
}

TEST_F(GrpcServiceTest, WatchChangesReportsStoreErrors) {
  fake_->FailWatch(absl::OutOfRangeError("history compacted"));
  auto ctx = Ctx(nullptr);
  std::unique_ptr<grpc::ClientReader<lb::v1::Change>> reader =
      stub_->WatchChanges(ctx.get(), lb::v1::WatchChangesRequest());
  lb::v1::Change change;
  // The snapshot was queued before the store's watch failed; the RPC fails without sending it.
  while (reader->Read(&change)) {
  }
  ExpectStatus(reader->Finish(), grpc::StatusCode::OUT_OF_RANGE, "history compacted");
}

TEST_F(GrpcServiceTest, ListProxiesWithoutSourceIsEmpty) {
  lb::v1::ListProxiesResponse resp;
  grpc::Status s = stub_->ListProxies(Ctx(nullptr).get(), {}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.proxies_size(), 0);
}

TEST_F(GrpcServiceTest, ListProxiesAnswersFromItsSource) {
  lb::v1::ListProxiesResponse canned;
  lb::v1::ProxyStatus* proxy = canned.add_proxies();
  proxy->set_node_id("proxy-1");
  proxy->set_protocol("delta");
  service_->SetProxiesSource([canned] { return canned; });
  lb::v1::ListProxiesResponse resp;
  grpc::Status s = stub_->ListProxies(Ctx(nullptr).get(), {}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(MessageDifferencer::Equals(resp, canned)) << resp.DebugString();
}

}  // namespace
}  // namespace lb::api
