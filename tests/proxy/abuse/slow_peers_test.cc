// Abuse suite, slow and greedy peers (issue table rows 1-3): an upstream that stalls after its
// response head, a client that pipelines without bound behind a slow upstream, and a tunnel
// whose client never reads. Each test runs the real binaries and asserts the bound: memory, the
// time until the connection is closed, the counters, and that a normal client is still served.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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

constexpr uint64_t kMiB = 1024 * 1024;

// An upstream that answers every request with a response head and the first bytes of a
// 1,000,000-byte body, then sends nothing more. It records how long after the head the proxy
// closed the connection.
class StallingBackend {
 public:
  StallingBackend() {
    listen_fd_ = ListenLoopback(16, &port_);
    thread_ = std::thread([this] { Run(); });
  }
  ~StallingBackend() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  int port() const { return port_; }
  // Seconds from the head to the proxy's close of the last stalled connection; < 0 while open.
  double closed_after() const { return closed_after_.load(); }
  bool head_sent() const { return head_sent_.load(); }

 private:
  void Run() {
    const absl::Time end = absl::Now() + absl::Seconds(60);
    while (!stop_ && absl::Now() < end) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      Serve(fd, end);
      close(fd);
    }
  }

  void Serve(int fd, absl::Time end) {
    std::string in;
    char buf[4096];
    while (!stop_ && absl::Now() < end && !absl::StrContains(in, "\r\n\r\n")) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    if (absl::StrContains(in, "/health")) {
      static constexpr char kOk[] =
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!write(fd, kOk, sizeof(kOk) - 1);
      return;
    }
    static constexpr char kHead[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nthe first bytes";
    if (write(fd, kHead, sizeof(kHead) - 1) <= 0) return;
    closed_after_ = -1;
    head_sent_ = true;
    const absl::Time sent = absl::Now();
    while (!stop_ && absl::Now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) {
        closed_after_ = absl::ToDoubleSeconds(absl::Now() - sent);
        return;
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> head_sent_{false};
  std::atomic<double> closed_after_{-1};
};

// Reads from `fd` until `needle` has arrived (true) or the deadline (false).
bool ReadUntil(int fd, absl::string_view needle, absl::Time deadline) {
  std::string in;
  char buf[4096];
  while (!absl::StrContains(in, needle)) {
    if (!WaitFor(fd, POLLIN, deadline, "data").ok()) return false;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
  }
  return true;
}

// Seconds until the proxy closes `fd` (reading and dropping what arrives), or -1 after `limit`.
double SecondsUntilClosed(int fd, absl::Duration limit) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + limit;
  char buf[4096];
  while (absl::Now() < deadline) {
    if (!WaitFor(fd, POLLIN, deadline, "close").ok()) return -1;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return absl::ToDoubleSeconds(absl::Now() - start);
  }
  return -1;
}

// A controller, one proxy and the "backend" cluster on `port` (the seed's API).
class AbuseEnv {
 public:
  explicit AbuseEnv(std::vector<std::string> proxy_flags)
      : proxy_("abuse", std::move(proxy_flags)) {}

  // `cluster_patch`: a JSON body for PATCH /v1/clusters/backend before the proxy starts.
  absl::Status Start(int backend_port, const std::string& cluster_patch = "") {
    if (absl::Status s = controller_.Start(); !s.ok()) return s;
    if (absl::Status s = SeedConfig(controller_.rest_port(), "add", backend_port); !s.ok()) {
      return s;
    }
    if (!cluster_patch.empty()) {
      if (absl::Status s =
              V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/backend", cluster_patch, 200);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = proxy_.Start(controller_.grpc_target()); !s.ok()) return s;
    if (absl::Status s = proxy_.WaitReady(); !s.ok()) return s;
    return WaitForEndpoints(proxy_.admin_port(), "backend", {LoopbackAddress(backend_port)});
  }

  ControllerProcess& controller() { return controller_; }
  ProxyProcess& proxy() { return proxy_; }
  uint64_t Stat(const std::string& series) {
    absl::StatusOr<uint64_t> v = StatValue(proxy_.admin_port(), series);
    return v.ok() ? *v : 0;
  }
  uint64_t Rss() {
    absl::StatusOr<ProcStats> s = ReadProcStats(proxy_.pid());
    return s.ok() ? s->rss_bytes : 0;
  }

 private:
  ControllerProcess controller_;
  ProxyProcess proxy_;
};

int ConnectOrDie(int port) {
  absl::StatusOr<int> fd = ConnectLoopback(port, absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(fd.ok()) << fd.status();
  return fd.ok() ? *fd : -1;
}

void SendAll(int fd, absl::string_view data) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!data.empty()) {
    ASSERT_TRUE(WaitFor(fd, POLLOUT, deadline, "writable").ok());
    ssize_t n = write(fd, data.data(), data.size());
    ASSERT_GT(n, 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Writes `chunk` over and over for `duration` without reading; returns the bytes the peer took.
uint64_t Flood(int fd, absl::string_view chunk, absl::Duration duration) {
  const absl::Time end = absl::Now() + duration;
  uint64_t sent = 0;
  size_t offset = 0;
  while (absl::Now() < end) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    if (p.revents & (POLLERR | POLLHUP)) break;
    ssize_t n = send(fd, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<uint64_t>(n);
    offset = (offset + static_cast<size_t>(n)) % chunk.size();
  }
  return sent;
}

// Row 1: the client leaves while the upstream stalls after its head: the upstream request is
// reset at once, not kept until the upstream speaks again.
TEST(SlowPeersTest, ClientClosingMidResponseResetsTheStalledUpstream) {
  StallingBackend backend;
  AbuseEnv env({"--idle_timeout=3s"});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();
  const int fds_before = ReadProcStats(env.proxy().pid())->open_fds;

  int fd = ConnectOrDie(env.proxy().port());
  SendAll(fd, "GET /stall HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(ReadUntil(fd, "the first bytes", absl::Now() + absl::Seconds(10)));
  close(fd);

  ASSERT_TRUE(WaitUntil([&] { return backend.closed_after() >= 0; }, absl::Seconds(5)))
      << "the proxy kept the stalled upstream request after its client left";
  EXPECT_LT(backend.closed_after(), 2.0);
  // Neither the client's socket (CLOSE-WAIT) nor the upstream's is left behind.
  EXPECT_TRUE(WaitUntil([&] { return ReadProcStats(env.proxy().pid())->open_fds <= fds_before; },
                        absl::Seconds(5)))
      << ReadProcStats(env.proxy().pid())->open_fds << " descriptors, " << fds_before << " before";
  EXPECT_EQ(env.Stat("lb_proxy_downstream_resets_total"), 1u);
}

// Row 1, the client stays: with no bytes either way for --stream_idle_timeout the stream is
// reset on both sides.
TEST(SlowPeersTest, StalledResponseIsCutAfterTheStreamIdleTimeout) {
  StallingBackend backend;
  AbuseEnv env({"--stream_idle_timeout=1s"});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();

  int fd = ConnectOrDie(env.proxy().port());
  SendAll(fd, "GET /stall HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(ReadUntil(fd, "the first bytes", absl::Now() + absl::Seconds(10)));
  const double closed = SecondsUntilClosed(fd, absl::Seconds(8));
  close(fd);
  EXPECT_GE(closed, 0.5);
  EXPECT_LE(closed, 4.0);
  ASSERT_TRUE(WaitUntil([&] { return backend.closed_after() >= 0; }, absl::Seconds(5)));
  EXPECT_EQ(env.Stat("lb_proxy_timeouts_total{kind=\"stream_idle\"}"), 1u);
}

// The whole-response timeout (off by default) cuts a response whose body never ends.
TEST(SlowPeersTest, UpstreamResponseTimeoutCutsAResponseThatNeverEnds) {
  StallingBackend backend;
  AbuseEnv env({"--upstream_response_timeout=1s"});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();

  int fd = ConnectOrDie(env.proxy().port());
  SendAll(fd, "GET /stall HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(ReadUntil(fd, "the first bytes", absl::Now() + absl::Seconds(10)));
  const double closed = SecondsUntilClosed(fd, absl::Seconds(8));
  close(fd);
  EXPECT_GE(closed, 0.3);
  EXPECT_LE(closed, 4.0);
  EXPECT_EQ(env.Stat("lb_proxy_timeouts_total{kind=\"upstream_response\"}"), 1u);
}

// Row 2: a GET to a slow upstream followed by an endless pipeline on the same connection. The
// proxy takes at most its buffer limit (plus what the kernel's socket buffers hold) and stays
// small; other clients are served meanwhile.
TEST(SlowPeersTest, PipelinedFloodBehindASlowUpstreamIsNotBuffered) {
  TestBackend backend("web");
  ASSERT_TRUE(backend.Start().ok());
  AbuseEnv env({});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();
  const uint64_t rss_before = env.Rss();

  int fd = ConnectOrDie(env.proxy().port());
  SendAll(fd, "GET /?delay_ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string pipeline;
  for (int i = 0; i < 2000; ++i) pipeline += "GET /more HTTP/1.1\r\nHost: x\r\n\r\n";
  std::atomic<uint64_t> taken{0};
  std::thread flood([&] { taken = Flood(fd, pipeline, absl::Seconds(3)); });
  absl::SleepFor(absl::Seconds(1));
  absl::StatusOr<HttpResponse> normal = HttpGet(env.proxy().port(), "/");
  flood.join();
  const uint64_t rss_during = env.Rss();
  close(fd);

  ASSERT_TRUE(normal.ok()) << normal.status();
  EXPECT_EQ(normal->status, 200);
  // 1 MiB of proxy buffer, the rest in loopback socket buffers (a few MiB each way).
  EXPECT_LT(taken.load(), 24 * kMiB) << "the proxy read the pipeline without bound";
  EXPECT_LT(rss_during, rss_before + 16 * kMiB)
      << "RSS " << rss_before / 1024 << " KiB -> " << rss_during / 1024 << " KiB";
}

// An upstream whose connect never completes: it listens with a backlog of 0, and one
// connection (never accepted) fills that, so the kernel drops every further SYN.
class BlackholeBackend {
 public:
  BlackholeBackend() {
    listen_fd_ = ListenLoopback(0, &port_);
    absl::StatusOr<int> filler = ConnectLoopback(port_, absl::Now() + absl::Seconds(5));
    filler_ = filler.ok() ? *filler : -1;
  }
  ~BlackholeBackend() {
    if (filler_ >= 0) close(filler_);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  bool ok() const { return listen_fd_ >= 0 && filler_ >= 0; }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int filler_ = -1;
  int port_ = 0;
};

// Row 2 as reported: the read side used to be paused only once the upstream had connected. A
// GET to an upstream whose connect hangs, then an endless pipeline: meanwhile the proxy takes
// at most its buffer limit, and the GET still gets its answer when the connect times out.
TEST(SlowPeersTest, PipelinedFloodWhileTheUpstreamIsStillConnectingIsNotBuffered) {
  BlackholeBackend backend;
  ASSERT_TRUE(backend.ok());
  AbuseEnv env({});
  ASSERT_TRUE(env.Start(backend.port(), R"({"connect_timeout":"6s","retries":0})").ok())
      << env.proxy().LogTail();
  const uint64_t rss_before = env.Rss();

  int fd = ConnectOrDie(env.proxy().port());
  const absl::Time sent = absl::Now();
  SendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string pipeline;
  for (int i = 0; i < 2000; ++i) pipeline += "GET /more HTTP/1.1\r\nHost: x\r\n\r\n";
  const uint64_t taken = Flood(fd, pipeline, absl::Seconds(3));
  const uint64_t rss_during = env.Rss();
  // Still connecting: the flood ended before the connect timeout.
  EXPECT_LT(absl::Now() - sent, absl::Seconds(5));
  EXPECT_EQ(env.Stat("lb_proxy_upstream_connect_failures_total"), 0u);

  EXPECT_LT(taken, 24 * kMiB) << "the proxy read the pipeline without bound";
  EXPECT_LT(rss_during, rss_before + 16 * kMiB)
      << "RSS " << rss_before / 1024 << " KiB -> " << rss_during / 1024 << " KiB";
  // The first request is answered once the connect times out (6 s after it was sent).
  EXPECT_TRUE(ReadUntil(fd, "HTTP/1.1 504", sent + absl::Seconds(15)));
  close(fd);
  EXPECT_GE(env.Stat("lb_proxy_upstream_connect_failures_total"), 1u);
}

// Row 3: a WebSocket client that sends without reading, to an echo upstream: both directions of
// the tunnel are paused at the watermarks; memory stays bounded.
TEST(SlowPeersTest, TunnelToAClientThatNeverReadsIsPaused) {
  TestBackend backend("echo");
  ASSERT_TRUE(backend.Start().ok());
  AbuseEnv env({});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();
  const uint64_t rss_before = env.Rss();

  int fd = ConnectOrDie(env.proxy().port());
  SendAll(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_TRUE(ReadUntil(fd, "\r\n\r\n", absl::Now() + absl::Seconds(10)));
  const std::string chunk(64 * 1024, 'w');
  uint64_t taken = Flood(fd, chunk, absl::Seconds(4));
  const uint64_t rss_during = env.Rss();
  absl::StatusOr<HttpResponse> normal = HttpGet(env.proxy().port(), "/");
  close(fd);

  ASSERT_TRUE(normal.ok()) << normal.status();
  EXPECT_EQ(normal->status, 200);
  EXPECT_LT(taken, 48 * kMiB) << "the tunnel buffered without bound";
  EXPECT_LT(rss_during, rss_before + 16 * kMiB)
      << "RSS " << rss_before / 1024 << " KiB -> " << rss_during / 1024 << " KiB";
}

// A slow reader (the response direction): a 64 MiB answer to a client that never reads. The
// proxy stops reading the upstream at its buffer limit instead of taking the whole body in;
// nothing is lost: once the client reads, the answer arrives whole.
TEST(SlowPeersTest, ResponseToAClientThatNeverReadsIsPausedNotBuffered) {
  TestBackend backend("web");
  ASSERT_TRUE(backend.Start().ok());
  AbuseEnv env({});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();
  const uint64_t rss_before = env.Rss();

  constexpr uint64_t kBody = 64 * kMiB;
  int fd = ConnectOrDie(env.proxy().port());
  // A small receive buffer, so the kernel holds little of the answer on our side.
  int small = 64 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  SendAll(fd, absl::StrCat("GET /?size=", kBody, " HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Unpaused, loopback moves 64 MiB in well under a second: watch the proxy for three.
  uint64_t rss_peak = 0;
  const absl::Time end = absl::Now() + absl::Seconds(3);
  while (absl::Now() < end) {
    rss_peak = std::max(rss_peak, env.Rss());
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::StatusOr<HttpResponse> normal = HttpGet(env.proxy().port(), "/");
  ASSERT_TRUE(normal.ok()) << normal.status();
  EXPECT_EQ(normal->status, 200);
  EXPECT_LT(rss_peak, rss_before + 16 * kMiB)
      << "RSS " << rss_before / 1024 << " KiB -> " << rss_peak / 1024 << " KiB";

  // Now read it all: the head, then exactly kBody bytes of 'x'.
  std::string head;
  uint64_t body = 0;
  bool all_x = true;
  char buf[65536];
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (body < kBody) {
    ASSERT_TRUE(WaitFor(fd, POLLIN, deadline, "response").ok()) << body << " body bytes";
    ssize_t n = read(fd, buf, sizeof(buf));
    ASSERT_GT(n, 0) << "closed after " << body << " body bytes";
    absl::string_view got(buf, static_cast<size_t>(n));
    if (size_t end_of_head = head.find("\r\n\r\n"); end_of_head == std::string::npos) {
      head.append(got.data(), got.size());
      end_of_head = head.find("\r\n\r\n");
      if (end_of_head == std::string::npos) continue;
      got = absl::string_view(head).substr(end_of_head + 4);
      body += got.size();
      all_x = all_x && got.find_first_not_of('x') == absl::string_view::npos;
      head.resize(end_of_head + 4);
      continue;
    }
    body += got.size();
    all_x = all_x && got.find_first_not_of('x') == absl::string_view::npos;
  }
  close(fd);
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200")) << head;
  EXPECT_TRUE(
      absl::StrContains(absl::AsciiStrToLower(head), absl::StrCat("content-length: ", kBody)))
      << head;
  EXPECT_EQ(body, kBody);
  EXPECT_TRUE(all_x);
}

// An idle tunnel is closed after --tunnel_idle_timeout (not the 5-minute stream idle timeout).
TEST(SlowPeersTest, IdleTunnelIsClosedAfterTheTunnelIdleTimeout) {
  TestBackend backend("echo");
  ASSERT_TRUE(backend.Start().ok());
  AbuseEnv env({"--tunnel_idle_timeout=1s"});
  ASSERT_TRUE(env.Start(backend.port()).ok()) << env.proxy().LogTail();

  int fd = ConnectOrDie(env.proxy().port());
  SendAll(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_TRUE(ReadUntil(fd, "\r\n\r\n", absl::Now() + absl::Seconds(10)));
  SendAll(fd, "ping");
  ASSERT_TRUE(ReadUntil(fd, "ping", absl::Now() + absl::Seconds(5)));
  const double closed = SecondsUntilClosed(fd, absl::Seconds(8));
  close(fd);
  EXPECT_GE(closed, 0.5);
  EXPECT_LE(closed, 4.0);
  EXPECT_EQ(env.Stat("lb_proxy_timeouts_total{kind=\"tunnel_idle\"}"), 1u);
}

}  // namespace
}  // namespace lb::testing
