// The /v1 contract every surface shares, through RestHandler::Handle (no network): ETag and
// If-Match on every read and write, PATCH versus PUT, endpoints updated in place, durations,
// zero rules, cookie options, routes with several hosts, and error codes that match statuses.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/api/status_map.h"
#include "controller/rest/json_body.h"
#include "controller/rest/rest_handler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/controller/rest/rest_fixture.h"

namespace lb::rest {
namespace {

using http::HttpResponse;

class RestContractTest : public RestFixture {
 protected:
  HttpResponse Patch(const std::string& target, const std::string& body,
                     const Headers& headers = {}) {
    return Send("PATCH", target, body, headers);
  }
  HttpResponse Put(const std::string& target, const std::string& body,
                   const Headers& headers = {}) {
    return Send("PUT", target, body, headers);
  }
  HttpResponse Delete(const std::string& target, const Headers& headers = {}) {
    return Send("DELETE", target, "", headers);
  }
  static nlohmann::json Body(const HttpResponse& r) {
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  // The error code and message of an error answer.
  static std::string Error(const HttpResponse& r) {
    nlohmann::json j = Body(r);
    if (!j.is_object() || !j.contains("error")) return "<not an error: " + r.body + ">";
    return absl::StrCat(r.status, " ", j["error"]["code"].get<std::string>(), ": ",
                        j["error"]["message"].get<std::string>());
  }
  int64_t VersionOf(const std::string& cluster) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(cluster);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->version() : -1;
  }
  static Headers IfMatch(int64_t version) { return {{"If-Match", absl::StrCat(version)}}; }
  static std::string ETag(int64_t version) { return absl::StrCat("\"", version, "\""); }
};

TEST_F(RestContractTest, ReadsCarryTheETagOfTheVersionTheyShow) {
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})").status,
            201);
  const std::string cluster_tag = ETag(VersionOf("backend"));
  for (const char* target : {"/v1/clusters/backend", "/v1/clusters/backend/endpoints",
                             "/v1/clusters/backend/endpoints/10.0.0.1/80"}) {
    HttpResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(HeaderOf(r, "ETag"), cluster_tag) << target;
    // HEAD is GET without the body (the server drops it).
    EXPECT_EQ(HeaderOf(Send("HEAD", target), "ETag"), cluster_tag) << target;
  }
  absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
  ASSERT_TRUE(t.ok());
  for (const char* target : {"/v1/routes", "/v1/routes/default"}) {
    EXPECT_EQ(HeaderOf(Get(target), "ETag"), ETag(t->version())) << target;
  }
  // Writes answer with the new version's ETag.
  HttpResponse r = Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"weight":3})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "ETag"), ETag(VersionOf("backend")));
  EXPECT_EQ(Body(r)["cluster"]["version"], absl::StrCat(VersionOf("backend")));
}

TEST_F(RestContractTest, StaleIfMatchFailsEveryEndpointWrite) {
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})").status,
            201);
  const int64_t version = VersionOf("backend");
  const std::string want = absl::StrCat("409 ABORTED: cluster \"backend\" is at version ", version,
                                        ", not ", version - 1, "; re-read and retry");
  const std::string before = State();
  const Headers stale = IfMatch(version - 1);
  EXPECT_EQ(
      Error(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.2","port":80})", stale)),
      want);
  EXPECT_EQ(Error(Patch("/v1/clusters/backend/endpoints/10.0.0.1/80",
                        R"({"admin_state":"DRAINING"})", stale)),
            want);
  EXPECT_EQ(Error(Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"weight":5})", stale)),
            want);
  EXPECT_EQ(Error(Delete("/v1/clusters/backend/endpoints/10.0.0.1/80", stale)), want);
  EXPECT_EQ(Error(Patch("/v1/clusters/backend", R"({"retries":1})", stale)), want);
  EXPECT_EQ(Error(Put("/v1/clusters/backend", R"({"retries":1})", stale)), want);
  EXPECT_EQ(Error(Delete("/v1/clusters/backend", stale)), want);
  EXPECT_EQ(Error(Post("/v1/routes", R"({"name":"r","cluster":"backend","path_prefix":"/r"})",
                       IfMatch(7))),
            "409 ABORTED: route table is at version 1, not 7; re-read and retry");
  // A new cluster has no version to match.
  EXPECT_EQ(Error(Post("/v1/clusters", R"({"name":"web"})", IfMatch(1))),
            "400 INVALID_ARGUMENT: If-Match: a new cluster has no version yet (an existing name "
            "is 409 anyway)");
  EXPECT_EQ(State(), before);
  // The current version passes, in each spelling.
  HttpResponse r = Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.2","port":80})",
                        {{"If-Match", ETag(version)}});
  ASSERT_EQ(r.status, 201) << r.body;
  r = Patch("/v1/clusters/backend/endpoints/10.0.0.2/80", R"({"weight":2})",
            {{"If-Match", absl::StrCat("W/", HeaderOf(r, "ETag"))}});
  ASSERT_EQ(r.status, 200) << r.body;
  r = Delete("/v1/clusters/backend/endpoints/10.0.0.2/80", IfMatch(VersionOf("backend")));
  ASSERT_EQ(r.status, 204) << r.body;
}

