// Tests of common/xds/type_urls.h against the vendored Envoy protos.
#include "common/xds/type_urls.h"

#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "google/protobuf/any.pb.h"
#include "gtest/gtest.h"

namespace lb::xds {
namespace {

// The type URL Any::PackFrom writes for a default T.
template <typename T>
std::string PackedTypeUrl() {
  google::protobuf::Any any;
  any.PackFrom(T());
  return any.type_url();
}

TEST(TypeUrlsTest, MatchWhatAnyPackFromWrites) {
  EXPECT_EQ(PackedTypeUrl<envoy::config::listener::v3::Listener>(), kListenerType);
  EXPECT_EQ(PackedTypeUrl<envoy::config::route::v3::RouteConfiguration>(), kRouteType);
  EXPECT_EQ(PackedTypeUrl<envoy::config::cluster::v3::Cluster>(), kClusterType);
  EXPECT_EQ(PackedTypeUrl<envoy::config::endpoint::v3::ClusterLoadAssignment>(), kEndpointType);
  EXPECT_EQ(PackedTypeUrl<envoy::extensions::filters::network::http_connection_manager::v3::
                              HttpConnectionManager>(),
            kHcmType);
  EXPECT_EQ(PackedTypeUrl<envoy::extensions::filters::http::router::v3::Router>(), kRouterType);
  EXPECT_EQ(PackedTypeUrl<envoy::extensions::transport_sockets::tls::v3::Secret>(), kSecretType);
  EXPECT_EQ(PackedTypeUrl<envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext>(),
            kDownstreamTlsContextType);
  EXPECT_EQ(PackedTypeUrl<envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext>(),
            kUpstreamTlsContextType);
  EXPECT_EQ(PackedTypeUrl<envoy::extensions::upstreams::http::v3::HttpProtocolOptions>(),
            kHttpProtocolOptionsType);
}

TEST(TypeUrlsTest, ExactText) {
  EXPECT_STREQ(kListenerType, "type.googleapis.com/envoy.config.listener.v3.Listener");
  EXPECT_STREQ(kRouteType, "type.googleapis.com/envoy.config.route.v3.RouteConfiguration");
  EXPECT_STREQ(kClusterType, "type.googleapis.com/envoy.config.cluster.v3.Cluster");
  EXPECT_STREQ(kEndpointType, "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment");
  EXPECT_STREQ(kSecretType, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret");
  EXPECT_STREQ(kHttpProtocolOptionsType,
               "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  // The map key is the message's full name.
  EXPECT_EQ(std::string(kTypeUrlPrefix) + kHttpProtocolOptionsName, kHttpProtocolOptionsType);
  EXPECT_STREQ(kTypeUrlPrefix, "type.googleapis.com/");
}

}  // namespace
}  // namespace lb::xds
