// Model (lb.v1) to Envoy v3 resources: clusters for both client flavours, load assignments,
// the api_listener gRPC clients resolve xds:///NAME with, and the ingress route table.
#include "controller/xds/resources.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/xds/type_urls.h"
#include "controller/model/validation.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"

namespace lb::xds {
namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace core_v3 = envoy::config::core::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;
namespace hcm_v3 = envoy::extensions::filters::network::http_connection_manager::v3;

using ::testing::ElementsAre;
using ::testing::IsEmpty;

lb::v1::Cluster ModelCluster(const std::string& name, lb::v1::LbPolicy policy) {
  lb::v1::Cluster c;
  c.set_name(name);
  c.set_lb_policy(policy);
  c.mutable_connect_timeout()->set_seconds(2);
  c.mutable_connect_timeout()->set_nanos(500000000);
  return c;
}

lb::v1::Endpoint* AddEndpoint(lb::v1::Cluster* c, const std::string& address, uint32_t port,
                              uint32_t weight = 1, const std::string& zone = "") {
  lb::v1::Endpoint* e = c->add_endpoints();
  e->set_address(address);
  e->set_port(port);
  e->set_weight(weight);
  e->set_zone(zone);
  e->set_admin_state(lb::v1::ACTIVE);
  return e;
}

// Compact view of a load assignment: "zone|address:port|weight|hostname|health".
std::vector<std::string> Flatten(const endpoint_v3::ClusterLoadAssignment& cla) {
  std::vector<std::string> out;
  for (const auto& loc : cla.endpoints()) {
    for (const auto& lbe : loc.lb_endpoints()) {
      const auto& sa = lbe.endpoint().address().socket_address();
      out.push_back(
          loc.locality().zone() + "|" + sa.address() + ":" + std::to_string(sa.port_value()) + "|" +
          std::to_string(lbe.load_balancing_weight().value()) + "|" + lbe.endpoint().hostname() +
          "|" + core_v3::HealthStatus_Name(lbe.health_status()));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// BuildCluster

struct PolicyCase {
  lb::v1::LbPolicy model;
  cluster_v3::Cluster::LbPolicy envoy;
  cluster_v3::Cluster::LbPolicy grpc;
};

TEST(BuildClusterTest, PolicyForEachModelPolicyAndFlavour) {
  const std::vector<PolicyCase> cases = {
      {lb::v1::LB_POLICY_UNSPECIFIED, cluster_v3::Cluster::RANDOM,
       cluster_v3::Cluster::ROUND_ROBIN},
      {lb::v1::RANDOM, cluster_v3::Cluster::RANDOM, cluster_v3::Cluster::ROUND_ROBIN},
      {lb::v1::ROUND_ROBIN, cluster_v3::Cluster::ROUND_ROBIN, cluster_v3::Cluster::ROUND_ROBIN},
      {lb::v1::LEAST_REQUEST, cluster_v3::Cluster::LEAST_REQUEST, cluster_v3::Cluster::ROUND_ROBIN},
      {lb::v1::RING_HASH, cluster_v3::Cluster::RING_HASH, cluster_v3::Cluster::RING_HASH},
      {lb::v1::MAGLEV, cluster_v3::Cluster::MAGLEV, cluster_v3::Cluster::RING_HASH},
  };
  for (const PolicyCase& pc : cases) {
    SCOPED_TRACE(lb::v1::LbPolicy_Name(pc.model));
    lb::v1::Cluster model = ModelCluster("backend", pc.model);
    cluster_v3::Cluster envoy = BuildCluster(model, ClientFlavor::kEnvoy);
    cluster_v3::Cluster grpc = BuildCluster(model, ClientFlavor::kGrpc);
    EXPECT_EQ(envoy.lb_policy(), pc.envoy) << cluster_v3::Cluster::LbPolicy_Name(envoy.lb_policy());
    EXPECT_EQ(grpc.lb_policy(), pc.grpc) << cluster_v3::Cluster::LbPolicy_Name(grpc.lb_policy());

    // Policy-specific config, Envoy flavour.
    EXPECT_EQ(envoy.has_ring_hash_lb_config(), pc.envoy == cluster_v3::Cluster::RING_HASH);
    EXPECT_EQ(envoy.has_maglev_lb_config(), pc.envoy == cluster_v3::Cluster::MAGLEV);
    EXPECT_EQ(envoy.has_least_request_lb_config(), pc.envoy == cluster_v3::Cluster::LEAST_REQUEST);
    if (envoy.has_ring_hash_lb_config()) {
      EXPECT_EQ(envoy.ring_hash_lb_config().minimum_ring_size().value(), 1024u);
    }
    if (envoy.has_maglev_lb_config()) {
      EXPECT_EQ(envoy.maglev_lb_config().table_size().value(), 65537u);
    }
    if (envoy.has_least_request_lb_config()) {
      EXPECT_EQ(envoy.least_request_lb_config().choice_count().value(), 2u);
    }
    // gRPC flavour: only ring hash config, and only for RING_HASH.
    EXPECT_EQ(grpc.has_ring_hash_lb_config(), pc.grpc == cluster_v3::Cluster::RING_HASH);
    EXPECT_FALSE(grpc.has_maglev_lb_config());
    EXPECT_FALSE(grpc.has_least_request_lb_config());
  }
}

TEST(BuildClusterTest, EdsOverAdsV3BothFlavours) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  for (ClientFlavor flavor : {ClientFlavor::kEnvoy, ClientFlavor::kGrpc}) {
    cluster_v3::Cluster c = BuildCluster(model, flavor);
    EXPECT_EQ(c.name(), "backend");
    EXPECT_EQ(c.cluster_discovery_type_case(), cluster_v3::Cluster::kType);
    EXPECT_EQ(c.type(), cluster_v3::Cluster::EDS);
    ASSERT_TRUE(c.has_eds_cluster_config());
    const core_v3::ConfigSource& src = c.eds_cluster_config().eds_config();
    EXPECT_TRUE(src.has_ads());
    EXPECT_EQ(src.resource_api_version(), core_v3::V3);
    // EDS resource name defaults to the cluster name (what gRPC requests).
    EXPECT_EQ(c.eds_cluster_config().service_name(), "");
    EXPECT_EQ(c.connect_timeout().seconds(), 2);
    EXPECT_EQ(c.connect_timeout().nanos(), 500000000);
    EXPECT_FALSE(c.has_load_assignment());
  }
}

// gRPC clients report load only when their Cluster names an LRS server; Envoy ignores the field
// (its LRS server is in its bootstrap), so it is left out there.
TEST(BuildClusterTest, LrsServerSelfOnlyForGrpcWhenAsked) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  EXPECT_TRUE(BuildCluster(model, ClientFlavor::kGrpc, /*lrs=*/true).lrs_server().has_self());
  EXPECT_FALSE(BuildCluster(model, ClientFlavor::kGrpc, /*lrs=*/false).has_lrs_server());
  EXPECT_FALSE(BuildCluster(model, ClientFlavor::kGrpc).has_lrs_server());
  EXPECT_FALSE(BuildCluster(model, ClientFlavor::kEnvoy, /*lrs=*/true).has_lrs_server());
}

TEST(BuildClusterTest, HealthCheckAndOutlierCarriedForEnvoy) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  lb::v1::HealthCheck* hc = model.mutable_health_check();
  hc->set_path("/healthz");
  hc->mutable_interval()->set_seconds(5);
  hc->mutable_timeout()->set_seconds(1);
  hc->set_healthy_threshold(2);
  hc->set_unhealthy_threshold(3);
  lb::v1::OutlierDetection* od = model.mutable_outlier_detection();
  od->set_consecutive_5xx(5);
  od->set_consecutive_gateway_failure(0);
  od->mutable_interval()->set_seconds(10);
  od->mutable_base_ejection_time()->set_seconds(30);
  od->set_max_ejection_percent(50);
  model.mutable_healthy_panic_threshold()->set_value(40);

  cluster_v3::Cluster c = BuildCluster(model, ClientFlavor::kEnvoy);
  ASSERT_EQ(c.health_checks_size(), 1);
  const core_v3::HealthCheck& check = c.health_checks(0);
  EXPECT_EQ(check.health_checker_case(), core_v3::HealthCheck::kHttpHealthCheck);
  EXPECT_EQ(check.http_health_check().path(), "/healthz");
  EXPECT_EQ(check.interval().seconds(), 5);
  EXPECT_EQ(check.timeout().seconds(), 1);
  EXPECT_EQ(check.healthy_threshold().value(), 2u);
  EXPECT_EQ(check.unhealthy_threshold().value(), 3u);

  ASSERT_TRUE(c.has_outlier_detection());
  const cluster_v3::OutlierDetection& o = c.outlier_detection();
  EXPECT_EQ(o.consecutive_5xx().value(), 5u);
  EXPECT_EQ(o.enforcing_consecutive_5xx().value(), 100u);
  EXPECT_EQ(o.consecutive_gateway_failure().value(), 0u);
  EXPECT_EQ(o.enforcing_consecutive_gateway_failure().value(), 0u);  // 0 disables.
  EXPECT_EQ(o.interval().seconds(), 10);
  EXPECT_EQ(o.base_ejection_time().seconds(), 30);
  EXPECT_EQ(o.max_ejection_percent().value(), 50u);

  ASSERT_TRUE(c.has_common_lb_config());
  EXPECT_DOUBLE_EQ(c.common_lb_config().healthy_panic_threshold().value(), 40.0);

  // Gateway failures enabled, 5xx disabled: the enforcing percentages follow.
  od->set_consecutive_5xx(0);
  od->set_consecutive_gateway_failure(7);
  c = BuildCluster(model, ClientFlavor::kEnvoy);
  EXPECT_EQ(c.outlier_detection().enforcing_consecutive_5xx().value(), 0u);
  EXPECT_EQ(c.outlier_detection().consecutive_gateway_failure().value(), 7u);
  EXPECT_EQ(c.outlier_detection().enforcing_consecutive_gateway_failure().value(), 100u);
}

TEST(BuildClusterTest, NoActiveHealthCheckWithoutPath) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  model.mutable_health_check()->mutable_interval()->set_seconds(5);
  cluster_v3::Cluster c = BuildCluster(model, ClientFlavor::kEnvoy);
  EXPECT_EQ(c.health_checks_size(), 0);
  EXPECT_FALSE(c.has_common_lb_config());  // No panic threshold set in the model.
}

