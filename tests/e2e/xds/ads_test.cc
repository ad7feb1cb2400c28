// The controller's ADS server, driven by the project's own ADS client over a real gRPC channel
// against an in-process Controller.
//
// AdsTest runs every behaviour the state-of-the-world (SotW) and incremental (delta) variants
// share once per variant (TEST_P); where the protocol makes the variants answer differently
// (SotW LDS/CDS responses carry the full set, delta names what changed or was removed) the
// test says so. Variant-specific behaviours follow as plain tests. The rules are in
// docs/xds-protocol.md.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/ads_client.h"
#include "tests/test_common/ads_fixture.h"
#include "tests/test_common/lb_api.h"
#include "tests/test_common/wait.h"

namespace lb::testing::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using Names = std::set<std::string>;

constexpr absl::Duration kWait = absl::Seconds(10);
// How long "nothing is sent" is watched for.
constexpr absl::Duration kSilence = absl::Milliseconds(300);

class AdsTest : public AdsVariantTest {
 protected:
  // A node id unique to the test and variant: "sotw-<what>" or "delta-<what>".
  std::string Node(const std::string& what) const {
    return absl::StrCat(VariantName(GetParam()), "-", what);
  }
};

INSTANTIATE_TEST_SUITE_P(Variants, AdsTest,
                         ::testing::Values(AdsVariant::kSotw, AdsVariant::kDelta), VariantTestName);

// --- Both variants ---------------------------------------------------------------------------

TEST_P(AdsTest, CdsWildcardGetsBackend) {
  auto client = Connect(Node("cds"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kClusterType, {"*"})));
  absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url, kClusterType);
  EXPECT_FALSE(r->version.empty());
  EXPECT_FALSE(r->nonce.empty());
  EXPECT_TRUE(absl::StartsWith(r->control_plane, "lb-controller/")) << r->control_plane;
  EXPECT_EQ(r->names, std::vector<std::string>{"backend"}) << Summary(*r);
  EXPECT_TRUE(r->removed.empty()) << Summary(*r);
  ASSERT_TRUE(IsOk(client->Apply(*r)));
  ASSERT_TRUE(IsOk(client->Ack(*r)));

  EXPECT_EQ(client->state().Names(kClusterType), Names{"backend"});
  EXPECT_FALSE(client->state().Find(kClusterType, "backend")->version.empty());
  const Cluster* backend = client->state().Cluster("backend");
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->type(), Cluster::EDS);
  EXPECT_TRUE(backend->eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(backend->lb_policy(), Cluster::RANDOM);  // The bootstrap cluster's policy.
  EXPECT_TRUE(backend->has_outlier_detection());
  // The ACK changes nothing: no further response.
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
}

// A client that never names a resource of LDS/CDS (an empty first request) gets all of them.
TEST_P(AdsTest, LegacyEmptyNameListIsWildcard) {
  auto client = Connect(Node("legacy"));
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

TEST_P(AdsTest, EdsBackendFollowsEndpoints) {
  auto client = Connect(Node("eds"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend"})));
  // The empty cluster is answered: it exists.
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("backend"); }, kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(client->state().Endpoints("backend")->cluster_name(), "backend");
  EXPECT_TRUE(EndpointSetOf(client->state(), "backend").empty());
  const std::string empty_version = client->state().Find(kEndpointType, "backend")->version;

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.1", 8081, 3, "z1")));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.2", 8082, 7, "z2")));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "127.0.0.3", 8083, 1, "z1")));
  const Names active = {"127.0.0.1:8081 w=3 zone=z1 UNKNOWN", "127.0.0.2:8082 w=7 zone=z2 UNKNOWN",
                        "127.0.0.3:8083 w=1 zone=z1 UNKNOWN"};
  s = client->WaitFor(
      [&](const ResourceState& st) { return EndpointSetOf(st, "backend") == active; }, kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_NE(client->state().Find(kEndpointType, "backend")->version, empty_version);
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
        return EndpointSetOf(st, "backend") == Names{"127.0.0.1:8081 w=3 zone=z1 UNKNOWN",
                                                     "127.0.0.2:8082 w=7 zone=z2 DRAINING",
                                                     "127.0.0.3:8083 w=1 zone=z1 UNKNOWN"};
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;

  ASSERT_TRUE(IsOk(api_->RemoveEndpoint("backend", "127.0.0.1", 8081)));
  s = client->WaitFor(
      [&](const ResourceState& st) {
        return EndpointSetOf(st, "backend") ==
               Names{"127.0.0.2:8082 w=7 zone=z2 DRAINING", "127.0.0.3:8083 w=1 zone=z1 UNKNOWN"};
      },
      kWait);
  EXPECT_TRUE(s.ok()) << s;

  // Back to ACTIVE, then all removed: the version is the content hash, so the empty cluster
  // has its first version again.
  ASSERT_TRUE(IsOk(api_->SetEndpointState("backend", "127.0.0.2", 8082, lb::v1::ACTIVE)));
  ASSERT_TRUE(IsOk(api_->RemoveEndpoint("backend", "127.0.0.2", 8082)));
  ASSERT_TRUE(IsOk(api_->RemoveEndpoint("backend", "127.0.0.3", 8083)));
  s = client->WaitFor([&](const ResourceState& st) { return EndpointSetOf(st, "backend").empty(); },
                      kWait);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(client->state().Find(kEndpointType, "backend")->version, empty_version);
}