TEST_F(RestContractTest, EndpointPatchChangesWeightZoneLabelsInPlace) {
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})").status,
            201);
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.2","port":80})").status,
            201);
  HttpResponse r = Patch("/v1/clusters/backend/endpoints/10.0.0.1/80",
                         R"({"weight":7,"zone":"eu-1","labels":{"v":"2"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  nlohmann::json e = Body(r)["cluster"]["endpoints"][0];
  EXPECT_EQ(e["address"], "10.0.0.1");
  EXPECT_EQ(e["weight"], 7);
  EXPECT_EQ(e["zone"], "eu-1");
  EXPECT_EQ(e["labels"], nlohmann::json({{"v", "2"}}));
  EXPECT_EQ(e["admin_state"], "ACTIVE");
  // A field not named keeps its value; null resets one to its default.
  r = Patch("/v1/clusters/backend/endpoints/10.0.0.1/80",
            R"({"zone":null,"admin_state":"DRAINING"})");
  ASSERT_EQ(r.status, 200) << r.body;
  e = Body(r)["cluster"]["endpoints"][0];
  EXPECT_EQ(e["weight"], 7);
  EXPECT_EQ(e["zone"], "");
  EXPECT_EQ(e["admin_state"], "DRAINING");
  EXPECT_EQ(Body(r)["cluster"]["endpoints"][1]["address"], "10.0.0.2");
  // The same values again: 200, version unchanged.
  const int64_t version = VersionOf("backend");
  r = Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"weight":7})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(VersionOf("backend"), version);
  EXPECT_EQ(HeaderOf(r, "ETag"), ETag(version));
}

