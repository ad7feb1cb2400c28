// ConfigBuilder: RouteConfiguration resources (RDS).
#include <arpa/inet.h>

#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/net/address.h"
#include "common/validation/validation_errors.h"
#include "proxy/xds/config_builder.h"
#include "proxy/xds/config_builder_internal.h"

namespace lb::proxy::xds {
namespace {

namespace route_v3 = envoy::config::route::v3;

constexpr uint32_t kMaxRetries = 10;
// Each domain of a virtual host gets its own copy of the host's routes; this bounds the copies
// (domains x routes, summed over virtual hosts) so that a small RouteConfiguration cannot take
// gigabytes. The controller sends one domain per virtual host.
constexpr size_t kMaxRouteEntries = 100000;
// Per route: header matchers, header changes (each list) and weighted clusters. Gateway API
// allows 16 of each; the controller sends at most 17 matchers (16 + :method) + :scheme.
constexpr size_t kMaxHeaderMatchers = 32;
constexpr size_t kMaxHeaderChanges = 32;
constexpr size_t kMaxWeightedClusters = 64;

using Field = ValidationErrors::ScopedField;
using internal::IsCleanPath;
using internal::Quote;

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

// An RFC 9110 token (tchar): a cookie attribute's name.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("!#$%&'*+-.^_`|~", c)) return false;
  }
  return true;
}

// Printable ASCII without ";": what may follow "=" in a Set-Cookie attribute.
bool IsAttributeValue(absl::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == ';') return false;
  }
  return true;
}

// The generation options of a cookie hash (Cookie.ttl, path, attributes); `errors` is at the
// cookie's path.
void MapCookie(const route_v3::RouteAction::HashPolicy::Cookie& cookie, HashPolicy* out,
               ValidationErrors* errors) {
  out->generate_cookie = cookie.has_ttl();
  if (cookie.has_ttl()) {
    const google::protobuf::Duration& ttl = cookie.ttl();
    if (ttl.seconds() < 0 || ttl.seconds() > 315576000000 || ttl.nanos() < 0 ||
        ttl.nanos() >= 1000000000) {
      errors->AddFieldError(".ttl", "must be a valid duration of 0s or more");
    } else {
      out->cookie_ttl = absl::Seconds(ttl.seconds()) + absl::Nanoseconds(ttl.nanos());
    }
  }
  out->cookie_path = cookie.path();
  if (!IsCleanPath(cookie.path()) || absl::StrContains(cookie.path(), ";")) {
    errors->AddFieldError(".path", "must not contain spaces, control characters or \";\"");
  }
  for (int i = 0; i < cookie.attributes_size(); ++i) {
    const auto& a = cookie.attributes(i);
    Field attribute(errors, absl::StrCat(".attributes[", i, "]"));
    if (!IsToken(a.name())) errors->AddFieldError(".name", "must be a token");
    if (!IsAttributeValue(a.value())) {
      errors->AddFieldError(".value", "must be printable ASCII without \";\"");
    }
    out->cookie_attributes.emplace_back(a.name(), a.value());
  }
}

// A header name as HTTP/1 and HTTP/2 carry it: a token, at most 256 characters (lowercased by
// the caller). Pseudo-headers other than ":method" are refused by the caller.
bool IsHeaderName(absl::string_view s) { return IsToken(s) && s.size() <= 256; }