TEST_P(AdsTest, LdsWildcardBackendIsApiListener) {
  auto client = Connect(Node("lds"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kListenerType, {"*"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Listener("backend"); }, kWait)));
  EXPECT_EQ(client->state().Names(kListenerType), Names{"backend"});
  EXPECT_EQ(CheckApiListener(*client->state().Listener("backend"), "backend"), "");
}

// gRPC's own client names its listener ("xds:///backend").
TEST_P(AdsTest, LdsNamedBackendIsApiListener) {
  auto client = Connect(Node("lds-named"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kListenerType, {"backend"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Listener("backend"); }, kWait)));
  EXPECT_EQ(client->state().Names(kListenerType), Names{"backend"});
  EXPECT_EQ(CheckApiListener(*client->state().Listener("backend"), "backend"), "");
}

TEST_P(AdsTest, RdsDefaultHasSlashRoute) {
  auto client = Connect(Node("rds"));
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

TEST_P(AdsTest, NameRequestedBeforeItExistsIsAnsweredWhenItAppears) {
  auto client = Connect(Node("later"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"later"})));
  if (delta()) {
    // Delta reports a requested name that does not exist in removed_resources; SotW says
    // nothing.
    absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->type_url, kEndpointType);
    EXPECT_TRUE(r->names.empty()) << Summary(*r);
    EXPECT_EQ(r->removed, Names{"later"}) << Summary(*r);
    ASSERT_TRUE(IsOk(client->Ack(*r)));
  }
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  ASSERT_TRUE(IsOk(api_->CreateCluster("later")));
  absl::Status s =
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("later"); }, kWait);
  EXPECT_TRUE(s.ok()) << s;
}

// SotW requests the shorter list; delta unsubscribes the name.
TEST_P(AdsTest, NameDroppedFromTheSubscriptionGetsNoUpdates) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto client = Connect(Node("unsub"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend", "other"})));
  ASSERT_TRUE(IsOk(client->WaitFor(
      [](const ResourceState& st) { return st.Endpoints("backend") && st.Endpoints("other"); },
      kWait)));
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"other"})));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  ASSERT_TRUE(IsOk(api_->AddEndpoint("other", "10.0.0.2", 80)));
  absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url, kEndpointType) << Summary(*r);
  EXPECT_EQ(r->names, std::vector<std::string>{"other"}) << Summary(*r);
}

