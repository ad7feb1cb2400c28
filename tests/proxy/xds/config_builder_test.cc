// ConfigBuilder: validation (exact error text), mapping to ProxyConfig, warming, removal, and
// keeping the last good version of a rejected resource.
#include "proxy/xds/config_builder.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/xds/type_urls.h"
#include "gtest/gtest.h"
#include "tests/test_common/text_proto.h"

namespace lb::proxy::xds {
namespace {

using ::lb::testing::ParseTextProto;

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kRouteType;

namespace cluster_v3 = envoy::config::cluster::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;
namespace discovery_v3 = envoy::service::discovery::v3;

// A valid EDS cluster; `extra` is appended text format.
cluster_v3::Cluster MakeCluster(const std::string& name, const std::string& extra = "") {
  return ParseTextProto<cluster_v3::Cluster>(
      "name: '" + name + "' type: EDS eds_cluster_config { eds_config { ads {} } } " + extra);
}

endpoint_v3::ClusterLoadAssignment MakeAssignment(const std::string& name,
                                                  const std::vector<int>& ports) {
  endpoint_v3::ClusterLoadAssignment a;
  a.set_cluster_name(name);
  auto* locality = a.add_endpoints();
  locality->mutable_locality()->set_zone("z1");
  for (int port : ports) {
    auto* socket = locality->add_lb_endpoints()
                       ->mutable_endpoint()
                       ->mutable_address()
                       ->mutable_socket_address();
    socket->set_address("10.0.0.1");
    socket->set_port_value(port);
  }
  return a;
}

route_v3::RouteConfiguration MakeRoutes(const std::string& cluster) {
  return ParseTextProto<route_v3::RouteConfiguration>(
      "name: 'default' virtual_hosts { name: 'any' domains: '*' routes { name: 'r' "
      "match { prefix: '/' } route { cluster: '" +
      cluster + "' } } }");
}

std::string ErrorOf(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

// --- Clusters -------------------------------------------------------------------------------

TEST(ConfigBuilderTest, BriefExampleClusterError) {
  ConfigBuilder b;
  auto c = MakeCluster("web", "lb_policy: CLUSTER_PROVIDED connect_timeout { seconds: -1 }");
  EXPECT_EQ(ErrorOf(b.ApplyClusters({c}, "1")),
            "Cluster \"web\": lb_policy: unsupported value 6; connect_timeout: must be positive");
}

TEST(ConfigBuilderTest, EveryClusterProblemIsReportedWithItsPath) {
  ConfigBuilder b;
  auto c = ParseTextProto<cluster_v3::Cluster>(R"pb(
    name: "web"
    type: STRICT_DNS
    eds_cluster_config { service_name: "other" }
    lb_policy: LOAD_BALANCING_POLICY_CONFIG
    connect_timeout { seconds: 1 nanos: -5 }
    health_checks {
      timeout { seconds: 10 }
      interval { seconds: 5 }
      healthy_threshold { value: 0 }
      unhealthy_threshold { value: 0 }
      http_health_check { path: "healthz" }
    }
    health_checks { tcp_health_check {} }
    outlier_detection {
      enforcing_consecutive_5xx { value: 50 }
      interval { seconds: 0 }
      base_ejection_time { nanos: -1 }
      max_ejection_percent { value: 101 }
    }
    common_lb_config { healthy_panic_threshold { value: 150 } }
  )pb");
  EXPECT_EQ(ErrorOf(b.ApplyClusters({c}, "1")),
            "Cluster \"web\": "
            "type: unsupported value 1 (only EDS is supported); "
            "eds_cluster_config.eds_config: must be ads; "
            "eds_cluster_config.service_name: must be empty or equal the cluster name; "
            "lb_policy: unsupported value 7; "
            "connect_timeout: is not a valid duration; "
            "health_checks: at most one is supported; "
            "health_checks[0].http_health_check.path: must start with \"/\"; "
            "health_checks[0].timeout: must not exceed interval (5s); "
            "health_checks[0].healthy_threshold: must be at least 1; "
            "health_checks[0].unhealthy_threshold: must be at least 1; "
            "outlier_detection.enforcing_consecutive_5xx: must be 0 or 100 (probabilistic "
            "enforcement is not supported), got 50; "
            "outlier_detection.interval: must be positive; "
            "outlier_detection.base_ejection_time: must be positive; "
            "outlier_detection.max_ejection_percent: must be from 0 to 100, got 101; "
            "common_lb_config.healthy_panic_threshold.value: must be from 0 to 100, got 150");
  EXPECT_TRUE(b.ClusterNames().empty());
}

TEST(ConfigBuilderTest, ClusterWithoutTypeOrHealthCheckKindOrName) {
  ConfigBuilder b;
  auto no_type =
      ParseTextProto<cluster_v3::Cluster>("name: 'a' eds_cluster_config { eds_config { ads {} } }");
  auto tcp_check = MakeCluster("b", "health_checks { tcp_health_check {} }");
  auto no_name = MakeCluster("");
  EXPECT_EQ(ErrorOf(b.ApplyClusters({no_type, tcp_check, no_name}, "1")),
            "Cluster \"a\": type: unsupported value 0 (only EDS is supported); "
            "Cluster \"b\": health_checks[0]: only http_health_check and grpc_health_check are "
            "supported; "
            "Cluster at resources[2]: name: must not be empty");
}

// typed_extension_protocol_options with one HttpProtocolOptions whose body is `options`.
std::string ProtocolOptions(const std::string& options,
                            const std::string& key = lb::xds::kHttpProtocolOptionsName,
                            const std::string& type = lb::xds::kHttpProtocolOptionsName) {
  return "typed_extension_protocol_options { key: '" + key + "' value { [type.googleapis.com/" +
         type + "] { " + options + " } } }";
}

TEST(ConfigBuilderTest, UpstreamProtocolMapsFromHttpProtocolOptions) {
  ConfigBuilder b;
  ASSERT_TRUE(
      b.ApplyClusters(
           {MakeCluster("h2",
                        ProtocolOptions("explicit_http_config { http2_protocol_options {} }")),
            MakeCluster("h2cap", ProtocolOptions("explicit_http_config { http2_protocol_options { "
                                                 "max_concurrent_streams { value: 7 } } }")),
            MakeCluster("h1", ProtocolOptions("explicit_http_config { http_protocol_options {} }")),
            MakeCluster("empty", ProtocolOptions("explicit_http_config {}")), MakeCluster("plain")},
           "1")
          .ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("h2", {80}), MakeAssignment("h2cap", {80}),
                                      MakeAssignment("h1", {80}), MakeAssignment("empty", {80}),
                                      MakeAssignment("plain", {80})},
                                     "1")
                  .ok());
  auto config = b.Build();
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->clusters.at("h2").protocol, UpstreamProtocol::kHttp2);
  EXPECT_EQ(config->clusters.at("h2").http2_max_concurrent_streams, 0u);
  EXPECT_EQ(config->clusters.at("h2cap").http2_max_concurrent_streams, 7u);
  EXPECT_EQ(config->clusters.at("h1").protocol, UpstreamProtocol::kHttp1);
  EXPECT_EQ(config->clusters.at("empty").protocol, UpstreamProtocol::kHttp1);  // Envoy's rule.
  EXPECT_EQ(config->clusters.at("plain").protocol, UpstreamProtocol::kHttp1);
}