TEST_F(RestContractTest, ClusterPatchMergesAndPutReplaces) {
  HttpResponse r = Post("/v1/clusters", R"({"name":"web","lb_policy":"RING_HASH",
      "hash_policy":{"header":"x-user"},
      "health_check":{"path":"/healthz","interval":"2s","unhealthy_threshold":4},
      "retries":5})");
  ASSERT_EQ(r.status, 201) << r.body;
  r = Patch("/v1/clusters/web", R"({"lb_policy":"MAGLEV","health_check":{"timeout":"500ms"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  nlohmann::json c = Body(r);
  EXPECT_EQ(c["lb_policy"], "MAGLEV");
  EXPECT_EQ(c["hash_policy"]["header"], "x-user");
  EXPECT_EQ(c["health_check"]["path"], "/healthz");
  EXPECT_EQ(c["health_check"]["interval"], "2s");
  EXPECT_EQ(c["health_check"]["timeout"], "0.500s");
  EXPECT_EQ(c["health_check"]["unhealthy_threshold"], 4);
  EXPECT_EQ(c["retries"], 5);
  // null resets a field to its default; switching to a policy that does not hash needs the hash
  // policy gone.
  EXPECT_EQ(Error(Patch("/v1/clusters/web", R"({"lb_policy":"ROUND_ROBIN"})")),
            "400 INVALID_ARGUMENT: cluster.hash_policy: only RING_HASH and MAGLEV hash; "
            "lb_policy is ROUND_ROBIN");
  r = Patch("/v1/clusters/web", R"({"lb_policy":"ROUND_ROBIN","hash_policy":null,"retries":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  c = Body(r);
  EXPECT_FALSE(c.contains("hash_policy"));
  EXPECT_EQ(c["retries"], 2);
  EXPECT_EQ(c["health_check"]["path"], "/healthz");
  // PUT replaces every setting: what is not given gets its default.
  r = Put("/v1/clusters/web", R"({"lb_policy":"ROUND_ROBIN"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["health_check"]["path"], "");
  EXPECT_EQ(Body(r)["health_check"]["interval"], "5s");
  // Errors name the field and change nothing.
  const std::string before = State();
  EXPECT_EQ(Error(Patch("/v1/clusters/web", R"({"health_check":{"interval":"0s"}})")),
            "400 INVALID_ARGUMENT: cluster.health_check.interval: must be from 0.100s to 3600s, "
            "got 0s; cluster.health_check.timeout: must not exceed the interval");
  EXPECT_EQ(Error(Patch("/v1/clusters/web", R"({"nope":1})")),
            "400 INVALID_ARGUMENT: invalid JSON body: nope: Cannot find field.");
  EXPECT_EQ(Error(Patch("/v1/clusters/web", R"({"name":"other"})")),
            "400 INVALID_ARGUMENT: cluster.name: \"other\" does not match the path's \"web\"");
  EXPECT_EQ(Error(Patch("/v1/clusters/nope", R"({"retries":1})")),
            "404 NOT_FOUND: cluster \"nope\" not found");
  EXPECT_EQ(State(), before);
}

TEST_F(RestContractTest, DurationsInEitherSyntaxPrintInProtobufForm) {
  HttpResponse r = Post("/v1/clusters", R"({"name":"web",
      "health_check":{"path":"/h","interval":"2m","timeout":"500ms"},
      "outlier_detection":{"interval":"1h","baseEjectionTime":"0.500s"},
      "connect_timeout":"1m"})");
  ASSERT_EQ(r.status, 201) << r.body;
  nlohmann::json c = Body(Get("/v1/clusters/web"));
  EXPECT_EQ(c["health_check"]["interval"], "120s");
  EXPECT_EQ(c["health_check"]["timeout"], "0.500s");
  EXPECT_EQ(c["outlier_detection"]["interval"], "3600s");
  EXPECT_EQ(c["outlier_detection"]["base_ejection_time"], "0.500s");
  EXPECT_EQ(c["connect_timeout"], "60s");
  r = Patch("/v1/clusters/web", R"({"connect_timeout":"1m30s"})");
  EXPECT_EQ(Error(r),
            "400 INVALID_ARGUMENT: cluster.connect_timeout: must be from 0.001s to 60s, "
            "got 90s");
  r = Patch("/v1/clusters/web", R"({"connect_timeout":"1500ms"})");
  EXPECT_EQ(Body(r)["connect_timeout"], "1.500s");
}

TEST_F(RestContractTest, BadDurationsNameTheirField) {
  const std::string before = State();
  EXPECT_EQ(Error(Post("/v1/clusters", R"({"name":"web","health_check":{"interval":"5x"}})")),
            "400 INVALID_ARGUMENT: invalid JSON body: cluster.health_check.interval: \"5x\" is "
            "not a duration; want \"500ms\", \"2s\", \"1m\", \"1h\" or \"0.500s\"");
  EXPECT_EQ(Error(Put("/v1/clusters/backend", R"({"connect_timeout":"inf"})")),
            "400 INVALID_ARGUMENT: invalid JSON body: cluster.connect_timeout: \"inf\" is not a "
            "duration; want \"500ms\", \"2s\", \"1m\", \"1h\" or \"0.500s\"");
  EXPECT_EQ(Error(Put("/v1/clusters/backend", R"({"connect_timeout":"2m"})")),
            "400 INVALID_ARGUMENT: cluster.connect_timeout: must be from 0.001s to 60s, got 120s");
  EXPECT_EQ(State(), before);
}

TEST_F(RestContractTest, LabelsPerEndpointAreBounded) {
  const std::string before = State();
  nlohmann::json labels = nlohmann::json::object();
  for (int i = 0; i < 65; ++i) labels[absl::StrCat("k", i)] = "v";
  nlohmann::json endpoint = {{"address", "10.0.0.1"}, {"port", 80}, {"labels", labels}};
  EXPECT_EQ(Error(Post("/v1/clusters/backend/endpoints", endpoint.dump())),
            "400 INVALID_ARGUMENT: endpoint.labels: at most 64 labels, got 65");
  endpoint["labels"] = {{std::string(64, 'k'), "v"}};
  EXPECT_EQ(Error(Post("/v1/clusters/backend/endpoints", endpoint.dump())),
            absl::StrCat("400 INVALID_ARGUMENT: endpoint.labels: key \"", std::string(64, 'k'),
                         "\" must be 1-63 of [a-zA-Z0-9_.-/]"));
  endpoint["labels"] = {{"k", std::string(257, 'v')}};
  EXPECT_EQ(Error(Post("/v1/clusters/backend/endpoints", endpoint.dump())),
            "400 INVALID_ARGUMENT: endpoint.labels[k]: value must be at most 256 printable "
            "characters");
  EXPECT_EQ(State(), before);
  // A PATCH is held to the same bounds.
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})").status,
            201);
  const std::string added = State();
  EXPECT_EQ(Error(Patch("/v1/clusters/backend/endpoints/10.0.0.1/80",
                        nlohmann::json({{"labels", labels}}).dump())),
            "400 INVALID_ARGUMENT: endpoint.labels: at most 64 labels, got 65");
  EXPECT_EQ(State(), added);
}

