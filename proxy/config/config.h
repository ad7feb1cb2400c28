// The proxy's view of its configuration: what the ADS client builds from xDS resources and the
// main thread turns into snapshots for the workers. Plain values, immutable once published.
#ifndef LB_PROXY_CONFIG_CONFIG_H_
#define LB_PROXY_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/net/address.h"

namespace lb::proxy {

enum class LbPolicy { kRandom, kRoundRobin, kLeastRequest, kRingHash, kMaglev };

// The HTTP version spoken to a cluster's endpoints (CDS typed_extension_protocol_options).
enum class UpstreamProtocol { kHttp1, kHttp2 };

struct HashPolicy {
  enum class Kind { kSourceIp, kHeader, kCookie };
  Kind kind = Kind::kSourceIp;
  std::string name;  // Header or cookie name.
  // kCookie only (xDS RouteAction.HashPolicy.Cookie). generate_cookie (Cookie.ttl present): a
  // request without the cookie gets one, "NAME=VALUE", then "; Max-Age=<ttl seconds>" unless
  // cookie_ttl is 0 (a session cookie), "; Path=<cookie_path>" if not empty, then each attribute
  // as "; name" (empty value) or "; name=value", in order; nothing else is added.
  bool generate_cookie = false;
  absl::Duration cookie_ttl;
  std::string cookie_path;
  std::vector<std::pair<std::string, std::string>> cookie_attributes;
};

struct HealthCheckConfig {
  // Empty (and grpc false): no active health checking.
  std::string path;
  // gRPC grpc.health.v1.Health/Check of grpc_service_name ("" = the whole server) instead of
  // an HTTP GET; HTTP/2 clusters only.
  bool grpc = false;
  std::string grpc_service_name;
  std::string grpc_authority;  // :authority of the check; empty: the endpoint's hostname or IP.
  bool enabled() const { return grpc || !path.empty(); }
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
  uint32_t healthy_threshold = 2;
  uint32_t unhealthy_threshold = 3;
};

struct OutlierConfig {
  uint32_t consecutive_5xx = 5;              // 0 disables.
  uint32_t consecutive_gateway_failure = 5;  // Connect failures, resets, timeouts. 0 disables.
  absl::Duration interval = absl::Seconds(10);
  absl::Duration base_ejection_time = absl::Seconds(30);
  uint32_t max_ejection_percent = 50;
};

// A cluster's limits across all workers (xDS CircuitBreakers, DEFAULT priority). Envoy's
// defaults. Requests beyond one are answered 503 (response flag UO); retries beyond
// max_retries are not made.
struct CircuitBreakerConfig {
  uint32_t max_connections = 1024;       // Upstream connections open.
  uint32_t max_pending_requests = 1024;  // Requests waiting for a connection to be set up.
  uint32_t max_requests = 1024;          // Requests in flight.
  uint32_t max_retries = 3;              // Retries in flight that take a slot (router.h).
};

struct EndpointConfig {
  std::string address;  // IP literal.
  uint16_t port = 0;
  uint32_t weight = 1;
  std::string zone;
  std::string hostname;   // The name it was resolved from, if any.
  bool draining = false;  // No new requests.