TEST(ConfigBuilderTest, UnsupportedProtocolOptionsAreNackedWithTheirPath) {
  ConfigBuilder b;
  const std::string prefix = "typed_extension_protocol_options[\"";
  EXPECT_EQ(ErrorOf(b.ApplyClusters(
                {MakeCluster("key", ProtocolOptions("explicit_http_config {}", "other.ext")),
                 MakeCluster("auto", ProtocolOptions("auto_config {}")),
                 MakeCluster("h3", ProtocolOptions("explicit_http_config { "
                                                   "http3_protocol_options {} }")),
                 MakeCluster("none", ProtocolOptions("")),
                 MakeCluster("zero", ProtocolOptions("explicit_http_config { "
                                                     "http2_protocol_options { "
                                                     "max_concurrent_streams {} } }"))},
                "1")),
            "Cluster \"key\": " + prefix +
                "other.ext\"]: unsupported extension (only "
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions is); "
                "Cluster \"auto\": " +
                prefix + lb::xds::kHttpProtocolOptionsName +
                "\"].auto_config: unsupported (only explicit_http_config is); "
                "Cluster \"h3\": " +
                prefix + lb::xds::kHttpProtocolOptionsName +
                "\"].explicit_http_config.http3_protocol_options: unsupported (HTTP/3 upstream "
                "is not implemented); "
                "Cluster \"none\": " +
                prefix + lb::xds::kHttpProtocolOptionsName +
                "\"].upstream_protocol_options: must be explicit_http_config; "
                "Cluster \"zero\": " +
                prefix + lb::xds::kHttpProtocolOptionsName +
                "\"].explicit_http_config.http2_protocol_options.max_concurrent_streams: must "
                "be from 1 to 2147483647, got 0");
  // A wrong type under the right key.
  EXPECT_EQ(ErrorOf(b.ApplyClusters(
                {MakeCluster("type", ProtocolOptions("", lb::xds::kHttpProtocolOptionsName,
                                                     "envoy.config.core.v3.HttpProtocolOptions"))},
                "1")),
            "Cluster \"type\": " + prefix + lb::xds::kHttpProtocolOptionsName +
                "\"].type_url: must be " + lb::xds::kHttpProtocolOptionsType +
                ", got \"type.googleapis.com/envoy.config.core.v3.HttpProtocolOptions\"");
}

TEST(ConfigBuilderTest, GrpcHealthCheckNeedsHttp2AndMaps) {
  ConfigBuilder b;
  const std::string h2 = ProtocolOptions("explicit_http_config { http2_protocol_options {} }");
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("g", h2 + " health_checks { grpc_health_check { "
                                                     "service_name: 'echo.v1.Echo' authority: "
                                                     "'svc' } }")},
                              "1")
                  .ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("g", {80})}, "1").ok());
  auto config = b.Build();
  ASSERT_NE(config, nullptr);
  const HealthCheckConfig& hc = config->clusters.at("g").health_check;
  EXPECT_TRUE(hc.grpc);
  EXPECT_TRUE(hc.enabled());
  EXPECT_EQ(hc.grpc_service_name, "echo.v1.Echo");
  EXPECT_EQ(hc.grpc_authority, "svc");
  EXPECT_EQ(hc.path, "");
  EXPECT_EQ(
      ErrorOf(b.ApplyClusters({MakeCluster("h1", "health_checks { grpc_health_check {} }")}, "2")),
      "Cluster \"h1\": health_checks[0].grpc_health_check: needs an HTTP/2 cluster "
      "(typed_extension_protocol_options)");
}

TEST(ConfigBuilderTest, ClusterMapping) {
  ConfigBuilder b;
  auto c = MakeCluster("web", R"pb(
    lb_policy: MAGLEV
    connect_timeout { nanos: 250000000 }
    health_checks {
      timeout { seconds: 2 }
      interval { seconds: 3 }
      healthy_threshold { value: 4 }
      unhealthy_threshold { value: 6 }
      http_health_check { path: "/healthz" }
    }
    outlier_detection {
      consecutive_5xx { value: 7 }
      enforcing_consecutive_5xx { value: 100 }
      consecutive_gateway_failure { value: 3 }
      enforcing_consecutive_gateway_failure { value: 100 }
      interval { seconds: 20 }
      base_ejection_time { seconds: 60 }
      max_ejection_percent { value: 30 }
    }
    common_lb_config { healthy_panic_threshold { value: 25 } }
  )pb");
  ASSERT_TRUE(b.ApplyClusters({c}, "v1").ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("web", {80})}, "e1").ok());
  auto config = b.Build();
  ASSERT_EQ(config->clusters.count("web"), 1u);
  const ClusterConfig& w = config->clusters.at("web");
  EXPECT_EQ(w.name, "web");
  EXPECT_EQ(w.version, "v1");
  EXPECT_EQ(w.endpoints_version, "e1");
  EXPECT_EQ(w.policy, LbPolicy::kMaglev);
  EXPECT_EQ(w.connect_timeout, absl::Milliseconds(250));
  EXPECT_EQ(w.health_check.path, "/healthz");
  EXPECT_EQ(w.health_check.timeout, absl::Seconds(2));
  EXPECT_EQ(w.health_check.interval, absl::Seconds(3));
  EXPECT_EQ(w.health_check.healthy_threshold, 4u);
  EXPECT_EQ(w.health_check.unhealthy_threshold, 6u);
  EXPECT_EQ(w.outlier.consecutive_5xx, 7u);
  EXPECT_EQ(w.outlier.consecutive_gateway_failure, 3u);
  EXPECT_EQ(w.outlier.interval, absl::Seconds(20));
  EXPECT_EQ(w.outlier.base_ejection_time, absl::Seconds(60));
  EXPECT_EQ(w.outlier.max_ejection_percent, 30u);
  EXPECT_EQ(w.healthy_panic_threshold, 25u);
}

TEST(ConfigBuilderTest, ClusterDefaultsAreEnvoys) {
  ConfigBuilder b;
  ASSERT_TRUE(
      b.ApplyClusters({MakeCluster("plain"), MakeCluster("od", "outlier_detection {}")}, "1").ok());
  ASSERT_TRUE(
      b.ApplyLoadAssignments({MakeAssignment("plain", {80}), MakeAssignment("od", {80})}, "1")
          .ok());
  auto config = b.Build();
  const ClusterConfig& plain = config->clusters.at("plain");
  EXPECT_EQ(plain.policy, LbPolicy::kRoundRobin);  // Envoy's default enum value.
  EXPECT_EQ(plain.connect_timeout, absl::Seconds(5));
  EXPECT_EQ(plain.health_check.path, "");        // No active health checking.
  EXPECT_EQ(plain.outlier.consecutive_5xx, 0u);  // No outlier_detection: no ejection.
  EXPECT_EQ(plain.outlier.consecutive_gateway_failure, 0u);
  EXPECT_EQ(plain.healthy_panic_threshold, 50u);
  const ClusterConfig& od = config->clusters.at("od");
  EXPECT_EQ(od.outlier.consecutive_5xx, 5u);
  EXPECT_EQ(od.outlier.consecutive_gateway_failure, 0u);  // Not enforced by default.
  EXPECT_EQ(od.outlier.interval, absl::Seconds(10));
  EXPECT_EQ(od.outlier.base_ejection_time, absl::Seconds(30));
  EXPECT_EQ(od.outlier.max_ejection_percent, 10u);
}