TEST(BuildClusterTest, PanicThresholdZeroIsKept) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  model.mutable_healthy_panic_threshold()->set_value(0);  // 0 disables panic mode.
  cluster_v3::Cluster c = BuildCluster(model, ClientFlavor::kEnvoy);
  ASSERT_TRUE(c.common_lb_config().has_healthy_panic_threshold());
  EXPECT_DOUBLE_EQ(c.common_lb_config().healthy_panic_threshold().value(), 0.0);
}

TEST(BuildClusterTest, GrpcFlavourHasNoHealthChecksOrOutlierDetection) {
  for (lb::v1::LbPolicy p : {lb::v1::RANDOM, lb::v1::ROUND_ROBIN, lb::v1::LEAST_REQUEST,
                             lb::v1::RING_HASH, lb::v1::MAGLEV}) {
    SCOPED_TRACE(lb::v1::LbPolicy_Name(p));
    lb::v1::Cluster model = ModelCluster("backend", p);
    model.mutable_health_check()->set_path("/healthz");
    model.mutable_health_check()->mutable_interval()->set_seconds(5);
    model.mutable_outlier_detection()->set_consecutive_5xx(5);
    model.mutable_outlier_detection()->mutable_interval()->set_seconds(10);
    model.mutable_healthy_panic_threshold()->set_value(50);
    cluster_v3::Cluster c = BuildCluster(model, ClientFlavor::kGrpc);
    EXPECT_EQ(c.health_checks_size(), 0);
    EXPECT_FALSE(c.has_outlier_detection());
    EXPECT_FALSE(c.has_common_lb_config());
    EXPECT_FALSE(c.has_circuit_breakers());
    EXPECT_EQ(c.type(), cluster_v3::Cluster::EDS);
    EXPECT_TRUE(c.eds_cluster_config().eds_config().has_ads());
  }
}

TEST(BuildClusterTest, CircuitBreakersAsOneDefaultPriorityThresholdForBothFlavours) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  lb::v1::CircuitBreakers* cb = model.mutable_circuit_breakers();
  cb->set_max_connections(1024);
  cb->set_max_pending_requests(7);
  cb->set_max_requests(2);
  cb->set_max_retries(0);  // Kept: no retries after connect timeouts.
  for (ClientFlavor flavor : {ClientFlavor::kEnvoy, ClientFlavor::kGrpc}) {
    cluster_v3::Cluster c = BuildCluster(model, flavor);
    ASSERT_EQ(c.circuit_breakers().thresholds_size(), 1);
    const cluster_v3::CircuitBreakers::Thresholds& t = c.circuit_breakers().thresholds(0);
    EXPECT_EQ(t.priority(), core_v3::RoutingPriority::DEFAULT);
    // Every limit is sent, defaults included, so no client relies on its own defaults.
    ASSERT_TRUE(t.has_max_connections());
    EXPECT_EQ(t.max_connections().value(), 1024u);
    EXPECT_EQ(t.max_pending_requests().value(), 7u);
    EXPECT_EQ(t.max_requests().value(), 2u);
    ASSERT_TRUE(t.has_max_retries());
    EXPECT_EQ(t.max_retries().value(), 0u);
    EXPECT_FALSE(t.track_remaining());
  }
}

