// Turns the xDS resources a proxy receives into its ProxyConfig. Pure: no gRPC, no threads, no
// clock. The ADS client feeds every response in and publishes what Build() returns.
//
// What is accepted (Envoy v3 semantics; unset fields get Envoy's defaults):
//   Cluster                 type EDS with eds_config `ads {}`; lb_policy RANDOM, ROUND_ROBIN,
//                           LEAST_REQUEST, RING_HASH or MAGLEV; at most one HTTP health check;
//                           outlier_detection (consecutive 5xx / gateway failures); the panic
//                           threshold; connect_timeout (default 5 s).
//   ClusterLoadAssignment   named by cluster_name; priority 0 only; IP-literal socket
//                           addresses, ports 1-65535, weights >= 1, no duplicate address:port.
//                           HEALTHY/UNKNOWN/DEGRADED endpoints are used, DRAINING ones are marked
//                           draining, UNHEALTHY/TIMEOUT ones are left out.
//   RouteConfiguration      only "default" (kRouteConfigName); prefix matches ("" or starting
//                           with "/"), optionally on ":scheme" (exact_match), routing to one
//                           cluster, with retry and hash policy, or an https_redirect.
//   Listener                only kIngressTlsListenerName (docs/tls.md): filter chains with
//                           SNI server_names and a DownstreamTlsContext naming one certificate
//                           Secret over ADS, TLS 1.2-1.3, ALPN h2/http/1.1, the ticket-key
//                           Secret; default_filter_chain likewise. Others are ignored.
//   Secret                  tls_certificate (inline PEM chain and key that must match, optional
//                           OCSP staple) or session_ticket_keys (80 bytes each).
//   Cluster.transport_socket  UpstreamTlsContext: sni, trusted_ca (inline or filename; absent:
//                           no verification), at most one client certificate Secret, ALPN.
//
// TLS consistency: the listener is built with the chains whose certificate Secret arrived (none:
// tls_listener is null and the proxy refuses handshakes); a cluster whose client certificate
// Secret has not arrived is warming. A rejected Secret keeps its previous good version.
//
// Validation is complete: every problem of every resource in a response is reported, each with
// its field path, in one kInvalidArgument whose message becomes the NACK's error_detail:
//   Cluster "web": lb_policy: unsupported value 6; connect_timeout: must be positive
// Resources are accepted one by one (as gRPC's xDS client does, gRFC A46): the valid ones of a
// response take effect, a rejected one leaves its previous good version in place (a rejected
// new one stays absent).
//
// Consistency (make-before-break): a cluster appears in the built config only once both its
// Cluster and its ClusterLoadAssignment have been accepted (until then it is "warming"); a
// cluster missing from a CDS response is removed together with its endpoints. A
// ClusterLoadAssignment for a cluster that is not (or not yet) accepted is ignored, as are
// RouteConfigurations other than "default": they were not subscribed to. Routes may name
// clusters that do not exist (requests to them are answered 503); Warnings() lists them.
//
// Versions: ClusterConfig::version, endpoints_version and ProxyConfig::routes_version are the
// version_info of the response in which that resource's content last changed, so a resend of
// identical content changes nothing.
//
// Not thread-safe: one owner (the ADS client's thread) calls everything.
#ifndef LB_PROXY_XDS_CONFIG_BUILDER_H_
#define LB_PROXY_XDS_CONFIG_BUILDER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/validation/validation_errors.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/config/config.h"

namespace lb::proxy::xds {

// The type URLs this builder accepts (defined in common/xds/type_urls.h).

// The one RouteConfiguration a proxy subscribes to.
inline constexpr char kRouteConfigName[] = "default";

class ConfigBuilder {
 public:
  ConfigBuilder();

  // A CDS state-of-the-world update: `clusters` is the complete set, so an accepted cluster
  // that is not in it is removed (with its endpoints). OkStatus, or kInvalidArgument listing
  // every problem (the valid clusters are applied all the same).
  absl::Status ApplyClusters(const std::vector<envoy::config::cluster::v3::Cluster>& clusters,
                             absl::string_view version);

  // An EDS update: only the named assignments change; none is removed implicitly.
  absl::Status ApplyLoadAssignments(
      const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& assignments,
      absl::string_view version);

  // An RDS update.
  absl::Status ApplyRouteConfigurations(
      const std::vector<envoy::config::route::v3::RouteConfiguration>& route_configs,
      absl::string_view version);

