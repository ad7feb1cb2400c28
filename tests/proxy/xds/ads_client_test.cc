// AdsClient against the real controller (in-process, loopback) and against a scripted fake
// ADS server (for NACKs, subscriptions and reconnect requests checked message by message).
// Every wait is bounded.
#include "proxy/xds/ads_client.h"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/simulated_clock.h"
#include "common/xds/type_urls.h"
#include "controller/server/controller.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "proxy/xds/config_builder.h"
#include "proxy/xds/xds_transport.h"
#include "tests/test_common/net.h"
#include "tests/test_common/subprocess.h"

namespace lb::proxy::xds {
namespace {

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kRouteType;

namespace discovery_v3 = envoy::service::discovery::v3;

constexpr absl::Duration kWait = absl::Seconds(20);

// Waits up to `timeout` for `done`, polling.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = kWait) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

// Receives on_config calls.
class ConfigSink {
 public:
  AdsClient::ConfigCallback Callback() {
    return [this](std::shared_ptr<const ProxyConfig> config) {
      absl::MutexLock lock(&mu_);
      latest_ = std::move(config);
      ++calls_;
    };
  }

  // The latest config once `pred` holds for it, or null after `timeout`.
  std::shared_ptr<const ProxyConfig> WaitFor(const std::function<bool(const ProxyConfig&)>& pred,
                                             absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return latest_ != nullptr && pred(*latest_);
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return nullptr;
    return latest_;
  }

  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<const ProxyConfig> latest_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

std::set<int> Ports(const ProxyConfig& c, const std::string& cluster) {
  std::set<int> out;
  auto it = c.clusters.find(cluster);
  if (it == c.clusters.end()) return out;
  for (const auto& e : it->second.endpoints) out.insert(e.port);
  return out;
}

bool HasDomain(const ProxyConfig& c, const std::string& domain) {
  for (const auto& vh : c.virtual_hosts) {
    if (vh.domain == domain) return true;
  }
  return false;
}

AdsClientOptions Options(std::vector<std::string> controllers) {
  AdsClientOptions o;
  o.controllers = std::move(controllers);
  o.node_id = "proxy-1";
  o.zone = "z1";
  o.max_backoff = absl::Seconds(1);  // Keeps reconnect tests short.
  return o;
}

TEST(AdsClientOptionsTest, StartValidatesOptions) {
  AdsClient no_controllers(AdsClientOptions{}, nullptr);
  EXPECT_EQ(no_controllers.Start().code(), absl::StatusCode::kInvalidArgument);
  AdsClientOptions o;
  o.controllers = {"127.0.0.1:1"};
  AdsClient no_node(o, nullptr);
  EXPECT_EQ(no_node.Start().code(), absl::StatusCode::kInvalidArgument);
  o.node_id = "n";
  o.initial_backoff = absl::Seconds(5);
  AdsClient twice(o, nullptr);
  EXPECT_TRUE(twice.Start().ok());
  EXPECT_EQ(twice.Start().code(), absl::StatusCode::kFailedPrecondition);
  twice.Stop();  // Returns promptly even while backing off.
  twice.Stop();
}

// ---------------------------------------------------------------------------------------------
// Against the real controller.

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { data_dir_ = lb::testing::MakeTempDir(); }

  void TearDown() override {
    if (client_) client_->Stop();
    if (controller_) controller_->Shutdown();
  }