TEST(BuildClusterTest, DefaultCircuitBreakersAreNotSent) {
  // Absent (a model cluster not normalized), all unset, or all at Envoy's defaults: the
  // Cluster is byte for byte the one sent before the model had circuit breakers.
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  const std::string without = BuildCluster(model, ClientFlavor::kEnvoy).SerializeAsString();
  model.mutable_circuit_breakers();
  EXPECT_EQ(BuildCluster(model, ClientFlavor::kEnvoy).SerializeAsString(), without);
  lb::v1::CircuitBreakers* cb = model.mutable_circuit_breakers();
  cb->set_max_connections(1024);
  cb->set_max_pending_requests(1024);
  cb->set_max_requests(1024);
  cb->set_max_retries(3);
  EXPECT_EQ(BuildCluster(model, ClientFlavor::kEnvoy).SerializeAsString(), without);
  EXPECT_FALSE(BuildCluster(model, ClientFlavor::kGrpc).has_circuit_breakers());
  // One limit off its default sends all four; unset ones as their defaults.
  model.clear_circuit_breakers();
  model.mutable_circuit_breakers()->set_max_retries(4);
  cluster_v3::Cluster c = BuildCluster(model, ClientFlavor::kEnvoy);
  ASSERT_EQ(c.circuit_breakers().thresholds_size(), 1);
  EXPECT_EQ(c.circuit_breakers().thresholds(0).max_connections().value(), 1024u);
  EXPECT_EQ(c.circuit_breakers().thresholds(0).max_pending_requests().value(), 1024u);
  EXPECT_EQ(c.circuit_breakers().thresholds(0).max_requests().value(), 1024u);
  EXPECT_EQ(c.circuit_breakers().thresholds(0).max_retries().value(), 4u);
}

// ---------------------------------------------------------------------------------------------
// BuildLoadAssignment

TEST(BuildLoadAssignmentTest, WeightsAndLocalitiesPerZone) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "10.0.0.1", 8080, 3, "zone-a");
  AddEndpoint(&model, "10.0.0.2", 8080, 5, "zone-b");
  AddEndpoint(&model, "10.0.0.3", 8081, 2, "zone-a");
  AddEndpoint(&model, "10.0.0.4", 8080, 0, "zone-c");  // Unset weight: 1.
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, nullptr);
  EXPECT_EQ(cla.cluster_name(), "backend");
  ASSERT_EQ(cla.endpoints_size(), 3);

  std::map<std::string, const endpoint_v3::LocalityLbEndpoints*> by_zone;
  for (const auto& loc : cla.endpoints()) {
    EXPECT_TRUE(loc.has_locality());
    EXPECT_EQ(loc.priority(), 0u);
    by_zone[loc.locality().zone()] = &loc;
  }
  ASSERT_EQ(by_zone.size(), 3u);
  // Locality order: first use.
  EXPECT_EQ(cla.endpoints(0).locality().zone(), "zone-a");
  EXPECT_EQ(cla.endpoints(1).locality().zone(), "zone-b");
  EXPECT_EQ(cla.endpoints(2).locality().zone(), "zone-c");
  // Locality weight = sum of its endpoints' weights.
  EXPECT_EQ(by_zone["zone-a"]->load_balancing_weight().value(), 5u);
  EXPECT_EQ(by_zone["zone-b"]->load_balancing_weight().value(), 5u);
  EXPECT_EQ(by_zone["zone-c"]->load_balancing_weight().value(), 1u);
  ASSERT_EQ(by_zone["zone-a"]->lb_endpoints_size(), 2);

  EXPECT_THAT(Flatten(cla),
              ElementsAre("zone-a|10.0.0.1:8080|3||UNKNOWN", "zone-a|10.0.0.3:8081|2||UNKNOWN",
                          "zone-b|10.0.0.2:8080|5||UNKNOWN", "zone-c|10.0.0.4:8080|1||UNKNOWN"));
  for (const auto& loc : cla.endpoints()) {
    for (const auto& lbe : loc.lb_endpoints()) {
      EXPECT_TRUE(lbe.has_load_balancing_weight());
      EXPECT_GE(lbe.load_balancing_weight().value(), 1u);
      EXPECT_EQ(lbe.endpoint().address().socket_address().protocol(), core_v3::SocketAddress::TCP);
    }
  }
}

TEST(BuildLoadAssignmentTest, EmptyZoneIsOneLocalityWithLocalitySet) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "10.0.0.1", 80);
  AddEndpoint(&model, "10.0.0.2", 80);
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, nullptr);
  ASSERT_EQ(cla.endpoints_size(), 1);
  // gRPC skips localities without `locality` or with weight 0.
  EXPECT_TRUE(cla.endpoints(0).has_locality());
  EXPECT_EQ(cla.endpoints(0).locality().zone(), "");
  EXPECT_EQ(cla.endpoints(0).load_balancing_weight().value(), 2u);
}

TEST(BuildLoadAssignmentTest, NoEndpointsNoLocalities) {
  lb::v1::Cluster model = ModelCluster("empty", lb::v1::ROUND_ROBIN);
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, nullptr);
  EXPECT_EQ(cla.cluster_name(), "empty");
  EXPECT_EQ(cla.endpoints_size(), 0);
}

TEST(BuildLoadAssignmentTest, DrainingEndpointsMarked) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "10.0.0.1", 80);
  AddEndpoint(&model, "10.0.0.2", 80)->set_admin_state(lb::v1::DRAINING);
  AddEndpoint(&model, "10.0.0.3", 80)->set_admin_state(lb::v1::ADMIN_STATE_UNSPECIFIED);
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, nullptr);
  EXPECT_THAT(Flatten(cla), ElementsAre("|10.0.0.1:80|1||UNKNOWN", "|10.0.0.2:80|1||DRAINING",
                                        "|10.0.0.3:80|1||UNKNOWN"));
}

TEST(BuildLoadAssignmentTest, HostnamesExpandedViaLookup) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "api.example.com", 443, 4, "zone-a");
  AddEndpoint(&model, "10.0.0.9", 443, 1, "zone-a");
  std::vector<std::string> asked;
  HostLookup lookup = [&asked](const std::string& host) -> std::vector<std::string> {
    asked.push_back(host);
    if (host == "api.example.com") return {"192.0.2.1", "192.0.2.2"};
    return {};
  };
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, lookup);
  EXPECT_THAT(asked, ElementsAre("api.example.com"));  // IP literals are not looked up.
  EXPECT_THAT(Flatten(cla), ElementsAre("zone-a|192.0.2.1:443|4|api.example.com|UNKNOWN",
                                        "zone-a|192.0.2.2:443|4|api.example.com|UNKNOWN",
                                        "zone-a|10.0.0.9:443|1||UNKNOWN"));
  // Each resolved address counts with the endpoint's weight.
  EXPECT_EQ(cla.endpoints(0).load_balancing_weight().value(), 9u);
}

