// SIGTERM drains the proxy: a request in flight (2 s) completes with 200, idle keep-alive
// connections are closed, new connections are refused, and the process exits 0 within the
// drain timeout.
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class DrainTest : public ::testing::Test {
 protected:
  void Init(const std::string& drain_timeout) {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(slow_.Start().ok());
    proxy_ = std::make_unique<ProxyProcess>(
        "drain-proxy", std::vector<std::string>{absl::StrCat("--drain_timeout=", drain_timeout)});
    absl::Status s = proxy_->Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(proxy_->WaitReady().ok());
    ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", slow_.port()).ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_->admin_port(), "backend", {slow_.address()}).ok());
  }

  // True once a new TCP connection to the proxy's port is refused.
  bool Refused() {
    absl::StatusOr<std::unique_ptr<Connection>> c =
        Connection::Open(proxy_->port(), absl::Seconds(1));
    return !c.ok();
  }

  ControllerProcess controller_;
  TestBackend slow_{"slow"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(DrainTest, InFlightRequestCompletesThenExitZero) {
  Init("5s");
  // An idle keep-alive connection (one request done) and a slow request in flight.
  absl::StatusOr<std::unique_ptr<Connection>> idle = Connection::Open(proxy_->port());
  ASSERT_TRUE(idle.ok());
  absl::StatusOr<HttpResponse> first = (*idle)->Get("/");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->status, 200);

  absl::StatusOr<std::unique_ptr<Connection>> busy = Connection::Open(proxy_->port());
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE((*busy)->Send("GET /?delay_ms=2000 HTTP/1.1\r\nHost: test\r\n\r\n").ok());
  ASSERT_TRUE(WaitUntil([&] { return slow_.in_flight() == 1; }, absl::Seconds(10)));

  absl::Time sigterm = absl::Now();
  proxy_->Signal(SIGTERM);

  // New connections are refused while the slow request is still in flight.
  EXPECT_TRUE(
      WaitUntil([&] { return Refused(); }, absl::Milliseconds(1500), absl::Milliseconds(10)))
      << "the proxy still accepts connections while draining";
  EXPECT_EQ(slow_.in_flight(), 1);
  // The admin API says it is draining.
  absl::StatusOr<HttpResponse> ready = HttpGet(proxy_->admin_port(), "/ready");
  if (ready.ok()) {
    EXPECT_EQ(ready->status, 503);
    EXPECT_EQ(ready->body, "draining\n");
  }
  // The idle keep-alive connection is closed.
  std::string extra;
  EXPECT_TRUE((*idle)->WaitClosed(absl::Seconds(2), &extra)) << "idle connection left open";
  EXPECT_EQ(extra, "");

  // The in-flight request completes.
  absl::StatusOr<HttpResponse> r = (*busy)->Read(absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello from slow\n");
  EXPECT_GE(absl::Now() - sigterm, absl::Milliseconds(1500));
  // ... and its connection is closed afterwards.
  EXPECT_TRUE((*busy)->WaitClosed(absl::Seconds(2)));

  // The proxy exits 0 well within the drain timeout.
  absl::StatusOr<int> code = proxy_->Wait(absl::Seconds(5));
  ASSERT_TRUE(code.ok()) << "proxy did not exit within 5 s of SIGTERM";
  EXPECT_EQ(*code, 0) << proxy_->LogTail();
  EXPECT_LT(absl::Now() - sigterm, absl::Seconds(5));
}

// The response to a request that was in flight when draining started says
// "Connection: close" (Worker::Drain: "answer the rest with Connection: close").
TEST_F(DrainTest, InFlightResponseSaysConnectionClose) {
  Init("5s");
  absl::StatusOr<std::unique_ptr<Connection>> busy = Connection::Open(proxy_->port());
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE((*busy)->Send("GET /?delay_ms=500 HTTP/1.1\r\nHost: test\r\n\r\n").ok());
  ASSERT_TRUE(WaitUntil([&] { return slow_.in_flight() == 1; }, absl::Seconds(10)));
  proxy_->Signal(SIGTERM);
  absl::StatusOr<HttpResponse> r = (*busy)->Read(absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE((*busy)->WaitClosed(absl::Seconds(2)));
  absl::StatusOr<int> code = proxy_->Wait(absl::Seconds(5));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << proxy_->LogTail();
  EXPECT_EQ(r->Header("Connection"), "close") << r->raw;
}

// A request slower than the drain timeout is cut when the timeout expires; the proxy still
// exits 0 soon after the timeout.
TEST_F(DrainTest, DrainTimeoutCutsSlowRequests) {
  Init("1s");
  absl::StatusOr<std::unique_ptr<Connection>> busy = Connection::Open(proxy_->port());
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE((*busy)->Send("GET /?delay_ms=10000 HTTP/1.1\r\nHost: test\r\n\r\n").ok());
  ASSERT_TRUE(WaitUntil([&] { return slow_.in_flight() == 1; }, absl::Seconds(10)));
  absl::Time sigterm = absl::Now();
  proxy_->Signal(SIGTERM);
  absl::StatusOr<int> code = proxy_->Wait(absl::Seconds(5));
  ASSERT_TRUE(code.ok()) << "proxy did not exit within 5 s of SIGTERM (drain timeout 1 s)";
  EXPECT_EQ(*code, 0);
  absl::Duration took = absl::Now() - sigterm;
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(4));
  absl::StatusOr<HttpResponse> r = (*busy)->Read(absl::Seconds(2));
  EXPECT_FALSE(r.ok()) << "a request cut by the drain timeout got a response: " << r->raw;
}

}  // namespace
}  // namespace lb::testing