  // Starts the controller on `port` (0: any), retrying briefly while the port is busy.
  void StartController(int port = 0) {
    controller::ControllerOptions options;
    options.grpc_listen = absl::StrCat("127.0.0.1:", port);
    options.rest_listen = "127.0.0.1:0";
    options.data_dir = data_dir_;
    absl::StatusOr<std::unique_ptr<controller::Controller>> c;
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    do {
      c = controller::Controller::Start(options);
      if (c.ok()) break;
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < deadline);
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
    address_ = absl::StrCat("127.0.0.1:", controller_->grpc_port());
    lb_ = lb::v1::LoadBalancer::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  void StopController() {
    controller_->Shutdown();
    controller_.reset();
  }

  void StartClient(std::vector<std::string> controllers) {
    client_ = std::make_unique<AdsClient>(Options(std::move(controllers)), sink_.Callback());
    ASSERT_TRUE(client_->Start().ok());
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  void AddEndpoint(const std::string& cluster, int port) {
    lb::v1::AddEndpointRequest req;
    req.set_cluster(cluster);
    req.mutable_endpoint()->set_address("127.0.0.1");
    req.mutable_endpoint()->set_port(port);
    lb::v1::AddEndpointResponse resp;
    grpc::Status s = lb_->AddEndpoint(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void RemoveEndpoint(const std::string& cluster, int port) {
    lb::v1::RemoveEndpointRequest req;
    req.set_cluster(cluster);
    req.set_address("127.0.0.1");
    req.set_port(port);
    lb::v1::RemoveEndpointResponse resp;
    grpc::Status s = lb_->RemoveEndpoint(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::string data_dir_;
  std::unique_ptr<controller::Controller> controller_;
  std::string address_;
  std::unique_ptr<lb::v1::LoadBalancer::Stub> lb_;
  ConfigSink sink_;
  std::unique_ptr<AdsClient> client_;
};

TEST_F(ControllerTest, ReceivesClustersEndpointsAndRoutesAndFollowsChanges) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(AddEndpoint("backend", 8081));
  ASSERT_NO_FATAL_FAILURE(StartClient({address_}));

  // The bootstrapped cluster "backend" with its endpoint, and the "default" route table.
  auto config = sink_.WaitFor([](const ProxyConfig& c) {
    return Ports(c, "backend") == std::set<int>{8081} && HasDomain(c, "*");
  });
  ASSERT_NE(config, nullptr);
  const ClusterConfig& backend = config->clusters.at("backend");
  EXPECT_EQ(backend.policy, LbPolicy::kRandom);
  EXPECT_EQ(backend.endpoints[0].address, "127.0.0.1");
  EXPECT_FALSE(backend.version.empty());
  EXPECT_FALSE(backend.endpoints_version.empty());
  ASSERT_EQ(config->virtual_hosts.size(), 1u);
  ASSERT_EQ(config->virtual_hosts[0].routes.size(), 1u);
  EXPECT_EQ(config->virtual_hosts[0].routes[0].cluster, "backend");
  EXPECT_EQ(config->virtual_hosts[0].routes[0].prefix, "/");
  EXPECT_EQ(config->virtual_hosts[0].routes[0].retries, 2u);
  EXPECT_FALSE(config->routes_version.empty());

  // Endpoint adds, removals and draining.
  ASSERT_NO_FATAL_FAILURE(AddEndpoint("backend", 8082));
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    return Ports(c, "backend") == std::set<int>{8081, 8082};
  }),
            nullptr);
  ASSERT_NO_FATAL_FAILURE(RemoveEndpoint("backend", 8081));
  ASSERT_NE(sink_.WaitFor(
                [](const ProxyConfig& c) { return Ports(c, "backend") == std::set<int>{8082}; }),
            nullptr);
  {
    lb::v1::SetEndpointStateRequest req;
    req.set_cluster("backend");
    req.set_address("127.0.0.1");
    req.set_port(8082);
    req.set_admin_state(lb::v1::DRAINING);
    lb::v1::SetEndpointStateResponse resp;
    ASSERT_TRUE(lb_->SetEndpointState(Ctx().get(), req, &resp).ok());
  }
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    auto it = c.clusters.find("backend");
    return it != c.clusters.end() && it->second.endpoints.size() == 1 &&
           it->second.endpoints[0].draining;
  }),
            nullptr);

