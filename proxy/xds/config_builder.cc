#include "proxy/xds/config_builder.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/validation/validation_errors.h"
#include "proxy/xds/config_builder_internal.h"

namespace lb::proxy::xds {

namespace internal {

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

std::string Label(absl::string_view kind, absl::string_view name, int index) {
  if (name.empty()) return absl::StrCat(kind, " at resources[", index, "]");
  return absl::StrCat(kind, " ", Quote(name));
}

std::vector<int> Iota(size_t n) {
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int>(i);
  return out;
}

bool IsCleanPath(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool Same(const HealthCheckConfig& a, const HealthCheckConfig& b) {
  return a.path == b.path && a.grpc == b.grpc && a.grpc_service_name == b.grpc_service_name &&
         a.grpc_authority == b.grpc_authority && a.interval == b.interval &&
         a.timeout == b.timeout && a.healthy_threshold == b.healthy_threshold &&
         a.unhealthy_threshold == b.unhealthy_threshold;
}

bool Same(const OutlierConfig& a, const OutlierConfig& b) {
  return a.consecutive_5xx == b.consecutive_5xx &&
         a.consecutive_gateway_failure == b.consecutive_gateway_failure &&
         a.interval == b.interval && a.base_ejection_time == b.base_ejection_time &&
         a.max_ejection_percent == b.max_ejection_percent;
}

bool Same(const CircuitBreakerConfig& a, const CircuitBreakerConfig& b) {
  return a.max_connections == b.max_connections &&
         a.max_pending_requests == b.max_pending_requests && a.max_requests == b.max_requests &&
         a.max_retries == b.max_retries;
}

bool Same(const EndpointConfig& a, const EndpointConfig& b) {
  return a.address == b.address && a.port == b.port && a.weight == b.weight && a.zone == b.zone &&
         a.hostname == b.hostname && a.draining == b.draining;
}

bool SameSettings(const ClusterConfig& a, const ClusterConfig& b) {
  return a.name == b.name && a.policy == b.policy && a.protocol == b.protocol &&
         a.http2_max_concurrent_streams == b.http2_max_concurrent_streams &&
         a.connect_timeout == b.connect_timeout && Same(a.health_check, b.health_check) &&
         Same(a.outlier, b.outlier) && a.healthy_panic_threshold == b.healthy_panic_threshold &&
         a.min_ring_size == b.min_ring_size && a.max_ring_size == b.max_ring_size &&
         a.maglev_table_size == b.maglev_table_size &&
         Same(a.circuit_breakers, b.circuit_breakers) && Same(a.tls, b.tls) &&
         a.slow_start_window == b.slow_start_window &&
         a.slow_start_aggression == b.slow_start_aggression &&
         a.slow_start_min_weight == b.slow_start_min_weight;
}

bool Same(const ClusterConfig& a, const ClusterConfig& b) {
  return SameSettings(a, b) && a.version == b.version &&
         a.endpoints_version == b.endpoints_version && SameList(a.endpoints, b.endpoints);
}

bool Same(const std::optional<RedirectConfig>& a, const std::optional<RedirectConfig>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || (a->https == b->https && a->status == b->status);
}

bool Same(const TlsCertificateConfig& a, const TlsCertificateConfig& b) {
  return a.name == b.name && a.certificate_chain == b.certificate_chain &&
         a.private_key == b.private_key && a.ocsp_staple == b.ocsp_staple;
}

bool Same(const std::shared_ptr<const UpstreamTlsConfig>& a,
          const std::shared_ptr<const UpstreamTlsConfig>& b) {
  if (a == b) return true;
  if (a == nullptr || b == nullptr) return false;
  if (a->client_certificate.has_value() != b->client_certificate.has_value()) return false;
  if (a->client_certificate.has_value() && !Same(*a->client_certificate, *b->client_certificate)) {
    return false;
  }
  return a->sni == b->sni && a->verify == b->verify && a->trusted_ca == b->trusted_ca &&
         a->alpn == b->alpn;
}

bool Same(const std::shared_ptr<const TlsListenerConfig>& a,
          const std::shared_ptr<const TlsListenerConfig>& b) {
  if (a == b) return true;
  if (a == nullptr || b == nullptr) return false;
  if (a->chains.size() != b->chains.size()) return false;
  for (size_t i = 0; i < a->chains.size(); ++i) {
    if (a->chains[i].server_names != b->chains[i].server_names ||
        !Same(a->chains[i].certificate, b->chains[i].certificate)) {
      return false;
    }
  }
  if (a->default_certificate.has_value() != b->default_certificate.has_value()) return false;
  if (a->default_certificate.has_value() &&
      !Same(*a->default_certificate, *b->default_certificate)) {
    return false;
  }
  return a->min_version == b->min_version && a->max_version == b->max_version &&
         a->alpn == b->alpn && a->ticket_keys == b->ticket_keys && a->version == b->version;
}

bool Same(const HeaderMatcherConfig& a, const HeaderMatcherConfig& b) {
  return a.name == b.name && a.kind == b.kind && a.value == b.value && a.invert == b.invert;
}

bool Same(const WeightedClusterConfig& a, const WeightedClusterConfig& b) {
  return a.name == b.name && a.weight == b.weight;
}

bool Same(const HeaderChangeConfig& a, const HeaderChangeConfig& b) {
  return a.name == b.name && a.value == b.value && a.append == b.append;
}

bool Same(const RouteConfig& a, const RouteConfig& b) {
  return a.name == b.name && a.prefix == b.prefix && a.path == b.path &&
         SameList(a.headers, b.headers) && SameList(a.weighted_clusters, b.weighted_clusters) &&
         a.total_weight == b.total_weight && a.headers_to_remove == b.headers_to_remove &&
         SameList(a.headers_to_add, b.headers_to_add) && a.cluster == b.cluster &&
         a.scheme == b.scheme && Same(a.redirect, b.redirect) && a.retries == b.retries &&
         a.has_hash_policy == b.has_hash_policy && a.hash_policy.kind == b.hash_policy.kind &&
         a.hash_policy.name == b.hash_policy.name &&
         a.hash_policy.generate_cookie == b.hash_policy.generate_cookie &&
         a.hash_policy.cookie_ttl == b.hash_policy.cookie_ttl &&
         a.hash_policy.cookie_path == b.hash_policy.cookie_path &&
         a.hash_policy.cookie_attributes == b.hash_policy.cookie_attributes;
}

bool Same(const VirtualHostConfig& a, const VirtualHostConfig& b) {
  return a.domain == b.domain && SameList(a.routes, b.routes);
}

bool Same(const ProxyConfig& a, const ProxyConfig& b) {
  if (a.routes_version != b.routes_version || !SameList(a.virtual_hosts, b.virtual_hosts) ||
      !Same(a.tls_listener, b.tls_listener) || a.clusters.size() != b.clusters.size()) {
    return false;
  }
  for (auto i = a.clusters.begin(), j = b.clusters.begin(); i != a.clusters.end(); ++i, ++j) {
    if (i->first != j->first || !Same(i->second, j->second)) return false;
  }
  return true;
}

}  // namespace internal

namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace core_v3 = envoy::config::core::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;

using internal::Quote;
using internal::Same;
using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kListenerType;
using ::lb::xds::kRouteType;
using ::lb::xds::kSecretType;

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

}  // namespace

ConfigBuilder::ConfigBuilder() : built_(std::make_shared<const ProxyConfig>()) {}

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
  } else if (type == kListenerType) {
    auto listeners = Decode<envoy::config::listener::v3::Listener>(response, &indexes, &errors);
    // An undecodable resource might have been the listener: nothing is removed then.
    if (errors.ok() || !listeners.empty()) {
      ApplyListenersInternal(listeners, indexes, response.version_info(), &errors);
    }
  } else if (type == kSecretType) {
    auto secrets =
        Decode<envoy::extensions::transport_sockets::tls::v3::Secret>(response, &indexes, &errors);
    ApplySecretsInternal(secrets, indexes, response.version_info(), &errors);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unsupported type_url ", Quote(type)));
  }
  return errors.status();
}

