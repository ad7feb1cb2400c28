// Endpoint churn under load: client threads send GETs over keep-alive connections while
// endpoints are added and removed continuously through the REST API (at least one endpoint is
// always configured). Every request must get a 200 from some backend: zero failures.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr int kBackends = 4;
constexpr int kClientThreads = 3;

class ChurnTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    for (int i = 0; i < kBackends; ++i) {
      backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("web_", i)));
      ASSERT_TRUE(backends_.back()->Start().ok());
    }
    absl::Status s = proxy_.Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    s = proxy_.WaitReady();
    ASSERT_TRUE(s.ok()) << s;
    if (GetParam() != "RANDOM") {
      s = V1Call(controller_.rest_port(), "PUT", "/v1/clusters/backend",
                 absl::StrCat(R"({"name":"backend","lb_policy":")", GetParam(), R"("})"), 200);
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  // A seed /config call, timed.
  absl::Status Timed(const std::string& action, int port) {
    absl::Time start = absl::Now();
    absl::Status s = SeedConfig(controller_.rest_port(), action, port);
    absl::Duration took = absl::Now() - start;
    max_rest_latency_ = std::max(max_rest_latency_, took);
    ++rest_calls_;
    return s;
  }

  std::string Diagnostics() {
    return absl::StrCat("\nafter ", rest_calls_, " REST calls (slowest ",
                        absl::FormatDuration(max_rest_latency_), ")\ncontroller log tail:\n",
                        controller_.LogTail(3000), "\nproxy log tail:\n", proxy_.LogTail(2000));
  }

  ControllerProcess controller_;
  std::vector<std::unique_ptr<TestBackend>> backends_;
  ProxyProcess proxy_{"churn-proxy"};
  absl::Duration max_rest_latency_;
  int rest_calls_ = 0;
};

TEST_P(ChurnTest, ZeroFailedRequestsWhileEndpointsChange) {
  const int rest = controller_.rest_port();
  std::set<int> configured = {0};
  ASSERT_TRUE(SeedConfig(rest, "add", backends_[0]->port()).ok());
  ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "backend", {backends_[0]->address()}).ok());

  LoadGenerator load(proxy_.port(), kClientThreads);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(30))) << load.Summary();

  // Churn: each step adds one endpoint that is not configured, then (if more than one is)
  // removes a random other one. Bounded: at most 400 steps or 60 s; at least 150 steps and 3000
  // requests.
  std::mt19937 rng(12345);
  int steps = 0;
  int adds = 0;
  int dels = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (steps < 400 && absl::Now() < deadline && (steps < 150 || load.total() < 3000)) {
    ++steps;
    std::vector<int> absent;
    for (int i = 0; i < kBackends; ++i) {
      if (!configured.count(i)) absent.push_back(i);
    }
    if (!absent.empty() && (configured.size() < 2 || rng() % 2 == 0)) {
      int add = absent[rng() % absent.size()];
      absl::Status s = Timed("add", backends_[add]->port());
      ASSERT_TRUE(s.ok()) << s << Diagnostics();
      configured.insert(add);
      ++adds;
    } else if (configured.size() > 1) {
      std::vector<int> present(configured.begin(), configured.end());
      int del = present[rng() % present.size()];
      absl::Status s = Timed("del", backends_[del]->port());
      ASSERT_TRUE(s.ok()) << s << Diagnostics();
      configured.erase(del);
      ++dels;
    }
    // Let 10 to 39 requests through before the next change.
    ASSERT_TRUE(load.WaitForMore(10 + rng() % 30, absl::Seconds(10))) << load.Summary();
  }

  // Settle on the final set, then check that removed backends get nothing more. The proxy may
  // lag behind the controller and show an earlier state that equals the final one (the set can
  // come back to it), so first wait for a marker written after the last change: updates reach
  // the proxy in order.
  absl::Status s = V1Call(rest, "POST", "/v1/clusters", R"({"name":"settled"})", 201);
  ASSERT_TRUE(s.ok()) << s;
  s = V1Call(rest, "POST", "/v1/clusters/settled/endpoints",
             absl::StrCat(R"({"address":"127.0.0.1","port":)", backends_[0]->port(), "}"), 201);
  ASSERT_TRUE(s.ok()) << s;
  s = WaitForEndpoints(proxy_.admin_port(), "settled", {backends_[0]->address()});
  ASSERT_TRUE(s.ok()) << s;
  std::vector<std::string> want;
  for (int i : configured) want.push_back(backends_[i]->address());
  s = WaitForEndpoints(proxy_.admin_port(), "backend", want);
  EXPECT_TRUE(s.ok()) << s;
  // The hash policies' tables have the sizes the controller sends: 65537 maglev slots, a ring
  // of at least 1024 points (and under 2048: every host has weight 1).
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
  ASSERT_TRUE(dump.ok()) << dump.status();
  for (const auto& c : (*dump)["clusters"]) {
    if (c.value("name", "") != "backend") continue;
    const int64_t table = c.value("table_size", int64_t{-1});
    if (GetParam() == "MAGLEV") {
      EXPECT_EQ(table, 65537);
    }
    if (GetParam() == "RING_HASH") {
      EXPECT_GE(table, 1024);
      EXPECT_LT(table, 2048);
    }
  }
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();
  std::vector<uint64_t> before;
  for (const auto& b : backends_) before.push_back(b->requests());
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();
  load.Stop();
  for (int i = 0; i < kBackends; ++i) {
    if (!configured.count(i)) {
      EXPECT_EQ(backends_[i]->requests(), before[i])
          << backends_[i]->name() << " was removed but still received requests";
    }
  }

  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  EXPECT_GE(load.total(), 3000u) << load.Summary();
  EXPECT_GE(adds, 10);
  EXPECT_GE(dels, 10);
  // Every backend served some of the load at some point (hashing policies send one client
  // to one backend, so only the others are held to this).
  if (GetParam() != "RING_HASH" && GetParam() != "MAGLEV") {
    std::map<std::string, uint64_t> by = load.by_backend();
    for (const auto& b : backends_) {
      EXPECT_GT(by[absl::StrCat("Hello from ", b->name(), "\n")], 0u) << load.Summary();
    }
  }
  std::printf("policy %s: %d steps (%d adds, %d dels; slowest REST call %s): %s\n",
              GetParam().c_str(), steps, adds, dels,
              absl::FormatDuration(max_rest_latency_).c_str(), load.Summary().c_str());
}

