#include "controller/xds/resources.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/net/address.h"
#include "common/xds/type_urls.h"
#include "controller/model/validation.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

namespace lb::xds {
namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace core_v3 = envoy::config::core::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;
namespace hcm_v3 = envoy::extensions::filters::network::http_connection_manager::v3;
namespace listener_v3 = envoy::config::listener::v3;
namespace tls_v3 = envoy::extensions::transport_sockets::tls::v3;

void SdsOverAds(const std::string& name, tls_v3::SdsSecretConfig* out) {
  out->set_name(name);
  out->mutable_sds_config()->mutable_ads();
}

// docs/tls.md "Upstream TLS".
void SetUpstreamTls(const lb::v1::Cluster& c, cluster_v3::Cluster* out) {
  const lb::v1::UpstreamTls& tls = c.upstream_tls();
  if (!tls.enabled()) return;
  tls_v3::UpstreamTlsContext context;
  context.set_sni(tls.sni());
  tls_v3::CommonTlsContext* common = context.mutable_common_tls_context();
  if (!tls.insecure_skip_verify()) {
    core_v3::DataSource* ca = common->mutable_validation_context()->mutable_trusted_ca();
    if (tls.ca_pem().empty()) {
      ca->set_filename(kSystemCaBundle);
    } else {
      ca->set_inline_string(tls.ca_pem());
    }
  }
  if (!tls.client_certificate().empty()) {
    SdsOverAds(tls.client_certificate(), common->add_tls_certificate_sds_secret_configs());
  }
  common->add_alpn_protocols(UpstreamAlpn(c));
  core_v3::TransportSocket* socket = out->mutable_transport_socket();
  socket->set_name(kTlsTransportSocketName);
  socket->mutable_typed_config()->PackFrom(context);
}

listener_v3::FilterChain TlsFilterChain(const lb::v1::Certificate& cert) {
  listener_v3::FilterChain chain;
  chain.set_name(cert.name());
  for (const std::string& sni : cert.sni()) {
    chain.mutable_filter_chain_match()->add_server_names(sni);
  }
  tls_v3::DownstreamTlsContext context;
  tls_v3::CommonTlsContext* common = context.mutable_common_tls_context();
  common->mutable_tls_params()->set_tls_minimum_protocol_version(tls_v3::TlsParameters::TLSv1_2);
  common->mutable_tls_params()->set_tls_maximum_protocol_version(tls_v3::TlsParameters::TLSv1_3);
  SdsOverAds(cert.name(), common->add_tls_certificate_sds_secret_configs());
  common->add_alpn_protocols("h2");
  common->add_alpn_protocols("http/1.1");
  SdsOverAds(kSessionTicketKeysSecretName, context.mutable_session_ticket_keys_sds_secret_config());
  core_v3::TransportSocket* socket = chain.mutable_transport_socket();
  socket->set_name(kTlsTransportSocketName);
  socket->mutable_typed_config()->PackFrom(context);
  return chain;
}

cluster_v3::Cluster::LbPolicy MapPolicy(lb::v1::LbPolicy p, ClientFlavor flavor) {
  if (flavor == ClientFlavor::kGrpc) {
    return p == lb::v1::RING_HASH || p == lb::v1::MAGLEV ? cluster_v3::Cluster::RING_HASH
                                                         : cluster_v3::Cluster::ROUND_ROBIN;
  }
  switch (p) {
    case lb::v1::ROUND_ROBIN:
      return cluster_v3::Cluster::ROUND_ROBIN;
    case lb::v1::LEAST_REQUEST:
      return cluster_v3::Cluster::LEAST_REQUEST;
    case lb::v1::RING_HASH:
      return cluster_v3::Cluster::RING_HASH;
    case lb::v1::MAGLEV:
      return cluster_v3::Cluster::MAGLEV;
    default:
      return cluster_v3::Cluster::RANDOM;
  }
}

// The proxies' contract (route_components.proto, Cookie): `ttl` present means "set the cookie
// when a request lacks it" (0: no Max-Age); attributes are sent as they appear after "; ".
void SetCookie(const lb::v1::HashPolicy& hash, route_v3::RouteAction::HashPolicy::Cookie* out) {
  out->set_name(hash.cookie());
  const lb::v1::CookieOptions& o = hash.cookie_options();
  // Stored before cookie options existed, or without them: the defaults (lb.proto).
  if (o.has_generate() && !o.generate().value()) return;
  *out->mutable_ttl() = o.ttl();
  out->set_path(o.path().empty() ? "/" : o.path());
  if (!o.has_http_only() || o.http_only().value()) out->add_attributes()->set_name("HttpOnly");
  if (o.same_site() != lb::v1::CookieOptions::SAME_SITE_UNSPECIFIED) {
    auto* same_site = out->add_attributes();
    same_site->set_name("SameSite");
    same_site->set_value(o.same_site() == lb::v1::CookieOptions::STRICT ? "Strict"
                         : o.same_site() == lb::v1::CookieOptions::LAX  ? "Lax"
                                                                        : "None");
  }
  if (o.secure()) out->add_attributes()->set_name("Secure");
}

// A route's retries and hash policy come from its cluster; a split takes them from its first
// cluster (retries) and its first RING_HASH / MAGLEV cluster (hash policy; lb.proto, Route).
void SetRouteAction(const lb::v1::Route& r,
                    const absl::flat_hash_map<std::string, lb::v1::Cluster>& clusters,
                    route_v3::RouteAction* action) {
  auto find = [&clusters](const std::string& name) -> const lb::v1::Cluster* {
    auto it = clusters.find(name);
    return it == clusters.end() ? nullptr : &it->second;
  };
  const lb::v1::Cluster* first = nullptr;
  const lb::v1::Cluster* hashed = nullptr;
  if (r.weighted_clusters_size() == 0) {
    action->set_cluster(r.cluster());
    first = hashed = find(r.cluster());
  } else {
    // Clusters of weight 0 are left out: gRPC clients refuse them (the split's ranges are the
    // same without them).
    route_v3::WeightedCluster* split = action->mutable_weighted_clusters();
    for (const lb::v1::WeightedCluster& w : r.weighted_clusters()) {
      const lb::v1::Cluster* c = find(w.cluster());
      if (first == nullptr) first = c;
      if (hashed == nullptr && c != nullptr &&
          (c->lb_policy() == lb::v1::RING_HASH || c->lb_policy() == lb::v1::MAGLEV)) {
        hashed = c;
      }
      if (w.weight() == 0) continue;
      route_v3::WeightedCluster::ClusterWeight* out = split->add_clusters();
      out->set_name(w.cluster());
      out->mutable_weight()->set_value(w.weight());
    }
  }
  uint32_t retries = first != nullptr && first->has_retries() ? first->retries().value() : 2;
  auto* retry = action->mutable_retry_policy();
  retry->set_retry_on("connect-failure,reset,refused-stream");
  retry->mutable_num_retries()->set_value(retries);
  if (hashed == nullptr) return;
  if (hashed->lb_policy() != lb::v1::RING_HASH && hashed->lb_policy() != lb::v1::MAGLEV) return;
  auto* hash = action->add_hash_policy();
  switch (hashed->hash_policy().key_case()) {
    case lb::v1::HashPolicy::kHeader:
      hash->mutable_header()->set_header_name(hashed->hash_policy().header());
      break;
    case lb::v1::HashPolicy::kCookie:
      SetCookie(hashed->hash_policy(), hash->mutable_cookie());
      break;
    default:
      hash->mutable_connection_properties()->set_source_ip(true);
  }
}

// The route's match: path, method (as Envoy spells it, a ":method" header matcher) and headers.
void SetRouteMatch(const lb::v1::Route& r, route_v3::RouteMatch* match) {
  if (!r.path_exact().empty()) {
    match->set_path(r.path_exact());
  } else {
    match->set_prefix(r.path_prefix().empty() ? "/" : r.path_prefix());
  }
  if (!r.method().empty()) {
    route_v3::HeaderMatcher* m = match->add_headers();
    m->set_name(":method");
    m->set_exact_match(r.method());
  }
  for (const lb::v1::HeaderMatch& h : r.headers()) {
    route_v3::HeaderMatcher* m = match->add_headers();
    m->set_name(h.name());
    switch (h.match_case()) {
      case lb::v1::HeaderMatch::kExact:
        m->set_exact_match(h.exact());
        break;
      case lb::v1::HeaderMatch::kPrefix:
        m->set_prefix_match(h.prefix());
        break;
      default:
        m->set_present_match(true);
    }
    m->set_invert_match(h.invert());
  }
}

void SetHeaderChanges(const lb::v1::Route& r, route_v3::Route* out) {
  for (const lb::v1::HeaderValue& h : r.request_headers_to_add()) {
    core_v3::HeaderValueOption* o = out->add_request_headers_to_add();
    o->mutable_header()->set_key(h.name());
    o->mutable_header()->set_value(h.value());
    o->set_append_action(h.append() ? core_v3::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD
                                    : core_v3::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  }
  for (const std::string& name : r.request_headers_to_remove()) {
    out->add_request_headers_to_remove(name);
  }
}

// One DEFAULT-priority threshold with all four limits, or none when they are Envoy's defaults:
// every client applies those to a Cluster without circuit breakers, and such a cluster's resource
// (and version) stays what it was before the model had them.
void SetCircuitBreakers(const lb::v1::Cluster& c, cluster_v3::Cluster* out) {
  lb::v1::CircuitBreakers cb = c.circuit_breakers();
  model::SetCircuitBreakerDefaults(&cb);
  if (cb.max_connections() == model::kDefaultMaxConnections &&
      cb.max_pending_requests() == model::kDefaultMaxPendingRequests &&
      cb.max_requests() == model::kDefaultMaxRequests &&
      cb.max_retries() == model::kDefaultMaxRetries) {
    return;
  }
  cluster_v3::CircuitBreakers::Thresholds* t = out->mutable_circuit_breakers()->add_thresholds();
  t->set_priority(core_v3::RoutingPriority::DEFAULT);
  t->mutable_max_connections()->set_value(cb.max_connections());
  t->mutable_max_pending_requests()->set_value(cb.max_pending_requests());
  t->mutable_max_requests()->set_value(cb.max_requests());
  t->mutable_max_retries()->set_value(cb.max_retries());
}

// The virtual-host domain of a route host (lowercase, validated by model::NormalizeRoute). A
// Host header carries an IPv6 literal in brackets, so a bare one ("::1") becomes "[::1]".
std::string DomainOf(const std::string& host) {
  if (host.empty()) return "*";
  if (host.front() != '[' && model::IsIpLiteral(host) && host.find(':') != std::string::npos) {
    return net::UriHost(host);
  }
  return host;
}

// True if a route with domain `route` applies to every request host whose most specific
// matching domain is `chosen` (proxies, like Envoy, pick the virtual host with the most specific
// matching domain: exact, then the longest "*." suffix, then "*"). That is: `route` is "*",
// equal, or a "*." suffix of `chosen` (exact or itself a longer wildcard). A route domain that
// is more specific than `chosen` never matches such a host, or its own host would be chosen.
bool Covers(const std::string& route, const std::string& chosen) {
  if (route == "*" || route == chosen) return true;
  if (route.size() < 2 || route.compare(0, 2, "*.") != 0) return false;
  absl::string_view suffix = absl::string_view(route).substr(1);  // ".example.com"
  return chosen != "*" && chosen.size() > suffix.size() && absl::EndsWith(chosen, suffix);
}

}  // namespace

cluster_v3::Cluster BuildCluster(const lb::v1::Cluster& c, ClientFlavor flavor, bool lrs) {
  cluster_v3::Cluster out;
  out.set_name(c.name());
  out.set_type(cluster_v3::Cluster::EDS);
  auto* eds = out.mutable_eds_cluster_config()->mutable_eds_config();
  eds->mutable_ads();
  eds->set_resource_api_version(core_v3::V3);
  out.set_lb_policy(MapPolicy(c.lb_policy(), flavor));
  if (c.has_connect_timeout()) *out.mutable_connect_timeout() = c.connect_timeout();
  if (out.lb_policy() == cluster_v3::Cluster::RING_HASH) {
    out.mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(1024);
  }
  // gRPC clients too: they honour max_requests.
  SetCircuitBreakers(c, &out);
  // gRPC clients accept TLS only through certificate provider plugins, not inline PEM: they get
  // the cluster without it.
  if (flavor == ClientFlavor::kGrpc) {
    if (lrs) out.mutable_lrs_server()->mutable_self();
    return out;
  }
  SetUpstreamTls(c, &out);

  if (out.lb_policy() == cluster_v3::Cluster::MAGLEV) {
    out.mutable_maglev_lb_config()->mutable_table_size()->set_value(65537);
  } else if (out.lb_policy() == cluster_v3::Cluster::LEAST_REQUEST) {
    out.mutable_least_request_lb_config()->mutable_choice_count()->set_value(2);
  }
  if (c.has_slow_start_window() &&
      (c.slow_start_window().seconds() > 0 || c.slow_start_window().nanos() > 0)) {
    // Envoy's slow_start_config, window only (aggression 1.0 and a 10% floor are its defaults).
    // Envoy has it for ROUND_ROBIN and LEAST_REQUEST; this project's proxies read a RANDOM
    // cluster's from round_robin_lb_config too (docs/routes.md "Slow start").
    cluster_v3::Cluster::SlowStartConfig* slow =
        out.lb_policy() == cluster_v3::Cluster::LEAST_REQUEST
            ? out.mutable_least_request_lb_config()->mutable_slow_start_config()
            : out.mutable_round_robin_lb_config()->mutable_slow_start_config();
    *slow->mutable_slow_start_window() = c.slow_start_window();
  }
  if (c.has_healthy_panic_threshold()) {
    out.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(
        c.healthy_panic_threshold().value());
  }
  if (c.protocol() == lb::v1::HTTP2) {
    // Envoy's way; an HTTP1 cluster is sent without it (Envoy's default), so its resource stays
    // byte for byte what it was before clusters had a protocol.
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
    options.mutable_explicit_http_config()->mutable_http2_protocol_options();
    (*out.mutable_typed_extension_protocol_options())[kHttpProtocolOptionsName].PackFrom(options);
  }
  const lb::v1::HealthCheck& hc = c.health_check();
  if (!hc.path().empty() || hc.has_grpc_service_name()) {
    core_v3::HealthCheck* check = out.add_health_checks();
    *check->mutable_timeout() = hc.timeout();
    *check->mutable_interval() = hc.interval();
    check->mutable_healthy_threshold()->set_value(hc.healthy_threshold());
    check->mutable_unhealthy_threshold()->set_value(hc.unhealthy_threshold());
    if (hc.has_grpc_service_name()) {
      check->mutable_grpc_health_check()->set_service_name(hc.grpc_service_name());
    } else {
      check->mutable_http_health_check()->set_path(hc.path());
    }
  }
  const lb::v1::OutlierDetection& od = c.outlier_detection();
  auto* outlier = out.mutable_outlier_detection();
  outlier->mutable_consecutive_5xx()->set_value(od.consecutive_5xx());
  outlier->mutable_enforcing_consecutive_5xx()->set_value(od.consecutive_5xx() > 0 ? 100 : 0);
  outlier->mutable_consecutive_gateway_failure()->set_value(od.consecutive_gateway_failure());
  outlier->mutable_enforcing_consecutive_gateway_failure()->set_value(
      od.consecutive_gateway_failure() > 0 ? 100 : 0);
  *outlier->mutable_interval() = od.interval();
  *outlier->mutable_base_ejection_time() = od.base_ejection_time();
  outlier->mutable_max_ejection_percent()->set_value(od.max_ejection_percent());
  return out;
}

endpoint_v3::ClusterLoadAssignment BuildLoadAssignment(const lb::v1::Cluster& c,
                                                       const HostLookup& lookup,
                                                       size_t* over_limit) {
  endpoint_v3::ClusterLoadAssignment out;
  out.set_cluster_name(c.name());
  absl::flat_hash_map<std::string, endpoint_v3::LocalityLbEndpoints*> by_zone;
  absl::flat_hash_set<std::string> seen;
  // Room for the addresses beyond each endpoint's first.
  size_t spare = model::kMaxEndpointsPerCluster -
                 std::min<size_t>(c.endpoints_size(), model::kMaxEndpointsPerCluster);
  for (const lb::v1::Endpoint& e : c.endpoints()) {
    bool first = true;
    // Hostnames expand to what they resolve to now; resolved_addresses in the model is only a
    // display copy and may be stale.
    bool hostname = !model::IsIpLiteral(e.address());
    std::vector<std::string> addresses;
    if (!hostname) {
      addresses.push_back(e.address());
    } else if (lookup) {
      addresses = lookup(e.address());
    }
    for (const std::string& address : addresses) {
      std::string key = absl::StrCat(address, "|", e.port());
      if (seen.contains(key)) continue;
      if (!first && spare == 0) {
        if (over_limit != nullptr) ++*over_limit;
        continue;
      }
      seen.insert(std::move(key));
      if (!first) --spare;
      first = false;
      auto& locality = by_zone[e.zone()];
      if (locality == nullptr) {
        locality = out.add_endpoints();
        locality->mutable_locality()->set_zone(e.zone());
        locality->set_priority(0);
      }
      uint32_t weight = e.weight() == 0 ? 1 : e.weight();
      locality->mutable_load_balancing_weight()->set_value(
          locality->load_balancing_weight().value() + weight);
      endpoint_v3::LbEndpoint* lb_endpoint = locality->add_lb_endpoints();
      auto* socket = lb_endpoint->mutable_endpoint()->mutable_address()->mutable_socket_address();
      socket->set_address(address);
      socket->set_port_value(e.port());
      if (hostname) lb_endpoint->mutable_endpoint()->set_hostname(e.address());
      lb_endpoint->mutable_load_balancing_weight()->set_value(weight);
      lb_endpoint->set_health_status(e.admin_state() == lb::v1::DRAINING ? core_v3::DRAINING
                                                                         : core_v3::UNKNOWN);
    }
  }
  return out;
}

envoy::config::listener::v3::Listener BuildApiListener(const lb::v1::Cluster& c) {
  hcm_v3::HttpConnectionManager hcm;
  hcm.set_stat_prefix(c.name());
  route_v3::RouteConfiguration* rc = hcm.mutable_route_config();
  rc->set_name(c.name());
  route_v3::VirtualHost* vh = rc->add_virtual_hosts();
  vh->set_name(c.name());
  vh->add_domains("*");
  route_v3::Route* route = vh->add_routes();
  route->mutable_match()->set_prefix("");
  route->mutable_route()->set_cluster(c.name());
  hcm_v3::HttpFilter* router = hcm.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());

