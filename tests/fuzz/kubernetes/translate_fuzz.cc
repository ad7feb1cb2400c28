#include "tests/fuzz/kubernetes/translate_fuzz.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/kubernetes/translate.h"
#include "controller/model/certificate.h"
#include "controller/model/validation.h"

namespace lb::fuzz {
namespace {

using json = nlohmann::json;
using kubernetes::DesiredState;
using kubernetes::ObjectSnapshot;
using kubernetes::TranslateOptions;

void ReadMap(const json& doc, const char* key, std::map<std::string, json>* out) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_object()) return;
  for (auto& [k, v] : it->items()) (*out)[k] = v;
}

std::string Str(const json& j, const char* key, const std::string& fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Everything of `d` as text, to compare two translations.
std::string Dump(const DesiredState& d) {
  std::string out;
  for (const auto& c : d.clusters) absl::StrAppend(&out, c.ShortDebugString(), "\n");
  for (const auto& r : d.routes) absl::StrAppend(&out, r.ShortDebugString(), "\n");
  for (const auto& c : d.certificates) absl::StrAppend(&out, c.ShortDebugString(), "\n");
  for (const auto& w : d.status_writes) {
    absl::StrAppend(&out, w.resource, " ", w.ns, "/", w.name, " ", w.patch.dump(), "\n");
  }
  absl::StrAppend(&out, absl::StrJoin(d.warnings, "\n"));
  return out;
}

template <typename T>
std::string CheckNames(const std::vector<T>& items, const char* what) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].owner() != kubernetes::kOwner) {
      return absl::StrCat(what, " ", items[i].name(), " has owner \"", items[i].owner(), "\"");
    }
    if (i > 0 && !(items[i - 1].name() < items[i].name())) {
      return absl::StrCat(what, "s not sorted and unique by name at ", items[i].name());
    }
  }
  return "";
}

std::string Check(const ObjectSnapshot& s, const DesiredState& d) {
  if (std::string p = CheckNames(d.clusters, "cluster"); !p.empty()) return p;
  if (std::string p = CheckNames(d.routes, "route"); !p.empty()) return p;
  if (std::string p = CheckNames(d.certificates, "certificate"); !p.empty()) return p;
  std::set<std::string> clusters;
  for (lb::v1::Cluster c : d.clusters) {
    clusters.insert(c.name());
    if (absl::Status st = model::NormalizeCluster(&c); !st.ok()) {
      return absl::StrCat("invalid cluster: ", st.ToString());
    }
  }
  absl::flat_hash_set<std::string> matches;
  for (lb::v1::Route r : d.routes) {
    if (absl::Status st = model::NormalizeRoute(&r); !st.ok()) {
      return absl::StrCat("invalid route: ", st.ToString());
    }
    for (const std::string& c : model::RouteClusters(r)) {
      if (clusters.count(c) == 0) return absl::StrCat("route ", r.name(), " uses missing ", c);
    }
    std::vector<std::string> headers;
    for (const auto& h : r.headers()) headers.push_back(h.SerializeAsString());
    std::sort(headers.begin(), headers.end());
    for (const std::string& host : r.hosts()) {
      std::string key = absl::StrCat(host, "\n", r.path_prefix(), "\n", r.path_exact(), "\n",
                                     r.method(), "\n", absl::StrJoin(headers, "\n"));
      if (!matches.insert(key).second) {
        return absl::StrCat("route ", r.name(), ": host ", host, " with a match already taken");
      }
    }
  }
  std::set<std::string> sni;
  for (const auto& c : d.certificates) {
    if (std::string p = model::CertificateNameProblem(c.name()); !p.empty()) {
      return absl::StrCat("certificate name ", c.name(), ": ", p);
    }
    if (c.sni_size() == 0 || c.cert_chain().empty() || c.private_key().empty()) {
      return absl::StrCat("certificate ", c.name(), " without SNI, chain or key");
    }
    for (const std::string& n : c.sni()) {
      if (!model::IsValidSniName(n) || !sni.insert(n).second) {
        return absl::StrCat("certificate ", c.name(), ": SNI ", n, " invalid or not unique");
      }
    }
  }
  for (const auto& w : d.status_writes) {
    const std::string key = absl::StrCat(w.ns, "/", w.name);
    const auto& objects = w.resource == "ingresses" ? s.ingresses : s.http_routes;
    if ((w.resource != "ingresses" && w.resource != "httproutes") || objects.count(key) == 0) {
      return absl::StrCat("status write for ", w.resource, " ", key, " not in the snapshot");
    }
    if (!w.patch.is_object() || !w.patch.contains("status") || !w.patch["status"].is_object()) {
      return absl::StrCat("status write for ", key, " is not a status patch");
    }
  }
  return "";
}

}  // namespace

