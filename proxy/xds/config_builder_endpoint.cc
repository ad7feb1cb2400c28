// ConfigBuilder: ClusterLoadAssignment resources (EDS).
#include <arpa/inet.h>

#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/validation/validation_errors.h"
#include "proxy/xds/config_builder.h"
#include "proxy/xds/config_builder_internal.h"

namespace lb::proxy::xds {
namespace {

namespace core_v3 = envoy::config::core::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;

using Field = ValidationErrors::ScopedField;
using internal::Quote;

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

// Validates `a` with `errors` at its root and maps its usable endpoints; the result is only used
// if `errors` stayed empty.
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

}  // namespace

absl::Status ConfigBuilder::ApplyLoadAssignments(
    const std::vector<endpoint_v3::ClusterLoadAssignment>& assignments, absl::string_view version) {
  ValidationErrors errors;
  ApplyLoadAssignmentsInternal(assignments, internal::Iota(assignments.size()), version, &errors);
  return errors.status();
}

void ConfigBuilder::ApplyLoadAssignmentsInternal(
    const std::vector<endpoint_v3::ClusterLoadAssignment>& assignments,
    const std::vector<int>& indexes, absl::string_view version, ValidationErrors* errors) {
  std::set<std::string> present;
  for (size_t i = 0; i < assignments.size(); ++i) {
    const endpoint_v3::ClusterLoadAssignment& a = assignments[i];
    const std::string& name = a.cluster_name();
    const std::string label = internal::Label("ClusterLoadAssignment", name, indexes[i]);
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
    if (it != endpoints_.end() && internal::SameList(it->second.endpoints, endpoints)) continue;
    endpoints_[name] = EndpointsEntry{std::string(version), std::move(endpoints)};
    dirty_ = true;
  }
}

}  // namespace lb::proxy::xds
