// ActiveChecker against real loopback servers, on simulated time: the checker's dispatcher
// runs on its own thread (as on the proxy's main thread) with real sockets, but intervals and
// timeouts only pass when a test advances the clock. Each step advances by the longest
// interval-plus-jitter and then lets every check that started finish its real I/O, so no
// outcome depends on the machine's speed.
#include "proxy/health/active_checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "tests/test_common/event/loop_thread.h"

namespace lb::proxy::health {
namespace {

constexpr absl::Duration kInterval = absl::Milliseconds(50);
// Every check due within a step starts in it: the interval plus the largest jitter (10%).
constexpr absl::Duration kStep = absl::Milliseconds(55);

using testing::WaitFor;

int ListenLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "listen: " << strerror(errno);
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port with nothing listening (bound once, then closed).
uint16_t ClosedPort() {
  uint16_t port = 0;
  close(ListenLoopback(&port));
  return port;
}

// A tiny HTTP/1.1 server on 127.0.0.1:0 with its own thread. kRespond answers every request with
// the current status and closes; kSilent accepts and never answers, noticing when the client
// hangs up.
class TestServer {
 public:
  enum class Mode { kRespond, kSilent };

  explicit TestServer(Mode mode, int status = 200) : mode_(mode), status_(status) {
    listen_fd_ = ListenLoopback(&port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
    for (int fd : held_) close(fd);
  }

  uint16_t port() const { return port_; }
  void set_status(int status) { status_ = status; }

  int accepted() const { return accepted_; }
  // Connections accepted and still open (kSilent holds them until the client hangs up).
  int held() const { return mode_ == Mode::kSilent ? accepted_ - hung_up_ : 0; }
  // Connections the client closed while the server held them (kSilent).
  int hung_up() const { return hung_up_; }
  // Statuses of the answers sent, in order.
  std::vector<int> served() const {
    std::lock_guard<std::mutex> lock(mu_);
    return served_;
  }
  int served_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(served_.size());
  }
  std::string last_request() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

 private:
  void Serve() {
    while (!stop_) {
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      for (int fd : held_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 10) <= 0) continue;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buf[512];
        if (recv(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0) {
          close(fds[i].fd);
          held_.erase(std::find(held_.begin(), held_.end(), fds[i].fd));
          ++hung_up_;
        }
      }
      if (fds[0].revents & POLLIN) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++accepted_;
        if (mode_ == Mode::kSilent) {
          held_.push_back(fd);
        } else {
          Answer(fd);
          close(fd);
        }
      }
    }
  }

  void Answer(int fd) {
    std::string request;
    while (!absl::StrContains(request, "\r\n\r\n")) {
      pollfd p = {fd, POLLIN, 0};
      char buf[1024];
      if (poll(&p, 1, 2000) <= 0) return;
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      request.append(buf, n);
    }
    const int status = status_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_request_ = request;
      served_.push_back(status);  // Before sending: the client cannot see it earlier.
    }
    std::string response = absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Length: 2\r\n",
                                        "Connection: close\r\n\r\nok");
    (void)!send(fd, response.data(), response.size(), MSG_NOSIGNAL);
  }

  const Mode mode_;
  std::atomic<int> status_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> hung_up_{0};
  std::vector<int> held_;  // Server thread only.
  mutable std::mutex mu_;  // std::mutex: visible to ThreadSanitizer.
  std::vector<int> served_;
  std::string last_request_;
  std::thread thread_;
};

using Loop = testing::LoopThread;

struct Change {
  std::string cluster;
  std::string host;
  bool healthy;
  absl::Time at;
  std::vector<int> served;  // What the host's server had sent when the flip was reported.
};

std::string Describe(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes) {
    absl::StrAppend(&out, c.cluster, "/", c.host, (c.healthy ? " up" : " down"), "; ");
  }
  return out;
}

EndpointConfig Endpoint(uint16_t port, const std::string& hostname = "") {
  EndpointConfig e;
  e.address = "127.0.0.1";
  e.port = port;
  e.hostname = hostname;
  return e;
}

