// ConfigBuilder: Cluster resources (CDS).
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/validation/validation_errors.h"
#include "common/xds/type_urls.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "proxy/xds/config_builder.h"
#include "proxy/xds/config_builder_internal.h"

namespace lb::proxy::xds {
namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace core_v3 = envoy::config::core::v3;

// Envoy's upper bounds for ring_hash_lb_config and maglev_lb_config.
constexpr uint64_t kMaxRingSize = 8 * 1024 * 1024;
constexpr uint64_t kMaxMaglevTableSize = 5000011;

using Field = ValidationErrors::ScopedField;
using internal::IsCleanPath;

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

namespace http_v3 = envoy::extensions::upstreams::http::v3;

// typed_extension_protocol_options: only HttpProtocolOptions with an explicit HTTP/1.1 or
// HTTP/2 config is understood; anything else is an error naming its field (a NACK), since
// speaking the wrong protocol to every endpoint would fail every request.
void MapProtocolOptions(const cluster_v3::Cluster& c, ClusterConfig* out,
                        ValidationErrors* errors) {
  for (const auto& [key, any] : c.typed_extension_protocol_options()) {
    Field field(errors, absl::StrCat(".typed_extension_protocol_options[\"", key, "\"]"));
    if (key != lb::xds::kHttpProtocolOptionsName) {
      errors->AddError(
          absl::StrCat("unsupported extension (only ", lb::xds::kHttpProtocolOptionsName, " is)"));
      continue;
    }
    if (any.type_url() != lb::xds::kHttpProtocolOptionsType) {
      errors->AddFieldError(".type_url", absl::StrCat("must be ", lb::xds::kHttpProtocolOptionsType,
                                                      ", got \"", any.type_url(), "\""));
      continue;
    }
    http_v3::HttpProtocolOptions options;
    if (!any.UnpackTo(&options)) {
      errors->AddFieldError(".value", "does not parse as HttpProtocolOptions");
      continue;
    }
    switch (options.upstream_protocol_options_case()) {
      case http_v3::HttpProtocolOptions::kExplicitHttpConfig:
        break;
      case http_v3::HttpProtocolOptions::kUseDownstreamProtocolConfig:
        errors->AddFieldError(".use_downstream_protocol_config",
                              "unsupported (only explicit_http_config is)");
        continue;
      case http_v3::HttpProtocolOptions::kAutoConfig:
        errors->AddFieldError(".auto_config", "unsupported (only explicit_http_config is)");
        continue;
      default:
        errors->AddFieldError(".upstream_protocol_options", "must be explicit_http_config");
        continue;
    }
    const http_v3::HttpProtocolOptions::ExplicitHttpConfig& config = options.explicit_http_config();
    switch (config.protocol_config_case()) {
      case http_v3::HttpProtocolOptions::ExplicitHttpConfig::kHttp2ProtocolOptions: {
        out->protocol = UpstreamProtocol::kHttp2;
        const envoy::config::core::v3::Http2ProtocolOptions& h2 = config.http2_protocol_options();
        if (h2.has_max_concurrent_streams()) {
          uint32_t v = h2.max_concurrent_streams().value();
          if (v < 1 || v > 2147483647u) {
            errors->AddFieldError(
                ".explicit_http_config.http2_protocol_options.max_concurrent_streams",
                absl::StrCat("must be from 1 to 2147483647, got ", v));
          }
          out->http2_max_concurrent_streams = v;
        }
        if (h2.allow_connect()) {
          errors->AddFieldError(".explicit_http_config.http2_protocol_options.allow_connect",
                                "unsupported (no extended CONNECT upstream)");
        }
        break;
      }
      case http_v3::HttpProtocolOptions::ExplicitHttpConfig::kHttp3ProtocolOptions:
        errors->AddFieldError(".explicit_http_config.http3_protocol_options",
                              "unsupported (HTTP/3 upstream is not implemented)");
        break;
      default:  // HTTP/1.1, also when empty (Envoy's rule).
        out->protocol = UpstreamProtocol::kHttp1;
        break;
    }
  }
}

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// Envoy caps: a slow start window of at most an hour keeps a host's ramp within a plausible
// rollout; aggression above 0 (Envoy requires it), up to 100.
constexpr absl::Duration kMaxSlowStartWindow = absl::Hours(1);
constexpr double kMaxSlowStartAggression = 100.0;

// round_robin_lb_config / least_request_lb_config slow_start_config. RANDOM clusters read it
// from round_robin_lb_config (docs/routes.md "Slow start").
void MapSlowStart(const cluster_v3::Cluster& c, ClusterConfig* out, ValidationErrors* errors) {
  const cluster_v3::Cluster::SlowStartConfig* slow = nullptr;
  const char* field = nullptr;
  if (c.has_round_robin_lb_config() && c.round_robin_lb_config().has_slow_start_config()) {
    slow = &c.round_robin_lb_config().slow_start_config();
    field = ".round_robin_lb_config.slow_start_config";
  } else if (c.has_least_request_lb_config() &&
             c.least_request_lb_config().has_slow_start_config()) {
    slow = &c.least_request_lb_config().slow_start_config();
    field = ".least_request_lb_config.slow_start_config";
  }
  if (slow == nullptr) return;
  Field scope(errors, field);
  if (out->policy == LbPolicy::kRingHash || out->policy == LbPolicy::kMaglev) {
    errors->AddError("is not supported with RING_HASH or MAGLEV");
    return;
  }
  if (!slow->has_slow_start_window()) return;  // Envoy: no window, no slow start.
  if (auto v = PositiveDuration(slow->slow_start_window(), ".slow_start_window", errors)) {
    if (*v > kMaxSlowStartWindow) {
      errors->AddFieldError(".slow_start_window", "must be at most 1h");
    } else {
      out->slow_start_window = *v;
    }
  }
  if (slow->has_aggression()) {
    const double a = slow->aggression().default_value();
    if (!(a > 0.0 && a <= kMaxSlowStartAggression)) {
      errors->AddFieldError(".aggression.default_value",
                            absl::StrCat("must be above 0 and at most ", kMaxSlowStartAggression));
    } else {
      out->slow_start_aggression = a;
    }
  }
  if (slow->has_min_weight_percent()) {
    const double p = slow->min_weight_percent().value();
    if (!(p >= 0.0 && p <= 100.0)) {
      errors->AddFieldError(".min_weight_percent.value", "must be from 0 to 100");
    } else {
      out->slow_start_min_weight = p / 100.0;
    }
  }
}

// Validates `c` with `errors` at its root and maps it; the result is only used if `errors` stayed
// empty.
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

