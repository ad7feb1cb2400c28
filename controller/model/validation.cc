#include "controller/model/validation.h"

#include <arpa/inet.h>

#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/net/address.h"
#include "common/time/duration_text.h"
#include "google/protobuf/util/time_util.h"

namespace lb::model {
namespace {

using google::protobuf::Duration;
using google::protobuf::util::TimeUtil;

Duration ProtoDuration(absl::Duration value) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(value));
}

// The exact value of `d`. Not TimeUtil::DurationToNanoseconds: a valid Duration (up to 10000
// years) does not fit int64 nanoseconds, and the wrapped value could land inside any range.
// absl::Duration holds every valid Duration exactly and saturates beyond.
absl::Duration ToAbsl(const Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Checks min <= d <= max for the duration field `field` (already defaulted).
void CheckDuration(const Duration& d, absl::Duration min, absl::Duration max,
                   absl::string_view field, ValidationErrors* errors) {
  if (d.seconds() < -315576000000 || d.seconds() > 315576000000 || d.nanos() <= -1000000000 ||
      d.nanos() >= 1000000000 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    errors->AddFieldError(field, "is not a valid duration");
    return;
  }
  absl::Duration v = ToAbsl(d);
  if (v < min || v > max) {
    errors->AddFieldError(field,
                          absl::StrCat("must be from ", FormatDurationText(min), " to ",
                                       FormatDurationText(max), ", got ", FormatDurationText(v)));
  }
}

void CheckRange(int64_t v, int64_t min, int64_t max, absl::string_view field,
                ValidationErrors* errors) {
  if (v < min || v > max) {
    errors->AddFieldError(field, absl::StrCat("must be from ", min, " to ", max, ", got ", v));
  }
}

// The problem with a cluster or route name, or "" if it is valid.
std::string NameProblem(absl::string_view name) {
  if (IsValidName(name)) return "";
  return name.empty() ? "is required" : "must be 1-128 characters of [a-zA-Z0-9_.-]";
}

// Free text for a proto3 string field: well-formed UTF-8 without control characters (C0, DEL,
// and C1 U+0080-U+009F, which UTF-8 encodes as 0xC2 0x80-0x9F).
bool IsPrintable(absl::string_view s) {
  while (!s.empty()) {
    size_t n = Utf8SequenceLength(s);
    if (n == 0) return false;
    unsigned char c = s[0];
    if (n == 1 && (c < 0x20 || c == 0x7f)) return false;
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0) return false;
    s.remove_prefix(n);
  }
  return true;
}

// Printable ASCII other than space: the only bytes an IP literal or host name can hold. Checked
// before inet_pton, which reads a C string and so would stop at an embedded NUL.
bool IsGraphicAscii(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool IsIpv6Literal(absl::string_view address) {
  if (!IsGraphicAscii(address)) return false;
  std::string s(address);
  unsigned char buf[16];
  return inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// A route's host (lowercased): "example.com" or "*.example.com" or an IPv4 literal, each with an
// optional ":port"; an IPv6 literal bare ("::1", which cannot carry a port: its last ":N" is a
// group, not a port) or in brackets ("[::1]", "[::1]:8080").
bool IsRouteHost(absl::string_view host) {
  auto valid_port = [](absl::string_view p) {
    std::optional<uint16_t> port = net::ParsePort(p);
    return port.has_value() && PortProblem(*port).empty();
  };
  if (absl::ConsumePrefix(&host, "[")) {
    size_t close = host.find(']');
    if (close == absl::string_view::npos || !IsIpv6Literal(host.substr(0, close))) return false;
    absl::string_view rest = host.substr(close + 1);
    return rest.empty() || (absl::ConsumePrefix(&rest, ":") && valid_port(rest));
  }
  if (IsIpv6Literal(host)) return true;
  absl::ConsumePrefix(&host, "*.");
  if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    if (!valid_port(host.substr(colon + 1))) return false;
    host = host.substr(0, colon);
  }
  return IsHostname(host) || (IsIpLiteral(host) && !absl::StrContains(host, ":"));
}

// A cookie path: starts with "/", printable, without ";" or spaces (Set-Cookie syntax).
bool IsCookiePath(absl::string_view p) {
  return !p.empty() && p[0] == '/' && p.size() <= 1024 && IsPrintable(p) &&
         !absl::StrContains(p, ";") && !absl::StrContains(p, " ");
}

// An RFC 9110 token: a header name or a method.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("!#$%&'*+-.^_`|~", c)) return false;
  }
  return true;
}

