// Tests of common/http/evhttp_server.cc over loopback: status lines and bodies as written.
#include "common/http/evhttp_server.h"

#include <poll.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/wait.h"

namespace lb::http {
namespace {

// Answers "/<status>" with that status and body "s<status>".
std::unique_ptr<EvhttpServer> StartStatusServer(EvhttpLimits limits = {}) {
  absl::StatusOr<std::unique_ptr<EvhttpServer>> server = EvhttpServer::Start(
      "127.0.0.1:0",
      [](const HttpRequest& req) {
        HttpResponse resp;
        if (!absl::SimpleAtoi(absl::string_view(req.target).substr(1), &resp.status)) {
          resp.status = 400;
        }
        resp.body = "s" + std::to_string(resp.status);
        return resp;
      },
      1024, limits);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(EvhttpServerTest, StatusLineCarriesTheReasonPhrase) {
  std::unique_ptr<EvhttpServer> server = StartStatusServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);
  struct Case {
    int status;
    const char* reason;
  };
  for (const Case& c :
       {Case{200, "OK"}, Case{201, "Created"}, Case{404, "Not Found"}, Case{409, "Conflict"},
        Case{503, "Service Unavailable"}, Case{418, "Client Error"}}) {
    absl::StatusOr<testing::HttpResponse> r =
        testing::HttpGet(server->port(), "/" + std::to_string(c.status));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->reason, c.reason) << c.status;
    EXPECT_EQ(r->body, "s" + std::to_string(c.status));
  }
}

// True once the server has closed `fd` (read gives 0 or an error), within `timeout`.
bool ClosedByServer(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  while (testing::WaitFor(fd, POLLIN, deadline, "close").ok()) {
    if (read(fd, buf, sizeof(buf)) <= 0) return true;
  }
  return false;
}

TEST(EvhttpServerTest, AtMaxConnectionsTheListenerWaitsUntilOneCloses) {
  EvhttpLimits limits;
  limits.max_connections = 2;
  std::unique_ptr<EvhttpServer> server = StartStatusServer(limits);
  ASSERT_NE(server, nullptr);
  std::vector<int> idle;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<int> fd =
        testing::ConnectLoopback(server->port(), absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(fd.ok()) << fd.status();
    idle.push_back(*fd);
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return server->stats()->open == 2; }, absl::Seconds(5)));
  EXPECT_EQ(server->stats()->paused_at_cap, 1u);

  // A third client is not taken (it waits in the kernel's backlog) ...
  auto third =
      std::async(std::launch::async, [&] { return testing::HttpGet(server->port(), "/200"); });
  EXPECT_EQ(third.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout);
  EXPECT_EQ(server->stats()->open, 2);
  // ... until a slot frees.
  close(idle[0]);
  absl::StatusOr<testing::HttpResponse> r = third.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  close(idle[1]);
  EXPECT_TRUE(testing::WaitUntil([&] { return server->stats()->open == 0; }, absl::Seconds(5)));
}

TEST(EvhttpServerTest, RequestTimeoutClosesSlowAndIdleKeepAliveConnections) {
  EvhttpLimits limits;
  limits.request_timeout = absl::Milliseconds(300);
  std::unique_ptr<EvhttpServer> server = StartStatusServer(limits);
  ASSERT_NE(server, nullptr);
  // Half a request, never finished.
  absl::StatusOr<int> slow =
      testing::ConnectLoopback(server->port(), absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(slow.ok());
  const std::string head = "GET /200 HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(write(*slow, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  EXPECT_TRUE(ClosedByServer(*slow, absl::Seconds(5)));
  close(*slow);
  EXPECT_EQ(server->stats()->timed_out, 1u);

  // A keep-alive connection is answered, then closed once idle for the timeout.
  absl::StatusOr<std::unique_ptr<testing::Connection>> conn =
      testing::Connection::Open(server->port());
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<testing::HttpResponse> r = (*conn)->Get("/204");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE((*conn)->WaitClosed(absl::Seconds(5)));
  EXPECT_EQ(server->stats()->timed_out, 2u);
  EXPECT_TRUE(testing::WaitUntil([&] { return server->stats()->open == 0; }, absl::Seconds(5)));
}

}  // namespace
}  // namespace lb::http