// A header value the proxy can match or send: printable ASCII and UTF-8 bytes, no CR, LF or
// other control characters, at most 4096 bytes.
bool IsHeaderValue(absl::string_view s) {
  if (s.size() > 4096) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A HeaderMatcher other than ":scheme"; `errors` is at the matcher's path.
void MapHeaderMatcher(const route_v3::HeaderMatcher& h, RouteConfig* out,
                      ValidationErrors* errors) {
  HeaderMatcherConfig m;
  m.name = absl::AsciiStrToLower(h.name());
  m.invert = h.invert_match();
  if (m.name != ":method" && !IsHeaderName(m.name)) {
    errors->AddFieldError(".name", "must be a header name or \":method\" (or \":scheme\")");
  }
  if (h.treat_missing_header_as_empty()) {
    errors->AddFieldError(".treat_missing_header_as_empty", "is not supported");
  }
  switch (h.header_match_specifier_case()) {
    case route_v3::HeaderMatcher::kExactMatch:
      m.kind = HeaderMatcherConfig::Kind::kExact;
      m.value = h.exact_match();
      break;
    case route_v3::HeaderMatcher::kPrefixMatch:
      m.kind = HeaderMatcherConfig::Kind::kPrefix;
      m.value = h.prefix_match();
      break;
    case route_v3::HeaderMatcher::kSuffixMatch:
      m.kind = HeaderMatcherConfig::Kind::kSuffix;
      m.value = h.suffix_match();
      break;
    case route_v3::HeaderMatcher::kContainsMatch:
      m.kind = HeaderMatcherConfig::Kind::kContains;
      m.value = h.contains_match();
      break;
    case route_v3::HeaderMatcher::kPresentMatch:
      m.kind = HeaderMatcherConfig::Kind::kPresent;
      if (!h.present_match()) {
        // Envoy: present_match false matches a missing header; invert_match says that here.
        errors->AddFieldError(".present_match", "must be true (use invert_match)");
      }
      break;
    default:
      errors->AddError(
          "only exact_match, prefix_match, suffix_match, contains_match and present_match are "
          "supported");
  }
  if (!IsHeaderValue(m.value)) {
    errors->AddError("the value must be printable, at most 4096 bytes");
  }
  out->headers.push_back(std::move(m));
}

// Route.request_headers_to_add / request_headers_to_remove; `errors` is at the route's path.
void MapHeaderChanges(const route_v3::Route& r, RouteConfig* out, ValidationErrors* errors) {
  static constexpr absl::string_view kOwned[] = {
      "host", "connection", "content-length",    "keep-alive", "proxy-connection",
      "te",   "trailer",    "transfer-encoding", "upgrade"};
  auto owned = [](absl::string_view name) {
    for (absl::string_view o : kOwned) {
      if (name == o) return true;
    }
    return !name.empty() && name[0] == ':';
  };
  if (r.request_headers_to_add_size() > static_cast<int>(kMaxHeaderChanges)) {
    errors->AddFieldError(".request_headers_to_add",
                          absl::StrCat("at most ", kMaxHeaderChanges, " are supported"));
  }
  for (int i = 0; i < r.request_headers_to_add_size(); ++i) {
    const envoy::config::core::v3::HeaderValueOption& o = r.request_headers_to_add(i);
    Field field(errors, absl::StrCat(".request_headers_to_add[", i, "]"));
    HeaderChangeConfig c;
    c.name = absl::AsciiStrToLower(o.header().key());
    c.value = o.header().value();
    if (!IsHeaderName(c.name) || owned(c.name)) {
      errors->AddFieldError(".header.key",
                            "must be a header name other than the message framing ones and host");
    }
    if (!IsHeaderValue(c.value)) {
      errors->AddFieldError(".header.value", "must be printable, at most 4096 bytes");
    }
    switch (o.append_action()) {
      case envoy::config::core::v3::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD:
        c.append = true;
        break;
      case envoy::config::core::v3::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD:
        c.append = false;
        break;
      default:
        errors->AddFieldError(
            ".append_action",
            "only APPEND_IF_EXISTS_OR_ADD and OVERWRITE_IF_EXISTS_OR_ADD are supported");
    }
    out->headers_to_add.push_back(std::move(c));
  }
  if (r.request_headers_to_remove_size() > static_cast<int>(kMaxHeaderChanges)) {
    errors->AddFieldError(".request_headers_to_remove",
                          absl::StrCat("at most ", kMaxHeaderChanges, " are supported"));
  }
  for (int i = 0; i < r.request_headers_to_remove_size(); ++i) {
    std::string name = absl::AsciiStrToLower(r.request_headers_to_remove(i));
    if (!IsHeaderName(name) || owned(name)) {
      errors->AddFieldError(absl::StrCat(".request_headers_to_remove[", i, "]"),
                            "must be a header name other than the message framing ones and host");
    }
    out->headers_to_remove.push_back(std::move(name));
  }
}

// RouteAction.weighted_clusters; `errors` is at the action's path.
void MapWeightedClusters(const route_v3::WeightedCluster& split, RouteConfig* out,
                         ValidationErrors* errors,
                         std::vector<std::pair<std::string, std::string>>* refs) {
  Field field(errors, ".weighted_clusters");
  if (split.clusters_size() == 0) errors->AddFieldError(".clusters", "must not be empty");
  if (split.clusters_size() > static_cast<int>(kMaxWeightedClusters)) {
    errors->AddFieldError(".clusters",
                          absl::StrCat("at most ", kMaxWeightedClusters, " are supported"));
    return;
  }
  uint64_t total = 0;
  for (int i = 0; i < split.clusters_size(); ++i) {
    const route_v3::WeightedCluster::ClusterWeight& w = split.clusters(i);
    Field cluster_field(errors, absl::StrCat(".clusters[", i, "]"));
    if (w.name().empty()) {
      errors->AddFieldError(".name", "must not be empty");
    } else {
      refs->emplace_back(absl::StrCat(errors->path(), ".name"), w.name());
    }
    const uint32_t weight = w.has_weight() ? w.weight().value() : 0;
    total += weight;
    out->weighted_clusters.push_back({w.name(), weight});
  }
  if (split.clusters_size() > 0 && total == 0) {
    errors->AddFieldError(".clusters", "the weights must sum to at least 1");
  }
  if (split.has_total_weight() && split.total_weight().value() != total) {
    errors->AddFieldError(".total_weight",
                          absl::StrCat("must equal the sum of the weights (", total, "), got ",
                                       split.total_weight().value()));
  }
  out->total_weight = total;
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
  if (match.path_specifier_case() == route_v3::RouteMatch::kPath) {
    out.path = match.path();
    out.prefix.clear();
    if (out.path.empty() || out.path[0] != '/') {
      errors->AddFieldError(".match.path", "must start with \"/\"");
    } else if (!IsCleanPath(out.path) || absl::StrContains(out.path, "?")) {
      errors->AddFieldError(".match.path", "must not contain spaces, control characters or \"?\"");
    }
  } else if (match.path_specifier_case() != route_v3::RouteMatch::kPrefix) {
    errors->AddFieldError(".match", "only prefix and path matching are supported");
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
  if (match.headers_size() > static_cast<int>(kMaxHeaderMatchers)) {
    errors->AddFieldError(".match.headers",
                          absl::StrCat("at most ", kMaxHeaderMatchers, " are supported"));
  }
  for (int i = 0; i < match.headers_size(); ++i) {
    const route_v3::HeaderMatcher& h = match.headers(i);
    Field header_field(errors, absl::StrCat(".match.headers[", i, "]"));
    if (h.name() == ":scheme") {
      // The scheme matcher of docs/tls.md: {name ":scheme" exact_match "http"|"https"}.
      if (h.header_match_specifier_case() != route_v3::HeaderMatcher::kExactMatch) {
        errors->AddError("only exact_match is supported");
      } else if (h.exact_match() != "http" && h.exact_match() != "https") {
        errors->AddFieldError(".exact_match", "must be \"http\" or \"https\"");
      } else if (h.invert_match()) {
        errors->AddFieldError(".invert_match", "is not supported");
      } else if (!out.scheme.empty() && out.scheme != h.exact_match()) {
        errors->AddError("contradicts an earlier :scheme matcher");
      } else {
        out.scheme = h.exact_match();
      }
      continue;
    }
    MapHeaderMatcher(h, &out, errors);
  }
  MapHeaderChanges(r, &out, errors);

  if (r.action_case() == route_v3::Route::ACTION_NOT_SET) {
    errors->AddFieldError(".route", "is required");
    return out;
  }
  if (r.action_case() == route_v3::Route::kRedirect) {
    const route_v3::RedirectAction& redirect = r.redirect();
    Field redirect_field(errors, ".redirect");
    if (!redirect.https_redirect()) {
      errors->AddError("only https_redirect is supported");
    } else if (!redirect.host_redirect().empty() || redirect.port_redirect() != 0 ||
               redirect.path_rewrite_specifier_case() !=
                   route_v3::RedirectAction::PATH_REWRITE_SPECIFIER_NOT_SET ||
               redirect.strip_query()) {
      errors->AddError("only https_redirect and response_code are supported");
    }
    RedirectConfig rc;
    rc.https = true;
    switch (redirect.response_code()) {
      case route_v3::RedirectAction::MOVED_PERMANENTLY:
        rc.status = 301;
        break;
      case route_v3::RedirectAction::FOUND:
        rc.status = 302;
        break;
      case route_v3::RedirectAction::SEE_OTHER:
        rc.status = 303;
        break;
      case route_v3::RedirectAction::TEMPORARY_REDIRECT:
        rc.status = 307;
        break;
      case route_v3::RedirectAction::PERMANENT_REDIRECT:
        rc.status = 308;
        break;
      default:
        errors->AddFieldError(".response_code",
                              absl::StrCat("unsupported value ", redirect.response_code()));
    }
    out.redirect = rc;
    return out;
  }
  if (r.action_case() != route_v3::Route::kRoute) {
    errors->AddError("only route and redirect actions are supported");
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
    case route_v3::RouteAction::kWeightedClusters:
      MapWeightedClusters(action.weighted_clusters(), &out, errors, refs);
      break;
    case route_v3::RouteAction::CLUSTER_SPECIFIER_NOT_SET:
      errors->AddFieldError(".cluster", "is required");
      break;
    default:
      errors->AddError("only cluster and weighted_clusters are supported (not cluster_header)");
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
        {
          Field cookie_field(errors, ".cookie");
          MapCookie(h.cookie(), &out.hash_policy, errors);
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

// Validates `rc` with `errors` at its root and maps it; the result is only used if `errors`
// stayed empty.
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

}  // namespace

absl::Status ConfigBuilder::ApplyRouteConfigurations(
    const std::vector<route_v3::RouteConfiguration>& route_configs, absl::string_view version) {
  ValidationErrors errors;
  ApplyRoutesInternal(route_configs, internal::Iota(route_configs.size()), version, &errors);
  return errors.status();
}

void ConfigBuilder::ApplyRoutesInternal(
    const std::vector<route_v3::RouteConfiguration>& route_configs, const std::vector<int>& indexes,
    absl::string_view version, ValidationErrors* errors) {
  routes_received_ = true;
  bool seen = false;
  for (size_t i = 0; i < route_configs.size(); ++i) {
    const route_v3::RouteConfiguration& rc = route_configs[i];
    if (rc.name() != kRouteConfigName) continue;  // Not subscribed.
    const std::string label = internal::Label("RouteConfiguration", rc.name(), indexes[i]);
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
    if (routes_ && internal::SameList(routes_->virtual_hosts, mapped.virtual_hosts)) {
      routes_->refs = std::move(refs);
      continue;
    }
    routes_ = RoutesEntry{std::string(version), std::move(mapped.virtual_hosts), std::move(refs)};
    dirty_ = true;
  }
}

}  // namespace lb::proxy::xds