ClusterConfig Cluster(const std::string& name, std::vector<EndpointConfig> endpoints,
                      absl::Duration timeout = absl::Seconds(2)) {
  ClusterConfig c;
  c.name = name;
  c.health_check.path = "/healthz";
  c.health_check.interval = kInterval;
  c.health_check.timeout = timeout;
  c.health_check.healthy_threshold = 2;
  c.health_check.unhealthy_threshold = 3;
  c.endpoints = std::move(endpoints);
  return c;
}

ProxyConfig Config(std::vector<ClusterConfig> clusters) {
  ProxyConfig p;
  for (ClusterConfig& c : clusters) p.clusters[c.name] = std::move(c);
  return p;
}

std::string Key(uint16_t port) { return absl::StrCat("127.0.0.1:", port); }

class ActiveCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.Run([this] {
      checker_ = std::make_unique<ActiveChecker>(
          loop_.dispatcher(),
          [this](const std::string& cluster, const std::string& host, bool healthy) {
            Change c{cluster, host, healthy, loop_.dispatcher().Now(), {}};
            if (auto it = servers_.find(host); it != servers_.end())
              c.served = it->second->served();
            std::lock_guard<std::mutex> lock(mu_);
            changes_.push_back(std::move(c));
          });
    });
  }
  void TearDown() override {
    loop_.Run([this] { checker_.reset(); });
  }

  // Servers registered here have their answers recorded with each change.
  TestServer* AddServer(TestServer::Mode mode, int status = 200) {
    auto server = std::make_unique<TestServer>(mode, status);
    TestServer* raw = server.get();
    loop_.Run([&] { servers_[Key(raw->port())] = std::move(server); });
    return raw;
  }

  void Update(const ProxyConfig& config) {
    loop_.Run([&] { checker_->Update(config); });
  }
  ActiveStatus Status(const std::string& cluster, uint16_t port) {
    ActiveStatus s;
    loop_.Run([&] { s = checker_->Status(cluster, Key(port)); });
    return s;
  }
  bool Checked(const std::string& cluster, uint16_t port) {
    bool b;
    loop_.Run([&] { b = checker_->Checked(cluster, Key(port)); });
    return b;
  }
  std::vector<Change> Changes() {
    std::lock_guard<std::mutex> lock(mu_);
    return changes_;
  }
  size_t InFlight() {
    size_t n = 0;
    loop_.Run([&] { n = checker_ == nullptr ? 0 : checker_->checks_in_flight(); });
    return n;
  }
  // Checks that wait for a silent server (they end only at their timeout).
  size_t Stuck() {
    size_t n = 0;
    loop_.Run([&] {
      for (auto& [key, server] : servers_) n += static_cast<size_t>(server->held());
    });
    return n;
  }
  // One step of simulated time, then every started check runs to its end but those held by
  // silent servers.
  void Step() {
    loop_.dispatcher().AdvanceTimeAndRun(kStep);
    ASSERT_TRUE(WaitFor([&] { return InFlight() == Stuck(); }))
        << InFlight() << " checks in flight, " << Stuck() << " held by silent servers";
  }
  // Steps until `pred` holds (at most `max_steps`).
  bool StepUntil(const std::function<bool()>& pred, int max_steps = 100) {
    for (int i = 0; i < max_steps; ++i) {
      if (pred()) return true;
      Step();
    }
    return pred();
  }
  absl::Time Now() { return loop_.dispatcher().Now(); }

  std::vector<Change> ChangesFor(uint16_t port) {
    std::vector<Change> out;
    for (Change& c : Changes()) {
      if (c.host == Key(port)) out.push_back(std::move(c));
    }
    return out;
  }

  // Servers are destroyed after the checker (TearDown) and the loop.
  std::map<std::string, std::unique_ptr<TestServer>> servers_;
  Loop loop_;
  std::unique_ptr<ActiveChecker> checker_;
  std::mutex mu_;
  std::vector<Change> changes_;
};