TEST(BuildLoadAssignmentTest, LiveLookupWinsOverModelResolvedAddresses) {
  // resolved_addresses in the model is a display copy that may be stale: hostnames always
  // expand through the lookup.
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  lb::v1::Endpoint* e = AddEndpoint(&model, "db.internal", 5432, 2);
  e->add_resolved_addresses("198.51.100.7");
  std::vector<std::string> asked;
  HostLookup lookup = [&asked](const std::string& host) -> std::vector<std::string> {
    asked.push_back(host);
    return {"203.0.113.1"};
  };
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, lookup);
  EXPECT_THAT(asked, ElementsAre("db.internal"));
  EXPECT_THAT(Flatten(cla), ElementsAre("|203.0.113.1:5432|2|db.internal|UNKNOWN"));
  // Nothing resolved now: dropped, even though the model still lists an old address.
  cla = BuildLoadAssignment(model, [](const std::string&) { return std::vector<std::string>{}; });
  EXPECT_EQ(cla.endpoints_size(), 0);
}

TEST(BuildLoadAssignmentTest, UnresolvedHostnamesDropped) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "nowhere.invalid", 80, 1, "zone-x");
  AddEndpoint(&model, "10.0.0.1", 80, 1, "zone-a");
  HostLookup lookup = [](const std::string&) { return std::vector<std::string>{}; };
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, lookup);
  EXPECT_THAT(Flatten(cla), ElementsAre("zone-a|10.0.0.1:80|1||UNKNOWN"));
  // No empty locality is left behind for the unresolved endpoint's zone (gRPC rejects or
  // skips localities without endpoints/weight).
  ASSERT_EQ(cla.endpoints_size(), 1);
  EXPECT_EQ(cla.endpoints(0).locality().zone(), "zone-a");

  // Without a lookup function at all: dropped too.
  cla = BuildLoadAssignment(model, nullptr);
  EXPECT_THAT(Flatten(cla), ElementsAre("zone-a|10.0.0.1:80|1||UNKNOWN"));
}

TEST(BuildLoadAssignmentTest, DuplicateAddressPortDeduped) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "10.0.0.1", 80, 3, "zone-a");
  AddEndpoint(&model, "10.0.0.1", 81, 1, "zone-a");  // Other port: kept.
  AddEndpoint(&model, "svc.example", 80, 7, "zone-b");
  HostLookup lookup = [](const std::string& host) -> std::vector<std::string> {
    if (host == "svc.example") return {"10.0.0.1", "10.0.0.2", "10.0.0.2"};
    return {};
  };
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, lookup);
  // 10.0.0.1:80 keeps its first occurrence (weight 3, zone-a, no hostname); the repeated
  // 10.0.0.2 from the lookup appears once.
  EXPECT_THAT(Flatten(cla),
              ElementsAre("zone-a|10.0.0.1:80|3||UNKNOWN", "zone-a|10.0.0.1:81|1||UNKNOWN",
                          "zone-b|10.0.0.2:80|7|svc.example|UNKNOWN"));
  ASSERT_EQ(cla.endpoints_size(), 2);
  EXPECT_EQ(cla.endpoints(0).load_balancing_weight().value(), 4u);
  EXPECT_EQ(cla.endpoints(1).load_balancing_weight().value(), 7u);
}

TEST(BuildLoadAssignmentTest, HostnameExpansionsCountAgainstTheEndpointLimit) {
  HostLookup lookup = [](const std::string& host) -> std::vector<std::string> {
    if (host == "many.example") return {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"};
    return {"198.51.100.1", "198.51.100.2"};
  };
  // `spare` endpoints short of the limit, the last two of them hostnames.
  for (size_t spare : {size_t{0}, size_t{2}}) {
    SCOPED_TRACE(spare);
    lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
    const size_t literals = model::kMaxEndpointsPerCluster - spare - 2;
    for (size_t i = 0; i < literals; ++i) {
      AddEndpoint(&model, absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256), 80,
                  1);
    }
    AddEndpoint(&model, "many.example", 80, 1);
    AddEndpoint(&model, "late.example", 80, 1);
    size_t over = 0;
    endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, lookup, &over);
    std::vector<std::string> flat = Flatten(cla);
    ASSERT_EQ(flat.size(), model::kMaxEndpointsPerCluster);
    // Every endpoint keeps its first address; the spare room goes to the earlier hostname.
    EXPECT_EQ(over, spare == 0 ? 4u : 2u);
    EXPECT_EQ(flat[literals], "|192.0.2.1:80|1|many.example|UNKNOWN");
    EXPECT_EQ(flat.back(), "|198.51.100.1:80|1|late.example|UNKNOWN");
  }
}

TEST(BuildLoadAssignmentTest, Ipv6Literals) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  AddEndpoint(&model, "2001:db8::1", 443, 2, "zone-a");
  AddEndpoint(&model, "::1", 8443, 1, "zone-a");
  AddEndpoint(&model, "2001:db8::1", 443, 9, "zone-b");  // Duplicate.
  bool called = false;
  HostLookup lookup = [&called](const std::string&) -> std::vector<std::string> {
    called = true;
    return {};
  };
  endpoint_v3::ClusterLoadAssignment cla = BuildLoadAssignment(model, lookup);
  EXPECT_FALSE(called);
  EXPECT_THAT(Flatten(cla),
              ElementsAre("zone-a|2001:db8::1:443|2||UNKNOWN", "zone-a|::1:8443|1||UNKNOWN"));
  // A hostname resolving to IPv6 addresses.
  lb::v1::Cluster h = ModelCluster("v6", lb::v1::ROUND_ROBIN);
  AddEndpoint(&h, "v6.example", 80);
  cla = BuildLoadAssignment(
      h, [](const std::string&) { return std::vector<std::string>{"2001:db8::42"}; });
  EXPECT_THAT(Flatten(cla), ElementsAre("|2001:db8::42:80|1|v6.example|UNKNOWN"));
}

// ---------------------------------------------------------------------------------------------
// BuildApiListener

TEST(BuildApiListenerTest, InlineRouteToClusterWithRouterLast) {
  lb::v1::Cluster model = ModelCluster("backend", lb::v1::ROUND_ROBIN);
  envoy::config::listener::v3::Listener l = BuildApiListener(model);
  EXPECT_EQ(l.name(), "backend");
  ASSERT_TRUE(l.has_api_listener());
  const google::protobuf::Any& any = l.api_listener().api_listener();
  EXPECT_EQ(any.type_url(),
            "type.googleapis.com/"
            "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  hcm_v3::HttpConnectionManager hcm;
  ASSERT_TRUE(any.UnpackTo(&hcm));

  ASSERT_EQ(hcm.route_specifier_case(), hcm_v3::HttpConnectionManager::kRouteConfig);
  const route_v3::RouteConfiguration& rc = hcm.route_config();
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  const route_v3::VirtualHost& vh = rc.virtual_hosts(0);
  EXPECT_THAT(vh.domains(), ElementsAre("*"));
  ASSERT_EQ(vh.routes_size(), 1);
  const route_v3::Route& route = vh.routes(0);
  EXPECT_EQ(route.match().path_specifier_case(), route_v3::RouteMatch::kPrefix);
  EXPECT_EQ(route.match().prefix(), "");
  EXPECT_EQ(route.action_case(), route_v3::Route::kRoute);
  EXPECT_EQ(route.route().cluster_specifier_case(), route_v3::RouteAction::kCluster);
  EXPECT_EQ(route.route().cluster(), "backend");

  ASSERT_GE(hcm.http_filters_size(), 1);
  const hcm_v3::HttpFilter& last = hcm.http_filters(hcm.http_filters_size() - 1);
  EXPECT_EQ(last.typed_config().type_url(),
            "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
  envoy::extensions::filters::http::router::v3::Router router;
  EXPECT_TRUE(last.typed_config().UnpackTo(&router));
  EXPECT_FALSE(last.name().empty());
}

TEST(BuildApiListenerTest, NameFollowsCluster) {
  envoy::config::listener::v3::Listener l =
      BuildApiListener(ModelCluster("payments.v2", lb::v1::RING_HASH));
  EXPECT_EQ(l.name(), "payments.v2");
  hcm_v3::HttpConnectionManager hcm;
  ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&hcm));
  EXPECT_EQ(hcm.route_config().virtual_hosts(0).routes(0).route().cluster(), "payments.v2");
}