TEST(ConfigBuilderTest, EveryLbPolicyMaps) {
  const std::vector<std::pair<std::string, LbPolicy>> cases = {
      {"RANDOM", LbPolicy::kRandom},
      {"ROUND_ROBIN", LbPolicy::kRoundRobin},
      {"LEAST_REQUEST", LbPolicy::kLeastRequest},
      {"RING_HASH", LbPolicy::kRingHash},
      {"MAGLEV", LbPolicy::kMaglev}};
  for (const auto& [name, policy] : cases) {
    ConfigBuilder b;
    ASSERT_TRUE(b.ApplyClusters({MakeCluster("c", "lb_policy: " + name)}, "1").ok()) << name;
    ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("c", {80})}, "1").ok());
    EXPECT_EQ(b.Build()->clusters.at("c").policy, policy) << name;
  }
}

TEST(ConfigBuilderTest, HashTableSizesMap) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters(
                   {MakeCluster("ring",
                                "lb_policy: RING_HASH ring_hash_lb_config { minimum_ring_size "
                                "{ value: 4096 } maximum_ring_size { value: 8388608 } }"),
                    MakeCluster("maglev",
                                "lb_policy: MAGLEV maglev_lb_config { table_size "
                                "{ value: 5000011 } }"),
                    MakeCluster("lr",
                                "lb_policy: LEAST_REQUEST least_request_lb_config { choice_count "
                                "{ value: 2 } }"),
                    MakeCluster("plain")},
                   "1")
                  .ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("ring", {80}), MakeAssignment("maglev", {80}),
                                      MakeAssignment("lr", {80}), MakeAssignment("plain", {80})},
                                     "1")
                  .ok());
  auto config = b.Build();
  EXPECT_EQ(config->clusters.at("ring").min_ring_size, 4096u);
  EXPECT_EQ(config->clusters.at("ring").max_ring_size, 8388608u);
  EXPECT_EQ(config->clusters.at("maglev").maglev_table_size, 5000011u);
  // Defaults: Envoy's, but the ring is capped at 2^20 points.
  EXPECT_EQ(config->clusters.at("plain").min_ring_size, 1024u);
  EXPECT_EQ(config->clusters.at("plain").max_ring_size, 1u << 20);
  EXPECT_EQ(config->clusters.at("plain").maglev_table_size, 65537u);
  // A changed size is a changed cluster.
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("ring",
                                           "lb_policy: RING_HASH ring_hash_lb_config { "
                                           "minimum_ring_size { value: 2048 } }"),
                               MakeCluster("maglev"), MakeCluster("lr"), MakeCluster("plain")},
                              "2")
                  .ok());
  EXPECT_NE(b.Build(), config);
  EXPECT_EQ(b.Build()->clusters.at("ring").min_ring_size, 2048u);
}

TEST(ConfigBuilderTest, BadHashTableSizesAreRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ring_hash_lb_config { minimum_ring_size { value: 0 } }",
       "ring_hash_lb_config.minimum_ring_size: must be from 1 to 8388608, got 0"},
      {"ring_hash_lb_config { maximum_ring_size { value: 8388609 } }",
       "ring_hash_lb_config.maximum_ring_size: must be from 1 to 8388608, got 8388609"},
      {"ring_hash_lb_config { minimum_ring_size { value: 4096 } maximum_ring_size "
       "{ value: 2048 } }",
       "ring_hash_lb_config.minimum_ring_size: must not exceed maximum_ring_size (2048), got "
       "4096"},
      {"ring_hash_lb_config { hash_function: MURMUR_HASH_2 }",
       "ring_hash_lb_config.hash_function: only XX_HASH is supported"},
      {"maglev_lb_config { table_size { value: 65536 } }",
       "maglev_lb_config.table_size: must be a prime up to 5000011, got 65536"},
      {"maglev_lb_config { table_size { value: 5000101 } }",
       "maglev_lb_config.table_size: must be a prime up to 5000011, got 5000101"},
      {"least_request_lb_config { choice_count { value: 3 } }",
       "least_request_lb_config.choice_count: only 2 (power of two choices) is supported, got 3"},
  };
  for (const auto& [extra, error] : cases) {
    ConfigBuilder b;
    EXPECT_EQ(ErrorOf(b.ApplyClusters({MakeCluster("c", extra)}, "1")), "Cluster \"c\": " + error)
        << extra;
    EXPECT_TRUE(b.ClusterNames().empty()) << extra;
  }
}

TEST(ConfigBuilderTest, PanicThresholdZeroDisablesAndFractionsRound) {
  ConfigBuilder b;
  ASSERT_TRUE(
      b.ApplyClusters({MakeCluster("zero", "common_lb_config { healthy_panic_threshold {} }"),
                       MakeCluster("frac",
                                   "common_lb_config { healthy_panic_threshold "
                                   "{ value: 33.6 } }")},
                      "1")
          .ok());
  ASSERT_TRUE(
      b.ApplyLoadAssignments({MakeAssignment("zero", {80}), MakeAssignment("frac", {80})}, "1")
          .ok());
  auto config = b.Build();
  EXPECT_EQ(config->clusters.at("zero").healthy_panic_threshold, 0u);
  EXPECT_EQ(config->clusters.at("frac").healthy_panic_threshold, 34u);
}

TEST(ConfigBuilderTest, DuplicateClusterInResponse) {
  ConfigBuilder b;
  EXPECT_EQ(
      ErrorOf(b.ApplyClusters({MakeCluster("a"), MakeCluster("a", "lb_policy: RANDOM")}, "1")),
      "Cluster \"a\": duplicate in the response");
  // The first one was accepted.
  EXPECT_EQ(b.ClusterNames(), std::vector<std::string>{"a"});
}

// --- Load assignments -----------------------------------------------------------------------

TEST(ConfigBuilderTest, BriefExampleEndpointError) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "1").ok());
  auto a = MakeAssignment("web", {80, 81, 82});
  a.mutable_endpoints(0)
      ->mutable_lb_endpoints(2)
      ->mutable_endpoint()
      ->mutable_address()
      ->mutable_socket_address()
      ->set_address("foo");
  EXPECT_EQ(ErrorOf(b.ApplyLoadAssignments({a}, "1")),
            "ClusterLoadAssignment \"web\": endpoints[0].lb_endpoints[2].endpoint.address."
            "socket_address.address: \"foo\" is not an IP address");
}

TEST(ConfigBuilderTest, EveryEndpointProblemIsReportedWithItsPath) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "1").ok());
  auto a = ParseTextProto<endpoint_v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "web"
    endpoints {
      locality { zone: "z1" }
      load_balancing_weight { value: 0 }
      priority: 1
      lb_endpoints { endpoint { address { socket_address { address: "10.0.0.1" port_value: 0 } } } }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.1" port_value: 80 } } }
        load_balancing_weight { value: 0 }
      }
      lb_endpoints { endpoint_name: "named" }
      lb_endpoints { endpoint { hostname: "x" } }
    }
    endpoints {
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.1" port_value: 80 } } }
      }
      lb_endpoints {
        endpoint {
          address { socket_address { protocol: UDP address: "10.0.0.2" named_port: "http" } }
        }
        health_status: 9
      }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.3" port_value: 70000 } } }
      }
    }
  )pb");
  EXPECT_EQ(
      ErrorOf(b.ApplyLoadAssignments({a}, "1")),
      "ClusterLoadAssignment \"web\": "
      "endpoints[0].priority: only priority 0 is supported, got 1; "
      "endpoints[0].load_balancing_weight: must be at least 1; "
      "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: must be from 1 "
      "to 65535, got 0; "
      "endpoints[0].lb_endpoints[1].load_balancing_weight: must be at least 1; "
      "endpoints[0].lb_endpoints[2].endpoint: is required; "
      "endpoints[0].lb_endpoints[3].endpoint.address.socket_address: is required; "
      "endpoints[1].lb_endpoints[0].endpoint.address.socket_address: duplicate address "
      "10.0.0.1:80 (also at endpoints[0].lb_endpoints[1]); "
      "endpoints[1].lb_endpoints[1].endpoint.address.socket_address.protocol: only TCP is "
      "supported; "
      "endpoints[1].lb_endpoints[1].endpoint.address.socket_address.named_port: is not "
      "supported (use port_value); "
      "endpoints[1].lb_endpoints[1].health_status: unsupported value 9; "
      "endpoints[1].lb_endpoints[2].endpoint.address.socket_address.port_value: must be from 1 "
      "to 65535, got 70000");
  EXPECT_EQ(b.WarmingClusters(), std::vector<std::string>{"web"});
  EXPECT_TRUE(b.Build()->clusters.empty());
}