TEST_F(RestContractTest, ZeroIsRefusedWhereMeaninglessAndKeptWhereItMeansOff) {
  const std::string before = State();
  EXPECT_EQ(Error(Post("/v1/clusters/backend/endpoints",
                       R"({"address":"10.0.0.1","port":80,"weight":0})")),
            "400 INVALID_ARGUMENT: endpoint.weight: must be from 1 to 10000, got 0");
  EXPECT_EQ(Error(Put("/v1/clusters/backend", R"({"health_check":{"healthy_threshold":0}})")),
            "400 INVALID_ARGUMENT: cluster.health_check.healthy_threshold: must be from 1 to 100, "
            "got 0");
  EXPECT_EQ(State(), before);
  HttpResponse r = Put("/v1/clusters/backend", R"({"outlier_detection":{"consecutive_5xx":0,
      "consecutive_gateway_failure":0},"retries":0,"healthy_panic_threshold":0})");
  ASSERT_EQ(r.status, 200) << r.body;
  nlohmann::json c = Body(Get("/v1/clusters/backend"));
  EXPECT_EQ(c["outlier_detection"]["consecutive_5xx"], 0);
  EXPECT_EQ(c["outlier_detection"]["consecutive_gateway_failure"], 0);
  EXPECT_EQ(c["outlier_detection"]["max_ejection_percent"], 50);
  EXPECT_EQ(c["retries"], 0);
  EXPECT_EQ(c["healthy_panic_threshold"], 0);
  // An unset weight is 1.
  r = Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})");
  EXPECT_EQ(Body(r)["cluster"]["endpoints"][0]["weight"], 1);
}