// ---------------------------------------------------------------------------------------------
// BuildIngressRoutes

lb::v1::Route* AddRoute(lb::v1::RouteTable* t, const std::string& name, const std::string& host,
                        const std::string& prefix, const std::string& cluster) {
  lb::v1::Route* r = t->add_routes();
  r->set_name(name);
  r->set_host(host);
  r->set_path_prefix(prefix);
  r->set_cluster(cluster);
  return r;
}

TEST(BuildIngressRoutesTest, VirtualHostsInFirstUseOrderWithPrefixes) {
  lb::v1::RouteTable table;
  AddRoute(&table, "r1", "b.example.com", "/api", "api");
  AddRoute(&table, "r2", "a.example.com", "/", "web");
  AddRoute(&table, "r3", "b.example.com", "/static", "web");
  AddRoute(&table, "r4", "", "", "web");  // Any host, any path.
  AddRoute(&table, "r5", "*", "/x", "api");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
  EXPECT_EQ(rc.name(), "default");
  EXPECT_EQ(rc.name(), kIngressRouteConfig);
  ASSERT_EQ(rc.virtual_hosts_size(), 3);
  EXPECT_EQ(rc.virtual_hosts(0).name(), "b.example.com");
  EXPECT_THAT(rc.virtual_hosts(0).domains(), ElementsAre("b.example.com"));
  EXPECT_EQ(rc.virtual_hosts(1).name(), "a.example.com");
  EXPECT_THAT(rc.virtual_hosts(1).domains(), ElementsAre("a.example.com"));
  EXPECT_THAT(rc.virtual_hosts(2).domains(), ElementsAre("*"));

  // A host's virtual host also holds the any-host routes r4 and r5 (a proxy uses only the most
  // specific virtual host): its own routes first, then the less specific ones, each group
  // longest prefix first (see HostSpecificRoutesWinThenLongestPrefix).
  const auto& b = rc.virtual_hosts(0).routes();
  ASSERT_EQ(b.size(), 4);
  EXPECT_EQ(b[0].name(), "r3");
  EXPECT_EQ(b[0].match().prefix(), "/static");
  EXPECT_EQ(b[0].route().cluster(), "web");
  EXPECT_EQ(b[1].name(), "r1");
  EXPECT_EQ(b[1].match().prefix(), "/api");
  EXPECT_EQ(b[1].route().cluster(), "api");
  EXPECT_EQ(b[2].name(), "r5");
  EXPECT_EQ(b[3].name(), "r4");
  const auto& star = rc.virtual_hosts(2).routes();
  ASSERT_EQ(star.size(), 2);
  EXPECT_EQ(star[0].name(), "r5");
  EXPECT_EQ(star[0].match().prefix(), "/x");
  EXPECT_EQ(star[1].name(), "r4");
  EXPECT_EQ(star[1].match().path_specifier_case(), route_v3::RouteMatch::kPrefix);
  EXPECT_EQ(star[1].match().prefix(), "/");  // Empty prefix: everything.
}

TEST(BuildIngressRoutesTest, EmptyTable) {
  route_v3::RouteConfiguration rc = BuildIngressRoutes(lb::v1::RouteTable(), {});
  EXPECT_EQ(rc.name(), "default");
  EXPECT_EQ(rc.virtual_hosts_size(), 0);
}

TEST(BuildIngressRoutesTest, RetryPolicyFromClusterDefaultTwo) {
  lb::v1::RouteTable table;
  AddRoute(&table, "with", "", "/with", "with-retries");
  AddRoute(&table, "without", "", "/without", "no-retries-set");
  AddRoute(&table, "zero", "", "/zero", "zero-retries");
  AddRoute(&table, "unknown", "", "/unknown", "not-a-cluster");
  absl::flat_hash_map<std::string, lb::v1::Cluster> clusters;
  clusters["with-retries"] = ModelCluster("with-retries", lb::v1::ROUND_ROBIN);
  clusters["with-retries"].mutable_retries()->set_value(5);
  clusters["no-retries-set"] = ModelCluster("no-retries-set", lb::v1::ROUND_ROBIN);
  clusters["zero-retries"] = ModelCluster("zero-retries", lb::v1::ROUND_ROBIN);
  clusters["zero-retries"].mutable_retries()->set_value(0);
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, clusters);
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  const auto& routes = rc.virtual_hosts(0).routes();
  ASSERT_EQ(routes.size(), 4);
  std::map<std::string, uint32_t> retries;  // By route name (longest prefix comes first).
  for (const auto& r : routes) {
    ASSERT_TRUE(r.route().has_retry_policy()) << r.name();
    EXPECT_TRUE(r.route().retry_policy().has_num_retries()) << r.name();
    EXPECT_FALSE(r.route().retry_policy().retry_on().empty()) << r.name();
    retries[r.name()] = r.route().retry_policy().num_retries().value();
    EXPECT_THAT(r.route().hash_policy(), IsEmpty()) << r.name();  // Not hashing policies.
  }
  EXPECT_EQ(retries, (std::map<std::string, uint32_t>{
                         {"with", 5u}, {"without", 2u}, {"zero", 0u}, {"unknown", 2u}}));
  EXPECT_EQ(routes[1].name(), "unknown");  // "/unknown" and "/without" tie: table order.
  EXPECT_EQ(routes[1].route().cluster(), "not-a-cluster");
}

