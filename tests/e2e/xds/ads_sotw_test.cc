// The controller's ADS server, state-of-the-world variant, driven by the project's own ADS
// client over a real gRPC channel against an in-process Controller.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/ads_client.h"
#include "tests/test_common/ads_fixture.h"
#include "tests/test_common/lb_api.h"

namespace lb::testing::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using Response = SotwAdsClient::Response;

constexpr absl::Duration kWait = absl::Seconds(10);
// How long "nothing is sent" is watched for.
constexpr absl::Duration kSilence = absl::Milliseconds(300);

using AdsSotwTest = AdsStreamTest<SotwAdsClient>;

TEST_F(AdsSotwTest, CdsWildcardGetsBackend) {
  auto client = Connect("sotw-cds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kClusterType, {"*"})));
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url(), kClusterType);
  EXPECT_FALSE(r->version_info().empty());
  EXPECT_FALSE(r->nonce().empty());
  EXPECT_TRUE(absl::StartsWith(r->control_plane().identifier(), "lb-controller/"))
      << r->control_plane().identifier();
  ASSERT_TRUE(IsOk(client->Apply(*r)));
  ASSERT_TRUE(IsOk(client->Ack(*r)));

  EXPECT_EQ(client->state().Names(kClusterType), (std::set<std::string>{"backend"}));
  const Cluster* backend = client->state().Cluster("backend");
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->type(), Cluster::EDS);
  EXPECT_TRUE(backend->eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(backend->lb_policy(), Cluster::RANDOM);  // The bootstrap cluster's policy.
  EXPECT_TRUE(backend->has_outlier_detection());
  // The ACK changes nothing: no further response.
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
}

TEST_F(AdsSotwTest, LegacyEmptyNameListIsWildcard) {
  auto client = Connect("sotw-legacy");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kClusterType, {})));
  ASSERT_TRUE(IsOk(client->Subscribe(kListenerType, {})));
  absl::Status s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("backend") != nullptr && st.Listener("backend") != nullptr;
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AdsSotwTest, GrpcClientGetsReducedCluster) {
  auto client = Connect("sotw-grpc-flavour", "gRPC C++");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kClusterType, {"*"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Cluster("backend"); }, kWait)));
  const Cluster* backend = client->state().Cluster("backend");
  EXPECT_EQ(backend->lb_policy(), Cluster::ROUND_ROBIN);  // gRPC has no RANDOM.
  EXPECT_FALSE(backend->has_outlier_detection());
  EXPECT_EQ(backend->type(), Cluster::EDS);
}

