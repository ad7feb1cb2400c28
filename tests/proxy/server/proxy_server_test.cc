// ProxyServer on loopback without a controller: how client connections spread over workers.
#include "proxy/server/proxy_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/http_client.h"

namespace lb::proxy {
namespace {

int ConnectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Opens `n` connections to the proxy; the test fails if one cannot be opened.
void OpenConnections(uint16_t port, int n, std::vector<int>* fds) {
  for (int i = 0; i < n; ++i) {
    int fd = ConnectTo(port);
    if (fd < 0) {
      ADD_FAILURE() << "connect " << i << " failed";
      return;
    }
    fds->push_back(fd);
  }
}

// Sends one request on `fd` and returns the status line of the answer ("" on error/timeout).
std::string StatusLine(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  if (write(fd, req, sizeof(req) - 1) != static_cast<ssize_t>(sizeof(req) - 1)) return "";
  std::string got;
  char buf[512];
  while (got.find("\r\n") == std::string::npos && got.size() < 4096) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return "";
    got.append(buf, static_cast<size_t>(n));
  }
  return got.substr(0, got.find("\r\n"));
}

// Gauges and counters from /stats, by full series name.
std::map<std::string, int64_t> Stats(int admin_port) {
  std::map<std::string, int64_t> out;
  absl::StatusOr<testing::HttpResponse> r = testing::HttpGet(admin_port, "/stats");
  if (!r.ok()) return out;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    int64_t v = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtoi(line.substr(space + 1), &v)) {
      continue;
    }
    out[std::string(line.substr(0, space))] = v;
  }
  return out;
}

// Waits (bounded: `tries` reads, `interval` apart) until series `name` reads `want`; returns
// the last /stats read.
std::map<std::string, int64_t> AwaitStat(int admin_port, const std::string& name, int64_t want,
                                         int tries = 200,
                                         absl::Duration interval = absl::Milliseconds(10)) {
  std::map<std::string, int64_t> s;
  for (int i = 0; i < tries; ++i) {
    s = Stats(admin_port);
    if (s[name] == want) break;
    absl::SleepFor(interval);
  }
  return s;
}

// Waits (bounded) until the proxy has `want` open client connections.
std::map<std::string, int64_t> AwaitActive(int admin_port, int64_t want) {
  return AwaitStat(admin_port, "lb_proxy_connections_active", want);
}

std::vector<int64_t> PerWorker(std::map<std::string, int64_t>& s, int workers) {
  std::vector<int64_t> v;
  for (int w = 0; w < workers; ++w) {
    v.push_back(s["lb_proxy_worker_connections_active{worker=\"" + std::to_string(w) + "\"}"]);
  }
  return v;
}

// Listener and admin server on loopback ports picked by the kernel.
ProxyOptions LoopbackOptions(int workers) {
  ProxyOptions o;
  o.listen_host = "127.0.0.1";
  o.listen_port = 0;
  o.admin_listen = "127.0.0.1:0";
  o.workers = workers;
  o.drain_timeout = absl::Seconds(2);
  return o;
}