TEST(BuildIngressRoutesTest, HashPolicyForRingHashAndMaglev) {
  lb::v1::RouteTable table;
  // Equal prefix lengths: the routes keep table order.
  AddRoute(&table, "h", "", "/hh", "by-header");
  AddRoute(&table, "c", "", "/cc", "by-cookie");
  AddRoute(&table, "s", "", "/ss", "by-source");
  AddRoute(&table, "d", "", "/dd", "default-key");
  AddRoute(&table, "rr", "", "/rr", "round-robin");
  absl::flat_hash_map<std::string, lb::v1::Cluster> clusters;
  clusters["by-header"] = ModelCluster("by-header", lb::v1::RING_HASH);
  clusters["by-header"].mutable_hash_policy()->set_header("x-user");
  clusters["by-cookie"] = ModelCluster("by-cookie", lb::v1::MAGLEV);
  clusters["by-cookie"].mutable_hash_policy()->set_cookie("session");
  clusters["by-source"] = ModelCluster("by-source", lb::v1::RING_HASH);
  clusters["by-source"].mutable_hash_policy()->set_source_ip(true);
  clusters["default-key"] = ModelCluster("default-key", lb::v1::MAGLEV);  // Unset: source IP.
  clusters["round-robin"] = ModelCluster("round-robin", lb::v1::ROUND_ROBIN);
  clusters["round-robin"].mutable_hash_policy()->set_header("ignored");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, clusters);
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  const auto& routes = rc.virtual_hosts(0).routes();
  ASSERT_EQ(routes.size(), 5);

  ASSERT_EQ(routes[0].route().hash_policy_size(), 1);
  EXPECT_EQ(routes[0].route().hash_policy(0).policy_specifier_case(),
            route_v3::RouteAction::HashPolicy::kHeader);
  EXPECT_EQ(routes[0].route().hash_policy(0).header().header_name(), "x-user");

  ASSERT_EQ(routes[1].route().hash_policy_size(), 1);
  EXPECT_EQ(routes[1].route().hash_policy(0).policy_specifier_case(),
            route_v3::RouteAction::HashPolicy::kCookie);
  EXPECT_EQ(routes[1].route().hash_policy(0).cookie().name(), "session");

  for (int i : {2, 3}) {
    ASSERT_EQ(routes[i].route().hash_policy_size(), 1) << routes[i].name();
    EXPECT_EQ(routes[i].route().hash_policy(0).policy_specifier_case(),
              route_v3::RouteAction::HashPolicy::kConnectionProperties)
        << routes[i].name();
    EXPECT_TRUE(routes[i].route().hash_policy(0).connection_properties().source_ip());
  }
  EXPECT_EQ(routes[4].route().hash_policy_size(), 0);
}

// What a proxy does with a RouteConfiguration (proxy/server/snapshot.cc, like Envoy): pick the
// most specific virtual host by domain, then the first route of that host whose prefix matches.
// Returns the cluster, or "" (404) when the chosen host has no matching route.
std::string Pick(const route_v3::RouteConfiguration& rc, const std::string& host,
                 const std::string& path) {
  const route_v3::VirtualHost* best = nullptr;
  int best_score = -1;
  for (const auto& vh : rc.virtual_hosts()) {
    for (const auto& d : vh.domains()) {
      int score = -1;
      if (d == "*") {
        score = 0;
      } else if (d == host) {
        score = 1 << 20;
      } else if (d.size() > 2 && d.compare(0, 2, "*.") == 0 && host.size() > d.size() - 1 &&
                 host.compare(host.size() - (d.size() - 1), d.size() - 1, d, 1) == 0) {
        score = static_cast<int>(d.size());
      }
      if (score > best_score) {
        best_score = score;
        best = &vh;
      }
    }
  }
  if (best == nullptr) return "";
  for (const auto& r : best->routes()) {
    if (path.compare(0, r.match().prefix().size(), r.match().prefix()) == 0) {
      return r.route().cluster();
    }
  }
  return "";
}

TEST(BuildIngressRoutesTest, HostSpecificRoutesWinThenLongestPrefix) {
  // lb.proto: the most specific matching host wins, then the longest prefix; a less specific
  // host's routes apply when none of the specific host's prefixes match. Table order only
  // breaks ties, so adding a host route after the seed's catch-all still takes effect.
  for (bool catch_all_first : {false, true}) {
    lb::v1::RouteTable table;
    if (catch_all_first) AddRoute(&table, "seed", "*", "/", "backend");
    AddRoute(&table, "api", "example.com", "/api", "web");
    if (!catch_all_first) AddRoute(&table, "seed", "*", "/", "backend");
    AddRoute(&table, "assets", "*", "/assets", "cdn");
    route_v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
    SCOPED_TRACE(catch_all_first ? "catch-all first" : "catch-all last");
    EXPECT_EQ(Pick(rc, "example.com", "/api/v1"), "web");
    EXPECT_EQ(Pick(rc, "example.com", "/index.html"), "backend");  // Falls through to "*".
    EXPECT_EQ(Pick(rc, "example.com", "/assets/a.css"), "cdn");    // Longest "*" prefix.
    EXPECT_EQ(Pick(rc, "other.org", "/api/v1"), "backend");
    EXPECT_EQ(Pick(rc, "other.org", "/assets/x"), "cdn");
    EXPECT_EQ(Pick(rc, "other.org", "/x"), "backend");
  }
  // Same host, same prefix: the earlier route wins.
  lb::v1::RouteTable tie;
  AddRoute(&tie, "first", "", "/a", "one");
  AddRoute(&tie, "second", "", "/a", "two");
  EXPECT_EQ(Pick(BuildIngressRoutes(tie, {}), "h", "/a"), "one");
}

TEST(BuildIngressRoutesTest, WildcardDomainsAndIpv6Hosts) {
  lb::v1::RouteTable table;
  AddRoute(&table, "wild", "*.example.com", "/w", "wild");
  AddRoute(&table, "a", "a.example.com", "/a", "a");
  AddRoute(&table, "deep", "*.b.example.com", "/d", "deep");
  AddRoute(&table, "six", "::1", "/6", "six");
  AddRoute(&table, "six-bracketed", "[::1]", "/x", "x");
  AddRoute(&table, "seed", "*", "/", "backend");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
  std::vector<std::string> domains;
  for (const auto& vh : rc.virtual_hosts()) {
    ASSERT_EQ(vh.domains_size(), 1);
    domains.push_back(vh.domains(0));
  }
  // A bare IPv6 host is the bracketed domain, as in a Host header: one virtual host for both.
  EXPECT_THAT(domains,
              ElementsAre("*.example.com", "a.example.com", "*.b.example.com", "[::1]", "*"));
  EXPECT_EQ(Pick(rc, "a.example.com", "/w/1"), "wild");  // Covering wildcard.
  EXPECT_EQ(Pick(rc, "a.example.com", "/a"), "a");
  EXPECT_EQ(Pick(rc, "a.example.com", "/d"), "backend");  // *.b.example.com does not match.
  EXPECT_EQ(Pick(rc, "c.b.example.com", "/w"), "wild");
  EXPECT_EQ(Pick(rc, "c.b.example.com", "/d"), "deep");
  EXPECT_EQ(Pick(rc, "c.b.example.com", "/a"), "backend");
  EXPECT_EQ(Pick(rc, "z.example.com", "/d"), "backend");
  EXPECT_EQ(Pick(rc, "[::1]", "/6"), "six");
  EXPECT_EQ(Pick(rc, "[::1]", "/x"), "x");
  EXPECT_EQ(Pick(rc, "[::1]", "/w"), "backend");
  EXPECT_EQ(Pick(rc, "example.com", "/w"), "backend");
}

