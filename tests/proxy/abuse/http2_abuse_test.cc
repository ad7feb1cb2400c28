// HTTP/2 attack shapes against the real proxy binary over h2c: rapid reset (CVE-2023-44487)
// and a ping flood from a client that never reads. Each connection ends with GOAWAY
// ENHANCE_YOUR_CALM (or is closed for the flood), the proxy's memory and CPU stay bounded, the
// counters say which limit was hit, and ordinary HTTP/2 clients are still served.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http2_frames.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proc_stats.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

uint64_t StatValue(const std::string& stats, absl::string_view line_start) {
  for (absl::string_view line : absl::StrSplit(stats, '\n')) {
    if (absl::StartsWith(line, line_start)) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &v)) return v;
    }
  }
  return 0;
}

class Http2AbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    backend_.set_delay(absl::Milliseconds(200));  // Work is still upstream when reset.
    ASSERT_TRUE(backend_.Start().ok());
    proxy_ = std::make_unique<ProxyProcess>("h2-abuse-proxy");
    absl::Status s = proxy_->Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(proxy_->WaitReady().ok());
    ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", backend_.port()).ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_->admin_port(), "backend", {backend_.address()}).ok());
  }

  // An ordinary client is served. (Within a few tries: right after an attack the one-thread-
  // per-connection test backend may still be working through the upstream connections the
  // attack's streams opened and the proxy closed, and a request can meet one of its resets.)
  void ExpectServed() {
    std::string last;
    const bool served = WaitUntil(
        [&] {
          absl::StatusOr<CommandResult> r =
              RunCommand({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w",
                          "\n%{http_code} %{http_version}",
                          absl::StrCat("http://127.0.0.1:", proxy_->port(), "/")},
                         absl::Seconds(20));
          if (!r.ok()) return false;
          last = r->out + r->err;
          return absl::EndsWith(r->out, "\n200 2");
        },
        absl::Seconds(10), absl::Milliseconds(200));
    EXPECT_TRUE(served) << last;
  }

  ControllerProcess controller_;
  TestBackend backend_{"b"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(Http2AbuseTest, RapidResetGetsGoawayWithBoundedMemoryAndCpu) {
  ExpectServed();
  absl::StatusOr<ProcStats> before = ReadProcStats(proxy_->pid());
  ASSERT_TRUE(before.ok());
  const std::string& block = H2GetBlock();
  constexpr int kConnections = 20;
  int goaways = 0;
  for (int c = 0; c < kConnections; ++c) {
    absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(proxy_->port());
    ASSERT_TRUE(conn.ok());
    std::string start = H2ClientStart();
    ASSERT_TRUE((*conn)->Send(start).ok());
    // Up to 10,000 HEADERS + RST_STREAM pairs in batches of 100; the proxy ends it far sooner.
    int32_t id = 1;
    for (int batch = 0; batch < 100; ++batch) {
      std::string bytes;
      for (int i = 0; i < 100; ++i, id += 2) {
        bytes += H2Frame(1, 0x05, id, block);
        bytes += H2Frame(3, 0, id, std::string("\0\0\0\x08", 4));
      }
      if (!(*conn)->Send(bytes, absl::Seconds(2)).ok()) break;
    }
    std::string got;
    EXPECT_TRUE((*conn)->WaitClosed(absl::Seconds(10), &got));
    if (H2GoawayCode(got) == 11) ++goaways;  // ENHANCE_YOUR_CALM.
  }
  EXPECT_EQ(goaways, kConnections);
  absl::StatusOr<ProcStats> after = ReadProcStats(proxy_->pid());
  ASSERT_TRUE(after.ok());
  // Bounded: a few MB at most for 20 connections of hostile streams; a few CPU seconds.
  EXPECT_LT(after->rss_bytes, before->rss_bytes + (32u << 20))
      << before->rss_bytes << " -> " << after->rss_bytes;
  EXPECT_LT(after->cpu_seconds - before->cpu_seconds, 10.0);
  absl::StatusOr<HttpResponse> stats = HttpGet(proxy_->admin_port(), "/stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatValue(stats->body,
                      "lb_proxy_http2_limit_exceeded_total{limit=\"http2_max_"
                      "premature_resets_per_second\"}"),
            static_cast<uint64_t>(kConnections))
      << stats->body;
  EXPECT_GE(StatValue(stats->body, "lb_proxy_http2_premature_resets_total"),
            static_cast<uint64_t>(kConnections) * 100);
  // The upstream work of the reset streams was abandoned, not left running.
  EXPECT_TRUE(WaitUntil([&] { return backend_.in_flight() == 0; }, absl::Seconds(10)));
  ExpectServed();
}

TEST_F(Http2AbuseTest, PingFloodFromAClientThatDoesNotRead) {
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(proxy_->port());
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Send(H2ClientStart()).ok());
  std::string pings;
  for (int i = 0; i < 1000; ++i) pings += H2Frame(6, 0, 0, std::string(8, 'p'));
  // Never read: the acknowledgements pile up until the proxy gives up on the connection.
  bool closed = false;
  for (int round = 0; round < 400 && !closed; ++round) {
    closed = !(*conn)->Send(pings, absl::Seconds(1)).ok();
  }
  EXPECT_TRUE(closed || (*conn)->WaitClosed(absl::Seconds(10)));
  absl::StatusOr<HttpResponse> stats = HttpGet(proxy_->admin_port(), "/stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatValue(stats->body,
                      "lb_proxy_http2_limit_exceeded_total{limit=\"http2_max_"
                      "outbound_control_frames\"}"),
            1u)
      << stats->body;
  ExpectServed();
}

}  // namespace
}  // namespace lb::testing
