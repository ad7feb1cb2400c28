// The controller's ADS server, incremental (delta) variant, driven by the project's own ADS
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
using Response = DeltaAdsClient::Response;

constexpr absl::Duration kWait = absl::Seconds(10);
constexpr absl::Duration kSilence = absl::Milliseconds(300);

std::set<std::string> ResourceNames(const Response& r) {
  std::set<std::string> out;
  for (const auto& res : r.resources()) out.insert(res.name());
  return out;
}

std::set<std::string> RemovedNames(const Response& r) {
  return std::set<std::string>(r.removed_resources().begin(), r.removed_resources().end());
}

using AdsDeltaTest = AdsStreamTest<DeltaAdsClient>;

TEST_F(AdsDeltaTest, CdsWildcardGetsBackend) {
  auto client = Connect("delta-cds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kClusterType, {"*"})));
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url(), kClusterType);
  EXPECT_FALSE(r->nonce().empty());
  EXPECT_FALSE(r->system_version_info().empty());
  EXPECT_TRUE(r->removed_resources().empty());
  EXPECT_TRUE(absl::StartsWith(r->control_plane().identifier(), "lb-controller/"))
      << r->control_plane().identifier();
  ASSERT_EQ(r->resources_size(), 1);
  EXPECT_EQ(r->resources(0).name(), "backend");
  EXPECT_FALSE(r->resources(0).version().empty());
  ASSERT_TRUE(IsOk(client->Apply(*r)));
  ASSERT_TRUE(IsOk(client->Ack(*r)));
  const Cluster* backend = client->state().Cluster("backend");
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->type(), Cluster::EDS);
  EXPECT_TRUE(backend->eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(backend->lb_policy(), Cluster::RANDOM);
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
}

TEST_F(AdsDeltaTest, LegacyEmptySubscribeIsWildcardForCds) {
  auto client = Connect("delta-legacy");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kClusterType, {})));
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Cluster("backend"); }, kWait);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AdsDeltaTest, EdsBackendFollowsEndpoints) {
  auto client = Connect("delta-eds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"backend"})));
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("backend"); }, kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(EndpointSetOf(client->state(), "backend").empty());
  const std::string empty_version = client->state().Find(kEndpointType, "backend")->version;

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.1", 8081, 3, "z1")));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.2", 8082, 7, "z2")));
  s = client->WaitFor(
      [&](const ResourceState& st) {
        return EndpointSetOf(st, "backend") ==
               std::set<std::string>{"127.0.0.1:8081 w=3 zone=z1 UNKNOWN",
                                     "127.0.0.2:8082 w=7 zone=z2 UNKNOWN"};
      },
      kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_NE(client->state().Find(kEndpointType, "backend")->version, empty_version);

  ASSERT_TRUE(IsOk(api_->SetEndpointState("backend", "127.0.0.1", 8081, lb::v1::DRAINING)));
  s = client->WaitFor(
      [&](const ResourceState& st) {
        return EndpointSetOf(st, "backend") ==
               std::set<std::string>{"127.0.0.1:8081 w=3 zone=z1 DRAINING",
                                     "127.0.0.2:8082 w=7 zone=z2 UNKNOWN"};
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;

  // Back to ACTIVE, then both removed: the version is the content hash, so the empty cluster
  // has its first version again.
  ASSERT_TRUE(IsOk(api_->SetEndpointState("backend", "127.0.0.1", 8081, lb::v1::ACTIVE)));
  ASSERT_TRUE(IsOk(api_->RemoveEndpoint("backend", "127.0.0.1", 8081)));
  ASSERT_TRUE(IsOk(api_->RemoveEndpoint("backend", "127.0.0.2", 8082)));
  s = client->WaitFor([&](const ResourceState& st) { return EndpointSetOf(st, "backend").empty(); },
                      kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(client->state().Find(kEndpointType, "backend")->version, empty_version);
}

TEST_F(AdsDeltaTest, LdsBackendIsApiListener) {
  auto client = Connect("delta-lds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kListenerType, {"backend"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Listener("backend"); }, kWait)));
  EXPECT_EQ(CheckApiListener(*client->state().Listener("backend"), "backend"), "");
}

TEST_F(AdsDeltaTest, RdsDefaultHasSlashRoute) {
  auto client = Connect("delta-rds");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kRouteType, {"default"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Route("default"); }, kWait)));
  const auto* rc = client->state().Route("default");
  ASSERT_EQ(rc->virtual_hosts_size(), 1);
  ASSERT_EQ(rc->virtual_hosts(0).routes_size(), 1);
  EXPECT_EQ(rc->virtual_hosts(0).domains(0), "*");
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).match().prefix(), "/");
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).route().cluster(), "backend");
}