std::string RunTranslateInput(const uint8_t* data, size_t size, TranslateCounts* counts) {
  json doc = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return "";
  ObjectSnapshot s;
  ReadMap(doc, "services", &s.services);
  ReadMap(doc, "endpoint_slices", &s.endpoint_slices);
  ReadMap(doc, "ingresses", &s.ingresses);
  ReadMap(doc, "secrets", &s.secrets);
  ReadMap(doc, "gateways", &s.gateways);
  ReadMap(doc, "http_routes", &s.http_routes);
  auto present = doc.find("gateway_api_present");
  s.gateway_api_present = present != doc.end() && present->is_boolean() && present->get<bool>();
  TranslateOptions o;
  if (auto it = doc.find("options"); it != doc.end() && it->is_object()) {
    o.ingress_class = Str(*it, "ingress_class", o.ingress_class);
    o.gateway_class = Str(*it, "gateway_class", o.gateway_class);
    o.gateway_controller_name = Str(*it, "gateway_controller_name", o.gateway_controller_name);
    o.now = Str(*it, "now", "");
    if (auto a = it->find("ingress_status_addresses"); a != it->end() && a->is_array()) {
      for (const json& v : *a) {
        if (v.is_string()) o.ingress_status_addresses.push_back(v.get<std::string>());
      }
    }
  }
  DesiredState d = kubernetes::Translate(s, o);
  if (std::string p = Check(s, d); !p.empty()) return p;
  if (Dump(kubernetes::Translate(s, o)) != Dump(d)) return "not deterministic";
  if (counts != nullptr) {
    counts->clusters += static_cast<int>(d.clusters.size());
    for (const auto& c : d.clusters) counts->endpoints += c.endpoints_size();
    counts->routes += static_cast<int>(d.routes.size());
    for (const auto& r : d.routes) counts->splits += r.weighted_clusters_size() > 0 ? 1 : 0;
    counts->certificates += static_cast<int>(d.certificates.size());
    counts->status_writes += static_cast<int>(d.status_writes.size());
    counts->warnings += static_cast<int>(d.warnings.size());
  }
  // Apply the status writes (merge patches of one status field) and translate again: nothing
  // more to write.
  if (!d.status_writes.empty()) {
    for (const auto& w : d.status_writes) {
      json& obj = (w.resource == "ingresses" ? s.ingresses : s.http_routes)[w.ns + "/" + w.name];
      if (!obj.is_object()) obj = json::object();
      if (!obj["status"].is_object()) obj["status"] = json::object();
      for (auto& [k, v] : w.patch["status"].items()) obj["status"][k] = v;
    }
    DesiredState again = kubernetes::Translate(s, o);
    if (!again.status_writes.empty()) {
      return absl::StrCat("status writes after applying them: ",
                          again.status_writes[0].patch.dump());
    }
  }
  return "";
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = lb::fuzz::RunTranslateInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\ninput: \"%s\"\n", problem.c_str(),
                 absl::CHexEscape(std::string(reinterpret_cast<const char*>(data), size)).c_str());
    std::abort();
  }
  return 0;
}