std::unique_ptr<ProxyServer> StartProxy(const ProxyOptions& o) {
  absl::StatusOr<std::unique_ptr<ProxyServer>> s = ProxyServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::unique_ptr<ProxyServer> StartProxy(int workers, bool balance) {
  ProxyOptions o = LoopbackOptions(workers);
  o.balance_connections = balance;
  return StartProxy(o);
}

// Keep-alive connections idle past --idle_release_after are parked (their request state freed,
// counted in lb_proxy_connections_idle) and served again by their next request; shutdown
// closes them.
TEST(ProxyServerTest, IdleKeepAliveConnectionsAreParkedAndResumed) {
  ProxyOptions o = LoopbackOptions(2);
  o.worker.idle_release_after = absl::Milliseconds(50);
  std::unique_ptr<ProxyServer> proxy = StartProxy(o);
  ASSERT_NE(proxy, nullptr);
  const int admin = proxy->admin_port();
  std::vector<int> fds;
  OpenConnections(proxy->port(), 10, &fds);
  ASSERT_EQ(fds.size(), 10u);
  for (int round = 0; round < 3; ++round) {
    // A request on each (503: no configuration yet; the connection stays open).
    for (int fd : fds) EXPECT_EQ(StatusLine(fd), "HTTP/1.1 503 Service Unavailable");
    std::map<std::string, int64_t> s = AwaitStat(admin, "lb_proxy_connections_idle", 10, 500);
    EXPECT_EQ(s["lb_proxy_connections_idle"], 10) << "round " << round;
    EXPECT_EQ(s["lb_proxy_connections_active"], 10);
  }
  // Half of the clients leave while parked.
  for (int i = 0; i < 5; ++i) close(fds[i]);
  fds.erase(fds.begin(), fds.begin() + 5);
  std::map<std::string, int64_t> s = AwaitActive(admin, 5);
  EXPECT_EQ(s["lb_proxy_connections_active"], 5);
  EXPECT_EQ(s["lb_proxy_connections_idle"], 5);
  EXPECT_EQ(s["lb_proxy_connections_accepted_total"], 10);  // Resumed, never reconnected.
  EXPECT_TRUE(proxy->Shutdown());
  for (int fd : fds) {
    char c;
    EXPECT_EQ(read(fd, &c, 1), 0);  // Closed by the proxy's drain.
    close(fd);
  }
}

// A parked plaintext connection (its socket alone) still ends at the keep-alive idle timeout,
// counted as one.
TEST(ProxyServerTest, ParkedConnectionsCloseAtTheIdleTimeout) {
  ProxyOptions o = LoopbackOptions(1);
  o.worker.idle_release_after = absl::ZeroDuration();
  o.worker.idle_timeout = absl::Milliseconds(300);
  std::unique_ptr<ProxyServer> proxy = StartProxy(o);
  ASSERT_NE(proxy, nullptr);
  const int admin = proxy->admin_port();
  std::vector<int> fds;
  OpenConnections(proxy->port(), 3, &fds);
  ASSERT_EQ(fds.size(), 3u);
  for (int fd : fds) EXPECT_EQ(StatusLine(fd), "HTTP/1.1 503 Service Unavailable");
  std::map<std::string, int64_t> s = AwaitActive(admin, 0);
  EXPECT_EQ(s["lb_proxy_connections_active"], 0);
  EXPECT_EQ(s["lb_proxy_connections_idle"], 0);
  EXPECT_EQ(s["lb_proxy_timeouts_total{kind=\"idle\"}"], 3);
  for (int fd : fds) {
    char c;
    EXPECT_EQ(read(fd, &c, 1), 0);  // Closed by the proxy.
    close(fd);
  }
}

// Parked early (above --idle_release_above), at most --idle_warm_max connections per worker
// wait whole (lb_proxy_connections_idle_warm); past the release delay none do, and every one
// is still served by its next request.
TEST(ProxyServerTest, WarmParkedConnectionsAreCappedAndGoColdAfterTheDelay) {
  ProxyOptions o = LoopbackOptions(1);
  o.worker.idle_release_after = absl::Milliseconds(300);
  o.worker.idle_release_above = 0;  // Every idle connection parks at once.
  o.worker.idle_warm_max = 2;
  std::unique_ptr<ProxyServer> proxy = StartProxy(o);
  ASSERT_NE(proxy, nullptr);
  const int admin = proxy->admin_port();
  std::vector<int> fds;
  OpenConnections(proxy->port(), 5, &fds);
  ASSERT_EQ(fds.size(), 5u);
  for (int fd : fds) EXPECT_EQ(StatusLine(fd), "HTTP/1.1 503 Service Unavailable");
  std::map<std::string, int64_t> s =
      AwaitStat(admin, "lb_proxy_connections_idle", 5, 100, absl::Milliseconds(2));
  EXPECT_EQ(s["lb_proxy_connections_idle"], 5);
  EXPECT_EQ(s["lb_proxy_connections_idle_warm"], 2);  // Well within the 300 ms.
  s = AwaitStat(admin, "lb_proxy_connections_idle_warm", 0);
  EXPECT_EQ(s["lb_proxy_connections_idle_warm"], 0);
  EXPECT_EQ(s["lb_proxy_connections_idle"], 5);
  for (int fd : fds) EXPECT_EQ(StatusLine(fd), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(Stats(admin)["lb_proxy_connections_accepted_total"], 5);  // Resumed, not new.
  EXPECT_TRUE(proxy->Shutdown());
  for (int fd : fds) close(fd);
}

TEST(ProxyServerTest, BalancedWorkersHoldWithinOneConnectionOfEachOther) {
  constexpr int kWorkers = 3;
  std::unique_ptr<ProxyServer> proxy = StartProxy(kWorkers, true);
  ASSERT_NE(proxy, nullptr);
  std::vector<int> fds;
  OpenConnections(proxy->port(), 41, &fds);
  ASSERT_EQ(fds.size(), 41u);
  auto s = AwaitActive(proxy->admin_port(), 41);
  ASSERT_EQ(s["lb_proxy_connections_active"], 41);
  std::vector<int64_t> per = PerWorker(s, kWorkers);
  EXPECT_EQ(per[0] + per[1] + per[2], 41);
  for (int64_t c : per) {
    EXPECT_GE(c, 13);
    EXPECT_LE(c, 14);
  }
  EXPECT_EQ(s["lb_proxy_connections_accepted_total"], 41);

  // Closing 20 (whichever workers own them) and opening 20 more evens out again.
  for (int i = 0; i < 20; ++i) close(fds[i]);
  fds.erase(fds.begin(), fds.begin() + 20);
  s = AwaitActive(proxy->admin_port(), 21);
  ASSERT_EQ(s["lb_proxy_connections_active"], 21);
  OpenConnections(proxy->port(), 20, &fds);
  ASSERT_EQ(fds.size(), 41u);
  s = AwaitActive(proxy->admin_port(), 41);
  ASSERT_EQ(s["lb_proxy_connections_active"], 41);
  per = PerWorker(s, kWorkers);
  int64_t lo = std::min({per[0], per[1], per[2]}), hi = std::max({per[0], per[1], per[2]});
  EXPECT_LE(hi - lo, 1) << per[0] << "/" << per[1] << "/" << per[2];

  // Every connection, handed off or not, is served: 503 before any configuration.
  for (size_t i = 0; i < fds.size(); ++i) {
    EXPECT_EQ(StatusLine(fds[i]), "HTTP/1.1 503 Service Unavailable") << "connection " << i;
  }
  for (int fd : fds) close(fd);
  EXPECT_TRUE(proxy->Shutdown());
}

TEST(ProxyServerTest, UnbalancedLeavesTheSpreadToTheKernel) {
  std::unique_ptr<ProxyServer> proxy = StartProxy(2, false);
  ASSERT_NE(proxy, nullptr);
  std::vector<int> fds;
  OpenConnections(proxy->port(), 30, &fds);
  ASSERT_EQ(fds.size(), 30u);
  auto s = AwaitActive(proxy->admin_port(), 30);
  ASSERT_EQ(s["lb_proxy_connections_active"], 30);
  std::vector<int64_t> per = PerWorker(s, 2);
  EXPECT_EQ(per[0] + per[1], 30);
  EXPECT_EQ(s["lb_proxy_connections_handed_off_total"], 0);
  for (int fd : fds) close(fd);
  EXPECT_TRUE(proxy->Shutdown());
}

}  // namespace
}  // namespace lb::proxy