// Endpoints put in DRAINING (PATCH admin_state) before they are removed: no new requests, no
// failures.
TEST_P(ChurnTest, DrainThenRemoveUnderLoad) {
  const int rest = controller_.rest_port();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(SeedConfig(rest, "add", backends_[i]->port()).ok());
  ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "backend",
                               {backends_[0]->address(), backends_[1]->address()})
                  .ok());
  LoadGenerator load(proxy_.port(), kClientThreads);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(30))) << load.Summary();
  // Rotate: add next, drain oldest, delete it.
  int oldest = 0;
  for (int round = 0; round < 6; ++round) {
    int next = (oldest + 2) % kBackends;
    ASSERT_TRUE(SeedConfig(rest, "add", backends_[next]->port()).ok());
    absl::Status s =
        V1Call(rest, "PATCH",
               absl::StrCat("/v1/clusters/backend/endpoints/127.0.0.1/", backends_[oldest]->port()),
               R"({"admin_state":"DRAINING"})", 200);
    ASSERT_TRUE(s.ok()) << s;
    // Once the proxy sees it draining it is not eligible.
    ASSERT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
          if (!d.ok()) return false;
          nlohmann::json e = DumpEndpoint(*d, "backend", backends_[oldest]->address());
          return e.is_object() && e.value("draining", false) && !e.value("eligible", true);
        },
        absl::Seconds(20)));
    // The dump shows a snapshot once every worker serves with it, but a request that picked
    // the endpoint before may still be on its way there. Once no request is in flight, every
    // later one is routed with the new snapshot.
    ASSERT_TRUE(load.Pause()) << load.Summary();
    uint64_t drained_before = backends_[oldest]->requests();
    load.Resume();
    ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(30))) << load.Summary();
    EXPECT_EQ(backends_[oldest]->requests(), drained_before)
        << backends_[oldest]->name() << " is draining but got new requests";
    ASSERT_TRUE(SeedConfig(rest, "del", backends_[oldest]->port()).ok());
    oldest = (oldest + 1) % kBackends;
  }
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
}

INSTANTIATE_TEST_SUITE_P(Policies, ChurnTest,
                         ::testing::Values("RANDOM", "ROUND_ROBIN", "LEAST_REQUEST", "RING_HASH",
                                           "MAGLEV"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace lb::testing
