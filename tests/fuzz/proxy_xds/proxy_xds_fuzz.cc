// Fuzz target for the proxy's xDS config translation: proxy/xds/config_builder.h, which turns the
// Cluster / ClusterLoadAssignment / RouteConfiguration resources the controller sends into the
// ProxyConfig the workers use. Those bytes come from the network, so they are untrusted.
//
// Input: a sequence of up to 16 DiscoveryResponses (the updates), read in two ways, each applied
// in order to a fresh ConfigBuilder:
//   text    updates in protobuf text format, separated by lines "---". Any resources may be
//           written expanded: resources { [type.googleapis.com/envoy.config.cluster.v3.Cluster]
//           { name: "web" ... } }. '#' starts a comment. An update that does not parse is
//           skipped.
//   binary  [varint length][serialized DiscoveryResponse], repeated; a length past the end takes
//           the rest, a bad varint ends the input.
// The text reading lets mutations reach fields by name; the binary one, field values and wire
// types. Even-numbered updates go through ApplyResponse; odd-numbered ones whose resources all
// decode go through ApplyClusters / ApplyLoadAssignments / ApplyRouteConfigurations (the two
// entry points must agree). Only the first 64 KiB of an input are read.
//
// Invariants, after every update:
//   - nothing crashes or hangs; Build() never returns null;
//   - the status and the built config are exactly what the header's contract predicts, as
//     computed by a model that knows only what each resource does on its own (each one applied
//     to a fresh builder): every resource is accepted or rejected by itself (a rejected one keeps
//     its last good version, a rejected new one stays absent); the error is the decode errors
//     then each rejected resource's own problems, labelled `Cluster "name"` or `Cluster at
//     resources[i]`, joined by "; ", and kInvalidArgument; duplicates in a response are
//     rejected after the first; a CDS response removes the clusters it does not name (and
//     their endpoints) unless one of its resources is undecodable; a cluster is built only once
//     both its Cluster and its ClusterLoadAssignment are accepted; assignments of unknown
//     clusters and RouteConfigurations other than "default" are ignored; versions change only
//     with content. So a rejected update changes nothing but what the contract says it does;
//   - Build() returns the same pointer iff the content did not change;
//   - the built config is well-formed on its own: endpoints are canonical IP literals with
//     ports 1-65535, weights >= 1 summing to at most 2^32-1 and no duplicate address:port;
//     durations positive, health check timeout <= interval, percentages <= 100; ring sizes
//     1 <= min <= max <= 8M, maglev table size a prime <= 5000011; domains
//     unique, lowercase "*" / host / "*." + host / [IPv6], optionally ":" + decimal port;
//     route prefixes are "" or "/..." without spaces or control characters, clusters named,
//     retries <= 10, hash policy names set (header names lowercase);
//   - ClusterNames() = built clusters + WarmingClusters(), sorted; Warnings() names exactly the
//     routes' clusters that are not built (unknown or warming);
//   - applying the same update again, with a new version_info, returns the same status and
//     changes nothing (the same pointer).
//
// Ordinary runs: proxy_xds_fuzz_test (a cc_test) runs the corpus in tests/fuzz/corpus/proxy_xds/
// plus 50,000 deterministic mutations. As a real coverage-guided fuzzer (clang +
// libFuzzer, not needed by the Bazel build), after `bazel build //proto:envoy_xds`:
//   g=bazel-bin/proto; clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined
//     -fno-sanitize-recover=undefined -I. -I$g tests/fuzz/proxy_xds/proxy_xds_fuzz.cc
//     proxy/xds/config_builder*.cc common/net/address.cc common/validation/validation_errors.cc
//     $(find $g/envoy $g/google -name '*.pb.cc' ! -name '*grpc*')
//     $(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format absl_time)
//     -lprotobuf -o /tmp/proxy_xds_fuzz
//   mkdir -p /tmp/px_corpus && cp tests/fuzz/corpus/proxy_xds/*pb /tmp/px_corpus/
//   /tmp/proxy_xds_fuzz -max_len=8192 -max_total_time=600 /tmp/px_corpus
// A violation writes crash-<sha1>; once fixed, copy it into tests/fuzz/corpus/proxy_xds/.
#include "tests/fuzz/proxy_xds/proxy_xds_fuzz.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "proxy/config/config.h"
#include "proxy/xds/config_builder.h"

namespace lb::fuzz {
namespace {

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kRouteType;

namespace cluster_v3 = envoy::config::cluster::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;
namespace discovery_v3 = envoy::service::discovery::v3;

using proxy::ClusterConfig;
using proxy::EndpointConfig;
using proxy::HashPolicy;
using proxy::ProxyConfig;
using proxy::RouteConfig;
using proxy::VirtualHostConfig;
using proxy::xds::ConfigBuilder;

constexpr size_t kMaxInputBytes = 64 * 1024;
constexpr size_t kMaxUpdates = 16;
constexpr uint32_t kMaxRetries = 10;  // config_builder_route.cc's limit on num_retries.

// ---------------------------------------------------------------------------------------------
// Reading the input.

class SilentErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
};

// Protobuf logs every string field that is not UTF-8 (such a message does not parse), i.e. a
// line per mutated input: off.
void SilenceProtobufLogs() {
  static const bool silenced = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)silenced;
}