std::vector<std::string> ConfigBuilder::ClusterNames() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : clusters_) out.push_back(name);
  return out;
}

std::vector<std::string> ConfigBuilder::WarmingClusters() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : clusters_) {
    const auto& tls = entry.config.tls;
    if (endpoints_.count(name) == 0 ||
        (tls != nullptr && tls->client_certificate.has_value() &&
         FindCertificate(tls->client_certificate->name) == nullptr)) {
      out.push_back(name);
    }
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
    if (c.tls != nullptr && c.tls->client_certificate.has_value()) {
      const TlsCertificateConfig* cert = FindCertificate(c.tls->client_certificate->name);
      if (cert == nullptr) continue;  // Warming: its client certificate has not arrived.
      auto tls = std::make_shared<UpstreamTlsConfig>(*c.tls);
      tls->client_certificate = *cert;
      c.tls = std::move(tls);
    }
    c.endpoints_version = ep->second.version;
    c.endpoints = ep->second.endpoints;
    config->clusters.emplace(name, std::move(c));
  }
  if (routes_) {
    config->virtual_hosts = routes_->virtual_hosts;
    config->routes_version = routes_->version;
  }
  config->tls_listener = BuildTlsListener();
  // The same pointer while the content is: the main thread rebuilds SSL contexts only on change.
  if (Same(config->tls_listener, tls_listener_)) {
    config->tls_listener = tls_listener_;
  } else {
    tls_listener_ = config->tls_listener;
  }
  if (Same(*built_, *config)) return built_;
  built_ = std::move(config);
  return built_;
}

}  // namespace lb::proxy::xds
