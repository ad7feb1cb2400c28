// The controller binary on a data directory written before per-endpoint keys (the checked-in
// SQLite file of tests/controller/registry/testdata, made by the controller at main 6f4ce3e):
// it migrates on its first start and serves the same endpoints, each change after that moves
// the cluster's ETag as before; the history flags are checked at start and their compaction is
// counted on /metrics.
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"

namespace lb::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Addresses(const nlohmann::json& cluster) {
  std::vector<std::string> out;
  for (const auto& e : cluster["endpoints"]) {
    out.push_back(absl::StrCat(e["address"].get<std::string>(), ":", e["port"].get<int>()));
  }
  return out;
}

TEST(StoreLayoutTest, FirstStartOnAnOlderDataDirectoryMigratesIt) {
  const std::string data = absl::StrCat(::testing::TempDir(), "/old-data");
  ASSERT_EQ(mkdir(data.c_str(), 0700), 0);
  {
    std::ifstream in("tests/controller/registry/testdata/main_embedded_endpoints.db",
                     std::ios::binary);
    ASSERT_TRUE(in.good());
    std::ofstream out(data + "/lb.db", std::ios::binary);
    out << in.rdbuf();
  }
  ControllerProcess controller({absl::StrCat("--data_dir=", data)});
  ASSERT_TRUE(controller.Start().ok()) << controller.LogTail();

  absl::StatusOr<std::vector<std::string>> seed = SeedList(controller.rest_port());
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_THAT(*seed, ElementsAre("10.0.0.1:8080", "10.0.0.2:8080"));
  absl::StatusOr<HttpResponse> r = HttpGet(controller.rest_port(), "/v1/clusters/api");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  nlohmann::json api = nlohmann::json::parse(r->body);
  EXPECT_THAT(Addresses(api), ElementsAre("10.1.0.3:80", "::1:81", "web.internal:82"));
  EXPECT_EQ(api["endpoints"][1]["labels"], nlohmann::json({{"tier", "gold"}}));
  EXPECT_EQ(api["endpoints"][2]["admin_state"], "DRAINING");
  const std::string etag = r->Header("ETag");

  // A conditional write at that ETag succeeds once and moves it.
  r = HttpCall(controller.rest_port(), {"POST",
                                        "/v1/clusters/api/endpoints",
                                        {{"If-Match", etag}},
                                        R"({"address":"10.1.0.4","port":80})"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_NE(r->Header("ETag"), etag);
  r = HttpCall(controller.rest_port(),
               {"DELETE", "/v1/clusters/api/endpoints/10.1.0.3/80", {{"If-Match", etag}}, ""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 409) << r->body;  // ABORTED: stale version.

  // Restarted: nothing to migrate again, the same model.
  ASSERT_TRUE(controller.Restart().ok()) << controller.LogTail();
  r = HttpGet(controller.rest_port(), "/v1/clusters/api");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Addresses(nlohmann::json::parse(r->body)),
              ElementsAre("10.1.0.3:80", "::1:81", "web.internal:82", "10.1.0.4:80"));

  // Compaction is counted.
  r = HttpGet(controller.rest_port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->body, HasSubstr("\nlb_controller_store_compactions_total 0\n"));
  EXPECT_THAT(r->body, HasSubstr("\nlb_controller_store_compacted_revision 0\n"));
}

TEST(StoreLayoutTest, HistoryFlagsAreCheckedAtStart) {
  for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"--history_max_revisions=0", "--history_max_revisions must be at least 1, got 0"},
           {"--history_max_age=100ms", "--history_max_age must be at least 1s, got 100ms"}}) {
    ControllerProcess controller({flag});
    absl::Status s = controller.Start();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << flag;
    EXPECT_THAT(controller.LogTail(), HasSubstr(message)) << flag;
  }
}

}  // namespace
}  // namespace lb::testing