TEST_F(AdsSotwTest, EdsBackendFollowsEndpoints) {
  auto client = Connect("sotw-eds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend"})));
  // The empty cluster is answered: it exists.
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("backend"); }, kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(client->state().Endpoints("backend")->cluster_name(), "backend");
  EXPECT_TRUE(EndpointSetOf(client->state(), "backend").empty());

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.1", 8081, 3, "z1")));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.2", 8082, 7, "z2")));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.3", 8083, 1, "z1")));
  const std::set<std::string> active = {"127.0.0.1:8081 w=3 zone=z1 UNKNOWN",
                                        "127.0.0.2:8082 w=7 zone=z2 UNKNOWN",
                                        "127.0.0.3:8083 w=1 zone=z1 UNKNOWN"};
  s = client->WaitFor(
      [&](const ResourceState& st) { return EndpointSetOf(st, "backend") == active; }, kWait);
  ASSERT_TRUE(s.ok()) << s;
  // One locality per zone, weighted by the sum of its endpoints' weights, all at priority 0.
  const auto* cla = client->state().Endpoints("backend");
  ASSERT_EQ(cla->endpoints_size(), 2);
  for (const auto& locality : cla->endpoints()) {
    EXPECT_EQ(locality.priority(), 0u);
    EXPECT_EQ(locality.load_balancing_weight().value(),
              locality.locality().zone() == "z1" ? 4u : 7u);
  }

  ASSERT_TRUE(IsOk(api_->SetEndpointState("backend", "127.0.0.2", 8082, lb::v1::DRAINING)));
  s = client->WaitFor(
      [&](const ResourceState& st) {
        return EndpointSetOf(st, "backend") ==
               std::set<std::string>{"127.0.0.1:8081 w=3 zone=z1 UNKNOWN",
                                     "127.0.0.2:8082 w=7 zone=z2 DRAINING",
                                     "127.0.0.3:8083 w=1 zone=z1 UNKNOWN"};
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;

  ASSERT_TRUE(IsOk(api_->RemoveEndpoint("backend", "127.0.0.1", 8081)));
  s = client->WaitFor(
      [&](const ResourceState& st) {
        return EndpointSetOf(st, "backend") ==
               std::set<std::string>{"127.0.0.2:8082 w=7 zone=z2 DRAINING",
                                     "127.0.0.3:8083 w=1 zone=z1 UNKNOWN"};
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AdsSotwTest, LdsBackendIsApiListener) {
  auto client = Connect("sotw-lds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kListenerType, {"*"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Listener("backend"); }, kWait)));
  EXPECT_EQ(client->state().Names(kListenerType), (std::set<std::string>{"backend"}));
  EXPECT_EQ(CheckApiListener(*client->state().Listener("backend"), "backend"), "");
}

TEST_F(AdsSotwTest, RdsDefaultHasSlashRoute) {
  auto client = Connect("sotw-rds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kRouteType, {"default"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Route("default"); }, kWait)));
  const auto* rc = client->state().Route("default");
  ASSERT_EQ(rc->virtual_hosts_size(), 1);
  const auto& vh = rc->virtual_hosts(0);
  ASSERT_EQ(vh.domains_size(), 1);
  EXPECT_EQ(vh.domains(0), "*");
  ASSERT_EQ(vh.routes_size(), 1);
  EXPECT_EQ(vh.routes(0).match().prefix(), "/");
  EXPECT_EQ(vh.routes(0).route().cluster(), "backend");
}

TEST_F(AdsSotwTest, NameRequestedBeforeItExistsIsAnsweredWhenItAppears) {
  auto client = Connect("sotw-later");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"later"})));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  ASSERT_TRUE(IsOk(api_->CreateCluster("later")));
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("later"); }, kWait);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AdsSotwTest, ClusterAddedMakeBeforeBreakAndDeletedListenerFirst) {
  auto client = ConnectAll("sotw-add-del", {"backend"});
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(IsOk(api_->CreateCluster("extra")));
  std::vector<Response> seen;
  absl::Status s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("extra") != nullptr && st.Listener("extra") != nullptr;
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  // Added: its Cluster comes before its Listener.
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type_url(), kClusterType) << Summary(seen[0]);
  EXPECT_EQ(seen[1].type_url(), kListenerType) << Summary(seen[1]);
  EXPECT_EQ(client->state().Names(kClusterType), (std::set<std::string>{"backend", "extra"}));
  EXPECT_EQ(client->state().Names(kListenerType), (std::set<std::string>{"backend", "extra"}));
  EXPECT_EQ(CheckApiListener(*client->state().Listener("extra"), "extra"), "");
  // A proxy then asks for the new cluster's endpoints.
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend", "extra"})));
  s = client->WaitFor([](const ResourceState& st) { return st.Endpoints("extra"); }, kWait);
  ASSERT_TRUE(s.ok()) << s;

  ASSERT_TRUE(IsOk(api_->DeleteCluster("extra")));
  seen.clear();
  s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("extra") == nullptr && st.Listener("extra") == nullptr;
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  // Deleted: absent from the full sets, the Listener's removal first.
  int lds_at = -1, cds_at = -1;
  for (int i = 0; i < static_cast<int>(seen.size()); ++i) {
    if (seen[i].type_url() == kListenerType && lds_at < 0) lds_at = i;
    if (seen[i].type_url() == kClusterType && cds_at < 0) cds_at = i;
  }
  ASSERT_GE(lds_at, 0);
  ASSERT_GE(cds_at, 0);
  EXPECT_LT(lds_at, cds_at) << Summary(seen[lds_at]) << " / " << Summary(seen[cds_at]);
  EXPECT_EQ(seen[lds_at].resources_size(), 1);  // Full set: just "backend".
  EXPECT_EQ(seen[cds_at].resources_size(), 1);
  EXPECT_EQ(client->state().Names(kClusterType), (std::set<std::string>{"backend"}));
  EXPECT_EQ(client->state().Names(kListenerType), (std::set<std::string>{"backend"}));
  // Nothing else follows (RDS does not change: "extra" was never routed).
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
}