// A request path as routes match it: "/" first, printable, no spaces, at most 1024 bytes.
bool IsRoutePath(absl::string_view p) {
  return !p.empty() && p[0] == '/' && IsPrintable(p) && !absl::StrContains(p, " ") &&
         p.size() <= 1024;
}

// Lowercases and checks a header name a route matches, adds or removes. `changed`: the route
// would add or remove it, so headers that frame the message or the proxy owns are refused too.
void NormalizeHeaderName(std::string* name, bool changed, absl::string_view field,
                         ValidationErrors* errors) {
  if (!IsToken(*name) || name->size() > 256) {
    errors->AddFieldError(field, name->empty() ? "is required"
                                               : "must be an HTTP header name (a token, at most "
                                                 "256 characters)");
    return;
  }
  *name = absl::AsciiStrToLower(*name);
  if (*name == "host") {
    errors->AddFieldError(field, "\"host\" is not allowed (routes match hosts with `hosts`)");
    return;
  }
  static constexpr const char* kFraming[] = {
      "connection", "content-length", "keep-alive",        "proxy-connection",
      "te",         "trailer",        "transfer-encoding", "upgrade"};
  if (changed) {
    for (const char* f : kFraming) {
      if (*name == f) {
        errors->AddFieldError(field, absl::StrCat("\"", *name,
                                                  "\" cannot be changed by a route (the proxy "
                                                  "owns the message framing)"));
        return;
      }
    }
  }
}

// A header value: printable (no CR, LF or other control characters), at most
// kMaxHeaderValueBytes.
void CheckHeaderValue(absl::string_view value, absl::string_view field, ValidationErrors* errors) {
  if (!IsPrintable(value) || value.size() > kMaxHeaderValueBytes) {
    errors->AddFieldError(
        field, absl::StrCat("must be printable text of at most ", kMaxHeaderValueBytes, " bytes"));
  }
}

void NormalizeRouteMatch(lb::v1::Route* r, ValidationErrors* errors) {
  if (!r->path_exact().empty()) {
    if (!r->path_prefix().empty()) {
      errors->AddFieldError(".path_exact", "not together with path_prefix");
    }
    if (!IsRoutePath(r->path_exact()) || absl::StrContains(r->path_exact(), "?")) {
      errors->AddFieldError(".path_exact", "must start with \"/\" and contain no spaces or \"?\"");
    }
  } else {
    if (r->path_prefix().empty()) r->set_path_prefix("/");
    if (!IsRoutePath(r->path_prefix())) {
      errors->AddFieldError(".path_prefix", "must start with \"/\" and contain no spaces");
    }
  }
  if (!r->method().empty() && (!IsToken(r->method()) || r->method().size() > 32)) {
    errors->AddFieldError(".method", "must be an HTTP method token, e.g. \"GET\"");
  }
  if (r->headers_size() > static_cast<int>(kMaxRouteHeaderMatches)) {
    errors->AddFieldError(".headers",
                          absl::StrCat("at most ", kMaxRouteHeaderMatches, " per route"));
  }
  for (int i = 0; i < r->headers_size(); ++i) {
    lb::v1::HeaderMatch* h = r->mutable_headers(i);
    ValidationErrors::ScopedField field(errors, absl::StrCat(".headers[", i, "]"));
    NormalizeHeaderName(h->mutable_name(), false, ".name", errors);
    switch (h->match_case()) {
      case lb::v1::HeaderMatch::kExact:
        CheckHeaderValue(h->exact(), ".exact", errors);
        break;
      case lb::v1::HeaderMatch::kPrefix:
        if (h->prefix().empty()) errors->AddFieldError(".prefix", "must not be empty");
        CheckHeaderValue(h->prefix(), ".prefix", errors);
        break;
      case lb::v1::HeaderMatch::kPresent:
        if (!h->present()) errors->AddFieldError(".present", "must be true (or use invert)");
        break;
      case lb::v1::HeaderMatch::MATCH_NOT_SET:
        errors->AddError("needs one of exact, prefix or present");
        break;
    }
  }
}