  // A new cluster with its own policy, hash and route; then its removal.
  {
    lb::v1::CreateClusterRequest req;
    lb::v1::Cluster* c = req.mutable_cluster();
    c->set_name("api");
    c->set_lb_policy(lb::v1::RING_HASH);
    c->mutable_hash_policy()->set_header("x-user");
    c->mutable_retries()->set_value(4);
    c->mutable_health_check()->set_path("/healthz");
    c->mutable_healthy_panic_threshold()->set_value(30);
    lb::v1::Endpoint* e = c->add_endpoints();
    e->set_address("127.0.0.2");
    e->set_port(9000);
    e->set_zone("z2");
    lb::v1::Cluster created;
    grpc::Status s = lb_->CreateCluster(Ctx().get(), req, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    lb::v1::CreateRouteRequest route;
    route.mutable_route()->set_name("api");
    route.mutable_route()->set_host("api.example.com");
    route.mutable_route()->set_path_prefix("/v1");
    route.mutable_route()->set_cluster("api");
    lb::v1::RouteTableResponse table;
    s = lb_->CreateRoute(Ctx().get(), route, &table);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  config = sink_.WaitFor([](const ProxyConfig& c) {
    return Ports(c, "api") == std::set<int>{9000} && HasDomain(c, "api.example.com");
  });
  ASSERT_NE(config, nullptr);
  const ClusterConfig& api = config->clusters.at("api");
  EXPECT_EQ(api.policy, LbPolicy::kRingHash);
  EXPECT_EQ(api.health_check.path, "/healthz");
  EXPECT_EQ(api.healthy_panic_threshold, 30u);
  EXPECT_EQ(api.endpoints[0].zone, "z2");
  for (const auto& vh : config->virtual_hosts) {
    if (vh.domain != "api.example.com") continue;
    // The host's own route first, then the catch-all "/" that also covers it.
    ASSERT_EQ(vh.routes.size(), 2u);
    EXPECT_EQ(vh.routes[1].prefix, "/");
    EXPECT_EQ(vh.routes[1].cluster, "backend");
    EXPECT_EQ(vh.routes[0].prefix, "/v1");
    EXPECT_EQ(vh.routes[0].retries, 4u);
    ASSERT_TRUE(vh.routes[0].has_hash_policy);
    EXPECT_EQ(vh.routes[0].hash_policy.kind, HashPolicy::Kind::kHeader);
    EXPECT_EQ(vh.routes[0].hash_policy.name, "x-user");
  }
  {
    lb::v1::DeleteRouteRequest route;
    route.set_name("api");
    lb::v1::RouteTableResponse table;
    ASSERT_TRUE(lb_->DeleteRoute(Ctx().get(), route, &table).ok());
    lb::v1::DeleteClusterRequest req;
    req.set_name("api");
    lb::v1::DeleteClusterResponse resp;
    grpc::Status s = lb_->DeleteCluster(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    return c.clusters.count("api") == 0 && !HasDomain(c, "api.example.com");
  }),
            nullptr);

  AdsClientStatus status = client_->GetStatus();
  EXPECT_TRUE(status.connected);
  EXPECT_EQ(status.controller, address_);
  EXPECT_EQ(status.nack_count, 0u);
  EXPECT_TRUE(status.warming_clusters.empty());
  EXPECT_TRUE(status.warnings.empty());
  for (const char* type : {kClusterType, kEndpointType, kRouteType}) {
    EXPECT_FALSE(status.versions[type].empty()) << type;
  }

  // The controller saw this proxy and every response was ACKed.
  ASSERT_TRUE(WaitUntil([&] {
    lb::v1::ListProxiesResponse proxies;
    if (!lb_->ListProxies(Ctx().get(), lb::v1::ListProxiesRequest(), &proxies).ok()) return false;
    if (proxies.proxies_size() != 1 || proxies.proxies(0).resources_size() != 3) return false;
    for (const auto& r : proxies.proxies(0).resources()) {
      if (r.version_acked() != r.version_sent() || r.nacks() != 0) return false;
    }
    return proxies.proxies(0).node_id() == "proxy-1" && proxies.proxies(0).zone() == "z1" &&
           absl::StartsWith(proxies.proxies(0).user_agent(), "lb-proxy");
  }));
}

TEST_F(ControllerTest, KeepsConfigWhileControllerIsDownThenReconnects) {
  absl::StatusOr<int> port = lb::testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_NO_FATAL_FAILURE(StartController(*port));
  ASSERT_NO_FATAL_FAILURE(AddEndpoint("backend", 8081));
  ASSERT_NO_FATAL_FAILURE(StartClient({address_}));
  auto before = sink_.WaitFor([](const ProxyConfig& c) {
    return Ports(c, "backend") == std::set<int>{8081} && HasDomain(c, "*");
  });
  ASSERT_NE(before, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return client_->GetStatus().connected; }));
  const int calls = sink_.calls();

  StopController();
  ASSERT_TRUE(WaitUntil([&] { return !client_->GetStatus().connected; }));
  // Several failed attempts later, the last good config is still the one in use.
  const uint64_t streams = client_->GetStatus().streams;
  ASSERT_TRUE(WaitUntil([&] { return client_->GetStatus().streams >= streams + 2; }));
  EXPECT_EQ(client_->config(), before);
  EXPECT_EQ(sink_.calls(), calls);
  EXPECT_FALSE(client_->GetStatus().last_error.empty());