TEST_F(AdsSotwTest, EndpointChangeSendsOnlyThatClusterAndOnlyToItsSubscribers) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto both = ConnectAll("sotw-both", {"backend", "other"});
  auto only_other = ConnectAll("sotw-only-other", {"other"});
  ASSERT_NE(both, nullptr);
  ASSERT_NE(only_other, nullptr);
  // Settle: every initial response consumed and ACKed.
  EXPECT_TRUE(IsOk(both->ExpectSilence(kSilence)));
  EXPECT_TRUE(IsOk(only_other->ExpectSilence(kSilence)));

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80, 5)));
  absl::StatusOr<Response> r = both->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url(), kEndpointType) << Summary(*r);
  ASSERT_EQ(r->resources_size(), 1) << Summary(*r);
  ASSERT_TRUE(IsOk(both->Apply(*r)));
  ASSERT_TRUE(IsOk(both->Ack(*r)));
  EXPECT_EQ(EndpointSetOf(both->state(), "backend"),
            (std::set<std::string>{"10.0.0.1:80 w=5 zone= UNKNOWN"}));
  // Nothing else to the subscriber of both (no CDS/LDS/RDS churn) ...
  EXPECT_TRUE(IsOk(both->ExpectSilence(kSilence)));
  // ... and nothing at all to the stream that only wants "other".
  EXPECT_TRUE(IsOk(only_other->ExpectSilence(kSilence)));
}

TEST_F(AdsSotwTest, NackIsRecordedAndNotRepushed) {
  auto client = ConnectAll("sotw-nack", {"backend"});
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  const std::string good_version = client->AckedVersion(kEndpointType);
  ASSERT_FALSE(good_version.empty());

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  absl::StatusOr<Response> bad = client->Next(kWait);
  ASSERT_TRUE(bad.ok()) << bad.status();
  ASSERT_EQ(bad->type_url(), kEndpointType) << Summary(*bad);
  const std::string kError = "test: endpoint 10.0.0.1:80 rejected";
  ASSERT_TRUE(IsOk(client->Nack(*bad, kError)));

  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(
      api_.get(), "sotw-nack",
      [](const lb::v1::ProxyStatus& p) {
        const auto* eds = FindType(p, kEndpointType);
        return eds != nullptr && eds->nacks() == 1;
      },
      kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const auto* eds = FindType(*proxy, kEndpointType);
  EXPECT_EQ(eds->last_nack_error(), kError);
  EXPECT_EQ(eds->nacked_version(), bad->version_info());
  EXPECT_EQ(eds->version_sent(), bad->version_info());
  EXPECT_EQ(eds->version_acked(), good_version);
  // The rejected content is not pushed again.
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));

  // The next real change is.
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.2", 80)));
  absl::StatusOr<Response> next = client->Next(kWait);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->type_url(), kEndpointType) << Summary(*next);
  EXPECT_NE(next->version_info(), bad->version_info());
  ASSERT_TRUE(IsOk(client->Apply(*next)));
  ASSERT_TRUE(IsOk(client->Ack(*next)));
  EXPECT_EQ(
      EndpointSetOf(client->state(), "backend"),
      (std::set<std::string>{"10.0.0.1:80 w=1 zone= UNKNOWN", "10.0.0.2:80 w=1 zone= UNKNOWN"}));
  proxy = WaitForProxy(api_.get(), "sotw-nack", AllAcked, kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  eds = FindType(*proxy, kEndpointType);
  EXPECT_EQ(eds->version_acked(), next->version_info());
  EXPECT_EQ(eds->nacks(), 1u);
}

