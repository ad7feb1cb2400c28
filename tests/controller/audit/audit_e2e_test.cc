// The audit trail end to end: the controller binary (SQLite, or etcd for the _etcd target), the
// seed walkthrough over POST /config, a /v1 write with a named token and gRPC writes through
// lbctl; GET /v1/events and `lbctl history` show each with the right API and caller.
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/subprocess.h"

namespace lb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kOpsToken[] = "ops-secret-1";
constexpr char kCiToken[] = "ci-secret-2";

class AuditE2eTest : public ::testing::Test {
 protected:
  // With `tokens` ("NAME:TOKEN" lines), writes need one of them.
  void StartController(const std::string& tokens) {
    std::vector<std::string> flags = {"--audit_max_events=1000", "--audit_max_age=24h"};
    if (!tokens.empty()) {
      dir_ = testing::MakeTempDir();
      ASSERT_FALSE(dir_.empty());
      const std::string path = absl::StrCat(dir_, "/tokens");
      std::ofstream(path) << tokens;
      chmod(path.c_str(), 0600);
      flags.push_back(absl::StrCat("--auth_token_file=", path));
    }
    controller_ = std::make_unique<testing::ControllerProcess>(flags);
    absl::Status s = controller_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  void TearDown() override {
    if (controller_ != nullptr && controller_->running()) {
      absl::StatusOr<int> code = controller_->Stop(absl::Seconds(10));
      EXPECT_TRUE(code.ok() && *code == 0) << code.status() << "\n" << controller_->LogTail();
    }
  }

  testing::HttpResponse Call(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& token = "") {
    testing::HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    if (!token.empty()) req.headers.emplace_back("Authorization", absl::StrCat("Bearer ", token));
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    absl::StatusOr<testing::HttpResponse> r = testing::HttpCall(controller_->rest_port(), req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::HttpResponse{};
  }

  nlohmann::json Events(const std::string& query = "") {
    testing::HttpResponse r = Call("GET", absl::StrCat("/v1/events", query), "");
    EXPECT_EQ(r.status, 200) << r.body;
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j.is_discarded() ? nlohmann::json() : j["events"];
  }

  testing::CommandResult Lbctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::RunfilePath("lb/cli/lbctl"), "--controller",
                                     controller_->grpc_target()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<testing::CommandResult> r = testing::RunCommand(argv, absl::Seconds(20));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::CommandResult{};
  }

  std::string dir_;
  std::unique_ptr<testing::ControllerProcess> controller_;
};

// "api caller action kind name" of each event.
std::vector<std::string> Summary(const nlohmann::json& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(absl::StrCat(e["api"].get<std::string>(), " ", e["caller"].get<std::string>(),
                               " ", e["action"].get<std::string>(), " ",
                               e["kind"].get<std::string>(), " ", e["name"].get<std::string>()));
  }
  return out;
}