TEST(BuildIngressRoutesTest, RouteWithSeveralHostsMatchesEachOfThem) {
  lb::v1::RouteTable table;
  lb::v1::Route* site = AddRoute(&table, "site", "", "/", "web");
  site->add_hosts("example.com");
  site->add_hosts("*.example.org");
  site->add_hosts("*");
  AddRoute(&table, "api", "*", "/api", "api");
  AddRoute(&table, "org-api", "a.example.org", "/api", "org-api");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
  std::vector<std::string> domains;
  for (const auto& vh : rc.virtual_hosts()) domains.push_back(vh.domains(0));
  EXPECT_THAT(domains, ElementsAre("example.com", "*.example.org", "*", "a.example.org"));
  EXPECT_EQ(Pick(rc, "example.com", "/"), "web");
  EXPECT_EQ(Pick(rc, "example.com", "/api"), "web");  // Its most specific host wins first.
  EXPECT_EQ(Pick(rc, "other", "/api"), "api");
  EXPECT_EQ(Pick(rc, "b.example.org", "/x"), "web");
  EXPECT_EQ(Pick(rc, "a.example.org", "/api"), "org-api");
  EXPECT_EQ(Pick(rc, "a.example.org", "/x"), "web");
  EXPECT_EQ(Pick(rc, "other", "/x"), "web");
  // A route whose hosts both cover a domain is listed once, at its most specific host.
  std::vector<std::string> names;
  for (const auto& r : rc.virtual_hosts(3).routes()) names.push_back(r.name());
  EXPECT_THAT(names, ElementsAre("org-api", "site", "api"));
}

TEST(BuildIngressRoutesTest, CookieHashCarriesTheGenerationContract) {
  lb::v1::RouteTable table;
  AddRoute(&table, "defaults", "", "/d", "defaults");
  AddRoute(&table, "all", "", "/a", "all");
  AddRoute(&table, "app", "", "/p", "app");
  absl::flat_hash_map<std::string, lb::v1::Cluster> clusters;
  clusters["defaults"] = ModelCluster("defaults", lb::v1::RING_HASH);
  clusters["defaults"].mutable_hash_policy()->set_cookie("lb");
  clusters["all"] = ModelCluster("all", lb::v1::MAGLEV);
  lb::v1::HashPolicy* all = clusters["all"].mutable_hash_policy();
  all->set_cookie("sticky");
  all->mutable_cookie_options()->mutable_ttl()->set_seconds(3600);
  all->mutable_cookie_options()->set_path("/app");
  all->mutable_cookie_options()->mutable_http_only()->set_value(false);
  all->mutable_cookie_options()->set_same_site(lb::v1::CookieOptions::NONE);
  all->mutable_cookie_options()->set_secure(true);
  clusters["app"] = ModelCluster("app", lb::v1::RING_HASH);
  clusters["app"].mutable_hash_policy()->set_cookie("JSESSIONID");
  clusters["app"].mutable_hash_policy()->mutable_cookie_options()->mutable_generate()->set_value(
      false);
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, clusters);
  std::map<std::string, std::string> cookies;
  for (const auto& r : rc.virtual_hosts(0).routes()) {
    ASSERT_EQ(r.route().hash_policy_size(), 1) << r.name();
    cookies[r.name()] = r.route().hash_policy(0).cookie().ShortDebugString();
  }
  // ttl present: the proxy sets the cookie (0: no Max-Age); attributes exactly as they appear.
  EXPECT_EQ(cookies["defaults"],
            "name: \"lb\" ttl { } path: \"/\" attributes { name: \"HttpOnly\" }");
  EXPECT_EQ(cookies["all"],
            "name: \"sticky\" ttl { seconds: 3600 } path: \"/app\" attributes { name: "
            "\"SameSite\" value: \"None\" } attributes { name: \"Secure\" }");
  EXPECT_EQ(cookies["app"], "name: \"JSESSIONID\"");
  // Strict and Lax are spelled as in Set-Cookie.
  all->mutable_cookie_options()->set_same_site(lb::v1::CookieOptions::STRICT);
  rc = BuildIngressRoutes(table, clusters);
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).route().hash_policy(0).cookie().attributes(0).value(),
            "Strict");
  all->mutable_cookie_options()->set_same_site(lb::v1::CookieOptions::LAX);
  rc = BuildIngressRoutes(table, clusters);
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).route().hash_policy(0).cookie().attributes(0).value(),
            "Lax");
}

}  // namespace
}  // namespace lb::xds

namespace lb::xds {
namespace {

TEST(BuildClusterTest, Http2ClustersCarryEnvoysHttpProtocolOptionsForProxiesOnly) {
  lb::v1::Cluster model;
  model.set_name("grpc");
  model.set_lb_policy(lb::v1::ROUND_ROBIN);
  const std::string http1 =
      BuildCluster(model, ClientFlavor::kEnvoy).SerializeAsString();  // Unset: HTTP1.
  model.set_protocol(lb::v1::HTTP1);
  EXPECT_EQ(BuildCluster(model, ClientFlavor::kEnvoy).SerializeAsString(), http1);
  model.set_protocol(lb::v1::HTTP2);
  envoy::config::cluster::v3::Cluster c = BuildCluster(model, ClientFlavor::kEnvoy);
  ASSERT_EQ(c.typed_extension_protocol_options_size(), 1);
  const google::protobuf::Any& any =
      c.typed_extension_protocol_options().at(kHttpProtocolOptionsName);
  EXPECT_EQ(any.type_url(), kHttpProtocolOptionsType);
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
  ASSERT_TRUE(any.UnpackTo(&options));
  EXPECT_TRUE(options.explicit_http_config().has_http2_protocol_options());
  // gRPC clients speak HTTP/2 anyway.
  EXPECT_EQ(BuildCluster(model, ClientFlavor::kGrpc).typed_extension_protocol_options_size(), 0);
}

TEST(BuildClusterTest, GrpcHealthCheck) {
  lb::v1::Cluster model;
  model.set_name("grpc");
  model.set_protocol(lb::v1::HTTP2);
  model.mutable_health_check()->set_grpc_service_name("echo.v1.Echo");
  model.mutable_health_check()->mutable_interval()->set_seconds(2);
  envoy::config::cluster::v3::Cluster c = BuildCluster(model, ClientFlavor::kEnvoy);
  ASSERT_EQ(c.health_checks_size(), 1);
  EXPECT_TRUE(c.health_checks(0).has_grpc_health_check());
  EXPECT_EQ(c.health_checks(0).grpc_health_check().service_name(), "echo.v1.Echo");
  EXPECT_EQ(c.health_checks(0).interval().seconds(), 2);
  // The whole server: service "".
  model.mutable_health_check()->set_grpc_service_name("");
  c = BuildCluster(model, ClientFlavor::kEnvoy);
  ASSERT_EQ(c.health_checks_size(), 1);
  EXPECT_TRUE(c.health_checks(0).has_grpc_health_check());
}

// ---------------------------------------------------------------------------------------------
// Weighted clusters, exact paths, method and header matches, header changes, slow start

template <typename M>
void ExpectProto(const M& actual, const std::string& text) {
  M expected;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &expected)) << text;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(actual, expected))
      << "actual:\n"
      << actual.DebugString() << "expected:\n"
      << expected.DebugString();
}

