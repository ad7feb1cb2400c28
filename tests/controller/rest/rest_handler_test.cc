// Tests of the /v1 resource API, /healthz, /readyz, /metrics and the shared helpers of
// controller/rest/rest_handler.cc, through RestHandler::Handle (no network).
#include "controller/rest/rest_handler.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/controller/rest/rest_fixture.h"

namespace lb::rest {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The bootstrapped "backend" cluster as /v1 renders it, without the closing brace so tests can
// append endpoints and version.
constexpr char kBackendSettings[] =
    R"({"name":"backend","lb_policy":"RANDOM",)"
    R"("health_check":{"path":"","interval":"5s","timeout":"1s","healthy_threshold":2,)"
    R"("unhealthy_threshold":3},)"
    R"("outlier_detection":{"consecutive_5xx":5,"consecutive_gateway_failure":5,)"
    R"("interval":"10s","base_ejection_time":"30s","max_ejection_percent":50},)"
    R"("connect_timeout":"1s","retries":2,"healthy_panic_threshold":50,)"
    R"("circuit_breakers":{"max_connections":1024,"max_pending_requests":1024,)"
    R"("max_requests":1024,"max_retries":3},"protocol":"HTTP1",)";

std::string ClusterJson(const std::string& name, const std::string& endpoints, int64_t version) {
  std::string settings =
      absl::StrReplaceAll(kBackendSettings, {{"\"backend\"", "\"" + name + "\""}});
  return absl::StrCat(settings, "\"endpoints\":[", endpoints, "],\"version\":\"", version, "\"}");
}

std::string EndpointJson(const std::string& address, int port,
                         const std::string& admin_state = "ACTIVE", int weight = 1) {
  return absl::StrCat(R"({"address":")", address, R"(","port":)", port, R"(,"weight":)", weight,
                      R"(,"zone":"","labels":{},"admin_state":")", admin_state,
                      R"(","resolved_addresses":[]})");
}

std::string ErrorJson(const std::string& code, const std::string& message) {
  return absl::StrCat(R"({"error":{"code":")", code, R"(","message":")", message, "\"}}\n");
}

class RestHandlerTest : public RestFixture {
 protected:
  // The body must be `body` as JSON: same values, keys in any order (protobuf's printer puts
  // message-typed fields after the primitive ones), and end with a newline.
  void ExpectJson(const HttpResponse& r, int status, const std::string& body) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    ASSERT_TRUE(nlohmann::json::accept(body)) << "bad expectation: " << body;
    ASSERT_TRUE(nlohmann::json::accept(r.body)) << r.body;
    EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json::parse(body))
        << "actual:   " << r.body << "expected: " << body;
    EXPECT_EQ(r.body.back(), '\n');
  }
  // Error bodies are built by hand: byte for byte.
  void ExpectError(const HttpResponse& r, int status, const std::string& code,
                   const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.body, ErrorJson(code, message));
    EXPECT_EQ(r.content_type, "application/json");
  }
  void ExpectNoContent(const HttpResponse& r) {
    EXPECT_EQ(r.status, 204) << r.body;
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.content_type, "");
  }
  HttpResponse Put(const std::string& target, const std::string& body,
                   const Headers& headers = {}) {
    return Send("PUT", target, body, headers);
  }
  HttpResponse Delete(const std::string& target, const Headers& headers = {}) {
    return Send("DELETE", target, "", headers);
  }
  HttpResponse Patch(const std::string& target, const std::string& body) {
    return Send("PATCH", target, body);
  }
  void CreateWeb() {
    HttpResponse r = Post("/v1/clusters", R"({"name":"web"})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  int64_t VersionOf(const std::string& cluster) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(cluster);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->version() : -1;
  }
};

// ---------------------------------------------------------------------------------------------
// Clusters

TEST_F(RestHandlerTest, ListClusters) {
  ExpectJson(Get("/v1/clusters"), 200,
             absl::StrCat(R"({"clusters":[)", ClusterJson("backend", "", 1), "]}\n"));
}

TEST_F(RestHandlerTest, CreateCluster) {
  HttpResponse r = Post("/v1/clusters", R"({"name":"web"})");
  ExpectJson(r, 201, ClusterJson("web", "", 2) + "\n");
  EXPECT_EQ(HeaderOf(r, "Location"), "/v1/clusters/web");
  ExpectJson(Get("/v1/clusters/web"), 200, ClusterJson("web", "", 2) + "\n");
  ExpectJson(Get("/v1/clusters"), 200,
             absl::StrCat(R"({"clusters":[)", ClusterJson("backend", "", 1), ",",
                          ClusterJson("web", "", 2), "]}\n"));
}

