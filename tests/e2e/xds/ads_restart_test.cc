// ADS clients across a controller crash: the controller binary runs as a child process on a
// fixed loopback port, is killed with SIGKILL and restarted on the same port and data
// directory; SotW and delta clients reconnect and converge to the same state. Delta clients
// send initial_resource_versions, and since versions are content hashes (stable across
// restarts) nothing they already hold is sent again.
#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/server/controller.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/ads_client.h"
#include "tests/test_common/ads_fixture.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/lb_api.h"
#include "tests/test_common/net.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing::xds {
namespace {

constexpr absl::Duration kWait = absl::Seconds(15);
constexpr absl::Duration kSilence = absl::Milliseconds(500);

const std::vector<std::string>& AllTypes() {
  static const auto* types =
      new std::vector<std::string>{kClusterType, kEndpointType, kListenerType, kRouteType};
  return *types;
}

// Type -> name -> serialized resource: what a client holds, comparable across streams.
using Contents = std::map<std::string, std::map<std::string, std::string>>;

Contents ContentsOf(const ResourceState& state) {
  Contents out;
  for (const auto& type : AllTypes()) {
    for (const auto& [name, r] : state.Of(type)) out[type][name] = r.any.value();
  }
  return out;
}

class AdsRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<int> port = PickFreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    grpc_port_ = *port;
    controller_ = std::make_unique<ControllerProcess>(
        std::vector<std::string>{absl::StrCat("--grpc_listen=", target())});
    ASSERT_NO_FATAL_FAILURE(StartController());
    // Model: "backend" with two endpoints, "svc2" with one, "svc3" with none.
    ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.1", 7001, 2, "z1")));
    ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.2", 7002, 3, "z2")));
    ASSERT_TRUE(IsOk(api_->CreateCluster("svc2")));
    ASSERT_TRUE(IsOk(api_->AddEndpoint("svc2", "127.0.0.3", 7003)));
    ASSERT_TRUE(IsOk(api_->CreateCluster("svc3")));
  }

  std::string target() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

  // Starts the controller on the fixed gRPC port (and the same data directory every time).
  void StartController() {
    // The port may still be held by the controller killed a moment ago.
    absl::Status s = controller_->StartRetrying();
    ASSERT_TRUE(s.ok()) << s;
    // A fresh channel: the old one may be backing off after the kill.
    api_ = std::make_unique<LbApi>(target());
  }

  void KillController() {
    controller_->Signal(SIGKILL);
    absl::StatusOr<int> exit = controller_->Wait(absl::Seconds(10));
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(*exit, 128 + SIGKILL);
  }

  // Waits until `client`'s stream has ended (the controller is gone).
  template <typename Client>
  void AwaitStreamEnd(Client* client) {
    absl::Time deadline = absl::Now() + kWait;
    while (!client->StreamEnded() && absl::Now() < deadline) {
      absl::StatusOr<typename Client::Response> r = client->Next(absl::Milliseconds(100));
      ASSERT_FALSE(r.ok()) << "unexpected response " << Summary(*r);
    }
    ASSERT_TRUE(client->StreamEnded());
  }

  static bool Converged(const ResourceState& st) {
    return st.Names(kClusterType) == std::set<std::string>{"backend", "svc2", "svc3"} &&
           st.Names(kListenerType) == std::set<std::string>{"backend", "svc2", "svc3"} &&
           EndpointSetOf(st, "backend") ==
               std::set<std::string>{"127.0.0.1:7001 w=2 zone=z1 UNKNOWN",
                                     "127.0.0.2:7002 w=3 zone=z2 UNKNOWN"} &&
           EndpointSetOf(st, "svc2") == std::set<std::string>{"127.0.0.3:7003 w=1 zone= UNKNOWN"} &&
           st.Endpoints("svc3") != nullptr && st.Route("default") != nullptr;
  }

  int grpc_port_ = 0;
  std::unique_ptr<ControllerProcess> controller_;  // Killed by its destructor.
  std::unique_ptr<LbApi> api_;
};

