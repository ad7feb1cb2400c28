// Abuse suite, descriptors (issue table row 4): more clients than --max_connections, and a
// proxy whose descriptor limit runs out. The listeners rest instead of spinning, say so once,
// count it, never blame an upstream for a local shortage, and serve again once there is room.
#include <sys/resource.h>
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
  // The listeners' CPU over `d`.
  double CpuOver(absl::Duration d) { return *CpuSecondsOver(proxy_->pid(), d); }
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
  IdleClients clients_;
};

TEST_F(DescriptorsTest, AtMaxConnectionsTheListenersRestAndResumeWhenASlotFrees) {
  StartProxy({"--max_connections=4", "--request_header_timeout=2s", "--workers=2"});
  ASSERT_TRUE(clients_.Open(proxy_->port(), 10).ok());
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

  ASSERT_TRUE(clients_.Open(proxy_->port(), 60).ok());
  // The admin server (evhttp) is out of descriptors too: it used to spin and log each failure.
  ASSERT_TRUE(clients_.Open(proxy_->admin_port(), 20).ok());
  absl::SleepFor(absl::Milliseconds(500));
  const double cpu = CpuOver(absl::Seconds(2));
  EXPECT_LT(cpu, 0.5) << "accept() spins on EMFILE";
  // The clients that got in are served even now.
  clients_.CloseAll();
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

// Row 4, health checks: a check that cannot get a socket is no verdict on the host. With two
// failed checks in a row enough to take the endpoint out, the checks run for a while with no
// descriptor left (five intervals at a time); the endpoint stays in, no failure is counted
// against it, and the skips are counted.
TEST_F(DescriptorsTest, NoDescriptorForAHealthCheckIsNotTheHostsFault) {
  StartProxy({"--workers=1"});
  absl::Status patched =
      V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/backend",
             R"({"health_check":{"path":"/health","interval":"0.1s","timeout":"0.1s",)"
             R"("healthy_threshold":1,"unhealthy_threshold":2}})",
             200);
  ASSERT_TRUE(patched.ok()) << patched;
  ASSERT_TRUE(WaitUntil([&] { return backend_.health_checks() >= 3; }, absl::Seconds(10)));
  const pid_t pid = proxy_->pid();
  uint64_t skipped = 0;
  // Each round: no descriptor to spare for 500 ms, then room to read /stats.
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<uint64_t> limit = FdLimitAllowing(pid, 1);
        if (!limit.ok() || !SetOpenFileLimit(pid, *limit - 1).ok()) return false;
        absl::SleepFor(absl::Milliseconds(500));
        if (!SetOpenFileLimit(pid, 4096).ok()) return false;
        skipped = Stat("lb_proxy_health_checks_skipped_total");
        return skipped >= 8;
      },
      absl::Seconds(20)))
      << skipped << " skipped\n"
      << proxy_->LogTail();
  // Checks run again and pass.
  const uint64_t checks = backend_.health_checks();
  ASSERT_TRUE(WaitUntil([&] { return backend_.health_checks() > checks + 2; }, absl::Seconds(10)));
  EXPECT_EQ(EventLines("endpoint_health"), 0) << proxy_->LogTail();
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

// The proxy raises its soft descriptor limit to the hard limit at start, says so, and derives
// --max_connections from it.
TEST_F(DescriptorsTest, TheDescriptorLimitIsRaisedToTheHardLimitAndLogged) {
  rlimit mine{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &mine), 0);
  if (mine.rlim_max == RLIM_INFINITY || mine.rlim_max < 2048) {
    GTEST_SKIP() << "needs a finite hard limit of at least 2048, have " << mine.rlim_max;
  }
  // The proxy inherits a soft limit of 1024 from this process.
  rlimit low{1024, mine.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  StartProxy({"--workers=1"});
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &mine), 0);

  rlimit proxy_limit{};
  ASSERT_EQ(prlimit(proxy_->pid(), RLIMIT_NOFILE, nullptr, &proxy_limit), 0);
  EXPECT_EQ(proxy_limit.rlim_cur, mine.rlim_max);
  const uint64_t want = (mine.rlim_max - 64) / 2;  // process::ConnectionsFor.
  EXPECT_EQ(Stat("lb_proxy_max_connections"), want);
  EXPECT_TRUE(absl::StrContains(proxy_->LogTail(1 << 20),
                                absl::StrCat("descriptor limit ", mine.rlim_max,
                                             " (was 1024); at most ", want, " client connections")))
      << proxy_->LogTail();
}

}  // namespace
}  // namespace lb::testing