TEST(ConfigBuilderTest, DuplicateDetectionUsesCanonicalAddresses) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("v6")}, "1").ok());
  auto a = ParseTextProto<endpoint_v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "v6"
    endpoints {
      lb_endpoints { endpoint { address { socket_address { address: "::1" port_value: 80 } } } }
      lb_endpoints {
        endpoint { address { socket_address { address: "0:0::0:1" port_value: 80 } } }
      }
    }
  )pb");
  EXPECT_EQ(ErrorOf(b.ApplyLoadAssignments({a}, "1")),
            "ClusterLoadAssignment \"v6\": endpoints[0].lb_endpoints[1].endpoint.address."
            "socket_address: duplicate address [::1]:80 (also at endpoints[0].lb_endpoints[0])");
}

TEST(ConfigBuilderTest, EndpointMappingDrainingHostnameZoneWeight) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "1").ok());
  auto a = ParseTextProto<endpoint_v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "web"
    endpoints {
      locality { zone: "z1" }
      load_balancing_weight { value: 5 }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.1" port_value: 80 } } }
        load_balancing_weight { value: 3 }
      }
      lb_endpoints {
        endpoint {
          address { socket_address { address: "10.0.0.2" port_value: 80 } }
          hostname: "web-2.internal"
        }
        health_status: DRAINING
      }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.3" port_value: 80 } } }
        health_status: UNHEALTHY
      }
    }
    endpoints {
      locality { zone: "z2" }
      lb_endpoints {
        endpoint { address { socket_address { address: "2001:DB8::0001" port_value: 8080 } } }
        health_status: HEALTHY
      }
    }
  )pb");
  ASSERT_TRUE(b.ApplyLoadAssignments({a}, "e7").ok());
  auto config = b.Build();
  const auto& eps = config->clusters.at("web").endpoints;
  ASSERT_EQ(eps.size(), 3u);  // The UNHEALTHY one is left out.
  EXPECT_EQ(eps[0].Key(), "10.0.0.1:80");
  EXPECT_EQ(eps[0].weight, 3u);
  EXPECT_EQ(eps[0].zone, "z1");
  EXPECT_FALSE(eps[0].draining);
  EXPECT_EQ(eps[1].Key(), "10.0.0.2:80");
  EXPECT_EQ(eps[1].weight, 1u);
  EXPECT_EQ(eps[1].hostname, "web-2.internal");
  EXPECT_TRUE(eps[1].draining);
  EXPECT_EQ(eps[2].Key(), "[2001:db8::1]:8080");  // Canonical form.
  EXPECT_EQ(eps[2].zone, "z2");
  EXPECT_EQ(config->clusters.at("web").endpoints_version, "e7");
}

TEST(ConfigBuilderTest, AssignmentWithoutNameAndDuplicateAssignment) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "1").ok());
  EXPECT_EQ(ErrorOf(b.ApplyLoadAssignments({MakeAssignment("", {80}), MakeAssignment("web", {80}),
                                            MakeAssignment("web", {81})},
                                           "1")),
            "ClusterLoadAssignment at resources[0]: cluster_name: must not be empty; "
            "ClusterLoadAssignment \"web\": duplicate in the response");
  EXPECT_EQ(b.Build()->clusters.at("web").endpoints[0].port, 80);
}

// --- Routes ---------------------------------------------------------------------------------

TEST(ConfigBuilderTest, RouteMappingHashRetryDomains) {
  ConfigBuilder b;
  auto rc = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts {
      name: "shop"
      domains: "Shop.Example.com"
      domains: "*.shop.example.com:8080"
      retry_policy { num_retries { value: 4 } }
      routes {
        name: "by-header"
        match { prefix: "/api" }
        route {
          cluster: "api"
          retry_policy { num_retries { value: 3 } }
          hash_policy { header { header_name: "X-User" } }
        }
      }
      routes {
        name: "by-cookie"
        match { prefix: "/cart" }
        route {
          cluster: "cart"
          hash_policy { cookie { name: "Session" } }
        }
      }
      routes {
        name: "by-ip"
        match { prefix: "" }
        route {
          cluster: "web"
          retry_policy {}
          hash_policy { connection_properties { source_ip: true } }
        }
      }
    }
    virtual_hosts {
      name: "any"
      domains: "*"
      routes {
        name: "plain"
        match { prefix: "/" }
        route { cluster: "web" }
      }
    }
    virtual_hosts {
      name: "ip"
      domains: "[::1]:80"
      domains: "10.0.0.1"
      routes {
        name: "v"
        match { prefix: "/" }
        route { cluster: "web" }
      }
    }
  )pb");
  ASSERT_TRUE(b.ApplyRouteConfigurations({rc}, "r1").ok());
  auto config = b.Build();
  EXPECT_EQ(config->routes_version, "r1");
  ASSERT_EQ(config->virtual_hosts.size(), 5u);
  EXPECT_EQ(config->virtual_hosts[0].domain, "shop.example.com");
  EXPECT_EQ(config->virtual_hosts[1].domain, "*.shop.example.com:8080");
  EXPECT_EQ(config->virtual_hosts[2].domain, "*");
  EXPECT_EQ(config->virtual_hosts[3].domain, "[::1]:80");
  EXPECT_EQ(config->virtual_hosts[4].domain, "10.0.0.1");
  const auto& routes = config->virtual_hosts[1].routes;  // Same routes as [0].
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].name, "by-header");
  EXPECT_EQ(routes[0].prefix, "/api");
  EXPECT_EQ(routes[0].cluster, "api");
  EXPECT_EQ(routes[0].retries, 3u);  // The route's own policy.
  ASSERT_TRUE(routes[0].has_hash_policy);
  EXPECT_EQ(routes[0].hash_policy.kind, HashPolicy::Kind::kHeader);
  EXPECT_EQ(routes[0].hash_policy.name, "x-user");
  EXPECT_EQ(routes[1].retries, 4u);  // The virtual host's policy.
  EXPECT_EQ(routes[1].hash_policy.kind, HashPolicy::Kind::kCookie);
  EXPECT_EQ(routes[1].hash_policy.name, "Session");
  EXPECT_EQ(routes[2].prefix, "");
  EXPECT_EQ(routes[2].retries, 1u);  // A policy without num_retries: Envoy's 1.
  EXPECT_EQ(routes[2].hash_policy.kind, HashPolicy::Kind::kSourceIp);
  const RouteConfig& plain = config->virtual_hosts[2].routes[0];
  EXPECT_EQ(plain.retries, 0u);  // No retry policy at all.
  EXPECT_FALSE(plain.has_hash_policy);
}