  envoy::config::listener::v3::Listener out;
  out.set_name(c.name());
  out.mutable_api_listener()->mutable_api_listener()->PackFrom(hcm);
  return out;
}

route_v3::RouteConfiguration BuildIngressRoutes(
    const lb::v1::RouteTable& table,
    const absl::flat_hash_map<std::string, lb::v1::Cluster>& clusters) {
  route_v3::RouteConfiguration out;
  out.set_name(kIngressRouteConfig);
  // The model's rule (lb.proto, Route): the most specific matching host wins (exact, then the
  // longest "*." suffix, then "*"), and within it the longest matching path prefix; when none
  // of that host's prefixes match, the routes of less specific hosts that also cover the
  // request apply, again longest prefix first. Ties keep table order. A proxy picks one virtual
  // host (the most specific domain) and takes its first matching route, so each domain gets a
  // virtual host listing every route that covers it, in exactly that order.
  // A route with several hosts takes part once per host.
  struct Entry {
    const lb::v1::Route* route;
    std::string domain;
  };
  std::vector<Entry> entries;  // Table order, then host order.
  for (const lb::v1::Route& r : table.routes()) {
    for (const std::string& host : model::RouteHosts(r)) entries.push_back({&r, DomainOf(host)});
  }
  std::vector<std::string> domains;  // First-use order.
  absl::flat_hash_set<std::string> seen;
  for (const Entry& e : entries) {
    if (seen.insert(e.domain).second) domains.push_back(e.domain);
  }
  for (const std::string& domain : domains) {
    route_v3::VirtualHost* vh = out.add_virtual_hosts();
    vh->set_name(domain);
    vh->add_domains(domain);
    // Precedence (lb.proto, Route; docs/routes.md): host specificity, then an exact path before
    // any prefix and longer prefixes first, then a method, then more header matches, then the
    // lower priority; table order breaks what is left.
    struct Ranked {
      int specificity;
      bool exact;
      size_t path_length;
      bool method;
      int headers;
      uint32_t priority;
      int index;
    };
    std::vector<Ranked> ranked;
    for (int i = 0; i < static_cast<int>(entries.size()); ++i) {
      const lb::v1::Route& r = *entries[i].route;
      const std::string& route_domain = entries[i].domain;
      if (!Covers(route_domain, domain)) continue;
      int specificity = route_domain == domain ? 1 << 20
                        : route_domain == "*"  ? -1
                                               : static_cast<int>(route_domain.size());
      const bool exact = !r.path_exact().empty();
      const size_t path_length =
          exact ? r.path_exact().size() : std::max<size_t>(1, r.path_prefix().size());
      ranked.push_back({specificity, exact, path_length, !r.method().empty(), r.headers_size(),
                        r.priority(), i});
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
      if (a.specificity != b.specificity) return a.specificity > b.specificity;
      if (a.exact != b.exact) return a.exact;
      if (a.path_length != b.path_length) return a.path_length > b.path_length;
      if (a.method != b.method) return a.method;
      if (a.headers != b.headers) return a.headers > b.headers;
      return a.priority < b.priority;
    });
    // A route whose hosts both cover this domain appears once, at its best rank.
    absl::flat_hash_set<const lb::v1::Route*> listed;
    for (const Ranked& rank : ranked) {
      const lb::v1::Route& r = *entries[rank.index].route;
      if (!listed.insert(&r).second) continue;
      route_v3::Route* route = vh->add_routes();
      if (r.https_redirect() != 0) {
        // docs/tls.md: plaintext requests first, to a redirect.
        route->set_name(absl::StrCat(r.name(), kHttpsRedirectSuffix));
        SetRouteMatch(r, route->mutable_match());
        route_v3::HeaderMatcher* scheme = route->mutable_match()->add_headers();
        scheme->set_name(":scheme");
        scheme->set_exact_match("http");
        route_v3::RedirectAction* redirect = route->mutable_redirect();
        redirect->set_https_redirect(true);
        redirect->set_response_code(r.https_redirect() == 308
                                        ? route_v3::RedirectAction::PERMANENT_REDIRECT
                                        : route_v3::RedirectAction::MOVED_PERMANENTLY);
        route = vh->add_routes();
      }
      route->set_name(r.name());
      SetRouteMatch(r, route->mutable_match());
      SetRouteAction(r, clusters, route->mutable_route());
      SetHeaderChanges(r, route);
    }
  }
  return out;
}