TEST_P(AdsTest, ClusterAddedMakeBeforeBreakAndDeletedListenerFirst) {
  auto client = ConnectAll(Node("add-del"), {"backend"});
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(IsOk(api_->CreateCluster("extra")));
  std::vector<AnyAdsResponse> seen;
  absl::Status s = client->WaitFor(
      [](const ResourceState& st) {
        return st.Cluster("extra") != nullptr && st.Listener("extra") != nullptr;
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  // Added: its Cluster comes before its Listener. SotW LDS/CDS responses carry the full set,
  // delta ones only what changed.
  const Names added = delta() ? Names{"extra"} : Names{"backend", "extra"};
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type_url, kClusterType) << Summary(seen[0]);
  EXPECT_EQ(seen[0].NameSet(), added) << Summary(seen[0]);
  EXPECT_EQ(seen[1].type_url, kListenerType) << Summary(seen[1]);
  EXPECT_EQ(seen[1].NameSet(), added) << Summary(seen[1]);
  EXPECT_EQ(client->state().Names(kClusterType), (Names{"backend", "extra"}));
  EXPECT_EQ(client->state().Names(kListenerType), (Names{"backend", "extra"}));
  EXPECT_EQ(CheckApiListener(*client->state().Listener("extra"), "extra"), "");
  // A proxy then asks for the new cluster's endpoints.
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend", "extra"})));
  s = client->WaitFor([](const ResourceState& st) { return st.Endpoints("extra"); }, kWait);
  ASSERT_TRUE(s.ok()) << s;

  ASSERT_TRUE(IsOk(api_->DeleteCluster("extra")));
  seen.clear();
  const bool delta = this->delta();
  s = client->WaitFor(
      [delta](const ResourceState& st) {
        return st.Cluster("extra") == nullptr && st.Listener("extra") == nullptr &&
               (!delta || st.Endpoints("extra") == nullptr);
      },
      kWait, &seen);
  ASSERT_TRUE(s.ok()) << s;
  // Deleted: the Listener's removal first.
  int lds_at = -1, cds_at = -1, eds_at = -1;
  for (int i = 0; i < static_cast<int>(seen.size()); ++i) {
    if (seen[i].type_url == kListenerType && lds_at < 0) lds_at = i;
    if (seen[i].type_url == kClusterType && cds_at < 0) cds_at = i;
    if (seen[i].type_url == kEndpointType && eds_at < 0) eds_at = i;
  }
  ASSERT_GE(lds_at, 0);
  ASSERT_GE(cds_at, 0);
  EXPECT_LT(lds_at, cds_at) << Summary(seen[lds_at]) << " / " << Summary(seen[cds_at]);
  if (delta) {
    // Each type names the removal, EDS included; nothing is sent again.
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(lds_at, 0);
    EXPECT_GT(eds_at, lds_at);
    for (const AnyAdsResponse& r : seen) {
      EXPECT_TRUE(r.names.empty()) << Summary(r);
      EXPECT_EQ(r.removed, Names{"extra"}) << Summary(r);
    }
  } else {
    // LDS and CDS carry the full set without "extra"; EDS is never deleted implicitly.
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[lds_at].names, std::vector<std::string>{"backend"}) << Summary(seen[lds_at]);
    EXPECT_EQ(seen[cds_at].names, std::vector<std::string>{"backend"}) << Summary(seen[cds_at]);
  }
  EXPECT_EQ(client->state().Names(kClusterType), Names{"backend"});
  EXPECT_EQ(client->state().Names(kListenerType), Names{"backend"});
  // Nothing else follows (RDS does not change: "extra" was never routed).
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
}

TEST_P(AdsTest, EndpointChangeSendsOnlyThatClusterAndOnlyToItsSubscribers) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto both = ConnectAll(Node("both"), {"backend", "other"});
  auto only_other = ConnectAll(Node("only-other"), {"other"});
  ASSERT_NE(both, nullptr);
  ASSERT_NE(only_other, nullptr);
  // "other" is published asynchronously and may reach a stream after ConnectAll returns (CDS,
  // EDS, then LDS): wait for its Listener, the last of the three.
  auto has_other = [](const ResourceState& st) { return st.Listener("other") != nullptr; };
  ASSERT_TRUE(IsOk(both->WaitFor(has_other, kWait)));
  ASSERT_TRUE(IsOk(only_other->WaitFor(has_other, kWait)));
  // Settle: every initial response consumed and ACKed.
  EXPECT_TRUE(IsOk(both->ExpectSilence(kSilence)));
  EXPECT_TRUE(IsOk(only_other->ExpectSilence(kSilence)));

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80, 5)));
  absl::StatusOr<AnyAdsResponse> r = both->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type_url, kEndpointType) << Summary(*r);
  EXPECT_EQ(r->names, std::vector<std::string>{"backend"}) << Summary(*r);
  EXPECT_TRUE(r->removed.empty()) << Summary(*r);
  ASSERT_TRUE(IsOk(both->Apply(*r)));
  ASSERT_TRUE(IsOk(both->Ack(*r)));
  EXPECT_EQ(EndpointSetOf(both->state(), "backend"), Names{"10.0.0.1:80 w=5 zone= UNKNOWN"});
  // Nothing else to the subscriber of both (no CDS/LDS/RDS churn) ...
  EXPECT_TRUE(IsOk(both->ExpectSilence(kSilence)));
  // ... and nothing at all to the stream that only wants "other".
  EXPECT_TRUE(IsOk(only_other->ExpectSilence(kSilence)));
}

