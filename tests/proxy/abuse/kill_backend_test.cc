// Abuse suite, row 7: kill -9 of one of three backends under steady load (two workers, sixteen
// clients) must not reach a client. Repeated: each round adds a fresh backend, kills the oldest
// while the load runs, waits until the proxy has taken it out and 2,000 more requests passed,
// and removes it. Every request of every round must succeed; the access log must show the
// retries that made it so and no 5xx.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_common/backend_process.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr int kRounds = 20;

bool OutOfRotation(int admin_port, const std::string& address) {
  absl::StatusOr<nlohmann::json> d = ConfigDump(admin_port);
  if (!d.ok()) return false;
  nlohmann::json e = DumpEndpoint(*d, "backend", address);
  return e.is_object() && (e.value("ejected", false) || !e.value("eligible", true));
}

TEST(KillBackendTest, RepeatedKillNineUnderLoadReachesNoClient) {
  const std::string log_path = MakeTempDir() + "/access.log";
  ControllerProcess controller;
  ASSERT_TRUE(controller.Start().ok());
  ProxyProcess proxy("kill-repeat", {"--workers=2", "--access_log=" + log_path});
  ASSERT_TRUE(proxy.Start(controller.grpc_target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok()) << proxy.LogTail();

  std::vector<std::unique_ptr<BackendProcess>> live;
  int started = 0;
  auto add_backend = [&]() -> absl::Status {
    auto b = std::make_unique<BackendProcess>(absl::StrCat("web_", started++));
    if (absl::Status s = b->Start(); !s.ok()) return s;
    if (absl::Status s = SeedConfig(controller.rest_port(), "add", b->port()); !s.ok()) return s;
    live.push_back(std::move(b));
    std::vector<std::string> want;
    for (const auto& p : live) want.push_back(LoopbackAddress(p->port()));
    return WaitForEndpoints(proxy.admin_port(), "backend", want);
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(add_backend().ok());

  LoadGenerator load(proxy.port(), 16);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(2000, absl::Seconds(30))) << load.Summary();
  for (int round = 0; round < kRounds; ++round) {
    if (round > 0) {
      ASSERT_TRUE(add_backend().ok()) << "round " << round;
    }
    std::unique_ptr<BackendProcess> victim = std::move(live.front());
    live.erase(live.begin());
    const std::string address = LoopbackAddress(victim->port());
    ASSERT_TRUE(load.WaitForMore(500, absl::Seconds(30))) << load.Summary();
    victim->Kill();
    EXPECT_TRUE(WaitUntil([&] { return OutOfRotation(proxy.admin_port(), address); },
                          absl::Seconds(20)))
        << "round " << round << ": the dead endpoint stayed in rotation";
    ASSERT_TRUE(load.WaitForMore(2000, absl::Seconds(30))) << load.Summary();
    ASSERT_TRUE(SeedConfig(controller.rest_port(), "del", victim->port()).ok());
    EXPECT_EQ(load.failures(), 0u) << "round " << round << ": " << load.Summary();
  }
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();

  absl::StatusOr<uint64_t> fivexx =
      StatValue(proxy.admin_port(), "lb_proxy_responses_total{class=\"5xx\"}");
  ASSERT_TRUE(fivexx.ok());
  EXPECT_EQ(*fivexx, 0u);
  absl::StatusOr<uint64_t> retries = StatValue(proxy.admin_port(), "lb_proxy_retries_total");
  ASSERT_TRUE(retries.ok());
  EXPECT_GT(*retries, 0u);

  // The access log: one line per request; retried ones show their attempts, none is a 5xx.
  uint64_t lines = 0, retried = 0, errors = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<uint64_t> queued =
            StatValue(proxy.admin_port(), "lb_proxy_access_log_lines_total");
        std::ifstream in(log_path);
        std::string line;
        lines = retried = errors = 0;
        while (std::getline(in, line)) {
          nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
          if (j.is_discarded()) {
            ++errors;
            continue;
          }
          ++lines;
          if (j.value("attempts", 0) > 1) ++retried;
          if (j.value("status", 0) >= 500) ++errors;
        }
        return queued.ok() && lines == *queued;
      },
      absl::Seconds(10)));
  EXPECT_GE(lines, load.total());
  EXPECT_EQ(errors, 0u);
  EXPECT_GT(retried, 0u);
  std::printf("%d kills: %s; retries %llu; access log %llu lines, %llu retried\n", kRounds,
              load.Summary().c_str(), static_cast<unsigned long long>(*retries),
              static_cast<unsigned long long>(lines), static_cast<unsigned long long>(retried));
}

}  // namespace
}  // namespace lb::testing