  // An LDS update (state of the world): a response without kIngressTlsListenerName removes it.
  absl::Status ApplyListeners(const std::vector<envoy::config::listener::v3::Listener>& listeners,
                              absl::string_view version);
  // An SDS update: only the named Secrets change.
  absl::Status ApplySecrets(
      const std::vector<envoy::extensions::transport_sockets::tls::v3::Secret>& secrets,
      absl::string_view version);

  // Decodes the response's resources and applies them as above. A resource that cannot be
  // decoded is an error ("resources[2]: ..."); if a CDS response has one, no cluster is removed
  // by it (the undecodable one might have been any of them). kInvalidArgument for a type_url
  // other than the five above.
  absl::Status ApplyResponse(const envoy::service::discovery::v3::DiscoveryResponse& response);

  // The Secrets the accepted listener and clusters reference, sorted: the SDS subscription.
  std::vector<std::string> SecretNames() const;
  // Names of the accepted clusters, sorted: the EDS subscription.
  std::vector<std::string> ClusterNames() const;
  // Accepted clusters still waiting for their ClusterLoadAssignment, sorted.
  std::vector<std::string> WarmingClusters() const;
  // True once a CDS or RDS response has been applied (even partly).
  bool clusters_received() const { return clusters_received_; }
  bool routes_received() const { return routes_received_; }

  // Routes whose cluster is not in the built config, e.g.
  //   RouteConfiguration "default": virtual_hosts[0].routes[1].route.cluster: unknown cluster
  //   "nope"
  std::vector<std::string> Warnings() const;

  // The configuration of everything accepted so far (warm clusters only). Returns the same
  // pointer for as long as the result does not change. Never null.
  std::shared_ptr<const ProxyConfig> Build();

 private:
  struct ClusterEntry {
    // Without endpoints; a client certificate is only named (its PEM comes from secrets_).
    ClusterConfig config;
  };
  struct ChainRef {
    std::vector<std::string> server_names;
    std::string secret;  // The certificate's Secret.
  };
  struct ListenerEntry {
    std::string version;
    std::vector<ChainRef> chains;
    std::optional<ChainRef> default_chain;
    std::string ticket_secret;  // "" when none is referenced.
    int min_version = 0x0303;
    int max_version = 0x0304;
    std::vector<std::string> alpn;
  };
  struct SecretEntry {
    std::string version;
    std::optional<TlsCertificateConfig> certificate;
    std::vector<std::string> ticket_keys;
  };
  struct EndpointsEntry {
    std::string version;
    std::vector<EndpointConfig> endpoints;
  };
  struct RouteRef {
    std::string path;
    std::string cluster;
  };
  struct RoutesEntry {
    std::string version;
    std::vector<VirtualHostConfig> virtual_hosts;
    std::vector<RouteRef> refs;
  };

  // `complete`: whether `clusters` is the whole set (no undecodable resource in the response).
  // `indexes[i]` is the position of clusters[i] in the response, for error paths.
  void ApplyClustersInternal(const std::vector<envoy::config::cluster::v3::Cluster>& clusters,
                             const std::vector<int>& indexes, bool complete,
                             absl::string_view version, ValidationErrors* errors);
  void ApplyLoadAssignmentsInternal(
      const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& assignments,
      const std::vector<int>& indexes, absl::string_view version, ValidationErrors* errors);
  void ApplyListenersInternal(const std::vector<envoy::config::listener::v3::Listener>& listeners,
                              const std::vector<int>& indexes, absl::string_view version,
                              ValidationErrors* errors);
  void ApplySecretsInternal(
      const std::vector<envoy::extensions::transport_sockets::tls::v3::Secret>& secrets,
      const std::vector<int>& indexes, absl::string_view version, ValidationErrors* errors);
  // The listener of listener_ and secrets_ (null without a certificate).
  std::shared_ptr<const TlsListenerConfig> BuildTlsListener() const;
  const TlsCertificateConfig* FindCertificate(const std::string& secret) const;
  void ApplyRoutesInternal(
      const std::vector<envoy::config::route::v3::RouteConfiguration>& route_configs,
      const std::vector<int>& indexes, absl::string_view version, ValidationErrors* errors);

  std::map<std::string, ClusterEntry> clusters_;
  std::map<std::string, EndpointsEntry> endpoints_;
  std::optional<RoutesEntry> routes_;
  std::optional<ListenerEntry> listener_;
  std::map<std::string, SecretEntry> secrets_;
  std::shared_ptr<const TlsListenerConfig> tls_listener_;  // Last built, reused while the same.
  bool clusters_received_ = false;
  bool routes_received_ = false;
  bool dirty_ = false;
  std::shared_ptr<const ProxyConfig> built_;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_CONFIG_BUILDER_H_