TEST_F(RestHandlerTest, CreateClusterWithSettingsAndEndpoints) {
  ExpectJson(Post("/v1/clusters", R"({
      "name": "api", "lb_policy": "ring_hash", "hash_policy": {"header": "x-user"},
      "health_check": {"path": "/healthz", "interval": "2s", "timeout": "0.5s"},
      "connect_timeout": "0.250s", "retries": 0,
      "circuit_breakers": {"max_requests": 100, "max_retries": 0},
      "endpoints": [{"address": "10.0.0.1", "port": 80, "weight": 3, "zone": "a",
                     "labels": {"tier": "gold"}}]})"),
             201,
             R"({"name":"api","lb_policy":"RING_HASH","hash_policy":{"header":"x-user"},)"
             R"("health_check":{"path":"/healthz","interval":"2s","timeout":"0.500s",)"
             R"("healthy_threshold":2,"unhealthy_threshold":3},)"
             R"("outlier_detection":{"consecutive_5xx":5,"consecutive_gateway_failure":5,)"
             R"("interval":"10s","base_ejection_time":"30s","max_ejection_percent":50},)"
             R"("connect_timeout":"0.250s","retries":0,"healthy_panic_threshold":50,)"
             R"("circuit_breakers":{"max_connections":1024,"max_pending_requests":1024,)"
             R"("max_requests":100,"max_retries":0},"protocol":"HTTP1",)"
             R"("endpoints":[{"address":"10.0.0.1","port":80,"weight":3,"zone":"a",)"
             R"("labels":{"tier":"gold"},"admin_state":"ACTIVE","resolved_addresses":[]}],)"
             R"("version":"2"})");
}

TEST_F(RestHandlerTest, CreateClusterErrorsChangeNothing) {
  std::string before = State();
  ExpectError(Post("/v1/clusters", R"({"name":"backend"})"), 409, "ALREADY_EXISTS",
              R"(cluster \"backend\" already exists)");
  ExpectError(Post("/v1/clusters", R"({"name":"web","retries":11})"), 400, "INVALID_ARGUMENT",
              "cluster.retries: must be from 0 to 10, got 11");
  ExpectError(Post("/v1/clusters", R"({"name":"web","bogus":1})"), 400, "INVALID_ARGUMENT",
              "invalid JSON body: bogus: Cannot find field.");
  ExpectError(Post("/v1/clusters", R"({"name":"web","lb_policy":"FASTEST"})"), 400,
              "INVALID_ARGUMENT",
              "invalid JSON body: (lb_policy): invalid value \\\"FASTEST\\\" for type "
              "type.googleapis.com/lb.v1.LbPolicy");
  ExpectError(Post("/v1/clusters", ""), 400, "INVALID_ARGUMENT",
              "request body must be a JSON object");
  ExpectError(Post("/v1/clusters", " \n"), 400, "INVALID_ARGUMENT",
              "request body must be a JSON object");
  std::string big = R"({"name":"web"})" + std::string(kMaxBodyBytes, ' ');
  ExpectError(Post("/v1/clusters", big), 400, "INVALID_ARGUMENT",
              absl::StrCat("request body too large: ", big.size(), " bytes (limit 65536)"));
  ExpectError(Post("/v1/clusters", R"({"name":"a b","endpoints":[{"port":0}]})"), 400,
              "INVALID_ARGUMENT",
              "cluster.name: must be 1-128 characters of [a-zA-Z0-9_.-]; "
              "cluster.endpoints[0].address: is required; "
              "cluster.endpoints[0].port: must be from 1 to 65535, got 0");
  EXPECT_EQ(State(), before);
}

