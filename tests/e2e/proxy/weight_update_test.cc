// An endpoint's weight changed in place under load, through the real binaries: client threads
// send GETs through the proxy while `lbctl update ADDRESS PORT --weight N` runs again and again.
// Every request must get a 200 (the endpoint never leaves rotation), and afterwards the weighted
// round robin split follows the new weights.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr int kClientThreads = 3;

class WeightUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(a_.Start().ok());
    ASSERT_TRUE(b_.Start().ok());
    absl::Status s = proxy_.Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    s = proxy_.WaitReady();
    ASSERT_TRUE(s.ok()) << s;
  }

  CommandResult Lbctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {RunfilePath("lb/cli/lbctl"), "--controller",
                                     controller_.grpc_target()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(20));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }

  // The weight of `address` in the proxy's view of cluster backend; -1 if it is not there.
  int ProxyWeight(const std::string& address) {
    absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
    if (!dump.ok()) return -1;
    nlohmann::json e = DumpEndpoint(*dump, "backend", address);
    return e.is_object() ? e["weight"].get<int>() : -1;
  }

  ControllerProcess controller_;
  TestBackend a_{"a"};
  TestBackend b_{"b"};
  ProxyProcess proxy_{"weight-proxy"};
};

TEST_F(WeightUpdateTest, WeightChangesInPlaceWithZeroFailedRequests) {
  ASSERT_EQ(Lbctl({"cluster", "update", "backend", "--policy", "round_robin"}).exit_code, 0);
  ASSERT_EQ(Lbctl({"add", "127.0.0.1", absl::StrCat(a_.port())}).exit_code, 0);
  ASSERT_EQ(Lbctl({"add", "127.0.0.1", absl::StrCat(b_.port())}).exit_code, 0);
  absl::Status s = WaitForEndpoints(proxy_.admin_port(), "backend", {a_.address(), b_.address()});
  ASSERT_TRUE(s.ok()) << s;

  LoadGenerator load(proxy_.port(), kClientThreads);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();

  // b's weight goes 2, 5, 1, 4, ... and ends at 3; each change reaches the proxy while requests
  // flow, and both endpoints stay eligible throughout.
  const std::vector<int> weights = {2, 5, 1, 4, 2, 6, 1, 3};
  std::vector<std::string> both = {a_.address(), b_.address()};
  std::sort(both.begin(), both.end());
  for (int w : weights) {
    CommandResult r =
        Lbctl({"update", "127.0.0.1", absl::StrCat(b_.port()), "--weight", absl::StrCat(w)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(WaitUntil([&] { return ProxyWeight(b_.address()) == w; }, absl::Seconds(20)))
        << "weight " << w << " never reached the proxy\n"
        << proxy_.LogTail();
    absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_.admin_port());
    ASSERT_TRUE(dump.ok()) << dump.status();
    EXPECT_EQ(DumpEndpoints(*dump, "backend", /*eligible_only=*/true), both);
    ASSERT_TRUE(load.WaitForMore(50, absl::Seconds(20))) << load.Summary();
  }
  EXPECT_EQ(load.failures(), 0u) << load.Summary();

  // The split follows the new weights, 1:3, over the next requests.
  ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(20))) << load.Summary();
  std::map<std::string, uint64_t> before = load.by_backend();
  ASSERT_TRUE(load.WaitForMore(2000, absl::Seconds(60))) << load.Summary();
  std::map<std::string, uint64_t> after = load.by_backend();
  load.Stop();
  const double to_a = static_cast<double>(after["Hello from a\n"] - before["Hello from a\n"]);
  const double to_b = static_cast<double>(after["Hello from b\n"] - before["Hello from b\n"]);
  ASSERT_GT(to_a + to_b, 0);
  EXPECT_NEAR(to_b / (to_a + to_b), 0.75, 0.05) << "a " << to_a << ", b " << to_b;
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
}

}  // namespace
}  // namespace lb::testing
