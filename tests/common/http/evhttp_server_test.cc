// Tests of common/http/evhttp_server.cc over loopback: status lines and bodies as written.
#include "common/http/evhttp_server.h"

#include <poll.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

// Serves /stream with a ResponseStream of `max_queued` bytes, handed to the test through `out`.
struct StreamServer {
  absl::Mutex mu;
  std::shared_ptr<ResponseStream> stream ABSL_GUARDED_BY(mu);
  std::unique_ptr<EvhttpServer> server;

  std::shared_ptr<ResponseStream> WaitStream() {
    std::shared_ptr<ResponseStream> s;
    testing::WaitUntil(
        [&] {
          absl::MutexLock lock(&mu);
          s = stream;
          return s != nullptr;
        },
        absl::Seconds(5));
    return s;
  }
};

std::unique_ptr<StreamServer> StartStreamServer(size_t max_queued, EvhttpLimits limits = {}) {
  auto ss = std::make_unique<StreamServer>();
  StreamServer* raw = ss.get();
  absl::StatusOr<std::unique_ptr<EvhttpServer>> server = EvhttpServer::Start(
      "127.0.0.1:0",
      [raw, max_queued](const HttpRequest&) {
        HttpResponse resp;
        resp.content_type = "text/event-stream";
        resp.stream = std::make_shared<ResponseStream>(max_queued);
        absl::MutexLock lock(&raw->mu);
        raw->stream = resp.stream;
        return resp;
      },
      1024, limits);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  ss->server = std::move(*server);
  return ss;
}

// Reads from `fd` until `want` is in what was read (or the deadline); returns what was read.
std::string ReadUntil(int fd, absl::string_view want, absl::Duration timeout) {
  std::string got;
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  while (!absl::StrContains(got, want) && testing::WaitFor(fd, POLLIN, deadline, "read").ok()) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// A stream server and one client connection that asked it for /stream.
class EvhttpStreamTest : public ::testing::Test {
 protected:
  ~EvhttpStreamTest() override { CloseClient(); }

  // Starts the server (ss_) and sends "GET /stream" on a new connection (fd_). Check with
  // ASSERT_NO_FATAL_FAILURE.
  void StartAndRequest(size_t max_queued, EvhttpLimits limits = {}) {
    ss_ = StartStreamServer(max_queued, limits);
    ASSERT_NE(ss_, nullptr);
    absl::StatusOr<int> fd =
        testing::ConnectLoopback(ss_->server->port(), absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(fd.ok()) << fd.status();
    fd_ = *fd;
    const std::string req = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(write(fd_, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  }

  void CloseClient() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  std::unique_ptr<StreamServer> ss_;
  int fd_ = -1;
};

TEST_F(EvhttpStreamTest, StreamSendsHeadersThenEachWriteThenEndsOnClose) {
  EvhttpLimits limits;
  // Shorter than the stream lasts: neither the request deadline nor the idle timeout may end a
  // stream that is written to.
  limits.request_timeout = absl::Milliseconds(300);
  limits.idle_timeout = absl::Seconds(1);
  ASSERT_NO_FATAL_FAILURE(StartAndRequest(1024, limits));
  std::string head = ReadUntil(fd_, "\r\n\r\n", absl::Seconds(5));
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Content-Type: text/event-stream\r\n")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Transfer-Encoding: chunked\r\n")) << head;
  std::shared_ptr<ResponseStream> stream = ss_->WaitStream();
  ASSERT_NE(stream, nullptr);
  for (int i = 0; i < 6; ++i) {
    const std::string event = absl::StrCat("data: ", i, "\n\n");
    ASSERT_TRUE(stream->Write(event));
    // One chunk: its size in hex, the bytes.
    std::string got = ReadUntil(fd_, event, absl::Seconds(5));
    EXPECT_EQ(got, absl::StrCat("9\r\n", event, "\r\n")) << i;
    absl::SleepFor(absl::Milliseconds(300));  // 1.8 s in all: past both timeouts.
  }
  stream->Close();
  EXPECT_EQ(ReadUntil(fd_, "0\r\n\r\n", absl::Seconds(5)), "0\r\n\r\n");
}

TEST(EvhttpServerTest, HeadOfAStreamGetsHeadersOnlyAndClosesTheStream) {
  std::unique_ptr<StreamServer> ss = StartStreamServer(1024);
  ASSERT_NE(ss, nullptr);
  testing::HttpRequest head;
  head.method = "HEAD";
  head.target = "/stream";
  absl::StatusOr<testing::HttpResponse> r = testing::HttpCall(ss->server->port(), head);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(r->body, "");
  std::shared_ptr<ResponseStream> stream = ss->WaitStream();
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("data: x\n\n"));
}

TEST_F(EvhttpStreamTest, StreamIsClosedWhenTheClientGoesAway) {
  ASSERT_NO_FATAL_FAILURE(StartAndRequest(1024));
  std::shared_ptr<ResponseStream> stream = ss_->WaitStream();
  ASSERT_NE(stream, nullptr);
  CloseClient();
  // The server learns of the close when it reads EOF or a write fails: keep writing.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        stream->Write(": ping\n\n");
        return stream->closed();
      },
      absl::Seconds(5)));
  EXPECT_FALSE(stream->overflowed());
  EXPECT_FALSE(stream->Write("x"));
  EXPECT_TRUE(
      testing::WaitUntil([&] { return ss_->server->stats()->open == 0; }, absl::Seconds(5)));
}

TEST_F(EvhttpStreamTest, StreamOfAClientThatDoesNotReadOverflowsAndEnds) {
  ASSERT_NO_FATAL_FAILURE(StartAndRequest(64 * 1024));
  std::shared_ptr<ResponseStream> stream = ss_->WaitStream();
  ASSERT_NE(stream, nullptr);
  // The client reads nothing: the socket buffers fill, then the connection's output, then the
  // stream's queue, and the write that would pass its cap fails.
  const std::string event(16 * 1024, 'x');
  int writes = 0;
  while (writes < 10000 && stream->Write(event)) {
    ++writes;
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_LT(writes, 10000);  // 160 MB: far more than any socket buffers.
  EXPECT_TRUE(stream->overflowed());
  EXPECT_TRUE(stream->closed());
}

}  // namespace
}  // namespace lb::http
