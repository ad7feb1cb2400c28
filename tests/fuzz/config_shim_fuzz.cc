// Fuzz target for the controller's REST bodies: the seed's /config API and /v1 JSON.
//
// Every input is sent, on a fresh controller state (bootstrapped store with two upstreams in
// "backend" and a second cluster "web"), as the body of
//   1. POST /config                          (controller/rest/config_shim.cc, nlohmann/json)
//   2. POST /v1/clusters                     (protobuf JSON -> NormalizeCluster)
//   3. POST /v1/clusters/backend/endpoints   (protobuf JSON -> NormalizeEndpoint)
// and these invariants are checked:
//   - nothing crashes, hangs or throws;
//   - /config answers one of 200, 400, 404, 409; a 200 body is "", "Upstream already exist",
//     "Upstream not found" or "Invalid action"; only "" changes state, and then by exactly one
//     upstream added at the end or removed from one cluster; any other answer leaves every
//     GET /config (and the whole registry) byte-for-byte unchanged;
//   - /v1 answers 201 (and the resource can then be read back) or 400/404/409 with the JSON
//     error shape and no state change.
//
// Ordinary runs: config_shim_fuzz_test (a cc_test) runs the checked-in corpus in
// tests/fuzz/corpus/config_shim/ plus a few thousand deterministic mutations.
//
// As a real coverage-guided fuzzer (clang + libFuzzer, not needed by the Bazel build):
//   tests/fuzz/build_libfuzzer.sh            # builds /tmp/config_shim_fuzz with ASan+UBSan
//   mkdir -p /tmp/cs_corpus && cp tests/fuzz/corpus/config_shim/* /tmp/cs_corpus/
//   /tmp/config_shim_fuzz -max_len=4096 -max_total_time=300 /tmp/cs_corpus
// A crash writes crash-<sha1> in the current directory; reproduce it with
//   /tmp/config_shim_fuzz crash-<sha1>
// and, once fixed, copy the file into tests/fuzz/corpus/config_shim/ as a regression input.
#include "tests/fuzz/config_shim_fuzz.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/http/http_types.h"
#include "common/metrics/metrics.h"
#include "controller/api/auth.h"
#include "controller/registry/registry.h"
#include "controller/rest/rest_handler.h"
#include "controller/store/sqlite_store.h"
#include "nlohmann/json.hpp"