void NormalizeRouteBackends(lb::v1::Route* r, ValidationErrors* errors) {
  if (!r->cluster().empty() && r->weighted_clusters_size() > 0) {
    errors->AddFieldError(".weighted_clusters", "not together with cluster");
    return;
  }
  if (r->weighted_clusters_size() == 0) {
    if (std::string p = NameProblem(r->cluster()); !p.empty()) errors->AddFieldError(".cluster", p);
    return;
  }
  if (r->weighted_clusters_size() > static_cast<int>(kMaxWeightedClusters)) {
    errors->AddFieldError(".weighted_clusters",
                          absl::StrCat("at most ", kMaxWeightedClusters, " per route"));
  }
  uint64_t total = 0;
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < r->weighted_clusters_size(); ++i) {
    const lb::v1::WeightedCluster& w = r->weighted_clusters(i);
    ValidationErrors::ScopedField field(errors, absl::StrCat(".weighted_clusters[", i, "]"));
    if (std::string p = NameProblem(w.cluster()); !p.empty()) {
      errors->AddFieldError(".cluster", p);
    } else if (!seen.insert(w.cluster()).second) {
      errors->AddFieldError(".cluster", absl::StrCat("duplicate cluster \"", w.cluster(), "\""));
    }
    CheckRange(w.weight(), 0, kMaxClusterWeight, ".weight", errors);
    total += w.weight();
  }
  if (total == 0) errors->AddFieldError(".weighted_clusters", "the weights must sum to at least 1");
}

void NormalizeRouteHeaderChanges(lb::v1::Route* r, ValidationErrors* errors) {
  if (r->request_headers_to_add_size() > static_cast<int>(kMaxRouteHeaderChanges)) {
    errors->AddFieldError(".request_headers_to_add",
                          absl::StrCat("at most ", kMaxRouteHeaderChanges, " per route"));
  }
  for (int i = 0; i < r->request_headers_to_add_size(); ++i) {
    lb::v1::HeaderValue* h = r->mutable_request_headers_to_add(i);
    ValidationErrors::ScopedField field(errors, absl::StrCat(".request_headers_to_add[", i, "]"));
    NormalizeHeaderName(h->mutable_name(), true, ".name", errors);
    CheckHeaderValue(h->value(), ".value", errors);
  }
  if (r->request_headers_to_remove_size() > static_cast<int>(kMaxRouteHeaderChanges)) {
    errors->AddFieldError(".request_headers_to_remove",
                          absl::StrCat("at most ", kMaxRouteHeaderChanges, " per route"));
  }
  for (int i = 0; i < r->request_headers_to_remove_size(); ++i) {
    NormalizeHeaderName(r->mutable_request_headers_to_remove(i), true,
                        absl::StrCat(".request_headers_to_remove[", i, "]"), errors);
  }
}

bool IsLabelKey(absl::string_view k) {
  if (k.empty() || k.size() > kMaxLabelKeyBytes) return false;
  for (char c : k) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != '/') return false;
  }
  return true;
}

}  // namespace

size_t Utf8SequenceLength(absl::string_view s) {
  if (s.empty()) return 0;
  auto b = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // Allowed range of the second byte.
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // Overlong.
    if (c == 0xed) hi = 0x9f;  // Surrogates.
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // Overlong.
    if (c == 0xf4) hi = 0x8f;  // Above U+10FFFF.
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  }
  return n;
}

