// The xDS type URLs the project speaks (Envoy v3), defined once for the controller, the proxy,
// tests and fuzzers. Each is "type.googleapis.com/" + the message's full name, as
// google.protobuf.Any::PackFrom writes it; tests/common/xds/type_urls_test.cc checks that against
// the vendored protos.
#ifndef LB_COMMON_XDS_TYPE_URLS_H_
#define LB_COMMON_XDS_TYPE_URLS_H_

namespace lb::xds {

// What every type URL starts with; + a message's full name gives its type URL.
inline constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

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

// SDS: certificates, session ticket keys and CA bundles.
inline constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Typed configs of a core.v3.TransportSocket named kTlsTransportSocketName.
inline constexpr char kTlsTransportSocketName[] = "envoy.transport_sockets.tls";
inline constexpr char kDownstreamTlsContextType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
inline constexpr char kUpstreamTlsContextType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

// Cluster.typed_extension_protocol_options: the key and type of the upstream HTTP version.
inline constexpr char kHttpProtocolOptionsName[] =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
inline constexpr char kHttpProtocolOptionsType[] =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// The Listener a proxy subscribes to for its TLS listener (--tls_listen): one filter chain per
// certificate, matched by SNI (docs/tls.md).
inline constexpr char kIngressTlsListenerName[] = "lb.ingress.https";
// The Secret holding the session ticket keys every proxy shares (rotated by the controller).
inline constexpr char kSessionTicketKeysSecretName[] = "lb.session-ticket-keys";

}  // namespace lb::xds

#endif  // LB_COMMON_XDS_TYPE_URLS_H_