lb::v1::RouteTable ParseTable(const std::string& text) {
  lb::v1::RouteTable t;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &t)) << text;
  for (lb::v1::Route& r : *t.mutable_routes()) EXPECT_TRUE(model::NormalizeRoute(&r).ok());
  return t;
}

TEST(BuildIngressRoutesTest, WeightedClustersMatchesAndHeaderChangesExactly) {
  lb::v1::RouteTable table = ParseTable(R"pb(
    routes {
      name: "split"
      hosts: "shop.example"
      path_prefix: "/"
      weighted_clusters { cluster: "stable" weight: 90 }
      weighted_clusters { cluster: "canary" weight: 10 }
      weighted_clusters { cluster: "old" weight: 0 }
      method: "POST"
      headers { name: "X-Canary" exact: "yes" }
      headers { name: "x-bot" present: true invert: true }
      request_headers_to_add { name: "X-Env" value: "prod" }
      request_headers_to_add { name: "x-tag" value: "a" append: true }
      request_headers_to_remove: "X-Secret"
    }
  )pb");
  absl::flat_hash_map<std::string, lb::v1::Cluster> clusters;
  clusters["stable"] = ModelCluster("stable", lb::v1::ROUND_ROBIN);
  clusters["stable"].mutable_retries()->set_value(4);
  clusters["canary"] = ModelCluster("canary", lb::v1::RING_HASH);
  clusters["canary"].mutable_hash_policy()->set_header("x-user");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, clusters);
  ExpectProto(rc, R"pb(
    name: "default"
    virtual_hosts {
      name: "shop.example"
      domains: "shop.example"
      routes {
        name: "split"
        match {
          prefix: "/"
          headers { name: ":method" exact_match: "POST" }
          headers { name: "x-canary" exact_match: "yes" }
          headers { name: "x-bot" present_match: true invert_match: true }
        }
        route {
          weighted_clusters {
            clusters {
              name: "stable"
              weight { value: 90 }
            }
            clusters {
              name: "canary"
              weight { value: 10 }
            }
          }
          retry_policy {
            retry_on: "connect-failure,reset,refused-stream"
            num_retries { value: 4 }
          }
          hash_policy { header { header_name: "x-user" } }
        }
        request_headers_to_add {
          header { key: "x-env" value: "prod" }
          append_action: OVERWRITE_IF_EXISTS_OR_ADD
        }
        request_headers_to_add {
          header { key: "x-tag" value: "a" }
          append_action: APPEND_IF_EXISTS_OR_ADD
        }
        request_headers_to_remove: "x-secret"
      }
    }
  )pb");
}

TEST(BuildIngressRoutesTest, PrecedenceExactThenLongestPrefixThenMethodThenHeadersThenPriority) {
  lb::v1::RouteTable table = ParseTable(R"pb(
    routes { name: "any" cluster: "c" }
    routes { name: "prefix-a" cluster: "c" path_prefix: "/a" }
    routes {
      name: "prefix-a-two-headers"
      cluster: "c"
      path_prefix: "/a"
      headers { name: "x" present: true }
      headers { name: "y" present: true }
    }
    routes {
      name: "prefix-a-one-header"
      cluster: "c"
      path_prefix: "/a"
      headers { name: "x" exact: "1" }
    }
    routes { name: "prefix-a-get" cluster: "c" path_prefix: "/a" method: "GET" }
    routes {
      name: "prefix-a-get-header"
      cluster: "c"
      path_prefix: "/a"
      method: "GET"
      headers { name: "x" present: true }
    }
    routes { name: "prefix-abc" cluster: "c" path_prefix: "/abc" }
    routes { name: "exact-a" cluster: "c" path_exact: "/a" }
    routes {
      name: "prefix-a-priority-0"
      cluster: "c"
      path_prefix: "/a"
      headers { name: "z" present: true }
      priority: 5
    }
    routes {
      name: "prefix-a-priority-1"
      cluster: "c"
      path_prefix: "/a"
      headers { name: "w" present: true }
      priority: 1
    }
  )pb");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  std::vector<std::string> order;
  for (const auto& r : rc.virtual_hosts(0).routes()) order.push_back(r.name());
  EXPECT_THAT(order, ElementsAre("exact-a", "prefix-abc", "prefix-a-get-header", "prefix-a-get",
                                 "prefix-a-two-headers", "prefix-a-one-header",
                                 "prefix-a-priority-1", "prefix-a-priority-0", "prefix-a", "any"));
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).match().path(), "/a");
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).match().path_specifier_case(),
            route_v3::RouteMatch::kPath);
}

TEST(BuildIngressRoutesTest, HttpsRedirectKeepsTheRoutesMatch) {
  lb::v1::RouteTable table = ParseTable(R"pb(
    routes { name: "r" cluster: "c" path_exact: "/x" method: "GET" https_redirect: 308 }
  )pb");
  route_v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
  ASSERT_EQ(rc.virtual_hosts(0).routes_size(), 2);
  ExpectProto(rc.virtual_hosts(0).routes(0).match(), R"pb(
    path: "/x"
    headers { name: ":method" exact_match: "GET" }
    headers { name: ":scheme" exact_match: "http" }
  )pb");
  ExpectProto(rc.virtual_hosts(0).routes(1).match(), R"pb(
    path: "/x"
    headers { name: ":method" exact_match: "GET" }
  )pb");
}

TEST(BuildClusterTest, SlowStartWindowForProxiesOnly) {
  for (lb::v1::LbPolicy policy : {lb::v1::RANDOM, lb::v1::ROUND_ROBIN, lb::v1::LEAST_REQUEST}) {
    lb::v1::Cluster c = ModelCluster("web", policy);
    c.mutable_slow_start_window()->set_seconds(30);
    cluster_v3::Cluster envoy = BuildCluster(c, ClientFlavor::kEnvoy);
    if (policy == lb::v1::LEAST_REQUEST) {
      ExpectProto(envoy.least_request_lb_config(), R"pb(
        choice_count { value: 2 }
        slow_start_config { slow_start_window { seconds: 30 } }
      )pb");
    } else {
      ExpectProto(envoy.round_robin_lb_config(), R"pb(
        slow_start_config { slow_start_window { seconds: 30 } }
      )pb");
    }
    cluster_v3::Cluster grpc = BuildCluster(c, ClientFlavor::kGrpc);
    EXPECT_FALSE(grpc.has_round_robin_lb_config());
    EXPECT_FALSE(grpc.has_least_request_lb_config());
  }
  lb::v1::Cluster off = ModelCluster("web", lb::v1::ROUND_ROBIN);
  off.mutable_slow_start_window()->set_seconds(0);
  EXPECT_FALSE(BuildCluster(off, ClientFlavor::kEnvoy).has_round_robin_lb_config());
}

}  // namespace
}  // namespace lb::xds