  // Same port, same data: the client comes back and follows new changes.
  ASSERT_NO_FATAL_FAILURE(StartController(*port));
  ASSERT_NO_FATAL_FAILURE(AddEndpoint("backend", 8082));
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    return Ports(c, "backend") == std::set<int>{8081, 8082};
  }),
            nullptr);
  AdsClientStatus status = client_->GetStatus();
  EXPECT_TRUE(status.connected);
  EXPECT_EQ(status.controller, address_);
  EXPECT_EQ(status.nack_count, 0u);
}

TEST_F(ControllerTest, SkipsDeadControllerInTheList) {
  absl::StatusOr<int> dead_port = lb::testing::PickFreePort();
  ASSERT_TRUE(dead_port.ok()) << dead_port.status();
  const std::string dead = absl::StrCat("127.0.0.1:", *dead_port);
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(AddEndpoint("backend", 8081));
  ASSERT_NO_FATAL_FAILURE(StartClient({dead, address_}));
  ASSERT_NE(sink_.WaitFor(
                [](const ProxyConfig& c) { return Ports(c, "backend") == std::set<int>{8081}; }),
            nullptr);
  AdsClientStatus status = client_->GetStatus();
  EXPECT_TRUE(status.connected);
  EXPECT_EQ(status.controller, address_);
  EXPECT_GE(status.streams, 2u);     // The dead one was tried first.
  EXPECT_EQ(status.last_error, "");  // Connected and nothing NACKed: no error holds.
}

// ---------------------------------------------------------------------------------------------
// Against an in-memory transport (no gRPC): the client's protocol and its reconnect logic.

// Plays the controllers: every stream the client opens lands here; the test reads what the
// client sent and answers. Targets in `refuse` end at once, like an unreachable controller.
class FakeTransport final : public XdsTransportFactory {
 public:
  class Stream final : public XdsStream {
   public:
    Stream(FakeTransport* owner, bool refused) : owner_(owner), ended_(refused) {}
    bool Write(const discovery_v3::DiscoveryRequest& request) override {
      absl::MutexLock lock(&owner_->mu_);
      if (ended_) return false;
      owner_->requests_.push_back(request);
      return true;
    }
    bool Read(discovery_v3::DiscoveryResponse* response) override {
      absl::MutexLock lock(&owner_->mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(owner_->mu_) {
        return ended_ || !inbox_.empty();
      };
      owner_->mu_.Await(absl::Condition(&ready));
      if (inbox_.empty()) return false;
      *response = std::move(inbox_.front());
      inbox_.pop_front();
      return true;
    }
    absl::Status Finish() override { return absl::UnavailableError("fake stream ended"); }
    void Cancel() override {
      absl::MutexLock lock(&owner_->mu_);
      ended_ = true;
    }

   private:
    friend class FakeTransport;
    FakeTransport* const owner_;
    bool ended_ ABSL_GUARDED_BY(owner_->mu_);
    std::deque<discovery_v3::DiscoveryResponse> inbox_ ABSL_GUARDED_BY(owner_->mu_);
  };

  std::unique_ptr<XdsStream> OpenAds(const std::string& target) override {
    absl::MutexLock lock(&mu_);
    requests_.clear();  // What earlier streams sent and nobody read is of no interest.
    targets_.push_back(target);
    auto stream = std::make_unique<Stream>(this, refuse_.count(target) > 0);
    if (!refuse_.count(target)) current_ = stream.get();
    return stream;
  }