TEST_F(RestHandlerTest, MalformedJsonBodiesAre400) {
  std::string before = State();
  for (const char* body : {"{", "[]", "null", "42", "\"web\"", "{\"name\":}", "{\"name\":5}"}) {
    HttpResponse r = Post("/v1/clusters", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_THAT(r.body,
                StartsWith(R"({"error":{"code":"INVALID_ARGUMENT","message":"invalid JSON body: )"))
        << body;
    EXPECT_TRUE(nlohmann::json::accept(r.body)) << r.body;
  }
  EXPECT_EQ(State(), before);
}

TEST_F(RestHandlerTest, GetMissingClusterIs404) {
  ExpectError(Get("/v1/clusters/nope"), 404, "NOT_FOUND", R"(cluster \"nope\" not found)");
}

TEST_F(RestHandlerTest, ClusterProtocolAndGrpcHealthCheck) {
  HttpResponse r = Post(
      "/v1/clusters", R"({"name":"g","protocol":"HTTP2","health_check":{"grpc_service_name":""}})");
  ASSERT_EQ(r.status, 201) << r.body;
  nlohmann::json got = nlohmann::json::parse(Get("/v1/clusters/g").body);
  EXPECT_EQ(got["protocol"], "HTTP2");
  EXPECT_EQ(got["health_check"]["grpc_service_name"], "");
  // PATCH keeps the rest; an HTTP1 cluster cannot keep a gRPC health check.
  ExpectError(Patch("/v1/clusters/g", R"({"protocol":"HTTP1"})"), 400, "INVALID_ARGUMENT",
              "cluster.health_check.grpc_service_name: gRPC health checks need protocol HTTP2 "
              "(the cluster is HTTP1)");
  r = Patch("/v1/clusters/g", R"({"protocol":"HTTP1","health_check":{"grpc_service_name":null}})");
  EXPECT_EQ(r.status, 200) << r.body;
  got = nlohmann::json::parse(Get("/v1/clusters/g").body);
  EXPECT_EQ(got["protocol"], "HTTP1");
  EXPECT_FALSE(got["health_check"].contains("grpc_service_name"));
  EXPECT_EQ(Post("/v1/clusters", R"({"name":"x","protocol":"HTTP3"})").status, 400);
}

TEST_F(RestHandlerTest, PutClusterReplacesSettingsAndKeepsEndpoints) {
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})").status,
            201);
  int64_t version = VersionOf("backend");
  HttpResponse r = Put("/v1/clusters/backend", R"({"lb_policy":"ROUND_ROBIN","retries":1})",
                       {{"If-Match", absl::StrCat("\"", version, "\"")}});
  EXPECT_EQ(r.status, 200) << r.body;
  std::string expected =
      absl::StrReplaceAll(ClusterJson("backend", EndpointJson("10.0.0.1", 80), version + 1),
                          {{R"("lb_policy":"RANDOM")", R"("lb_policy":"ROUND_ROBIN")"},
                           {R"("retries":2)", R"("retries":1)"}});
  ExpectJson(r, 200, expected);
  ExpectJson(Get("/v1/clusters/backend"), 200, expected);
  // Other If-Match spellings; a name in the body must match the path.
  r = Put("/v1/clusters/backend", R"({"name":"backend"})",
          {{"If-Match", absl::StrCat("W/\"", version + 1, "\"")}});
  EXPECT_EQ(r.status, 200) << r.body;
  // The same settings again change nothing: 200 at the same version.
  r = Put("/v1/clusters/backend", "{}", {{"If-Match", absl::StrCat(version + 2)}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = Put("/v1/clusters/backend", "{}", {{"If-Match", "*"}});
  EXPECT_EQ(r.status, 200) << r.body;
  ExpectJson(Get("/v1/clusters/backend"), 200,
             ClusterJson("backend", EndpointJson("10.0.0.1", 80), version + 2) + "\n");
}

TEST_F(RestHandlerTest, PutClusterErrorsChangeNothing) {
  int64_t version = VersionOf("backend");
  std::string before = State();
  ExpectError(Put("/v1/clusters/backend", "{}", {{"If-Match", absl::StrCat(version + 1)}}), 409,
              "ABORTED",
              absl::StrCat(R"(cluster \"backend\" is at version )", version, ", not ", version + 1,
                           "; re-read and retry"));
  for (const char* bad : {"abc", "0", "-3", "\"5", "5\"", "W/5x"}) {
    ExpectError(Put("/v1/clusters/backend", "{}", {{"If-Match", bad}}), 400, "INVALID_ARGUMENT",
                "If-Match: must be a version number from a previous read");
  }
  ExpectError(Put("/v1/clusters/backend", R"({"name":"web"})"), 400, "INVALID_ARGUMENT",
              R"(cluster.name: \"web\" does not match the path's \"backend\")");
  ExpectError(Put("/v1/clusters/backend", R"({"endpoints":[{"address":"10.0.0.1","port":80}]})"),
              400, "INVALID_ARGUMENT",
              "cluster.endpoints: change endpoints through /v1/clusters/{name}/endpoints");
  ExpectError(Put("/v1/clusters/backend", R"({"retries":11})"), 400, "INVALID_ARGUMENT",
              "cluster.retries: must be from 0 to 10, got 11");
  ExpectError(Put("/v1/clusters/backend", R"({"unknown_field":1})"), 400, "INVALID_ARGUMENT",
              "invalid JSON body: unknown_field: Cannot find field.");
  ExpectError(Put("/v1/clusters/nope", "{}"), 404, "NOT_FOUND", R"(cluster \"nope\" not found)");
  EXPECT_EQ(State(), before);
}

TEST_F(RestHandlerTest, DeleteCluster) {
  CreateWeb();
  ExpectNoContent(Delete("/v1/clusters/web", {{"If-Match", absl::StrCat(VersionOf("web"))}}));
  ExpectError(Get("/v1/clusters/web"), 404, "NOT_FOUND", R"(cluster \"web\" not found)");
  ExpectError(Delete("/v1/clusters/web"), 404, "NOT_FOUND", R"(cluster \"web\" not found)");
}

TEST_F(RestHandlerTest, DeleteClusterErrorsChangeNothing) {
  CreateWeb();
  std::string before = State();
  ExpectError(
      Delete("/v1/clusters/backend"), 409, "FAILED_PRECONDITION",
      R"(cluster \"backend\" is used by route \"default\"; delete or change the route first)");
  ExpectError(Delete("/v1/clusters/web", {{"If-Match", "1"}}), 409, "ABORTED",
              R"(cluster \"web\" is at version 2, not 1; re-read and retry)");
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST_F(RestHandlerTest, Endpoints) {
  ExpectJson(Get("/v1/clusters/backend/endpoints"), 200,
             R"({"endpoints":[],"version":"1"})"
             "\n");
  HttpResponse r = Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})");
  ExpectJson(r, 201,
             absl::StrCat(R"({"cluster":)", ClusterJson("backend", EndpointJson("10.0.0.1", 80), 2),
                          "}\n"));
  r = Post("/v1/clusters/backend/endpoints",
           R"({"address":"::1","port":8080,"weight":5,"admin_state":"DRAINING"})");
  EXPECT_EQ(r.status, 201) << r.body;
  ExpectJson(Get("/v1/clusters/backend/endpoints"), 200,
             absl::StrCat(R"({"endpoints":[)", EndpointJson("10.0.0.1", 80), ",",
                          EndpointJson("::1", 8080, "DRAINING", 5), R"(],"version":"3"})", "\n"));
  ExpectJson(Get("/v1/clusters/backend/endpoints/10.0.0.1/80"), 200,
             EndpointJson("10.0.0.1", 80) + "\n");
  ExpectJson(Get("/v1/clusters/backend/endpoints/::1/8080"), 200,
             EndpointJson("::1", 8080, "DRAINING", 5) + "\n");

  r = Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"admin_state":"DRAINING"})");
  ExpectJson(r, 200,
             absl::StrCat(R"({"cluster":)",
                          ClusterJson("backend",
                                      EndpointJson("10.0.0.1", 80, "DRAINING") + "," +
                                          EndpointJson("::1", 8080, "DRAINING", 5),
                                      4),
                          "}\n"));
  r = Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"admin_state":"active"})");
  EXPECT_EQ(r.status, 200) << r.body;
  ExpectJson(Get("/v1/clusters/backend/endpoints/10.0.0.1/80"), 200,
             EndpointJson("10.0.0.1", 80) + "\n");

  ExpectNoContent(Delete("/v1/clusters/backend/endpoints/10.0.0.1/80"));
  ExpectNoContent(Delete("/v1/clusters/backend/endpoints/0:0:0:0:0:0:0:1/8080"));
  ExpectJson(Get("/v1/clusters/backend/endpoints"), 200,
             R"({"endpoints":[],"version":"7"})"
             "\n");
}