// The controller's affinity-cookie contract (controller/xds/resources.cc): ttl present means the
// proxy sets the cookie; path and attributes are used as given.
route_v3::RouteConfiguration CookieRoutes(const std::string& cookie) {
  return ParseTextProto<route_v3::RouteConfiguration>(
      absl::StrCat(R"pb(
                     name: "default"
                     virtual_hosts { name: "any" domains: "*"
                                     routes { name: "sticky"
                                              match { prefix: "/" }
                                              route { cluster: "web"
                                                      hash_policy { cookie {)pb",
                   cookie, R"pb(}
                                }
        }
      }
    })pb"));
}

TEST(ConfigBuilderTest, CookieGenerationOptionsMap) {
  ConfigBuilder b;
  ASSERT_TRUE(
      b.ApplyRouteConfigurations({CookieRoutes(R"pb(name: "lb"
                                                    ttl { seconds: 3600 nanos: 500000000 }
                                                    path: "/app"
                                                    attributes { name: "HttpOnly" }
                                                    attributes { name: "SameSite" value: "Lax" }
                                                    attributes { name: "Secure" })pb")},
                                 "1")
          .ok());
  auto config = b.Build();
  const HashPolicy& h = config->virtual_hosts[0].routes[0].hash_policy;
  EXPECT_EQ(h.kind, HashPolicy::Kind::kCookie);
  EXPECT_EQ(h.name, "lb");
  EXPECT_TRUE(h.generate_cookie);
  EXPECT_EQ(h.cookie_ttl, absl::Milliseconds(3600500));
  EXPECT_EQ(h.cookie_path, "/app");
  EXPECT_EQ(h.cookie_attributes, (std::vector<std::pair<std::string, std::string>>{
                                     {"HttpOnly", ""}, {"SameSite", "Lax"}, {"Secure", ""}}));
  // ttl 0: a session cookie, still generated.
  ASSERT_TRUE(b.ApplyRouteConfigurations({CookieRoutes(R"pb(name: "lb"
                                                            ttl {})pb")},
                                         "2")
                  .ok());
  config = b.Build();
  const HashPolicy& session = config->virtual_hosts[0].routes[0].hash_policy;
  EXPECT_TRUE(session.generate_cookie);
  EXPECT_EQ(session.cookie_ttl, absl::ZeroDuration());
  EXPECT_EQ(session.cookie_path, "");
  EXPECT_TRUE(session.cookie_attributes.empty());
  EXPECT_EQ(config->routes_version, "2");  // A changed option is a new configuration.
  // No ttl: only read, never set.
  ASSERT_TRUE(b.ApplyRouteConfigurations({CookieRoutes(R"pb(name: "lb")pb")}, "3").ok());
  EXPECT_FALSE(b.Build()->virtual_hosts[0].routes[0].hash_policy.generate_cookie);
  // One attribute value alone is a change too.
  ASSERT_TRUE(b.ApplyRouteConfigurations(
                   {CookieRoutes(R"pb(name: "lb"
                                      ttl {}
                                      attributes { name: "SameSite" value: "Lax" })pb")},
                   "4")
                  .ok());
  ASSERT_TRUE(b.ApplyRouteConfigurations(
                   {CookieRoutes(R"pb(name: "lb"
                                      ttl {}
                                      attributes { name: "SameSite" value: "Strict" })pb")},
                   "5")
                  .ok());
  config = b.Build();
  EXPECT_EQ(config->routes_version, "5");
  EXPECT_EQ(config->virtual_hosts[0].routes[0].hash_policy.cookie_attributes[0].second, "Strict");
}

TEST(ConfigBuilderTest, BadCookieOptionsAreRejectedWithTheirPath) {
  ConfigBuilder b;
  EXPECT_EQ(ErrorOf(b.ApplyRouteConfigurations(
                {CookieRoutes(R"pb(name: "lb"
                                   ttl { seconds: -1 }
                                   path: "/a;b"
                                   attributes { name: "" }
                                   attributes { name: "Same Site" value: "a;b" }
                                   attributes { name: "Max-Age" value: "\x01" })pb")},
                "1")),
            "RouteConfiguration \"default\": "
            "virtual_hosts[0].routes[0].route.hash_policy[0].cookie.ttl: must be a valid "
            "duration of 0s or more; "
            "virtual_hosts[0].routes[0].route.hash_policy[0].cookie.path: must not contain "
            "spaces, control characters or \";\"; "
            "virtual_hosts[0].routes[0].route.hash_policy[0].cookie.attributes[0].name: must be a "
            "token; "
            "virtual_hosts[0].routes[0].route.hash_policy[0].cookie.attributes[1].name: must be a "
            "token; "
            "virtual_hosts[0].routes[0].route.hash_policy[0].cookie.attributes[1].value: must be "
            "printable ASCII without \";\"; "
            "virtual_hosts[0].routes[0].route.hash_policy[0].cookie.attributes[2].value: must be "
            "printable ASCII without \";\"");
}

TEST(ConfigBuilderTest, EveryRouteProblemIsReportedWithItsPath) {
  ConfigBuilder b;
  auto rc = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts { name: "empty" }
    virtual_hosts {
      name: "a"
      domains: "a.example.com"
      domains: "foo*"
      domains: "A.example.com"
      retry_policy { num_retries { value: 12 } }
      routes {
        match { prefix: "api" }
        route { cluster: "x" }
      }
      routes {
        match {}
        route { cluster: "x" }
      }
      routes {
        match {
          prefix: "/h"
          case_sensitive { value: false }
          headers { name: "x" }
        }
        route { cluster: "x" }
      }
      routes {
        match { prefix: "/r" }
        redirect { host_redirect: "b" }
      }
      routes { match { prefix: "/n" } }
      routes {
        match { prefix: "/w" }
        route {
          weighted_clusters { clusters { name: "x" } }
          prefix_rewrite: "/"
        }
      }
      routes {
        match { prefix: "/e" }
        route { cluster: "" host_rewrite_literal: "h" }
      }
      routes {
        match { prefix: "/q" }
        route {
          cluster: "x"
          retry_policy { num_retries { value: 11 } }
          hash_policy { query_parameter { name: "u" } }
          hash_policy { header { header_name: "x" } }
        }
      }
      routes {
        match { prefix: "/c" }
        route {
          cluster: "x"
          hash_policy {
            cookie {
              name: ""
              ttl { seconds: 1 }
            }
          }
        }
      }
      routes {
        match { prefix: "/s" }
        route {
          cluster: "x"
          hash_policy { connection_properties {} }
        }
      }
      routes {
        match { prefix: "/hh" }
        route {
          cluster: "x"
          hash_policy { header {} }
        }
      }
    }
  )pb");
  EXPECT_EQ(
      ErrorOf(b.ApplyRouteConfigurations({rc}, "1")),
      "RouteConfiguration \"default\": "
      "virtual_hosts[0].domains: must not be empty; "
      "virtual_hosts[1].domains[1]: \"foo*\" is not \"*\", a host name, \"*.\" + a domain or an "
      "IP address (optionally with \":port\"); "
      "virtual_hosts[1].domains[2]: duplicate domain \"a.example.com\" (also at "
      "virtual_hosts[1].domains[0]); "
      "virtual_hosts[1].retry_policy.num_retries: must be from 0 to 10, got 12; "
      "virtual_hosts[1].routes[0].match.prefix: must start with \"/\" (or be empty); "
      "virtual_hosts[1].routes[1].match: only prefix and path matching are supported; "
      "virtual_hosts[1].routes[2].match.case_sensitive: only case-sensitive matching is "
      "supported; "
      "virtual_hosts[1].routes[2].match.headers[0]: only exact_match, prefix_match, "
      "suffix_match, contains_match and present_match are supported; "
      "virtual_hosts[1].routes[3].redirect: only https_redirect is supported; "
      "virtual_hosts[1].routes[4].route: is required; "
      "virtual_hosts[1].routes[5].route.weighted_clusters.clusters: the weights must sum to at "
      "least 1; "
      "virtual_hosts[1].routes[5].route.prefix_rewrite: is not supported; "
      "virtual_hosts[1].routes[6].route.cluster: must not be empty; "
      "virtual_hosts[1].routes[6].route.host_rewrite_literal: is not supported; "
      "virtual_hosts[1].routes[7].route.retry_policy.num_retries: must be from 0 to 10, got 11; "
      "virtual_hosts[1].routes[7].route.hash_policy: at most one is supported; "
      "virtual_hosts[1].routes[7].route.hash_policy[0]: only header, cookie and "
      "connection_properties are supported; "
      "virtual_hosts[1].routes[8].route.hash_policy[0].cookie.name: must not be empty; "
      "virtual_hosts[1].routes[9].route.hash_policy[0].connection_properties.source_ip: must be "
      "true; "
      "virtual_hosts[1].routes[10].route.hash_policy[0].header.header_name: must not be empty");
  EXPECT_TRUE(b.routes_received());
  EXPECT_TRUE(b.Build()->virtual_hosts.empty());
}

TEST(ConfigBuilderTest, WeightedClustersPathsHeaderMatchersAndHeaderChanges) {
  ConfigBuilder b;
  auto rc = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts {
      domains: "*"
      routes {
        name: "r"
        match {
          path: "/login"
          headers { name: ":method" exact_match: "POST" }
          headers { name: "X-Canary" prefix_match: "y" invert_match: true }
          headers { name: "ua" suffix_match: "bot" }
          headers { name: "ua2" contains_match: "Mobile" }
          headers { name: "x-debug" present_match: true }
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
            total_weight { value: 100 }
          }
        }
        request_headers_to_add {
          header { key: "X-Env" value: "prod" }
          append_action: OVERWRITE_IF_EXISTS_OR_ADD
        }
        request_headers_to_add { header { key: "x-tag" value: "a" } }
        request_headers_to_remove: "X-Secret"
      }
    }
  )pb");
  ASSERT_TRUE(b.ApplyRouteConfigurations({rc}, "1").ok());
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("stable"), MakeCluster("canary")}, "1").ok());
  ASSERT_TRUE(
      b.ApplyLoadAssignments({MakeAssignment("stable", {80}), MakeAssignment("canary", {81})}, "1")
          .ok());
  std::shared_ptr<const ProxyConfig> config = b.Build();
  ASSERT_EQ(config->virtual_hosts.size(), 1u);
  ASSERT_EQ(config->virtual_hosts[0].routes.size(), 1u);
  const RouteConfig& r = config->virtual_hosts[0].routes[0];
  EXPECT_EQ(r.path, "/login");
  EXPECT_EQ(r.prefix, "");
  ASSERT_EQ(r.headers.size(), 5u);
  EXPECT_EQ(r.headers[0].name, ":method");
  EXPECT_EQ(r.headers[0].kind, HeaderMatcherConfig::Kind::kExact);
  EXPECT_EQ(r.headers[0].value, "POST");
  EXPECT_EQ(r.headers[1].name, "x-canary");  // Lowercased.
  EXPECT_EQ(r.headers[1].kind, HeaderMatcherConfig::Kind::kPrefix);
  EXPECT_TRUE(r.headers[1].invert);
  EXPECT_EQ(r.headers[2].kind, HeaderMatcherConfig::Kind::kSuffix);
  EXPECT_EQ(r.headers[3].kind, HeaderMatcherConfig::Kind::kContains);
  EXPECT_EQ(r.headers[4].kind, HeaderMatcherConfig::Kind::kPresent);
  EXPECT_EQ(r.cluster, "");
  ASSERT_EQ(r.weighted_clusters.size(), 2u);
  EXPECT_EQ(r.weighted_clusters[0].name, "stable");
  EXPECT_EQ(r.weighted_clusters[0].weight, 90u);
  EXPECT_EQ(r.weighted_clusters[1].name, "canary");
  EXPECT_EQ(r.weighted_clusters[1].weight, 10u);
  EXPECT_EQ(r.total_weight, 100u);
  ASSERT_EQ(r.headers_to_add.size(), 2u);
  EXPECT_EQ(r.headers_to_add[0].name, "x-env");
  EXPECT_EQ(r.headers_to_add[0].value, "prod");
  EXPECT_FALSE(r.headers_to_add[0].append);
  EXPECT_TRUE(r.headers_to_add[1].append);  // APPEND_IF_EXISTS_OR_ADD is the default.
  EXPECT_EQ(r.headers_to_remove, std::vector<std::string>{"x-secret"});
  EXPECT_TRUE(b.Warnings().empty());
}