TEST_F(RestContractTest, CircuitBreakersDefaultMergeOneLimitAndRefuseMeaninglessZeros) {
  HttpResponse r = Post("/v1/clusters", R"({"name":"web"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["circuit_breakers"],
            nlohmann::json::parse(R"({"max_connections":1024,"max_pending_requests":1024,
                                      "max_requests":1024,"max_retries":3})"));
  r = Patch("/v1/clusters/web", R"({"circuit_breakers":{"max_requests":2,"maxRetries":0}})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Patch("/v1/clusters/web", R"({"circuit_breakers":{"max_connections":10}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(Get("/v1/clusters/web"))["circuit_breakers"],
            nlohmann::json::parse(R"({"max_connections":10,"max_pending_requests":1024,
                                      "max_requests":2,"max_retries":0})"));
  const std::string before = State();
  EXPECT_EQ(Error(Patch("/v1/clusters/web", R"({"circuit_breakers":{"max_requests":0}})")),
            "400 INVALID_ARGUMENT: cluster.circuit_breakers.max_requests: must be from 1 to "
            "1000000, got 0");
  EXPECT_EQ(
      Error(Patch("/v1/clusters/web", R"({"circuit_breakers":{"max_pending_requests":1000001}})")),
      "400 INVALID_ARGUMENT: cluster.circuit_breakers.max_pending_requests: must be from 1 "
      "to 1000000, got 1000001");
  EXPECT_EQ(Error(Patch("/v1/clusters/web", R"({"circuit_breakers":{"max_requests":-1}})")),
            "400 INVALID_ARGUMENT: invalid JSON body: (circuit_breakers.max_requests): invalid "
            "value -1 for type TYPE_UINT32");
  EXPECT_EQ(State(), before);
  // null resets one limit, or all of them.
  r = Patch("/v1/clusters/web", R"({"circuit_breakers":{"max_retries":null}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["circuit_breakers"]["max_retries"], 3);
  EXPECT_EQ(Body(r)["circuit_breakers"]["max_connections"], 10);
  r = Patch("/v1/clusters/web", R"({"circuit_breakers":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["circuit_breakers"]["max_connections"], 1024);
  EXPECT_EQ(Body(r)["circuit_breakers"]["max_requests"], 1024);
}

TEST_F(RestContractTest, CookieOptionsAndHashOnPoliciesThatDoNotHash) {
  HttpResponse r = Post("/v1/clusters", R"({"name":"sticky","lb_policy":"RING_HASH",
      "hash_policy":{"cookie":"lb","cookie_options":{"ttl":"1h","same_site":"Lax"}}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["hash_policy"], nlohmann::json::parse(R"({"cookie":"lb","cookie_options":{
      "generate":true,"ttl":"3600s","path":"/","http_only":true,"same_site":"LAX",
      "secure":false}})"));
  EXPECT_EQ(Error(Post("/v1/clusters",
                       R"({"name":"rr","lb_policy":"ROUND_ROBIN","hash_policy":{"cookie":"lb"}})")),
            "400 INVALID_ARGUMENT: cluster.hash_policy: only RING_HASH and MAGLEV hash; "
            "lb_policy is ROUND_ROBIN");
}

TEST_F(RestContractTest, RoutesWithSeveralHostsAndDuplicates) {
  ASSERT_EQ(Post("/v1/clusters", R"({"name":"web"})").status, 201);
  HttpResponse r = Post("/v1/routes", R"({"name":"site","hosts":["Example.com","www.example.com"],
      "path_prefix":"/","cluster":"web"})");
  ASSERT_EQ(r.status, 201) << r.body;
  nlohmann::json route = Body(Get("/v1/routes/site"));
  EXPECT_EQ(route["hosts"], nlohmann::json({"example.com", "www.example.com"}));
  EXPECT_EQ(route["host"], "example.com");
  // What a read returns can be written back.
  r = Put("/v1/routes/site", route.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string before = State();
  EXPECT_EQ(
      Error(Post("/v1/routes",
                 R"({"name":"dup","host":"WWW.example.com","path_prefix":"/","cluster":"web"})")),
      "409 ALREADY_EXISTS: route \"dup\": host \"www.example.com\" with path_prefix \"/\" is "
      "already routed by route \"site\"");
  EXPECT_EQ(State(), before);
}

TEST_F(RestContractTest, RouteMatchesSplitsAndHeaderChangesRoundTrip) {
  ASSERT_EQ(Post("/v1/clusters", R"({"name":"stable"})").status, 201);
  ASSERT_EQ(Post("/v1/clusters", R"({"name":"canary","slow_start_window":"30s"})").status, 201);
  EXPECT_EQ(Body(Get("/v1/clusters/canary"))["slow_start_window"], "30s");
  HttpResponse r = Post("/v1/routes", R"({"name":"split","hosts":["shop.example"],
      "path_exact":"/cart","method":"POST",
      "headers":[{"name":"X-Beta","exact":"1"},{"name":"x-bot","present":true,"invert":true}],
      "weighted_clusters":[{"cluster":"stable","weight":90},{"cluster":"canary","weight":10}],
      "request_headers_to_add":[{"name":"X-Env","value":"prod"},
                                {"name":"x-tag","value":"a","append":true}],
      "request_headers_to_remove":["X-Secret"],"priority":3})");
  ASSERT_EQ(r.status, 201) << r.body;
  nlohmann::json route = Body(Get("/v1/routes/split"));
  // Names lowercased; no default path_prefix beside path_exact.
  EXPECT_EQ(route, nlohmann::json::parse(R"({"name":"split","host":"shop.example",
      "hosts":["shop.example"],"path_prefix":"","path_exact":"/cart","method":"POST",
      "cluster":"","https_redirect":0,
      "headers":[{"name":"x-beta","exact":"1","invert":false},
                 {"name":"x-bot","present":true,"invert":true}],
      "weighted_clusters":[{"cluster":"stable","weight":90},{"cluster":"canary","weight":10}],
      "request_headers_to_add":[{"name":"x-env","value":"prod","append":false},
                                {"name":"x-tag","value":"a","append":true}],
      "request_headers_to_remove":["x-secret"],"priority":3})"));
  // What a read returns can be written back unchanged.
  r = Put("/v1/routes/split", route.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(Get("/v1/routes/split")), route);
  const std::string before = State();
  // The same match on the same host is taken; another method is not.
  EXPECT_EQ(Error(Post("/v1/routes", R"({"name":"dup","hosts":["shop.example"],
      "path_exact":"/cart","method":"POST","cluster":"stable",
      "headers":[{"name":"x-bot","present":true,"invert":true},{"name":"x-beta","exact":"1"}]})")),
            "409 ALREADY_EXISTS: route \"dup\": host \"shop.example\" with path_exact \"/cart\" "
            "and the same method and headers is already routed by route \"split\"");
  EXPECT_EQ(Error(Post("/v1/routes", R"({"name":"bad","cluster":"stable",
      "weighted_clusters":[{"cluster":"canary","weight":1}]})")),
            "400 INVALID_ARGUMENT: route.weighted_clusters: not together with cluster");
  EXPECT_EQ(Error(Post("/v1/routes", R"({"name":"ghost","path_prefix":"/ghost",
      "weighted_clusters":[{"cluster":"stable","weight":1},{"cluster":"nope","weight":1}]})")),
            "409 FAILED_PRECONDITION: route \"ghost\": cluster \"nope\" does not exist; create it "
            "first");
  EXPECT_EQ(Error(Delete("/v1/clusters/canary")),
            "409 FAILED_PRECONDITION: cluster \"canary\" is used by route \"split\"; delete or "
            "change the route first");
  EXPECT_EQ(State(), before);
  r = Post("/v1/routes", R"({"name":"get","hosts":["shop.example"],"path_exact":"/cart",
      "method":"GET","cluster":"stable"})");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(RestContractTest, EveryErrorCodeMatchesItsStatus) {
  ASSERT_EQ(Post("/v1/clusters", R"({"name":"web"})").status, 201);
  std::vector<HttpResponse> errors = {
      Get("/v1/clusters/nope"),
      Post("/v1/clusters", R"({"name":"web"})"),
      Post("/v1/clusters", "{"),
      Delete("/v1/clusters/backend"),
      Put("/v1/clusters/web", "{}", IfMatch(99)),
      Send("PUT", "/v1/clusters"),
      Send("POST", "/v1/routes/default"),
      Get("/v1/nope"),
  };
  std::vector<std::string> codes;
  for (const HttpResponse& r : errors) {
    nlohmann::json j = Body(r);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
    const std::string code = j["error"]["code"];
    codes.push_back(absl::StrCat(r.status, " ", code));
    if (code == "METHOD_NOT_ALLOWED") {
      EXPECT_EQ(r.status, 405);
      EXPECT_NE(HeaderOf(r, "Allow"), "<none>");
      continue;
    }
    absl::StatusCode status_code = absl::StatusCode::kUnknown;
    for (int c = 0; c <= 16; ++c) {
      std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(c));
      for (char& ch : name) ch = static_cast<char>(toupper(ch));
      if (name == code) status_code = static_cast<absl::StatusCode>(c);
    }
    EXPECT_EQ(api::HttpStatusFor(absl::Status(status_code, "x")), r.status) << code;
  }
  EXPECT_THAT(codes, ::testing::ElementsAre("404 NOT_FOUND", "409 ALREADY_EXISTS",
                                            "400 INVALID_ARGUMENT", "409 FAILED_PRECONDITION",
                                            "409 ABORTED", "405 METHOD_NOT_ALLOWED",
                                            "405 METHOD_NOT_ALLOWED", "404 NOT_FOUND"));
}

TEST_F(RestContractTest, LowerCaseBearerSchemeIsAccepted) {
  Init(api::TokenAuth("s3cret"));
  for (const char* header : {"bearer s3cret", "BEARER s3cret", "Bearer  s3cret"}) {
    HttpResponse r = Patch("/v1/clusters/backend", R"({"retries":3})", {{"Authorization", header}});
    EXPECT_EQ(r.status, 200) << header << " " << r.body;
  }
  EXPECT_EQ(
      Error(Patch("/v1/clusters/backend", R"({"retries":3})", {{"Authorization", "Basic s3cret"}})),
      "401 UNAUTHENTICATED: this call needs an Authorization: Bearer token");
}

}  // namespace
}  // namespace lb::rest