bool IsValidUtf8(absl::string_view s) {
  while (!s.empty()) {
    size_t n = Utf8SequenceLength(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

bool IsIpLiteral(absl::string_view address) {
  if (!IsGraphicAscii(address)) return false;
  std::string s(address);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsHostname(absl::string_view address) {
  if (!address.empty() && address.back() == '.') address.remove_suffix(1);
  if (address.empty() || address.size() > 253) return false;
  bool all_numeric = true;
  size_t label_len = 0;
  char prev = '.';
  for (char c : address) {
    if (c == '.') {
      if (label_len == 0 || prev == '-') return false;
      label_len = 0;
    } else if (absl::ascii_isalnum(c) || c == '-') {
      if (label_len == 0 && c == '-') return false;
      if (++label_len > 63) return false;
      if (!absl::ascii_isdigit(c)) all_numeric = false;
    } else {
      return false;
    }
    prev = c;
  }
  if (label_len == 0 || prev == '-') return false;
  // "1.2.3.999" is a mistyped IP, not a name.
  return !all_numeric;
}

absl::StatusOr<std::string> NormalizeAddress(absl::string_view address) {
  std::string s(address);
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (IsGraphicAscii(s)) {
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
      return std::string(inet_ntop(AF_INET, buf, text, sizeof(text)));
    }
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
      return std::string(inet_ntop(AF_INET6, buf, text, sizeof(text)));
    }
  }
  if (IsHostname(s)) {
    std::string host = absl::AsciiStrToLower(s);
    if (!host.empty() && host.back() == '.') host.pop_back();
    return host;
  }
  if (s.empty()) return absl::InvalidArgumentError("is required");
  std::string shown = s.size() > 64 ? absl::StrCat(s.substr(0, 64), "...") : s;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", absl::CHexEscape(shown), "\" is neither an IP address nor a hostname"));
}

std::string PortProblem(absl::int128 port) {
  if (port >= 1 && port <= 65535) return "";
  return absl::StrFormat("must be from 1 to 65535, got %d", port);
}

std::vector<std::string> RouteClusters(const lb::v1::Route& route) {
  if (route.weighted_clusters_size() == 0) return {route.cluster()};
  std::vector<std::string> out;
  for (const lb::v1::WeightedCluster& w : route.weighted_clusters()) out.push_back(w.cluster());
  return out;
}