TEST_F(AdsSotwTest, ListProxiesShowsStreamVersionsAndAcks) {
  ConnectOptions options;
  options.node_id = "sotw-proxy-1";
  options.zone = "zone-a";
  std::unique_ptr<SotwAdsClient> client = ConnectAll(options, {"backend"});
  ASSERT_NE(client, nullptr);

  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(
      api_.get(), "sotw-proxy-1",
      [](const lb::v1::ProxyStatus& p) { return p.resources_size() == 4 && AllAcked(p); }, kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->protocol(), "sotw");
  EXPECT_EQ(proxy->zone(), "zone-a");
  EXPECT_EQ(proxy->user_agent(), "lb-ads-test-client 1.0");
  EXPECT_FALSE(proxy->address().empty());
  EXPECT_GT(proxy->connected_since().seconds(), 0);
  // Push order CDS, EDS, LDS, RDS.
  ASSERT_EQ(proxy->resources_size(), 4);
  EXPECT_EQ(proxy->resources(0).type_url(), kClusterType);
  EXPECT_EQ(proxy->resources(1).type_url(), kEndpointType);
  EXPECT_EQ(proxy->resources(2).type_url(), kListenerType);
  EXPECT_EQ(proxy->resources(3).type_url(), kRouteType);
  for (const auto& r : proxy->resources()) {
    EXPECT_EQ(r.version_acked(), client->AckedVersion(r.type_url())) << r.type_url();
    EXPECT_FALSE(r.version_sent().empty()) << r.type_url();
    EXPECT_EQ(r.nacks(), 0u);
    EXPECT_EQ(r.responses(), 1u) << r.type_url();
    EXPECT_EQ(r.wildcard(), r.type_url() == kClusterType || r.type_url() == kListenerType);
    EXPECT_EQ(r.subscribed(), r.wildcard() ? 0u : 1u) << r.type_url();
  }

  // REST /v1/proxies lists the same.
  absl::StatusOr<lb::v1::ListProxiesResponse> rest = RestListProxies(rest_port());
  ASSERT_TRUE(rest.ok()) << rest.status();
  const lb::v1::ProxyStatus* via_rest = FindProxy(*rest, "sotw-proxy-1");
  ASSERT_NE(via_rest, nullptr) << rest->DebugString();
  EXPECT_EQ(via_rest->protocol(), "sotw");
  EXPECT_EQ(via_rest->zone(), "zone-a");
  EXPECT_EQ(via_rest->address(), proxy->address());
  ASSERT_EQ(via_rest->resources_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(via_rest->resources(i).type_url(), proxy->resources(i).type_url());
    EXPECT_EQ(via_rest->resources(i).version_sent(), proxy->resources(i).version_sent());
    EXPECT_EQ(via_rest->resources(i).version_acked(), proxy->resources(i).version_acked());
  }

  // A disconnected stream disappears from the list.
  client.reset();
  absl::Time deadline = absl::Now() + kWait;
  bool gone = false;
  while (!gone && absl::Now() < deadline) {
    absl::StatusOr<lb::v1::ListProxiesResponse> all = api_->ListProxies();
    ASSERT_TRUE(all.ok()) << all.status();
    gone = FindProxy(*all, "sotw-proxy-1") == nullptr;
    if (!gone) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(gone);
}

TEST_F(AdsSotwTest, RequestWithoutTypeUrlEndsStream) {
  auto client = Connect("sotw-bad");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Send(SotwAdsClient::Request())));
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "type_url")) << r.status();
}

TEST_F(AdsSotwTest, ClusterSettingChangeIsPushedOnlyWhereTheResourceChanged) {
  auto envoy = Connect("sotw-envoy-flavour");
  auto grpc = Connect("sotw-grpc-flavour", "gRPC C++");
  ASSERT_NE(envoy, nullptr);
  ASSERT_NE(grpc, nullptr);
  for (auto* c : {envoy.get(), grpc.get()}) {
    ASSERT_TRUE(IsOk(c->Subscribe(kClusterType, {"*"})));
    ASSERT_TRUE(
        IsOk(c->WaitFor([](const ResourceState& st) { return st.Cluster("backend"); }, kWait)));
  }
  // Outlier detection is only in the Envoy flavour of the Cluster.
  absl::StatusOr<lb::v1::Cluster> backend = api_->GetCluster("backend");
  ASSERT_TRUE(backend.ok()) << backend.status();
  backend->mutable_outlier_detection()->set_consecutive_5xx(
      backend->outlier_detection().consecutive_5xx() + 7);
  ASSERT_TRUE(IsOk(api_->UpdateCluster(*backend)));
  const uint32_t want = backend->outlier_detection().consecutive_5xx();
  absl::Status s = envoy->WaitFor(
      [&](const ResourceState& st) {
        const Cluster* c = st.Cluster("backend");
        return c != nullptr && c->outlier_detection().consecutive_5xx().value() == want;
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(IsOk(grpc->ExpectSilence(kSilence)));
}

TEST_F(AdsSotwTest, ShutdownEndsStreamsWithUnavailable) {
  auto client = ConnectAll("sotw-shutdown", {"backend"});
  ASSERT_NE(client, nullptr);
  controller_->Shutdown();
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_FALSE(r.ok()) << Summary(*r);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "gRPC status 14")) << r.status();
}

}  // namespace
}  // namespace lb::testing::xds
