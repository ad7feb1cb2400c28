// The ADS protocol state machine on its own: requests in, requests out; no gRPC, no threads.
#include "proxy/xds/ads_subscription.h"

#include <string>
#include <vector>

#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "gtest/gtest.h"

namespace lb::proxy::xds {
namespace {

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kRouteType;

using Request = AdsSubscription::Request;
using Response = AdsSubscription::Response;

envoy::config::cluster::v3::Cluster Cluster(const std::string& name, int policy = 1) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  c.set_lb_policy(static_cast<envoy::config::cluster::v3::Cluster::LbPolicy>(policy));
  return c;
}

template <typename... Resources>
Response Resp(const std::string& type, const std::string& version, const std::string& nonce,
              const Resources&... resources) {
  Response r;
  r.set_type_url(type);
  r.set_version_info(version);
  r.set_nonce(nonce);
  (r.add_resources()->PackFrom(resources), ...);
  return r;
}

std::vector<std::string> Names(const Request& r) {
  return std::vector<std::string>(r.resource_names().begin(), r.resource_names().end());
}

AdsSubscription Make() { return AdsSubscription({"node-1", "zone-a", "lb-proxy", "7"}); }

TEST(AdsSubscriptionTest, FirstStreamSubscribesClustersAndRoutesWithTheNodeOnce) {
  AdsSubscription s = Make();
  std::vector<Request> start = s.StartStream();
  ASSERT_EQ(start.size(), 2u);  // No cluster known yet: no EDS.
  EXPECT_EQ(start[0].type_url(), kClusterType);
  EXPECT_TRUE(Names(start[0]).empty());  // Wildcard.
  EXPECT_EQ(start[0].node().id(), "node-1");
  EXPECT_EQ(start[0].node().locality().zone(), "zone-a");
  EXPECT_EQ(start[0].node().user_agent_name(), "lb-proxy");
  EXPECT_EQ(start[0].node().user_agent_version(), "7");
  EXPECT_EQ(start[0].version_info(), "");
  EXPECT_EQ(start[1].type_url(), kRouteType);
  EXPECT_EQ(Names(start[1]), std::vector<std::string>({"default"}));
  EXPECT_FALSE(start[1].has_node());
}

TEST(AdsSubscriptionTest, AckThenEdsForTheNewClusters) {
  AdsSubscription s = Make();
  s.StartStream();
  AdsSubscription::Outcome o =
      s.OnResponse(Resp(kClusterType, "v1", "n1", Cluster("b"), Cluster("a")));
  EXPECT_TRUE(o.accepted);
  ASSERT_EQ(o.requests.size(), 2u);
  EXPECT_EQ(o.requests[0].type_url(), kClusterType);
  EXPECT_EQ(o.requests[0].version_info(), "v1");
  EXPECT_EQ(o.requests[0].response_nonce(), "n1");
  EXPECT_FALSE(o.requests[0].has_error_detail());
  EXPECT_EQ(o.requests[1].type_url(), kEndpointType);
  EXPECT_EQ(Names(o.requests[1]), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(o.requests[1].response_nonce(), "");
  EXPECT_EQ(s.WarmingClusters(), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(s.versions().at(kClusterType), "v1");

  // The same set again: an ACK only, no new EDS request.
  o = s.OnResponse(Resp(kClusterType, "v2", "n2", Cluster("a"), Cluster("b")));
  EXPECT_EQ(o.requests.size(), 1u);
}

TEST(AdsSubscriptionTest, NackCarriesTheErrorAndTheLastGoodVersion) {
  AdsSubscription s = Make();
  s.StartStream();
  s.OnResponse(Resp(kClusterType, "v1", "n1", Cluster("a")));
  AdsSubscription::Outcome o = s.OnResponse(Resp(kClusterType, "v2", "n2", Cluster("a", 6)));
  EXPECT_FALSE(o.accepted);
  EXPECT_EQ(o.error, "Cluster \"a\": lb_policy: unsupported value 6");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].version_info(), "v1");
  EXPECT_EQ(o.requests[0].response_nonce(), "n2");
  EXPECT_EQ(o.requests[0].error_detail().code(), 3);
  EXPECT_EQ(o.requests[0].error_detail().message(), o.error);
  EXPECT_EQ(s.nacks().at(kClusterType), o.error);
  EXPECT_EQ(s.versions().at(kClusterType), "v1");
  o = s.OnResponse(Resp(kClusterType, "v3", "n3", Cluster("a")));
  EXPECT_TRUE(o.accepted);
  EXPECT_TRUE(s.nacks().empty());
}

TEST(AdsSubscriptionTest, NewStreamResendsWhatIsHeldWithFreshNonces) {
  AdsSubscription s = Make();
  s.StartStream();
  s.OnResponse(Resp(kClusterType, "v1", "n1", Cluster("a")));
  std::vector<Request> again = s.StartStream();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_TRUE(again[0].has_node());  // A new stream: the node again.
  EXPECT_EQ(again[0].version_info(), "v1");
  EXPECT_EQ(again[0].response_nonce(), "");
  EXPECT_EQ(again[2].type_url(), kEndpointType);
  EXPECT_EQ(Names(again[2]), std::vector<std::string>({"a"}));
}

TEST(AdsSubscriptionTest, UnsubscribedTypesAreIgnored) {
  AdsSubscription s = Make();
  s.StartStream();
  AdsSubscription::Outcome o =
      s.OnResponse(Resp("type.googleapis.com/envoy.config.listener.v3.Listener", "1", "n"));
  EXPECT_TRUE(o.ignored);
  EXPECT_TRUE(o.requests.empty());
  EXPECT_TRUE(s.versions().empty());
}

TEST(AdsSubscriptionTest, TlsListenerSubscribesItsListenerAndThenItsSecretsByName) {
  AdsSubscription s({"node-1", "zone-a", "lb-proxy", "7"}, /*tls_listener=*/true);
  std::vector<Request> start = s.StartStream();
  ASSERT_EQ(start.size(), 3u);
  EXPECT_EQ(start[2].type_url(), ::lb::xds::kListenerType);
  EXPECT_EQ(Names(start[2]), std::vector<std::string>({"lb.ingress.https"}));

  envoy::config::listener::v3::Listener l;
  l.set_name("lb.ingress.https");
  auto* chain = l.add_filter_chains();
  chain->mutable_transport_socket()->set_name("envoy.transport_sockets.tls");
  envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext context;
  auto* sds = context.mutable_common_tls_context()->add_tls_certificate_sds_secret_configs();
  sds->set_name("web");
  sds->mutable_sds_config()->mutable_ads();
  chain->mutable_transport_socket()->mutable_typed_config()->PackFrom(context);
  AdsSubscription::Outcome o = s.OnResponse(Resp(::lb::xds::kListenerType, "1", "n1", l));
  ASSERT_TRUE(o.accepted) << o.error;
  ASSERT_EQ(o.requests.size(), 2u);  // The ACK, then the new SDS subscription.
  EXPECT_EQ(o.requests[0].type_url(), ::lb::xds::kListenerType);
  EXPECT_EQ(o.requests[0].version_info(), "1");
  EXPECT_EQ(o.requests[1].type_url(), ::lb::xds::kSecretType);
  EXPECT_EQ(Names(o.requests[1]), std::vector<std::string>({"web"}));

  envoy::extensions::transport_sockets::tls::v3::Secret bad;
  bad.set_name("web");
  o = s.OnResponse(Resp(::lb::xds::kSecretType, "1", "n2", bad));
  EXPECT_FALSE(o.accepted);
  EXPECT_EQ(o.error, "Secret \"web\": one of tls_certificate or session_ticket_keys is required");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].error_detail().message(), o.error);
  EXPECT_EQ(Names(o.requests[0]), std::vector<std::string>({"web"}));

  // A new stream re-sends the listener and the secrets.
  start = s.StartStream();
  ASSERT_EQ(start.size(), 4u);
  EXPECT_EQ(start[3].type_url(), ::lb::xds::kSecretType);
  EXPECT_EQ(Names(start[3]), std::vector<std::string>({"web"}));
}

TEST(AdsSubscriptionTest, ListenersAreIgnoredWithoutATlsListener) {
  AdsSubscription s = Make();
  envoy::config::listener::v3::Listener l;
  l.set_name("lb.ingress.https");
  EXPECT_TRUE(s.OnResponse(Resp(::lb::xds::kListenerType, "1", "n1", l)).ignored);
}

}  // namespace
}  // namespace lb::proxy::xds