std::vector<std::string> RouteHosts(const lb::v1::Route& route) {
  if (route.hosts_size() > 0) return {route.hosts().begin(), route.hosts().end()};
  return {route.host().empty() ? "*" : route.host()};
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

void NormalizeEndpoint(lb::v1::Endpoint* e, ValidationErrors* errors) {
  e->clear_resolved_addresses();
  absl::StatusOr<std::string> address = NormalizeAddress(e->address());
  if (address.ok()) {
    e->set_address(*address);
  } else {
    errors->AddFieldError(".address", address.status().message());
  }
  if (std::string p = PortProblem(e->port()); !p.empty()) errors->AddFieldError(".port", p);
  if (!e->has_weight()) e->set_weight(1);
  CheckRange(e->weight(), 1, kMaxWeight, ".weight", errors);
  if (e->zone().size() > 128 || !IsPrintable(e->zone())) {
    errors->AddFieldError(".zone", "must be at most 128 printable characters");
  }
  if (e->labels_size() > static_cast<int>(kMaxLabelsPerEndpoint)) {
    errors->AddFieldError(".labels", absl::StrCat("at most ", kMaxLabelsPerEndpoint,
                                                  " labels, got ", e->labels_size()));
  }
  for (const auto& [k, v] : e->labels()) {
    if (!IsLabelKey(k)) {
      errors->AddFieldError(
          ".labels", absl::StrCat("key \"", absl::CHexEscape(k.substr(0, 64)), "\" must be 1-",
                                  kMaxLabelKeyBytes, " of [a-zA-Z0-9_.-/]"));
    }
    if (v.size() > kMaxLabelValueBytes || !IsPrintable(v)) {
      errors->AddFieldError(
          absl::StrCat(".labels[", k.substr(0, 64), "]"),
          absl::StrCat("value must be at most ", kMaxLabelValueBytes, " printable characters"));
    }
  }
  if (e->admin_state() == lb::v1::ADMIN_STATE_UNSPECIFIED) e->set_admin_state(lb::v1::ACTIVE);
  if (!lb::v1::AdminState_IsValid(e->admin_state())) {
    errors->AddFieldError(".admin_state", absl::StrCat("unknown value ", e->admin_state()));
  }
}

absl::Status NormalizeEndpoint(lb::v1::Endpoint* endpoint, absl::string_view path) {
  ValidationErrors errors;
  ValidationErrors::ScopedField root(&errors, path);
  NormalizeEndpoint(endpoint, &errors);
  return errors.status();
}

namespace {

void NormalizeCookieOptions(lb::v1::CookieOptions* o, ValidationErrors* errors) {
  ValidationErrors::ScopedField field(errors, ".cookie_options");
  if (!o->has_generate()) o->mutable_generate()->set_value(true);
  if (!o->generate().value()) {
    constexpr char kNotGenerated[] = "only when the proxy sets the cookie (generate is false)";
    if (o->has_ttl()) errors->AddFieldError(".ttl", kNotGenerated);
    if (!o->path().empty()) errors->AddFieldError(".path", kNotGenerated);
    if (o->has_http_only()) errors->AddFieldError(".http_only", kNotGenerated);
    if (o->same_site() != lb::v1::CookieOptions::SAME_SITE_UNSPECIFIED) {
      errors->AddFieldError(".same_site", kNotGenerated);
    }
    if (o->secure()) errors->AddFieldError(".secure", kNotGenerated);
    return;
  }
  if (!o->has_ttl()) *o->mutable_ttl() = ProtoDuration(absl::ZeroDuration());
  CheckDuration(o->ttl(), absl::ZeroDuration(), absl::Hours(24 * 400), ".ttl", errors);
  if (o->path().empty()) o->set_path("/");
  if (!IsCookiePath(o->path())) {
    errors->AddFieldError(".path", "must start with \"/\" and contain no spaces or \";\"");
  }
  if (!o->has_http_only()) o->mutable_http_only()->set_value(true);
  if (!lb::v1::CookieOptions::SameSite_IsValid(o->same_site())) {
    errors->AddFieldError(".same_site", absl::StrCat("unknown value ", o->same_site()));
  } else if (o->same_site() == lb::v1::CookieOptions::NONE && !o->secure()) {
    errors->AddFieldError(".same_site", "NONE needs secure: true (browsers drop the cookie)");
  }
}

// Only hashing policies take a hash policy; an empty one is the same as none.
void NormalizeHashPolicy(lb::v1::Cluster* c, ValidationErrors* errors) {
  lb::v1::HashPolicy* h = c->mutable_hash_policy();
  if (h->key_case() == lb::v1::HashPolicy::KEY_NOT_SET && !h->has_cookie_options()) {
    c->clear_hash_policy();
    return;
  }
  ValidationErrors::ScopedField field(errors, ".hash_policy");
  if (c->lb_policy() != lb::v1::RING_HASH && c->lb_policy() != lb::v1::MAGLEV &&
      lb::v1::LbPolicy_IsValid(c->lb_policy())) {
    errors->AddError(absl::StrCat("only RING_HASH and MAGLEV hash; lb_policy is ",
                                  lb::v1::LbPolicy_Name(c->lb_policy())));
  }
  switch (h->key_case()) {
    case lb::v1::HashPolicy::kHeader:
      if (!IsLabelKey(h->header())) errors->AddFieldError(".header", "must be a header name");
      break;
    case lb::v1::HashPolicy::kCookie:
      if (!IsValidName(h->cookie())) errors->AddFieldError(".cookie", "must be a cookie name");
      NormalizeCookieOptions(h->mutable_cookie_options(), errors);
      break;
    case lb::v1::HashPolicy::kSourceIp:
      if (!h->source_ip()) errors->AddFieldError(".source_ip", "must be true (or unset)");
      break;
    case lb::v1::HashPolicy::KEY_NOT_SET:
      break;
  }
  if (h->key_case() != lb::v1::HashPolicy::kCookie && h->has_cookie_options()) {
    errors->AddFieldError(".cookie_options", "only with a cookie hash");
  }
}

}  // namespace

void SetCircuitBreakerDefaults(lb::v1::CircuitBreakers* cb) {
  if (!cb->has_max_connections()) cb->set_max_connections(kDefaultMaxConnections);
  if (!cb->has_max_pending_requests()) cb->set_max_pending_requests(kDefaultMaxPendingRequests);
  if (!cb->has_max_requests()) cb->set_max_requests(kDefaultMaxRequests);
  if (!cb->has_max_retries()) cb->set_max_retries(kDefaultMaxRetries);
}

void RestoreStoredZeros(lb::v1::Cluster* c) {
  for (lb::v1::Endpoint& e : *c->mutable_endpoints()) {
    if (!e.has_weight()) e.set_weight(0);
  }
  if (c->has_health_check()) {
    lb::v1::HealthCheck* hc = c->mutable_health_check();
    if (!hc->has_healthy_threshold()) hc->set_healthy_threshold(0);
    if (!hc->has_unhealthy_threshold()) hc->set_unhealthy_threshold(0);
  }
  if (c->has_outlier_detection()) {
    lb::v1::OutlierDetection* od = c->mutable_outlier_detection();
    if (!od->has_consecutive_5xx()) od->set_consecutive_5xx(0);
    if (!od->has_consecutive_gateway_failure()) od->set_consecutive_gateway_failure(0);
    if (!od->has_max_ejection_percent()) od->set_max_ejection_percent(0);
  }
}

absl::Status NormalizeCluster(lb::v1::Cluster* c, absl::string_view path) {
  ValidationErrors errors;
  ValidationErrors::ScopedField root(&errors, path);
  c->set_version(0);
  if (std::string p = NameProblem(c->name()); !p.empty()) errors.AddFieldError(".name", p);
  if (c->lb_policy() == lb::v1::LB_POLICY_UNSPECIFIED) c->set_lb_policy(lb::v1::RANDOM);
  if (!lb::v1::LbPolicy_IsValid(c->lb_policy())) {
    errors.AddFieldError(".lb_policy", absl::StrCat("unknown value ", c->lb_policy()));
  }
  if (c->has_hash_policy()) NormalizeHashPolicy(c, &errors);
  if (c->protocol() == lb::v1::UPSTREAM_PROTOCOL_UNSPECIFIED) c->set_protocol(lb::v1::HTTP1);
  if (!lb::v1::UpstreamProtocol_IsValid(c->protocol())) {
    errors.AddFieldError(".protocol", absl::StrCat("unknown value ", c->protocol()));
  }

  {
    lb::v1::HealthCheck* hc = c->mutable_health_check();
    ValidationErrors::ScopedField field(&errors, ".health_check");
    if (!hc->has_interval()) *hc->mutable_interval() = ProtoDuration(absl::Seconds(5));
    if (!hc->has_timeout()) *hc->mutable_timeout() = ProtoDuration(absl::Seconds(1));
    if (!hc->has_healthy_threshold()) hc->set_healthy_threshold(2);
    if (!hc->has_unhealthy_threshold()) hc->set_unhealthy_threshold(3);
    if (!hc->path().empty() && (hc->path()[0] != '/' || !IsPrintable(hc->path()) ||
                                absl::StrContains(hc->path(), " ") || hc->path().size() > 1024)) {
      errors.AddFieldError(".path", "must start with \"/\" and contain no spaces");
    }
    CheckDuration(hc->interval(), absl::Milliseconds(100), absl::Hours(1), ".interval", &errors);
    CheckDuration(hc->timeout(), absl::Milliseconds(10), absl::Minutes(1), ".timeout", &errors);
    if (ToAbsl(hc->timeout()) > ToAbsl(hc->interval())) {
      errors.AddFieldError(".timeout", "must not exceed the interval");
    }
    CheckRange(hc->healthy_threshold(), 1, 100, ".healthy_threshold", &errors);
    CheckRange(hc->unhealthy_threshold(), 1, 100, ".unhealthy_threshold", &errors);
    if (hc->has_grpc_service_name()) {
      if (c->protocol() != lb::v1::HTTP2) {
        errors.AddFieldError(".grpc_service_name",
                             "gRPC health checks need protocol HTTP2 (the cluster is HTTP1)");
      } else if (!hc->path().empty()) {
        errors.AddFieldError(".grpc_service_name",
                             "a health check is either HTTP (path) or gRPC, not both");
      }
      if (!IsPrintable(hc->grpc_service_name()) ||
          absl::StrContains(hc->grpc_service_name(), " ") ||
          hc->grpc_service_name().size() > kMaxGrpcServiceNameBytes) {
        errors.AddFieldError(".grpc_service_name",
                             absl::StrCat("must be printable, without spaces, at most ",
                                          kMaxGrpcServiceNameBytes, " bytes"));
      }
    }
  }

  {
    lb::v1::OutlierDetection* od = c->mutable_outlier_detection();
    ValidationErrors::ScopedField field(&errors, ".outlier_detection");
    // 0 is kept: it turns a trigger (or ejection) off.
    if (!od->has_consecutive_5xx()) od->set_consecutive_5xx(5);
    if (!od->has_consecutive_gateway_failure()) od->set_consecutive_gateway_failure(5);
    if (!od->has_max_ejection_percent()) od->set_max_ejection_percent(50);
    if (!od->has_interval()) *od->mutable_interval() = ProtoDuration(absl::Seconds(10));
    if (!od->has_base_ejection_time())
      *od->mutable_base_ejection_time() = ProtoDuration(absl::Seconds(30));
    CheckRange(od->consecutive_5xx(), 0, 1000, ".consecutive_5xx", &errors);
    CheckRange(od->consecutive_gateway_failure(), 0, 1000, ".consecutive_gateway_failure", &errors);
    CheckDuration(od->interval(), absl::Milliseconds(100), absl::Hours(1), ".interval", &errors);
    CheckDuration(od->base_ejection_time(), absl::Milliseconds(100), absl::Hours(1),
                  ".base_ejection_time", &errors);
    CheckRange(od->max_ejection_percent(), 0, 100, ".max_ejection_percent", &errors);
  }

  if (c->has_slow_start_window()) {
    const Duration& w = c->slow_start_window();
    if (w.seconds() != 0 || w.nanos() != 0) {  // 0s (off) is kept as given.
      CheckDuration(w, absl::Seconds(1), absl::Seconds(kMaxSlowStartSeconds), ".slow_start_window",
                    &errors);
      if (c->lb_policy() == lb::v1::RING_HASH || c->lb_policy() == lb::v1::MAGLEV) {
        errors.AddFieldError(".slow_start_window",
                             "only with RANDOM, ROUND_ROBIN or LEAST_REQUEST (hash policies keep "
                             "a client on its endpoint)");
      }
    }
  }
  if (!c->has_connect_timeout()) *c->mutable_connect_timeout() = ProtoDuration(absl::Seconds(1));
  CheckDuration(c->connect_timeout(), absl::Milliseconds(1), absl::Minutes(1), ".connect_timeout",
                &errors);
  if (!c->has_retries()) c->mutable_retries()->set_value(2);
  CheckRange(c->retries().value(), 0, kMaxRetries, ".retries", &errors);
  if (!c->has_healthy_panic_threshold()) c->mutable_healthy_panic_threshold()->set_value(50);
  CheckRange(c->healthy_panic_threshold().value(), 0, 100, ".healthy_panic_threshold", &errors);

  {
    lb::v1::CircuitBreakers* cb = c->mutable_circuit_breakers();
    ValidationErrors::ScopedField field(&errors, ".circuit_breakers");
    SetCircuitBreakerDefaults(cb);
    // Only max_retries may be 0 (no retries after connect timeouts); any other 0 would refuse
    // every request.
    CheckRange(cb->max_connections(), 1, kMaxCircuitBreakerLimit, ".max_connections", &errors);
    CheckRange(cb->max_pending_requests(), 1, kMaxCircuitBreakerLimit, ".max_pending_requests",
               &errors);
    CheckRange(cb->max_requests(), 1, kMaxCircuitBreakerLimit, ".max_requests", &errors);
    CheckRange(cb->max_retries(), 0, kMaxCircuitBreakerLimit, ".max_retries", &errors);
  }

  if (c->endpoints_size() > static_cast<int>(kMaxEndpointsPerCluster)) {
    errors.AddFieldError(".endpoints",
                         absl::StrCat("at most ", kMaxEndpointsPerCluster, " per cluster"));
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < c->endpoints_size(); ++i) {
    lb::v1::Endpoint* e = c->mutable_endpoints(i);
    ValidationErrors::ScopedField field(&errors, absl::StrCat(".endpoints[", i, "]"));
    NormalizeEndpoint(e, &errors);
    std::string key = net::JoinHostPort(e->address(), e->port());
    if (!seen.insert(key).second) errors.AddError(absl::StrCat("duplicate endpoint ", key));
  }
  return errors.status();
}

absl::Status NormalizeRoute(lb::v1::Route* r, absl::string_view path) {
  ValidationErrors errors;
  ValidationErrors::ScopedField root(&errors, path);
  if (std::string p = NameProblem(r->name()); !p.empty()) errors.AddFieldError(".name", p);
  // `host` alone stands for hosts [host]; problems are then reported at ".host".
  const bool from_host = r->hosts_size() == 0;
  if (from_host) r->add_hosts(r->host());
  if (r->hosts_size() > static_cast<int>(kMaxRouteHosts)) {
    errors.AddFieldError(".hosts", absl::StrCat("at most ", kMaxRouteHosts, " per route"));
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < r->hosts_size(); ++i) {
    std::string field = from_host ? ".host" : absl::StrCat(".hosts[", i, "]");
    std::string host = r->hosts(i).empty() ? "*" : absl::AsciiStrToLower(r->hosts(i));
    if (host != "*" && !IsRouteHost(host)) {
      errors.AddFieldError(field, "must be \"*\", a host name, \"*.\" + a domain, or an IP");
      continue;
    }
    if (!seen.insert(host).second) {
      errors.AddFieldError(field, absl::StrCat("duplicate host \"", host, "\""));
    }
    r->set_hosts(i, std::move(host));
  }
  if (!from_host) {
    std::string host = r->host().empty() ? "" : absl::AsciiStrToLower(r->host());
    if (!host.empty() && !seen.contains(host)) {
      errors.AddFieldError(".host",
                           "must be one of hosts (it is the first of hosts, kept for "
                           "older clients); set hosts only");
    }
  }
  if (r->hosts_size() > 0) r->set_host(r->hosts(0));
  NormalizeRouteMatch(r, &errors);
  NormalizeRouteBackends(r, &errors);
  NormalizeRouteHeaderChanges(r, &errors);
  if (r->https_redirect() != 0 && r->https_redirect() != 301 && r->https_redirect() != 308) {
    errors.AddFieldError(".https_redirect",
                         absl::StrCat("must be 0 (off), 301 or 308, got ", r->https_redirect()));
  }
  return errors.status();
}

}  // namespace lb::model