  void Refuse(const std::string& target) {
    absl::MutexLock lock(&mu_);
    refuse_.insert(target);
  }
  // The next request of `type`, in arrival order; nullopt after `timeout`.
  std::optional<discovery_v3::DiscoveryRequest> Next(const std::string& type,
                                                     absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& r : requests_) {
        if (r.type_url() == type) return true;
      }
      return false;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&has), timeout)) return std::nullopt;
    for (auto it = requests_.begin(); it != requests_.end(); ++it) {
      if (it->type_url() == type) {
        discovery_v3::DiscoveryRequest r = *it;
        requests_.erase(it);
        return r;
      }
    }
    return std::nullopt;
  }
  bool Send(const discovery_v3::DiscoveryResponse& response) {
    absl::MutexLock lock(&mu_);
    if (current_ == nullptr) return false;
    current_->owner_->mu_.AssertHeld();  // Tells the analysis owner_->mu_ is this mu_.
    if (current_->ended_) return false;
    current_->inbox_.push_back(response);
    return true;
  }
  // Ends the current stream (the client sees it fail).
  void Cancel() {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr) {
      current_->owner_->mu_.AssertHeld();  // Tells the analysis owner_->mu_ is this mu_.
      current_->ended_ = true;
    }
    current_ = nullptr;
  }
  int streams() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(targets_.size());
  }
  std::vector<std::string> targets() {
    absl::MutexLock lock(&mu_);
    return targets_;
  }
  // Waits (real time) until the client has opened `n` streams.
  bool WaitStreams(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return static_cast<int>(targets_.size()) >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> targets_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> refuse_ ABSL_GUARDED_BY(mu_);
  Stream* current_ ABSL_GUARDED_BY(mu_) = nullptr;  // Streams live in the client.
  std::deque<discovery_v3::DiscoveryRequest> requests_ ABSL_GUARDED_BY(mu_);
};

envoy::config::cluster::v3::Cluster Cluster(const std::string& name,
                                            envoy::config::cluster::v3::Cluster::LbPolicy policy =
                                                envoy::config::cluster::v3::Cluster::ROUND_ROBIN) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  c.set_lb_policy(policy);
  return c;
}

envoy::config::endpoint::v3::ClusterLoadAssignment Assignment(const std::string& name, int port) {
  envoy::config::endpoint::v3::ClusterLoadAssignment a;
  a.set_cluster_name(name);
  auto* socket = a.add_endpoints()
                     ->add_lb_endpoints()
                     ->mutable_endpoint()
                     ->mutable_address()
                     ->mutable_socket_address();
  socket->set_address("10.0.0.1");
  socket->set_port_value(port);
  return a;
}

envoy::config::route::v3::RouteConfiguration Routes(const std::string& cluster) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("default");
  auto* vh = rc.add_virtual_hosts();
  vh->add_domains("*");
  auto* route = vh->add_routes();
  route->mutable_match()->set_prefix("/");
  route->mutable_route()->set_cluster(cluster);
  return rc;
}

template <typename... Resources>
discovery_v3::DiscoveryResponse Response(const std::string& type, const std::string& version,
                                         const std::string& nonce, const Resources&... resources) {
  discovery_v3::DiscoveryResponse r;
  r.set_type_url(type);
  r.set_version_info(version);
  r.set_nonce(nonce);
  (r.add_resources()->PackFrom(resources), ...);
  return r;
}

std::vector<std::string> Names(const discovery_v3::DiscoveryRequest& r) {
  return std::vector<std::string>(r.resource_names().begin(), r.resource_names().end());
}

class FakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeTransport>();
    AdsClientOptions options = Options({"controller-1:18000"});
    options.transport = fake_;
    options.clock = &clock_;
    client_ = std::make_unique<AdsClient>(options, sink_.Callback());
    ASSERT_TRUE(client_->Start().ok());
  }

  void TearDown() override { client_->Stop(); }

  // Subscriptions of a first stream, then cluster "web" (ROUND_ROBIN, one endpoint) and the
  // routes at version "1" each, all ACKed.
  void Handshake() {
    auto cds = fake_->Next(kClusterType);
    ASSERT_TRUE(cds.has_value());
    EXPECT_EQ(cds->node().id(), "proxy-1");
    EXPECT_EQ(cds->node().locality().zone(), "z1");
    EXPECT_EQ(cds->node().user_agent_name(), "lb-proxy");
    EXPECT_EQ(cds->version_info(), "");
    EXPECT_EQ(cds->response_nonce(), "");
    EXPECT_TRUE(Names(*cds).empty());  // Wildcard.
    auto rds = fake_->Next(kRouteType);
    ASSERT_TRUE(rds.has_value());
    EXPECT_FALSE(rds->has_node());  // Only the first request carries it.
    EXPECT_EQ(Names(*rds), std::vector<std::string>{"default"});

    ASSERT_TRUE(fake_->Send(Response(kClusterType, "1", "c1", Cluster("web"))));
    auto ack = fake_->Next(kClusterType);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(ack->version_info(), "1");
    EXPECT_EQ(ack->response_nonce(), "c1");
    EXPECT_FALSE(ack->has_error_detail());
    auto eds = fake_->Next(kEndpointType);
    ASSERT_TRUE(eds.has_value());
    EXPECT_EQ(Names(*eds), std::vector<std::string>{"web"});
    EXPECT_EQ(eds->version_info(), "");

    ASSERT_TRUE(fake_->Send(Response(kEndpointType, "1", "e1", Assignment("web", 80))));
    ack = fake_->Next(kEndpointType);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(ack->version_info(), "1");
    EXPECT_EQ(ack->response_nonce(), "e1");
    EXPECT_EQ(Names(*ack), std::vector<std::string>{"web"});
    EXPECT_FALSE(ack->has_error_detail());

    ASSERT_TRUE(fake_->Send(Response(kRouteType, "1", "r1", Routes("web"))));
    ack = fake_->Next(kRouteType);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(ack->version_info(), "1");
    EXPECT_EQ(ack->response_nonce(), "r1");
    EXPECT_FALSE(ack->has_error_detail());

    ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
      return Ports(c, "web") == std::set<int>{80} && HasDomain(c, "*");
    }),
              nullptr);
  }

  SimulatedClock clock_;
  std::shared_ptr<FakeTransport> fake_;
  ConfigSink sink_;
  std::unique_ptr<AdsClient> client_;
};