TEST_F(RestHandlerTest, EndpointErrorsChangeNothing) {
  ASSERT_EQ(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})").status,
            201);
  std::string before = State();
  ExpectError(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})"), 409,
              "ALREADY_EXISTS", R"(endpoint 10.0.0.1:80 already exists in cluster \"backend\")");
  ExpectError(Post("/v1/clusters/nope/endpoints", R"({"address":"10.0.0.1","port":80})"), 404,
              "NOT_FOUND", R"(cluster \"nope\" not found)");
  ExpectError(Post("/v1/clusters/backend/endpoints", R"({"address":"1.2.3.999","port":0})"), 400,
              "INVALID_ARGUMENT",
              R"(endpoint.address: \"1.2.3.999\" is neither an IP address nor a hostname; )"
              "endpoint.port: must be from 1 to 65535, got 0");
  ExpectError(Post("/v1/clusters/backend/endpoints", R"({"address":"10.0.0.2","port":80,"x":1})"),
              400, "INVALID_ARGUMENT", "invalid JSON body: x: Cannot find field.");
  ExpectError(Post("/v1/clusters/backend/endpoints", ""), 400, "INVALID_ARGUMENT",
              "request body must be a JSON object");
  ExpectError(Get("/v1/clusters/backend/endpoints/10.0.0.2/80"), 404, "NOT_FOUND",
              R"(endpoint 10.0.0.2:80 not found in cluster \"backend\")");
  ExpectError(Get("/v1/clusters/nope/endpoints"), 404, "NOT_FOUND",
              R"(cluster \"nope\" not found)");
  ExpectError(Get("/v1/clusters/nope/endpoints/10.0.0.1/80"), 404, "NOT_FOUND",
              R"(cluster \"nope\" not found)");
  ExpectError(Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"weight":0})"), 400,
              "INVALID_ARGUMENT", "endpoint.weight: must be from 1 to 10000, got 0");
  ExpectError(Patch("/v1/clusters/backend/endpoints/10.0.0.1/80",
                    R"({"port":81,"admin_state":"DRAINING"})"),
              400, "INVALID_ARGUMENT",
              "update_mask.paths[1]: \\\"port\\\" cannot change; only weight, zone, labels, "
              "admin_state (address and port identify the endpoint)");
  ExpectError(Patch("/v1/clusters/backend/endpoints/10.0.0.1/80", "{}"), 400, "INVALID_ARGUMENT",
              "nothing to change: give weight, zone, labels or admin_state");
  ExpectError(Patch("/v1/clusters/backend/endpoints/10.0.0.2/80", R"({"admin_state":"DRAINING"})"),
              404, "NOT_FOUND", R"(endpoint 10.0.0.2:80 not found in cluster \"backend\")");
  ExpectError(Delete("/v1/clusters/backend/endpoints/10.0.0.2/80"), 404, "NOT_FOUND",
              R"(endpoint 10.0.0.2:80 not found in cluster \"backend\")");
  ExpectError(Delete("/v1/clusters/backend/endpoints/a%20b/80"), 400, "INVALID_ARGUMENT",
              R"(address: \"a b\" is neither an IP address nor a hostname)");
  for (const char* port : {"abc", "0", "65536", "-1", "80x", "+80"}) {
    ExpectError(Get(absl::StrCat("/v1/clusters/backend/endpoints/10.0.0.1/", port)), 400,
                "INVALID_ARGUMENT",
                absl::StrCat(R"(port: must be from 1 to 65535, got \")", port, R"(\")"));
  }
  EXPECT_EQ(State(), before);
}

