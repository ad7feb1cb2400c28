// Issue 11's contract against the real binaries: the controller as a child process, its REST API
// over loopback sockets, its gRPC API over a real channel and the lbctl binary. One test per row:
// stale versions refused on every endpoint write, cluster PATCH keeping other settings,
// durations, zero rules, duplicate routes, watch semantics, the bearer scheme in any case, lbctl's
// exit codes and -o json.
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "T0ken-11";

class ApiContractTest : public ::testing::Test {
 protected:
  // Starts the controller; with `token`, mutations need it.
  void StartController(const std::string& token = "") {
    std::vector<std::string> flags;
    if (!token.empty()) {
      std::string path = MakeTempDir() + "/token";
      std::ofstream(path) << token << "\n";
      chmod(path.c_str(), 0600);
      flags.push_back(absl::StrCat("--auth_token_file=", path));
    }
    controller_ = std::make_unique<ControllerProcess>(std::move(flags));
    absl::Status s = controller_->Start();
    ASSERT_TRUE(s.ok()) << s;
    stub_ = lb::v1::LoadBalancer::NewStub(
        grpc::CreateChannel(controller_->grpc_target(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (controller_ != nullptr && controller_->running()) {
      absl::StatusOr<int> code = controller_->Stop();
      EXPECT_TRUE(code.ok() && *code == 0) << code.status() << "\n" << controller_->LogTail();
    }
  }

  // A REST call; a failed exchange is a test failure and answers status 0.
  HttpResponse Rest(const std::string& method, const std::string& target,
                    const std::string& body = "", HttpHeaders headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = std::move(headers);
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    absl::StatusOr<HttpResponse> r = HttpCall(controller_->rest_port(), req);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status();
    return r.ok() ? *r : HttpResponse{};
  }

  static nlohmann::json Body(const HttpResponse& r) {
    return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  }

  // "409 ABORTED: message" for an error answer.
  static std::string Error(const HttpResponse& r) {
    nlohmann::json j = Body(r);
    if (!j.is_object() || !j.contains("error")) return "<not an error: " + r.raw + ">";
    return absl::StrCat(r.status, " ", j["error"]["code"].get<std::string>(), ": ",
                        j["error"]["message"].get<std::string>());
  }

  static std::string GrpcError(const grpc::Status& s) {
    return absl::StrCat(s.error_code(), ": ", s.error_message());
  }

  // A context with a deadline (and the token, if given).
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& authorization = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
    return ctx;
  }

  lb::v1::Cluster GetCluster(const std::string& name) {
    lb::v1::GetClusterRequest req;
    req.set_name(name);
    lb::v1::Cluster c;
    grpc::Status s = stub_->GetCluster(Context().get(), req, &c);
    EXPECT_TRUE(s.ok()) << GrpcError(s);
    return c;
  }

  // Every cluster and the route table, as JSON text: to check that nothing changed.
  std::string State() {
    return absl::StrCat(Rest("GET", "/v1/clusters").body, Rest("GET", "/v1/routes").body);
  }

  // Runs the lbctl binary against the controller.
  CommandResult Lbctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {RunfilePath("lb/cli/lbctl"), "--controller",
                                     controller_->grpc_target()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(20));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }

  template <typename T>
  static T FromJson(const std::string& json) {
    T msg;
    auto status = google::protobuf::util::JsonStringToMessage(json, &msg);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
    return msg;
  }

  std::unique_ptr<ControllerProcess> controller_;
  std::unique_ptr<lb::v1::LoadBalancer::Stub> stub_;
};

TEST_F(ApiContractTest, StaleVersionFailsEveryEndpointWriteOnEverySurface) {
  StartController();
  HttpResponse r =
      Rest("POST", "/v1/clusters/backend/endpoints", R"({"address":"127.0.0.1","port":7001})");
  ASSERT_EQ(r.status, 201) << r.raw;
  const int64_t version = GetCluster("backend").version();
  EXPECT_EQ(r.Header("ETag"), absl::StrCat("\"", version, "\""));
  EXPECT_EQ(Rest("GET", "/v1/clusters/backend").Header("ETag"), r.Header("ETag"));
  EXPECT_EQ(Rest("GET", "/v1/clusters/backend/endpoints/127.0.0.1/7001").Header("ETag"),
            r.Header("ETag"));
  const int64_t stale = version - 1;
  const std::string message = absl::StrCat("cluster \"backend\" is at version ", version, ", not ",
                                           stale, "; re-read and retry");
  const std::string before = State();

  // REST: If-Match.
  const HttpHeaders if_match = {{"If-Match", absl::StrCat("\"", stale, "\"")}};
  const std::string want = "409 ABORTED: " + message;
  EXPECT_EQ(Error(Rest("POST", "/v1/clusters/backend/endpoints",
                       R"({"address":"127.0.0.1","port":7002})", if_match)),
            want);
  EXPECT_EQ(Error(Rest("PATCH", "/v1/clusters/backend/endpoints/127.0.0.1/7001", R"({"weight":5})",
                       if_match)),
            want);
  EXPECT_EQ(Error(Rest("PATCH", "/v1/clusters/backend/endpoints/127.0.0.1/7001",
                       R"({"admin_state":"DRAINING"})", if_match)),
            want);
  EXPECT_EQ(Error(Rest("DELETE", "/v1/clusters/backend/endpoints/127.0.0.1/7001", "", if_match)),
            want);
  // The seed's /config shim too (its answers are text).
  EXPECT_EQ(Rest("GET", "/config").Header("ETag"), r.Header("ETag"));
  for (const char* action : {"add", "del"}) {
    HttpResponse shim = Rest(
        "POST", "/config",
        absl::StrCat(R"({"action":")", action, R"(","ip":"127.0.0.1","port":7001})"), if_match);
    EXPECT_EQ(shim.status, 409) << action;
    EXPECT_EQ(shim.body, message + "\n") << action;
  }

  // gRPC: expected_version.
  {
    lb::v1::AddEndpointRequest req;
    req.set_cluster("backend");
    req.mutable_endpoint()->set_address("127.0.0.1");
    req.mutable_endpoint()->set_port(7002);
    req.set_expected_version(stale);
    lb::v1::AddEndpointResponse resp;
    EXPECT_EQ(GrpcError(stub_->AddEndpoint(Context().get(), req, &resp)), "10: " + message);
  }
  {
    lb::v1::UpdateEndpointRequest req;
    req.set_cluster("backend");
    req.set_address("127.0.0.1");
    req.set_port(7001);
    req.mutable_endpoint()->set_weight(5);
    req.set_expected_version(stale);
    lb::v1::UpdateEndpointResponse resp;
    EXPECT_EQ(GrpcError(stub_->UpdateEndpoint(Context().get(), req, &resp)), "10: " + message);
  }
  {
    lb::v1::SetEndpointStateRequest req;
    req.set_cluster("backend");
    req.set_address("127.0.0.1");
    req.set_port(7001);
    req.set_admin_state(lb::v1::DRAINING);
    req.set_expected_version(stale);
    lb::v1::SetEndpointStateResponse resp;
    EXPECT_EQ(GrpcError(stub_->SetEndpointState(Context().get(), req, &resp)), "10: " + message);
  }
  {
    lb::v1::RemoveEndpointRequest req;
    req.set_cluster("backend");
    req.set_address("127.0.0.1");
    req.set_port(7001);
    req.set_expected_version(stale);
    lb::v1::RemoveEndpointResponse resp;
    EXPECT_EQ(GrpcError(stub_->RemoveEndpoint(Context().get(), req, &resp)), "10: " + message);
  }

  // lbctl: --if-version, exit 1 with the controller's message.
  const std::string stale_flag = absl::StrCat(stale);
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"add", "127.0.0.1", "7002"},
           {"update", "127.0.0.1", "7001", "--weight", "5"},
           {"drain", "127.0.0.1", "7001"},
           {"undrain", "127.0.0.1", "7001"},
           {"del", "127.0.0.1", "7001"},
       }) {
    const std::string command = args[0];
    args.insert(args.end(), {"--if-version", stale_flag});
    CommandResult c = Lbctl(args);
    EXPECT_EQ(c.exit_code, 1) << command;
    EXPECT_EQ(c.err, absl::StrCat("lbctl: ", message, "\n")) << command;
  }
  EXPECT_EQ(State(), before);

  // The current version passes; a write that changes nothing keeps the version.
  r = Rest("PATCH", "/v1/clusters/backend/endpoints/127.0.0.1/7001", R"({"weight":1})",
           {{"If-Match", absl::StrCat(version)}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.Header("ETag"), absl::StrCat("\"", version, "\""));
  EXPECT_EQ(GetCluster("backend").version(), version);
  CommandResult c = Lbctl(
      {"update", "127.0.0.1", "7001", "--weight", "3", "--if-version", absl::StrCat(version)});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_GT(GetCluster("backend").version(), version);
}