bool ParseText(const std::string& text, discovery_v3::DiscoveryResponse* out) {
  SilenceProtobufLogs();
  google::protobuf::TextFormat::Parser parser;
  SilentErrors errors;  // Mutated text is mostly invalid: no log line per input.
  parser.RecordErrorsTo(&errors);
  return parser.ParseFromString(text, out);
}

bool ParseBinary(absl::string_view bytes, discovery_v3::DiscoveryResponse* out) {
  SilenceProtobufLogs();
  return out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

std::vector<std::string> SplitText(absl::string_view data) {
  std::vector<std::string> chunks(1);
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    if (line == "---") {
      if (chunks.size() == kMaxUpdates) break;
      chunks.emplace_back();
    } else {
      absl::StrAppend(&chunks.back(), line, "\n");
    }
  }
  return chunks;
}

// Each record of the binary framing; `*complete` is false if the framing was cut short.
std::vector<absl::string_view> SplitBinary(absl::string_view data, bool* complete) {
  std::vector<absl::string_view> records;
  *complete = true;
  while (!data.empty() && records.size() < kMaxUpdates) {
    uint64_t length = 0;
    size_t i = 0;
    bool ended = false;
    for (; i < data.size() && i < 5; ++i) {
      length |= static_cast<uint64_t>(static_cast<uint8_t>(data[i]) & 0x7f) << (7 * i);
      if ((static_cast<uint8_t>(data[i]) & 0x80) == 0) {
        ended = true;
        break;
      }
    }
    if (!ended) {
      *complete = false;
      break;
    }
    data.remove_prefix(i + 1);
    if (length > data.size()) {
      *complete = false;
      length = data.size();
    }
    records.push_back(data.substr(0, length));
    data.remove_prefix(length);
  }
  if (!data.empty()) *complete = false;
  return records;
}

void Note(std::set<std::string>* outcomes, std::string outcome) {
  if (outcomes != nullptr) outcomes->insert(std::move(outcome));
}

// ---------------------------------------------------------------------------------------------
// The builder's message conventions (config_builder.h).

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

std::string Label(absl::string_view kind, const std::string& name, int index) {
  if (name.empty()) return absl::StrCat(kind, " at resources[", index, "]");
  return absl::StrCat(kind, " ", Quote(name));
}