TEST_F(RestHandlerTest, EndpointPathsAcceptAnySpellingOfTheAddress) {
  ASSERT_EQ(
      Post("/v1/clusters/backend/endpoints", R"({"address":"Web.Internal","port":80})").status,
      201);
  ASSERT_EQ(
      Post("/v1/clusters/backend/endpoints", R"({"address":"::ffff:1.2.3.4","port":80})").status,
      201);
  // PATCH and DELETE normalize the address in the path; GET should find the same endpoint.
  HttpResponse get = Get("/v1/clusters/backend/endpoints/WEB.internal./80");
  HttpResponse get6 = Get("/v1/clusters/backend/endpoints/::FFFF:1.2.3.4/80");
  EXPECT_EQ(
      Patch("/v1/clusters/backend/endpoints/WEB.internal./80", R"({"admin_state":"DRAINING"})")
          .status,
      200);
  ExpectJson(get, 200, EndpointJson("web.internal", 80) + "\n");
  ExpectJson(get6, 200, EndpointJson("::ffff:1.2.3.4", 80) + "\n");
  // Errors name the endpoint as PATCH and DELETE do: normalized, IPv6 in brackets.
  ExpectError(Get("/v1/clusters/backend/endpoints/0:0:0:0:0:0:0:2/80"), 404, "NOT_FOUND",
              R"(endpoint [::2]:80 not found in cluster \"backend\")");
  ExpectError(Get("/v1/clusters/backend/endpoints/a%20b/80"), 400, "INVALID_ARGUMENT",
              R"(address: \"a b\" is neither an IP address nor a hostname)");
}