TEST_P(AdsTest, NackIsRecordedAndNotRepushed) {
  auto client = ConnectAll(Node("nack"), {"backend"});
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));
  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(api_.get(), Node("nack"), AllAcked);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string good_version = FindType(*proxy, kEndpointType)->version_acked();
  ASSERT_FALSE(good_version.empty());
  EXPECT_EQ(good_version, client->AckedVersion(kEndpointType));

  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  absl::StatusOr<AnyAdsResponse> bad = client->Next(kWait);
  ASSERT_TRUE(bad.ok()) << bad.status();
  ASSERT_EQ(bad->type_url, kEndpointType) << Summary(*bad);
  const std::string kError = "test: endpoint 10.0.0.1:80 rejected";
  ASSERT_TRUE(IsOk(client->Nack(*bad, kError)));

  proxy = WaitForProxy(
      api_.get(), Node("nack"),
      [](const lb::v1::ProxyStatus& p) {
        const auto* eds = FindType(p, kEndpointType);
        return eds != nullptr && eds->nacks() == 1;
      },
      kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const auto* eds = FindType(*proxy, kEndpointType);
  EXPECT_EQ(eds->last_nack_error(), kError);
  EXPECT_EQ(eds->nacked_version(), bad->version);
  EXPECT_EQ(eds->version_sent(), bad->version);
  EXPECT_EQ(eds->version_acked(), good_version);
  // The rejected content is not pushed again.
  EXPECT_TRUE(IsOk(client->ExpectSilence(kSilence)));

  // The next real change is.
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.2", 80)));
  absl::StatusOr<AnyAdsResponse> next = client->Next(kWait);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->type_url, kEndpointType) << Summary(*next);
  EXPECT_EQ(next->names, std::vector<std::string>{"backend"}) << Summary(*next);
  EXPECT_NE(next->version, bad->version);
  ASSERT_TRUE(IsOk(client->Apply(*next)));
  ASSERT_TRUE(IsOk(client->Ack(*next)));
  EXPECT_EQ(EndpointSetOf(client->state(), "backend"),
            (Names{"10.0.0.1:80 w=1 zone= UNKNOWN", "10.0.0.2:80 w=1 zone= UNKNOWN"}));
  proxy = WaitForProxy(api_.get(), Node("nack"), AllAcked, kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  eds = FindType(*proxy, kEndpointType);
  EXPECT_EQ(eds->version_acked(), next->version);
  EXPECT_EQ(eds->nacks(), 1u);
}

TEST_P(AdsTest, ListProxiesShowsStreamVersionsAndAcks) {
  ConnectOptions options;
  options.node_id = Node("proxy-1");
  options.zone = "zone-a";
  std::unique_ptr<AnyAdsClient> client = ConnectAll(options, {"backend"});
  ASSERT_NE(client, nullptr);

  absl::StatusOr<lb::v1::ProxyStatus> proxy = WaitForProxy(
      api_.get(), Node("proxy-1"),
      [](const lb::v1::ProxyStatus& p) { return p.resources_size() == 4 && AllAcked(p); }, kWait);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->protocol(), VariantName(GetParam()));
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
  const lb::v1::ProxyStatus* via_rest = FindProxy(*rest, Node("proxy-1"));
  ASSERT_NE(via_rest, nullptr) << rest->DebugString();
  EXPECT_EQ(via_rest->protocol(), VariantName(GetParam()));
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
  absl::Status listed;
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<lb::v1::ListProxiesResponse> all = api_->ListProxies();
        listed = all.status();
        return all.ok() && FindProxy(*all, Node("proxy-1")) == nullptr;
      },
      kWait))
      << "still listed; last ListProxies: " << listed;
}

TEST_P(AdsTest, RequestWithoutTypeUrlEndsStream) {
  auto client = Connect(Node("bad"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->SendWithoutTypeUrl()));
  absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
  ASSERT_FALSE(r.ok()) << Summary(*r);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "type_url")) << r.status();
}

TEST_P(AdsTest, SlowClientThatCatchesUpEndsFullyAcked) {
  auto client = ConnectAll(Node("slow"), {"backend"});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "10.0.0.1", 80)));
  ASSERT_TRUE(IsOk(client->WaitFor(
      [](const ResourceState& st) { return !EndpointSetOf(st, "backend").empty(); }, kWait)));

  // A burst of 100 endpoint changes reaches a slow proxy, which ACKs nothing until the end
  // (one change at a time, so each is its own response) ...
  std::vector<AnyAdsResponse> unacked;
  for (int i = 0; i < 100; ++i) {
    lb::v1::AdminState state = i % 2 == 0 ? lb::v1::DRAINING : lb::v1::ACTIVE;
    ASSERT_TRUE(IsOk(api_->SetEndpointState("backend", "10.0.0.1", 80, state)));
    absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
    ASSERT_TRUE(r.ok()) << r.status() << " after " << i << " changes";
    ASSERT_EQ(r->type_url, kEndpointType) << Summary(*r);
    unacked.push_back(*std::move(r));
  }
  // ... then catches up, ACKing every response in order, as Envoy does.
  for (const AnyAdsResponse& r : unacked) {
    ASSERT_TRUE(IsOk(client->Apply(r)));
    ASSERT_TRUE(IsOk(client->Ack(r)));
  }
  EXPECT_EQ(EndpointSetOf(client->state(), "backend"), Names{"10.0.0.1:80 w=1 zone= UNKNOWN"});
  // The proxy holds and has ACKed the latest version of everything.
  absl::StatusOr<lb::v1::ProxyStatus> proxy =
      WaitForProxy(api_.get(), Node("slow"), AllAcked, absl::Seconds(2));
  EXPECT_TRUE(proxy.ok()) << proxy.status();
}