// "virtual_hosts[1].domains[0]: bad; name: empty" -> "virtual_hosts[].domains[]", "name": the
// fields a resource's problems are at, as outcome names.
std::vector<std::string> FieldsOf(absl::string_view problems) {
  std::vector<std::string> out;
  for (absl::string_view problem : absl::StrSplit(problems, "; ")) {
    absl::string_view field = problem.substr(0, problem.find(": "));
    std::string name;
    for (size_t i = 0; i < field.size(); ++i) {
      name.push_back(field[i]);
      if (field[i] == '[') {
        while (i + 1 < field.size() && absl::ascii_isdigit(field[i + 1])) ++i;
      }
    }
    out.push_back(std::move(name));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Complete, comparable text of the config types (config.h defines no operators).

std::string Dur(absl::Duration d) { return absl::FormatDuration(d); }

std::string DumpSettings(const ClusterConfig& c) {
  const auto& h = c.health_check;
  const auto& o = c.outlier;
  return absl::StrCat(
      Quote(c.name), " policy=", static_cast<int>(c.policy), " connect=", Dur(c.connect_timeout),
      " hc=", Quote(h.path), ",", Dur(h.interval), ",", Dur(h.timeout), ",", h.healthy_threshold,
      ",", h.unhealthy_threshold, " od=", o.consecutive_5xx, ",", o.consecutive_gateway_failure,
      ",", Dur(o.interval), ",", Dur(o.base_ejection_time), ",", o.max_ejection_percent,
      " panic=", c.healthy_panic_threshold, " ring=", c.min_ring_size, "..", c.max_ring_size,
      " maglev=", c.maglev_table_size);
}

std::string DumpEndpoints(const std::vector<EndpointConfig>& endpoints) {
  std::string out;
  for (const EndpointConfig& e : endpoints) {
    absl::StrAppend(&out, " [", Quote(e.address), " ", e.port, " w=", e.weight,
                    " z=", Quote(e.zone), " h=", Quote(e.hostname), e.draining ? " draining" : "",
                    "]");
  }
  return out;
}

std::string DumpVirtualHosts(const std::vector<VirtualHostConfig>& vhs) {
  std::string out;
  for (const VirtualHostConfig& vh : vhs) {
    absl::StrAppend(&out, "vhost ", Quote(vh.domain), "\n");
    for (const RouteConfig& r : vh.routes) {
      absl::StrAppend(&out, "  route ", Quote(r.name), " prefix=", Quote(r.prefix),
                      " cluster=", Quote(r.cluster), " retries=", r.retries,
                      " hash=", r.has_hash_policy, ",", static_cast<int>(r.hash_policy.kind), ",",
                      Quote(r.hash_policy.name));
      if (r.hash_policy.generate_cookie) {
        absl::StrAppend(&out, " set-cookie ttl=", absl::FormatDuration(r.hash_policy.cookie_ttl),
                        " path=", Quote(r.hash_policy.cookie_path));
        for (const auto& [name, value] : r.hash_policy.cookie_attributes) {
          absl::StrAppend(&out, " ", Quote(name), "=", Quote(value));
        }
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

std::string Dump(const ProxyConfig& c) {
  std::string out = absl::StrCat("routes_version=", Quote(c.routes_version), "\n");
  for (const auto& [key, cluster] : c.clusters) {
    absl::StrAppend(&out, "cluster ", Quote(key), ": ", DumpSettings(cluster),
                    " v=", Quote(cluster.version), " ev=", Quote(cluster.endpoints_version),
                    DumpEndpoints(cluster.endpoints), "\n");
  }
  return out + DumpVirtualHosts(c.virtual_hosts);
}

// ---------------------------------------------------------------------------------------------
// What each resource does on its own, from a fresh builder. Every return is "" or a violation.

template <typename V>
struct Verdict {
  std::string error;  // The resource's problems without its label; "" if accepted.
  V value;            // What an accepted resource maps to.
};

// For a rejected resource: the message must be "<label>: <problems>", kInvalidArgument.
std::string ErrorBody(const absl::Status& s, const std::string& label, std::string* body) {
  const std::string prefix = label + ": ";
  const std::string message(s.message());
  if (s.code() != absl::StatusCode::kInvalidArgument) {
    return absl::StrCat("a resource alone is rejected with ", s.ToString(),
                        ", not kInvalidArgument");
  }
  if (!absl::StartsWith(message, prefix) || message.size() == prefix.size()) {
    return absl::StrCat("a resource's error ", Quote(message), " is not ", Quote(prefix),
                        " + its problems");
  }
  *body = message.substr(prefix.size());
  return "";
}

cluster_v3::Cluster MinimalCluster(const std::string& name) {
  cluster_v3::Cluster c;
  c.set_name(name);
  c.set_type(cluster_v3::Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  return c;
}

std::string Isolate(const cluster_v3::Cluster& c, Verdict<ClusterConfig>* v) {
  ConfigBuilder b;
  absl::Status s = b.ApplyClusters({c}, "iso");
  if (!s.ok()) return ErrorBody(s, Label("Cluster", c.name(), 0), &v->error);
  endpoint_v3::ClusterLoadAssignment empty;
  empty.set_cluster_name(c.name());
  if (absl::Status e = b.ApplyLoadAssignments({empty}, "iso"); !e.ok()) {
    return absl::StrCat("accepted Cluster ", Quote(c.name()),
                        " refuses an empty ClusterLoadAssignment: ", e.ToString());
  }
  std::shared_ptr<const ProxyConfig> config = b.Build();
  auto it = config->clusters.find(c.name());
  if (c.name().empty() || config->clusters.size() != 1 || it == config->clusters.end()) {
    return absl::StrCat("accepted Cluster ", Quote(c.name()), " is not built as itself:\n",
                        Dump(*config));
  }
  if (it->second.version != "iso" || it->second.name != c.name()) {
    return absl::StrCat("Cluster ", Quote(c.name()), " built with the wrong name or version:\n",
                        Dump(*config));
  }
  v->value = it->second;
  v->value.endpoints_version.clear();
  return "";
}

std::string Isolate(const endpoint_v3::ClusterLoadAssignment& a,
                    Verdict<std::vector<EndpointConfig>>* v) {
  const std::string& name = a.cluster_name();
  ConfigBuilder b;
  if (!name.empty()) {
    if (absl::Status s = b.ApplyClusters({MinimalCluster(name)}, "iso"); !s.ok()) {
      return absl::StrCat("a minimal EDS cluster ", Quote(name), " is rejected: ", s.ToString());
    }
  }
  absl::Status s = b.ApplyLoadAssignments({a}, "iso");
  if (!s.ok()) return ErrorBody(s, Label("ClusterLoadAssignment", name, 0), &v->error);
  std::shared_ptr<const ProxyConfig> config = b.Build();
  auto it = config->clusters.find(name);
  if (name.empty() || it == config->clusters.end() || it->second.endpoints_version != "iso") {
    return absl::StrCat("accepted ClusterLoadAssignment ", Quote(name),
                        " is not built as its cluster's endpoints:\n", Dump(*config));
  }
  v->value = it->second.endpoints;
  return "";
}

std::string Isolate(const route_v3::RouteConfiguration& rc,
                    Verdict<std::vector<VirtualHostConfig>>* v) {
  ConfigBuilder b;
  absl::Status s = b.ApplyRouteConfigurations({rc}, "iso");
  if (!s.ok()) return ErrorBody(s, Label("RouteConfiguration", rc.name(), 0), &v->error);
  std::shared_ptr<const ProxyConfig> config = b.Build();
  if (config->routes_version != "iso" || !config->clusters.empty()) {
    return absl::StrCat("accepted RouteConfiguration is not built as itself:\n", Dump(*config));
  }
  v->value = config->virtual_hosts;
  return "";
}

// ---------------------------------------------------------------------------------------------
// The model: the builder's state as config_builder.h describes it.

struct Model {
  std::map<std::string, ClusterConfig> clusters;  // Accepted settings + version, no endpoints.
  struct Endpoints {
    std::string version;
    std::vector<EndpointConfig> endpoints;
  };
  std::map<std::string, Endpoints> endpoints;
  struct Routes {
    std::string version;
    std::vector<VirtualHostConfig> virtual_hosts;
  };
  std::optional<Routes> routes;
  bool clusters_received = false;
  bool routes_received = false;

  ProxyConfig Build() const {
    ProxyConfig out;
    for (const auto& [name, settings] : clusters) {
      auto ep = endpoints.find(name);
      if (ep == endpoints.end()) continue;  // Warming.
      ClusterConfig c = settings;
      c.endpoints_version = ep->second.version;
      c.endpoints = ep->second.endpoints;
      out.clusters.emplace(name, std::move(c));
    }
    if (routes) {
      out.virtual_hosts = routes->virtual_hosts;
      out.routes_version = routes->version;
    }
    return out;
  }
};

// A response's problems, in the builder's order, with the field each starts at (for outcomes).
struct Problems {
  std::vector<std::string> errors;
  std::vector<std::string> fields;
  void Add(std::string error, std::vector<std::string> at) {
    errors.push_back(std::move(error));
    fields.insert(fields.end(), at.begin(), at.end());
  }
};

template <typename T>
std::vector<std::pair<int, T>> DecodeResources(const discovery_v3::DiscoveryResponse& r,
                                               Problems* problems) {
  std::vector<std::pair<int, T>> out;
  for (int i = 0; i < r.resources_size(); ++i) {
    const google::protobuf::Any& any = r.resources(i);
    T message;
    if (any.type_url() != r.type_url()) {
      problems->Add(absl::StrCat("resources[", i, "]: type ", Quote(any.type_url()),
                                 " does not match the response's ", Quote(r.type_url())),
                    {"resources[]: wrong type"});
    } else if (!any.UnpackTo(&message)) {
      problems->Add(
          absl::StrCat("resources[", i, "]: cannot be decoded as ", T::descriptor()->full_name()),
          {"resources[]: undecodable"});
    } else {
      out.emplace_back(i, std::move(message));
    }
  }
  return out;
}

std::string PredictClusters(const discovery_v3::DiscoveryResponse& r, Model* m, Problems* p,
                            std::set<std::string>* outcomes) {
  auto clusters = DecodeResources<cluster_v3::Cluster>(r, p);
  const bool complete = p->errors.empty();
  m->clusters_received = true;
  std::set<std::string> present;
  for (const auto& [index, c] : clusters) {
    const std::string label = Label("Cluster", c.name(), index);
    if (!c.name().empty() && !present.insert(c.name()).second) {
      p->Add(label + ": duplicate in the response", {"duplicate"});
      continue;
    }
    Verdict<ClusterConfig> v;
    if (std::string e = Isolate(c, &v); !e.empty()) return e;
    if (!v.error.empty()) {
      p->Add(absl::StrCat(label, ": ", v.error), FieldsOf(v.error));
      continue;
    }
    auto it = m->clusters.find(c.name());
    if (it != m->clusters.end() && DumpSettings(it->second) == DumpSettings(v.value)) continue;
    v.value.version = r.version_info();
    m->clusters[c.name()] = std::move(v.value);
  }
  if (!complete) return "";
  for (auto it = m->clusters.begin(); it != m->clusters.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    Note(outcomes, "clusters removed");
    m->endpoints.erase(it->first);
    it = m->clusters.erase(it);
  }
  return "";
}

std::string PredictEndpoints(const discovery_v3::DiscoveryResponse& r, Model* m, Problems* p,
                             std::set<std::string>* outcomes) {
  auto assignments = DecodeResources<endpoint_v3::ClusterLoadAssignment>(r, p);
  std::set<std::string> present;
  for (const auto& [index, a] : assignments) {
    const std::string& name = a.cluster_name();
    const std::string label = Label("ClusterLoadAssignment", name, index);
    if (!name.empty() && m->clusters.count(name) == 0) {
      Note(outcomes, "endpoints ignored: unknown cluster");
      continue;
    }
    if (!name.empty() && !present.insert(name).second) {
      p->Add(label + ": duplicate in the response", {"duplicate"});
      continue;
    }
    Verdict<std::vector<EndpointConfig>> v;
    if (std::string e = Isolate(a, &v); !e.empty()) return e;
    if (!v.error.empty()) {
      p->Add(absl::StrCat(label, ": ", v.error), FieldsOf(v.error));
      continue;
    }
    auto it = m->endpoints.find(name);
    if (it != m->endpoints.end() && DumpEndpoints(it->second.endpoints) == DumpEndpoints(v.value)) {
      continue;
    }
    m->endpoints[name] = Model::Endpoints{r.version_info(), std::move(v.value)};
  }
  return "";
}

std::string PredictRoutes(const discovery_v3::DiscoveryResponse& r, Model* m, Problems* p,
                          std::set<std::string>* outcomes) {
  auto route_configs = DecodeResources<route_v3::RouteConfiguration>(r, p);
  m->routes_received = true;
  bool seen = false;
  for (const auto& [index, rc] : route_configs) {
    if (rc.name() != proxy::xds::kRouteConfigName) {
      Note(outcomes, "routes ignored: not \"default\"");
      continue;
    }
    const std::string label = Label("RouteConfiguration", rc.name(), index);
    if (seen) {
      p->Add(label + ": duplicate in the response", {"duplicate"});
      continue;
    }
    seen = true;
    Verdict<std::vector<VirtualHostConfig>> v;
    if (std::string e = Isolate(rc, &v); !e.empty()) return e;
    if (!v.error.empty()) {
      p->Add(absl::StrCat(label, ": ", v.error), FieldsOf(v.error));
      continue;
    }
    if (m->routes && DumpVirtualHosts(m->routes->virtual_hosts) == DumpVirtualHosts(v.value)) {
      continue;
    }
    m->routes = Model::Routes{r.version_info(), std::move(v.value)};
  }
  return "";
}

const char* KindOf(const std::string& type_url) {
  if (type_url == ::lb::xds::kClusterType) return "clusters";
  if (type_url == ::lb::xds::kEndpointType) return "endpoints";
  if (type_url == ::lb::xds::kRouteType) return "routes";
  return nullptr;
}

// Updates the model with `r` and sets the status the builder must return.
std::string Predict(const discovery_v3::DiscoveryResponse& r, Model* m, absl::Status* expected,
                    std::set<std::string>* outcomes) {
  const char* kind = KindOf(r.type_url());
  if (kind == nullptr) {
    Note(outcomes, "unsupported type_url");
    *expected =
        absl::InvalidArgumentError(absl::StrCat("unsupported type_url ", Quote(r.type_url())));
    return "";
  }
  Problems p;
  std::string e = r.type_url() == ::lb::xds::kClusterType    ? PredictClusters(r, m, &p, outcomes)
                  : r.type_url() == ::lb::xds::kEndpointType ? PredictEndpoints(r, m, &p, outcomes)
                                                             : PredictRoutes(r, m, &p, outcomes);
  if (!e.empty()) return e;
  if (p.errors.empty()) {
    *expected = absl::OkStatus();
    Note(outcomes, absl::StrCat(kind, " ok"));
  } else {
    *expected = absl::InvalidArgumentError(absl::StrJoin(p.errors, "; "));
    for (const std::string& field : p.fields) {
      Note(outcomes, absl::StrCat(kind, " rejected: ", field));
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Checks of the built config that do not rely on the builder's own code.

bool IsCanonicalIp(const std::string& s) {
  if (s.find('\0') != std::string::npos) return false;
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, s.c_str(), buf) == 1) {
      return inet_ntop(family, buf, text, sizeof(text)) != nullptr && s == text;
    }
  }
  return false;
}

// Decimal digits only, leading zeros allowed (RFC 3986's *DIGIT, as net::ParsePort), 1-65535.
bool IsPort(absl::string_view p) {
  if (p.empty()) return false;
  int v = 0;
  for (char c : p) {
    if (!absl::ascii_isdigit(c)) return false;
    v = std::min(v * 10 + (c - '0'), 1000000);  // Saturates: any length stays exact enough.
  }
  return v >= 1 && v <= 65535;
}

// The domain forms config.h and the builder's error message name, already lowercased.
bool IsDomain(absl::string_view d) {
  if (d == "*") return true;
  if (absl::ConsumePrefix(&d, "[")) {
    size_t close = d.find(']');
    if (close == absl::string_view::npos) return false;
    std::string inner(d.substr(0, close));
    unsigned char buf[16];
    if (inner.find('\0') != std::string::npos || inet_pton(AF_INET6, inner.c_str(), buf) != 1) {
      return false;
    }
    d.remove_prefix(close + 1);
    return d.empty() || (absl::ConsumePrefix(&d, ":") && IsPort(d));
  }
  absl::ConsumePrefix(&d, "*.");
  if (size_t colon = d.rfind(':'); colon != absl::string_view::npos) {
    if (!IsPort(d.substr(colon + 1))) return false;
    d = d.substr(0, colon);
  }
  if (d.empty() || d.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(d, '.')) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' && c != '_') {
        return false;
      }
    }
  }
  return true;
}

bool IsCleanPath(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string CheckCluster(const std::string& key, const ClusterConfig& c) {
  const std::string what = absl::StrCat("cluster ", Quote(key), ": ");
  if (key.empty() || c.name != key) return what + "name differs from its key or is empty";
  if (static_cast<int>(c.policy) < 0 || static_cast<int>(c.policy) > 4) {
    return what + "policy out of range";
  }
  if (c.connect_timeout <= absl::ZeroDuration() || c.connect_timeout == absl::InfiniteDuration()) {
    return what + "connect_timeout not positive and finite";
  }
  const auto& h = c.health_check;
  if (!h.path.empty() && (h.path[0] != '/' || !IsCleanPath(h.path))) {
    return what + "health check path " + Quote(h.path);
  }
  if (h.interval <= absl::ZeroDuration() || h.timeout <= absl::ZeroDuration() ||
      h.timeout > h.interval || h.healthy_threshold == 0 || h.unhealthy_threshold == 0) {
    return what + "health check timing or thresholds";
  }
  const auto& o = c.outlier;
  if (o.interval <= absl::ZeroDuration() || o.base_ejection_time <= absl::ZeroDuration() ||
      o.max_ejection_percent > 100) {
    return what + "outlier detection settings";
  }
  if (c.healthy_panic_threshold > 100) return what + "panic threshold > 100";
  if (c.min_ring_size < 1 || c.min_ring_size > c.max_ring_size || c.max_ring_size > (8u << 20)) {
    return what + "ring sizes";
  }
  bool prime = c.maglev_table_size >= 2;
  for (uint64_t d = 2; prime && d * d <= c.maglev_table_size; ++d) {
    prime = c.maglev_table_size % d != 0;
  }
  if (!prime || c.maglev_table_size > 5000011) return what + "maglev table size";
  std::set<std::string> keys;
  uint64_t total = 0;
  for (const EndpointConfig& e : c.endpoints) {
    if (!IsCanonicalIp(e.address)) return what + "address " + Quote(e.address) + " not canonical";
    if (e.port == 0) return what + "port 0";
    if (e.weight == 0) return what + "weight 0";
    if (!keys.insert(e.Key()).second) return what + "duplicate endpoint " + e.Key();
    total += e.weight;
  }
  if (total > 0xffffffffull) return what + "total weight overflows";
  return "";
}

std::string CheckRoute(const RouteConfig& r) {
  const std::string what = absl::StrCat("route ", Quote(r.name), ": ");
  if (!r.prefix.empty() && (r.prefix[0] != '/' || !IsCleanPath(r.prefix))) {
    return what + "prefix " + Quote(r.prefix);
  }
  if (r.cluster.empty() && r.weighted_clusters.empty()) return what + "no cluster";
  if (r.retries > kMaxRetries) return what + absl::StrCat("retries ", r.retries);
  if (!r.has_hash_policy) return "";
  const std::string& n = r.hash_policy.name;
  switch (r.hash_policy.kind) {
    case HashPolicy::Kind::kHeader:
      if (n.empty() || n != absl::AsciiStrToLower(n)) return what + "header name " + Quote(n);
      break;
    case HashPolicy::Kind::kCookie:
      if (n.empty()) return what + "empty cookie name";
      if (r.hash_policy.cookie_ttl < absl::ZeroDuration()) return what + "negative cookie ttl";
      if (absl::StrContains(r.hash_policy.cookie_path, ";") ||
          !IsCleanPath(r.hash_policy.cookie_path)) {
        return what + "cookie path " + Quote(r.hash_policy.cookie_path);
      }
      for (const auto& [name, value] : r.hash_policy.cookie_attributes) {
        if (name.empty() || absl::StrContains(name, ";") || absl::StrContains(name, "=") ||
            absl::StrContains(value, ";")) {
          return what + "cookie attribute " + Quote(name) + "=" + Quote(value);
        }
      }
      break;
    case HashPolicy::Kind::kSourceIp:
      if (!n.empty()) return what + "source-ip hash with a name";
      break;
    default:
      return what + "hash policy kind out of range";
  }
  return "";
}

std::string CheckBuilt(ConfigBuilder& b, const ProxyConfig& c) {
  for (const auto& [key, cluster] : c.clusters) {
    if (std::string e = CheckCluster(key, cluster); !e.empty()) return e;
  }
  std::set<std::string> domains;
  std::set<std::string> unbuilt;  // Clusters routed to but not built.
  for (const VirtualHostConfig& vh : c.virtual_hosts) {
    if (!IsDomain(vh.domain) || vh.domain != absl::AsciiStrToLower(vh.domain)) {
      return absl::StrCat("domain ", Quote(vh.domain), " is not \"*\", a host, \"*.\" + host or ",
                          "[IPv6], lowercase, optionally with \":\" + a port 1-65535");
    }
    if (!domains.insert(vh.domain).second) return "duplicate domain " + Quote(vh.domain);
    for (const RouteConfig& r : vh.routes) {
      if (std::string e = CheckRoute(r); !e.empty()) return "vhost " + Quote(vh.domain) + " " + e;
      if (!r.cluster.empty() && c.clusters.count(r.cluster) == 0) unbuilt.insert(r.cluster);
      for (const auto& w : r.weighted_clusters) {
        if (c.clusters.count(w.name) == 0) unbuilt.insert(w.name);
      }
    }
  }

  const std::vector<std::string> names = b.ClusterNames();
  const std::vector<std::string> warming = b.WarmingClusters();
  std::set<std::string> expected_names;
  for (const auto& [key, cluster] : c.clusters) expected_names.insert(key);
  for (const std::string& w : warming) {
    if (c.clusters.count(w)) return "warming cluster " + Quote(w) + " is built";
    expected_names.insert(w);
  }
  if (names != std::vector<std::string>(expected_names.begin(), expected_names.end()) ||
      !std::is_sorted(warming.begin(), warming.end())) {
    return absl::StrCat("ClusterNames() [", absl::StrJoin(names, ","), "] is not the built ",
                        "clusters + WarmingClusters() [", absl::StrJoin(warming, ","), "], sorted");
  }

  // Warnings(): one kind of line per route whose cluster is not built, and nothing else.
  std::map<std::string, bool> suffixes;  // Expected line ending -> seen.
  for (const std::string& u : unbuilt) {
    bool known = expected_names.count(u) > 0;
    suffixes[known ? absl::StrCat(": cluster ", Quote(u),
                                  " is warming (no ClusterLoadAssignment yet)")
                   : absl::StrCat(": unknown cluster ", Quote(u))] = false;
  }
  const std::string prefix = "RouteConfiguration \"default\": virtual_hosts[";
  for (const std::string& w : b.Warnings()) {
    bool matched = false;
    for (auto& [suffix, seen] : suffixes) {
      if (absl::StartsWith(w, prefix) && absl::EndsWith(w, suffix)) seen = matched = true;
    }
    if (!matched) return "unexpected warning " + Quote(w);
  }
  for (const auto& [suffix, seen] : suffixes) {
    if (!seen) return "no warning ending " + Quote(suffix);
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Applying updates.

template <typename T>
bool DecodeAll(const discovery_v3::DiscoveryResponse& r, std::vector<T>* out) {
  for (const google::protobuf::Any& any : r.resources()) {
    T message;
    if (any.type_url() != r.type_url() || !any.UnpackTo(&message)) return false;
    out->push_back(std::move(message));
  }
  return true;
}

// Through the typed entry point if `typed` and every resource decodes, else ApplyResponse.
absl::Status Apply(ConfigBuilder& b, const discovery_v3::DiscoveryResponse& r, bool typed) {
  if (typed) {
    const std::string& type = r.type_url();
    if (std::vector<cluster_v3::Cluster> v; type == ::lb::xds::kClusterType && DecodeAll(r, &v)) {
      return b.ApplyClusters(v, r.version_info());
    }
    if (std::vector<endpoint_v3::ClusterLoadAssignment> v;
        type == ::lb::xds::kEndpointType && DecodeAll(r, &v)) {
      return b.ApplyLoadAssignments(v, r.version_info());
    }
    if (std::vector<route_v3::RouteConfiguration> v;
        type == ::lb::xds::kRouteType && DecodeAll(r, &v)) {
      return b.ApplyRouteConfigurations(v, r.version_info());
    }
  }
  return b.ApplyResponse(r);
}

std::string CheckUpdate(ConfigBuilder& b, Model& m, std::shared_ptr<const ProxyConfig>& last,
                        const discovery_v3::DiscoveryResponse& r, bool typed,
                        std::set<std::string>* outcomes) {
  if (r.type_url() == ::lb::xds::kListenerType || r.type_url() == ::lb::xds::kSecretType) {
    // TLS resources (LDS, SDS) are not in this model (config_builder_tls_test covers them):
    // they must not crash, must fail only with kInvalidArgument and a message, and must leave
    // clusters, endpoints and routes as they were.
    Note(outcomes, "tls resources (not modeled)");
    const absl::Status got = b.ApplyResponse(r);
    if (!got.ok() && (got.code() != absl::StatusCode::kInvalidArgument || got.message().empty())) {
      return "error is not kInvalidArgument with a message: " + got.ToString();
    }
    std::shared_ptr<const ProxyConfig> built = b.Build();
    if (built == nullptr) return "Build() returned null";
    if (Dump(*built) != Dump(*last)) return "a TLS resource changed clusters, endpoints or routes";
    last = built;
    return "";
  }
  absl::Status expected;
  if (std::string e = Predict(r, &m, &expected, outcomes); !e.empty()) return e;
  const absl::Status got = Apply(b, r, typed);
  if (!got.ok() && (got.code() != absl::StatusCode::kInvalidArgument || got.message().empty())) {
    return "error is not kInvalidArgument with a message: " + got.ToString();
  }
  if (got != expected) {
    return absl::StrCat("status\n  got:      ", got.ToString(),
                        "\n  expected: ", expected.ToString());
  }

  std::shared_ptr<const ProxyConfig> built = b.Build();
  if (built == nullptr) return "Build() returned null";
  const std::string want = Dump(m.Build());
  const std::string have = Dump(*built);
  if (have != want) return absl::StrCat("built config\n", have, "expected\n", want);
  const bool same_content = have == Dump(*last);
  if (same_content != (built == last)) {
    return same_content ? "Build() returned a new pointer for unchanged content"
                        : "Build() kept the old pointer for changed content";
  }
  if (const char* kind = KindOf(r.type_url()); kind != nullptr && !got.ok()) {
    Note(outcomes, absl::StrCat(kind, same_content ? " rejected, config unchanged"
                                                   : " rejected, config changed"));
  }
  if (b.clusters_received() != m.clusters_received || b.routes_received() != m.routes_received) {
    return "clusters_received() / routes_received() wrong";
  }
  std::vector<std::string> accepted, warming;
  for (const auto& [name, settings] : m.clusters) {
    accepted.push_back(name);
    if (m.endpoints.count(name) == 0) warming.push_back(name);
  }
  if (b.ClusterNames() != accepted || b.WarmingClusters() != warming) {
    return absl::StrCat("ClusterNames() [", absl::StrJoin(b.ClusterNames(), ","),
                        "] / WarmingClusters() [", absl::StrJoin(b.WarmingClusters(), ","),
                        "], expected [", absl::StrJoin(accepted, ","), "] / [",
                        absl::StrJoin(warming, ","), "]");
  }
  if (std::string e = CheckBuilt(b, *built); !e.empty()) return e;
  for (const std::string& w : b.Warnings()) {
    Note(outcomes, absl::StrContains(w, "is warming") ? "warning: warming cluster"
                                                      : "warning: unknown cluster");
  }

  // A resend (new version_info, same resources) is answered alike and changes nothing.
  const std::vector<std::string> names = b.ClusterNames();
  const std::vector<std::string> warnings = b.Warnings();
  discovery_v3::DiscoveryResponse again = r;
  again.set_version_info(r.version_info() + "+resent");
  const absl::Status got_again = Apply(b, again, typed);
  if (got_again != got) return "resend answered " + got_again.ToString();
  if (b.Build() != built || b.ClusterNames() != names || b.Warnings() != warnings) {
    return absl::StrCat("resend changed the state; now\n", Dump(*b.Build()));
  }
  last = std::move(built);
  return "";
}

std::string Describe(const char* reading, size_t i, const discovery_v3::DiscoveryResponse& r) {
  std::string text = r.ShortDebugString();
  if (text.size() > 2000) text = text.substr(0, 2000) + "...";
  return absl::StrCat(reading, " update ", i, " {", text, "}: ");
}

std::string RunUpdates(const char* reading,
                       const std::vector<std::optional<discovery_v3::DiscoveryResponse>>& updates,
                       std::set<std::string>* outcomes) {
  ConfigBuilder b;
  Model m;
  std::shared_ptr<const ProxyConfig> last = b.Build();
  if (last == nullptr || !last->clusters.empty() || !last->virtual_hosts.empty()) {
    return "a new builder's config is not empty";
  }
  for (size_t i = 0; i < updates.size(); ++i) {
    if (!updates[i]) {
      Note(outcomes, absl::StrCat(reading, " update unparsable"));
      continue;
    }
    if (std::string e = CheckUpdate(b, m, last, *updates[i], i % 2 == 1, outcomes); !e.empty()) {
      return Describe(reading, i, *updates[i]) + e;
    }
  }
  return "";
}

}  // namespace

std::string RunProxyXdsInput(const uint8_t* data, size_t size, std::set<std::string>* outcomes) {
  const absl::string_view input(reinterpret_cast<const char*>(data),
                                std::min(size, kMaxInputBytes));
  std::vector<std::optional<discovery_v3::DiscoveryResponse>> updates;
  for (const std::string& chunk : SplitText(input)) {
    discovery_v3::DiscoveryResponse r;
    updates.push_back(ParseText(chunk, &r) ? std::make_optional(std::move(r)) : std::nullopt);
  }
  if (std::string e = RunUpdates("text", updates, outcomes); !e.empty()) return e;

  updates.clear();
  bool complete;
  for (absl::string_view record : SplitBinary(input, &complete)) {
    discovery_v3::DiscoveryResponse r;
    updates.push_back(ParseBinary(record, &r) ? std::make_optional(std::move(r)) : std::nullopt);
  }
  return RunUpdates("binary", updates, outcomes);
}

std::optional<std::string> TextInputToBinary(const std::string& text) {
  std::string out;
  for (const std::string& chunk : SplitText(text)) {
    discovery_v3::DiscoveryResponse r;
    if (!ParseText(chunk, &r)) return std::nullopt;
    std::string bytes = r.SerializeAsString();
    for (uint64_t n = bytes.size();; n >>= 7) {  // Varint length.
      if (n < 0x80) {
        out.push_back(static_cast<char>(n));
        break;
      }
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    out += bytes;
  }
  return out;
}

int CountTextUpdates(const std::string& data) {
  int n = 0;
  for (const std::string& chunk : SplitText(data)) {
    discovery_v3::DiscoveryResponse r;
    if (!ParseText(chunk, &r)) return -1;
    ++n;
  }
  return n;
}

int CountBinaryUpdates(const std::string& data) {
  bool complete;
  std::vector<absl::string_view> records = SplitBinary(data, &complete);
  if (!complete) return -1;
  for (absl::string_view record : records) {
    discovery_v3::DiscoveryResponse r;
    if (!ParseBinary(record, &r)) return -1;
  }
  return static_cast<int>(records.size());
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = lb::fuzz::RunProxyXdsInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\ninput: \"%s\"\n", problem.c_str(),
                 absl::CHexEscape(std::string(reinterpret_cast<const char*>(data), size)).c_str());
    std::abort();
  }
  return 0;
}