TEST_F(ActiveCheckerTest, HealthyHostIsConfirmedWithoutChangeAndGetsTheExpectedRequest) {
  TestServer* named = AddServer(TestServer::Mode::kRespond, 200);
  TestServer* bare = AddServer(TestServer::Mode::kRespond, 204);
  Update(Config(
      {Cluster("web", {Endpoint(named->port(), "backend.example"), Endpoint(bare->port())})}));
  ASSERT_TRUE(StepUntil([&] { return named->served_count() >= 3 && bare->served_count() >= 3; }));
  EXPECT_EQ(Status("web", named->port()), ActiveStatus::kHealthy);
  EXPECT_EQ(Status("web", bare->port()), ActiveStatus::kHealthy);
  EXPECT_TRUE(Changes().empty()) << Describe(
      Changes());  // Unknown counts as healthy: confirming is not a flip.
  EXPECT_EQ(named->last_request(),
            "GET /healthz HTTP/1.1\r\nHost: backend.example\r\nUser-Agent: lb-health/1\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_TRUE(absl::StrContains(bare->last_request(), "\r\nHost: 127.0.0.1\r\n"));
  // A fresh connection per check.
  EXPECT_EQ(named->accepted(), named->served_count());
}

TEST_F(ActiveCheckerTest, FailingSilentAndClosedHostsGoDown) {
  TestServer* ok = AddServer(TestServer::Mode::kRespond, 200);
  TestServer* failing = AddServer(TestServer::Mode::kRespond, 503);
  TestServer* silent = AddServer(TestServer::Mode::kSilent);
  const uint16_t closed = ClosedPort();
  const absl::Time start = Now();
  // The silent host alone gets a short timeout, so a slow machine cannot fail the others.
  Update(
      Config({Cluster("web", {Endpoint(ok->port()), Endpoint(failing->port()), Endpoint(closed)}),
              Cluster("slow", {Endpoint(silent->port())}, absl::Milliseconds(150))}));
  ASSERT_TRUE(StepUntil([&] { return Changes().size() >= 3; })) << Changes().size();
  for (uint16_t port : {failing->port(), silent->port(), closed}) {
    std::vector<Change> c = ChangesFor(port);
    ASSERT_EQ(c.size(), 1u) << port;
    const std::string cluster = port == silent->port() ? "slow" : "web";
    EXPECT_EQ(c[0].cluster, cluster);
    EXPECT_FALSE(c[0].healthy);
    EXPECT_EQ(Status(cluster, port), ActiveStatus::kUnhealthy);
  }
  // A new host's first failure takes it out at once; the silent one only after the timeout.
  EXPECT_EQ(ChangesFor(failing->port())[0].served, std::vector<int>{503});
  EXPECT_GE(ChangesFor(silent->port())[0].at - start, absl::Milliseconds(150));
  EXPECT_TRUE(ChangesFor(ok->port()).empty());
  // The timed-out checks' connections are closed, and checking goes on.
  EXPECT_TRUE(StepUntil([&] { return silent->hung_up() >= 2; }));
  EXPECT_TRUE(StepUntil([&] { return failing->served_count() >= 4; }));
  EXPECT_EQ(ChangesFor(failing->port()).size(), 1u);
  EXPECT_EQ(Status("web", ok->port()), ActiveStatus::kHealthy);
}

TEST_F(ActiveCheckerTest, FlipsAfterThresholdsBothWays) {
  const uint64_t passed_before = Stats().passed.load();
  const uint64_t failed_before = Stats().failed.load();
  TestServer* server = AddServer(TestServer::Mode::kRespond, 200);
  Update(Config({Cluster("web", {Endpoint(server->port())})}));
  ASSERT_TRUE(StepUntil([&] { return server->served_count() >= 2; }));
  ASSERT_EQ(Status("web", server->port()), ActiveStatus::kHealthy);
  // Every verdict is counted (lb_proxy_health_checks_total in /stats).
  ASSERT_TRUE(StepUntil([&] { return Stats().passed.load() >= passed_before + 2; }));
  EXPECT_EQ(Stats().failed.load(), failed_before);

  server->set_status(503);
  ASSERT_TRUE(StepUntil([&] { return ChangesFor(server->port()).size() >= 1; }));
  Change down = ChangesFor(server->port())[0];
  EXPECT_FALSE(down.healthy);
  EXPECT_GE(Stats().failed.load(), failed_before + 3);
  // Exactly unhealthy_threshold (3) failures, all at the end: checks never overlap.
  ASSERT_GE(down.served.size(), 3u);
  EXPECT_EQ(std::count(down.served.begin(), down.served.end(), 503), 3);
  EXPECT_EQ(std::vector<int>(down.served.end() - 3, down.served.end()),
            std::vector<int>({503, 503, 503}));

  server->set_status(200);
  ASSERT_TRUE(StepUntil([&] { return ChangesFor(server->port()).size() >= 2; }));
  Change up = ChangesFor(server->port())[1];
  EXPECT_TRUE(up.healthy);
  // Exactly healthy_threshold (2) successes after the last failure.
  const auto last_failure = std::find(up.served.rbegin(), up.served.rend(), 503);
  EXPECT_EQ(last_failure - up.served.rbegin(), 2);
  EXPECT_EQ(Status("web", server->port()), ActiveStatus::kHealthy);
}

TEST_F(ActiveCheckerTest, UpdateRemovingHostStopsItsChecks) {
  TestServer* a = AddServer(TestServer::Mode::kRespond, 200);
  TestServer* b = AddServer(TestServer::Mode::kRespond, 200);
  Update(Config({Cluster("web", {Endpoint(a->port()), Endpoint(b->port())})}));
  ASSERT_TRUE(StepUntil([&] { return a->served_count() >= 2 && b->served_count() >= 2; }));

  Update(Config({Cluster("web", {Endpoint(a->port())})}));
  EXPECT_FALSE(Checked("web", b->port()));
  EXPECT_TRUE(Checked("web", a->port()));
  EXPECT_EQ(Status("web", b->port()), ActiveStatus::kUnknown);
  // Removing the host aborted any check of it: nothing more reaches it.
  const int b_after = b->accepted();
  const int a_after = a->served_count();
  for (int i = 0; i < 8; ++i) Step();
  EXPECT_EQ(b->accepted(), b_after);
  EXPECT_GT(a->served_count(), a_after);
  EXPECT_TRUE(Changes().empty()) << Describe(Changes());
}

TEST_F(ActiveCheckerTest, UpdateKeepsStateOfRemainingHostsAndAppliesNewSettings) {
  TestServer* down = AddServer(TestServer::Mode::kRespond, 503);
  Update(Config({Cluster("web", {Endpoint(down->port())})}));
  ASSERT_TRUE(StepUntil([&] { return ChangesFor(down->port()).size() == 1; }));
  ASSERT_EQ(Status("web", down->port()), ActiveStatus::kUnhealthy);

  // Add a host, change the path and a threshold: the unhealthy host stays unhealthy.
  TestServer* added = AddServer(TestServer::Mode::kRespond, 200);
  ClusterConfig changed = Cluster("web", {Endpoint(down->port()), Endpoint(added->port())});
  changed.health_check.path = "/ready";
  changed.health_check.healthy_threshold = 3;
  Update(Config({changed}));
  EXPECT_EQ(Status("web", down->port()), ActiveStatus::kUnhealthy);
  ASSERT_TRUE(StepUntil([&] { return absl::StartsWith(down->last_request(), "GET /ready "); }));
  ASSERT_TRUE(StepUntil([&] { return added->served_count() >= 2; }));
  EXPECT_EQ(Status("web", down->port()), ActiveStatus::kUnhealthy);
  EXPECT_EQ(ChangesFor(down->port()).size(), 1u);

  // It returns after the new healthy_threshold (3) successes.
  down->set_status(200);
  ASSERT_TRUE(StepUntil([&] { return ChangesFor(down->port()).size() == 2; }));
  Change up = ChangesFor(down->port())[1];
  EXPECT_TRUE(up.healthy);
  EXPECT_EQ(std::find(up.served.rbegin(), up.served.rend(), 503) - up.served.rbegin(), 3);
  EXPECT_TRUE(ChangesFor(added->port()).empty());

  // Dropping the cluster's path stops all its checks.
  ClusterConfig unchecked = changed;
  unchecked.health_check.path.clear();
  Update(Config({unchecked}));
  EXPECT_FALSE(Checked("web", down->port()));
  EXPECT_FALSE(Checked("web", added->port()));
}

TEST_F(ActiveCheckerTest, ClusterWithoutPathIsNotChecked) {
  TestServer* server = AddServer(TestServer::Mode::kRespond, 200);
  ClusterConfig c = Cluster("web", {Endpoint(server->port())});
  c.health_check.path.clear();
  Update(Config({c}));
  size_t checked = 1;
  loop_.Run([&] { checked = checker_->checked_hosts(); });
  EXPECT_EQ(checked, 0u);
  for (int i = 0; i < 4; ++i) Step();
  EXPECT_EQ(server->accepted(), 0);
}

TEST_F(ActiveCheckerTest, SameHostInTwoClustersIsCheckedPerCluster) {
  TestServer* server = AddServer(TestServer::Mode::kRespond, 503);
  ClusterConfig a = Cluster("a", {Endpoint(server->port())});
  ClusterConfig b = Cluster("b", {Endpoint(server->port())});
  b.health_check.path = "/b";
  Update(Config({a, b}));
  ASSERT_TRUE(StepUntil([&] { return Changes().size() >= 2; }));
  std::vector<std::string> clusters;
  for (const Change& c : Changes()) clusters.push_back(c.cluster);
  std::sort(clusters.begin(), clusters.end());
  EXPECT_EQ(clusters, std::vector<std::string>({"a", "b"}));
}

TEST_F(ActiveCheckerTest, OnChangeMayUpdateAwayTheReportedHost) {
  TestServer* server = AddServer(TestServer::Mode::kRespond, 503);
  TestServer* other = AddServer(TestServer::Mode::kRespond, 200);
  const ProxyConfig without = Config({Cluster("web", {Endpoint(other->port())})});
  loop_.Run([&] {
    checker_ = std::make_unique<ActiveChecker>(
        loop_.dispatcher(),
        [this, without](const std::string&, const std::string& host, bool healthy) {
          checker_->Update(without);  // Destroys the host being reported.
          std::lock_guard<std::mutex> lock(mu_);
          changes_.push_back({"web", host, healthy, loop_.dispatcher().Now(), {}});
        });
    checker_->Update(Config({Cluster("web", {Endpoint(server->port()), Endpoint(other->port())})}));
  });
  ASSERT_TRUE(StepUntil([&] { return Changes().size() == 1; }));
  EXPECT_FALSE(Checked("web", server->port()));
  const int served = other->served_count();
  EXPECT_TRUE(StepUntil([&] { return other->served_count() > served + 1; }));
}

TEST_F(ActiveCheckerTest, DestructorAbortsInFlightCheck) {
  TestServer* silent = AddServer(TestServer::Mode::kSilent);
  Update(Config({Cluster("web", {Endpoint(silent->port())}, absl::Seconds(30))}));
  ASSERT_TRUE(StepUntil([&] { return silent->accepted() == 1; }));
  loop_.Run([&] { checker_.reset(); });
  EXPECT_TRUE(WaitFor([&] { return silent->hung_up() == 1; }));
  for (int i = 0; i < 4; ++i) Step();
  EXPECT_EQ(silent->accepted(), 1);
  EXPECT_TRUE(Changes().empty()) << Describe(Changes());
}

}  // namespace
}  // namespace lb::proxy::health