TEST(ConfigBuilderTest, WeightedClusterAndHeaderProblems) {
  ConfigBuilder b;
  auto rc = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts {
      domains: "*"
      routes {
        match {
          path: "/a?b"
          headers { name: ":path" exact_match: "/" }
          headers { name: "x" present_match: false }
          headers { name: "y" exact_match: "a\nb" }
        }
        route {
          weighted_clusters {
            clusters {
              name: ""
              weight { value: 1 }
            }
            total_weight { value: 5 }
          }
        }
        request_headers_to_add {
          header { key: "host" value: "x" }
          append_action: ADD_IF_ABSENT
        }
        request_headers_to_remove: "content-length"
      }
    }
  )pb");
  EXPECT_EQ(ErrorOf(b.ApplyRouteConfigurations({rc}, "1")),
            "RouteConfiguration \"default\": "
            "virtual_hosts[0].routes[0].match.path: must not contain spaces, control characters "
            "or \"?\"; "
            "virtual_hosts[0].routes[0].match.headers[0].name: must be a header name or "
            "\":method\" (or \":scheme\"); "
            "virtual_hosts[0].routes[0].match.headers[1].present_match: must be true (use "
            "invert_match); "
            "virtual_hosts[0].routes[0].match.headers[2]: the value must be printable, at most "
            "4096 bytes; "
            "virtual_hosts[0].routes[0].request_headers_to_add[0].header.key: must be a header "
            "name other than the message framing ones and host; "
            "virtual_hosts[0].routes[0].request_headers_to_add[0].append_action: only "
            "APPEND_IF_EXISTS_OR_ADD and OVERWRITE_IF_EXISTS_OR_ADD are supported; "
            "virtual_hosts[0].routes[0].request_headers_to_remove[0]: must be a header name other "
            "than the message framing ones and host; "
            "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].name: must not be "
            "empty; "
            "virtual_hosts[0].routes[0].route.weighted_clusters.total_weight: must equal the sum "
            "of the weights (1), got 5");
}

