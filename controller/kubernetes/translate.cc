#include "controller/kubernetes/translate.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/time/duration_text.h"
#include "controller/model/certificate.h"
#include "controller/model/validation.h"

namespace lb::kubernetes {
namespace {

using json = nlohmann::json;

// ---- Reading JSON without exceptions: every accessor checks types and answers a default. ----

const json& Null() {
  static const json* const kNull = new json();
  return *kNull;
}

// j[key] if j is an object holding key, else null.
const json& At(const json& j, const char* key) {
  if (!j.is_object()) return Null();
  auto it = j.find(key);
  return it == j.end() ? Null() : *it;
}

const json& At(const json& j, const char* k1, const char* k2) { return At(At(j, k1), k2); }

std::string Str(const json& j) { return j.is_string() ? j.get<std::string>() : std::string(); }
std::string Str(const json& j, const char* key) { return Str(At(j, key)); }

// An integer value (JSON integer, or a float that is one), or nullopt.
std::optional<int64_t> Int(const json& j) {
  if (j.is_number_integer()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return std::nullopt;
    }
    return j.get<int64_t>();
  }
  return std::nullopt;
}

// The elements of an array (empty for anything else).
const std::vector<json>& Items(const json& j) {
  static const std::vector<json>* const kEmpty = new std::vector<json>();
  if (!j.is_array()) return *kEmpty;
  return j.get_ref<const json::array_t&>();
}

// A boolean condition: true/false, or nullopt when absent or not a boolean.
std::optional<bool> Bool(const json& j) {
  if (j.is_boolean()) return j.get<bool>();
  return std::nullopt;
}

std::string Annotation(const json& obj, const char* key) {
  return Str(At(At(obj, "metadata"), "annotations"), key);
}
std::string Label(const json& obj, const char* key) {
  return Str(At(At(obj, "metadata"), "labels"), key);
}

// ---- Names ----

// FNV-1a 64: stable across processes and builds (absl::Hash is seeded per process).
uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// `name` if it is at most 128 characters, else its first 111 and "-" and 16 hex digits of its
// hash (names are [a-zA-Z0-9_.-], 1-128).
std::string FitName(std::string name) {
  constexpr size_t kMax = 128;
  if (name.size() <= kMax) return name;
  std::string hash = absl::StrCat(absl::Hex(Fnv1a(name), absl::kZeroPad16));
  name.resize(kMax - 1 - hash.size());
  return absl::StrCat(name, "-", hash);
}

std::string ClusterName(const std::string& ns, const std::string& service, int64_t port) {
  return FitName(absl::StrCat(ns, ".", service, ".", port));
}

bool SplitKey(const std::string& key, std::string* ns, std::string* name) {
  size_t slash = key.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == key.size()) return false;
  *ns = key.substr(0, slash);
  *name = key.substr(slash + 1);
  return true;
}

// ---- Services and their clusters ----

struct ServicePort {
  std::string name;     // "" for an unnamed port.
  int64_t port = 0;     // The Service port number.
  std::string cluster;  // NAMESPACE.SERVICE.PORT
};

struct ServiceInfo {
  std::vector<ServicePort> ports;
};

// What a backend reference resolved to: a cluster, or why not (a Gateway API reason).
struct Resolved {
  std::string cluster;
  std::string reason;  // "" when resolved: BackendNotFound, InvalidKind, RefNotPermitted.
  std::string message;
};

// A route before precedence is settled.
struct Candidate {
  lb::v1::Route route;
  // Gateway API tie-breaks: default backends last, then oldest object, kind, namespace/name,
  // position in the object.
  int tier = 0;
  std::string created;
  int kind_order = 0;  // 0 Ingress, 1 HTTPRoute.
  std::string ns, name;
  int index = 0;
  // The exact half of a path-element prefix ("/foo" of Prefix "/foo"): a real route with the
  // same match takes the host first, and losing it is not worth a warning.
  bool prefix_exact = false;
  std::string what;  // "ingress default/web", for warnings.
};

struct GatewayListener {
  std::string name;
  std::string hostname;  // "" = any
  int64_t port = 0;
  std::string protocol;
  std::string allowed_from = "Same";  // Same, All, Selector
};

struct GatewayInfo {
  std::string ns, name;
  std::vector<GatewayListener> listeners;
};

struct ParentResult {
  const json* parent_ref = nullptr;
  bool ours = false;
  bool accepted = false;
  std::string reason, message;
  std::vector<std::string> hostnames;  // Effective hosts through this parent.
};

// "*.example.com" covers "foo.example.com", "a.b.example.com" and "*.x.example.com", not
// "example.com" (Gateway API wildcard semantics).
bool WildcardCovers(absl::string_view wildcard, absl::string_view host) {
  if (!absl::StartsWith(wildcard, "*.")) return false;
  absl::string_view suffix = wildcard.substr(1);  // ".example.com"
  return host.size() > suffix.size() && absl::EndsWith(host, suffix);
}

// The hostname a route hostname and a listener hostname both match ("" = any), or nullopt.
std::optional<std::string> IntersectHost(const std::string& listener, const std::string& route) {
  if (listener.empty()) return route;
  if (route.empty() || route == listener) return listener;
  if (WildcardCovers(listener, route)) return route;
  if (WildcardCovers(route, listener)) return listener;
  return std::nullopt;
}