TEST_F(AdsRestartTest, SotwReconnectsWithLastVersionsAndConverges) {
  ConnectOptions options;
  options.node_id = "restart-sotw";
  absl::StatusOr<std::unique_ptr<SotwAdsClient>> c = SotwAdsClient::Connect(target(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  SotwAdsClient& client = **c;
  ASSERT_TRUE(IsOk(client.Subscribe(kClusterType, {"*"})));
  ASSERT_TRUE(IsOk(client.Subscribe(kEndpointType, {"backend", "svc2", "svc3"})));
  ASSERT_TRUE(IsOk(client.Subscribe(kListenerType, {"*"})));
  ASSERT_TRUE(IsOk(client.Subscribe(kRouteType, {"default"})));
  absl::Status s = client.WaitFor(Converged, kWait);
  ASSERT_TRUE(s.ok()) << s;
  const Contents before = ContentsOf(client.state());
  std::map<std::string, std::string> versions;
  for (const auto& type : AllTypes()) versions[type] = client.AckedVersion(type);

  ASSERT_NO_FATAL_FAILURE(KillController());
  ASSERT_NO_FATAL_FAILURE(AwaitStreamEnd(&client));
  ASSERT_NO_FATAL_FAILURE(StartController());

  // The reconnecting client names its last versions; a SotW server cannot tell what it holds,
  // so it answers every type in full again, with the same content and the same versions.
  ASSERT_TRUE(IsOk(client.Reconnect(kWait)));
  std::set<std::string> answered;
  absl::Time deadline = absl::Now() + kWait;
  while (answered.size() < AllTypes().size() && absl::Now() < deadline) {
    absl::StatusOr<SotwAdsClient::Response> r = client.Next(deadline - absl::Now());
    ASSERT_TRUE(r.ok()) << r.status() << "; answered " << answered.size();
    answered.insert(r->type_url());
    EXPECT_EQ(r->version_info(), versions[r->type_url()]) << Summary(*r);
    ASSERT_TRUE(IsOk(client.Apply(*r)));
    ASSERT_TRUE(IsOk(client.Ack(*r)));
  }
  ASSERT_EQ(answered.size(), AllTypes().size());
  EXPECT_TRUE(Converged(client.state())) << client.state().DebugString();
  EXPECT_EQ(ContentsOf(client.state()), before);
  EXPECT_TRUE(IsOk(client.ExpectSilence(kSilence)));
  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(
      api_.get(), "restart-sotw",
      [](const lb::v1::ProxyStatus& p) { return p.resources_size() == 4 && AllAcked(p); }, kWait);
  EXPECT_TRUE(proxy.ok()) << proxy.status();

  // A change made right after the restart is received.
  ASSERT_TRUE(IsOk(api_->AddEndpoint("svc3", "127.0.0.4", 7004, 9)));
  s = client.WaitFor(
      [](const ResourceState& st) {
        return EndpointSetOf(st, "svc3") ==
               std::set<std::string>{"127.0.0.4:7004 w=9 zone= UNKNOWN"};
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;
}

class AdsDeltaRestartTest : public AdsRestartTest {
 protected:
  std::unique_ptr<DeltaAdsClient> ConnectConverged(const std::string& node_id) {
    ConnectOptions options;
    options.node_id = node_id;
    absl::StatusOr<std::unique_ptr<DeltaAdsClient>> c = DeltaAdsClient::Connect(target(), options);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    auto& client = *c;
    EXPECT_TRUE(IsOk(client->SubscribeDelta(kClusterType, {"*"})));
    EXPECT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"backend", "svc2", "svc3"})));
    EXPECT_TRUE(IsOk(client->SubscribeDelta(kListenerType, {"*"})));
    EXPECT_TRUE(IsOk(client->SubscribeDelta(kRouteType, {"default"})));
    absl::Status s = client->WaitFor(Converged, kWait);
    EXPECT_TRUE(s.ok()) << s;
    return std::move(*c);
  }

  // Waits until the controller has processed the reconnected stream's four subscriptions.
  absl::StatusOr<lb::v1::ProxyStatus> AwaitResubscribed(const std::string& node_id) {
    return WaitForProxy(
        api_.get(), node_id,
        [](const lb::v1::ProxyStatus& p) {
          if (p.resources_size() != 4) return false;
          for (const auto& r : p.resources()) {
            if (r.type_url() == kEndpointType && r.subscribed() != 3) return false;
          }
          return true;
        },
        kWait);
  }
};

TEST_F(AdsDeltaRestartTest, ReconnectWithInitialVersionsResendsNothingThenFollowsChanges) {
  auto client = ConnectConverged("restart-delta");
  ASSERT_NE(client, nullptr);
  const Contents before = ContentsOf(client->state());
  std::map<std::string, std::map<std::string, std::string>> versions;
  for (const auto& type : AllTypes()) versions[type] = client->state().Versions(type);

  ASSERT_NO_FATAL_FAILURE(KillController());
  ASSERT_NO_FATAL_FAILURE(AwaitStreamEnd(client.get()));
  ASSERT_NO_FATAL_FAILURE(StartController());

  ASSERT_TRUE(IsOk(client->Reconnect(kWait)));
  absl::StatusOr<lb::v1::ProxyStatus> proxy = AwaitResubscribed("restart-delta");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  // Everything the client holds is current: nothing is sent again.
  for (const auto& r : proxy->resources()) EXPECT_EQ(r.responses(), 0u) << r.type_url();
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  EXPECT_EQ(ContentsOf(client->state()), before);
  for (const auto& type : AllTypes()) EXPECT_EQ(client->state().Versions(type), versions[type]);

  // A change made right after the restart is received, and only it.
  ASSERT_TRUE(IsOk(api_->AddEndpoint("svc3", "127.0.0.4", 7004, 9)));
  absl::StatusOr<DeltaAdsClient::Response> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url(), kEndpointType) << Summary(*r);
  ASSERT_EQ(r->resources_size(), 1) << Summary(*r);
  EXPECT_EQ(r->resources(0).name(), "svc3");
  ASSERT_TRUE(IsOk(client->Apply(*r)));
  ASSERT_TRUE(IsOk(client->Ack(*r)));
  EXPECT_EQ(EndpointSetOf(client->state(), "svc3"),
            (std::set<std::string>{"127.0.0.4:7004 w=9 zone= UNKNOWN"}));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  proxy = WaitForProxy(api_.get(), "restart-delta", AllAcked, kWait);
  EXPECT_TRUE(proxy.ok()) << proxy.status();
}