TEST(ConfigBuilderTest, SlowStartConfig) {
  ConfigBuilder b;
  auto rr = MakeCluster("rr", R"pb(lb_policy: ROUND_ROBIN
                                   round_robin_lb_config {
                                     slow_start_config {
                                       slow_start_window { seconds: 30 }
                                       aggression { default_value: 2 }
                                       min_weight_percent { value: 5 }
                                     }
                                   })pb");
  auto random = MakeCluster("random", R"pb(lb_policy: RANDOM
                                           round_robin_lb_config {
                                             slow_start_config { slow_start_window { seconds: 10 } }
                                           })pb");
  auto lr = MakeCluster("lr", R"pb(lb_policy: LEAST_REQUEST
                                   least_request_lb_config {
                                     slow_start_config { slow_start_window { seconds: 20 } }
                                   })pb");
  ASSERT_TRUE(b.ApplyClusters({rr, random, lr}, "1").ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("rr", {80}), MakeAssignment("random", {80}),
                                      MakeAssignment("lr", {80})},
                                     "1")
                  .ok());
  std::shared_ptr<const ProxyConfig> config = b.Build();
  const ClusterConfig& c = config->clusters.at("rr");
  EXPECT_EQ(c.slow_start_window, absl::Seconds(30));
  EXPECT_EQ(c.slow_start_aggression, 2.0);
  EXPECT_EQ(c.slow_start_min_weight, 0.05);
  EXPECT_EQ(config->clusters.at("random").slow_start_window, absl::Seconds(10));
  EXPECT_EQ(config->clusters.at("random").slow_start_aggression, 1.0);  // Envoy's defaults.
  EXPECT_EQ(config->clusters.at("random").slow_start_min_weight, 0.1);
  EXPECT_EQ(config->clusters.at("lr").slow_start_window, absl::Seconds(20));

  ConfigBuilder bad;
  auto ring = MakeCluster("ring", R"pb(lb_policy: RING_HASH
                                       round_robin_lb_config {
                                         slow_start_config { slow_start_window { seconds: 1 } }
                                       })pb");
  auto wrong = MakeCluster("wrong", R"pb(lb_policy: ROUND_ROBIN
                                         round_robin_lb_config {
                                           slow_start_config {
                                             slow_start_window { seconds: 7200 }
                                             aggression { default_value: 0 }
                                             min_weight_percent { value: 101 }
                                           }
                                         })pb");
  EXPECT_EQ(ErrorOf(bad.ApplyClusters({ring, wrong}, "1")),
            "Cluster \"ring\": round_robin_lb_config.slow_start_config: is not supported with "
            "RING_HASH or MAGLEV; "
            "Cluster \"wrong\": round_robin_lb_config.slow_start_config.slow_start_window: must "
            "be at most 1h; "
            "round_robin_lb_config.slow_start_config.aggression.default_value: must be above 0 "
            "and at most 100; "
            "round_robin_lb_config.slow_start_config.min_weight_percent.value: must be from 0 to "
            "100");
}

TEST(ConfigBuilderTest, DuplicateDomainAcrossVirtualHosts) {
  ConfigBuilder b;
  auto rc = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts { domains: "*" }
    virtual_hosts { domains: "*" }
  )pb");
  EXPECT_EQ(ErrorOf(b.ApplyRouteConfigurations({rc}, "1")),
            "RouteConfiguration \"default\": virtual_hosts[1].domains[0]: duplicate domain \"*\" "
            "(also at virtual_hosts[0].domains[0])");
}

// Every domain gets its own copy of its virtual host's routes: 400 domains x 300 routes (a few
// KiB on the wire) would be 120,000 copies, over the limit of 100,000.
TEST(ConfigBuilderTest, DomainsTimesRoutesIsBounded) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyRouteConfigurations({MakeRoutes("web")}, "1").ok());
  std::shared_ptr<const ProxyConfig> before = b.Build();
  route_v3::RouteConfiguration rc;
  rc.set_name("default");
  auto* vh = rc.add_virtual_hosts();
  for (int i = 0; i < 400; ++i) vh->add_domains(absl::StrCat("h", i, ".example.com"));
  for (int i = 0; i < 300; ++i) {
    auto* route = vh->add_routes();
    route->mutable_match()->set_prefix(absl::StrCat("/p", i));
    route->mutable_route()->set_cluster("web");
  }
  EXPECT_EQ(ErrorOf(b.ApplyRouteConfigurations({rc}, "2")),
            "RouteConfiguration \"default\": virtual_hosts: domains x routes, summed over virtual "
            "hosts, is 120000; at most 100000 are supported");
  EXPECT_EQ(b.Build(), before);
  // At the limit it is accepted: 400 x 250.
  vh->mutable_routes()->DeleteSubrange(250, 50);
  ASSERT_TRUE(b.ApplyRouteConfigurations({rc}, "3").ok());
  EXPECT_EQ(b.Build()->virtual_hosts.size(), 400u);
  EXPECT_EQ(b.Build()->virtual_hosts[399].routes.size(), 250u);
}

TEST(ConfigBuilderTest, RouteToUnknownClusterIsAllowedButRecorded) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web"), MakeCluster("cold")}, "1").ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("web", {80})}, "1").ok());
  auto rc = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts {
      domains: "*"
      routes {
        match { prefix: "/a" }
        route { cluster: "web" }
      }
      routes {
        match { prefix: "/b" }
        route { cluster: "nope" }
      }
      routes {
        match { prefix: "/c" }
        route { cluster: "cold" }
      }
    }
  )pb");
  ASSERT_TRUE(b.ApplyRouteConfigurations({rc}, "1").ok());
  EXPECT_EQ(b.Warnings(),
            (std::vector<std::string>{
                "RouteConfiguration \"default\": virtual_hosts[0].routes[1].route.cluster: "
                "unknown cluster \"nope\"",
                "RouteConfiguration \"default\": virtual_hosts[0].routes[2].route.cluster: "
                "cluster \"cold\" is warming (no ClusterLoadAssignment yet)"}));
  auto config = b.Build();
  ASSERT_EQ(config->virtual_hosts.size(), 1u);
  EXPECT_EQ(config->virtual_hosts[0].routes[1].cluster, "nope");
  // Once "cold" warms, only "nope" is left.
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("cold", {80})}, "2").ok());
  EXPECT_EQ(b.Warnings().size(), 1u);
}

TEST(ConfigBuilderTest, OnlyTheDefaultRouteConfigurationCounts) {
  ConfigBuilder b;
  auto other = MakeRoutes("web");
  other.set_name("other");
  other.mutable_virtual_hosts(0)->clear_domains();  // Invalid, but not subscribed: ignored.
  ASSERT_TRUE(b.ApplyRouteConfigurations({other}, "1").ok());
  EXPECT_TRUE(b.Build()->virtual_hosts.empty());
  ASSERT_TRUE(b.ApplyRouteConfigurations({other, MakeRoutes("web")}, "2").ok());
  EXPECT_EQ(b.Build()->virtual_hosts.size(), 1u);
}

// --- Consistency ----------------------------------------------------------------------------

TEST(ConfigBuilderTest, ClusterWarmsUntilItsAssignmentArrives) {
  ConfigBuilder b;
  auto empty = b.Build();
  EXPECT_TRUE(empty->clusters.empty());
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "c1").ok());
  EXPECT_EQ(b.ClusterNames(), std::vector<std::string>{"web"});
  EXPECT_EQ(b.WarmingClusters(), std::vector<std::string>{"web"});
  EXPECT_EQ(b.Build(), empty);  // Nothing visible changed.
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("web", {80, 81})}, "e1").ok());
  auto warm = b.Build();
  EXPECT_NE(warm, empty);
  ASSERT_EQ(warm->clusters.count("web"), 1u);
  EXPECT_EQ(warm->clusters.at("web").endpoints.size(), 2u);
  EXPECT_TRUE(b.WarmingClusters().empty());
}