// The Kubernetes path-element prefix "/foo/" or "/foo" as "/foo" ("/" stays "/").
std::string TrimPrefix(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

lb::v1::Route BaseRoute() {
  lb::v1::Route r;
  r.set_owner(kOwner);
  return r;
}

class Translator {
 public:
  Translator(const ObjectSnapshot& objects, const TranslateOptions& options)
      : objects_(objects), options_(options) {}

  DesiredState Run() {
    IndexSlices();
    SelectIngresses();
    if (objects_.gateway_api_present) {
      SelectGateways();
      AttachHttpRoutes();
    }
    SelectServices();
    BuildClusters();
    for (const auto& [key, ingress] : ingresses_) IngressRoutes(key, *ingress);
    for (auto& route : http_routes_) HttpRouteRoutes(route);
    SettleRoutes();
    BuildCertificates();
    IngressStatus();
    HttpRouteStatus();
    std::sort(out_.clusters.begin(), out_.clusters.end(),
              [](const auto& a, const auto& b) { return a.name() < b.name(); });
    std::sort(out_.routes.begin(), out_.routes.end(),
              [](const auto& a, const auto& b) { return a.name() < b.name(); });
    std::sort(out_.certificates.begin(), out_.certificates.end(),
              [](const auto& a, const auto& b) { return a.name() < b.name(); });
    return std::move(out_);
  }

 private:
  struct HttpRouteState {
    std::string key, ns, name;
    const json* obj = nullptr;
    std::vector<ParentResult> parents;
    bool attached = false;
    // ResolvedRefs: the first problem, or "" when every backend resolved.
    std::string refs_reason, refs_message;
    std::vector<std::string> skipped;  // Parts of the route that could not be programmed.
  };

  void Warn(std::string w) { out_.warnings.push_back(std::move(w)); }

  std::string Now() const {
    return options_.now.empty() ? std::string("1970-01-01T00:00:00Z") : options_.now;
  }

  void IndexSlices() {
    for (const auto& [key, slice] : objects_.endpoint_slices) {
      std::string ns, name;
      if (!SplitKey(key, &ns, &name)) continue;
      std::string service = Label(slice, "kubernetes.io/service-name");
      if (service.empty()) continue;
      slices_[absl::StrCat(ns, "/", service)].push_back(&slice);
    }
  }

  // ---- Ingresses ----

  bool OurIngress(const json& ing) const {
    std::string cls = Str(At(ing, "spec"), "ingressClassName");
    if (cls.empty()) cls = Annotation(ing, "kubernetes.io/ingress.class");
    return !cls.empty() && cls == options_.ingress_class;
  }

  void SelectIngresses() {
    for (const auto& [key, ing] : objects_.ingresses) {
      std::string ns, name;
      if (!SplitKey(key, &ns, &name) || !OurIngress(ing)) continue;
      ingresses_.emplace_back(key, &ing);
      const json& spec = At(ing, "spec");
      auto reference = [&](const json& backend) {
        std::string svc = Str(At(backend, "service"), "name");
        if (!svc.empty()) referenced_.insert(absl::StrCat(ns, "/", svc));
      };
      reference(At(spec, "defaultBackend"));
      for (const json& rule : Items(At(spec, "rules"))) {
        for (const json& path : Items(At(rule, "http", "paths"))) reference(At(path, "backend"));
      }
    }
  }

  // ---- Gateways and HTTPRoutes ----

  void SelectGateways() {
    for (const auto& [key, gw] : objects_.gateways) {
      GatewayInfo info;
      if (!SplitKey(key, &info.ns, &info.name)) continue;
      if (Str(At(gw, "spec"), "gatewayClassName") != options_.gateway_class) continue;
      for (const json& l : Items(At(gw, "spec", "listeners"))) {
        GatewayListener listener;
        listener.name = Str(l, "name");
        listener.hostname = absl::AsciiStrToLower(Str(l, "hostname"));
        listener.port = Int(At(l, "port")).value_or(0);
        listener.protocol = Str(l, "protocol");
        std::string from = Str(At(At(l, "allowedRoutes"), "namespaces"), "from");
        if (!from.empty()) listener.allowed_from = from;
        if (listener.allowed_from == "Selector") {
          Warn(absl::StrCat("gateway ", key, " listener \"", listener.name,
                            "\": namespace selectors are not evaluated; only routes of the "
                            "Gateway's namespace attach"));
        }
        info.listeners.push_back(std::move(listener));
      }
      gateways_.emplace(key, std::move(info));
    }
  }

  // Whether `listener` takes HTTPRoutes from namespace `ns`.
  static bool ListenerAllows(const GatewayListener& l, const GatewayInfo& gw,
                             const std::string& ns) {
    if (l.protocol != "HTTP" && l.protocol != "HTTPS") return false;
    if (l.allowed_from == "All") return true;
    return ns == gw.ns;  // Same, and Selector (not evaluated: see SelectGateways).
  }

  void AttachHttpRoutes() {
    for (const auto& [key, obj] : objects_.http_routes) {
      HttpRouteState st;
      st.key = key;
      st.obj = &obj;
      if (!SplitKey(key, &st.ns, &st.name)) continue;
      std::vector<std::string> route_hosts;
      for (const json& h : Items(At(obj, "spec", "hostnames"))) {
        route_hosts.push_back(absl::AsciiStrToLower(Str(h)));
      }
      if (route_hosts.empty()) route_hosts.push_back("");
      for (const json& ref : Items(At(obj, "spec", "parentRefs"))) {
        ParentResult p;
        p.parent_ref = &ref;
        std::string group =
            At(ref, "group").is_string() ? Str(ref, "group") : "gateway.networking.k8s.io";
        std::string kind = At(ref, "kind").is_string() ? Str(ref, "kind") : "Gateway";
        std::string ns = At(ref, "namespace").is_string() ? Str(ref, "namespace") : st.ns;
        auto gw = gateways_.find(absl::StrCat(ns, "/", Str(ref, "name")));
        if (group != "gateway.networking.k8s.io" || kind != "Gateway" || gw == gateways_.end()) {
          st.parents.push_back(std::move(p));  // Not ours: left to its controller.
          continue;
        }
        p.ours = true;
        const std::string section = Str(ref, "sectionName");
        const std::optional<int64_t> port = Int(At(ref, "port"));
        bool any_listener = false, allowed = false;
        std::set<std::string> hosts;
        for (const GatewayListener& l : gw->second.listeners) {
          if (!section.empty() && l.name != section) continue;
          if (port.has_value() && l.port != *port) continue;
          any_listener = true;
          if (!ListenerAllows(l, gw->second, st.ns)) continue;
          allowed = true;
          for (const std::string& rh : route_hosts) {
            if (std::optional<std::string> h = IntersectHost(l.hostname, rh)) {
              hosts.insert(h->empty() ? "*" : *h);
            }
          }
        }
        if (!any_listener) {
          p.reason = "NoMatchingParent";
          p.message = "no listener of the Gateway matches the parentRef's sectionName/port";
        } else if (!allowed) {
          p.reason = "NotAllowedByListeners";
          p.message = "no HTTP/HTTPS listener of the Gateway allows routes from this namespace";
        } else if (hosts.empty()) {
          p.reason = "NoMatchingListenerHostname";
          p.message = "no hostname of the route matches a listener's hostname";
        } else {
          p.accepted = true;
          p.reason = "Accepted";
          p.message = "Accepted";
          p.hostnames.assign(hosts.begin(), hosts.end());
          st.attached = true;
        }
        st.parents.push_back(std::move(p));
      }
      bool any_ours = false;
      for (const ParentResult& p : st.parents) any_ours |= p.ours;
      if (st.attached) {
        for (const json& rule : Items(At(obj, "spec", "rules"))) {
          for (const json& b : Items(At(rule, "backendRefs"))) {
            std::string ns = At(b, "namespace").is_string() ? Str(b, "namespace") : st.ns;
            referenced_.insert(absl::StrCat(ns, "/", Str(b, "name")));
          }
        }
      }
      if (any_ours || HasOurStatus(obj)) http_routes_.push_back(std::move(st));
    }
  }

  bool HasOurStatus(const json& obj) const {
    for (const json& p : Items(At(obj, "status", "parents"))) {
      if (Str(p, "controllerName") == options_.gateway_controller_name) return true;
    }
    return false;
  }

  // ---- Services -> clusters ----

  void SelectServices() {
    for (const auto& [key, svc] : objects_.services) {
      if (Label(svc, "lb/sync") == "true") referenced_.insert(key);
    }
  }

  void BuildClusters() {
    for (const std::string& key : referenced_) {
      auto it = objects_.services.find(key);
      if (it == objects_.services.end()) continue;  // Warned where it is referenced.
      std::string ns, name;
      if (!SplitKey(key, &ns, &name)) continue;
      BuildServiceClusters(key, ns, name, it->second);
    }
  }

  // The cluster settings of a Service's annotations (every port's cluster gets them).
  lb::v1::Cluster ServiceSettings(const std::string& key, const json& svc) {
    lb::v1::Cluster c;
    const std::string what = absl::StrCat("service ", key);
    std::string policy = absl::AsciiStrToUpper(Annotation(svc, "lb/lb-policy"));
    if (!policy.empty()) {
      lb::v1::LbPolicy p;
      if (lb::v1::LbPolicy_Parse(policy, &p) && p != lb::v1::LB_POLICY_UNSPECIFIED) {
        c.set_lb_policy(p);
      } else {
        Warn(absl::StrCat(what, ": annotation lb/lb-policy \"", policy,
                          "\" is not RANDOM, ROUND_ROBIN, LEAST_REQUEST, RING_HASH or MAGLEV; "
                          "using the default"));
      }
    }
    std::string cookie = Annotation(svc, "lb/hash-cookie");
    if (!cookie.empty()) {
      if (model::IsValidName(cookie)) {
        if (c.lb_policy() != lb::v1::MAGLEV) {
          if (c.lb_policy() != lb::v1::LB_POLICY_UNSPECIFIED &&
              c.lb_policy() != lb::v1::RING_HASH) {
            Warn(absl::StrCat(what,
                              ": annotation lb/hash-cookie needs a hash policy; using "
                              "RING_HASH instead of ",
                              lb::v1::LbPolicy_Name(c.lb_policy())));
          }
          c.set_lb_policy(lb::v1::RING_HASH);
        }
        c.mutable_hash_policy()->set_cookie(cookie);
      } else {
        Warn(absl::StrCat(what, ": annotation lb/hash-cookie \"", absl::CHexEscape(cookie),
                          "\" is not a cookie name ([a-zA-Z0-9_.-], 1-128); no affinity"));
      }
    }
    std::string slow = Annotation(svc, "lb/slow-start");
    if (!slow.empty()) {
      absl::StatusOr<absl::Duration> d = ParseDurationText(slow);
      if (!d.ok() || *d < absl::Seconds(1) || *d > absl::Seconds(model::kMaxSlowStartSeconds)) {
        Warn(absl::StrCat(what, ": annotation lb/slow-start \"", absl::CHexEscape(slow),
                          "\" is not a duration from 1s to 1h; no slow start"));
      } else if (c.lb_policy() == lb::v1::RING_HASH || c.lb_policy() == lb::v1::MAGLEV) {
        Warn(absl::StrCat(what,
                          ": annotation lb/slow-start does not apply to hash policies "
                          "(RING_HASH, MAGLEV); no slow start"));
      } else {
        int64_t secs = absl::IDivDuration(*d, absl::Seconds(1), &*d);
        c.mutable_slow_start_window()->set_seconds(secs);
        c.mutable_slow_start_window()->set_nanos(
            static_cast<int32_t>(absl::ToInt64Nanoseconds(*d)));
      }
    }
    std::string protocol = absl::AsciiStrToUpper(Annotation(svc, "lb/protocol"));
    if (protocol == "HTTP1" || protocol == "HTTP2") {
      c.set_protocol(protocol == "HTTP2" ? lb::v1::HTTP2 : lb::v1::HTTP1);
    } else if (!protocol.empty()) {
      Warn(absl::StrCat(what, ": annotation lb/protocol \"", absl::CHexEscape(protocol),
                        "\" is not HTTP1 or HTTP2; using the default"));
    }
    return c;
  }

  void BuildServiceClusters(const std::string& key, const std::string& ns, const std::string& name,
                            const json& svc) {
    const lb::v1::Cluster settings = ServiceSettings(key, svc);
    std::optional<uint32_t> weight;
    if (std::string w = Annotation(svc, "lb/endpoint-weight"); !w.empty()) {
      uint32_t v = 0;
      if (absl::SimpleAtoi(w, &v) && v >= 1 && v <= model::kMaxWeight) {
        weight = v;
      } else {
        Warn(absl::StrCat("service ", key, ": annotation lb/endpoint-weight \"",
                          absl::CHexEscape(w), "\" is not from 1 to 10000; using 1"));
      }
    }
    ServiceInfo& info = services_[key];
    std::set<int64_t> seen_ports;
    for (const json& sp : Items(At(svc, "spec", "ports"))) {
      std::string protocol = Str(sp, "protocol");
      if (!protocol.empty() && protocol != "TCP") continue;
      std::optional<int64_t> port = Int(At(sp, "port"));
      if (!port.has_value() || *port < 1 || *port > 65535 || !seen_ports.insert(*port).second) {
        continue;
      }
      ServicePort p{Str(sp, "name"), *port, ClusterName(ns, name, *port)};
      lb::v1::Cluster c = settings;
      c.set_name(p.cluster);
      c.set_owner(kOwner);
      std::string app = Str(sp, "appProtocol");
      if (app == "kubernetes.io/h2c") {
        c.set_protocol(lb::v1::HTTP2);
      } else if (app == "http") {
        c.set_protocol(lb::v1::HTTP1);
      }
      FillEndpoints(key, sp, weight, &c);
      lb::v1::Cluster check = c;
      if (absl::Status s = model::NormalizeCluster(&check); !s.ok()) {
        Warn(absl::StrCat("service ", key, " port ", *port, ": ", s.message(),
                          "; annotations ignored"));
        lb::v1::Cluster plain;
        plain.set_name(c.name());
        plain.set_owner(kOwner);
        *plain.mutable_endpoints() = c.endpoints();
        c = std::move(plain);
        check = c;
        if (!model::NormalizeCluster(&check).ok()) continue;
      }
      info.ports.push_back(std::move(p));
      out_.clusters.push_back(std::move(c));
    }
  }

  // The slice port serving Service port `sp`: the one with its name, else (unnamed slice ports)
  // the one with its numeric targetPort.
  static std::optional<int64_t> SlicePort(const json& slice, const json& sp) {
    const std::string name = Str(sp, "name");
    for (const json& p : Items(At(slice, "ports"))) {
      if (Str(p, "name") == name) return Int(At(p, "port"));
    }
    std::optional<int64_t> target = Int(At(sp, "targetPort"));
    if (!At(sp, "targetPort").is_null() && !target.has_value()) return std::nullopt;  // Named.
    if (!target.has_value()) target = Int(At(sp, "port"));
    for (const json& p : Items(At(slice, "ports"))) {
      if (Int(At(p, "port")) == target && Str(p, "name").empty()) return target;
    }
    return std::nullopt;
  }

  void FillEndpoints(const std::string& key, const json& sp, std::optional<uint32_t> weight,
                     lb::v1::Cluster* c) {
    auto it = slices_.find(key);
    if (it == slices_.end()) return;
    std::map<std::pair<std::string, uint32_t>, lb::v1::Endpoint> endpoints;
    for (const json* slice : it->second) {
      std::optional<int64_t> port = SlicePort(*slice, sp);
      if (!port.has_value() || *port < 1 || *port > 65535) continue;
      for (const json& e : Items(At(*slice, "endpoints"))) {
        const std::vector<json>& addresses = Items(At(e, "addresses"));
        if (addresses.empty()) continue;
        const json& cond = At(e, "conditions");
        lb::v1::AdminState state;
        if (Bool(At(cond, "ready")).value_or(true)) {
          state = lb::v1::ACTIVE;
        } else if (Bool(At(cond, "serving")).value_or(false) &&
                   Bool(At(cond, "terminating")).value_or(false)) {
          state = lb::v1::DRAINING;
        } else {
          continue;
        }
        std::string raw = Str(addresses[0]);  // Consumers may use the first (API docs).
        absl::StatusOr<std::string> address = model::NormalizeAddress(raw);
        if (!address.ok()) {
          Warn(absl::StrCat("endpointslice of service ", key, ": ", address.status().message()));
          continue;
        }
        lb::v1::Endpoint ep;
        ep.set_address(*address);
        ep.set_port(static_cast<uint32_t>(*port));
        if (weight.has_value()) ep.set_weight(*weight);
        ep.set_zone(Str(e, "zone"));
        ep.set_admin_state(state);
        if (lb::v1::Endpoint check = ep; !model::NormalizeEndpoint(&check).ok()) {
          Warn(absl::StrCat("endpointslice of service ", key, ": endpoint ", *address,
                            " is not valid (zone?); skipped"));
          continue;
        }
        auto [slot, inserted] = endpoints.try_emplace({*address, ep.port()}, ep);
        // The same address in two slices (a pod moving between them): ready wins.
        if (!inserted && state == lb::v1::ACTIVE) slot->second = ep;
      }
    }
    for (auto& [k, ep] : endpoints) {
      if (c->endpoints_size() == static_cast<int>(model::kMaxEndpointsPerCluster)) {
        Warn(absl::StrCat("service ", key, ": more than ", model::kMaxEndpointsPerCluster,
                          " endpoints for port ", Str(sp, "name"), "; the rest left out"));
        break;
      }
      *c->add_endpoints() = std::move(ep);
    }
  }

  // The cluster of Service `ns/name` port `port` (a number, or a port name when
  // `port_name` is set).
  Resolved ResolveService(const std::string& ns, const std::string& name, const json& port,
                          bool by_name_allowed) {
    Resolved r;
    const std::string key = absl::StrCat(ns, "/", name);
    if (name.empty() || objects_.services.find(key) == objects_.services.end()) {
      r.reason = "BackendNotFound";
      r.message = absl::StrCat("service \"", key, "\" not found");
      return r;
    }
    auto it = services_.find(key);
    std::optional<int64_t> number = Int(port);
    std::string port_name = by_name_allowed ? Str(port) : std::string();
    if (it != services_.end()) {
      for (const ServicePort& p : it->second.ports) {
        if ((number.has_value() && p.port == *number) ||
            (!port_name.empty() && p.name == port_name)) {
          r.cluster = p.cluster;
          return r;
        }
      }
    }
    r.reason = "BackendNotFound";
    r.message = absl::StrCat(
        "service \"", key, "\" has no port ",
        number.has_value() ? absl::StrCat(*number) : absl::StrCat("\"", port_name, "\""));
    return r;
  }

  // ---- Ingress routes ----

  // Adds the routes of one path match: Exact, Prefix as two routes (path-element semantics:
  // "/foo" matches "/foo" and "/foo/...", never "/foobar"), ImplementationSpecific as a plain
  // prefix.
  static std::vector<std::pair<lb::v1::Route, bool>> PathRoutes(const std::string& type,
                                                                const std::string& path) {
    std::vector<std::pair<lb::v1::Route, bool>> out;
    lb::v1::Route r = BaseRoute();
    if (type == "Exact") {
      r.set_path_exact(path);
      out.emplace_back(std::move(r), false);
    } else if (type == "Prefix" || type == "PathPrefix") {
      std::string p = TrimPrefix(path.empty() ? "/" : path);
      if (p == "/") {
        r.set_path_prefix("/");
        out.emplace_back(std::move(r), false);
      } else {
        lb::v1::Route exact = r;
        exact.set_path_exact(p);
        out.emplace_back(std::move(exact), true);
        r.set_path_prefix(p + "/");
        out.emplace_back(std::move(r), false);
      }
    } else {
      r.set_path_prefix(path.empty() ? "/" : path);
      out.emplace_back(std::move(r), false);
    }
    return out;
  }

  std::string IngressBackend(const std::string& ns, const std::string& what, const json& backend) {
    const json& service = At(backend, "service");
    if (service.is_null()) {
      Warn(absl::StrCat(what, ": only service backends are supported; path skipped"));
      return "";
    }
    const json& port = At(service, "port");
    const json& port_ref = At(port, "number").is_null() ? At(port, "name") : At(port, "number");
    Resolved r = ResolveService(ns, Str(service, "name"), port_ref, /*by_name_allowed=*/true);
    if (r.cluster.empty()) Warn(absl::StrCat(what, ": ", r.message, "; path skipped"));
    return r.cluster;
  }

  void IngressRoutes(const std::string& key, const json& ing) {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    const std::string what = absl::StrCat("ingress ", key);
    const std::string created = Str(At(ing, "metadata"), "creationTimestamp");
    uint32_t redirect = 0;
    if (std::string a = Annotation(ing, "lb/https-redirect"); !a.empty()) {
      if (a == "true" || a == "308") {
        redirect = 308;
      } else if (a == "301") {
        redirect = 301;
      } else if (a != "false") {
        Warn(absl::StrCat(what, ": annotation lb/https-redirect \"", absl::CHexEscape(a),
                          "\" is not true, false, 301 or 308; off"));
      }
    }
    int n = 0;
    auto add = [&](lb::v1::Route r, bool prefix_exact, int tier) {
      Candidate c;
      c.route = std::move(r);
      c.route.set_name(FitName(absl::StrCat("k8s.ingress.", ns, ".", name, ".", n)));
      c.route.set_https_redirect(redirect);
      c.tier = tier;
      c.created = created;
      c.kind_order = 0;
      c.ns = ns;
      c.name = name;
      c.index = n++;
      c.prefix_exact = prefix_exact;
      c.what = what;
      candidates_.push_back(std::move(c));
    };
    const json& spec = At(ing, "spec");
    for (const json& rule : Items(At(spec, "rules"))) {
      std::string host = absl::AsciiStrToLower(Str(rule, "host"));
      for (const json& path : Items(At(rule, "http", "paths"))) {
        std::string cluster = IngressBackend(ns, what, At(path, "backend"));
        std::string type = Str(path, "pathType");
        std::string p = Str(path, "path");
        for (auto& [r, prefix_exact] : PathRoutes(type, p)) {
          if (cluster.empty()) {
            ++n;  // Keeps the names of the other routes stable.
            continue;
          }
          r.add_hosts(host.empty() ? "*" : host);
          r.set_cluster(cluster);
          add(std::move(r), prefix_exact, 0);
        }
      }
    }
    const json& def = At(spec, "defaultBackend");
    if (!def.is_null()) {
      std::string cluster = IngressBackend(ns, what, def);
      if (!cluster.empty()) {
        lb::v1::Route r = BaseRoute();
        r.add_hosts("*");
        r.set_path_prefix("/");
        r.set_cluster(cluster);
        add(std::move(r), false, 1);
      }
    }
  }

  // ---- HTTPRoute routes ----

  void HttpRouteRoutes(HttpRouteState& st) {
    if (!st.attached) return;
    const json& obj = *st.obj;
    const std::string what = absl::StrCat("httproute ", st.key);
    const std::string created = Str(At(obj, "metadata"), "creationTimestamp");
    std::set<std::string> hosts;
    for (const ParentResult& p : st.parents) hosts.insert(p.hostnames.begin(), p.hostnames.end());
    int n = 0;
    int rule_index = -1;
    for (const json& rule : Items(At(obj, "spec", "rules"))) {
      ++rule_index;
      const std::string rule_what = absl::StrCat(what, " rule ", rule_index);
      // Backends.
      std::map<std::string, uint64_t> weights;  // cluster -> summed weight
      std::vector<std::string> order;
      bool unsupported = false;
      for (const json& b : Items(At(rule, "backendRefs"))) {
        if (!Items(At(b, "filters")).empty()) {
          st.skipped.push_back(absl::StrCat("rule ", rule_index, ": backendRef filters"));
          unsupported = true;
        }
        std::string group = Str(b, "group");
        std::string kind = At(b, "kind").is_string() ? Str(b, "kind") : "Service";
        std::string ns = At(b, "namespace").is_string() ? Str(b, "namespace") : st.ns;
        Resolved r;
        if ((group != "" && group != "core") || kind != "Service") {
          r.reason = "InvalidKind";
          r.message = absl::StrCat("backendRef kind ", group.empty() ? "" : group + "/", kind,
                                   " is not a Service");
        } else if (ns != st.ns) {
          r.reason = "RefNotPermitted";
          r.message = absl::StrCat("backendRef to namespace \"", ns,
                                   "\" (ReferenceGrants are not supported)");
        } else if (At(b, "port").is_null()) {
          r.reason = "BackendNotFound";
          r.message =
              absl::StrCat("backendRef to service \"", ns, "/", Str(b, "name"), "\" has no port");
        } else {
          r = ResolveService(ns, Str(b, "name"), At(b, "port"), /*by_name_allowed=*/false);
        }
        if (r.cluster.empty()) {
          if (st.refs_reason.empty()) {
            st.refs_reason = r.reason;
            st.refs_message = r.message;
          }
          Warn(absl::StrCat(rule_what, ": ", r.message));
          continue;
        }
        std::optional<int64_t> w = Int(At(b, "weight"));
        if (!At(b, "weight").is_null() && (!w.has_value() || *w < 0 || *w > 1000000)) {
          Warn(absl::StrCat(rule_what, ": backendRef weight is not from 0 to 1000000; skipped"));
          continue;
        }
        uint64_t weight = w.value_or(1);
        if (weights.find(r.cluster) == weights.end()) order.push_back(r.cluster);
        weights[r.cluster] += weight;
      }
      // Filters.
      lb::v1::Route base = BaseRoute();
      for (const json& f : Items(At(rule, "filters"))) {
        std::string type = Str(f, "type");
        if (type != "RequestHeaderModifier") {
          st.skipped.push_back(absl::StrCat("rule ", rule_index, ": filter ", type));
          unsupported = true;
          continue;
        }
        const json& m = At(f, "requestHeaderModifier");
        for (const json& h : Items(At(m, "set"))) {
          lb::v1::HeaderValue* v = base.add_request_headers_to_add();
          v->set_name(absl::AsciiStrToLower(Str(h, "name")));
          v->set_value(Str(h, "value"));
        }
        for (const json& h : Items(At(m, "add"))) {
          lb::v1::HeaderValue* v = base.add_request_headers_to_add();
          v->set_name(absl::AsciiStrToLower(Str(h, "name")));
          v->set_value(Str(h, "value"));
          v->set_append(true);
        }
        for (const json& h : Items(At(m, "remove"))) {
          base.add_request_headers_to_remove(absl::AsciiStrToLower(Str(h)));
        }
      }
      std::vector<const json*> matches;
      for (const json& m : Items(At(rule, "matches"))) matches.push_back(&m);
      const json default_match = json::object();
      if (matches.empty()) matches.push_back(&default_match);
      if (unsupported) {
        Warn(absl::StrCat(rule_what, ": unsupported filters; rule skipped"));
        n += static_cast<int>(matches.size()) * 2;  // Names of later rules stay stable.
        continue;
      }
      uint64_t total = 0;
      for (const auto& [c, w] : weights) total += w;
      if (total == 0) {
        if (!order.empty() || Items(At(rule, "backendRefs")).empty()) {
          Warn(absl::StrCat(rule_what, order.empty() ? ": no backendRefs" : ": every weight is 0",
                            " (Gateway API answers 500); rule skipped"));
        } else {
          Warn(absl::StrCat(rule_what, ": no backend resolved; rule skipped"));
        }
        n += static_cast<int>(matches.size()) * 2;
        continue;
      }
      std::vector<std::string> live;
      for (const std::string& c : order) {
        if (weights[c] > 0) live.push_back(c);
      }
      if (live.size() == 1) {
        base.set_cluster(live[0]);
      } else {
        for (const std::string& c : live) {
          lb::v1::WeightedCluster* wc = base.add_weighted_clusters();
          wc->set_cluster(c);
          wc->set_weight(static_cast<uint32_t>(std::min<uint64_t>(weights[c], 1000000)));
        }
      }
      int match_index = -1;
      for (const json* m : matches) {
        ++match_index;
        const int first = n;
        n += 2;  // Each match has two names: a prefix may become an exact and a prefix route.
        const json& path = At(*m, "path");
        std::string type = At(path, "type").is_string() ? Str(path, "type") : "PathPrefix";
        std::string value = At(path, "value").is_string() ? Str(path, "value") : "/";
        if (type != "Exact" && type != "PathPrefix") {
          st.skipped.push_back(absl::StrCat("rule ", rule_index, ": path type ", type));
          Warn(absl::StrCat(rule_what, ": path match type ", type, " is not supported; skipped"));
          continue;
        }
        if (!Items(At(*m, "queryParams")).empty()) {
          st.skipped.push_back(absl::StrCat("rule ", rule_index, ": queryParams"));
          Warn(absl::StrCat(rule_what, ": query parameter matches are not supported; skipped"));
          continue;
        }
        lb::v1::Route r = base;
        bool bad = false;
        for (const json& h : Items(At(*m, "headers"))) {
          std::string htype = At(h, "type").is_string() ? Str(h, "type") : "Exact";
          if (htype != "Exact") {
            st.skipped.push_back(absl::StrCat("rule ", rule_index, ": header match ", htype));
            Warn(absl::StrCat(rule_what, ": header match type ", htype,
                              " is not supported; skipped"));
            bad = true;
            break;
          }
          lb::v1::HeaderMatch* hm = r.add_headers();
          hm->set_name(absl::AsciiStrToLower(Str(h, "name")));
          hm->set_exact(Str(h, "value"));
        }
        if (bad) continue;
        r.set_method(Str(*m, "method"));
        int sub = 0;
        for (auto& [pr, prefix_exact] : PathRoutes(type, value)) {
          lb::v1::Route route = r;
          route.MergeFrom(pr);
          for (const std::string& h : hosts) route.add_hosts(h);
          Candidate c;
          c.route = std::move(route);
          c.route.set_name(
              FitName(absl::StrCat("k8s.httproute.", st.ns, ".", st.name, ".", first + sub)));
          c.created = created;
          c.kind_order = 1;
          c.ns = st.ns;
          c.name = st.name;
          c.index = first + sub;
          c.prefix_exact = prefix_exact;
          c.what = what;
          candidates_.push_back(std::move(c));
          ++sub;
        }
      }
    }
  }

  // ---- Precedence, conflicts, validation ----

  void SettleRoutes() {
    std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
      return std::tie(a.tier, a.created, a.kind_order, a.ns, a.name, a.index) <
             std::tie(b.tier, b.created, b.kind_order, b.ns, b.name, b.index);
    });
    for (size_t i = 0; i < candidates_.size(); ++i) {
      candidates_[i].route.set_priority(static_cast<uint32_t>(i));
    }
    // Who takes a host + match first: real routes in precedence order, then the exact halves of
    // path-element prefixes (an Exact match of the same path wins over them).
    std::vector<Candidate*> order;
    for (Candidate& c : candidates_) order.push_back(&c);
    std::stable_sort(order.begin(), order.end(), [](const Candidate* a, const Candidate* b) {
      return a->prefix_exact < b->prefix_exact;
    });
    absl::flat_hash_map<std::string, std::string> taken;  // host + match -> route name
    for (Candidate* c : order) {
      lb::v1::Route check = c->route;
      if (absl::Status s = model::NormalizeRoute(&check); !s.ok()) {
        Warn(absl::StrCat(c->what, ": ", s.message(), "; route skipped"));
        continue;
      }
      std::vector<std::string> headers;
      for (const auto& h : check.headers()) headers.push_back(h.SerializeAsString());
      std::sort(headers.begin(), headers.end());
      const std::string match = absl::StrCat(check.path_prefix(), "\n", check.path_exact(), "\n",
                                             check.method(), "\n", absl::StrJoin(headers, "\n"));
      lb::v1::Route& r = c->route;
      std::vector<std::string> kept;
      for (int i = 0; i < check.hosts_size(); ++i) {
        auto [it, inserted] =
            taken.try_emplace(absl::StrCat(check.hosts(i), "\n", match), r.name());
        if (inserted) {
          kept.push_back(r.hosts(i));
        } else if (!c->prefix_exact) {
          Warn(absl::StrCat(c->what, ": host \"", check.hosts(i),
                            "\" with the same match is "
                            "already routed by route \"",
                            it->second, "\", which takes precedence; left out"));
        }
      }
      if (kept.empty()) continue;
      r.clear_hosts();
      for (std::string& h : kept) r.add_hosts(std::move(h));
      out_.routes.push_back(std::move(r));
    }
  }

  // ---- Certificates ----

  void BuildCertificates() {
    // Oldest Ingress first: it keeps an SNI name another one also claims.
    std::vector<std::pair<std::string, const json*>> sorted = ingresses_;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return std::make_pair(Str(At(*a.second, "metadata"), "creationTimestamp"), a.first) <
             std::make_pair(Str(At(*b.second, "metadata"), "creationTimestamp"), b.first);
    });
    std::map<std::string, lb::v1::Certificate> certs;  // by Secret key
    std::map<std::string, std::string> sni_owner;      // SNI -> Secret key
    for (const auto& [key, ing] : sorted) {
      std::string ns, name;
      SplitKey(key, &ns, &name);
      const std::string what = absl::StrCat("ingress ", key);
      std::vector<std::string> rule_hosts;
      for (const json& rule : Items(At(*ing, "spec", "rules"))) {
        std::string h = absl::AsciiStrToLower(Str(rule, "host"));
        if (!h.empty()) rule_hosts.push_back(h);
      }
      for (const json& tls : Items(At(*ing, "spec", "tls"))) {
        std::string secret_name = Str(tls, "secretName");
        if (secret_name.empty()) {
          Warn(absl::StrCat(what, ": a TLS section without secretName; skipped"));
          continue;
        }
        const std::string secret_key = absl::StrCat(ns, "/", secret_name);
        auto secret = objects_.secrets.find(secret_key);
        if (secret == objects_.secrets.end()) {
          Warn(absl::StrCat(what, ": secret \"", secret_key, "\" not found; TLS section skipped"));
          continue;
        }
        if (Str(secret->second, "type") != "kubernetes.io/tls") {
          Warn(absl::StrCat(what, ": secret \"", secret_key,
                            "\" is not of type kubernetes.io/tls; TLS section skipped"));
          continue;
        }
        std::string crt, tls_key;
        const json& data = At(secret->second, "data");
        if (!absl::Base64Unescape(Str(data, "tls.crt"), &crt) ||
            !absl::Base64Unescape(Str(data, "tls.key"), &tls_key) || crt.empty() ||
            tls_key.empty()) {
          Warn(absl::StrCat(what, ": secret \"", secret_key,
                            "\" lacks base64 tls.crt and tls.key; TLS section skipped"));
          continue;
        }
        std::vector<std::string> hosts;
        for (const json& h : Items(At(tls, "hosts"))) {
          hosts.push_back(absl::AsciiStrToLower(Str(h)));
        }
        if (hosts.empty()) hosts = rule_hosts;
        auto [it, inserted] = certs.try_emplace(secret_key);
        lb::v1::Certificate& cert = it->second;
        if (inserted) {
          cert.set_name(FitName(absl::StrCat("k8s.secret.", ns, ".", secret_name)));
          cert.set_cert_chain(crt);
          cert.set_private_key(tls_key);
          cert.set_owner(kOwner);
        }
        for (const std::string& h : hosts) {
          if (!model::IsValidSniName(h)) {
            Warn(absl::StrCat(what, ": TLS host \"", absl::CHexEscape(h),
                              "\" is not a valid SNI name; skipped"));
            continue;
          }
          auto [owner, fresh] = sni_owner.try_emplace(h, secret_key);
          if (fresh) {
            cert.add_sni(h);
          } else if (owner->second != secret_key) {
            Warn(absl::StrCat(what, ": TLS host \"", h, "\" is already served by secret \"",
                              owner->second, "\" (older Ingress); skipped"));
          }
        }
      }
    }
    for (auto& [key, cert] : certs) {
      if (cert.sni_size() == 0) {
        Warn(absl::StrCat("secret ", key, ": no TLS host left to serve it for; not used"));
        continue;
      }
      std::sort(cert.mutable_sni()->begin(), cert.mutable_sni()->end());
      out_.certificates.push_back(std::move(cert));
    }
  }

  // ---- Status ----

  void IngressStatus() {
    if (options_.ingress_status_addresses.empty()) return;
    json lb_ingress = json::array();
    for (const std::string& a : options_.ingress_status_addresses) {
      lb_ingress.push_back(model::IsIpLiteral(a) ? json{{"ip", a}} : json{{"hostname", a}});
    }
    for (const auto& [key, ing] : ingresses_) {
      if (At(At(*ing, "status", "loadBalancer"), "ingress") == lb_ingress) continue;
      StatusWrite w;
      w.resource = "ingresses";
      SplitKey(key, &w.ns, &w.name);
      w.patch = {{"status", {{"loadBalancer", {{"ingress", lb_ingress}}}}}};
      out_.status_writes.push_back(std::move(w));
    }
  }

  // A condition, keeping its lastTransitionTime from `old` (the route's current entry for this
  // parent) while its status stays the same.
  json Condition(const json& old, const std::string& type, bool ok, const std::string& reason,
                 const std::string& message, const json& generation) const {
    std::string since = Now();
    for (const json& c : Items(At(old, "conditions"))) {
      if (Str(c, "type") == type && Str(c, "status") == (ok ? "True" : "False") &&
          At(c, "lastTransitionTime").is_string()) {
        since = Str(c, "lastTransitionTime");
      }
    }
    json c = {{"type", type},
              {"status", ok ? "True" : "False"},
              {"reason", reason},
              {"message", message},
              {"lastTransitionTime", since}};
    if (generation.is_number_integer()) c["observedGeneration"] = generation;
    return c;
  }

  void HttpRouteStatus() {
    for (HttpRouteState& st : http_routes_) {
      const json& obj = *st.obj;
      const json& generation = At(obj, "metadata", "generation");
      const json& current = At(obj, "status", "parents");
      json parents = json::array();
      for (const json& p : Items(current)) {
        if (Str(p, "controllerName") != options_.gateway_controller_name) parents.push_back(p);
      }
      std::string skipped = absl::StrJoin(st.skipped, "; ");
      for (const ParentResult& p : st.parents) {
        if (!p.ours) continue;
        const json& ref = *p.parent_ref;
        json old;
        for (const json& c : Items(current)) {
          if (Str(c, "controllerName") == options_.gateway_controller_name &&
              At(c, "parentRef") == ref) {
            old = c;
          }
        }
        std::string accepted_message = p.message;
        if (p.accepted && !skipped.empty()) {
          accepted_message = absl::StrCat("Accepted; not supported, left out: ", skipped);
        }
        json entry = {
            {"parentRef", ref},
            {"controllerName", options_.gateway_controller_name},
            {"conditions",
             json::array(
                 {Condition(old, "Accepted", p.accepted, p.reason, accepted_message, generation),
                  st.refs_reason.empty()
                      ? Condition(old, "ResolvedRefs", true, "ResolvedRefs", "Resolved", generation)
                      : Condition(old, "ResolvedRefs", false, st.refs_reason, st.refs_message,
                                  generation)})}};
        parents.push_back(std::move(entry));
      }
      if (parents == (current.is_array() ? current : json::array())) continue;
      StatusWrite w;
      w.resource = "httproutes";
      w.ns = st.ns;
      w.name = st.name;
      w.patch = {{"status", {{"parents", std::move(parents)}}}};
      out_.status_writes.push_back(std::move(w));
    }
  }

  const ObjectSnapshot& objects_;
  const TranslateOptions& options_;
  DesiredState out_;

  absl::flat_hash_map<std::string, std::vector<const json*>> slices_;  // ns/service -> slices
  std::vector<std::pair<std::string, const json*>> ingresses_;         // ours, by key
  std::map<std::string, GatewayInfo> gateways_;                        // ours, by key
  std::vector<HttpRouteState> http_routes_;                            // by key
  std::set<std::string> referenced_;                                   // Service keys
  std::map<std::string, ServiceInfo> services_;                        // with clusters
  std::vector<Candidate> candidates_;
};

}  // namespace

DesiredState Translate(const ObjectSnapshot& objects, const TranslateOptions& options) {
  return Translator(objects, options).Run();
}

}  // namespace lb::kubernetes