TEST_F(AdsDeltaTest, MissingNameIsReportedRemovedThenSentWhenCreated) {
  auto client = Connect("delta-missing");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"later"})));
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url(), kEndpointType);
  EXPECT_TRUE(r->resources().empty());
  EXPECT_EQ(RemovedNames(*r), (std::set<std::string>{"later"}));
  ASSERT_TRUE(IsOk(client->Ack(*r)));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));

  ASSERT_TRUE(IsOk(api_->CreateCluster("later")));
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("later"); }, kWait);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(AdsDeltaTest, UnsubscribedNameGetsNoUpdates) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto client = Connect("delta-unsub");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"backend", "other"})));
  ASSERT_TRUE(IsOk(client->WaitFor(
      [](const ResourceState& st) { return st.Endpoints("backend") && st.Endpoints("other"); },
      kWait)));
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {}, {"backend"})));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("other", "10.0.0.2", 80)));
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ResourceNames(*r), (std::set<std::string>{"other"})) << Summary(*r);
}

TEST_F(AdsDeltaTest, ClusterAddedMakeBeforeBreakAndDeletedListenerFirst) {
  auto client = ConnectAll("delta-add-del", {"backend"});
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(IsOk(api_->CreateCluster("extra")));
  std::vector<Response> seen;
  absl::Status s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("extra") != nullptr && st.Listener("extra") != nullptr;
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type_url(), kClusterType) << Summary(seen[0]);
  EXPECT_EQ(ResourceNames(seen[0]), (std::set<std::string>{"extra"})) << Summary(seen[0]);
  EXPECT_EQ(seen[1].type_url(), kListenerType) << Summary(seen[1]);
  EXPECT_EQ(ResourceNames(seen[1]), (std::set<std::string>{"extra"})) << Summary(seen[1]);
  EXPECT_EQ(CheckApiListener(*client->state().Listener("extra"), "extra"), "");
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"extra"})));
  s = client->WaitFor([](const ResourceState& st) { return st.Endpoints("extra"); }, kWait);
  ASSERT_TRUE(s.ok()) << s;

  ASSERT_TRUE(IsOk(api_->DeleteCluster("extra")));
  seen.clear();
  s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("extra") == nullptr && st.Listener("extra") == nullptr &&
               st.Endpoints("extra") == nullptr;
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  int lds_at = -1, cds_at = -1, eds_at = -1;
  for (int i = 0; i < static_cast<int>(seen.size()); ++i) {
    EXPECT_TRUE(seen[i].resources().empty()) << Summary(seen[i]);
    EXPECT_EQ(RemovedNames(seen[i]), (std::set<std::string>{"extra"})) << Summary(seen[i]);
    if (seen[i].type_url() == kListenerType) lds_at = i;
    if (seen[i].type_url() == kClusterType) cds_at = i;
    if (seen[i].type_url() == kEndpointType) eds_at = i;
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(lds_at, 0);
  EXPECT_GT(cds_at, lds_at);
  EXPECT_GT(eds_at, lds_at);
  EXPECT_EQ(client->state().Names(kClusterType), (std::set<std::string>{"backend"}));
  EXPECT_EQ(client->state().Names(kListenerType), (std::set<std::string>{"backend"}));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
}

TEST_F(AdsDeltaTest, EndpointChangeSendsOnlyThatClusterAndOnlyToItsSubscribers) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto both = ConnectAll("delta-both", {"backend", "other"});
  auto only_other = ConnectAll("delta-only-other", {"other"});
  ASSERT_NE(both, nullptr);
  ASSERT_NE(only_other, nullptr);
  EXPECT_TRUE(IsOk(both->ExpectSilence(kSilence)));
  EXPECT_TRUE(IsOk(only_other->ExpectSilence(kSilence)));

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80, 5)));
  absl::StatusOr<Response> r = both->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url(), kEndpointType) << Summary(*r);
  EXPECT_EQ(ResourceNames(*r), (std::set<std::string>{"backend"})) << Summary(*r);
  EXPECT_TRUE(r->removed_resources().empty());
  ASSERT_TRUE(IsOk(both->Apply(*r)));
  ASSERT_TRUE(IsOk(both->Ack(*r)));
  EXPECT_EQ(EndpointSetOf(both->state(), "backend"),
            (std::set<std::string>{"10.0.0.1:80 w=5 zone= UNKNOWN"}));
  EXPECT_TRUE(IsOk(both->ExpectSilence(kSilence)));
  EXPECT_TRUE(IsOk(only_other->ExpectSilence(kSilence)));
}

