// Checks that the project's xDS protos (proto/envoy/..., proto/google/rpc/status.proto) are
// wire-compatible with Envoy's v3 API: field numbers, field types, enum values, type URLs and
// the ADS method paths of docs/xds-protocol.md, plus round trips of realistic
// resources and decoding of hand-encoded bytes.

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/core/v3/address.pb.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/config/core/v3/config_source.pb.h"
#include "envoy/config/core/v3/health_check.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/endpoint/v3/load_report.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/discovery/v3/ads.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "envoy/service/load_stats/v3/lrs.grpc.pb.h"
#include "google/rpc/status.pb.h"

namespace {

namespace cluster = envoy::config::cluster::v3;
namespace core = envoy::config::core::v3;
namespace discovery = envoy::service::discovery::v3;
namespace endpoint = envoy::config::endpoint::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace listener = envoy::config::listener::v3;
namespace route = envoy::config::route::v3;
namespace router = envoy::extensions::filters::http::router::v3;

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::util::MessageDifferencer;

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kHcmType;
using ::lb::xds::kListenerType;
using ::lb::xds::kRouterType;
using ::lb::xds::kRouteType;

struct FieldNumber {
  const Descriptor* message;
  const char* field;
  int number;
};

void ExpectFieldNumbers(const std::vector<FieldNumber>& table) {
  for (const FieldNumber& want : table) {
    ASSERT_NE(want.message, nullptr);
    const FieldDescriptor* field = want.message->FindFieldByName(want.field);
    ASSERT_NE(field, nullptr) << want.message->full_name() << "." << want.field << " missing";
    EXPECT_EQ(field->number(), want.number) << field->full_name();
  }
}

// The "Field numbers (v3)" section of docs/xds-protocol.md, entry by entry.
TEST(XdsProtoTest, FieldNumbersFromProtocolNotes) {
  ExpectFieldNumbers({
      {discovery::DiscoveryRequest::descriptor(), "version_info", 1},
      {discovery::DiscoveryRequest::descriptor(), "node", 2},
      {discovery::DiscoveryRequest::descriptor(), "resource_names", 3},
      {discovery::DiscoveryRequest::descriptor(), "type_url", 4},
      {discovery::DiscoveryRequest::descriptor(), "response_nonce", 5},
      {discovery::DiscoveryRequest::descriptor(), "error_detail", 6},
      {google::rpc::Status::descriptor(), "code", 1},
      {google::rpc::Status::descriptor(), "message", 2},
      {google::rpc::Status::descriptor(), "details", 3},

      {discovery::DiscoveryResponse::descriptor(), "version_info", 1},
      {discovery::DiscoveryResponse::descriptor(), "resources", 2},
      {discovery::DiscoveryResponse::descriptor(), "canary", 3},
      {discovery::DiscoveryResponse::descriptor(), "type_url", 4},
      {discovery::DiscoveryResponse::descriptor(), "nonce", 5},
      {discovery::DiscoveryResponse::descriptor(), "control_plane", 6},
      {core::ControlPlane::descriptor(), "identifier", 1},

      {discovery::DeltaDiscoveryRequest::descriptor(), "node", 1},
      {discovery::DeltaDiscoveryRequest::descriptor(), "type_url", 2},
      {discovery::DeltaDiscoveryRequest::descriptor(), "resource_names_subscribe", 3},
      {discovery::DeltaDiscoveryRequest::descriptor(), "resource_names_unsubscribe", 4},
      {discovery::DeltaDiscoveryRequest::descriptor(), "initial_resource_versions", 5},
      {discovery::DeltaDiscoveryRequest::descriptor(), "response_nonce", 6},
      {discovery::DeltaDiscoveryRequest::descriptor(), "error_detail", 7},

      {discovery::DeltaDiscoveryResponse::descriptor(), "system_version_info", 1},
      {discovery::DeltaDiscoveryResponse::descriptor(), "resources", 2},
      {discovery::DeltaDiscoveryResponse::descriptor(), "type_url", 4},
      {discovery::DeltaDiscoveryResponse::descriptor(), "nonce", 5},
      {discovery::DeltaDiscoveryResponse::descriptor(), "removed_resources", 6},
      {discovery::DeltaDiscoveryResponse::descriptor(), "control_plane", 7},

      {discovery::Resource::descriptor(), "version", 1},
      {discovery::Resource::descriptor(), "resource", 2},
      {discovery::Resource::descriptor(), "name", 3},
      {discovery::Resource::descriptor(), "aliases", 4},
      {discovery::Resource::descriptor(), "ttl", 6},

      {core::Node::descriptor(), "id", 1},
      {core::Node::descriptor(), "cluster", 2},
      {core::Node::descriptor(), "metadata", 3},
      {core::Node::descriptor(), "locality", 4},
      {core::Node::descriptor(), "user_agent_name", 6},
      {core::Node::descriptor(), "user_agent_version", 7},
      {core::Node::descriptor(), "client_features", 10},
      {core::Locality::descriptor(), "region", 1},
      {core::Locality::descriptor(), "zone", 2},
      {core::Locality::descriptor(), "sub_zone", 3},

      {listener::Listener::descriptor(), "name", 1},
      {listener::Listener::descriptor(), "address", 2},
      {listener::Listener::descriptor(), "filter_chains", 3},
      {listener::Listener::descriptor(), "api_listener", 19},
      {listener::ApiListener::descriptor(), "api_listener", 1},

      {hcm::HttpConnectionManager::descriptor(), "codec_type", 1},
      {hcm::HttpConnectionManager::descriptor(), "stat_prefix", 2},
      {hcm::HttpConnectionManager::descriptor(), "rds", 3},
      {hcm::HttpConnectionManager::descriptor(), "route_config", 4},
      {hcm::HttpConnectionManager::descriptor(), "http_filters", 5},
      {hcm::HttpConnectionManager::descriptor(), "xff_num_trusted_hops", 19},
      {hcm::HttpConnectionManager::descriptor(), "common_http_protocol_options", 35},
      {hcm::Rds::descriptor(), "config_source", 1},
      {hcm::Rds::descriptor(), "route_config_name", 2},
      {hcm::HttpFilter::descriptor(), "name", 1},
      {hcm::HttpFilter::descriptor(), "typed_config", 4},

      {route::RouteConfiguration::descriptor(), "name", 1},
      {route::RouteConfiguration::descriptor(), "virtual_hosts", 2},
      {route::VirtualHost::descriptor(), "name", 1},
      {route::VirtualHost::descriptor(), "domains", 2},
      {route::VirtualHost::descriptor(), "routes", 3},
      {route::Route::descriptor(), "match", 1},
      {route::Route::descriptor(), "route", 2},
      {route::Route::descriptor(), "redirect", 3},
      {route::Route::descriptor(), "direct_response", 7},
      {route::Route::descriptor(), "name", 14},
      {route::RouteMatch::descriptor(), "prefix", 1},
      {route::RouteMatch::descriptor(), "path", 2},
      {route::RouteMatch::descriptor(), "case_sensitive", 4},
      {route::RouteMatch::descriptor(), "headers", 6},
      {route::RouteAction::descriptor(), "cluster", 1},
      {route::RouteAction::descriptor(), "cluster_header", 2},
      {route::RouteAction::descriptor(), "weighted_clusters", 3},
      {route::RouteAction::descriptor(), "timeout", 8},
      {route::RouteAction::descriptor(), "hash_policy", 15},
      {route::WeightedCluster::descriptor(), "clusters", 1},
      {route::WeightedCluster::descriptor(), "total_weight", 3},
      {route::WeightedCluster::ClusterWeight::descriptor(), "name", 1},
      {route::WeightedCluster::ClusterWeight::descriptor(), "weight", 2},

      {cluster::Cluster::descriptor(), "name", 1},
      {cluster::Cluster::descriptor(), "type", 2},
      {cluster::Cluster::descriptor(), "eds_cluster_config", 3},
      {cluster::Cluster::descriptor(), "connect_timeout", 4},
      {cluster::Cluster::descriptor(), "lb_policy", 6},
      {cluster::Cluster::descriptor(), "health_checks", 8},
      {cluster::Cluster::descriptor(), "circuit_breakers", 10},
      {cluster::Cluster::descriptor(), "outlier_detection", 19},
      {cluster::Cluster::descriptor(), "load_assignment", 33},
      {cluster::Cluster::EdsClusterConfig::descriptor(), "eds_config", 1},
      {cluster::Cluster::EdsClusterConfig::descriptor(), "service_name", 2},

      {core::ConfigSource::descriptor(), "path", 1},
      {core::ConfigSource::descriptor(), "api_config_source", 2},
      {core::ConfigSource::descriptor(), "ads", 3},
      {core::ConfigSource::descriptor(), "initial_fetch_timeout", 4},
      {core::ConfigSource::descriptor(), "self", 5},
      {core::ConfigSource::descriptor(), "resource_api_version", 6},

      {endpoint::ClusterLoadAssignment::descriptor(), "cluster_name", 1},
      {endpoint::ClusterLoadAssignment::descriptor(), "endpoints", 2},
      {endpoint::ClusterLoadAssignment::descriptor(), "policy", 4},
      {endpoint::LocalityLbEndpoints::descriptor(), "locality", 1},
      {endpoint::LocalityLbEndpoints::descriptor(), "lb_endpoints", 2},
      {endpoint::LocalityLbEndpoints::descriptor(), "load_balancing_weight", 3},
      {endpoint::LocalityLbEndpoints::descriptor(), "priority", 5},
      {endpoint::LbEndpoint::descriptor(), "endpoint", 1},
      {endpoint::LbEndpoint::descriptor(), "health_status", 2},
      {endpoint::LbEndpoint::descriptor(), "metadata", 3},
      {endpoint::LbEndpoint::descriptor(), "load_balancing_weight", 4},
      {endpoint::Endpoint::descriptor(), "address", 1},
      {endpoint::Endpoint::descriptor(), "health_check_config", 2},
      {endpoint::Endpoint::descriptor(), "hostname", 3},
      {core::Address::descriptor(), "socket_address", 1},
      {core::SocketAddress::descriptor(), "protocol", 1},
      {core::SocketAddress::descriptor(), "address", 2},
      {core::SocketAddress::descriptor(), "port_value", 3},
  });
}

// Fields beyond the notes that the project uses; numbers checked against Envoy's v3 protos.
TEST(XdsProtoTest, FieldNumbersOfOtherFieldsWeUse) {
  using HashPolicy = route::RouteAction::HashPolicy;
  ExpectFieldNumbers({
      {core::SocketAddress::descriptor(), "resolver_name", 5},
      {core::SocketAddress::descriptor(), "ipv4_compat", 6},
      {core::SelfConfigSource::descriptor(), "transport_api_version", 1},
      {core::HealthCheck::descriptor(), "timeout", 1},
      {core::HealthCheck::descriptor(), "interval", 2},
      {core::HealthCheck::descriptor(), "unhealthy_threshold", 4},
      {core::HealthCheck::descriptor(), "healthy_threshold", 5},
      {core::HealthCheck::descriptor(), "http_health_check", 8},
      {core::HealthCheck::descriptor(), "tcp_health_check", 9},
      {core::HealthCheck::descriptor(), "grpc_health_check", 11},
      {core::HealthCheck::HttpHealthCheck::descriptor(), "host", 1},
      {core::HealthCheck::HttpHealthCheck::descriptor(), "path", 2},
      {core::HttpProtocolOptions::descriptor(), "idle_timeout", 1},
      {core::HttpProtocolOptions::descriptor(), "max_stream_duration", 4},

      {cluster::Cluster::descriptor(), "ring_hash_lb_config", 23},
      {cluster::Cluster::descriptor(), "common_lb_config", 27},
      {cluster::Cluster::descriptor(), "least_request_lb_config", 37},
      {cluster::Cluster::descriptor(), "lrs_server", 42},
      {cluster::Cluster::descriptor(), "maglev_lb_config", 52},
      {cluster::Cluster::CommonLbConfig::descriptor(), "healthy_panic_threshold", 1},
      {cluster::Cluster::CommonLbConfig::descriptor(), "locality_weighted_lb_config", 3},
      {cluster::Cluster::RingHashLbConfig::descriptor(), "minimum_ring_size", 1},
      {cluster::Cluster::RingHashLbConfig::descriptor(), "hash_function", 3},
      {cluster::Cluster::RingHashLbConfig::descriptor(), "maximum_ring_size", 4},
      {cluster::Cluster::MaglevLbConfig::descriptor(), "table_size", 1},
      {cluster::CircuitBreakers::descriptor(), "thresholds", 1},
      {cluster::CircuitBreakers::Thresholds::descriptor(), "priority", 1},
      {cluster::CircuitBreakers::Thresholds::descriptor(), "max_connections", 2},
      {cluster::CircuitBreakers::Thresholds::descriptor(), "max_pending_requests", 3},
      {cluster::CircuitBreakers::Thresholds::descriptor(), "max_requests", 4},
      {cluster::CircuitBreakers::Thresholds::descriptor(), "max_retries", 5},
      {cluster::OutlierDetection::descriptor(), "consecutive_5xx", 1},
      {cluster::OutlierDetection::descriptor(), "interval", 2},
      {cluster::OutlierDetection::descriptor(), "base_ejection_time", 3},
      {cluster::OutlierDetection::descriptor(), "max_ejection_percent", 4},
      {cluster::OutlierDetection::descriptor(), "consecutive_gateway_failure", 10},
      {cluster::OutlierDetection::descriptor(), "enforcing_consecutive_gateway_failure", 11},
      {cluster::OutlierDetection::descriptor(), "max_ejection_time", 21},
      {envoy::type::v3::Percent::descriptor(), "value", 1},

      {endpoint::ClusterLoadAssignment::Policy::descriptor(), "drop_overloads", 2},
      {endpoint::ClusterLoadAssignment::Policy::descriptor(), "overprovisioning_factor", 3},
      {endpoint::LbEndpoint::descriptor(), "endpoint_name", 5},

      {listener::FilterChain::descriptor(), "filter_chain_match", 1},
      {listener::FilterChain::descriptor(), "filters", 3},
      {listener::Filter::descriptor(), "name", 1},
      {listener::Filter::descriptor(), "typed_config", 4},

      {route::RouteAction::descriptor(), "retry_policy", 9},
      {route::RouteAction::descriptor(), "max_stream_duration", 36},
      {route::RetryPolicy::descriptor(), "retry_on", 1},
      {route::RetryPolicy::descriptor(), "num_retries", 2},
      {route::RetryPolicy::descriptor(), "per_try_timeout", 3},
      {route::RetryPolicy::descriptor(), "retry_back_off", 8},
      {route::Route::descriptor(), "non_forwarding_action", 18},
      {HashPolicy::descriptor(), "header", 1},
      {HashPolicy::descriptor(), "cookie", 2},
      {HashPolicy::descriptor(), "connection_properties", 3},
      {HashPolicy::descriptor(), "terminal", 4},
      {HashPolicy::descriptor(), "filter_state", 6},
      {HashPolicy::Header::descriptor(), "header_name", 1},
      {HashPolicy::Cookie::descriptor(), "name", 1},
      {HashPolicy::Cookie::descriptor(), "ttl", 2},
      {HashPolicy::Cookie::descriptor(), "path", 3},
      {HashPolicy::Cookie::descriptor(), "attributes", 4},
      {HashPolicy::CookieAttribute::descriptor(), "name", 1},
      {HashPolicy::CookieAttribute::descriptor(), "value", 2},
      {HashPolicy::ConnectionProperties::descriptor(), "source_ip", 1},
      {route::HeaderMatcher::descriptor(), "name", 1},
      {route::HeaderMatcher::descriptor(), "exact_match", 4},
      {route::HeaderMatcher::descriptor(), "invert_match", 8},
      {route::HeaderMatcher::descriptor(), "present_match", 7},
      {route::HeaderMatcher::descriptor(), "prefix_match", 9},
      {route::HeaderMatcher::descriptor(), "suffix_match", 10},
      {route::HeaderMatcher::descriptor(), "contains_match", 12},
      {router::Router::descriptor(), "dynamic_stats", 1},
      // Routes of Gateway API / Ingress: header changes; slow start.
      {route::Route::descriptor(), "request_headers_to_add", 9},
      {route::Route::descriptor(), "request_headers_to_remove", 12},
      {core::HeaderValueOption::descriptor(), "header", 1},
      {core::HeaderValueOption::descriptor(), "append_action", 3},
      {core::HeaderValue::descriptor(), "key", 1},
      {core::HeaderValue::descriptor(), "value", 2},
      {core::RuntimeDouble::descriptor(), "default_value", 1},
      {core::RuntimeDouble::descriptor(), "runtime_key", 2},
      {cluster::Cluster::descriptor(), "least_request_lb_config", 37},
      {cluster::Cluster::descriptor(), "round_robin_lb_config", 56},
      {cluster::Cluster::RoundRobinLbConfig::descriptor(), "slow_start_config", 1},
      {cluster::Cluster::LeastRequestLbConfig::descriptor(), "slow_start_config", 3},
      {cluster::Cluster::SlowStartConfig::descriptor(), "slow_start_window", 1},
      {cluster::Cluster::SlowStartConfig::descriptor(), "aggression", 2},
      {cluster::Cluster::SlowStartConfig::descriptor(), "min_weight_percent", 3},
  });
}

// Same number but a different wire type would still break compatibility, so check the types
// and cardinalities that matter.
TEST(XdsProtoTest, FieldTypes) {
  struct MessageField {
    const Descriptor* message;
    const char* field;
    const char* type;
  };
  const std::vector<MessageField> message_fields = {
      {discovery::DiscoveryRequest::descriptor(), "node", "envoy.config.core.v3.Node"},
      {discovery::DiscoveryRequest::descriptor(), "error_detail", "google.rpc.Status"},
      {discovery::DiscoveryResponse::descriptor(), "resources", "google.protobuf.Any"},
      {discovery::DiscoveryResponse::descriptor(), "control_plane",
       "envoy.config.core.v3.ControlPlane"},
      {discovery::DeltaDiscoveryRequest::descriptor(), "error_detail", "google.rpc.Status"},
      {discovery::DeltaDiscoveryResponse::descriptor(), "resources",
       "envoy.service.discovery.v3.Resource"},
      {discovery::Resource::descriptor(), "resource", "google.protobuf.Any"},
      {discovery::Resource::descriptor(), "ttl", "google.protobuf.Duration"},
      {google::rpc::Status::descriptor(), "details", "google.protobuf.Any"},
      {core::Node::descriptor(), "metadata", "google.protobuf.Struct"},
      {core::Node::descriptor(), "locality", "envoy.config.core.v3.Locality"},
      {listener::ApiListener::descriptor(), "api_listener", "google.protobuf.Any"},
      {hcm::HttpFilter::descriptor(), "typed_config", "google.protobuf.Any"},
      {hcm::HttpConnectionManager::descriptor(), "route_config",
       "envoy.config.route.v3.RouteConfiguration"},
      {route::RouteMatch::descriptor(), "case_sensitive", "google.protobuf.BoolValue"},
      {route::WeightedCluster::descriptor(), "total_weight", "google.protobuf.UInt32Value"},
      {route::WeightedCluster::ClusterWeight::descriptor(), "weight",
       "google.protobuf.UInt32Value"},
      {route::RetryPolicy::descriptor(), "num_retries", "google.protobuf.UInt32Value"},
      {route::RouteAction::HashPolicy::Cookie::descriptor(), "ttl", "google.protobuf.Duration"},
      {route::RouteAction::HashPolicy::Cookie::descriptor(), "attributes",
       "envoy.config.route.v3.RouteAction.HashPolicy.CookieAttribute"},
      {core::ConfigSource::descriptor(), "ads", "envoy.config.core.v3.AggregatedConfigSource"},
      {core::HealthCheck::descriptor(), "unhealthy_threshold", "google.protobuf.UInt32Value"},
      {cluster::Cluster::descriptor(), "connect_timeout", "google.protobuf.Duration"},
      {cluster::Cluster::CommonLbConfig::descriptor(), "healthy_panic_threshold",
       "envoy.type.v3.Percent"},
      {endpoint::LocalityLbEndpoints::descriptor(), "load_balancing_weight",
       "google.protobuf.UInt32Value"},
      {endpoint::LbEndpoint::descriptor(), "load_balancing_weight", "google.protobuf.UInt32Value"},
      {endpoint::LbEndpoint::descriptor(), "metadata", "envoy.config.core.v3.Metadata"},
  };
  for (const MessageField& want : message_fields) {
    const FieldDescriptor* field = want.message->FindFieldByName(want.field);
    ASSERT_NE(field, nullptr) << want.message->full_name() << "." << want.field;
    ASSERT_EQ(field->type(), FieldDescriptor::TYPE_MESSAGE) << field->full_name();
    EXPECT_EQ(field->message_type()->full_name(), want.type) << field->full_name();
  }

  struct ScalarField {
    const Descriptor* message;
    const char* field;
    FieldDescriptor::Type type;
  };
  const std::vector<ScalarField> scalar_fields = {
      {google::rpc::Status::descriptor(), "code", FieldDescriptor::TYPE_INT32},
      {discovery::DiscoveryResponse::descriptor(), "canary", FieldDescriptor::TYPE_BOOL},
      {core::SocketAddress::descriptor(), "port_value", FieldDescriptor::TYPE_UINT32},
      {core::SocketAddress::descriptor(), "protocol", FieldDescriptor::TYPE_ENUM},
      {endpoint::LocalityLbEndpoints::descriptor(), "priority", FieldDescriptor::TYPE_UINT32},
      {endpoint::LbEndpoint::descriptor(), "health_status", FieldDescriptor::TYPE_ENUM},
      {hcm::HttpConnectionManager::descriptor(), "xff_num_trusted_hops",
       FieldDescriptor::TYPE_UINT32},
      {hcm::HttpConnectionManager::descriptor(), "codec_type", FieldDescriptor::TYPE_ENUM},
      {cluster::Cluster::descriptor(), "type", FieldDescriptor::TYPE_ENUM},
      {cluster::Cluster::descriptor(), "lb_policy", FieldDescriptor::TYPE_ENUM},
      {core::ConfigSource::descriptor(), "resource_api_version", FieldDescriptor::TYPE_ENUM},
      {route::RouteAction::HashPolicy::descriptor(), "terminal", FieldDescriptor::TYPE_BOOL},
      {route::RouteAction::HashPolicy::Cookie::descriptor(), "path", FieldDescriptor::TYPE_STRING},
      {route::RouteAction::HashPolicy::CookieAttribute::descriptor(), "name",
       FieldDescriptor::TYPE_STRING},
      {route::RouteAction::HashPolicy::CookieAttribute::descriptor(), "value",
       FieldDescriptor::TYPE_STRING},
  };
  for (const ScalarField& want : scalar_fields) {
    const FieldDescriptor* field = want.message->FindFieldByName(want.field);
    ASSERT_NE(field, nullptr) << want.message->full_name() << "." << want.field;
    EXPECT_EQ(field->type(), want.type) << field->full_name();
  }

  struct RepeatedField {
    const Descriptor* message;
    const char* field;
  };
  const std::vector<RepeatedField> repeated_fields = {
      {discovery::DiscoveryRequest::descriptor(), "resource_names"},
      {discovery::DiscoveryResponse::descriptor(), "resources"},
      {discovery::DeltaDiscoveryRequest::descriptor(), "resource_names_subscribe"},
      {discovery::DeltaDiscoveryRequest::descriptor(), "resource_names_unsubscribe"},
      {discovery::DeltaDiscoveryResponse::descriptor(), "resources"},
      {discovery::DeltaDiscoveryResponse::descriptor(), "removed_resources"},
      {discovery::Resource::descriptor(), "aliases"},
      {google::rpc::Status::descriptor(), "details"},
      {core::Node::descriptor(), "client_features"},
      {listener::Listener::descriptor(), "filter_chains"},
      {hcm::HttpConnectionManager::descriptor(), "http_filters"},
      {route::RouteConfiguration::descriptor(), "virtual_hosts"},
      {route::VirtualHost::descriptor(), "domains"},
      {route::VirtualHost::descriptor(), "routes"},
      {route::RouteMatch::descriptor(), "headers"},
      {route::RouteAction::descriptor(), "hash_policy"},
      {route::RouteAction::HashPolicy::Cookie::descriptor(), "attributes"},
      {route::WeightedCluster::descriptor(), "clusters"},
      {cluster::Cluster::descriptor(), "health_checks"},
      {endpoint::ClusterLoadAssignment::descriptor(), "endpoints"},
      {endpoint::LocalityLbEndpoints::descriptor(), "lb_endpoints"},
  };
  for (const RepeatedField& want : repeated_fields) {
    const FieldDescriptor* field = want.message->FindFieldByName(want.field);
    ASSERT_NE(field, nullptr) << want.message->full_name() << "." << want.field;
    EXPECT_TRUE(field->is_repeated()) << field->full_name();
  }

  const FieldDescriptor* versions =
      discovery::DeltaDiscoveryRequest::descriptor()->FindFieldByName("initial_resource_versions");
  ASSERT_NE(versions, nullptr);
  ASSERT_TRUE(versions->is_map());
  EXPECT_EQ(versions->message_type()->map_key()->type(), FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(versions->message_type()->map_value()->type(), FieldDescriptor::TYPE_STRING);
}

void ExpectEnumValue(const EnumDescriptor* e, const char* name, int number) {
  const google::protobuf::EnumValueDescriptor* value = e->FindValueByName(name);
  ASSERT_NE(value, nullptr) << e->full_name() << "." << name;
  EXPECT_EQ(value->number(), number) << value->full_name();
}

TEST(XdsProtoTest, EnumValues) {
  const EnumDescriptor* discovery_type = cluster::Cluster::DiscoveryType_descriptor();
  ExpectEnumValue(discovery_type, "STATIC", 0);
  ExpectEnumValue(discovery_type, "STRICT_DNS", 1);
  ExpectEnumValue(discovery_type, "LOGICAL_DNS", 2);
  ExpectEnumValue(discovery_type, "EDS", 3);

  const EnumDescriptor* lb_policy = cluster::Cluster::LbPolicy_descriptor();
  ExpectEnumValue(lb_policy, "ROUND_ROBIN", 0);
  ExpectEnumValue(lb_policy, "LEAST_REQUEST", 1);
  ExpectEnumValue(lb_policy, "RING_HASH", 2);
  ExpectEnumValue(lb_policy, "RANDOM", 3);
  ExpectEnumValue(lb_policy, "MAGLEV", 5);
  ExpectEnumValue(lb_policy, "CLUSTER_PROVIDED", 6);
  ExpectEnumValue(lb_policy, "LOAD_BALANCING_POLICY_CONFIG", 7);
  EXPECT_EQ(lb_policy->FindValueByNumber(4), nullptr);

  const EnumDescriptor* api_version = core::ApiVersion_descriptor();
  ExpectEnumValue(api_version, "AUTO", 0);
  ExpectEnumValue(api_version, "V2", 1);
  ExpectEnumValue(api_version, "V3", 2);

  const EnumDescriptor* health = core::HealthStatus_descriptor();
  ExpectEnumValue(health, "UNKNOWN", 0);
  ExpectEnumValue(health, "HEALTHY", 1);
  ExpectEnumValue(health, "UNHEALTHY", 2);
  ExpectEnumValue(health, "DRAINING", 3);
  ExpectEnumValue(health, "TIMEOUT", 4);
  ExpectEnumValue(health, "DEGRADED", 5);

  const EnumDescriptor* protocol = core::SocketAddress::Protocol_descriptor();
  ExpectEnumValue(protocol, "TCP", 0);
  ExpectEnumValue(protocol, "UDP", 1);
}

// Which fields share a oneof does not change the wire format, but it does change what a
// decoder keeps when several are set, so it should match Envoy's.
TEST(XdsProtoTest, Oneofs) {
  struct InOneof {
    const Descriptor* message;
    const char* field;
    const char* oneof;
  };
  const std::vector<InOneof> table = {
      {cluster::Cluster::descriptor(), "type", "cluster_discovery_type"},
      {cluster::Cluster::descriptor(), "ring_hash_lb_config", "lb_config"},
      {cluster::Cluster::descriptor(), "maglev_lb_config", "lb_config"},
      {core::ConfigSource::descriptor(), "ads", "config_source_specifier"},
      {core::ConfigSource::descriptor(), "self", "config_source_specifier"},
      {core::SocketAddress::descriptor(), "port_value", "port_specifier"},
      {endpoint::LbEndpoint::descriptor(), "endpoint", "host_identifier"},
      {hcm::HttpConnectionManager::descriptor(), "rds", "route_specifier"},
      {hcm::HttpConnectionManager::descriptor(), "route_config", "route_specifier"},
      {hcm::HttpFilter::descriptor(), "typed_config", "config_type"},
      {listener::Filter::descriptor(), "typed_config", "config_type"},
      {route::Route::descriptor(), "route", "action"},
      {route::Route::descriptor(), "direct_response", "action"},
      {route::RouteMatch::descriptor(), "prefix", "path_specifier"},
      {route::RouteMatch::descriptor(), "path", "path_specifier"},
      {route::RouteAction::descriptor(), "cluster", "cluster_specifier"},
      {route::RouteAction::descriptor(), "weighted_clusters", "cluster_specifier"},
      {route::RouteAction::HashPolicy::descriptor(), "header", "policy_specifier"},
      {core::Node::descriptor(), "user_agent_version", "user_agent_version_type"},
  };
  for (const InOneof& want : table) {
    const FieldDescriptor* field = want.message->FindFieldByName(want.field);
    ASSERT_NE(field, nullptr) << want.message->full_name() << "." << want.field;
    ASSERT_NE(field->containing_oneof(), nullptr) << field->full_name();
    EXPECT_EQ(field->containing_oneof()->name(), want.oneof) << field->full_name();
  }
}

TEST(XdsProtoTest, AdsServiceMethods) {
  EXPECT_STREQ(discovery::AggregatedDiscoveryService::service_full_name(),
               "envoy.service.discovery.v3.AggregatedDiscoveryService");
  const google::protobuf::ServiceDescriptor* service =
      discovery::AdsDummy::descriptor()->file()->FindServiceByName("AggregatedDiscoveryService");
  ASSERT_NE(service, nullptr);

  const google::protobuf::MethodDescriptor* sotw =
      service->FindMethodByName("StreamAggregatedResources");
  ASSERT_NE(sotw, nullptr);
  EXPECT_EQ("/" + service->full_name() + "/" + sotw->name(),
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources");
  EXPECT_TRUE(sotw->client_streaming());
  EXPECT_TRUE(sotw->server_streaming());
  EXPECT_EQ(sotw->input_type(), discovery::DiscoveryRequest::descriptor());
  EXPECT_EQ(sotw->output_type(), discovery::DiscoveryResponse::descriptor());

  const google::protobuf::MethodDescriptor* delta =
      service->FindMethodByName("DeltaAggregatedResources");
  ASSERT_NE(delta, nullptr);
  EXPECT_EQ("/" + service->full_name() + "/" + delta->name(),
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources");
  EXPECT_TRUE(delta->client_streaming());
  EXPECT_TRUE(delta->server_streaming());
  EXPECT_EQ(delta->input_type(), discovery::DeltaDiscoveryRequest::descriptor());
  EXPECT_EQ(delta->output_type(), discovery::DeltaDiscoveryResponse::descriptor());
}

// Serializes, parses into a fresh message and compares.
template <typename T>
T RoundTrip(const T& in) {
  std::string bytes;
  EXPECT_TRUE(in.SerializeToString(&bytes));
  T out;
  EXPECT_TRUE(out.ParseFromString(bytes));
  EXPECT_TRUE(MessageDifferencer::Equals(in, out)) << in.DebugString() << "\nvs\n"
                                                   << out.DebugString();
  return out;
}

cluster::Cluster MakeEdsCluster() {
  cluster::Cluster c;
  c.set_name("backend");
  c.set_type(cluster::Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  c.mutable_eds_cluster_config()->mutable_eds_config()->set_resource_api_version(core::V3);
  c.mutable_eds_cluster_config()->set_service_name("backend");
  c.mutable_connect_timeout()->set_seconds(2);
  c.set_lb_policy(cluster::Cluster::RING_HASH);
  c.mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(1024);
  c.mutable_ring_hash_lb_config()->mutable_maximum_ring_size()->set_value(8388608);
  c.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(25.0);

  core::HealthCheck* hc = c.add_health_checks();
  hc->mutable_timeout()->set_seconds(1);
  hc->mutable_interval()->set_seconds(5);
  hc->mutable_unhealthy_threshold()->set_value(3);
  hc->mutable_healthy_threshold()->set_value(2);
  hc->mutable_http_health_check()->set_path("/healthz");
  hc->mutable_http_health_check()->set_host("backend.internal");

  cluster::CircuitBreakers::Thresholds* t = c.mutable_circuit_breakers()->add_thresholds();
  t->set_priority(core::DEFAULT);
  t->mutable_max_requests()->set_value(1000);

  cluster::OutlierDetection* od = c.mutable_outlier_detection();
  od->mutable_consecutive_5xx()->set_value(5);
  od->mutable_consecutive_gateway_failure()->set_value(3);
  od->mutable_interval()->set_seconds(10);
  od->mutable_base_ejection_time()->set_seconds(30);
  od->mutable_max_ejection_percent()->set_value(50);
  return c;
}

endpoint::ClusterLoadAssignment MakeLoadAssignment() {
  endpoint::ClusterLoadAssignment cla;
  cla.set_cluster_name("backend");
  const struct {
    const char* zone;
    const char* ip;
    uint32_t port;
    uint32_t priority;
    core::HealthStatus health;
  } endpoints[] = {
      {"us-east-1a", "10.0.0.1", 8080, 0, core::HEALTHY},
      {"us-east-1a", "10.0.0.2", 8080, 0, core::UNKNOWN},
      {"us-east-1b", "10.0.1.1", 8080, 1, core::DRAINING},
  };
  for (const auto& e : endpoints) {
    endpoint::LocalityLbEndpoints* locality = nullptr;
    for (auto& existing : *cla.mutable_endpoints()) {
      if (existing.locality().zone() == e.zone) locality = &existing;
    }
    if (locality == nullptr) {
      locality = cla.add_endpoints();
      locality->mutable_locality()->set_region("us-east-1");
      locality->mutable_locality()->set_zone(e.zone);
      locality->mutable_load_balancing_weight()->set_value(100);
      locality->set_priority(e.priority);
    }
    endpoint::LbEndpoint* lb = locality->add_lb_endpoints();
    core::SocketAddress* sa = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
    sa->set_address(e.ip);
    sa->set_port_value(e.port);
    lb->set_health_status(e.health);
    lb->mutable_load_balancing_weight()->set_value(10);
  }
  cla.mutable_policy()->mutable_overprovisioning_factor()->set_value(140);
  return cla;
}

listener::Listener MakeApiListener() {
  hcm::HttpConnectionManager manager;
  manager.set_stat_prefix("backend");
  manager.mutable_rds()->mutable_config_source()->mutable_ads();
  manager.mutable_rds()->mutable_config_source()->set_resource_api_version(core::V3);
  manager.mutable_rds()->set_route_config_name("backend-routes");
  manager.mutable_common_http_protocol_options()->mutable_max_stream_duration()->set_seconds(30);
  hcm::HttpFilter* filter = manager.add_http_filters();
  filter->set_name("envoy.filters.http.router");
  filter->mutable_typed_config()->PackFrom(router::Router());

  listener::Listener l;
  l.set_name("backend.example.com:443");
  l.mutable_api_listener()->mutable_api_listener()->PackFrom(manager);
  return l;
}

route::RouteConfiguration MakeRouteConfiguration() {
  route::RouteConfiguration rc;
  rc.set_name("backend-routes");
  route::VirtualHost* vh = rc.add_virtual_hosts();
  vh->set_name("backend");
  vh->add_domains("backend.example.com");
  vh->add_domains("*");

  route::Route* canary = vh->add_routes();
  canary->set_name("canary");
  canary->mutable_match()->set_prefix("/api/");
  canary->mutable_match()->mutable_case_sensitive()->set_value(false);
  route::HeaderMatcher* header = canary->mutable_match()->add_headers();
  header->set_name("x-canary");
  header->set_exact_match("1");
  route::WeightedCluster* weighted = canary->mutable_route()->mutable_weighted_clusters();
  route::WeightedCluster::ClusterWeight* w = weighted->add_clusters();
  w->set_name("backend-v2");
  w->mutable_weight()->set_value(10);
  w = weighted->add_clusters();
  w->set_name("backend");
  w->mutable_weight()->set_value(90);

  route::Route* main = vh->add_routes();
  main->set_name("default");
  main->mutable_match()->set_prefix("");
  route::RouteAction* action = main->mutable_route();
  action->set_cluster("backend");
  action->mutable_timeout()->set_seconds(15);
  action->mutable_retry_policy()->set_retry_on("5xx,reset,connect-failure");
  action->mutable_retry_policy()->mutable_num_retries()->set_value(2);
  action->mutable_retry_policy()->mutable_per_try_timeout()->set_nanos(500000000);
  route::RouteAction::HashPolicy* hash = action->add_hash_policy();
  hash->mutable_header()->set_header_name("x-user");
  hash->set_terminal(true);
  action->add_hash_policy()->mutable_connection_properties()->set_source_ip(true);
  return rc;
}

TEST(XdsProtoTest, RoundTripCluster) {
  cluster::Cluster out = RoundTrip(MakeEdsCluster());
  EXPECT_EQ(out.type(), cluster::Cluster::EDS);
  EXPECT_TRUE(out.eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(out.ring_hash_lb_config().minimum_ring_size().value(), 1024u);
  EXPECT_EQ(out.health_checks(0).http_health_check().path(), "/healthz");
  EXPECT_EQ(out.outlier_detection().consecutive_gateway_failure().value(), 3u);
}

TEST(XdsProtoTest, RoundTripClusterLoadAssignment) {
  endpoint::ClusterLoadAssignment out = RoundTrip(MakeLoadAssignment());
  ASSERT_EQ(out.endpoints_size(), 2);
  EXPECT_EQ(out.endpoints(0).lb_endpoints_size(), 2);
  EXPECT_EQ(out.endpoints(1).priority(), 1u);
  EXPECT_EQ(out.endpoints(1).lb_endpoints(0).health_status(), core::DRAINING);
  EXPECT_EQ(out.endpoints(0).lb_endpoints(0).endpoint().address().socket_address().port_value(),
            8080u);
}

TEST(XdsProtoTest, RoundTripApiListener) {
  listener::Listener out = RoundTrip(MakeApiListener());
  const google::protobuf::Any& any = out.api_listener().api_listener();
  EXPECT_EQ(any.type_url(), kHcmType);
  hcm::HttpConnectionManager manager;
  ASSERT_TRUE(any.UnpackTo(&manager));
  ASSERT_TRUE(manager.has_rds());
  EXPECT_TRUE(manager.rds().config_source().has_ads());
  EXPECT_EQ(manager.rds().route_config_name(), "backend-routes");
  ASSERT_EQ(manager.http_filters_size(), 1);
  EXPECT_EQ(manager.http_filters(0).typed_config().type_url(), kRouterType);
  router::Router r;
  EXPECT_TRUE(manager.http_filters(0).typed_config().UnpackTo(&r));
}

TEST(XdsProtoTest, RoundTripRouteConfiguration) {
  route::RouteConfiguration out = RoundTrip(MakeRouteConfiguration());
  ASSERT_EQ(out.virtual_hosts_size(), 1);
  const route::VirtualHost& vh = out.virtual_hosts(0);
  ASSERT_EQ(vh.routes_size(), 2);
  EXPECT_EQ(vh.routes(0).route().weighted_clusters().clusters(1).weight().value(), 90u);
  EXPECT_TRUE(vh.routes(1).match().has_prefix());
  EXPECT_EQ(vh.routes(1).route().retry_policy().num_retries().value(), 2u);
  EXPECT_TRUE(vh.routes(1).route().hash_policy(0).terminal());
}

TEST(XdsProtoTest, RoundTripDiscoveryResponseWithAllResourceTypes) {
  discovery::DiscoveryResponse response;
  response.set_version_info("7");
  response.set_nonce("n-7");
  response.set_type_url(kClusterType);
  response.mutable_control_plane()->set_identifier("lb-controller-0");
  response.add_resources()->PackFrom(MakeEdsCluster());
  response.add_resources()->PackFrom(MakeLoadAssignment());
  response.add_resources()->PackFrom(MakeApiListener());
  response.add_resources()->PackFrom(MakeRouteConfiguration());

  discovery::DiscoveryResponse out = RoundTrip(response);
  ASSERT_EQ(out.resources_size(), 4);
  EXPECT_EQ(out.resources(0).type_url(), kClusterType);
  EXPECT_EQ(out.resources(1).type_url(), kEndpointType);
  EXPECT_EQ(out.resources(2).type_url(), kListenerType);
  EXPECT_EQ(out.resources(3).type_url(), kRouteType);
  endpoint::ClusterLoadAssignment cla;
  ASSERT_TRUE(out.resources(1).UnpackTo(&cla));
  EXPECT_TRUE(MessageDifferencer::Equals(cla, MakeLoadAssignment()));
}

// Length-delimited field (wire type 2) with a one-byte tag, written by hand.
std::string Ld(int field, const std::string& payload) {
  std::string out(1, static_cast<char>(field << 3 | 2));
  size_t n = payload.size();
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
  return out + payload;
}

// A NACK as gRPC's xDS client sends it, byte by byte.
TEST(XdsProtoTest, DecodesHandEncodedDiscoveryRequest) {
  const std::string bytes =
      Ld(1, "3") +                                       // version_info
      Ld(2, Ld(1, "client-1") + Ld(4, Ld(2, "a"))) +     // node {id, locality {zone}}
      Ld(3, "backend") +                                 // resource_names
      Ld(4, kClusterType) +                              // type_url
      Ld(5, "n-4") +                                     // response_nonce
      Ld(6, std::string("\x08\x03", 2) + Ld(2, "bad"));  // error_detail {code: 3, message}

  discovery::DiscoveryRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));
  EXPECT_EQ(request.version_info(), "3");
  EXPECT_EQ(request.node().id(), "client-1");
  EXPECT_EQ(request.node().locality().zone(), "a");
  ASSERT_EQ(request.resource_names_size(), 1);
  EXPECT_EQ(request.resource_names(0), "backend");
  EXPECT_EQ(request.type_url(), kClusterType);
  EXPECT_EQ(request.response_nonce(), "n-4");
  EXPECT_EQ(request.error_detail().code(), 3);
  EXPECT_EQ(request.error_detail().message(), "bad");

  // Fields are emitted in number order, so re-encoding gives the same bytes.
  EXPECT_EQ(request.SerializeAsString(), bytes);
}

TEST(XdsProtoTest, DecodesHandEncodedTypeUrlOnly) {
  // Field 4 (type_url), wire type 2: tag 0x22, length 0x05.
  discovery::DiscoveryRequest request;
  ASSERT_TRUE(request.ParseFromString(std::string("\x22\x05hello", 7)));
  EXPECT_EQ(request.type_url(), "hello");
  EXPECT_TRUE(request.version_info().empty());
}

TEST(XdsProtoTest, DecodesHandEncodedClusterLoadAssignment) {
  // SocketAddress {address: "10.0.0.1", port_value: 8080 (varint 0x90 0x3f)}
  const std::string socket_address = Ld(2, "10.0.0.1") + std::string("\x18\x90\x3f", 3);
  const std::string lb_endpoint = Ld(1, Ld(1, Ld(1, socket_address))) +  // endpoint.address
                                  std::string("\x10\x01", 2) +           // health_status HEALTHY
                                  Ld(4, std::string("\x08\x07", 2));     // weight {value: 7}
  const std::string locality_endpoints =
      Ld(1, Ld(2, "zone-a")) +             // locality {zone}
      Ld(2, lb_endpoint) +                 // lb_endpoints
      Ld(3, std::string("\x08\x64", 2)) +  // load_balancing_weight {value: 100}
      std::string("\x28\x01", 2);          // priority: 1
  const std::string bytes = Ld(1, "backend") + Ld(2, locality_endpoints);

  endpoint::ClusterLoadAssignment cla;
  ASSERT_TRUE(cla.ParseFromString(bytes));
  EXPECT_EQ(cla.cluster_name(), "backend");
  ASSERT_EQ(cla.endpoints_size(), 1);
  const endpoint::LocalityLbEndpoints& l = cla.endpoints(0);
  EXPECT_EQ(l.locality().zone(), "zone-a");
  EXPECT_EQ(l.load_balancing_weight().value(), 100u);
  EXPECT_EQ(l.priority(), 1u);
  ASSERT_EQ(l.lb_endpoints_size(), 1);
  const endpoint::LbEndpoint& e = l.lb_endpoints(0);
  EXPECT_EQ(e.endpoint().address().socket_address().address(), "10.0.0.1");
  EXPECT_EQ(e.endpoint().address().socket_address().port_value(), 8080u);
  EXPECT_EQ(e.health_status(), core::HEALTHY);
  EXPECT_EQ(e.load_balancing_weight().value(), 7u);
  EXPECT_EQ(cla.SerializeAsString(), bytes);
}

TEST(XdsProtoTest, DecodesHandEncodedDeltaDiscoveryRequest) {
  const std::string bytes = Ld(2, kEndpointType) +                  // type_url
                            Ld(3, "backend") +                      // resource_names_subscribe
                            Ld(5, Ld(1, "backend") + Ld(2, "v9"));  // initial_resource_versions
  discovery::DeltaDiscoveryRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));
  EXPECT_EQ(request.type_url(), kEndpointType);
  ASSERT_EQ(request.resource_names_subscribe_size(), 1);
  EXPECT_EQ(request.resource_names_subscribe(0), "backend");
  ASSERT_EQ(request.initial_resource_versions().count("backend"), 1u);
  EXPECT_EQ(request.initial_resource_versions().at("backend"), "v9");
}

TEST(XdsProtoTest, DecodesHandEncodedDiscoveryResponse) {
  endpoint::ClusterLoadAssignment cla;
  cla.set_cluster_name("backend");
  const std::string any = Ld(1, kEndpointType) + Ld(2, cla.SerializeAsString());
  const std::string bytes = Ld(1, "12") + Ld(2, any) + Ld(4, kEndpointType) + Ld(5, "n-12") +
                            Ld(6, Ld(1, "cp"));  // control_plane {identifier}
  discovery::DiscoveryResponse response;
  ASSERT_TRUE(response.ParseFromString(bytes));
  EXPECT_EQ(response.version_info(), "12");
  EXPECT_EQ(response.type_url(), kEndpointType);
  EXPECT_EQ(response.nonce(), "n-12");
  EXPECT_EQ(response.control_plane().identifier(), "cp");
  ASSERT_EQ(response.resources_size(), 1);
  endpoint::ClusterLoadAssignment decoded;
  ASSERT_TRUE(response.resources(0).UnpackTo(&decoded));
  EXPECT_EQ(decoded.cluster_name(), "backend");
}

}  // namespace

// The Load Reporting Service (docs/lrs.md): Envoy's numbers for every field the project uses,
// the method path, and a report decoded from hand-encoded bytes.
TEST(XdsProtoTest, LoadReportingFieldNumbers) {
  namespace lrs = envoy::service::load_stats::v3;
  ExpectFieldNumbers({
      {lrs::LoadStatsRequest::descriptor(), "node", 1},
      {lrs::LoadStatsRequest::descriptor(), "cluster_stats", 2},
      {lrs::LoadStatsResponse::descriptor(), "clusters", 1},
      {lrs::LoadStatsResponse::descriptor(), "load_reporting_interval", 2},
      {lrs::LoadStatsResponse::descriptor(), "report_endpoint_granularity", 3},
      {lrs::LoadStatsResponse::descriptor(), "send_all_clusters", 4},
      {endpoint::ClusterStats::descriptor(), "cluster_name", 1},
      {endpoint::ClusterStats::descriptor(), "upstream_locality_stats", 2},
      {endpoint::ClusterStats::descriptor(), "total_dropped_requests", 3},
      {endpoint::ClusterStats::descriptor(), "load_report_interval", 4},
      {endpoint::ClusterStats::descriptor(), "dropped_requests", 5},
      {endpoint::ClusterStats::descriptor(), "cluster_service_name", 6},
      {endpoint::ClusterStats::DroppedRequests::descriptor(), "category", 1},
      {endpoint::ClusterStats::DroppedRequests::descriptor(), "dropped_count", 2},
      {endpoint::UpstreamLocalityStats::descriptor(), "locality", 1},
      {endpoint::UpstreamLocalityStats::descriptor(), "total_successful_requests", 2},
      {endpoint::UpstreamLocalityStats::descriptor(), "total_requests_in_progress", 3},
      {endpoint::UpstreamLocalityStats::descriptor(), "total_error_requests", 4},
      {endpoint::UpstreamLocalityStats::descriptor(), "load_metric_stats", 5},
      {endpoint::UpstreamLocalityStats::descriptor(), "priority", 6},
      {endpoint::UpstreamLocalityStats::descriptor(), "upstream_endpoint_stats", 7},
      {endpoint::UpstreamLocalityStats::descriptor(), "total_issued_requests", 8},
      {endpoint::UpstreamEndpointStats::descriptor(), "address", 1},
      {endpoint::UpstreamEndpointStats::descriptor(), "total_successful_requests", 2},
      {endpoint::UpstreamEndpointStats::descriptor(), "total_requests_in_progress", 3},
      {endpoint::UpstreamEndpointStats::descriptor(), "total_error_requests", 4},
      {endpoint::UpstreamEndpointStats::descriptor(), "load_metric_stats", 5},
      {endpoint::UpstreamEndpointStats::descriptor(), "total_issued_requests", 7},
      {endpoint::EndpointLoadMetricStats::descriptor(), "metric_name", 1},
      {endpoint::EndpointLoadMetricStats::descriptor(), "num_requests_finished_with_metric", 2},
      {endpoint::EndpointLoadMetricStats::descriptor(), "total_metric_value", 3},
      {core::ConfigSource::descriptor(), "self", 5},
  });
  const google::protobuf::ServiceDescriptor* service =
      lrs::LoadStatsRequest::descriptor()->file()->FindServiceByName("LoadReportingService");
  ASSERT_NE(service, nullptr);
  const google::protobuf::MethodDescriptor* method = service->FindMethodByName("StreamLoadStats");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(method->full_name(),
            "envoy.service.load_stats.v3.LoadReportingService.StreamLoadStats");
  EXPECT_TRUE(method->client_streaming());
  EXPECT_TRUE(method->server_streaming());
}

TEST(XdsProtoTest, DecodesHandEncodedLoadStatsRequest) {
  // LoadStatsRequest{cluster_stats: {cluster_name: "c", load_report_interval: {seconds: 2},
  //   upstream_locality_stats: {total_successful_requests: 5, total_error_requests: 1,
  //     upstream_endpoint_stats: {total_issued_requests: 6}}}}
  const std::string bytes(
      "\x12\x11"  // cluster_stats (2), 17 bytes
      "\x0a\x01"
      "c"                  // cluster_name (1)
      "\x22\x02\x08\x02"   // load_report_interval (4) {seconds: 2}
      "\x12\x08"           // upstream_locality_stats (2), 8 bytes
      "\x10\x05\x20\x01"   //   successful (2) 5, errors (4) 1
      "\x3a\x02\x38\x06",  //   upstream_endpoint_stats (7) {issued (7): 6}
      19);
  envoy::service::load_stats::v3::LoadStatsRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));
  ASSERT_EQ(request.cluster_stats_size(), 1);
  const endpoint::ClusterStats& c = request.cluster_stats(0);
  EXPECT_EQ(c.cluster_name(), "c");
  EXPECT_EQ(c.load_report_interval().seconds(), 2);
  ASSERT_EQ(c.upstream_locality_stats_size(), 1);
  EXPECT_EQ(c.upstream_locality_stats(0).total_successful_requests(), 5u);
  EXPECT_EQ(c.upstream_locality_stats(0).total_error_requests(), 1u);
  ASSERT_EQ(c.upstream_locality_stats(0).upstream_endpoint_stats_size(), 1);
  EXPECT_EQ(c.upstream_locality_stats(0).upstream_endpoint_stats(0).total_issued_requests(), 6u);
}