TEST(ConfigBuilderTest, AssignmentForUnknownClusterIsIgnored) {
  ConfigBuilder b;
  auto bad = MakeAssignment("ghost", {0});  // Invalid too: not subscribed, so not judged.
  ASSERT_TRUE(b.ApplyLoadAssignments({bad}, "1").ok());
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("ghost")}, "1").ok());
  EXPECT_EQ(b.WarmingClusters(), std::vector<std::string>{"ghost"});
  EXPECT_TRUE(b.Build()->clusters.empty());
}

TEST(ConfigBuilderTest, ClusterMissingFromCdsIsRemovedWithItsEndpoints) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("a"), MakeCluster("b")}, "1").ok());
  ASSERT_TRUE(
      b.ApplyLoadAssignments({MakeAssignment("a", {80}), MakeAssignment("b", {80})}, "1").ok());
  EXPECT_EQ(b.Build()->clusters.size(), 2u);
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("a")}, "2").ok());
  auto config = b.Build();
  EXPECT_EQ(config->clusters.size(), 1u);
  EXPECT_EQ(config->clusters.count("a"), 1u);
  EXPECT_EQ(b.ClusterNames(), std::vector<std::string>{"a"});
  // Coming back, it warms again: its old endpoints were dropped with it.
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("a"), MakeCluster("b")}, "3").ok());
  EXPECT_EQ(b.WarmingClusters(), std::vector<std::string>{"b"});
  EXPECT_EQ(b.Build()->clusters.size(), 1u);
  // An empty CDS response removes everything.
  ASSERT_TRUE(b.ApplyClusters({}, "4").ok());
  EXPECT_TRUE(b.Build()->clusters.empty());
  EXPECT_TRUE(b.ClusterNames().empty());
}

TEST(ConfigBuilderTest, RejectedResourcesKeepTheirLastGoodVersion) {
  ConfigBuilder b;
  ASSERT_TRUE(
      b.ApplyClusters({MakeCluster("web", "lb_policy: LEAST_REQUEST"), MakeCluster("api")}, "1")
          .ok());
  ASSERT_TRUE(
      b.ApplyLoadAssignments({MakeAssignment("web", {80}), MakeAssignment("api", {90})}, "1").ok());
  ASSERT_TRUE(b.ApplyRouteConfigurations({MakeRoutes("web")}, "1").ok());
  auto good = b.Build();

  // CDS v2: "web" invalid (kept at v1), "api" changed (applied), "new" invalid (stays absent).
  absl::Status s = b.ApplyClusters(
      {MakeCluster("web", "lb_policy: CLUSTER_PROVIDED"),
       MakeCluster("api", "lb_policy: RING_HASH"), MakeCluster("new", "connect_timeout {}")},
      "2");
  EXPECT_EQ(ErrorOf(s),
            "Cluster \"web\": lb_policy: unsupported value 6; "
            "Cluster \"new\": connect_timeout: must be positive");
  auto config = b.Build();
  EXPECT_EQ(config->clusters.at("web").policy, LbPolicy::kLeastRequest);
  EXPECT_EQ(config->clusters.at("web").version, "1");
  EXPECT_EQ(config->clusters.at("api").policy, LbPolicy::kRingHash);
  EXPECT_EQ(config->clusters.at("api").version, "2");
  EXPECT_EQ(config->clusters.count("new"), 0u);
  EXPECT_EQ(b.ClusterNames(), (std::vector<std::string>{"api", "web"}));

  // EDS: an invalid update keeps the old endpoints.
  EXPECT_FALSE(b.ApplyLoadAssignments({MakeAssignment("web", {0})}, "2").ok());
  EXPECT_EQ(b.Build()->clusters.at("web").endpoints[0].port, 80);
  EXPECT_EQ(b.Build()->clusters.at("web").endpoints_version, "1");

  // RDS: likewise.
  auto bad_routes = MakeRoutes("api");
  bad_routes.mutable_virtual_hosts(0)->mutable_routes(0)->mutable_match()->set_prefix("x");
  EXPECT_FALSE(b.ApplyRouteConfigurations({bad_routes}, "2").ok());
  EXPECT_EQ(b.Build()->virtual_hosts[0].routes[0].cluster, "web");
  EXPECT_EQ(b.Build()->routes_version, "1");
  EXPECT_NE(good, b.Build());  // Only because "api" changed.
}

TEST(ConfigBuilderTest, IdenticalResendChangesNothing) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "1").ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("web", {80})}, "1").ok());
  ASSERT_TRUE(b.ApplyRouteConfigurations({MakeRoutes("web")}, "1").ok());
  auto first = b.Build();
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("web")}, "2").ok());
  ASSERT_TRUE(b.ApplyLoadAssignments({MakeAssignment("web", {80})}, "2").ok());
  ASSERT_TRUE(b.ApplyRouteConfigurations({MakeRoutes("web")}, "2").ok());
  auto second = b.Build();
  EXPECT_EQ(first, second);
  EXPECT_EQ(second->clusters.at("web").version, "1");
  EXPECT_EQ(second->routes_version, "1");
}

// --- Whole responses ------------------------------------------------------------------------

discovery_v3::DiscoveryResponse Response(const std::string& type, const std::string& version) {
  discovery_v3::DiscoveryResponse r;
  r.set_type_url(type);
  r.set_version_info(version);
  return r;
}

TEST(ConfigBuilderTest, ApplyResponseDecodesAndDispatches) {
  ConfigBuilder b;
  auto cds = Response(kClusterType, "c1");
  cds.add_resources()->PackFrom(MakeCluster("web"));
  ASSERT_TRUE(b.ApplyResponse(cds).ok());
  auto eds = Response(kEndpointType, "e1");
  eds.add_resources()->PackFrom(MakeAssignment("web", {80}));
  ASSERT_TRUE(b.ApplyResponse(eds).ok());
  auto rds = Response(kRouteType, "r1");
  rds.add_resources()->PackFrom(MakeRoutes("web"));
  ASSERT_TRUE(b.ApplyResponse(rds).ok());
  auto config = b.Build();
  EXPECT_EQ(config->clusters.at("web").version, "c1");
  EXPECT_EQ(config->clusters.at("web").endpoints_version, "e1");
  EXPECT_EQ(config->routes_version, "r1");
  EXPECT_TRUE(b.clusters_received());
  EXPECT_TRUE(b.routes_received());

  auto other = Response("type.googleapis.com/envoy.config.core.v3.Node", "1");
  EXPECT_EQ(ErrorOf(b.ApplyResponse(other)),
            "unsupported type_url \"type.googleapis.com/envoy.config.core.v3.Node\"");
}

TEST(ConfigBuilderTest, UndecodableResourcesAreErrorsAndBlockCdsRemovals) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyClusters({MakeCluster("a"), MakeCluster("b")}, "1").ok());
  auto cds = Response(kClusterType, "2");
  cds.add_resources()->PackFrom(MakeCluster("a"));
  cds.add_resources()->PackFrom(MakeAssignment("b", {80}));  // Wrong type.
  auto* garbage = cds.add_resources();
  garbage->set_type_url(kClusterType);
  garbage->set_value("\xff\xff\xff");
  EXPECT_EQ(ErrorOf(b.ApplyResponse(cds)),
            "resources[1]: type "
            "\"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\" does not "
            "match the response's \"type.googleapis.com/envoy.config.cluster.v3.Cluster\"; "
            "resources[2]: cannot be decoded as envoy.config.cluster.v3.Cluster");
  // "b" may have been one of the undecodable resources: it is kept.
  EXPECT_EQ(b.ClusterNames(), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace lb::proxy::xds
