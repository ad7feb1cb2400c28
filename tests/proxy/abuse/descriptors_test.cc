// Abuse suite, descriptors (issue table row 4): more clients than --max_connections, and a
// proxy whose descriptor limit runs out. The listeners rest instead of spinning, say so once,
// count it, never blame an upstream for a local shortage, and serve again once there is room.
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proc_stats.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class DescriptorsTest : public ::testing::Test {
 protected:
  void StartProxy(std::vector<std::string> flags) {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(backend_.Start().ok());
    ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", backend_.port()).ok());
    proxy_.emplace("fd-abuse", std::move(flags));
    ASSERT_TRUE(proxy_->Start(controller_.grpc_target()).ok()) << proxy_->LogTail();
    ASSERT_TRUE(proxy_->WaitReady().ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_->admin_port(), "backend", {backend_.address()}).ok());
  }
  ~DescriptorsTest() override {
    for (int fd : clients_) close(fd);
  }

  // Opens `n` connections that send nothing (the kernel completes them whether or not the
  // proxy accepts).
  void OpenIdleClients(int n) {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<int> fd = ConnectLoopback(proxy_->port(), absl::Now() + absl::Seconds(5));
      ASSERT_TRUE(fd.ok()) << fd.status();
      clients_.push_back(*fd);
    }
  }
  void CloseClients() {
    for (int fd : clients_) close(fd);
    clients_.clear();
  }
  // CPU seconds the proxy uses over `d`.
  double CpuOver(absl::Duration d) {
    const double before = ReadProcStats(proxy_->pid())->cpu_seconds;
    absl::SleepFor(d);
    return ReadProcStats(proxy_->pid())->cpu_seconds - before;
  }
  uint64_t Stat(const std::string& series) {
    absl::StatusOr<uint64_t> v = StatValue(proxy_->admin_port(), series);
    return v.ok() ? *v : 0;
  }
  int EventLines(absl::string_view event) {
    int n = 0;
    for (absl::string_view line : absl::StrSplit(proxy_->LogTail(1 << 20), '\n')) {
      if (absl::StartsWith(line, "{") &&
          absl::StrContains(line, absl::StrCat("\"event\":\"", event, "\""))) {
        ++n;
      }
    }
    return n;
  }

  ControllerProcess controller_;
  TestBackend backend_{"web"};
  std::optional<ProxyProcess> proxy_;
  std::vector<int> clients_;
};

TEST_F(DescriptorsTest, AtMaxConnectionsTheListenersRestAndResumeWhenASlotFrees) {
  StartProxy({"--max_connections=4", "--request_header_timeout=2s", "--workers=2"});
  OpenIdleClients(10);
  ASSERT_TRUE(
      WaitUntil([&] { return Stat("lb_proxy_connections_active") == 4; }, absl::Seconds(10)));
  EXPECT_LT(CpuOver(absl::Seconds(1)), 0.3) << "the listeners spin at the cap";
  EXPECT_EQ(Stat("lb_proxy_connections_active"), 4u);
  EXPECT_GE(Stat("lb_proxy_accept_paused_total{reason=\"max_connections\"}"), 1u);
  EXPECT_EQ(Stat("lb_proxy_max_connections"), 4u);

  // The idle ones are cut at the header timeout, so a waiting client gets in and is served.
  absl::StatusOr<HttpResponse> r = HttpGet(proxy_->port(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(EventLines("accept_paused"), 1) << proxy_->LogTail();
}

TEST_F(DescriptorsTest, OutOfDescriptorsTheListenersRestInsteadOfSpinning) {
  StartProxy({"--max_connections=100000", "--workers=2"});
  const pid_t pid = proxy_->pid();
  absl::StatusOr<uint64_t> limit = FdLimitAllowing(pid, 6);
  ASSERT_TRUE(limit.ok());
  ASSERT_TRUE(SetOpenFileLimit(pid, *limit).ok());

  OpenIdleClients(60);
  absl::SleepFor(absl::Milliseconds(500));
  const double cpu = CpuOver(absl::Seconds(2));
  EXPECT_LT(cpu, 0.5) << "accept() spins on EMFILE";
  // The clients that got in are served even now.
  CloseClients();
  ASSERT_TRUE(SetOpenFileLimit(pid, 4096).ok());
  absl::StatusOr<HttpResponse> r = HttpGet(proxy_->port(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(Stat("lb_proxy_accept_paused_total{reason=\"descriptors\"}"), 1u);
  // One line per 10 s at most, not one per failed accept().
  EXPECT_EQ(EventLines("accept_paused"), 1) << proxy_->LogTail();
  EXPECT_LT(proxy_->LogTail(1 << 20).size(), 64u * 1024);
}

TEST_F(DescriptorsTest, NoDescriptorForTheUpstreamIsALocal503NotTheHostsFault) {
  StartProxy({"--workers=1"});
  const pid_t pid = proxy_->pid();
  // Room for the client's connection and nothing more: the upstream socket() fails.
  std::string last;
  bool answered = WaitUntil(
      [&] {
        absl::StatusOr<uint64_t> limit = FdLimitAllowing(pid, 1);
        if (!limit.ok() || !SetOpenFileLimit(pid, *limit).ok()) return false;
        // The upstream closes after each answer, so no pooled connection saves the socket()
        // of the next try (a descriptor still closing can spoil one try).
        HttpRequest request;
        request.target = "/?close=1";
        absl::StatusOr<HttpResponse> r = HttpCall(proxy_->port(), request, absl::Seconds(3));
        (void)SetOpenFileLimit(pid, 4096);
        if (r.ok()) last += absl::StrCat(r->status, " ", r->body, "; ");
        if (!r.ok()) last += r.status().ToString() + "; ";
        return r.ok() && r->status == 503 &&
               absl::StrContains(r->body, "upstream connection not possible");
      },
      absl::Seconds(20));
  ASSERT_TRUE(answered) << last << "\n" << proxy_->LogTail();
  EXPECT_GE(Stat("lb_proxy_upstream_local_failures_total"), 1u);
  EXPECT_EQ(Stat(absl::StrCat("lb_proxy_upstream_failures_total{cluster=\"backend\",endpoint=\"",
                              backend_.address(), "\"}")),
            0u);
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy_->admin_port());
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(DumpEndpoints(*dump, "backend", /*eligible_only=*/true),
            std::vector<std::string>{backend_.address()});
  absl::StatusOr<HttpResponse> r = HttpGet(proxy_->port(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace lb::testing