TEST_F(RestHandlerTest, NonUtf8FieldIsRejected) {
  // A proto3 string holding invalid UTF-8 cannot be parsed back from the store.
  std::string before = State();
  HttpResponse r = Post("/v1/clusters/backend/endpoints",
                        "{\"address\":\"10.0.0.1\",\"port\":80,\"zone\":\"\xff\"}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body,
              StartsWith(R"({"error":{"code":"INVALID_ARGUMENT","message":"invalid JSON body: )"));
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Routes

// The route fields every read prints, set or not (docs/routes.md).
constexpr absl::string_view kRouteMatchDefaults =
    R"("weighted_clusters":[],"path_exact":"","headers":[],"method":"",)"
    R"("request_headers_to_add":[],"request_headers_to_remove":[],"priority":0,)";

TEST_F(RestHandlerTest, Routes) {
  const std::string default_route = absl::StrCat(
      R"({"name":"default","host":"*","path_prefix":"/","cluster":"backend","hosts":["*"],)",
      kRouteMatchDefaults, R"("https_redirect":0})");
  ExpectJson(
      Get("/v1/routes"), 200,
      absl::StrCat(R"({"name":"default","routes":[)", default_route, R"(],"version":"1"})", "\n"));
  CreateWeb();
  HttpResponse r =
      Post("/v1/routes",
           R"({"name":"api","host":"API.example.com","path_prefix":"/api","cluster":"web"})");
  const std::string api_route = absl::StrCat(
      R"({"name":"api","host":"api.example.com","path_prefix":"/api","cluster":"web",)",
      R"("hosts":["api.example.com"],)", kRouteMatchDefaults, R"("https_redirect":0})");
  ExpectJson(r, 201,
             absl::StrCat(R"({"name":"default","routes":[)", default_route, ",", api_route,
                          R"(],"version":"3"})", "\n"));
  EXPECT_EQ(HeaderOf(r, "Location"), "/v1/routes/api");
  ExpectJson(Get("/v1/routes/api"), 200, api_route + "\n");
  ExpectJson(Get("/v1/routes/default"), 200, default_route + "\n");

  r = Put("/v1/routes/api", R"({"path_prefix":"/api/v2","cluster":"web"})", {{"If-Match", "3"}});
  const std::string api_v2 = absl::StrCat(
      R"({"name":"api","host":"*","path_prefix":"/api/v2","cluster":"web","hosts":["*"],)",
      kRouteMatchDefaults, R"("https_redirect":0})");
  ExpectJson(r, 200,
             absl::StrCat(R"({"name":"default","routes":[)", default_route, ",", api_v2,
                          R"(],"version":"4"})", "\n"));
  ExpectNoContent(Delete("/v1/routes/api", {{"If-Match", "\"4\""}}));
  ExpectJson(
      Get("/v1/routes"), 200,
      absl::StrCat(R"({"name":"default","routes":[)", default_route, R"(],"version":"5"})", "\n"));
  // With the route gone the cluster can be deleted.
  ExpectNoContent(Delete("/v1/clusters/web"));
}

TEST_F(RestHandlerTest, RouteErrorsChangeNothing) {
  std::string before = State();
  ExpectError(Post("/v1/routes", R"({"name":"r","cluster":"nope","path_prefix":"/r"})"), 409,
              "FAILED_PRECONDITION",
              R"(route \"r\": cluster \"nope\" does not exist; create it first)");
  ExpectError(Post("/v1/routes", R"({"name":"default","cluster":"backend"})"), 409,
              "ALREADY_EXISTS", R"(route \"default\" already exists)");
  ExpectError(Post("/v1/routes", R"({"name":"r","cluster":"backend","path_prefix":"x"})"), 400,
              "INVALID_ARGUMENT",
              R"(route.path_prefix: must start with \"/\" and contain no spaces)");
  ExpectError(Post("/v1/routes", R"({"name":"r","cluster":"backend","weight":1})"), 400,
              "INVALID_ARGUMENT", "invalid JSON body: weight: Cannot find field.");
  ExpectError(Get("/v1/routes/x"), 404, "NOT_FOUND", R"(route \"x\" not found)");
  ExpectError(Put("/v1/routes/x", R"({"cluster":"backend"})"), 404, "NOT_FOUND",
              R"(route \"x\" not found)");
  ExpectError(Put("/v1/routes/default", R"({"name":"other","cluster":"backend"})"), 400,
              "INVALID_ARGUMENT", R"(route.name: \"other\" does not match the path's \"default\")");
  ExpectError(Put("/v1/routes/default", R"({"cluster":"backend"})", {{"If-Match", "9"}}), 409,
              "ABORTED", "route table is at version 1, not 9; re-read and retry");
  ExpectError(Delete("/v1/routes/x"), 404, "NOT_FOUND", R"(route \"x\" not found)");
  ExpectError(Delete("/v1/routes/default", {{"If-Match", "2"}}), 409, "ABORTED",
              "route table is at version 1, not 2; re-read and retry");
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Methods and paths

TEST_F(RestHandlerTest, WrongMethodIs405WithAllow) {
  CreateWeb();
  ASSERT_EQ(Post("/v1/clusters/web/endpoints", R"({"address":"10.0.0.1","port":80})").status, 201);
  std::string before = State();
  struct Case {
    const char* method;
    const char* target;
    const char* allow;
  };
  for (const Case& c : std::vector<Case>{
           {"DELETE", "/v1/clusters", "GET, HEAD, POST"},
           {"PUT", "/v1/clusters", "GET, HEAD, POST"},
           {"POST", "/v1/clusters/web", "GET, HEAD, PUT, PATCH, DELETE"},
           {"OPTIONS", "/v1/clusters/web", "GET, HEAD, PUT, PATCH, DELETE"},
           {"PUT", "/v1/clusters/web/endpoints", "GET, HEAD, POST"},
           {"DELETE", "/v1/clusters/web/endpoints", "GET, HEAD, POST"},
           {"POST", "/v1/clusters/web/endpoints/10.0.0.1/80", "GET, HEAD, PATCH, DELETE"},
           {"PUT", "/v1/clusters/web/endpoints/10.0.0.1/80", "GET, HEAD, PATCH, DELETE"},
           {"DELETE", "/v1/routes", "GET, HEAD, POST"},
           {"PATCH", "/v1/routes/default", "GET, HEAD, PUT, DELETE"},
       }) {
    HttpResponse r = Send(c.method, c.target, "{}");
    EXPECT_EQ(r.status, 405) << c.method << " " << c.target;
    EXPECT_EQ(r.body,
              ErrorJson("METHOD_NOT_ALLOWED",
                        absl::StrCat("method ", c.method, " not allowed here; allowed: ", c.allow)))
        << c.method << " " << c.target;
    EXPECT_EQ(HeaderOf(r, "Allow"), c.allow) << c.method << " " << c.target;
  }
  EXPECT_EQ(State(), before);
}

TEST_F(RestHandlerTest, UnknownPathIs404Json) {
  for (const char* path : {"/", "/nope", "/v1", "/v2/clusters", "/config/", "/healthz/x"}) {
    ExpectError(Get(path), 404, "NOT_FOUND", absl::StrCat("no such path: ", path));
  }
  for (const char* path :
       {"/v1/", "/v1/widgets", "/v1/routes/a/b", "/v1/clusters/web/foo",
        "/v1/clusters/web/endpoints/10.0.0.1", "/v1/clusters/web/endpoints/10.0.0.1/80/x"}) {
    ExpectError(Get(path), 404, "NOT_FOUND", absl::StrCat("no such path: ", path));
  }
  // The query string is not part of the path.
  ExpectError(Get("/nope?a=b"), 404, "NOT_FOUND", "no such path: /nope");
  std::string before = State();
  ExpectError(Post("/v1/widgets", "{}"), 404, "NOT_FOUND", "no such path: /v1/widgets");
  EXPECT_EQ(State(), before);
}

TEST_F(RestHandlerTest, PercentEscapesInPaths) {
  ExpectError(Get("/v1/clusters/%zz"), 400, "INVALID_ARGUMENT", "malformed %-escape in the path");
  ExpectError(Get("/v1/clusters/%4"), 400, "INVALID_ARGUMENT", "malformed %-escape in the path");
  ExpectJson(Get("/v1/clusters/%62ackend"), 200, ClusterJson("backend", "", 1) + "\n");
  // Control characters and quotes are escaped in the JSON error.
  ExpectError(Get("/v1/clusters/a%01%22b%5C"), 404, "NOT_FOUND",
              R"(cluster \"a\u0001\"b\\\" not found)");
}

TEST_F(RestHandlerTest, ErrorBodiesAreValidJsonForAnyPathBytes) {
  // RFC 8259: JSON text is UTF-8. A decoded path segment may hold any byte.
  HttpResponse r = Get("/v1/clusters/%FF");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(nlohmann::json::accept(r.body)) << r.body;
}

// ---------------------------------------------------------------------------------------------
// Auth

TEST_F(RestHandlerTest, MutationsNeedTheTokenReadsDoNot) {
  Init(api::TokenAuth("s3cret"));
  std::string before = State();
  struct Case {
    const char* method;
    const char* target;
    const char* body;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/v1/clusters", R"({"name":"web"})"},
           {"PUT", "/v1/clusters/backend", "{}"},
           {"DELETE", "/v1/clusters/backend", ""},
           {"POST", "/v1/clusters/backend/endpoints", R"({"address":"10.0.0.1","port":80})"},
           {"PATCH", "/v1/clusters/backend/endpoints/10.0.0.1/80", R"({"admin_state":"DRAINING"})"},
           {"DELETE", "/v1/routes/default", ""},
           {"POST", "/v1/nope", ""},
       }) {
    HttpResponse r = Send(c.method, c.target, c.body);
    ExpectError(r, 401, "UNAUTHENTICATED", "this call needs an Authorization: Bearer token");
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "Bearer");
    r = Send(c.method, c.target, c.body, {{"Authorization", "Bearer s3cre"}});
    ExpectError(r, 401, "UNAUTHENTICATED", "invalid bearer token");
  }
  EXPECT_EQ(State(), before);
  EXPECT_EQ(Get("/v1/clusters").status, 200);
  EXPECT_EQ(Get("/v1/clusters/backend/endpoints").status, 200);
  EXPECT_EQ(Get("/v1/routes").status, 200);
  HttpResponse r = Post("/v1/clusters", R"({"name":"web"})", {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(r.status, 201) << r.body;
}

// ---------------------------------------------------------------------------------------------
// Health, readiness, metrics, extra handlers

TEST_F(RestHandlerTest, Healthz) {
  HttpResponse r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.content_type, "text/plain");
  fake_->FailGet(absl::UnavailableError("store down"));
  EXPECT_EQ(Get("/healthz").status, 200);  // Liveness does not depend on the store.
}

TEST_F(RestHandlerTest, Readyz) {
  HttpResponse r = Get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
  EXPECT_EQ(r.content_type, "text/plain");
  fake_->FailGet(absl::UnavailableError("store down"));
  r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: store down\n");
  fake_->FailGet(absl::OkStatus());
  EXPECT_EQ(Get("/readyz").status, 200);
}

TEST_F(RestHandlerTest, StoreErrorsMapToHttp) {
  fake_->FailList(absl::UnavailableError("store down"));
  ExpectError(Get("/v1/clusters"), 503, "UNAVAILABLE", "store down");
  fake_->FailList(absl::OkStatus());
  fake_->FailTxn(absl::InternalError("disk full"));
  ExpectError(Post("/v1/clusters", R"({"name":"web"})"), 500, "INTERNAL", "disk full");
}

TEST_F(RestHandlerTest, Metrics) {
  HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "");  // Nothing counted before the first request finished.
  Get("/healthz");
  Get("/v1/clusters/nope");
  r = Get("/metrics");
  EXPECT_THAT(r.body, StartsWith("# HELP lb_controller_http_request_seconds REST request latency.\n"
                                 "# TYPE lb_controller_http_request_seconds histogram\n"));
  EXPECT_THAT(r.body,
              HasSubstr("# HELP lb_controller_http_requests_total REST requests by route "
                        "and status.\n"
                        "# TYPE lb_controller_http_requests_total counter\n"
                        "lb_controller_http_requests_total{route=\"/healthz\",code=\"200\"} 1\n"
                        "lb_controller_http_requests_total{route=\"/metrics\",code=\"200\"} 1\n"
                        "lb_controller_http_requests_total{route=\"/v1/clusters/{name}\","
                        "code=\"404\"} 1\n"));
  EXPECT_THAT(r.body,
              HasSubstr("lb_controller_http_request_seconds_count{route=\"/healthz\"} 1\n"));
  EXPECT_THAT(
      r.body,
      HasSubstr("lb_controller_http_request_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1\n"));
}

TEST_F(RestHandlerTest, LatencyIsMeasuredOnTheClock) {
  handler_->AddExtraHandler([this](const HttpRequest& req, HttpResponse* resp) {
    if (req.target != "/v1/slow") return false;
    clock_.Advance(absl::Milliseconds(300));
    resp->body = "slow";
    return true;
  });
  EXPECT_EQ(Get("/v1/slow").body, "slow");
  EXPECT_EQ(Get("/v1/slow").body, "slow");
  EXPECT_EQ(Get("/healthz").status, 200);
  metrics::Histogram* extra = metrics_->GetHistogram(
      "lb_controller_http_request_seconds", "REST request latency.", {{"route", "/v1/extra"}});
  // Bounds 0.0005 ... 0.25, 0.5, ...: both requests took exactly 0.3 s.
  EXPECT_EQ(extra->BucketCounts(),
            (std::vector<uint64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(extra->Sum(), 0.6);
  metrics::Histogram* healthz = metrics_->GetHistogram(
      "lb_controller_http_request_seconds", "REST request latency.", {{"route", "/healthz"}});
  EXPECT_EQ(healthz->BucketCounts(),
            (std::vector<uint64_t>{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(healthz->Sum(), 0.0);
}

TEST_F(RestHandlerTest, RouteLabelsForMetrics) {
  Get("/v1/clusters");
  Get("/v1/clusters/backend/endpoints");
  Get("/v1/clusters/backend/endpoints/10.0.0.1/80");
  Get("/v1/routes");
  Get("/v1/routes/default");
  Get("/v1/other");
  Get("/elsewhere");
  std::string text = metrics_->Render();
  for (const char* line : {
           "{route=\"/v1/clusters\",code=\"200\"} 1\n",
           "{route=\"/v1/clusters/{name}/endpoints\",code=\"200\"} 1\n",
           "{route=\"/v1/clusters/{name}/endpoints/{address}/{port}\",code=\"404\"} 1\n",
           "{route=\"/v1/routes\",code=\"200\"} 1\n",
           "{route=\"/v1/routes/{name}\",code=\"200\"} 1\n",
           "{route=\"/v1/other\",code=\"404\"} 1\n",
           "{route=\"other\",code=\"404\"} 1\n",
       }) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("lb_controller_http_requests_total", line)));
  }
}

TEST_F(RestHandlerTest, ExtraHandlerRunsFirstForV1Paths) {
  Init(api::TokenAuth("s3cret"));
  std::vector<std::string> seen;
  handler_->AddExtraHandler([&](const HttpRequest& req, HttpResponse* resp) {
    seen.push_back(req.method + " " + req.target);
    if (req.target != "/v1/proxies") return false;
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = "{\"proxies\":[]}\n";
    return true;
  });
  HttpResponse r = Get("/v1/proxies");
  ExpectJson(r, 200, "{\"proxies\":[]}\n");
  EXPECT_EQ(Get("/v1/clusters").status, 200);
  EXPECT_EQ(Get("/healthz").status, 200);  // Not a /v1 path: not offered to the extra handler.
  EXPECT_THAT(seen, ::testing::ElementsAre("GET /v1/proxies", "GET /v1/clusters"));
  EXPECT_THAT(metrics_->Render(),
              HasSubstr("lb_controller_http_requests_total{route=\"/v1/extra\",code=\"200\"} 1\n"));
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(PercentDecodeTest, Decodes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("", &out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(PercentDecode("a%20b%2Fc%2fd", &out));
  EXPECT_EQ(out, "a b/c/d");
  EXPECT_TRUE(PercentDecode("%41", &out));
  EXPECT_EQ(out, "A");
  EXPECT_TRUE(PercentDecode("%00x", &out));
  EXPECT_EQ(out, std::string("\0x", 2));
  EXPECT_TRUE(PercentDecode("a+b", &out));
  EXPECT_EQ(out, "a+b");  // '+' is only a space in query strings.
  EXPECT_FALSE(PercentDecode("%", &out));
  EXPECT_FALSE(PercentDecode("%4", &out));
  EXPECT_FALSE(PercentDecode("a%4g", &out));
  EXPECT_FALSE(PercentDecode("%%41", &out));
}

TEST(QueryParamTest, Finds) {
  EXPECT_EQ(QueryParam("/config", "cluster"), "");
  EXPECT_EQ(QueryParam("/config?cluster=web", "cluster"), "web");
  EXPECT_EQ(QueryParam("/config?a=1&cluster=web&cluster=api", "cluster"), "web");
  EXPECT_EQ(QueryParam("/config?clusters=web", "cluster"), "");
  EXPECT_EQ(QueryParam("/config?cluster", "cluster"), "");
  EXPECT_EQ(QueryParam("/config?cluster=", "cluster"), "");
  EXPECT_EQ(QueryParam("/config?cluster=a+b%21", "cluster"), "a b!");
  EXPECT_EQ(QueryParam("/config?cluster=a=b", "cluster"), "a=b");
  EXPECT_EQ(QueryParam("/config?cluster=%zz", "cluster"), "");
}

TEST(JsonErrorTest, ShapeAndStatus) {
  HttpResponse r = JsonError(absl::NotFoundError("cluster \"x\" not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"cluster \\\"x\\\" not found\"}}\n");
  EXPECT_TRUE(r.headers.empty());
  r = JsonError(absl::FailedPreconditionError("a\\b\nc\td"));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"FAILED_PRECONDITION\",\"message\":\"a\\\\b\\nc\\u0009d\"}}\n");
  nlohmann::json parsed = nlohmann::json::parse(r.body);
  EXPECT_EQ(parsed["error"]["message"], "a\\b\nc\td");
  r = JsonError(absl::UnauthenticatedError("no"));
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(r.headers[0].second, "Bearer");
  r = JsonError(absl::ResourceExhaustedError(""));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "{\"error\":{\"code\":\"RESOURCE_EXHAUSTED\",\"message\":\"\"}}\n");
}

}  // namespace
}  // namespace lb::rest
