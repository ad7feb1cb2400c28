#include "proxy/xds/config_builder.h"

#include <arpa/inet.h>

#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/net/address.h"
#include "common/validation/validation_errors.h"

namespace lb::proxy::xds {
namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace core_v3 = envoy::config::core::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;

constexpr uint32_t kMaxRetries = 10;
// Each domain of a virtual host gets its own copy of the host's routes; this bounds the copies
// (domains x routes, summed over virtual hosts) so that a small RouteConfiguration cannot take
// gigabytes. The controller sends one domain per virtual host.
constexpr size_t kMaxRouteEntries = 100000;
// Envoy's upper bounds for ring_hash_lb_config and maglev_lb_config.
constexpr uint64_t kMaxRingSize = 8 * 1024 * 1024;
constexpr uint64_t kMaxMaglevTableSize = 5000011;

using Field = ValidationErrors::ScopedField;

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

// `Cluster "web"`, or `Cluster at resources[3]` for one without a name.
std::string Label(absl::string_view kind, absl::string_view name, int index) {
  if (name.empty()) return absl::StrCat(kind, " at resources[", index, "]");
  return absl::StrCat(kind, " ", Quote(name));
}

// The value of the set Duration field `field`, which must be positive, or nullopt after
// recording why not.
std::optional<absl::Duration> PositiveDuration(const google::protobuf::Duration& d,
                                               absl::string_view field, ValidationErrors* errors) {
  if (d.seconds() < -315576000000 || d.seconds() > 315576000000 || d.nanos() <= -1000000000 ||
      d.nanos() >= 1000000000 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    errors->AddFieldError(field, "is not a valid duration");
    return std::nullopt;
  }
  absl::Duration v = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (v <= absl::ZeroDuration()) {
    errors->AddFieldError(field, "must be positive");
    return std::nullopt;
  }
  return v;
}

// Canonical text of an IPv4 or IPv6 literal ("::1", "10.0.0.1"), or nullopt.
std::optional<std::string> CanonicalIp(const std::string& s) {
  if (s.find('\0') != std::string::npos) return std::nullopt;
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, s.c_str(), buf) == 1 &&
        inet_ntop(family, buf, text, sizeof(text)) != nullptr) {
      return std::string(text);
    }
  }
  return std::nullopt;
}