TEST_F(FakeServerTest, NacksInvalidClusterWithExactErrorAndKeepsConfig) {
  ASSERT_NO_FATAL_FAILURE(Handshake());
  auto good = client_->config();
  const int calls = sink_.calls();

  auto bad = Cluster("web", static_cast<envoy::config::cluster::v3::Cluster::LbPolicy>(6));
  bad.mutable_connect_timeout()->set_seconds(-1);
  ASSERT_TRUE(fake_->Send(Response(kClusterType, "2", "c2", bad)));
  auto nack = fake_->Next(kClusterType);
  ASSERT_TRUE(nack.has_value());
  const std::string want =
      "Cluster \"web\": lb_policy: unsupported value 6; connect_timeout: must be positive";
  EXPECT_EQ(nack->version_info(), "1");  // The last good version.
  EXPECT_EQ(nack->response_nonce(), "c2");
  EXPECT_EQ(nack->error_detail().code(), 3);  // INVALID_ARGUMENT.
  EXPECT_EQ(nack->error_detail().message(), want);
  EXPECT_TRUE(Names(*nack).empty());

  AdsClientStatus status = client_->GetStatus();
  EXPECT_EQ(status.nack_count, 1u);
  EXPECT_EQ(status.nacks[kClusterType], want);
  EXPECT_EQ(status.last_error, want);
  EXPECT_EQ(status.versions[kClusterType], "1");
  EXPECT_EQ(client_->config(), good);
  EXPECT_EQ(client_->config()->clusters.at("web").policy, LbPolicy::kRoundRobin);
  EXPECT_EQ(sink_.calls(), calls);

  // An invalid endpoint update is NACKed too, with its own path.
  auto bad_eds = Assignment("web", 80);
  bad_eds.mutable_endpoints(0)
      ->mutable_lb_endpoints(0)
      ->mutable_endpoint()
      ->mutable_address()
      ->mutable_socket_address()
      ->set_address("foo");
  ASSERT_TRUE(fake_->Send(Response(kEndpointType, "2", "e2", bad_eds)));
  nack = fake_->Next(kEndpointType);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->version_info(), "1");
  EXPECT_EQ(nack->response_nonce(), "e2");
  EXPECT_EQ(nack->error_detail().message(),
            "ClusterLoadAssignment \"web\": endpoints[0].lb_endpoints[0].endpoint.address."
            "socket_address.address: \"foo\" is not an IP address");
  EXPECT_EQ(client_->config(), good);

  // The next valid version is ACKed and applied.
  ASSERT_TRUE(fake_->Send(Response(kClusterType, "3", "c3",
                                   Cluster("web", envoy::config::cluster::v3::Cluster::MAGLEV))));
  auto ack = fake_->Next(kClusterType);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->version_info(), "3");
  EXPECT_EQ(ack->response_nonce(), "c3");
  EXPECT_FALSE(ack->has_error_detail());
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    return c.clusters.count("web") && c.clusters.at("web").policy == LbPolicy::kMaglev;
  }),
            nullptr);
  EXPECT_EQ(client_->GetStatus().versions[kClusterType], "3");
}