  std::string Key() const;  // "10.0.0.1:80" / "[::1]:80": identity within a cluster.
};

// A certificate with its key (an SDS Secret's tls_certificate), PEM.
struct TlsCertificateConfig {
  std::string name;               // The Secret's name.
  std::string certificate_chain;  // Leaf first.
  std::string private_key;
  std::string ocsp_staple;  // DER; empty: none.
};

// The TLS listener (Listener kIngressTlsListenerName and the Secrets it references; see
// docs/tls.md). Only chains whose certificate arrived are listed.
struct TlsListenerConfig {
  struct Chain {
    std::vector<std::string> server_names;  // Exact names or "*.suffix"; lowercase.
    TlsCertificateConfig certificate;
  };
  std::vector<Chain> chains;
  std::optional<TlsCertificateConfig> default_certificate;  // No SNI, or an unknown one.
  int min_version = 0x0303;                                 // TLS 1.2 (wire value).
  int max_version = 0x0304;                                 // TLS 1.3.
  std::vector<std::string> alpn;                            // Offered, in preference order.
  // Session ticket keys, 80 bytes each; the first encrypts, all decrypt. Empty: each context
  // makes its own (resumption then works only on the same proxy and context).
  std::vector<std::string> ticket_keys;
  std::string version;  // Of the Listener and Secrets it was built from, for /config_dump.
};

// A cluster's upstream TLS (Cluster.transport_socket with an UpstreamTlsContext).
struct UpstreamTlsConfig {
  std::string sni;         // Also the name the certificate must carry when verifying.
  bool verify = true;      // False: no validation_context (insecure_skip_verify).
  std::string trusted_ca;  // PEM bundle (read from a file when the resource named one).
  std::optional<TlsCertificateConfig> client_certificate;
  std::vector<std::string> alpn;
};

struct ClusterConfig {
  std::string name;
  std::string version;            // Of the Cluster resource.
  std::string endpoints_version;  // Of the ClusterLoadAssignment.
  LbPolicy policy = LbPolicy::kRandom;
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  // HTTP/2: the most streams opened on one connection (Http2ProtocolOptions
  // max_concurrent_streams); 0: only the peer's SETTINGS and the proxy's own cap apply.
  uint32_t http2_max_concurrent_streams = 0;
  absl::Duration connect_timeout = absl::Seconds(1);
  HealthCheckConfig health_check;
  OutlierConfig outlier;
  uint32_t healthy_panic_threshold = 50;  // Percent; 0 disables panic mode.
  // Hash policies' table sizes (ring_hash_lb_config / maglev_lb_config). Envoy's defaults,
  // except the ring's cap: 2^20 points by default (up to 8M if configured) bounds each rebuild
  // at about 12 MB.
  uint64_t min_ring_size = 1024;
  uint64_t max_ring_size = uint64_t{1} << 20;
  uint32_t maglev_table_size = 65537;  // Prime.
  CircuitBreakerConfig circuit_breakers;
  // Slow start (Envoy's SlowStartConfig; 0: off): for `slow_start_window` after an endpoint
  // joins or becomes healthy again, its weight is
  //   weight * max(slow_start_min_weight, (elapsed / window) ^ (1 / slow_start_aggression)).
  absl::Duration slow_start_window = absl::ZeroDuration();
  double slow_start_aggression = 1.0;
  double slow_start_min_weight = 0.1;  // A fraction (Envoy's min_weight_percent / 100).
  // Null: plaintext. Shared because it is immutable and may carry a CA bundle.
  std::shared_ptr<const UpstreamTlsConfig> tls;
  std::vector<EndpointConfig> endpoints;
};

// A route that answers with a redirect instead of forwarding (RedirectAction https_redirect).
struct RedirectConfig {
  bool https = false;  // Scheme https; port --https_port.
  int status = 301;    // 301, 302, 303, 307 or 308.
};

// A request header condition (xDS HeaderMatcher). ":method" matches the request method.
struct HeaderMatcherConfig {
  enum class Kind { kExact, kPrefix, kSuffix, kContains, kPresent };
  std::string name;  // Lowercase.
  Kind kind = Kind::kExact;
  std::string value;  // Unused by kPresent.
  bool invert = false;
};

// One cluster of a weighted split (xDS WeightedCluster.ClusterWeight).
struct WeightedClusterConfig {
  std::string name;
  uint32_t weight = 0;
};

// A request header a route sets (append false) or adds (append true).
struct HeaderChangeConfig {
  std::string name;  // Lowercase.
  std::string value;
  bool append = false;
};

struct RouteConfig {
  std::string name;
  std::string prefix = "/";
  // Non-empty: the path (without the query) must equal this, and `prefix` is unused.
  std::string path;
  std::vector<HeaderMatcherConfig> headers;  // All must hold.
  // Only requests whose scheme is this ("http" / "https"); empty: any (HeaderMatcher ":scheme"
  // exact_match).
  std::string scheme;
  std::optional<RedirectConfig> redirect;  // Set: a redirect, `cluster` unused.
  std::string cluster;
  // Non-empty: a weighted split (`cluster` unused); total_weight is the sum, at least 1.
  std::vector<WeightedClusterConfig> weighted_clusters;
  uint64_t total_weight = 0;
  // Applied to the request before it goes upstream: removals, then additions.
  std::vector<std::string> headers_to_remove;  // Lowercase.
  std::vector<HeaderChangeConfig> headers_to_add;
  uint32_t retries = 2;  // Extra attempts on other endpoints.
  bool has_hash_policy = false;
  HashPolicy hash_policy;
};

struct VirtualHostConfig {
  std::string domain;               // "*", "example.com", "*.example.com", optionally with ":port".
  std::vector<RouteConfig> routes;  // Matched in order.
};

struct ProxyConfig {
  std::map<std::string, ClusterConfig> clusters;
  // Null until the TLS listener and at least one of its certificates were received.
  std::shared_ptr<const TlsListenerConfig> tls_listener;
  std::vector<VirtualHostConfig> virtual_hosts;
  std::string routes_version;
};

inline std::string EndpointConfig::Key() const { return net::JoinHostPort(address, port); }

}  // namespace lb::proxy

#endif  // LB_PROXY_CONFIG_CONFIG_H_