bool IsHostnameLike(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (absl::ascii_isalnum(c) || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// A port in a domain: 1-65535 in decimal digits only ("+80" or " 80" would make a domain no
// Host header matches).
bool IsDomainPort(absl::string_view s) {
  std::optional<uint16_t> port = net::ParsePort(s);
  return port.has_value() && *port != 0;
}

// "*", "example.com", "*.example.com", "10.0.0.1", "[::1]", each optionally with ":port".
// `d` is lowercase.
bool IsValidDomain(absl::string_view d) {
  if (d == "*") return true;
  if (absl::StartsWith(d, "[")) {
    size_t close = d.find(']');
    if (close == absl::string_view::npos) return false;
    std::string inner(d.substr(1, close - 1));
    unsigned char buf[16];
    if (inner.find('\0') != std::string::npos || inet_pton(AF_INET6, inner.c_str(), buf) != 1) {
      return false;
    }
    d.remove_prefix(close + 1);
    if (d.empty()) return true;
    if (d[0] != ':') return false;
    return IsDomainPort(d.substr(1));
  }
  if (absl::StartsWith(d, "*.")) d.remove_prefix(2);
  if (size_t colon = d.rfind(':'); colon != absl::string_view::npos) {
    if (!IsDomainPort(d.substr(colon + 1))) return false;
    d = d.substr(0, colon);
  }
  return IsHostnameLike(d);
}

bool IsCleanPath(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Equality of the config types (config.h defines no operators).

bool Same(const EndpointConfig& a, const EndpointConfig& b);
bool Same(const RouteConfig& a, const RouteConfig& b);
bool Same(const VirtualHostConfig& a, const VirtualHostConfig& b);

template <typename T>
bool SameList(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!Same(a[i], b[i])) return false;
  }
  return true;
}

bool Same(const HealthCheckConfig& a, const HealthCheckConfig& b) {
  return a.path == b.path && a.interval == b.interval && a.timeout == b.timeout &&
         a.healthy_threshold == b.healthy_threshold &&
         a.unhealthy_threshold == b.unhealthy_threshold;
}

bool Same(const OutlierConfig& a, const OutlierConfig& b) {
  return a.consecutive_5xx == b.consecutive_5xx &&
         a.consecutive_gateway_failure == b.consecutive_gateway_failure &&
         a.interval == b.interval && a.base_ejection_time == b.base_ejection_time &&
         a.max_ejection_percent == b.max_ejection_percent;
}

bool Same(const EndpointConfig& a, const EndpointConfig& b) {
  return a.address == b.address && a.port == b.port && a.weight == b.weight && a.zone == b.zone &&
         a.hostname == b.hostname && a.draining == b.draining;
}

// Settings only: versions and endpoints are not compared.
bool SameSettings(const ClusterConfig& a, const ClusterConfig& b) {
  return a.name == b.name && a.policy == b.policy && a.connect_timeout == b.connect_timeout &&
         Same(a.health_check, b.health_check) && Same(a.outlier, b.outlier) &&
         a.healthy_panic_threshold == b.healthy_panic_threshold &&
         a.min_ring_size == b.min_ring_size && a.max_ring_size == b.max_ring_size &&
         a.maglev_table_size == b.maglev_table_size;
}

bool Same(const ClusterConfig& a, const ClusterConfig& b) {
  return SameSettings(a, b) && a.version == b.version &&
         a.endpoints_version == b.endpoints_version && SameList(a.endpoints, b.endpoints);
}

bool Same(const RouteConfig& a, const RouteConfig& b) {
  return a.name == b.name && a.prefix == b.prefix && a.cluster == b.cluster &&
         a.retries == b.retries && a.has_hash_policy == b.has_hash_policy &&
         a.hash_policy.kind == b.hash_policy.kind && a.hash_policy.name == b.hash_policy.name;
}

bool Same(const VirtualHostConfig& a, const VirtualHostConfig& b) {
  return a.domain == b.domain && SameList(a.routes, b.routes);
}

bool Same(const ProxyConfig& a, const ProxyConfig& b) {
  if (a.routes_version != b.routes_version || !SameList(a.virtual_hosts, b.virtual_hosts) ||
      a.clusters.size() != b.clusters.size()) {
    return false;
  }
  for (auto i = a.clusters.begin(), j = b.clusters.begin(); i != a.clusters.end(); ++i, ++j) {
    if (i->first != j->first || !Same(i->second, j->second)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Validation and mapping, one resource at a time, with `errors` at the resource's root. Each
// returns the mapped value; it is only used if `errors` stayed empty.

ClusterConfig MapCluster(const cluster_v3::Cluster& c, ValidationErrors* errors) {
  ClusterConfig out;
  out.name = c.name();
  if (c.name().empty()) errors->AddFieldError(".name", "must not be empty");
  if (c.cluster_discovery_type_case() != cluster_v3::Cluster::kType ||
      c.type() != cluster_v3::Cluster::EDS) {
    errors->AddFieldError(".type", absl::StrCat("unsupported value ", static_cast<int>(c.type()),
                                                " (only EDS is supported)"));
  }
  if (!c.eds_cluster_config().eds_config().has_ads()) {
    errors->AddFieldError(".eds_cluster_config.eds_config", "must be ads");
  }
  if (!c.eds_cluster_config().service_name().empty() &&
      c.eds_cluster_config().service_name() != c.name()) {
    errors->AddFieldError(".eds_cluster_config.service_name",
                          "must be empty or equal the cluster name");
  }

  switch (c.lb_policy()) {
    case cluster_v3::Cluster::ROUND_ROBIN:
      out.policy = LbPolicy::kRoundRobin;
      break;
    case cluster_v3::Cluster::LEAST_REQUEST:
      out.policy = LbPolicy::kLeastRequest;
      break;
    case cluster_v3::Cluster::RING_HASH:
      out.policy = LbPolicy::kRingHash;
      break;
    case cluster_v3::Cluster::RANDOM:
      out.policy = LbPolicy::kRandom;
      break;
    case cluster_v3::Cluster::MAGLEV:
      out.policy = LbPolicy::kMaglev;
      break;
    default:
      errors->AddFieldError(".lb_policy",
                            absl::StrCat("unsupported value ", static_cast<int>(c.lb_policy())));
  }
  if (c.has_ring_hash_lb_config()) {
    const cluster_v3::Cluster::RingHashLbConfig& ring = c.ring_hash_lb_config();
    Field field(errors, ".ring_hash_lb_config");
    if (ring.has_minimum_ring_size()) out.min_ring_size = ring.minimum_ring_size().value();
    if (ring.has_maximum_ring_size()) out.max_ring_size = ring.maximum_ring_size().value();
    if (out.min_ring_size < 1 || out.min_ring_size > kMaxRingSize) {
      errors->AddFieldError(".minimum_ring_size", absl::StrCat("must be from 1 to ", kMaxRingSize,
                                                               ", got ", out.min_ring_size));
    }
    if (out.max_ring_size < 1 || out.max_ring_size > kMaxRingSize) {
      errors->AddFieldError(".maximum_ring_size", absl::StrCat("must be from 1 to ", kMaxRingSize,
                                                               ", got ", out.max_ring_size));
    } else if (out.min_ring_size > out.max_ring_size) {
      errors->AddFieldError(".minimum_ring_size",
                            absl::StrCat("must not exceed maximum_ring_size (", out.max_ring_size,
                                         "), got ", out.min_ring_size));
    }
    if (ring.hash_function() != cluster_v3::Cluster::RingHashLbConfig::XX_HASH) {
      errors->AddFieldError(".hash_function", "only XX_HASH is supported");
    }
  }
  if (c.has_maglev_lb_config() && c.maglev_lb_config().has_table_size()) {
    const uint64_t size = c.maglev_lb_config().table_size().value();
    if (size > kMaxMaglevTableSize || !IsPrime(size)) {
      errors->AddFieldError(
          ".maglev_lb_config.table_size",
          absl::StrCat("must be a prime up to ", kMaxMaglevTableSize, ", got ", size));
    } else {
      out.maglev_table_size = static_cast<uint32_t>(size);
    }
  }
  if (c.has_least_request_lb_config() && c.least_request_lb_config().has_choice_count() &&
      c.least_request_lb_config().choice_count().value() != 2) {
    errors->AddFieldError(".least_request_lb_config.choice_count",
                          absl::StrCat("only 2 (power of two choices) is supported, got ",
                                       c.least_request_lb_config().choice_count().value()));
  }

  out.connect_timeout = absl::Seconds(5);  // Envoy's default.
  if (c.has_connect_timeout()) {
    if (auto v = PositiveDuration(c.connect_timeout(), ".connect_timeout", errors)) {
      out.connect_timeout = *v;
    }
  }

  if (c.health_checks_size() > 1)
    errors->AddFieldError(".health_checks", "at most one is supported");
  if (c.health_checks_size() >= 1) {
    const core_v3::HealthCheck& hc = c.health_checks(0);
    Field field(errors, ".health_checks[0]");
    if (!hc.has_http_health_check()) {
      errors->AddError("only http_health_check is supported");
    } else {
      const std::string& path = hc.http_health_check().path();
      if (path.empty() || path[0] != '/') {
        errors->AddFieldError(".http_health_check.path", "must start with \"/\"");
      } else if (!IsCleanPath(path)) {
        errors->AddFieldError(".http_health_check.path",
                              "must not contain spaces or control characters");
      }
      out.health_check.path = path;
    }
    std::optional<absl::Duration> interval = out.health_check.interval;
    std::optional<absl::Duration> timeout = out.health_check.timeout;
    if (hc.has_interval()) interval = PositiveDuration(hc.interval(), ".interval", errors);
    if (hc.has_timeout()) timeout = PositiveDuration(hc.timeout(), ".timeout", errors);
    if (interval && timeout) {
      if (*timeout > *interval) {
        errors->AddFieldError(".timeout", absl::StrCat("must not exceed interval (",
                                                       absl::FormatDuration(*interval), ")"));
      }
      out.health_check.interval = *interval;
      out.health_check.timeout = *timeout;
    }
    if (hc.has_healthy_threshold()) {
      if (hc.healthy_threshold().value() == 0) {
        errors->AddFieldError(".healthy_threshold", "must be at least 1");
      }
      out.health_check.healthy_threshold = hc.healthy_threshold().value();
    }
    if (hc.has_unhealthy_threshold()) {
      if (hc.unhealthy_threshold().value() == 0) {
        errors->AddFieldError(".unhealthy_threshold", "must be at least 1");
      }
      out.health_check.unhealthy_threshold = hc.unhealthy_threshold().value();
    }
  }

  if (!c.has_outlier_detection()) {
    // No outlier_detection: Envoy ejects nothing.
    out.outlier.consecutive_5xx = 0;
    out.outlier.consecutive_gateway_failure = 0;
  } else {
    const cluster_v3::OutlierDetection& od = c.outlier_detection();
    Field field(errors, ".outlier_detection");
    // Envoy's defaults: 5xx ejection enforced (100), gateway-failure ejection not (0).
    auto enforcing = [&](const google::protobuf::UInt32Value& v, bool has, uint32_t dflt,
                         absl::string_view field) {
      uint32_t value = has ? v.value() : dflt;
      if (value != 0 && value != 100) {
        errors->AddFieldError(field, absl::StrCat("must be 0 or 100 (probabilistic enforcement "
                                                  "is not supported), got ",
                                                  value));
      }
      return value;
    };
    uint32_t c5 = od.has_consecutive_5xx() ? od.consecutive_5xx().value() : 5;
    uint32_t e5 = enforcing(od.enforcing_consecutive_5xx(), od.has_enforcing_consecutive_5xx(), 100,
                            ".enforcing_consecutive_5xx");
    uint32_t cg =
        od.has_consecutive_gateway_failure() ? od.consecutive_gateway_failure().value() : 5;
    uint32_t eg = enforcing(od.enforcing_consecutive_gateway_failure(),
                            od.has_enforcing_consecutive_gateway_failure(), 0,
                            ".enforcing_consecutive_gateway_failure");
    out.outlier.consecutive_5xx = e5 == 0 ? 0 : c5;
    out.outlier.consecutive_gateway_failure = eg == 0 ? 0 : cg;
    if (od.has_interval()) {
      if (auto v = PositiveDuration(od.interval(), ".interval", errors)) {
        out.outlier.interval = *v;
      }
    }
    if (od.has_base_ejection_time()) {
      if (auto v = PositiveDuration(od.base_ejection_time(), ".base_ejection_time", errors)) {
        out.outlier.base_ejection_time = *v;
      }
    }
    out.outlier.max_ejection_percent = 10;  // Envoy's default.
    if (od.has_max_ejection_percent()) {
      uint32_t v = od.max_ejection_percent().value();
      if (v > 100) {
        errors->AddFieldError(".max_ejection_percent",
                              absl::StrCat("must be from 0 to 100, got ", v));
      }
      out.outlier.max_ejection_percent = v;
    }
  }

  if (c.common_lb_config().has_healthy_panic_threshold()) {
    double v = c.common_lb_config().healthy_panic_threshold().value();
    if (!(v >= 0 && v <= 100)) {
      errors->AddFieldError(".common_lb_config.healthy_panic_threshold.value",
                            absl::StrCat("must be from 0 to 100, got ", v));
    } else {
      out.healthy_panic_threshold = static_cast<uint32_t>(std::lround(v));
    }
  }
  return out;
}

std::vector<EndpointConfig> MapLoadAssignment(const endpoint_v3::ClusterLoadAssignment& a,
                                              ValidationErrors* errors) {
  std::vector<EndpointConfig> out;
  if (a.cluster_name().empty()) errors->AddFieldError(".cluster_name", "must not be empty");
  std::map<std::string, std::string> seen;  // address:port -> path of its first occurrence.
  uint64_t total_weight = 0;
  for (int i = 0; i < a.endpoints_size(); ++i) {
    const endpoint_v3::LocalityLbEndpoints& locality = a.endpoints(i);
    Field locality_field(errors, absl::StrCat(".endpoints[", i, "]"));
    if (locality.priority() != 0) {
      errors->AddFieldError(
          ".priority", absl::StrCat("only priority 0 is supported, got ", locality.priority()));
    }
    if (locality.has_load_balancing_weight() && locality.load_balancing_weight().value() == 0) {
      errors->AddFieldError(".load_balancing_weight", "must be at least 1");
    }
    for (int j = 0; j < locality.lb_endpoints_size(); ++j) {
      const endpoint_v3::LbEndpoint& lbe = locality.lb_endpoints(j);
      Field lb_endpoint_field(errors, absl::StrCat(".lb_endpoints[", j, "]"));
      const std::string lb_endpoint_path = errors->path();
      if (!lbe.has_endpoint()) {
        errors->AddFieldError(".endpoint", "is required");
        continue;
      }
      EndpointConfig ep;
      ep.zone = locality.locality().zone();
      ep.hostname = lbe.endpoint().hostname();
      if (!lbe.endpoint().address().has_socket_address()) {
        errors->AddFieldError(".endpoint.address.socket_address", "is required");
      } else {
        Field socket_address_field(errors, ".endpoint.address.socket_address");
        const core_v3::SocketAddress& sa = lbe.endpoint().address().socket_address();
        if (sa.protocol() != core_v3::SocketAddress::TCP) {
          errors->AddFieldError(".protocol", "only TCP is supported");
        }
        std::optional<std::string> ip = CanonicalIp(sa.address());
        if (!ip) {
          errors->AddFieldError(".address",
                                absl::StrCat(Quote(sa.address()), " is not an IP address"));
        } else {
          ep.address = *ip;
        }
        bool port_ok = false;
        if (sa.port_specifier_case() == core_v3::SocketAddress::kNamedPort) {
          errors->AddFieldError(".named_port", "is not supported (use port_value)");
        } else if (sa.port_value() == 0 || sa.port_value() > 65535) {
          errors->AddFieldError(".port_value",
                                absl::StrCat("must be from 1 to 65535, got ", sa.port_value()));
        } else {
          ep.port = static_cast<uint16_t>(sa.port_value());
          port_ok = true;
        }
        if (ip && port_ok) {
          std::string key = ep.Key();
          auto [it, inserted] = seen.emplace(key, lb_endpoint_path);
          if (!inserted) {
            errors->AddError(
                absl::StrCat("duplicate address ", key, " (also at ", it->second, ")"));
          }
        }
      }
      if (lbe.has_load_balancing_weight()) {
        if (lbe.load_balancing_weight().value() == 0) {
          errors->AddFieldError(".load_balancing_weight", "must be at least 1");
        }
        ep.weight = lbe.load_balancing_weight().value();
      }
      total_weight += ep.weight;
      bool use = true;
      switch (lbe.health_status()) {
        case core_v3::UNKNOWN:
        case core_v3::HEALTHY:
        case core_v3::DEGRADED:
          break;
        case core_v3::DRAINING:
          ep.draining = true;
          break;
        case core_v3::UNHEALTHY:
        case core_v3::TIMEOUT:
          use = false;  // Envoy sends them nothing; gRPC skips them.
          break;
        default:
          errors->AddFieldError(
              ".health_status",
              absl::StrCat("unsupported value ", static_cast<int>(lbe.health_status())));
      }
      if (use) out.push_back(std::move(ep));
    }
  }
  if (total_weight > 0xffffffffull) {
    errors->AddFieldError(
        ".endpoints",
        absl::StrCat("the total weight must not exceed 4294967295, got ", total_weight));
  }
  return out;
}

struct MappedRoutes {
  std::vector<VirtualHostConfig> virtual_hosts;
  std::vector<std::pair<std::string, std::string>> refs;  // (path, cluster)
};

// `errors` is at the route's path.
RouteConfig MapRoute(const route_v3::VirtualHost& vh, const route_v3::Route& r,
                     ValidationErrors* errors,
                     std::vector<std::pair<std::string, std::string>>* refs) {
  RouteConfig out;
  out.name = r.name();
  const route_v3::RouteMatch& match = r.match();
  if (match.path_specifier_case() != route_v3::RouteMatch::kPrefix) {
    errors->AddFieldError(".match", "only prefix matching is supported");
  } else {
    out.prefix = match.prefix();
    if (!out.prefix.empty() && out.prefix[0] != '/') {
      errors->AddFieldError(".match.prefix", "must start with \"/\" (or be empty)");
    } else if (!IsCleanPath(out.prefix)) {
      errors->AddFieldError(".match.prefix", "must not contain spaces or control characters");
    }
  }
  if (match.has_case_sensitive() && !match.case_sensitive().value()) {
    errors->AddFieldError(".match.case_sensitive", "only case-sensitive matching is supported");
  }
  if (match.headers_size() > 0) errors->AddFieldError(".match.headers", "are not supported");

  if (r.action_case() == route_v3::Route::ACTION_NOT_SET) {
    errors->AddFieldError(".route", "is required");
    return out;
  }
  if (r.action_case() != route_v3::Route::kRoute) {
    errors->AddError("only route actions are supported");
    return out;
  }
  const route_v3::RouteAction& action = r.route();
  Field action_field(errors, ".route");
  switch (action.cluster_specifier_case()) {
    case route_v3::RouteAction::kCluster:
      if (action.cluster().empty()) {
        errors->AddFieldError(".cluster", "must not be empty");
      } else {
        out.cluster = action.cluster();
        refs->emplace_back(absl::StrCat(errors->path(), ".cluster"), action.cluster());
      }
      break;
    case route_v3::RouteAction::CLUSTER_SPECIFIER_NOT_SET:
      errors->AddFieldError(".cluster", "is required");
      break;
    default:
      errors->AddError("only cluster is supported (not cluster_header or weighted_clusters)");
  }
  if (!action.prefix_rewrite().empty()) {
    errors->AddFieldError(".prefix_rewrite", "is not supported");
  }
  if (action.has_host_rewrite_literal()) {
    errors->AddFieldError(".host_rewrite_literal", "is not supported");
  }
  if (action.has_auto_host_rewrite()) {
    errors->AddFieldError(".auto_host_rewrite", "is not supported");
  }

  // The route's retry policy, else the virtual host's (validated by the caller); none means no
  // retries (Envoy). A policy without num_retries means 1 (Envoy's default).
  const route_v3::RetryPolicy* retry = action.has_retry_policy() ? &action.retry_policy()
                                       : vh.has_retry_policy()   ? &vh.retry_policy()
                                                                 : nullptr;
  out.retries = 0;
  if (retry != nullptr) {
    out.retries = retry->has_num_retries() ? retry->num_retries().value() : 1;
    if (out.retries > kMaxRetries && retry == &action.retry_policy()) {
      errors->AddFieldError(".retry_policy.num_retries",
                            absl::StrCat("must be from 0 to ", kMaxRetries, ", got ", out.retries));
    }
  }

  if (action.hash_policy_size() > 1) {
    errors->AddFieldError(".hash_policy", "at most one is supported");
  }
  if (action.hash_policy_size() >= 1) {
    const route_v3::RouteAction::HashPolicy& h = action.hash_policy(0);
    Field hash_field(errors, ".hash_policy[0]");
    out.has_hash_policy = true;
    switch (h.policy_specifier_case()) {
      case route_v3::RouteAction::HashPolicy::kHeader:
        out.hash_policy.kind = HashPolicy::Kind::kHeader;
        out.hash_policy.name = absl::AsciiStrToLower(h.header().header_name());
        if (out.hash_policy.name.empty()) {
          errors->AddFieldError(".header.header_name", "must not be empty");
        }
        break;
      case route_v3::RouteAction::HashPolicy::kCookie:
        out.hash_policy.kind = HashPolicy::Kind::kCookie;
        out.hash_policy.name = h.cookie().name();
        if (out.hash_policy.name.empty())
          errors->AddFieldError(".cookie.name", "must not be empty");
        if (h.cookie().has_ttl()) {
          errors->AddFieldError(".cookie.ttl", "is not supported (cookies are not generated)");
        }
        break;
      case route_v3::RouteAction::HashPolicy::kConnectionProperties:
        out.hash_policy.kind = HashPolicy::Kind::kSourceIp;
        if (!h.connection_properties().source_ip()) {
          errors->AddFieldError(".connection_properties.source_ip", "must be true");
        }
        break;
      default:
        errors->AddError("only header, cookie and connection_properties are supported");
    }
  }
  return out;
}

MappedRoutes MapRouteConfiguration(const route_v3::RouteConfiguration& rc,
                                   ValidationErrors* errors) {
  MappedRoutes out;
  size_t entries = 0;
  for (const route_v3::VirtualHost& vh : rc.virtual_hosts()) {
    entries += static_cast<size_t>(vh.domains_size()) * static_cast<size_t>(vh.routes_size());
  }
  if (entries > kMaxRouteEntries) {
    errors->AddFieldError(".virtual_hosts",
                          absl::StrCat("domains x routes, summed over virtual hosts, is ", entries,
                                       "; at most ", kMaxRouteEntries, " are supported"));
    return out;
  }
  std::map<std::string, std::string> domains;  // Lowercase domain -> path of its first use.
  for (int i = 0; i < rc.virtual_hosts_size(); ++i) {
    const route_v3::VirtualHost& vh = rc.virtual_hosts(i);
    Field vh_field(errors, absl::StrCat(".virtual_hosts[", i, "]"));
    std::vector<std::string> vh_domains;
    if (vh.domains_size() == 0) errors->AddFieldError(".domains", "must not be empty");
    for (int j = 0; j < vh.domains_size(); ++j) {
      Field domain_field(errors, absl::StrCat(".domains[", j, "]"));
      std::string d = absl::AsciiStrToLower(vh.domains(j));
      if (!IsValidDomain(d)) {
        errors->AddError(absl::StrCat(Quote(vh.domains(j)),
                                      " is not \"*\", a host name, \"*.\" + a domain or an IP "
                                      "address (optionally with \":port\")"));
        continue;
      }
      auto [it, inserted] = domains.emplace(d, errors->path());
      if (!inserted) {
        errors->AddError(
            absl::StrCat("duplicate domain ", Quote(d), " (also at ", it->second, ")"));
        continue;
      }
      vh_domains.push_back(std::move(d));
    }
    if (vh.has_retry_policy() && vh.retry_policy().has_num_retries() &&
        vh.retry_policy().num_retries().value() > kMaxRetries) {
      errors->AddFieldError(".retry_policy.num_retries",
                            absl::StrCat("must be from 0 to ", kMaxRetries, ", got ",
                                         vh.retry_policy().num_retries().value()));
    }
    std::vector<RouteConfig> routes;
    for (int k = 0; k < vh.routes_size(); ++k) {
      Field route_field(errors, absl::StrCat(".routes[", k, "]"));
      routes.push_back(MapRoute(vh, vh.routes(k), errors, &out.refs));
    }
    for (std::string& d : vh_domains) {
      VirtualHostConfig v;
      v.domain = std::move(d);
      v.routes = routes;
      out.virtual_hosts.push_back(std::move(v));
    }
  }
  return out;
}

// Unpacks every resource of `response` as T; undecodable ones become errors.
template <typename T>
std::vector<T> Decode(const envoy::service::discovery::v3::DiscoveryResponse& response,
                      std::vector<int>* indexes, ValidationErrors* errors) {
  std::vector<T> out;
  for (int i = 0; i < response.resources_size(); ++i) {
    const google::protobuf::Any& any = response.resources(i);
    T message;
    if (any.type_url() != response.type_url()) {
      errors->AddFieldError(
          absl::StrCat("resources[", i, "]"),
          absl::StrCat("type ", Quote(any.type_url()), " does not match the response's ",
                       Quote(response.type_url())));
    } else if (!any.UnpackTo(&message)) {
      errors->AddFieldError(absl::StrCat("resources[", i, "]"),
                            absl::StrCat("cannot be decoded as ", T::descriptor()->full_name()));
    } else {
      out.push_back(std::move(message));
      indexes->push_back(i);
    }
  }
  return out;
}

std::vector<int> Iota(size_t n) {
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int>(i);
  return out;
}

}  // namespace

ConfigBuilder::ConfigBuilder() : built_(std::make_shared<const ProxyConfig>()) {}

absl::Status ConfigBuilder::ApplyClusters(const std::vector<cluster_v3::Cluster>& clusters,
                                          absl::string_view version) {
  ValidationErrors errors;
  ApplyClustersInternal(clusters, Iota(clusters.size()), true, version, &errors);
  return errors.status();
}

absl::Status ConfigBuilder::ApplyLoadAssignments(
    const std::vector<endpoint_v3::ClusterLoadAssignment>& assignments, absl::string_view version) {
  ValidationErrors errors;
  ApplyLoadAssignmentsInternal(assignments, Iota(assignments.size()), version, &errors);
  return errors.status();
}

absl::Status ConfigBuilder::ApplyRouteConfigurations(
    const std::vector<route_v3::RouteConfiguration>& route_configs, absl::string_view version) {
  ValidationErrors errors;
  ApplyRoutesInternal(route_configs, Iota(route_configs.size()), version, &errors);
  return errors.status();
}

absl::Status ConfigBuilder::ApplyResponse(
    const envoy::service::discovery::v3::DiscoveryResponse& response) {
  const std::string& type = response.type_url();
  ValidationErrors errors;
  std::vector<int> indexes;
  if (type == kClusterType) {
    auto clusters = Decode<cluster_v3::Cluster>(response, &indexes, &errors);
    ApplyClustersInternal(clusters, indexes, errors.ok(), response.version_info(), &errors);
  } else if (type == kEndpointType) {
    auto assignments = Decode<endpoint_v3::ClusterLoadAssignment>(response, &indexes, &errors);
    ApplyLoadAssignmentsInternal(assignments, indexes, response.version_info(), &errors);
  } else if (type == kRouteType) {
    auto route_configs = Decode<route_v3::RouteConfiguration>(response, &indexes, &errors);
    ApplyRoutesInternal(route_configs, indexes, response.version_info(), &errors);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unsupported type_url ", Quote(type)));
  }
  return errors.status();
}

void ConfigBuilder::ApplyClustersInternal(const std::vector<cluster_v3::Cluster>& clusters,
                                          const std::vector<int>& indexes, bool complete,
                                          absl::string_view version, ValidationErrors* errors) {
  clusters_received_ = true;
  std::set<std::string> present;  // Named in this response, valid or not.
  for (size_t i = 0; i < clusters.size(); ++i) {
    const cluster_v3::Cluster& c = clusters[i];
    const std::string label = Label("Cluster", c.name(), indexes[i]);
    if (!c.name().empty() && !present.insert(c.name()).second) {
      errors->AddFieldError(label, "duplicate in the response");
      continue;
    }
    ValidationErrors e;
    ClusterConfig config = MapCluster(c, &e);
    if (!e.ok()) {
      errors->AddFieldError(label, e.message());
      continue;  // The previous good version, if any, stays.
    }
    auto it = clusters_.find(c.name());
    if (it != clusters_.end() && SameSettings(it->second.config, config)) continue;
    config.version = std::string(version);
    clusters_[c.name()].config = std::move(config);
    dirty_ = true;
  }
  if (!complete) return;
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    endpoints_.erase(it->first);
    it = clusters_.erase(it);
    dirty_ = true;
  }
}

void ConfigBuilder::ApplyLoadAssignmentsInternal(
    const std::vector<endpoint_v3::ClusterLoadAssignment>& assignments,
    const std::vector<int>& indexes, absl::string_view version, ValidationErrors* errors) {
  std::set<std::string> present;
  for (size_t i = 0; i < assignments.size(); ++i) {
    const endpoint_v3::ClusterLoadAssignment& a = assignments[i];
    const std::string& name = a.cluster_name();
    const std::string label = Label("ClusterLoadAssignment", name, indexes[i]);
    if (!name.empty() && clusters_.count(name) == 0) continue;  // Not subscribed.
    if (!name.empty() && !present.insert(name).second) {
      errors->AddFieldError(label, "duplicate in the response");
      continue;
    }
    ValidationErrors e;
    std::vector<EndpointConfig> endpoints = MapLoadAssignment(a, &e);
    if (!e.ok()) {
      errors->AddFieldError(label, e.message());
      continue;
    }
    auto it = endpoints_.find(name);
    if (it != endpoints_.end() && SameList(it->second.endpoints, endpoints)) continue;
    endpoints_[name] = EndpointsEntry{std::string(version), std::move(endpoints)};
    dirty_ = true;
  }
}

void ConfigBuilder::ApplyRoutesInternal(
    const std::vector<route_v3::RouteConfiguration>& route_configs, const std::vector<int>& indexes,
    absl::string_view version, ValidationErrors* errors) {
  routes_received_ = true;
  bool seen = false;
  for (size_t i = 0; i < route_configs.size(); ++i) {
    const route_v3::RouteConfiguration& rc = route_configs[i];
    if (rc.name() != kRouteConfigName) continue;  // Not subscribed.
    const std::string label = Label("RouteConfiguration", rc.name(), indexes[i]);
    if (seen) {
      errors->AddFieldError(label, "duplicate in the response");
      continue;
    }
    seen = true;
    ValidationErrors e;
    MappedRoutes mapped = MapRouteConfiguration(rc, &e);
    if (!e.ok()) {
      errors->AddFieldError(label, e.message());
      continue;
    }
    std::vector<RouteRef> refs;
    for (auto& [path, cluster] : mapped.refs) refs.push_back(RouteRef{path, cluster});
    if (routes_ && SameList(routes_->virtual_hosts, mapped.virtual_hosts)) {
      routes_->refs = std::move(refs);
      continue;
    }
    routes_ = RoutesEntry{std::string(version), std::move(mapped.virtual_hosts), std::move(refs)};
    dirty_ = true;
  }
}

std::vector<std::string> ConfigBuilder::ClusterNames() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : clusters_) out.push_back(name);
  return out;
}