TEST_F(FakeServerTest, EdsSubscriptionFollowsCdsAndNewClustersWarm) {
  ASSERT_NO_FATAL_FAILURE(Handshake());

  ASSERT_TRUE(fake_->Send(Response(kClusterType, "2", "c2", Cluster("web"), Cluster("api"))));
  ASSERT_TRUE(fake_->Next(kClusterType).has_value());
  auto eds = fake_->Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(Names(*eds), (std::vector<std::string>{"api", "web"}));
  EXPECT_EQ(eds->version_info(), "1");
  EXPECT_EQ(eds->response_nonce(), "e1");
  // "api" is warming: not visible yet.
  ASSERT_TRUE(WaitUntil([&] { return client_->GetStatus().warming_clusters.size() == 1; }));
  EXPECT_EQ(client_->GetStatus().warming_clusters, std::vector<std::string>{"api"});
  EXPECT_EQ(client_->config()->clusters.count("api"), 0u);

  ASSERT_TRUE(fake_->Send(Response(kEndpointType, "2", "e2", Assignment("api", 90))));
  ASSERT_TRUE(fake_->Next(kEndpointType).has_value());
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    return Ports(c, "api") == std::set<int>{90} && Ports(c, "web") == std::set<int>{80};
  }),
            nullptr);

  // "web" leaves CDS: dropped and unsubscribed.
  ASSERT_TRUE(fake_->Send(Response(kClusterType, "3", "c3", Cluster("api"))));
  ASSERT_TRUE(fake_->Next(kClusterType).has_value());
  eds = fake_->Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(Names(*eds), std::vector<std::string>{"api"});
  ASSERT_NE(sink_.WaitFor([](const ProxyConfig& c) {
    return c.clusters.size() == 1 && c.clusters.count("api") == 1;
  }),
            nullptr);
}

TEST_F(FakeServerTest, ReconnectResubscribesWithLastVersionsAndKeepsConfig) {
  ASSERT_NO_FATAL_FAILURE(Handshake());
  auto good = client_->config();
  const int calls = sink_.calls();
  ASSERT_EQ(fake_->streams(), 1);

  fake_->Cancel();
  ASSERT_TRUE(clock_.WaitForWaiters(1));  // Backing off...
  clock_.Advance(absl::Seconds(1));       // ... until the next attempt.
  auto cds = fake_->Next(kClusterType);
  ASSERT_TRUE(cds.has_value());
  EXPECT_EQ(fake_->streams(), 2);
  EXPECT_EQ(cds->node().id(), "proxy-1");  // A new stream: the node again.
  EXPECT_EQ(cds->version_info(), "1");
  EXPECT_EQ(cds->response_nonce(), "");  // Nonces don't survive the stream.
  auto rds = fake_->Next(kRouteType);
  ASSERT_TRUE(rds.has_value());
  EXPECT_EQ(rds->version_info(), "1");
  auto eds = fake_->Next(kEndpointType);
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(eds->version_info(), "1");
  EXPECT_EQ(Names(*eds), std::vector<std::string>{"web"});
  EXPECT_EQ(client_->config(), good);
  EXPECT_FALSE(client_->GetStatus().last_error.empty());

  // The server answers with the same state: ACKed, and nothing is republished.
  ASSERT_TRUE(fake_->Send(Response(kClusterType, "1", "c9", Cluster("web"))));
  ASSERT_TRUE(fake_->Send(Response(kEndpointType, "1", "e9", Assignment("web", 80))));
  ASSERT_TRUE(fake_->Send(Response(kRouteType, "1", "r9", Routes("web"))));
  for (const char* type : {kClusterType, kEndpointType, kRouteType}) {
    auto ack = fake_->Next(type);
    ASSERT_TRUE(ack.has_value()) << type;
    EXPECT_FALSE(ack->has_error_detail()) << type;
  }
  EXPECT_EQ(client_->config(), good);
  EXPECT_EQ(sink_.calls(), calls);
  AdsClientStatus status = client_->GetStatus();
  EXPECT_TRUE(status.connected);
  EXPECT_EQ(status.last_error, "");  // The stream failure no longer holds.
}