TEST_P(AdsTest, HostnameEndpointIsSentResolved) {
  ASSERT_TRUE(IsOk(api_->AddEndpoint("backend", "localhost", 8080, 2)));
  auto client = Connect(Node("hostname"));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend"})));
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

TEST_P(AdsTest, ShutdownEndsStreamsWithUnavailable) {
  auto client = ConnectAll(Node("shutdown"), {"backend"});
  ASSERT_NE(client, nullptr);
  controller_->Shutdown();
  absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
  ASSERT_FALSE(r.ok()) << Summary(*r);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "gRPC status 14")) << r.status();
}

// --- State of the world only -----------------------------------------------------------------

using AdsSotwTest = AdsTestBase;

// gRPC's xDS client speaks SotW only, and gets the Cluster flavour it can use.
TEST_F(AdsSotwTest, GrpcClientGetsReducedCluster) {
  auto client = Connect(AdsVariant::kSotw, "sotw-grpc-flavour", "gRPC C++");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kClusterType, {"*"})));
  ASSERT_TRUE(
      IsOk(client->WaitFor([](const ResourceState& st) { return st.Cluster("backend"); }, kWait)));
  const Cluster* backend = client->state().Cluster("backend");
  EXPECT_EQ(backend->lb_policy(), Cluster::ROUND_ROBIN);  // gRPC has no RANDOM.
  EXPECT_FALSE(backend->has_outlier_detection());
  EXPECT_EQ(backend->type(), Cluster::EDS);
  // --lrs_in_cds (default on): this controller is its LRS server (docs/lrs.md).
  EXPECT_TRUE(backend->lrs_server().has_self());
}

TEST_F(AdsSotwTest, ClusterSettingChangeIsPushedOnlyWhereTheResourceChanged) {
  auto envoy = Connect(AdsVariant::kSotw, "sotw-envoy-flavour");
  auto grpc = Connect(AdsVariant::kSotw, "sotw-grpc-flavour", "gRPC C++");
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

// --- Delta only ------------------------------------------------------------------------------

using AdsDeltaTest = AdsTestBase;

// A subscription change is honoured even when its nonce is stale (unlike a SotW request).
TEST_F(AdsDeltaTest, SubscriptionChangeWithStaleNonceIsHonoured) {
  ASSERT_TRUE(IsOk(api_->CreateCluster("other")));
  auto client = Connect(AdsVariant::kDelta, "delta-stale-nonce");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(IsOk(client->Subscribe(kEndpointType, {"backend"})));
  ASSERT_TRUE(IsOk(
      client->WaitFor([](const ResourceState& st) { return st.Endpoints("backend"); }, kWait)));
  DeltaAdsClient::Request request;
  request.set_type_url(kEndpointType);
  request.set_response_nonce("no-such-nonce");
  request.add_resource_names_subscribe("other");
  ASSERT_TRUE(IsOk(client->delta()->Send(request)));
  absl::StatusOr<AnyAdsResponse> r = client->Next(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->names, std::vector<std::string>{"other"}) << Summary(*r);
}

// --- Both variants at once -------------------------------------------------------------------

using AdsMixedTest = AdsTestBase;

TEST_F(AdsMixedTest, SotwAndDeltaStreamsAreListedSideBySide) {
  auto delta = ConnectAll(AdsVariant::kDelta, "side-delta", {"backend"});
  ASSERT_NE(delta, nullptr);
  auto sotw = Connect(AdsVariant::kSotw, "side-sotw");
  ASSERT_NE(sotw, nullptr);
  ASSERT_TRUE(IsOk(sotw->Subscribe(kClusterType, {"*"})));
  ASSERT_TRUE(
      IsOk(sotw->WaitFor([](const ResourceState& st) { return st.Cluster("backend"); }, kWait)));
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

}  // namespace
}  // namespace lb::testing::xds