std::vector<std::string> ConfigBuilder::WarmingClusters() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : clusters_) {
    if (endpoints_.count(name) == 0) out.push_back(name);
  }
  return out;
}

std::vector<std::string> ConfigBuilder::Warnings() const {
  std::vector<std::string> out;
  if (!routes_) return out;
  for (const RouteRef& ref : routes_->refs) {
    if (clusters_.count(ref.cluster) == 0) {
      out.push_back(absl::StrCat("RouteConfiguration ", Quote(kRouteConfigName), ": ", ref.path,
                                 ": unknown cluster ", Quote(ref.cluster)));
    } else if (endpoints_.count(ref.cluster) == 0) {
      out.push_back(absl::StrCat("RouteConfiguration ", Quote(kRouteConfigName), ": ", ref.path,
                                 ": cluster ", Quote(ref.cluster),
                                 " is warming (no ClusterLoadAssignment yet)"));
    }
  }
  return out;
}

std::shared_ptr<const ProxyConfig> ConfigBuilder::Build() {
  if (!dirty_) return built_;
  dirty_ = false;
  auto config = std::make_shared<ProxyConfig>();
  for (const auto& [name, entry] : clusters_) {
    auto ep = endpoints_.find(name);
    if (ep == endpoints_.end()) continue;  // Warming.
    ClusterConfig c = entry.config;
    c.endpoints_version = ep->second.version;
    c.endpoints = ep->second.endpoints;
    config->clusters.emplace(name, std::move(c));
  }
  if (routes_) {
    config->virtual_hosts = routes_->virtual_hosts;
    config->routes_version = routes_->version;
  }
  if (Same(*built_, *config)) return built_;
  built_ = std::move(config);
  return built_;
}

}  // namespace lb::proxy::xds
