// Two proxies on one controller converge on the same endpoints after every change, and the
// controller lists both (GET /v1/proxies) with everything it sent ACKed.
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class TwoProxiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    for (int i = 0; i < 3; ++i) {
      backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("web_", i)));
      ASSERT_TRUE(backends_.back()->Start().ok());
    }
    for (ProxyProcess* p : {&a_, &b_}) {
      absl::Status s = p->Start(controller_.grpc_target());
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_TRUE(p->WaitReady().ok());
    }
  }

  // Both proxies show exactly the controller's endpoint list for cluster backend.
  void ExpectConverged() {
    absl::StatusOr<std::vector<std::string>> list = SeedList(controller_.rest_port());
    ASSERT_TRUE(list.ok());
    std::vector<std::string> want = *list;
    std::sort(want.begin(), want.end());
    for (ProxyProcess* p : {&a_, &b_}) {
      absl::Status s = WaitForEndpoints(p->admin_port(), "backend", want);
      ASSERT_TRUE(s.ok()) << p->node_id() << ": " << s;
    }
    absl::StatusOr<nlohmann::json> da = ConfigDump(a_.admin_port());
    absl::StatusOr<nlohmann::json> db = ConfigDump(b_.admin_port());
    ASSERT_TRUE(da.ok() && db.ok());
    EXPECT_EQ(DumpEndpoints(*da, "backend", false), DumpEndpoints(*db, "backend", false));
    // Same resource versions accepted by both.
    EXPECT_EQ((*da)["source"]["versions"], (*db)["source"]["versions"]);
    // Requests through either proxy reach only configured backends.
    std::set<std::string> allowed;
    for (const auto& b : backends_) {
      if (std::count(want.begin(), want.end(), b->address())) {
        allowed.insert(absl::StrCat("Hello from ", b->name(), "\n"));
      }
    }
    for (ProxyProcess* p : {&a_, &b_}) {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<HttpResponse> r = HttpGet(p->port(), "/");
        ASSERT_TRUE(r.ok()) << r.status();
        if (allowed.empty()) {
          EXPECT_EQ(r->status, 503);
        } else {
          EXPECT_EQ(r->status, 200);
          EXPECT_TRUE(allowed.count(r->body)) << p->node_id() << " answered " << r->body;
        }
      }
    }
  }

  ControllerProcess controller_;
  std::vector<std::unique_ptr<TestBackend>> backends_;
  ProxyProcess a_{"node-a"};
  ProxyProcess b_{"node-b"};
};

TEST_F(TwoProxiesTest, ConvergeAfterAddsAndDels) {
  const int rest = controller_.rest_port();
  ExpectConverged();
  ASSERT_TRUE(SeedConfig(rest, "add", backends_[0]->port()).ok());
  ExpectConverged();
  ASSERT_TRUE(SeedConfig(rest, "add", backends_[1]->port()).ok());
  ASSERT_TRUE(SeedConfig(rest, "add", backends_[2]->port()).ok());
  ExpectConverged();
  ASSERT_TRUE(SeedConfig(rest, "del", backends_[1]->port()).ok());
  ExpectConverged();
  // A burst of changes without waiting in between: both end on the final state.
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(SeedConfig(rest, round % 2 == 0 ? "add" : "del", backends_[1]->port()).ok());
    ASSERT_TRUE(SeedConfig(rest, round % 2 == 0 ? "del" : "add", backends_[0]->port()).ok());
  }
  ExpectConverged();
  ASSERT_TRUE(SeedConfig(rest, "del", backends_[0]->port()).ok());
  ASSERT_TRUE(SeedConfig(rest, "del", backends_[2]->port()).ok());
  ExpectConverged();
}

TEST_F(TwoProxiesTest, ControllerListsBothProxiesWithEverythingAcked) {
  ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", backends_[0]->port()).ok());
  ExpectConverged();
  nlohmann::json proxies;
  bool ok = WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(controller_.rest_port(), "/v1/proxies");
        if (!r.ok() || r->status != 200) return false;
        proxies = nlohmann::json::parse(r->body, nullptr, false);
        if (proxies.is_discarded() || !proxies.contains("proxies")) return false;
        std::set<std::string> nodes;
        for (const auto& p : proxies["proxies"]) {
          bool acked = true;
          for (const auto& res : p["resources"]) {
            acked &= res.value("version_sent", "") == res.value("version_acked", "x") &&
                     !res.value("version_sent", "").empty();
          }
          if (acked) nodes.insert(p.value("node_id", ""));
        }
        return nodes == std::set<std::string>{"node-a", "node-b"};
      },
      absl::Seconds(20));
  EXPECT_TRUE(ok) << proxies.dump(2);
  for (const auto& p : proxies["proxies"]) {
    EXPECT_EQ(p.value("user_agent", ""), "lb-proxy 1");
    for (const auto& res : p["resources"]) {
      EXPECT_EQ(res.value("nacks", "0"), "0") << res.dump();
    }
  }
}

// --controller lists two controllers and the first is dead: the proxy moves on to the second.
TEST_F(TwoProxiesTest, DeadFirstControllerInTheListIsSkipped) {
  ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", backends_[2]->port()).ok());
  ProxyProcess c("node-c");
  absl::StatusOr<int> dead = PickFreePort();
  ASSERT_TRUE(dead.ok()) << dead.status();
  absl::Status s = c.Start(absl::StrCat(LoopbackAddress(*dead), ",", controller_.grpc_target()));
  ASSERT_TRUE(s.ok()) << s;
  s = c.WaitReady(absl::Seconds(30));
  ASSERT_TRUE(s.ok()) << s;
  s = WaitForEndpoints(c.admin_port(), "backend", {backends_[2]->address()});
  ASSERT_TRUE(s.ok()) << s;
  absl::StatusOr<HttpResponse> r = HttpGet(c.port(), "/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "Hello from web_2\n");
}

}  // namespace
}  // namespace lb::testing
