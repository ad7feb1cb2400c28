// The xDS type URLs the project speaks (Envoy v3), defined once for the controller, the proxy,
// tests and fuzzers. Each is "type.googleapis.com/" + the message's full name, as
// google.protobuf.Any::PackFrom writes it; tests/common/xds/type_urls_test.cc checks that against
// the vendored protos.
#ifndef LB_COMMON_XDS_TYPE_URLS_H_
#define LB_COMMON_XDS_TYPE_URLS_H_

namespace lb::xds {

// The four resource types of ADS.
inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kEndpointType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// Typed configs inside a Listener.
inline constexpr char kHcmType[] =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager";
inline constexpr char kRouterType[] =
    "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

// A real xDS type (SDS) that the controller does not serve and the proxy does not accept.
inline constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

}  // namespace lb::xds

#endif  // LB_COMMON_XDS_TYPE_URLS_H_