TEST_F(AuditE2eTest, EachApiRecordsItsCaller) {
  StartController(absl::StrCat("# operators\nops:", kOpsToken, "\nci:", kCiToken, "\n"));
  const std::string seed = "/config";
  // The seed walkthrough (with the ops token: auth is on).
  EXPECT_EQ(
      Call("POST", seed, R"({"action":"add","ip":"127.0.0.1","port":1111})", kOpsToken).status,
      200);
  EXPECT_EQ(
      Call("POST", seed, R"({"action":"add","ip":"127.0.0.1","port":1112})", kOpsToken).status,
      200);
  EXPECT_EQ(
      Call("POST", seed, R"({"action":"del","ip":"127.0.0.1","port":1111})", kOpsToken).status,
      200);
  EXPECT_EQ(Call("GET", seed, "").body, R"(["127.0.0.1:1112"])");
  // Refused: no token, a wrong one, a duplicate add. None is recorded.
  EXPECT_EQ(Call("POST", seed, R"({"action":"add","ip":"127.0.0.1","port":1113})").status, 401);
  EXPECT_EQ(Call("POST", seed, R"({"action":"add","ip":"127.0.0.1","port":1113})", "wrong").status,
            401);
  EXPECT_EQ(Call("POST", "/v1/clusters/backend/endpoints", R"({"address":"127.0.0.1","port":1112})",
                 kCiToken)
                .status,
            409);
  // /v1 with the ci token.
  EXPECT_EQ(
      Call("PATCH", "/v1/clusters/backend/endpoints/127.0.0.1/1112", R"({"weight":5})", kCiToken)
          .status,
      200);
  // gRPC through lbctl with the ops token.
  testing::CommandResult r = Lbctl({"--token", kOpsToken, "add", "127.0.0.1", "2222"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"--token", kOpsToken, "cluster", "create", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  nlohmann::json events = Events();
  EXPECT_THAT(Summary(events),
              ::testing::ElementsAre("rest_config ops create endpoint backend/127.0.0.1:1111",
                                     "rest_config ops create endpoint backend/127.0.0.1:1112",
                                     "rest_config ops delete endpoint backend/127.0.0.1:1111",
                                     "rest_v1 ci update endpoint backend/127.0.0.1:1112",
                                     "grpc ops create endpoint backend/127.0.0.1:2222",
                                     "grpc ops create cluster web"));
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[3]["before"]["weight"], 1);
  EXPECT_EQ(events[3]["after"]["weight"], 5);
  EXPECT_THAT(events[0]["peer"].get<std::string>(), StartsWith("127.0.0.1:"));
  EXPECT_THAT(events[4]["peer"].get<std::string>(), StartsWith("127.0.0.1:"));
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i]["revision"].get<int64_t>(), events[i - 1]["revision"].get<int64_t>());
  }
  // The token itself is never recorded.
  testing::HttpResponse raw = Call("GET", "/v1/events", "");
  EXPECT_THAT(raw.body, ::testing::Not(HasSubstr(kOpsToken)));
  EXPECT_THAT(raw.body, ::testing::Not(HasSubstr(kCiToken)));

  // Filters and paging.
  EXPECT_EQ(Summary(Events("?cluster=web")),
            std::vector<std::string>{"grpc ops create cluster web"});
  const int64_t third = events[2]["revision"].get<int64_t>();
  EXPECT_EQ(Summary(Events(absl::StrCat("?since=", third, "&limit=1"))),
            std::vector<std::string>{"rest_v1 ci update endpoint backend/127.0.0.1:1112"});
  EXPECT_EQ(Summary(Events("?limit=2")).size(), 2u);
  for (const char* bad : {"?limit=0", "?limit=1001", "?limit=x", "?since=-1", "?since=1e3"}) {
    testing::HttpResponse b = Call("GET", absl::StrCat("/v1/events", bad), "");
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_THAT(b.body, HasSubstr("INVALID_ARGUMENT")) << bad;
  }
  EXPECT_EQ(Call("POST", "/v1/events", "{}", kOpsToken).status, 405);

  // lbctl history: the table, JSON and the cluster filter.
  r = Lbctl({"history"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("TIME"));
  EXPECT_THAT(lines[0], HasSubstr("API"));
  EXPECT_THAT(lines[0], HasSubstr("CHANGE"));
  EXPECT_THAT(lines[1], HasSubstr("rest_config  ops     create  endpoint  backend/127.0.0.1:1111"));
  EXPECT_THAT(lines[4], HasSubstr("rest_v1      ci      update  endpoint  backend/127.0.0.1:1112"));
  EXPECT_THAT(lines[4], HasSubstr("weight 1→5"));
  EXPECT_THAT(lines[6], HasSubstr("grpc         ops     create  cluster   web"));

  r = Lbctl({"history", "--cluster", "web", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j["events"].size(), 1u) << r.out;
  EXPECT_EQ(j["events"][0]["name"], "web");
  EXPECT_EQ(j["events"][0]["api"], "grpc");

  // Follow mode prints what exists, then polls until --timeout (exit 0).
  r = Lbctl({"--timeout", "2s", "history", "-f", "--cluster", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[1], HasSubstr("grpc  ops  create  cluster  web  created"));

  r = Lbctl({"history", "--limit", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--limit must be 1 to 1000"));

  // Metrics.
  absl::StatusOr<uint64_t> recorded = testing::PrometheusValue(
      controller_->rest_port(), "/metrics", "lb_controller_audit_events_recorded_total");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(*recorded, 6u);
}

TEST_F(AuditE2eTest, WithoutAuthWritesAreAnonymous) {
  StartController("");
  EXPECT_EQ(Call("POST", "/config", R"({"action":"add","ip":"127.0.0.1","port":1111})").status,
            200);
  testing::CommandResult r = Lbctl({"del", "127.0.0.1", "1111"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Summary(Events()),
              ::testing::ElementsAre("rest_config anonymous create endpoint backend/127.0.0.1:1111",
                                     "grpc anonymous delete endpoint backend/127.0.0.1:1111"));
}

TEST_F(AuditE2eTest, BadRetentionFlagsStopTheStart) {
  for (const char* flag : {"--audit_max_events=0", "--audit_max_events=-1", "--audit_max_age=-5s",
                           "--audit_max_age=100000h"}) {
    testing::ControllerProcess c({flag});
    absl::Status s = c.Start(absl::Seconds(20));
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << flag << ": " << s;
    const std::string name(flag);
    EXPECT_THAT(c.LogTail(), HasSubstr(name.substr(0, name.find('=')))) << flag;
  }
}

}  // namespace
}  // namespace lb