TEST_F(AdsDeltaTest, NackIsRecordedAndNotRepushed) {
  auto client = ConnectAll("delta-nack", {"backend"});
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(api_.get(), "delta-nack", AllAcked);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string good_version = FindType(*proxy, kEndpointType)->version_acked();

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  absl::StatusOr<Response> bad = client->Next(kWait);
  ASSERT_TRUE(bad.ok()) << bad.status();
  ASSERT_EQ(bad->type_url(), kEndpointType) << Summary(*bad);
  const std::string kError = "test: endpoint 10.0.0.1:80 rejected";
  ASSERT_TRUE(IsOk(client->Nack(*bad, kError)));

  proxy = WaitForProxy(
      api_.get(), "delta-nack",
      [](const lb::v1::ProxyStatus& p) {
        const auto* eds = FindType(p, kEndpointType);
        return eds != nullptr && eds->nacks() == 1;
      },
      kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const auto* eds = FindType(*proxy, kEndpointType);
  EXPECT_EQ(eds->last_nack_error(), kError);
  EXPECT_EQ(eds->nacked_version(), bad->system_version_info());
  EXPECT_EQ(eds->version_sent(), bad->system_version_info());
  EXPECT_EQ(eds->version_acked(), good_version);
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.2", 80)));
  absl::StatusOr<Response> next = client->Next(kWait);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->type_url(), kEndpointType) << Summary(*next);
  EXPECT_EQ(ResourceNames(*next), (std::set<std::string>{"backend"}));
  ASSERT_TRUE(IsOk(client->Apply(*next)));
  ASSERT_TRUE(IsOk(client->Ack(*next)));
  EXPECT_EQ(
      EndpointSetOf(client->state(), "backend"),
      (std::set<std::string>{"10.0.0.1:80 w=1 zone= UNKNOWN", "10.0.0.2:80 w=1 zone= UNKNOWN"}));
  proxy = WaitForProxy(api_.get(), "delta-nack", AllAcked, kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  eds = FindType(*proxy, kEndpointType);
  EXPECT_EQ(eds->version_acked(), next->system_version_info());
  EXPECT_EQ(eds->nacks(), 1u);
}

TEST_F(AdsDeltaTest, ListProxiesShowsStreamVersionsAndAcks) {
  ConnectOptions options;
  options.node_id = "delta-proxy-1";
  options.zone = "zone-b";
  std::unique_ptr<DeltaAdsClient> client = ConnectAll(options, {"backend"});
  ASSERT_NE(client, nullptr);
  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(
      api_.get(), "delta-proxy-1",
      [](const lb::v1::ProxyStatus& p) { return p.resources_size() == 4 && AllAcked(p); }, kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->protocol(), "delta");
  EXPECT_EQ(proxy->zone(), "zone-b");
  EXPECT_EQ(proxy->user_agent(), "lb-ads-test-client 1.0");
  ASSERT_EQ(proxy->resources_size(), 4);
  EXPECT_EQ(proxy->resources(0).type_url(), kClusterType);
  EXPECT_EQ(proxy->resources(1).type_url(), kEndpointType);
  EXPECT_EQ(proxy->resources(2).type_url(), kListenerType);
  EXPECT_EQ(proxy->resources(3).type_url(), kRouteType);
  for (const auto& r : proxy->resources()) {
    EXPECT_FALSE(r.version_sent().empty()) << r.type_url();
    EXPECT_EQ(r.nacks(), 0u);
    EXPECT_EQ(r.responses(), 1u) << r.type_url();
    EXPECT_EQ(r.wildcard(), r.type_url() == kClusterType || r.type_url() == kListenerType);
  }

  absl::StatusOr<lb::v1::ListProxiesResponse> rest = RestListProxies(rest_port());
  ASSERT_TRUE(rest.ok()) << rest.status();
  const lb::v1::ProxyStatus* via_rest = FindProxy(*rest, "delta-proxy-1");
  ASSERT_NE(via_rest, nullptr) << rest->DebugString();
  EXPECT_EQ(via_rest->protocol(), "delta");
  EXPECT_EQ(via_rest->zone(), "zone-b");
  ASSERT_EQ(via_rest->resources_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(via_rest->resources(i).type_url(), proxy->resources(i).type_url());
    EXPECT_EQ(via_rest->resources(i).version_sent(), proxy->resources(i).version_sent());
    EXPECT_EQ(via_rest->resources(i).version_acked(), proxy->resources(i).version_acked());
  }
}

TEST_F(AdsDeltaTest, SotwAndDeltaStreamsAreListedSideBySide) {
  auto delta = ConnectAll("side-delta", {"backend"});
  ASSERT_NE(delta, nullptr);
  absl::StatusOr<std::unique_ptr<SotwAdsClient>> sotw =
      SotwAdsClient::Connect(target(), "side-sotw", "lb-ads-test-client");
  ASSERT_TRUE(sotw.ok()) << sotw.status();
  ASSERT_TRUE(IsOk((*sotw)->Subscribe(kClusterType, {"*"})));
  ASSERT_TRUE(
      IsOk((*sotw)->WaitFor([](const ResourceState& st) { return st.Cluster("backend"); }, kWait)));
  ASSERT_TRUE(IsOk(WaitForProxy(api_.get(), "side-sotw", AllAcked)));
  ASSERT_TRUE(IsOk(WaitForProxy(api_.get(), "side-delta", AllAcked)));
  absl::StatusOr<lb::v1::ListProxiesResponse> rest = RestListProxies(rest_port());
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->proxies_size(), 2) << rest->DebugString();
  EXPECT_EQ(rest->proxies(0).node_id(), "side-delta");  // Sorted by node id.
  EXPECT_EQ(rest->proxies(0).protocol(), "delta");
  EXPECT_EQ(rest->proxies(1).node_id(), "side-sotw");
  EXPECT_EQ(rest->proxies(1).protocol(), "sotw");
}

