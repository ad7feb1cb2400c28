// Translation of the lb.v1 model into Envoy v3 xDS resources. Pure functions.
//
// Per model cluster NAME:
//   Cluster NAME                 EDS over ADS, policy, health check, outlier detection, circuit
//                                breakers (sent to gRPC clients too)
//   ClusterLoadAssignment NAME   weights, one locality per zone, DRAINING endpoints marked
//   Listener NAME                api_listener whose inline route sends everything to NAME, so a
//                                gRPC client with target xds:///NAME balances over NAME
// Plus RouteConfiguration "default": the ingress route table for the proxies (host and
// path-prefix routes, each carrying its cluster's retry and hash policy).
// TLS (docs/tls.md): per certificate NAME a Secret NAME; the Secret "lb.session-ticket-keys";
// the Listener "lb.ingress.https" with one filter chain per certificate (while there is one);
// a cluster's upstream_tls as Cluster.transport_socket (Envoy flavour only); a route's
// https_redirect as a redirect route for plaintext requests before the route itself.
#ifndef LB_CONTROLLER_XDS_RESOURCES_H_
#define LB_CONTROLLER_XDS_RESOURCES_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "lb/v1/lb.pb.h"

namespace lb::xds {

// Name of the proxies' route table.
inline constexpr char kIngressRouteConfig[] = "default";
// The redirect route of a route NAME with https_redirect is named NAME + this.
inline constexpr char kHttpsRedirectSuffix[] = "/https-redirect";
// The proxies' system trust store: trusted_ca of an upstream_tls without ca_pem.
inline constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";

// Addresses a hostname resolved to (empty if unknown).
using HostLookup = std::function<std::vector<std::string>(const std::string& hostname)>;

// Which flavour of Cluster a client gets. gRPC's xDS client accepts only ROUND_ROBIN and
// RING_HASH and does its own health checking, so it gets a reduced Cluster.
enum class ClientFlavor { kEnvoy, kGrpc };

// `lrs`: a gRPC client's Cluster names this controller as its LRS server (lrs_server:
// {self: {}}), so the client reports its load (docs/lrs.md).
envoy::config::cluster::v3::Cluster BuildCluster(const lb::v1::Cluster& cluster,
                                                 ClientFlavor flavor, bool lrs = false);

// Hostname endpoints expand to one endpoint per resolved address (unresolved ones are left
// out); a duplicate address:port keeps its first occurrence. Expansions count against the
// model's endpoint limit (model::kMaxEndpointsPerCluster): each model endpoint keeps its first
// address, further ones are added while the total stays within the limit; the addresses left
// out are counted in `*over_limit` if given.
envoy::config::endpoint::v3::ClusterLoadAssignment BuildLoadAssignment(
    const lb::v1::Cluster& cluster, const HostLookup& lookup, size_t* over_limit = nullptr);

envoy::config::listener::v3::Listener BuildApiListener(const lb::v1::Cluster& cluster);

// `clusters` supplies each routed cluster's retry count and hash policy (missing ones get
// defaults). One virtual host per distinct host, in first-use order (a bare IPv6 host "::1"
// becomes the domain "[::1]", as Host headers spell it). Since a proxy uses only the most
// specific matching virtual host, each one lists every route that applies to its host: its own,
// then those of covering hosts ("*.example.com" for "a.example.com", then "*"), each group
// longest prefix first, ties in table order (the precedence lb.proto documents for Route).
envoy::config::route::v3::RouteConfiguration BuildIngressRoutes(
    const lb::v1::RouteTable& table,
    const absl::flat_hash_map<std::string, lb::v1::Cluster>& clusters);

// The ALPN protocol a cluster's upstream TLS offers.
std::string UpstreamAlpn(const lb::v1::Cluster& cluster);

// Secret NAME { tls_certificate { chain, key, ocsp_staple if set } }.
envoy::extensions::transport_sockets::tls::v3::Secret BuildCertificateSecret(
    const lb::v1::Certificate& cert);
// Secret "lb.session-ticket-keys", keys in stored order (newest first).
envoy::extensions::transport_sockets::tls::v3::Secret BuildTicketKeysSecret(
    const lb::v1::SessionTicketKeys& keys);
// Listener "lb.ingress.https": one filter chain per certificate in name order, matched by its
// SNI names; default_filter_chain is a copy of the default certificate's (or the only one's).
// nullopt without certificates (a listener without filter chains is invalid).
std::optional<envoy::config::listener::v3::Listener> BuildTlsListener(
    const std::map<std::string, std::shared_ptr<const lb::v1::Certificate>>& certificates);

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_RESOURCES_H_