// The same for every cluster and route write: a stale version changes nothing on any surface,
// reads of routes carry the table's ETag, and a write that changes nothing keeps the version.
TEST_F(ApiContractTest, StaleVersionFailsEveryClusterAndRouteWriteOnEverySurface) {
  StartController();
  ASSERT_EQ(Rest("POST", "/v1/clusters", R"({"name":"web","retries":3})").status, 201);
  const int64_t version = GetCluster("web").version();
  const int64_t stale = version - 1;
  const std::string cluster_message = absl::StrCat("cluster \"web\" is at version ", version,
                                                   ", not ", stale, "; re-read and retry");
  HttpResponse routes = Rest("GET", "/v1/routes");
  ASSERT_EQ(routes.status, 200) << routes.raw;
  const int64_t table = std::stoll(Body(routes)["version"].get<std::string>());
  EXPECT_EQ(routes.Header("ETag"), absl::StrCat("\"", table, "\""));
  EXPECT_EQ(Rest("GET", "/v1/routes/default").Header("ETag"), routes.Header("ETag"));
  const int64_t table_stale = table + 7;
  const std::string table_message = absl::StrCat("route table is at version ", table, ", not ",
                                                 table_stale, "; re-read and retry");
  const std::string before = State();

  // REST: If-Match.
  const HttpHeaders if_match = {{"If-Match", absl::StrCat("\"", stale, "\"")}};
  EXPECT_EQ(Error(Rest("PATCH", "/v1/clusters/web", R"({"retries":1})", if_match)),
            "409 ABORTED: " + cluster_message);
  EXPECT_EQ(Error(Rest("PUT", "/v1/clusters/web", R"({"retries":1})", if_match)),
            "409 ABORTED: " + cluster_message);
  EXPECT_EQ(Error(Rest("DELETE", "/v1/clusters/web", "", if_match)),
            "409 ABORTED: " + cluster_message);
  const HttpHeaders table_if_match = {{"If-Match", absl::StrCat(table_stale)}};
  EXPECT_EQ(Error(Rest("POST", "/v1/routes",
                       R"({"name":"api","path_prefix":"/api","cluster":"web"})", table_if_match)),
            "409 ABORTED: " + table_message);
  EXPECT_EQ(Error(Rest("PUT", "/v1/routes/default",
                       R"({"name":"default","path_prefix":"/","cluster":"web"})", table_if_match)),
            "409 ABORTED: " + table_message);
  EXPECT_EQ(Error(Rest("DELETE", "/v1/routes/default", "", table_if_match)),
            "409 ABORTED: " + table_message);

  // gRPC: expected_version.
  {
    lb::v1::UpdateClusterRequest req;
    req.mutable_cluster()->set_name("web");
    req.mutable_cluster()->mutable_retries()->set_value(1);
    req.mutable_update_mask()->add_paths("retries");
    req.set_expected_version(stale);
    lb::v1::Cluster resp;
    EXPECT_EQ(GrpcError(stub_->UpdateCluster(Context().get(), req, &resp)),
              "10: " + cluster_message);
  }
  {
    lb::v1::DeleteClusterRequest req;
    req.set_name("web");
    req.set_expected_version(stale);
    lb::v1::DeleteClusterResponse resp;
    EXPECT_EQ(GrpcError(stub_->DeleteCluster(Context().get(), req, &resp)),
              "10: " + cluster_message);
  }
  {
    lb::v1::CreateRouteRequest req;
    req.mutable_route()->set_name("api");
    req.mutable_route()->set_path_prefix("/api");
    req.mutable_route()->set_cluster("web");
    req.set_expected_version(table_stale);
    lb::v1::RouteTableResponse resp;
    EXPECT_EQ(GrpcError(stub_->CreateRoute(Context().get(), req, &resp)), "10: " + table_message);
  }
  {
    lb::v1::UpdateRouteRequest req;
    req.mutable_route()->set_name("default");
    req.mutable_route()->set_path_prefix("/");
    req.mutable_route()->set_cluster("web");
    req.set_expected_version(table_stale);
    lb::v1::RouteTableResponse resp;
    EXPECT_EQ(GrpcError(stub_->UpdateRoute(Context().get(), req, &resp)), "10: " + table_message);
  }
  {
    lb::v1::DeleteRouteRequest req;
    req.set_name("default");
    req.set_expected_version(table_stale);
    lb::v1::RouteTableResponse resp;
    EXPECT_EQ(GrpcError(stub_->DeleteRoute(Context().get(), req, &resp)), "10: " + table_message);
  }

  // lbctl: --if-version, exit 1 with the controller's message.
  struct Case {
    std::vector<std::string> args;
    int64_t if_version;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"cluster", "update", "web", "--retries", "1"}, stale, cluster_message},
      {{"cluster", "delete", "web"}, stale, cluster_message},
      {{"route", "create", "api", "--cluster", "web", "--prefix", "/api"},
       table_stale,
       table_message},
      {{"route", "update", "default", "--cluster", "web"}, table_stale, table_message},
      {{"route", "delete", "default"}, table_stale, table_message},
  };
  for (Case c : cases) {
    const std::string command = absl::StrJoin(c.args, " ");
    c.args.insert(c.args.end(), {"--if-version", absl::StrCat(c.if_version)});
    CommandResult r = Lbctl(c.args);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(r.err, absl::StrCat("lbctl: ", c.message, "\n")) << command;
  }
  EXPECT_EQ(State(), before);

  // Writes that change nothing keep the version, on every surface.
  HttpResponse r =
      Rest("PATCH", "/v1/clusters/web", R"({"retries":3})", {{"If-Match", absl::StrCat(version)}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.Header("ETag"), absl::StrCat("\"", version, "\""));
  nlohmann::json web = Body(Rest("GET", "/v1/clusters/web"));
  web.erase("version");
  web.erase("endpoints");
  r = Rest("PUT", "/v1/clusters/web", web.dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.Header("ETag"), absl::StrCat("\"", version, "\""));
  {
    lb::v1::UpdateClusterRequest req;
    req.mutable_cluster()->set_name("web");
    req.mutable_cluster()->mutable_retries()->set_value(3);
    req.mutable_update_mask()->add_paths("retries");
    req.set_expected_version(version);
    lb::v1::Cluster resp;
    grpc::Status s = stub_->UpdateCluster(Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << GrpcError(s);
    EXPECT_EQ(resp.version(), version);
  }
  CommandResult c = Lbctl({"cluster", "update", "web", "--retries", "3"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(GetCluster("web").version(), version);
  r = Rest("PUT", "/v1/routes/default", Rest("GET", "/v1/routes/default").body,
           {{"If-Match", absl::StrCat(table)}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.Header("ETag"), absl::StrCat("\"", table, "\""));
  c = Lbctl({"route", "update", "default", "--cluster", "backend"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(Rest("GET", "/v1/routes").Header("ETag"), absl::StrCat("\"", table, "\""));
  EXPECT_EQ(State(), before);

  // The current versions pass.
  c = Lbctl({"route", "create", "api", "--cluster", "web", "--prefix", "/api", "--if-version",
             absl::StrCat(table)});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  c = Lbctl({"cluster", "update", "web", "--retries", "1", "--if-version", absl::StrCat(version)});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_GT(GetCluster("web").version(), version);
}

TEST_F(ApiContractTest, EndpointChangesInPlaceOnEverySurface) {
  StartController();
  ASSERT_EQ(Lbctl({"add", "127.0.0.1:7001", "--zone", "z1"}).exit_code, 0);
  ASSERT_EQ(Lbctl({"add", "127.0.0.1:7002"}).exit_code, 0);
  CommandResult c = Lbctl({"update", "127.0.0.1", "7001", "--weight", "4", "--label", "v=2"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.out, StartsWith("updated 127.0.0.1:7001 in cluster backend (version "));
  lb::v1::Cluster cluster = GetCluster("backend");
  ASSERT_EQ(cluster.endpoints_size(), 2);
  // Same place in the list; the fields not given keep their values.
  EXPECT_EQ(cluster.endpoints(0).port(), 7001u);
  EXPECT_EQ(cluster.endpoints(0).weight(), 4u);
  EXPECT_EQ(cluster.endpoints(0).zone(), "z1");
  EXPECT_EQ(cluster.endpoints(0).labels().at("v"), "2");

  HttpResponse r =
      Rest("PATCH", "/v1/clusters/backend/endpoints/127.0.0.1/7002", R"({"weight":6,"zone":"z2"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Body(r)["cluster"]["endpoints"][1]["weight"], 6);

  lb::v1::UpdateEndpointRequest req;
  req.set_cluster("backend");
  req.set_address("127.0.0.1");
  req.set_port(7002);
  req.mutable_update_mask()->add_paths("zone");
  lb::v1::UpdateEndpointResponse resp;
  grpc::Status s = stub_->UpdateEndpoint(Context().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << GrpcError(s);
  EXPECT_EQ(resp.cluster().endpoints(1).zone(), "");
  EXPECT_EQ(resp.cluster().endpoints(1).weight(), 6u);

  c = Lbctl({"list"});
  EXPECT_EQ(c.out,
            "ADDRESS    PORT  WEIGHT  ZONE  STATE   HEALTHY  REQ/S  ERR%  P99  RESOLVED\n"
            "127.0.0.1  7001  4       z1    ACTIVE  0/0      0.0    0.0   -    -\n"
            "127.0.0.1  7002  6       -     ACTIVE  0/0      0.0    0.0   -    -\n");
}

TEST_F(ApiContractTest, ClusterPatchKeepsOtherSettingsAndPutReplaces) {
  StartController();
  HttpResponse r = Rest("POST", "/v1/clusters", R"({"name":"web","lb_policy":"LEAST_REQUEST",
      "health_check":{"path":"/healthz","interval":"2s"},"retries":5})");
  ASSERT_EQ(r.status, 201) << r.raw;

  r = Rest("PATCH", "/v1/clusters/web", R"({"lb_policy":"ROUND_ROBIN"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  nlohmann::json c = Body(Rest("GET", "/v1/clusters/web"));
  EXPECT_EQ(c["lb_policy"], "ROUND_ROBIN");
  EXPECT_EQ(c["health_check"]["path"], "/healthz");  // The health check survives.
  EXPECT_EQ(c["health_check"]["interval"], "2s");
  EXPECT_EQ(c["retries"], 5);

  // lbctl cluster update changes only the flags given.
  CommandResult cmd = Lbctl({"cluster", "update", "web", "--policy", "random"});
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err;
  lb::v1::Cluster web = GetCluster("web");
  EXPECT_EQ(web.lb_policy(), lb::v1::RANDOM);
  EXPECT_EQ(web.health_check().path(), "/healthz");
  EXPECT_EQ(web.retries().value(), 5u);
  cmd = Lbctl({"cluster", "update", "web", "--hc-path", ""});
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err;
  web = GetCluster("web");
  EXPECT_EQ(web.health_check().path(), "");
  EXPECT_EQ(web.health_check().interval().seconds(), 2);
  EXPECT_EQ(web.lb_policy(), lb::v1::RANDOM);

  // PUT replaces every setting: what it does not give gets its default.
  ASSERT_EQ(Rest("PATCH", "/v1/clusters/web", R"({"health_check":{"path":"/healthz"}})").status,
            200);
  r = Rest("PUT", "/v1/clusters/web", R"({"lb_policy":"ROUND_ROBIN"})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Body(r)["health_check"]["path"], "");
  EXPECT_EQ(Body(r)["health_check"]["interval"], "5s");
  EXPECT_EQ(Body(r)["retries"], 2);
}

TEST_F(ApiContractTest, OneDurationSyntaxPrintedInProtobufForm) {
  StartController();
  HttpResponse r = Rest("POST", "/v1/clusters", R"({"name":"web",
      "health_check":{"path":"/h","interval":"500ms","timeout":"100ms"},
      "outlier_detection":{"base_ejection_time":"2m"},"connect_timeout":"1.5s"})");
  ASSERT_EQ(r.status, 201) << r.raw;
  nlohmann::json c = Body(Rest("GET", "/v1/clusters/web"));
  EXPECT_EQ(c["health_check"]["interval"], "0.500s");
  EXPECT_EQ(c["health_check"]["timeout"], "0.100s");
  EXPECT_EQ(c["outlier_detection"]["base_ejection_time"], "120s");
  EXPECT_EQ(c["connect_timeout"], "1.500s");
  EXPECT_EQ(GetCluster("web").health_check().interval().nanos(), 500000000);

  // lbctl takes the same syntax and prints the same form.
  CommandResult cmd = Lbctl({"cluster", "update", "web", "--hc-interval", "2m"});
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err;
  cmd = Lbctl({"cluster", "get", "web"});
  EXPECT_THAT(cmd.out, HasSubstr("health check:       GET /h every 120s, timeout 0.100s, "));
  EXPECT_THAT(cmd.out, HasSubstr("connect timeout:    1.500s\n"));
  cmd = Lbctl({"cluster", "get", "web", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(cmd.out)["health_check"]["interval"], "120s");

  const std::string before = State();
  EXPECT_EQ(Error(Rest("PATCH", "/v1/clusters/web", R"({"connect_timeout":"5"})")),
            "400 INVALID_ARGUMENT: invalid JSON body: cluster.connect_timeout: \"5\" is not a "
            "duration; want \"500ms\", \"2s\", \"1m\", \"1h\" or \"0.500s\"");
  cmd = Lbctl({"cluster", "update", "web", "--connect-timeout", "5"});
  EXPECT_EQ(cmd.exit_code, 2);
  EXPECT_EQ(cmd.err,
            "lbctl: invalid --connect-timeout: \"5\" is not a duration; want \"500ms\", \"2s\", "
            "\"1m\", \"1h\" or \"0.500s\"\nRun 'lbctl cluster update --help' for usage.\n");
  EXPECT_EQ(State(), before);
}

TEST_F(ApiContractTest, ZeroIsRefusedWhereMeaninglessAndKeptWhereItMeansOff) {
  StartController();
  const std::string before = State();
  const std::string weight = "endpoint.weight: must be from 1 to 10000, got 0";
  EXPECT_EQ(Error(Rest("POST", "/v1/clusters/backend/endpoints",
                       R"({"address":"127.0.0.1","port":7001,"weight":0})")),
            "400 INVALID_ARGUMENT: " + weight);
  lb::v1::AddEndpointRequest req;
  req.set_cluster("backend");
  req.mutable_endpoint()->set_address("127.0.0.1");
  req.mutable_endpoint()->set_port(7001);
  req.mutable_endpoint()->set_weight(0);
  lb::v1::AddEndpointResponse resp;
  EXPECT_EQ(GrpcError(stub_->AddEndpoint(Context().get(), req, &resp)), "3: " + weight);
  CommandResult cmd = Lbctl({"add", "127.0.0.1", "7001", "--weight", "0"});
  EXPECT_EQ(cmd.exit_code, 2);
  cmd = Lbctl({"cluster", "create", "web", "--hc-path", "/h", "--hc-interval", "0s"});
  EXPECT_EQ(cmd.exit_code, 2);
  EXPECT_THAT(cmd.err,
              StartsWith("lbctl: cluster.health_check.interval: must be from 0.100s to 3600s, "
                         "got 0s"));
  EXPECT_EQ(State(), before);

  // 0 = off is kept, never replaced by a default.
  cmd = Lbctl({"cluster", "create", "web", "--od-5xx", "0", "--od-gateway-failures", "0",
               "--retries", "0", "--panic-threshold", "0"});
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err;
  nlohmann::json c = Body(Rest("GET", "/v1/clusters/web"));
  EXPECT_EQ(c["outlier_detection"]["consecutive_5xx"], 0);
  EXPECT_EQ(c["outlier_detection"]["consecutive_gateway_failure"], 0);
  EXPECT_EQ(c["retries"], 0);
  EXPECT_EQ(c["healthy_panic_threshold"], 0);
  cmd = Lbctl({"cluster", "get", "web"});
  EXPECT_THAT(cmd.out, HasSubstr("outlier detection:  off\n"));
  EXPECT_THAT(cmd.out, HasSubstr("retries:            0\n"));
  EXPECT_THAT(cmd.out, HasSubstr("panic threshold:    0%\n"));
  // Unset gets the default.
  HttpResponse r =
      Rest("POST", "/v1/clusters/web/endpoints", R"({"address":"127.0.0.1","port":7001})");
  EXPECT_EQ(Body(r)["cluster"]["endpoints"][0]["weight"], 1);
}

// Row 6's outlier detection: all three zeros are kept (off), not replaced by 5/5/50 %.
TEST_F(ApiContractTest, OutlierDetectionZerosAreKept) {
  StartController();
  HttpResponse r = Rest("POST", "/v1/clusters", R"({"name":"web","outlier_detection":{
      "consecutive_5xx":0,"consecutive_gateway_failure":0,"max_ejection_percent":0}})");
  ASSERT_EQ(r.status, 201) << r.raw;
  nlohmann::json od = Body(Rest("GET", "/v1/clusters/web"))["outlier_detection"];
  EXPECT_EQ(od["consecutive_5xx"], 0) << od.dump();
  EXPECT_EQ(od["consecutive_gateway_failure"], 0) << od.dump();
  EXPECT_EQ(od["max_ejection_percent"], 0) << od.dump();
  lb::v1::Cluster web = GetCluster("web");
  ASSERT_TRUE(web.outlier_detection().has_max_ejection_percent());
  EXPECT_EQ(web.outlier_detection().max_ejection_percent(), 0u);
}

// Row 7's second half: hash options on a policy that does not hash are refused on every surface,
// also when a merge would leave a hash policy behind a policy change.
TEST_F(ApiContractTest, HashOptionsOnPoliciesThatDoNotHashAreRefused) {
  StartController();
  const std::string before = State();
  EXPECT_EQ(Error(Rest("POST", "/v1/clusters",
                       R"({"name":"rr","lb_policy":"ROUND_ROBIN","hash_policy":{"cookie":"lb"}})")),
            "400 INVALID_ARGUMENT: cluster.hash_policy: only RING_HASH and MAGLEV hash; "
            "lb_policy is ROUND_ROBIN");
  lb::v1::CreateClusterRequest req;
  req.mutable_cluster()->set_name("rnd");
  req.mutable_cluster()->set_lb_policy(lb::v1::RANDOM);
  req.mutable_cluster()->mutable_hash_policy()->set_header("x-user");
  lb::v1::Cluster resp;
  EXPECT_EQ(GrpcError(stub_->CreateCluster(Context().get(), req, &resp)),
            "3: cluster.hash_policy: only RING_HASH and MAGLEV hash; lb_policy is RANDOM");
  CommandResult cmd =
      Lbctl({"cluster", "create", "lr", "--policy", "least_request", "--hash-cookie", "lb"});
  EXPECT_EQ(cmd.exit_code, 2);
  EXPECT_THAT(cmd.err, StartsWith("lbctl: cluster.hash_policy: only RING_HASH and MAGLEV hash; "
                                  "lb_policy is LEAST_REQUEST"));
  EXPECT_EQ(State(), before);

  // A hashing cluster switched to round robin must drop its hash policy too.
  ASSERT_EQ(Lbctl({"cluster", "create", "sticky", "--policy", "ring_hash", "--hash-cookie", "lb"})
                .exit_code,
            0);
  const std::string sticky = State();
  EXPECT_EQ(Error(Rest("PATCH", "/v1/clusters/sticky", R"({"lb_policy":"ROUND_ROBIN"})")),
            "400 INVALID_ARGUMENT: cluster.hash_policy: only RING_HASH and MAGLEV hash; "
            "lb_policy is ROUND_ROBIN");
  cmd = Lbctl({"cluster", "update", "sticky", "--policy", "round_robin"});
  EXPECT_EQ(cmd.exit_code, 2) << cmd.err;
  EXPECT_EQ(State(), sticky);
  cmd = Lbctl({"cluster", "update", "sticky", "--policy", "round_robin", "--hash-none"});
  EXPECT_EQ(cmd.exit_code, 0) << cmd.err;
  EXPECT_FALSE(GetCluster("sticky").has_hash_policy());
}

TEST_F(ApiContractTest, DuplicateRouteIs409NamingTheExistingRoute) {
  StartController();
  ASSERT_EQ(Lbctl({"cluster", "create", "web"}).exit_code, 0);
  HttpResponse r = Rest("POST", "/v1/routes", R"({"name":"site",
      "hosts":["a.example","B.example"],"path_prefix":"/","cluster":"web"})");
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string before = State();
  EXPECT_EQ(Error(Rest("POST", "/v1/routes",
                       R"({"name":"dup","host":"b.example","path_prefix":"/","cluster":"web"})")),
            "409 ALREADY_EXISTS: route \"dup\": host \"b.example\" with path_prefix \"/\" is "
            "already routed by route \"site\"");
  lb::v1::CreateRouteRequest req;
  req.mutable_route()->set_name("dup");
  req.mutable_route()->add_hosts("a.example");
  req.mutable_route()->set_cluster("web");
  lb::v1::RouteTableResponse resp;
  EXPECT_EQ(GrpcError(stub_->CreateRoute(Context().get(), req, &resp)),
            "6: route \"dup\": host \"a.example\" with path_prefix \"/\" is already routed by "
            "route \"site\"");
  CommandResult cmd = Lbctl(
      {"route", "create", "dup", "--cluster", "web", "--host", "x.example", "--host", "a.example"});
  EXPECT_EQ(cmd.exit_code, 1);
  EXPECT_EQ(cmd.err,
            "lbctl: route \"dup\": host \"a.example\" with path_prefix \"/\" is already routed by "
            "route \"site\"\n");
  EXPECT_EQ(State(), before);

  cmd = Lbctl({"route", "create", "www", "--cluster", "web", "--host", "x.example", "--host",
               "a.example", "--prefix", "/www"});
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err;
  cmd = Lbctl({"route", "list"});
  EXPECT_EQ(cmd.out,
            "NAME     HOSTS                PREFIX  CLUSTER\n"
            "default  *                    /       backend\n"
            "site     a.example,b.example  /       web\n"
            "www      x.example,a.example  /www    web\n");
}

TEST_F(ApiContractTest, WatchMarkerCountAndChangeLines) {
  StartController();
  const std::string out_path = MakeTempDir() + "/watch.out";
  absl::StatusOr<Subprocess> watch =
      Subprocess::Start({RunfilePath("lb/cli/lbctl"), "--controller", controller_->grpc_target(),
                         "watch", "--count", "3"},
                        out_path);
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(
      WaitUntil([&] { return absl::StrContains(ReadFileOrEmpty(out_path), "changes follow\n"); },
                absl::Seconds(10)))
      << ReadFileOrEmpty(out_path);
  // Four changes; the watch ends after three.
  ASSERT_EQ(Lbctl({"add", "127.0.0.1", "7001"}).exit_code, 0);
  ASSERT_EQ(
      Rest("PATCH", "/v1/clusters/backend/endpoints/127.0.0.1/7001", R"({"weight":4})").status,
      200);
  ASSERT_EQ(Lbctl({"drain", "127.0.0.1", "7001"}).exit_code, 0);
  ASSERT_EQ(Lbctl({"cluster", "update", "backend", "--policy", "round_robin"}).exit_code, 0);
  absl::StatusOr<int> code = watch->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << ReadFileOrEmpty(out_path);
  EXPECT_EQ(*code, 0);

  std::vector<std::string> lines =
      absl::StrSplit(ReadFileOrEmpty(out_path), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << ReadFileOrEmpty(out_path);
  EXPECT_THAT(lines[0], ::testing::MatchesRegex(
                            "revision [0-9]+: cluster backend \\(policy random, 0 endpoints, "
                            "version [0-9]+\\)"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex(
                            "revision [0-9]+: route table \\(1 routes, version [0-9]+\\)"));
  EXPECT_THAT(lines[2],
              ::testing::MatchesRegex("revision [0-9]+: end of the initial state; changes follow"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex(
                            "revision [0-9]+: cluster backend \\(version [0-9]+\\): added "
                            "endpoint 127.0.0.1:7001 \\(weight 1\\)"));
  EXPECT_THAT(lines[4], ::testing::MatchesRegex(
                            "revision [0-9]+: cluster backend \\(version [0-9]+\\): endpoint "
                            "127.0.0.1:7001 weight 1 -> 4"));
  EXPECT_THAT(lines[5], ::testing::MatchesRegex(
                            "revision [0-9]+: cluster backend \\(version [0-9]+\\): drained "
                            "endpoint 127.0.0.1:7001"));

  // JSON: one lb.v1.Change per line, the marker included; --count counts the same way.
  absl::StatusOr<Subprocess> json_watch =
      Subprocess::Start({RunfilePath("lb/cli/lbctl"), "--controller", controller_->grpc_target(),
                         "-o", "json", "watch", "--count", "1"},
                        out_path + ".json");
  ASSERT_TRUE(json_watch.ok()) << json_watch.status();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return absl::StrContains(ReadFileOrEmpty(out_path + ".json"), "\"initial_state_end\":true");
      },
      absl::Seconds(10)))
      << ReadFileOrEmpty(out_path + ".json");
  ASSERT_EQ(Lbctl({"undrain", "127.0.0.1", "7001"}).exit_code, 0);
  code = json_watch->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  lines = absl::StrSplit(ReadFileOrEmpty(out_path + ".json"), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << ReadFileOrEmpty(out_path + ".json");
  EXPECT_TRUE(FromJson<lb::v1::Change>(lines[0]).has_cluster());
  EXPECT_TRUE(FromJson<lb::v1::Change>(lines[1]).has_route_table());
  EXPECT_TRUE(FromJson<lb::v1::Change>(lines[2]).initial_state_end());
  lb::v1::Change last = FromJson<lb::v1::Change>(lines[3]);
  ASSERT_TRUE(last.has_cluster());
  EXPECT_EQ(last.cluster().endpoints(0).admin_state(), lb::v1::ACTIVE);
}

TEST_F(ApiContractTest, BearerSchemeIsCaseInsensitive) {
  StartController(kToken);
  for (const std::string& scheme :
       std::vector<std::string>{"bearer", "BEARER", "Bearer", "bEaReR"}) {
    HttpResponse r = Rest("PATCH", "/v1/clusters/backend", R"({"retries":3})",
                          {{"Authorization", absl::StrCat(scheme, " ", kToken)}});
    EXPECT_EQ(r.status, 200) << scheme << ": " << r.raw;
    lb::v1::UpdateClusterRequest req;
    req.mutable_cluster()->set_name("backend");
    req.mutable_cluster()->mutable_retries()->set_value(1);
    req.mutable_update_mask()->add_paths("retries");
    lb::v1::Cluster resp;
    grpc::Status s =
        stub_->UpdateCluster(Context(absl::StrCat(scheme, " ", kToken)).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << scheme << ": " << GrpcError(s);
  }
  HttpResponse r = Rest("PATCH", "/v1/clusters/backend", R"({"retries":3})",
                        {{"Authorization", absl::StrCat("Basic ", kToken)}});
  EXPECT_EQ(Error(r), "401 UNAUTHENTICATED: this call needs an Authorization: Bearer token");
  EXPECT_EQ(Error(Rest("PATCH", "/v1/clusters/backend", R"({"retries":3})",
                       {{"Authorization", "bearer wrong"}})),
            "401 UNAUTHENTICATED: invalid bearer token");
}

// Each row of `lbctl --help`'s exit-code table, produced by the real binaries.
TEST_F(ApiContractTest, ExitCodesAreWhatHelpSays) {
  StartController(kToken);
  CommandResult help = Lbctl({"--help"});
  ASSERT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("  0  success\n"));
  EXPECT_THAT(help.out, HasSubstr("  1  refused by the current state: not found, already exists, "
                                  "version conflict\n"));
  EXPECT_THAT(help.out, HasSubstr("  2  invalid input: bad flags or arguments"));
  EXPECT_THAT(help.out, HasSubstr("  3  controller unreachable, or no answer within --timeout\n"));
  EXPECT_THAT(help.out, HasSubstr("  4  unauthenticated or permission denied (give a token)\n"));

  struct Case {
    std::vector<std::string> args;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {{"list"}, 0},
      {{"--token", kToken, "cluster", "create", "web"}, 0},
      {{"cluster", "get", "nope"}, 1},                           // NOT_FOUND
      {{"--token", kToken, "cluster", "create", "web"}, 1},      // ALREADY_EXISTS
      {{"--token", kToken, "cluster", "delete", "backend"}, 1},  // FAILED_PRECONDITION
      {{"--token", kToken, "cluster", "delete", "web", "--if-version", "1"}, 1},  // ABORTED
      {{"add", "127.0.0.1", "80", "--weight", "20000"}, 2},                       // lbctl's check
      {{"add", "127.0.0.1", "http"}, 2},
      {{"list", "--frob"}, 2},
      {{"--token", kToken, "add", "bad_host!", "80"}, 2},  // The controller's INVALID_ARGUMENT.
      {{"--token", kToken, "cluster", "update", "web", "--retries", "11"}, 2},
      {{"add", "127.0.0.1", "80"}, 4},  // No token.
      {{"--token", "wrong", "add", "127.0.0.1", "80"}, 4},
  };
  for (const Case& c : cases) {
    CommandResult r = Lbctl(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << absl::StrJoin(c.args, " ") << "\n" << r.err;
    if (c.exit_code != 0) {
      EXPECT_THAT(r.err, StartsWith("lbctl: ")) << absl::StrJoin(c.args, " ");
    }
  }
  absl::StatusOr<int> closed = PickFreePort();
  ASSERT_TRUE(closed.ok());
  absl::StatusOr<CommandResult> r =
      RunCommand({RunfilePath("lb/cli/lbctl"), "--controller", LoopbackAddress(*closed), "list"},
                 absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3) << r->err;
}

// Row 10: an unresolvable hostname is still added (the controller keeps trying), with a warning.
TEST_F(ApiContractTest, HostnameThatDoesNotResolveIsAddedWithAWarning) {
  StartController();
  CommandResult c = Lbctl({"add", "nowhere.invalid", "80"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.out, StartsWith("added nowhere.invalid:80 to cluster backend (version "));
  EXPECT_THAT(c.err, StartsWith("lbctl: warning: hostname \"nowhere.invalid\" does not resolve "
                                "here ("));
  EXPECT_THAT(c.err, HasSubstr("); proxies get no address for it until the controller resolves "
                               "it\n"));
  c = Lbctl({"add", "localhost", "80"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.err, "");
  ASSERT_EQ(GetCluster("backend").endpoints_size(), 2);
}

TEST_F(ApiContractTest, EveryLbctlCommandHonoursJson) {
  StartController();
  CommandResult r = Lbctl({"version", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0);
  nlohmann::json version = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(version, nlohmann::json::parse(R"({"version":"0.1.0","api":"lb.v1"})")) << r.out;
  const std::vector<std::vector<std::string>> commands = {
      {"add", "127.0.0.1", "7001"},
      {"update", "127.0.0.1", "7001", "--weight", "2"},
      {"drain", "127.0.0.1", "7001"},
      {"undrain", "127.0.0.1", "7001"},
      {"list"},
      {"cluster", "create", "web"},
      {"cluster", "update", "web", "--retries", "1"},
      {"cluster", "get", "web"},
      {"cluster", "list"},
      {"route", "create", "api", "--cluster", "web", "--prefix", "/api"},
      {"route", "update", "api", "--prefix", "/v2"},
      {"route", "get", "api"},
      {"route", "list"},
      {"route", "delete", "api"},
      {"cluster", "delete", "web"},
      {"del", "127.0.0.1", "7001"},
      {"proxies"},
      {"cert", "list"},
      {"history"},
  };
  for (std::vector<std::string> args : commands) {
    const std::string name = absl::StrJoin(args, " ");
    args.insert(args.begin(), {"-o", "json"});
    r = Lbctl(args);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.err, "") << name;
    EXPECT_TRUE(nlohmann::json::parse(r.out, nullptr, false).is_object()) << name << ": " << r.out;
  }
}

TEST_F(ApiContractTest, WrongMethodIs405WithAllow) {
  StartController();
  HttpResponse r = Rest("PUT", "/v1/clusters", "{}");
  EXPECT_EQ(Error(r),
            "405 METHOD_NOT_ALLOWED: method PUT not allowed here; allowed: GET, HEAD, POST");
  EXPECT_EQ(r.Header("Allow"), "GET, HEAD, POST");
  r = Rest("POST", "/v1/clusters/backend/endpoints/127.0.0.1/80", "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET, HEAD, PATCH, DELETE");
}

}  // namespace
}  // namespace lb::testing
