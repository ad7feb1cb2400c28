// The lbctl binary against the real controller binary.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "nlohmann/json.hpp"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/net.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kCommandTimeout = absl::Seconds(20);

template <typename T>
T FromJson(const std::string& json) {
  T msg;
  auto status = google::protobuf::util::JsonStringToMessage(json, &msg);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return msg;
}

class LbctlE2eTest : public ::testing::Test {
 protected:
  // Starts the controller; with a token, mutations need it.
  void StartController(const std::string& token = "") {
    dir_ = testing::MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    std::vector<std::string> flags;
    if (!token.empty()) {
      std::string token_file = absl::StrCat(dir_, "/token");
      std::ofstream(token_file) << token << "\n";
      chmod(token_file.c_str(), 0600);
      flags.push_back(absl::StrCat("--auth_token_file=", token_file));
    }
    controller_ = std::make_unique<testing::ControllerProcess>(std::move(flags));
    absl::Status s = controller_->Start();
    ASSERT_TRUE(s.ok()) << s;
    address_ = controller_->grpc_target();
  }

  void TearDown() override {
    if (controller_ != nullptr && controller_->running()) {
      absl::StatusOr<int> code = controller_->Stop(absl::Seconds(10));
      EXPECT_TRUE(code.ok() && *code == 0) << code.status() << "\n" << controller_->LogTail();
    }
  }

