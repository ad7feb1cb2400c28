// Validation and normalization of the lb.v1 model. Every Normalize* call fills defaults,
// canonicalizes what has several spellings (IP literals, hostnames) and reports every problem
// at once, each with its field path, in one kInvalidArgument status (lb::ValidationErrors), e.g.
//   "endpoint.port: must be from 1 to 65535, got 0; endpoint.weight: must be from 1 to 10000"
// That text is what REST clients, lbctl users and NACKs see.
//
// Text fields. proto3 string fields must hold valid UTF-8: a message with anything else fails to
// parse, so a stored cluster holding such bytes would be unreadable forever. Every string field
// of the model is therefore checked here before it can be stored: names, label keys, hosts and
// addresses are restricted to ASCII grammars, and the free-text fields (zone, label values,
// health-check path, route path prefix) must be valid UTF-8 without control characters (C0, DEL
// or C1); their length limits count bytes.
#ifndef LB_CONTROLLER_MODEL_VALIDATION_H_
#define LB_CONTROLLER_MODEL_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/validation/validation_errors.h"
#include "lb/v1/lb.pb.h"

namespace lb::model {

inline constexpr uint32_t kMaxWeight = 10000;
inline constexpr uint32_t kMaxRetries = 10;
inline constexpr size_t kMaxEndpointsPerCluster = 10000;
// Labels of one endpoint: at most this many, keys 1-kMaxLabelKeyBytes of [a-zA-Z0-9_.-/],
// values at most kMaxLabelValueBytes printable bytes (each endpoint is one store key; these keep
// it small).
inline constexpr size_t kMaxLabelsPerEndpoint = 64;
inline constexpr size_t kMaxLabelKeyBytes = 63;
inline constexpr size_t kMaxLabelValueBytes = 256;
inline constexpr size_t kMaxRouteHosts = 100;
inline constexpr size_t kMaxGrpcServiceNameBytes = 256;
// Routes: weighted splits, header matches and header changes (Gateway API's own limits: 16
// backendRefs per rule, 16 header matches, 16 modifier entries; weights 0-1000000).
inline constexpr size_t kMaxWeightedClusters = 16;
inline constexpr uint32_t kMaxClusterWeight = 1000000;
inline constexpr size_t kMaxRouteHeaderMatches = 16;
inline constexpr size_t kMaxRouteHeaderChanges = 16;
inline constexpr size_t kMaxHeaderValueBytes = 4096;
// Slow start window bounds (Cluster.slow_start_window).
inline constexpr int64_t kMaxSlowStartSeconds = 3600;
// Circuit breakers: Envoy's defaults (what a proxy or gRPC client applies to a Cluster sent
// without them) and the upper bound of every limit.
inline constexpr uint32_t kDefaultMaxConnections = 1024;
inline constexpr uint32_t kDefaultMaxPendingRequests = 1024;
inline constexpr uint32_t kDefaultMaxRequests = 1024;
inline constexpr uint32_t kDefaultMaxRetries = 3;
inline constexpr uint32_t kMaxCircuitBreakerLimit = 1000000;

// Length in bytes (1-4) of the well-formed UTF-8 sequence that starts `s` (no overlong forms,
// surrogates or code points above U+10FFFF), or 0 if `s` is empty or starts with a malformed one.
size_t Utf8SequenceLength(absl::string_view s);

// True if all of `s` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view s);

// True for an IPv4 or IPv6 literal (no brackets, no zone index). Any byte outside printable
// ASCII (e.g. an embedded NUL) makes it false.
bool IsIpLiteral(absl::string_view address);

// True for a syntactically valid DNS name (RFC 1123 labels, at most 253 characters).
bool IsHostname(absl::string_view address);

// IP literals in canonical text form ("::1", "10.0.0.1"); hostnames lowercased without a
// trailing dot. kInvalidArgument: `"x" is neither an IP address nor a hostname`.
absl::StatusOr<std::string> NormalizeAddress(absl::string_view address);

// The message for a port outside 1-65535 (without a path), or "" if valid. 128 bits, so that
// every integer a client can send (any int64 or uint64) is reported exactly as given.
std::string PortProblem(absl::int128 port);

// Unset fields get their defaults (lb.proto); explicit zeros are kept or refused, never replaced.

// Defaults: weight 1, admin_state ACTIVE. Clears output-only fields. Problems are recorded
// under `errors`' current path (e.g. "port" at the top, "cluster.endpoints[2].port" nested).
void NormalizeEndpoint(lb::v1::Endpoint* endpoint, ValidationErrors* errors);
absl::Status NormalizeEndpoint(lb::v1::Endpoint* endpoint, absl::string_view path = "endpoint");

// Defaults for every unset setting (see lb.proto); validates endpoints too (no duplicate
// address:port) and the hash policy (only on RING_HASH and MAGLEV). Clears version and
// output-only fields.
absl::Status NormalizeCluster(lb::v1::Cluster* cluster, absl::string_view path = "cluster");

// Gives each unset limit of `cb` its default (kDefaultMax*); set ones, 0 included, are kept.
void SetCircuitBreakerDefaults(lb::v1::CircuitBreakers* cb);

// A cluster as stored before the optional scalar fields of lb.proto had presence: it was
// normalized, so an absent weight, threshold or outlier setting was a 0. Marks them present.
void RestoreStoredZeros(lb::v1::Cluster* cluster);

// Validates one route; does not check that its clusters exist (the registry does). Exactly one of
// cluster and weighted_clusters; path_exact excludes path_prefix (which otherwise defaults to
// "/"); header names are lowercased. `host` alone
// becomes hosts [host]; afterwards `host` is hosts[0]. Hosts are lowercased and distinct; each
// is "*" (also for ""), a host name or "*." + a domain or an IPv4 literal, each with an optional
// ":port", or an IPv6 literal, bare ("::1") or bracketed ("[::1]", "[::1]:80").
absl::Status NormalizeRoute(lb::v1::Route* route, absl::string_view path = "route");

// Every cluster a route sends requests to: `cluster`, or each of `weighted_clusters` (weight 0
// included: the split may move back to it).
std::vector<std::string> RouteClusters(const lb::v1::Route& route);

// The hosts a route matches: `hosts`, or for a route without them (built before `hosts`
// existed) its `host`, "*" if empty.
std::vector<std::string> RouteHosts(const lb::v1::Route& route);

// Names of clusters and routes: 1-128 of [a-zA-Z0-9_.-].
bool IsValidName(absl::string_view name);

}  // namespace lb::model

#endif  // LB_CONTROLLER_MODEL_VALIDATION_H_