  MapSlowStart(c, &out, errors);

  out.connect_timeout = absl::Seconds(5);  // Envoy's default.
  if (c.has_connect_timeout()) {
    if (auto v = PositiveDuration(c.connect_timeout(), ".connect_timeout", errors)) {
      out.connect_timeout = *v;
    }
  }

  MapProtocolOptions(c, &out, errors);

  if (c.health_checks_size() > 1)
    errors->AddFieldError(".health_checks", "at most one is supported");
  if (c.health_checks_size() >= 1) {
    const core_v3::HealthCheck& hc = c.health_checks(0);
    Field field(errors, ".health_checks[0]");
    if (hc.has_grpc_health_check()) {
      if (out.protocol != UpstreamProtocol::kHttp2) {
        errors->AddFieldError(".grpc_health_check",
                              "needs an HTTP/2 cluster (typed_extension_protocol_options)");
      }
      const std::string& service = hc.grpc_health_check().service_name();
      const std::string& authority = hc.grpc_health_check().authority();
      if (!IsCleanPath(service)) {
        errors->AddFieldError(".grpc_health_check.service_name",
                              "must not contain spaces or control characters");
      }
      if (!IsCleanPath(authority)) {
        errors->AddFieldError(".grpc_health_check.authority",
                              "must not contain spaces or control characters");
      }
      out.health_check.grpc = true;
      out.health_check.grpc_service_name = service;
      out.health_check.grpc_authority = authority;
    } else if (!hc.has_http_health_check()) {
      errors->AddError("only http_health_check and grpc_health_check are supported");
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

  // Thresholds of the DEFAULT priority; HIGH applies to requests of high-priority routes,
  // which this proxy does not have, so it is accepted and has no effect.
  bool default_seen = false;
  for (int i = 0; i < c.circuit_breakers().thresholds_size(); ++i) {
    const cluster_v3::CircuitBreakers::Thresholds& t = c.circuit_breakers().thresholds(i);
    if (t.priority() != core_v3::RoutingPriority::DEFAULT) continue;
    if (default_seen) {
      errors->AddFieldError(absl::StrCat(".circuit_breakers.thresholds[", i, "]"),
                            "a second entry for priority DEFAULT");
      continue;
    }
    default_seen = true;
    CircuitBreakerConfig& cb = out.circuit_breakers;
    if (t.has_max_connections()) cb.max_connections = t.max_connections().value();
    if (t.has_max_pending_requests()) cb.max_pending_requests = t.max_pending_requests().value();
    if (t.has_max_requests()) cb.max_requests = t.max_requests().value();
    if (t.has_max_retries()) cb.max_retries = t.max_retries().value();
  }

  if (c.has_transport_socket()) {
    Field field(errors, ".transport_socket");
    out.tls = internal::MapUpstreamTls(c.transport_socket(), errors);
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

}  // namespace

absl::Status ConfigBuilder::ApplyClusters(const std::vector<cluster_v3::Cluster>& clusters,
                                          absl::string_view version) {
  ValidationErrors errors;
  ApplyClustersInternal(clusters, internal::Iota(clusters.size()), true, version, &errors);
  return errors.status();
}

void ConfigBuilder::ApplyClustersInternal(const std::vector<cluster_v3::Cluster>& clusters,
                                          const std::vector<int>& indexes, bool complete,
                                          absl::string_view version, ValidationErrors* errors) {
  clusters_received_ = true;
  std::set<std::string> present;  // Named in this response, valid or not.
  for (size_t i = 0; i < clusters.size(); ++i) {
    const cluster_v3::Cluster& c = clusters[i];
    const std::string label = internal::Label("Cluster", c.name(), indexes[i]);
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
    if (it != clusters_.end() && internal::SameSettings(it->second.config, config)) continue;
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

}  // namespace lb::proxy::xds