  // Runs lbctl against the controller.
  testing::CommandResult Lbctl(std::vector<std::string> args,
                               const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {"--controller", address_});
    return LbctlRaw(args, env);
  }

  // Runs lbctl with exactly `args`.
  testing::CommandResult LbctlRaw(std::vector<std::string> args,
                                  const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {testing::RunfilePath("lb/cli/lbctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<testing::CommandResult> r = testing::RunCommand(argv, kCommandTimeout, env);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::CommandResult{};
  }

  std::string dir_;  // Holds the token file and lbctl outputs.
  std::unique_ptr<testing::ControllerProcess> controller_;
  std::string address_;
};

TEST_F(LbctlE2eTest, SeedWalkthrough) {
  StartController();
  testing::CommandResult r = Lbctl({"add", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("added 127.0.0.1:1111 to cluster backend (version "));
  EXPECT_EQ(r.err, "");

  r = Lbctl({"add", "127.0.0.1:1112"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("added 127.0.0.1:1112 to cluster backend (version "));

  r = Lbctl({"add", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: endpoint 127.0.0.1:1111 already exists in cluster \"backend\"\n");
  EXPECT_EQ(r.out, "");

  r = Lbctl({"del", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("removed 127.0.0.1:1111 from cluster backend (version "));

  r = Lbctl({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ADDRESS    PORT  WEIGHT  ZONE  STATE   HEALTHY  REQ/S  ERR%  P99  RESOLVED\n"
            "127.0.0.1  1112  1       -     ACTIVE  0/0      0.0    0.0   -    -\n");

  r = Lbctl({"list", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto list = FromJson<lb::v1::ListEndpointsResponse>(r.out);
  ASSERT_EQ(list.endpoints_size(), 1);
  EXPECT_EQ(list.endpoints(0).address(), "127.0.0.1");
  EXPECT_EQ(list.endpoints(0).port(), 1112u);
  EXPECT_EQ(list.endpoints(0).weight(), 1u);
  EXPECT_EQ(list.endpoints(0).admin_state(), lb::v1::ACTIVE);
  EXPECT_GT(list.version(), 0);
  // Field names as in the proto, defaults printed.
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["endpoints"][0]["admin_state"], "ACTIVE");
  EXPECT_EQ(j["endpoints"][0]["zone"], "");
  EXPECT_TRUE(j["endpoints"][0]["resolved_addresses"].is_array());
}

TEST_F(LbctlE2eTest, EndpointFlagsAndHostnames) {
  StartController();
  testing::CommandResult r =
      Lbctl({"add", "LocalHost", "8080", "--weight", "7", "--zone", "z1", "--label", "version=v2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"add", "[::1]:9000"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"list", "-o", "json"});
  auto list = FromJson<lb::v1::ListEndpointsResponse>(r.out);
  ASSERT_EQ(list.endpoints_size(), 2);
  EXPECT_EQ(list.endpoints(0).address(), "localhost");  // Normalized by the controller.
  EXPECT_EQ(list.endpoints(0).weight(), 7u);
  EXPECT_EQ(list.endpoints(0).zone(), "z1");
  EXPECT_EQ(list.endpoints(0).labels().at("version"), "v2");
  EXPECT_EQ(list.endpoints(1).address(), "::1");
  EXPECT_EQ(list.endpoints(1).port(), 9000u);

  r = Lbctl({"del", "[::1]", "9000"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // Invalid input is exit 2, whether lbctl or the controller (its text verbatim) finds it.
  r = Lbctl({"add", "127.0.0.1", "80", "--weight", "20000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lbctl: invalid --weight 20000: must be from 1 to 10000\n"
            "Run 'lbctl add --help' for usage.\n");
  r = Lbctl({"add", "bad_host!", "80"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lbctl: endpoint.address: \"bad_host!\" is neither an IP address nor a hostname\n");
  // Labels per endpoint are bounded by the controller (INVALID_ARGUMENT, exit 2).
  std::vector<std::string> too_many = {"add", "127.0.0.1", "80"};
  for (int i = 0; i < 65; ++i) {
    too_many.push_back("--label");
    too_many.push_back(absl::StrCat("k", i, "=v"));
  }
  r = Lbctl(too_many);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "lbctl: endpoint.labels: at most 64 labels, got 65\n");
  r = Lbctl({"add", "127.0.0.1", "80", "--label", absl::StrCat("k=", std::string(257, 'v'))});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "lbctl: endpoint.labels[k]: value must be at most 256 printable characters\n");

  // A name that cannot resolve is added, with a warning.
  r = Lbctl({"add", "nowhere.invalid", "80"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("added nowhere.invalid:80 to cluster backend (version "));
  EXPECT_THAT(r.err, StartsWith("lbctl: warning: hostname \"nowhere.invalid\" does not resolve "
                                "here ("));
  EXPECT_THAT(r.err, HasSubstr("); proxies get no address for it until the controller resolves "
                               "it\n"));
}

TEST_F(LbctlE2eTest, DrainAndUndrain) {
  StartController();
  ASSERT_EQ(Lbctl({"add", "127.0.0.1", "1111"}).exit_code, 0);
  testing::CommandResult r = Lbctl({"drain", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("draining 127.0.0.1:1111 in cluster backend (version "));
  r = Lbctl({"list"});
  EXPECT_EQ(r.out,
            "ADDRESS    PORT  WEIGHT  ZONE  STATE     HEALTHY  REQ/S  ERR%  P99  RESOLVED\n"
            "127.0.0.1  1111  1       -     DRAINING  0/0      0.0    0.0   -    -\n");
  r = Lbctl({"undrain", "127.0.0.1:1111"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("activated 127.0.0.1:1111 in cluster backend (version "));
  r = Lbctl({"list", "-o", "json"});
  auto list = FromJson<lb::v1::ListEndpointsResponse>(r.out);
  ASSERT_EQ(list.endpoints_size(), 1);
  EXPECT_EQ(list.endpoints(0).admin_state(), lb::v1::ACTIVE);

  r = Lbctl({"drain", "127.0.0.1", "2222"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: endpoint 127.0.0.1:2222 not found in cluster \"backend\"\n");
}

TEST_F(LbctlE2eTest, ClusterLifecycle) {
  StartController();
  testing::CommandResult r =
      Lbctl({"cluster", "create", "web", "--policy", "ring_hash", "--hash-header", "x-user",
             "--hc-path", "/healthz", "--hc-interval", "2s", "--connect-timeout", "250ms"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("created cluster web (version "));

  r = Lbctl({"cluster", "create", "web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"web\" already exists\n");

  ASSERT_EQ(Lbctl({"add", "10.0.0.1", "80", "--cluster", "web"}).exit_code, 0);

  r = Lbctl({"cluster", "update", "web", "--retries", "5", "--panic-threshold", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("updated cluster web (version "));

  r = Lbctl({"cluster", "get", "web", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto c = FromJson<lb::v1::Cluster>(r.out);
  EXPECT_EQ(c.lb_policy(), lb::v1::RING_HASH);  // Kept: not given to update.
  EXPECT_EQ(c.hash_policy().header(), "x-user");
  EXPECT_EQ(c.health_check().path(), "/healthz");
  EXPECT_EQ(c.health_check().interval().seconds(), 2);
  EXPECT_EQ(c.connect_timeout().nanos(), 250000000);
  EXPECT_EQ(c.retries().value(), 5u);
  EXPECT_EQ(c.healthy_panic_threshold().value(), 0u);
  ASSERT_EQ(c.endpoints_size(), 1);  // Endpoints survive an update.

  r = Lbctl({"cluster", "get", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("policy:             ring_hash\n"));
  EXPECT_THAT(r.out, HasSubstr("retries:            5\n"));

  r = Lbctl({"cluster", "update", "web", "--retries", "11"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "lbctl: cluster.retries: must be from 0 to 10, got 11\n");

  r = Lbctl({"cluster", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("NAME     POLICY     ENDPOINTS  HEALTH CHECK  VERSION\n"));
  EXPECT_THAT(r.out, HasSubstr("\nweb      ring_hash  1          /healthz      "));

  r = Lbctl({"cluster", "list", "-o", "json"});
  auto clusters = FromJson<lb::v1::ListClustersResponse>(r.out);
  EXPECT_EQ(clusters.clusters_size(), 2);

  r = Lbctl({"cluster", "delete", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted cluster web\n");
  r = Lbctl({"cluster", "get", "web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"web\" not found\n");
  r = Lbctl({"cluster", "update", "web", "--retries", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"web\" not found\n");
}

TEST_F(LbctlE2eTest, CircuitBreakersRoundTrip) {
  StartController();
  testing::CommandResult r = Lbctl({"cluster", "create", "slow", "--max-requests", "2",
                                    "--max-retries", "0", "--max-connections", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One limit changes; the others keep what create gave them.
  r = Lbctl({"cluster", "update", "slow", "--max-pending-requests", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"cluster", "get", "slow", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = FromJson<lb::v1::Cluster>(r.out);
  EXPECT_EQ(c.circuit_breakers().max_connections(), 50u);
  EXPECT_EQ(c.circuit_breakers().max_pending_requests(), 7u);
  EXPECT_EQ(c.circuit_breakers().max_requests(), 2u);
  ASSERT_TRUE(c.circuit_breakers().has_max_retries());
  EXPECT_EQ(c.circuit_breakers().max_retries(), 0u);
  r = Lbctl({"cluster", "get", "slow"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\ncircuit breakers:   max connections 50, max pending requests 7, "
                               "max requests 2, max retries 0\n"));
  const int64_t version = c.version();
  // A meaningless 0 is the controller's INVALID_ARGUMENT (exit 2) and changes nothing.
  r = Lbctl({"cluster", "update", "slow", "--max-requests", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lbctl: cluster.circuit_breakers.max_requests: must be from 1 to 1000000, got 0\n");
  r = Lbctl({"cluster", "update", "slow", "--max-connections", "1000001"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lbctl: cluster.circuit_breakers.max_connections: must be from 1 to 1000000, got "
            "1000001\n");
  r = Lbctl({"cluster", "get", "slow", "-o", "json"});
  EXPECT_EQ(FromJson<lb::v1::Cluster>(r.out).version(), version);
  // A cluster created without the flags has Envoy's defaults.
  ASSERT_EQ(Lbctl({"cluster", "create", "plain"}).exit_code, 0);
  r = Lbctl({"cluster", "get", "plain"});
  EXPECT_THAT(r.out, HasSubstr("\ncircuit breakers:   max connections 1024, max pending requests "
                               "1024, max requests 1024, max retries 3\n"));
}

TEST_F(LbctlE2eTest, Routes) {
  StartController();
  ASSERT_EQ(Lbctl({"cluster", "create", "web"}).exit_code, 0);
  testing::CommandResult r =
      Lbctl({"route", "create", "api", "--cluster", "web", "--prefix", "/api"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("created route api (route table version "));

  r = Lbctl({"route", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME     HOSTS  PREFIX  CLUSTER\n"
            "default  *      /       backend\n"
            "api      *      /api    web\n");

  // A host and prefix another route has: refused, naming that route.
  r = Lbctl({"route", "create", "dup", "--cluster", "web", "--prefix", "/api"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "lbctl: route \"dup\": host \"*\" with path_prefix \"/api\" is already routed by "
            "route \"api\"\n");

  r = Lbctl({"route", "create", "ghost", "--cluster", "nope", "--prefix", "/ghost"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: route \"ghost\": cluster \"nope\" does not exist; create it first\n");

  r = Lbctl({"cluster", "delete", "web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "lbctl: cluster \"web\" is used by route \"api\"; delete or change the route first\n");

  r = Lbctl({"route", "update", "api", "--host", "Example.com", "--prefix", "/v2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"route", "get", "api", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto route = FromJson<lb::v1::Route>(r.out);
  EXPECT_EQ(route.host(), "example.com");
  EXPECT_EQ(route.hosts_size(), 1);
  EXPECT_EQ(route.path_prefix(), "/v2");
  EXPECT_EQ(route.cluster(), "web");

  r = Lbctl({"route", "delete", "api"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("deleted route api (route table version "));
  r = Lbctl({"route", "get", "api"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: route \"api\" not found\n");
  r = Lbctl({"route", "delete", "api"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: route \"api\" not found\n");
  EXPECT_EQ(Lbctl({"cluster", "delete", "web"}).exit_code, 0);
}

TEST_F(LbctlE2eTest, RouteSplitsMatchesAndHeaderChanges) {
  StartController();
  ASSERT_EQ(Lbctl({"cluster", "create", "web"}).exit_code, 0);
  testing::CommandResult r = Lbctl({"cluster", "create", "web-v2", "--slow-start", "30s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"cluster", "get", "web-v2", "-o", "json"});
  EXPECT_EQ(FromJson<lb::v1::Cluster>(r.out).slow_start_window().seconds(), 30);

  r = Lbctl({"route", "create", "canary", "--split", "web=90", "--split", "web-v2=10", "--host",
             "shop.test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"route", "create", "beta", "--cluster", "web-v2", "--host", "shop.test", "--header",
             "X-Beta=1", "--header-absent", "x-bot", "--method", "GET", "--priority", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"route", "create", "login", "--cluster", "web", "--path", "/login", "--set-header",
             "x-env=prod", "--add-header", "x-tag=a", "--remove-header", "x-secret"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = Lbctl({"route", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME     HOSTS      PREFIX    CLUSTER           MATCH\n"
            "default  *          /         backend           -\n"
            "canary   shop.test  /         web=90,web-v2=10  -\n"
            "beta     shop.test  /         web-v2            GET x-beta=1 !x-bot\n"
            "login    *          = /login  web               -\n");
  r = Lbctl({"route", "get", "login"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("path:             /login\n"));
  EXPECT_THAT(r.out, HasSubstr("request headers:  -x-secret x-env=prod +x-tag=a\n"));

  r = Lbctl({"route", "get", "beta", "-o", "json"});
  auto beta = FromJson<lb::v1::Route>(r.out);
  ASSERT_EQ(beta.headers_size(), 2);
  EXPECT_EQ(beta.headers(0).name(), "x-beta");
  EXPECT_EQ(beta.headers(0).exact(), "1");
  EXPECT_EQ(beta.headers(1).name(), "x-bot");
  EXPECT_TRUE(beta.headers(1).present());
  EXPECT_TRUE(beta.headers(1).invert());
  EXPECT_EQ(beta.method(), "GET");
  EXPECT_EQ(beta.priority(), 2u);

  // The split moves toward the canary; --cluster turns it back into one cluster.
  r = Lbctl({"route", "update", "canary", "--split", "web=50", "--split", "web-v2=50"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"route", "get", "canary", "-o", "json"});
  auto canary = FromJson<lb::v1::Route>(r.out);
  ASSERT_EQ(canary.weighted_clusters_size(), 2);
  EXPECT_EQ(canary.weighted_clusters(1).weight(), 50u);
  EXPECT_EQ(Lbctl({"cluster", "delete", "web-v2"}).err,
            "lbctl: cluster \"web-v2\" is used by route \"canary\"; delete or change the route "
            "first\n");
  r = Lbctl({"route", "update", "canary", "--cluster", "web-v2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"route", "get", "canary", "-o", "json"});
  canary = FromJson<lb::v1::Route>(r.out);
  EXPECT_EQ(canary.cluster(), "web-v2");
  EXPECT_EQ(canary.weighted_clusters_size(), 0);

  // Bad values: a usage error before any call, or the server's message.
  r = Lbctl({"route", "create", "x", "--split", "web"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("lbctl: invalid --split \"web\": want NAME=VALUE\n"));
  r = Lbctl({"route", "create", "x", "--split", "web=0", "--split", "web-v2=0"});
  EXPECT_EQ(r.exit_code, 2);  // INVALID_ARGUMENT from the controller.
  EXPECT_EQ(r.err, "lbctl: route.weighted_clusters: the weights must sum to at least 1\n");
  r = Lbctl({"route", "create", "x", "--cluster", "web", "--header", "host=a"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lbctl: route.headers[0].name: \"host\" is not allowed (routes match hosts with "
            "`hosts`)\n");
  r = Lbctl({"route", "create", "x", "--cluster", "web", "--path", "/a", "--prefix", "/b"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(LbctlE2eTest, Errors) {
  StartController();
  testing::CommandResult r = Lbctl({"add", "127.0.0.1", "abc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "lbctl: invalid PORT \"abc\": must be a number from 1 to 65535\n"
            "Run 'lbctl add --help' for usage.\n");

  r = Lbctl({"list", "--cluster", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"nope\" not found\n");

  r = Lbctl({"add", "127.0.0.1", "1", "--cluster", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"nope\" not found\n");

  absl::StatusOr<int> closed_port = testing::PickFreePort();
  ASSERT_TRUE(closed_port.ok()) << closed_port.status();
  std::string closed = testing::LoopbackAddress(*closed_port);
  r = LbctlRaw({"--controller", closed, "list"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("lbctl: cannot reach controller at ", closed)));
  r = LbctlRaw({"--controller", closed, "--timeout", "1s", "add", "127.0.0.1", "1"});
  EXPECT_EQ(r.exit_code, 3);

  r = LbctlRaw({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("Exit codes:"));
}

TEST_F(LbctlE2eTest, Watch) {
  StartController();
  // Bounded by an explicit --timeout: the initial state and the marker, then exit 0.
  testing::CommandResult r = Lbctl({"watch", "--timeout", "1s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(": cluster backend (policy random, 0 endpoints, version "));
  EXPECT_THAT(r.out, HasSubstr(": route table (1 routes, version "));
  EXPECT_THAT(r.out, HasSubstr(": end of the initial state; changes follow\n"));

  // SIGTERM ends a watch cleanly.
  std::string out_path = absl::StrCat(dir_, "/watch.out");
  absl::StatusOr<testing::Subprocess> watch = testing::Subprocess::Start(
      {testing::RunfilePath("lb/cli/lbctl"), "--controller", address_, "watch"}, out_path);
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(testing::WaitForFile(out_path, absl::Seconds(10)).ok());
  ASSERT_EQ(Lbctl({"add", "127.0.0.1", "4444"}).exit_code, 0);
  // The watch prints the change before it is stopped.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        return absl::StrContains(testing::ReadFileOrEmpty(out_path),
                                 "): added endpoint 127.0.0.1:4444 (weight 1)\n");
      },
      absl::Seconds(10)))
      << testing::ReadFileOrEmpty(out_path);
  watch->Signal(SIGTERM);
  absl::StatusOr<int> code = watch->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::ifstream in(out_path);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(out, HasSubstr("): added endpoint 127.0.0.1:4444 (weight 1)\n"));
}

TEST_F(LbctlE2eTest, Auth) {
  StartController("s3cret-token");
  testing::CommandResult r = Lbctl({"add", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err,
            "lbctl: this call needs an Authorization: Bearer token\n"
            "lbctl: this needs a token: pass --token or --token-file, or set LBCTL_TOKEN\n");

  r = Lbctl({"--token", "wrong", "add", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err,
            "lbctl: warning: --token is visible to other users of this machine (ps); prefer "
            "--token-file or LBCTL_TOKEN\n"
            "lbctl: invalid bearer token\n");

  r = Lbctl({"--token", "s3cret-token", "add", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = Lbctl({"add", "127.0.0.1", "1112"}, {"LBCTL_TOKEN=s3cret-token"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = Lbctl({"--token-file", absl::StrCat(dir_, "/token"), "add", "127.0.0.1", "1113"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = Lbctl({"cluster", "create", "web"});
  EXPECT_EQ(r.exit_code, 4);
  r = Lbctl({"route", "delete", "default"});
  EXPECT_EQ(r.exit_code, 4);

  // Reads need no token.
  r = Lbctl({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ADDRESS    PORT  WEIGHT  ZONE  STATE   HEALTHY  REQ/S  ERR%  P99  RESOLVED\n"
            "127.0.0.1  1111  1       -     ACTIVE  0/0      0.0    0.0   -    -\n"
            "127.0.0.1  1112  1       -     ACTIVE  0/0      0.0    0.0   -    -\n"
            "127.0.0.1  1113  1       -     ACTIVE  0/0      0.0    0.0   -    -\n");
  r = Lbctl({"cluster", "get", "backend"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // LBCTL_CONTROLLER instead of --controller.
  r = LbctlRaw({"list"}, {absl::StrCat("LBCTL_CONTROLLER=", address_)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1  1113"));
}

}  // namespace
}  // namespace lb