std::string UpstreamAlpn(const lb::v1::Cluster& c) {
  return c.protocol() == lb::v1::HTTP2 ? "h2" : "http/1.1";
}

envoy::extensions::transport_sockets::tls::v3::Secret BuildCertificateSecret(
    const lb::v1::Certificate& cert) {
  tls_v3::Secret secret;
  secret.set_name(cert.name());
  tls_v3::TlsCertificate* tls = secret.mutable_tls_certificate();
  tls->mutable_certificate_chain()->set_inline_string(cert.cert_chain());
  tls->mutable_private_key()->set_inline_string(cert.private_key());
  if (!cert.ocsp_staple().empty()) tls->mutable_ocsp_staple()->set_inline_bytes(cert.ocsp_staple());
  return secret;
}

envoy::extensions::transport_sockets::tls::v3::Secret BuildTicketKeysSecret(
    const lb::v1::SessionTicketKeys& keys) {
  tls_v3::Secret secret;
  secret.set_name(kSessionTicketKeysSecretName);
  tls_v3::TlsSessionTicketKeys* out = secret.mutable_session_ticket_keys();
  for (const std::string& key : keys.keys()) out->add_keys()->set_inline_bytes(key);
  return secret;
}

std::optional<listener_v3::Listener> BuildTlsListener(
    const std::map<std::string, std::shared_ptr<const lb::v1::Certificate>>& certificates) {
  if (certificates.empty()) return std::nullopt;
  listener_v3::Listener out;
  out.set_name(kIngressTlsListenerName);
  const lb::v1::Certificate* default_cert =
      certificates.size() == 1 ? certificates.begin()->second.get() : nullptr;
  for (const auto& [name, cert] : certificates) {
    *out.add_filter_chains() = TlsFilterChain(*cert);
    if (cert->default_()) default_cert = cert.get();
  }
  if (default_cert != nullptr) *out.mutable_default_filter_chain() = TlsFilterChain(*default_cert);
  return out;
}

}  // namespace lb::xds