TEST_F(AdsDeltaRestartTest, ReconnectAfterChangesGetsOnlyWhatChanged) {
  auto client = ConnectConverged("restart-delta-2");
  ASSERT_NE(client, nullptr);
  const std::string backend_eds = client->state().Find(kEndpointType, "backend")->version;
  const std::string backend_cds = client->state().Find(kClusterType, "backend")->version;

  ASSERT_NO_FATAL_FAILURE(KillController());
  ASSERT_NO_FATAL_FAILURE(AwaitStreamEnd(client.get()));
  ASSERT_NO_FATAL_FAILURE(StartController());
  // While the client is away: svc2 gains an endpoint, svc3 is deleted.
  ASSERT_TRUE(IsOk(api_->AddEndpoint("svc2", "127.0.0.5", 7005, 4)));
  ASSERT_TRUE(IsOk(api_->DeleteCluster("svc3")));

  ASSERT_TRUE(IsOk(client->Reconnect(kWait)));
  std::vector<DeltaAdsClient::Response> seen;
  absl::Status s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("svc3") == nullptr && st.Listener("svc3") == nullptr &&
               st.Endpoints("svc3") == nullptr && EndpointSetOf(st, "svc2").size() == 2;
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  // Let anything else that is coming arrive.
  s = client->WaitFor([](const ResourceState&) { return false; }, kSilence, &seen);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);

  // Exactly what changed was sent: EDS svc2 updated and svc3 removed; CDS and LDS svc3
  // removed. Nothing for RDS, and none of backend's resources again.
  std::map<std::string, std::set<std::string>> updated, removed;
  for (const auto& r : seen) {
    SCOPED_TRACE(Summary(r));
    EXPECT_EQ(updated.count(r.type_url()) + removed.count(r.type_url()), 0u) << "second response";
    for (const auto& res : r.resources()) updated[r.type_url()].insert(res.name());
    for (const auto& name : r.removed_resources()) removed[r.type_url()].insert(name);
  }
  using Names = std::map<std::string, std::set<std::string>>;
  EXPECT_EQ(updated, (Names{{kEndpointType, {"svc2"}}}));
  EXPECT_EQ(
      removed,
      (Names{{kClusterType, {"svc3"}}, {kEndpointType, {"svc3"}}, {kListenerType, {"svc3"}}}));
  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(api_.get(), "restart-delta-2", AllAcked);
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(client->state().Find(kEndpointType, "backend")->version, backend_eds);
  EXPECT_EQ(client->state().Find(kClusterType, "backend")->version, backend_cds);
  EXPECT_EQ(EndpointSetOf(client->state(), "svc2"),
            (std::set<std::string>{"127.0.0.3:7003 w=1 zone= UNKNOWN",
                                   "127.0.0.5:7005 w=4 zone= UNKNOWN"}));
  EXPECT_EQ(client->state().Names(kClusterType), (std::set<std::string>{"backend", "svc2"}));
  EXPECT_EQ(client->state().Names(kListenerType), (std::set<std::string>{"backend", "svc2"}));
}

// Not about xDS, but found while writing these tests: the in-process fixture shuts down
// controllers right after starting them whenever a test ends early.
TEST(ControllerLifecycleTest, ShutdownRightAfterStartReturns) {
  // Each attempt runs on its own thread so that a hang is detected with a bound (the hung
  // thread is then leaked, and the test fails).
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto done = std::make_shared<absl::Notification>();
    std::thread([done] {
      controller::ControllerOptions options;
      options.grpc_listen = "127.0.0.1:0";
      options.rest_listen = "127.0.0.1:0";
      options.data_dir = MakeTempDir();
      absl::StatusOr<std::unique_ptr<controller::Controller>> c =
          controller::Controller::Start(options);
      if (c.ok()) (*c)->Shutdown();
      done->Notify();
    }).detach();
    ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(10)))
        << "Controller::Start + Shutdown did not return within 10 s (attempt " << attempt << ")";
  }
}

}  // namespace
}  // namespace lb::testing::xds