namespace lb::fuzz {
namespace {

using http::HttpRequest;
using http::HttpResponse;

// One controller's worth of state for one input.
struct Env {
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<registry::Registry> registry;
  api::TokenAuth auth;
  metrics::Registry metrics;
  std::unique_ptr<rest::RestHandler> handler;
};

std::string MakeEnv(Env* env) {
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
  if (!s.ok()) return absl::StrCat("setup: ", s.status().ToString());
  env->store = std::move(*s);
  env->registry = std::make_unique<registry::Registry>(env->store.get());
  if (absl::Status b = env->registry->Bootstrap(); !b.ok()) {
    return absl::StrCat("setup: ", b.ToString());
  }
  for (uint32_t port : {1111u, 1112u}) {
    lb::v1::Endpoint e;
    e.set_address("127.0.0.1");
    e.set_port(port);
    if (auto c = env->registry->AddEndpoint("backend", e); !c.ok()) {
      return absl::StrCat("setup: ", c.status().ToString());
    }
  }
  lb::v1::Cluster web;
  web.set_name("web");
  *web.add_endpoints() = lb::v1::Endpoint();
  web.mutable_endpoints(0)->set_address("10.0.0.1");
  web.mutable_endpoints(0)->set_port(80);
  if (auto c = env->registry->CreateCluster(web); !c.ok()) {
    return absl::StrCat("setup: ", c.status().ToString());
  }
  env->handler =
      std::make_unique<rest::RestHandler>(env->registry.get(), &env->auth, &env->metrics);
  return "";
}

HttpResponse Send(Env& env, const std::string& method, const std::string& target,
                  const std::string& body) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  return env.handler->Handle(req);
}

// Every cluster with its version and the route table, from the registry.
std::string State(Env& env) {
  std::string out;
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = env.registry->ListClusters();
  if (!cs.ok()) return "ListClusters: " + cs.status().ToString();
  for (const auto& c : *cs) absl::StrAppend(&out, c.ShortDebugString(), "\n");
  absl::StatusOr<lb::v1::RouteTable> t = env.registry->GetRouteTable();
  absl::StrAppend(&out, t.ok() ? t->ShortDebugString() : t.status().ToString());
  return out;
}

// GET /config for each cluster the shim can address.
struct Configs {
  std::string backend;
  std::string web;
  bool operator==(const Configs& o) const { return backend == o.backend && web == o.web; }
};

Configs GetConfigs(Env& env) {
  return {Send(env, "GET", "/config", "").body, Send(env, "GET", "/config?cluster=web", "").body};
}

std::vector<std::string> Upstreams(const std::string& json_array) {
  nlohmann::json j = nlohmann::json::parse(json_array, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return {"<not an array: " + json_array + ">"};
  for (const auto& v : j) out.push_back(v.is_string() ? v.get<std::string>() : "<non-string>");
  return out;
}

// `after` is `before` with one element appended, or with one element removed.
bool DiffersByOne(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  if (after.size() == before.size() + 1) {
    return std::equal(before.begin(), before.end(), after.begin());
  }
  if (after.size() + 1 == before.size()) {
    for (size_t skip = 0; skip < before.size(); ++skip) {
      std::vector<std::string> v = before;
      v.erase(v.begin() + skip);
      if (v == after) return true;
    }
  }
  return false;
}

bool HasNonAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

// Checks a /v1 error response: JSON error shape with the given status.
std::string CheckJsonError(const HttpResponse& r, const std::string& what) {
  const std::string prefix = "{\"error\":{\"code\":\"";
  if (r.body.compare(0, prefix.size(), prefix) != 0 || r.body.back() != '\n') {
    return absl::StrCat(what, ": error body has the wrong shape: ", r.body);
  }
  // JsonError copies bytes >= 0x80 of messages unescaped (reported separately, see
  // rest_handler_test ErrorBodiesAreValidJsonForAnyPathBytes), so only ASCII bodies must parse.
  if (!HasNonAscii(r.body) && !nlohmann::json::accept(r.body)) {
    return absl::StrCat(what, ": error body is not valid JSON: ", r.body);
  }
  return "";
}

std::string CheckConfigPost(Env& env, const std::string& body, std::set<std::string>* outcomes) {
  const std::string state_before = State(env);
  const Configs before = GetConfigs(env);
  HttpResponse r = Send(env, "POST", "/config", body);
  if (outcomes != nullptr) {
    outcomes->insert(r.status == 200 ? absl::StrCat("/config 200 ", r.body)
                                     : absl::StrCat("/config ", r.status));
  }
  const std::string state_after = State(env);
  const Configs after = GetConfigs(env);
  const std::string what =
      absl::StrCat("POST /config -> ", r.status, " \"", absl::CHexEscape(r.body), "\"");
  switch (r.status) {
    case 200:
      if (r.body == "") {
        std::vector<std::string> b = Upstreams(before.backend), a = Upstreams(after.backend);
        std::vector<std::string> bw = Upstreams(before.web), aw = Upstreams(after.web);
        bool backend_changed = b != a, web_changed = bw != aw;
        if (backend_changed == web_changed) {
          return absl::StrCat(what, ": expected exactly one cluster to change; backend ",
                              before.backend, " -> ", after.backend, ", web ", before.web, " -> ",
                              after.web);
        }
        if (backend_changed ? !DiffersByOne(b, a) : !DiffersByOne(bw, aw)) {
          return absl::StrCat(what, ": not a single add/remove: ", before.backend, " -> ",
                              after.backend, ", ", before.web, " -> ", after.web);
        }
        return "";
      }
      if (r.body != "Upstream already exist" && r.body != "Upstream not found" &&
          r.body != "Invalid action") {
        return absl::StrCat(what, ": unexpected 200 body");
      }
      break;
    case 400:
    case 404:
    case 409:
      if (r.body.empty() || r.body.back() != '\n') {
        return absl::StrCat(what, ": an error must name the problem on one line");
      }
      break;
    default:
      return absl::StrCat(what, ": status not in {200,400,404,409}");
  }
  if (!(after == before) || state_after != state_before) {
    return absl::StrCat(what, ": state changed: ", before.backend, " -> ", after.backend, ", ",
                        before.web, " -> ", after.web);
  }
  return "";
}

std::string CheckClusterPost(Env& env, const std::string& body, std::set<std::string>* outcomes) {
  const std::string before = State(env);
  HttpResponse r = Send(env, "POST", "/v1/clusters", body);
  if (outcomes != nullptr) outcomes->insert(absl::StrCat("/v1/clusters ", r.status));
  const std::string what =
      absl::StrCat("POST /v1/clusters -> ", r.status, " ", absl::CHexEscape(r.body.substr(0, 300)));
  if (r.status == 201) {
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
      return absl::StrCat(what, ": 201 body is not a cluster");
    }
    std::string name = j["name"].get<std::string>();
    HttpResponse get = Send(env, "GET", "/v1/clusters/" + name, "");
    if (get.status != 200)
      return absl::StrCat(what, ": created cluster reads back as ", get.status);
    if (nlohmann::json::parse(get.body, nullptr, false) != j) {
      return absl::StrCat(what, ": read back differs: ", get.body);
    }
    return "";
  }
  if (r.status != 400 && r.status != 404 && r.status != 409) {
    return absl::StrCat(what, ": status not in {201,400,404,409}");
  }
  if (std::string e = CheckJsonError(r, what); !e.empty()) return e;
  if (State(env) != before) return absl::StrCat(what, ": state changed");
  return "";
}

std::string CheckEndpointPost(Env& env, const std::string& body, std::set<std::string>* outcomes) {
  const std::string before = State(env);
  const Configs configs_before = GetConfigs(env);
  HttpResponse r = Send(env, "POST", "/v1/clusters/backend/endpoints", body);
  if (outcomes != nullptr) outcomes->insert(absl::StrCat("/v1/endpoints ", r.status));
  const std::string what = absl::StrCat("POST /v1/clusters/backend/endpoints -> ", r.status, " ",
                                        absl::CHexEscape(r.body.substr(0, 300)));
  if (r.status == 201) {
    // Readable, and /config shows exactly one more upstream at the end.
    if (Send(env, "GET", "/v1/clusters/backend", "").status != 200) {
      return absl::StrCat(what, ": cluster unreadable after the add");
    }
    std::vector<std::string> b = Upstreams(configs_before.backend);
    std::vector<std::string> a = Upstreams(GetConfigs(env).backend);
    if (a.size() != b.size() + 1 || !std::equal(b.begin(), b.end(), a.begin())) {
      return absl::StrCat(what, ": /config did not gain exactly one upstream");
    }
    return "";
  }
  if (r.status != 400 && r.status != 409) {
    return absl::StrCat(what, ": status not in {201,400,409}");
  }
  if (std::string e = CheckJsonError(r, what); !e.empty()) return e;
  if (State(env) != before) return absl::StrCat(what, ": state changed");
  return "";
}

}  // namespace

std::string RunConfigShimInput(const uint8_t* data, size_t size, std::set<std::string>* outcomes) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  using Check = std::string (*)(Env&, const std::string&, std::set<std::string>*);
  for (Check check : {&CheckConfigPost, &CheckClusterPost, &CheckEndpointPost}) {
    Env env;
    if (std::string e = MakeEnv(&env); !e.empty()) return e;
    if (std::string e = check(env, body, outcomes); !e.empty()) return e;
  }
  return "";
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = lb::fuzz::RunConfigShimInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\ninput: \"%s\"\n", problem.c_str(),
                 absl::CHexEscape(std::string(reinterpret_cast<const char*>(data), size)).c_str());
    std::abort();
  }
  return 0;
}