TEST_F(AdsDeltaTest, SubscriptionChangeWithStaleNonceIsHonoured) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto client = Connect("delta-stale-nonce");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"backend"})));
  ASSERT_TRUE(IsOk(
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("backend"); }, kWait)));
  DeltaAdsClient::Request request;
  request.set_type_url(kEndpointType);
  request.set_response_nonce("no-such-nonce");
  request.add_resource_names_subscribe("other");
  ASSERT_TRUE(IsOk(client->Send(request)));
  absl::StatusOr<Response> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ResourceNames(*r), (std::set<std::string>{"other"})) << Summary(*r);
}

TEST_F(AdsDeltaTest, SlowClientThatCatchesUpEndsFullyAcked) {
  auto client = ConnectAll("delta-slow", {"backend"});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  ASSERT_TRUE(IsOk(client->WaitFor(
      [](const ResourceState& st) { return !EndpointSetOf(st, "backend").empty(); }, kWait)));

  // A burst of 100 endpoint changes reaches a slow proxy, which ACKs nothing until the end
  // (one change at a time, so each is its own response) ...
  std::vector<Response> unacked;
  for (int i = 0; i < 100; ++i) {
    lb::v1::AdminState state = i % 2 == 0 ? lb::v1::DRAINING : lb::v1::ACTIVE;
    ASSERT_TRUE(IsOk(api_->SetEndpointState("backend", "10.0.0.1", 80, state)));
    absl::StatusOr<Response> r = client->Next(kWait);
    ASSERT_TRUE(r.ok()) << r.status() << " after " << i << " changes";
    ASSERT_EQ(r->type_url(), kEndpointType) << Summary(*r);
    unacked.push_back(*std::move(r));
  }
  // ... then catches up, ACKing every response in order, as Envoy does.
  for (const Response& r : unacked) {
    ASSERT_TRUE(IsOk(client->Apply(r)));
    ASSERT_TRUE(IsOk(client->Ack(r)));
  }
  EXPECT_EQ(EndpointSetOf(client->state(), "backend"),
            (std::set<std::string>{"10.0.0.1:80 w=1 zone= UNKNOWN"}));
  // The proxy holds and has ACKed the latest version of everything.
  absl::StatusOr<lb::v1::ProxyStatus> proxy =
      WaitForProxy(api_.get(), "delta-slow", AllAcked, absl::Seconds(2));
  EXPECT_TRUE(proxy.ok()) << proxy.status();
}

TEST_F(AdsDeltaTest, HostnameEndpointIsSentResolved) {
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "localhost", 8080, 2)));
  auto client = Connect("delta-hostname");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SubscribeDelta(kEndpointType, {"backend"})));
  absl::Status s = client->WaitFor(
      [](const ResourceState& st) {
        const auto* cla = st.Endpoints("backend");
        return cla != nullptr && cla->endpoints_size() > 0;
      },
      kWait);
  ASSERT_TRUE(s.ok()) << s;
  const auto* cla = client->state().Endpoints("backend");
  ASSERT_EQ(cla->endpoints_size(), 1);
  ASSERT_GE(cla->endpoints(0).lb_endpoints_size(), 1);
  for (const auto& e : cla->endpoints(0).lb_endpoints()) {
    const auto& sa = e.endpoint().address().socket_address();
    EXPECT_TRUE(sa.address() == "127.0.0.1" || sa.address() == "::1") << sa.address();
    EXPECT_EQ(sa.port_value(), 8080u);
    EXPECT_EQ(e.endpoint().hostname(), "localhost");
    EXPECT_EQ(e.load_balancing_weight().value(), 2u);
  }
}

}  // namespace
}  // namespace lb::testing::xds