// A NACKed type keeps its error on the admin page until a later version of it is accepted.
TEST_F(FakeServerTest, ErrorsShownOnlyWhileTheyHold) {
  ASSERT_NO_FATAL_FAILURE(Handshake());
  ASSERT_TRUE(fake_->Send(
      Response(kClusterType, "2", "c2",
               Cluster("web", static_cast<envoy::config::cluster::v3::Cluster::LbPolicy>(6)))));
  ASSERT_TRUE(fake_->Next(kClusterType).has_value());
  AdsClientStatus status = client_->GetStatus();
  EXPECT_EQ(status.last_error, "Cluster \"web\": lb_policy: unsupported value 6");
  EXPECT_EQ(status.nacks.size(), 1u);
  // Another type's good update does not clear it...
  ASSERT_TRUE(fake_->Send(Response(kRouteType, "2", "r2", Routes("web"))));
  ASSERT_TRUE(fake_->Next(kRouteType).has_value());
  EXPECT_EQ(client_->GetStatus().nacks.size(), 1u);
  EXPECT_FALSE(client_->GetStatus().last_error.empty());
  // ... a good version of the NACKed type does.
  ASSERT_TRUE(fake_->Send(Response(kClusterType, "3", "c3", Cluster("web"))));
  ASSERT_TRUE(fake_->Next(kClusterType).has_value());
  status = client_->GetStatus();
  EXPECT_TRUE(status.nacks.empty());
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(status.nack_count, 1u);  // The count is history.
}

// Reconnects: round robin over the controllers, backoff doubling to its cap, reset by a stream
// that delivered something. All on simulated time.
TEST(AdsClientBackoffTest, FailsOverInTurnWithDoublingBackoff) {
  SimulatedClock clock;
  auto fake = std::make_shared<FakeTransport>();
  fake->Refuse("a:1");
  fake->Refuse("b:1");
  AdsClientOptions options = Options({"a:1", "b:1"});
  options.transport = fake;
  options.clock = &clock;
  options.jitter = 0;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Milliseconds(400);
  ConfigSink sink;
  AdsClient client(options, sink.Callback());
  ASSERT_TRUE(client.Start().ok());
  // Delays after each failed attempt: 100, 200, 400, 400 ms.
  for (absl::Duration delay : {absl::Milliseconds(100), absl::Milliseconds(200),
                               absl::Milliseconds(400), absl::Milliseconds(400)}) {
    ASSERT_TRUE(clock.WaitForWaiters(1));  // The attempt failed; the client waits.
    const int before = fake->streams();
    clock.Advance(delay - absl::Milliseconds(1));
    ASSERT_TRUE(clock.WaitForWaiters(1));
    EXPECT_EQ(fake->streams(), before) << "attempted before its backoff";
    clock.Advance(absl::Milliseconds(1));
    ASSERT_TRUE(fake->WaitStreams(before + 1));
  }
  EXPECT_EQ(fake->targets(), std::vector<std::string>({"a:1", "b:1", "a:1", "b:1", "a:1"}));
  ASSERT_TRUE(clock.WaitForWaiters(1));  // The fifth attempt is over too.
  EXPECT_TRUE(absl::StrContains(client.GetStatus().last_error, "stream to a:1 ended"))
      << client.GetStatus().last_error;
  client.Stop();  // Returns at once while waiting: no clock needed.
}

TEST(AdsClientBackoffTest, AStreamWithAResponseResetsTheBackoff) {
  SimulatedClock clock;
  auto fake = std::make_shared<FakeTransport>();
  AdsClientOptions options = Options({"a:1"});
  options.transport = fake;
  options.clock = &clock;
  options.jitter = 0;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Seconds(10);
  ConfigSink sink;
  AdsClient client(options, sink.Callback());
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(fake->WaitStreams(1));
  // Two empty streams: the backoff grows to 200 ms.
  fake->Cancel();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(fake->WaitStreams(2));
  fake->Cancel();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(absl::Milliseconds(200));
  ASSERT_TRUE(fake->WaitStreams(3));
  // This one answers, then ends: the next attempt comes after the initial backoff again.
  ASSERT_TRUE(fake->Next(kClusterType).has_value());
  ASSERT_TRUE(fake->Send(Response(kClusterType, "1", "c1", Cluster("web"))));
  ASSERT_TRUE(fake->Next(kClusterType).has_value());  // The ACK.
  EXPECT_TRUE(client.GetStatus().connected);
  fake->Cancel();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(fake->WaitStreams(4));
}

}  // namespace
}  // namespace lb::proxy::xds
