// Downstream HTTP/2 cleartext (h2c with prior knowledge) through the real proxy binary to
// HTTP/1.1 backends, with Debian's own HTTP/2 clients: curl --http2-prior-knowledge, nghttp
// (several streams on one connection) and h2load (2000 requests on 4 connections, 10 streams
// each). HTTP/1.1 on the same port keeps working, and a draining proxy finishes the streams
// in flight.
#include <signal.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

int Count(absl::string_view haystack, absl::string_view needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != absl::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class Http2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(a_.Start().ok());
    ASSERT_TRUE(b_.Start().ok());
    proxy_ =
        std::make_unique<ProxyProcess>("h2-proxy", std::vector<std::string>{"--drain_timeout=10s"});
    absl::Status s = proxy_->Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(proxy_->WaitReady().ok());
    ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", a_.port()).ok());
    ASSERT_TRUE(SeedConfig(controller_.rest_port(), "add", b_.port()).ok());
    ASSERT_TRUE(
        WaitForEndpoints(proxy_->admin_port(), "backend", {a_.address(), b_.address()}).ok());
  }

  std::string Url(absl::string_view path = "/") const {
    return absl::StrCat("http://127.0.0.1:", proxy_->port(), path);
  }

  ControllerProcess controller_;
  TestBackend a_{"a"};
  TestBackend b_{"b"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(Http2Test, CurlPriorKnowledge) {
  absl::StatusOr<CommandResult> r = RunCommand(
      {"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_code} %{http_version}",
       "-H", "cookie: a=1", "-H", "cookie: b=2", Url("/hello?x=1")},
      absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_TRUE(absl::StartsWith(r->out, "Hello from ")) << r->out;
  EXPECT_TRUE(absl::EndsWith(r->out, "\n200 2")) << r->out;
  // HTTP/1.1 still works on the same port.
  absl::StatusOr<CommandResult> h1 = RunCommand(
      {"/usr/bin/curl", "-sS", "--http1.1", "-w", "\n%{http_code} %{http_version}", Url()},
      absl::Seconds(20));
  ASSERT_TRUE(h1.ok());
  EXPECT_TRUE(absl::EndsWith(h1->out, "\n200 1.1")) << h1->out << h1->err;
  // An HTTP/1.1 "Upgrade: h2c" is answered as plain HTTP/1.1.
  absl::StatusOr<CommandResult> up =
      RunCommand({"/usr/bin/curl", "-sS", "--http2", "-w", "\n%{http_code} %{http_version}", Url()},
                 absl::Seconds(20));
  ASSERT_TRUE(up.ok());
  EXPECT_TRUE(absl::EndsWith(up->out, "\n200 1.1")) << up->out << up->err;
}

TEST_F(Http2Test, NghttpSeveralStreamsOnOneConnection) {
  std::vector<std::string> argv = {"/usr/bin/nghttp", "-v", "-n", "-t", "20"};
  for (int i = 0; i < 8; ++i) argv.push_back(Url(absl::StrCat("/s", i)));
  absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err << r->out.substr(0, 4000);
  EXPECT_EQ(Count(r->out, ":status: 200"), 8) << r->out.substr(0, 4000);
  // One connection: the server's SETTINGS and its ACK of ours.
  EXPECT_EQ(Count(r->out, "recv SETTINGS frame"), 2) << r->out.substr(0, 2000);
}

TEST_F(Http2Test, H2loadAllAnsweredAndBalanced) {
  absl::StatusOr<CommandResult> r = RunCommand(
      {"/usr/bin/h2load", "-n", "2000", "-c", "4", "-m", "10", Url()}, absl::Seconds(120));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_TRUE(absl::StrContains(r->out, "2000 succeeded, 0 failed, 0 errored")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "status codes: 2000 2xx")) << r->out;
  // Random balancing over two backends: each gets a fair share.
  EXPECT_EQ(a_.requests() + b_.requests(), 2000u);
  EXPECT_GT(a_.requests(), 600u);
  EXPECT_GT(b_.requests(), 600u);
  absl::StatusOr<HttpResponse> stats = HttpGet(proxy_->admin_port(), "/stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(absl::StrContains(stats->body, "lb_proxy_http2_connections_total 4")) << stats->body;
}

TEST_F(Http2Test, DrainFinishesStreamsInFlight) {
  CommandResult result;
  std::thread client([&] {
    absl::StatusOr<CommandResult> r =
        RunCommand({"/usr/bin/nghttp", "-v", "-n", "-t", "20", Url("/?delay_ms=1500"),
                    Url("/?delay_ms=1500&second=1")},
                   absl::Seconds(30));
    if (r.ok()) result = *r;
  });
  const bool started =
      WaitUntil([&] { return a_.in_flight() + b_.in_flight() == 2; }, absl::Seconds(10));
  proxy_->Signal(SIGTERM);
  client.join();
  ASSERT_TRUE(started);
  EXPECT_EQ(Count(result.out, ":status: 200"), 2) << result.out << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "recv GOAWAY frame")) << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "error_code=NO_ERROR(0x00)")) << result.out;
  absl::StatusOr<int> code = proxy_->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << proxy_->LogTail();
}

// No endpoint left: a gRPC call gets a Trailers-Only UNAVAILABLE, anything else a 503.
TEST_F(Http2Test, GrpcLocalReplyWhenNoEndpointIsHealthy) {
  ASSERT_TRUE(SeedConfig(controller_.rest_port(), "del", a_.port()).ok());
  ASSERT_TRUE(SeedConfig(controller_.rest_port(), "del", b_.port()).ok());
  ASSERT_TRUE(WaitForEndpoints(proxy_->admin_port(), "backend", {}).ok());
  for (const char* version : {"--http2-prior-knowledge", "--http1.1"}) {
    absl::StatusOr<CommandResult> r = RunCommand(
        // No request body: the answer comes at the request head, and curl 7.88 mishandles an
        // HTTP/2 answer that arrives before its upload ends (it waits, or on the RST_STREAM
        // NO_ERROR that follows such an answer reports a framing error).
        {"/usr/bin/curl", "-sS", "-v", "--max-time", "10", "-i", version, "-X", "POST", "-H",
         "content-type: application/grpc", "-H", "te: trailers", Url("/pkg.Svc/Method")},
        absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << version << " " << r.status() << proxy_->LogTail();
    EXPECT_EQ(r->exit_code, 0) << version << r->err;
    EXPECT_TRUE(absl::StrContains(r->out, " 200")) << version << r->out << r->err;
    EXPECT_TRUE(absl::StrContains(r->out, "grpc-status: 14\r\n")) << version << r->out;
    EXPECT_TRUE(absl::StrContains(r->out, "grpc-message: no healthy upstream")) << r->out;
    EXPECT_TRUE(absl::StrContains(r->out, "content-type: application/grpc\r\n")) << r->out;
  }
  absl::StatusOr<CommandResult> plain =
      RunCommand({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", "%{http_code}", "-o",
                  "/dev/null", Url("/")},
                 absl::Seconds(20));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->out, "503");
}

}  // namespace
}  // namespace lb::testing
