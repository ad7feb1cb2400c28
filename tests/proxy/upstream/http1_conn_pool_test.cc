// The HTTP/1 pool of one host against a real loopback server, on a loop thread with simulated
// time (idle timeouts pass only when the test advances the clock).
#include "proxy/upstream/http1_conn_pool.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/event/socket.h"
#include "tests/test_common/event/loop_thread.h"

namespace lb::proxy::upstream {
namespace {

using testing::LoopThread;
using testing::WaitFor;

// Answers every request head it reads with `response`, keeping connections open; counts them.
class Server {
 public:
  explicit Server(std::string response) : response_(std::move(response)) {
    absl::StatusOr<int> fd = event::Listen("127.0.0.1", 0, false);
    listen_fd_ = *fd;
    port_ = event::LocalPort(listen_fd_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
    for (int fd : open_) close(fd);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }
  int closed_by_client() const { return closed_; }
  int open() const { return accepted_ - closed_ - closed_by_us_; }
  // Closes every connection it holds.
  void CloseAll() { close_all_ = true; }

 private:
  void Serve() {
    std::vector<std::string> pending;
    while (!stop_) {
      if (close_all_.exchange(false)) {
        for (int fd : open_) close(fd);
        closed_by_us_ += static_cast<int>(open_.size());
        open_.clear();
        pending.clear();
      }
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      for (int fd : open_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 5) <= 0) continue;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buf[4096];
        ssize_t n = recv(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) {
          close(fds[i].fd);
          ++closed_;
          open_[i - 1] = -1;
          pending[i - 1].clear();
          continue;
        }
        pending[i - 1].append(buf, static_cast<size_t>(n));
        while (absl::StrContains(pending[i - 1], "\r\n\r\n")) {
          pending[i - 1].erase(0, pending[i - 1].find("\r\n\r\n") + 4);
          (void)!send(fds[i].fd, response_.data(), response_.size(), MSG_NOSIGNAL);
        }
      }
      for (size_t i = 0; i < open_.size();) {
        if (open_[i] < 0) {
          open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(i));
          pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
      if (fds[0].revents & POLLIN) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          ++accepted_;
          open_.push_back(fd);
          pending.emplace_back();
        }
      }
    }
  }

  const std::string response_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> close_all_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::atomic<int> closed_by_us_{0};
  std::vector<int> open_;  // Server thread only.
};

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// One request through the pool, recorded.
class Exchange : public http::ResponseDecoder, public PoolCallbacks {
 public:
  void OnPoolReady(http::RequestEncoder& encoder, bool was_reused) override {
    ready = true;
    reused = was_reused;
    http::RequestHeaderMapPtr h = http::NewRequestHeaderMap();
    h->target = "/";
    h->Add("Host", "up");
    encoder.EncodeHeaders(*h, true);
  }
  void OnPoolFailure(PoolFailureReason r, absl::string_view d) override {
    failed = true;
    reason = r;
    details = std::string(d);
  }
  void DecodeHeaders(http::ResponseHeaderMapPtr h, bool end_stream) override {
    status = h->status;
    complete = end_stream;
  }
  void DecodeData(event::Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    complete = complete || end_stream;
  }

  bool ready = false;
  bool reused = false;
  bool failed = false;
  PoolFailureReason reason = PoolFailureReason::kConnectFailure;
  std::string details;
  int status = 0;
  std::string body;
  bool complete = false;
  PoolHandle* handle = nullptr;
};

class PoolTest : public ::testing::Test {
 protected:
  // `cluster`: the circuit breakers (null: none).
  void MakePool(uint16_t port, Http1PoolSettings settings = {},
                std::shared_ptr<ClusterStats> cluster = nullptr) {
    host_ = std::make_shared<HostState>(1);
    host_->key = absl::StrCat("127.0.0.1:", port);
    host_->address = *event::MakeAddress("127.0.0.1", port);
    loop_.Run([&] {
      pool_ = std::make_unique<Http1ConnPool>(loop_.dispatcher(), host_, settings, stats_, cluster);
    });
  }
  ~PoolTest() override {
    loop_.Run([&] { pool_.reset(); });
  }
  // Starts a request; returns the exchange (owned by the test).
  Exchange* Start() {
    exchanges_.push_back(std::make_unique<Exchange>());
    Exchange* x = exchanges_.back().get();
    loop_.Run([&] { x->handle = pool_->NewStream(*x, *x); });
    return x;
  }
  bool Complete(Exchange* x) {
    return WaitFor([&] {
      bool done = false;
      loop_.Run([&] { done = x->complete || x->failed; });
      return done;
    });
  }
  size_t Idle() {
    size_t n = 0;
    loop_.Run([&] { n = pool_->idle_connections(); });
    return n;
  }

  LoopThread loop_;
  PoolStats stats_;
  std::shared_ptr<HostState> host_;
  std::unique_ptr<Http1ConnPool> pool_;
  std::vector<std::unique_ptr<Exchange>> exchanges_;
};

TEST_F(PoolTest, ConnectsOnceThenReusesTheIdleConnection) {
  Server server(kOk);
  MakePool(server.port());
  Exchange* first = Start();
  EXPECT_NE(first->handle, nullptr);  // Waits for its connect.
  ASSERT_TRUE(Complete(first));
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "ok");
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(Idle(), 1u);

  Exchange* second = Start();
  EXPECT_EQ(second->handle, nullptr);  // Ready before NewStream returned.
  EXPECT_TRUE(second->ready);
  EXPECT_TRUE(second->reused);
  ASSERT_TRUE(Complete(second));
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(stats_.connects.load(), 1u);
  EXPECT_EQ(stats_.reuses.load(), 1u);
}

TEST_F(PoolTest, ConnectionCloseAnswersAreNotKept) {
  Server server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  MakePool(server.port());
  ASSERT_TRUE(Complete(Start()));
  EXPECT_EQ(Idle(), 0u);
  ASSERT_TRUE(WaitFor([&] { return server.closed_by_client() == 1; }));
}

TEST_F(PoolTest, RefusedConnectIsAConnectFailure) {
  uint16_t port;
  {
    absl::StatusOr<int> fd = event::Listen("127.0.0.1", 0, false);
    port = event::LocalPort(*fd);
    close(*fd);
  }
  MakePool(port);
  Exchange* x = Start();
  ASSERT_TRUE(Complete(x));
  EXPECT_TRUE(x->failed);
  EXPECT_EQ(x->reason, PoolFailureReason::kConnectFailure);
  EXPECT_EQ(stats_.connect_failures.load(), 1u);
  loop_.Run([&] { EXPECT_TRUE(pool_->empty()); });
}

TEST_F(PoolTest, IdleConnectionsExpireOnTheClock) {
  Server server(kOk);
  Http1PoolSettings settings;
  settings.idle_timeout = absl::Seconds(30);
  MakePool(server.port(), settings);
  ASSERT_TRUE(Complete(Start()));
  ASSERT_EQ(Idle(), 1u);
  loop_.Advance(absl::Seconds(29));
  EXPECT_EQ(Idle(), 1u);
  loop_.Advance(absl::Seconds(1));
  EXPECT_EQ(Idle(), 0u);
  ASSERT_TRUE(WaitFor([&] { return server.closed_by_client() == 1; }));
}

TEST_F(PoolTest, AtMostMaxIdleAreKept) {
  Server server(kOk);
  Http1PoolSettings settings;
  settings.max_idle = 1;
  MakePool(server.port(), settings);
  // Both started in one loop callback, so the first cannot finish (and be reused) before the
  // second asks: two connections.
  exchanges_.push_back(std::make_unique<Exchange>());
  exchanges_.push_back(std::make_unique<Exchange>());
  Exchange* a = exchanges_[0].get();
  Exchange* b = exchanges_[1].get();
  loop_.Run([&] {
    a->handle = pool_->NewStream(*a, *a);
    b->handle = pool_->NewStream(*b, *b);
  });
  ASSERT_TRUE(Complete(a));
  ASSERT_TRUE(Complete(b));
  EXPECT_TRUE(a->complete && b->complete);
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(Idle(), 1u);
  ASSERT_TRUE(WaitFor([&] { return server.closed_by_client() == 1; }));
}

TEST_F(PoolTest, UpstreamClosingAnIdleConnectionTakesItOut) {
  Server server(kOk);
  MakePool(server.port());
  ASSERT_TRUE(Complete(Start()));
  ASSERT_EQ(Idle(), 1u);
  server.CloseAll();
  ASSERT_TRUE(WaitFor([&] { return Idle() == 0; }));
  Exchange* x = Start();  // A fresh connection, not the dead one.
  ASSERT_TRUE(Complete(x));
  EXPECT_FALSE(x->reused);
  EXPECT_EQ(x->status, 200);
}

TEST_F(PoolTest, RemovedHostAndDrainKeepNothing) {
  Server server(kOk);
  MakePool(server.port());
  ASSERT_TRUE(Complete(Start()));
  ASSERT_EQ(Idle(), 1u);
  loop_.Run([&] { pool_->Drain(); });
  EXPECT_EQ(Idle(), 0u);
  ASSERT_TRUE(Complete(Start()));
  EXPECT_EQ(Idle(), 0u);  // Draining: finished connections close.

  MakePool(server.port());
  host_->removed = true;
  ASSERT_TRUE(Complete(Start()));
  EXPECT_EQ(Idle(), 0u);
}

// Circuit breakers: a connection holds a `connections` slot for its life and a `pending` slot
// until it is set up; without one the request fails with kOverflow, and slots come back when
// connections close.
TEST_F(PoolTest, CircuitBreakersBoundConnectionsAndPendingRequests) {
  Server server(kOk);
  auto cluster = std::make_shared<ClusterStats>(1);
  ClusterResources& limits = cluster->resources();
  limits.connections.set_max(2);
  limits.pending_requests.set_max(1);
  MakePool(server.port(), {}, cluster);

  exchanges_.push_back(std::make_unique<Exchange>());
  exchanges_.push_back(std::make_unique<Exchange>());
  Exchange* first = exchanges_[0].get();
  Exchange* second = exchanges_[1].get();
  loop_.Run([&] {
    // In one callback, so the first connect cannot have finished: one connection, one pending.
    first->handle = pool_->NewStream(*first, *first);
    EXPECT_EQ(limits.connections.count(), 1u);
    EXPECT_EQ(limits.pending_requests.count(), 1u);
    // No pending slot left while the first connects.
    second->handle = pool_->NewStream(*second, *second);
  });
  EXPECT_TRUE(second->failed);
  EXPECT_EQ(second->reason, PoolFailureReason::kOverflow);
  EXPECT_EQ(second->details, "cluster pending request limit reached (max_pending_requests 1)");
  EXPECT_EQ(limits.connections.count(), 1u);  // Given back.
  ASSERT_TRUE(Complete(first));
  EXPECT_EQ(limits.pending_requests.count(), 0u);  // Set up: no longer pending.
  EXPECT_EQ(limits.connections.count(), 1u);       // Idle in the pool, still open.

  // Two busy connections at the cap; a third request finds none idle and no slot.
  limits.pending_requests.set_max(1024);
  for (int i = 0; i < 3; ++i) exchanges_.push_back(std::make_unique<Exchange>());
  Exchange* a = exchanges_[2].get();
  Exchange* b = exchanges_[3].get();
  Exchange* c = exchanges_[4].get();
  loop_.Run([&] {  // In one callback: neither a nor b can finish before c asks.
    a->handle = pool_->NewStream(*a, *a);  // Reuses the idle one.
    b->handle = pool_->NewStream(*b, *b);  // A second connection.
    c->handle = pool_->NewStream(*c, *c);
  });
  EXPECT_TRUE(a->reused);
  EXPECT_TRUE(c->failed);
  EXPECT_EQ(c->reason, PoolFailureReason::kOverflow);
  EXPECT_EQ(c->details, "cluster connection limit reached (max_connections 2)");
  ASSERT_TRUE(Complete(a));
  ASSERT_TRUE(Complete(b));
  EXPECT_EQ(limits.connections.count(), 2u);
  EXPECT_EQ(limits.connections.overflows(), 1u);
  EXPECT_EQ(limits.pending_requests.overflows(), 1u);
  loop_.Run([&] { pool_->Drain(); });  // Closing gives the slots back.
  EXPECT_EQ(limits.connections.count(), 0u);
  EXPECT_EQ(server.accepted(), 2);
}

// At the connection cap, another pool of the cluster gives up an idle connection (the worker
// wires set_reclaim_idle to the cluster's other pools) instead of the request overflowing.
TEST_F(PoolTest, AnIdleConnectionOfAnotherHostGivesUpItsSlot) {
  Server server_a(kOk);
  Server server_b(kOk);
  auto cluster = std::make_shared<ClusterStats>(1);
  ClusterResources& limits = cluster->resources();
  limits.connections.set_max(1);
  MakePool(server_a.port(), {}, cluster);
  Exchange* first = Start();
  ASSERT_TRUE(Complete(first));
  EXPECT_EQ(Idle(), 1u);  // Holds the only slot.

  auto host_b = std::make_shared<HostState>(1);
  host_b->key = absl::StrCat("127.0.0.1:", server_b.port());
  host_b->address = *event::MakeAddress("127.0.0.1", server_b.port());
  std::unique_ptr<Http1ConnPool> pool_b;
  Exchange* x = exchanges_.emplace_back(std::make_unique<Exchange>()).get();
  loop_.Run([&] {
    pool_b = std::make_unique<Http1ConnPool>(loop_.dispatcher(), host_b, Http1PoolSettings{},
                                             stats_, cluster);
    x->handle = pool_b->NewStream(*x, *x);  // No reclaiming wired: overflow.
  });
  EXPECT_TRUE(x->failed);
  EXPECT_EQ(x->reason, PoolFailureReason::kOverflow);

  Exchange* y = exchanges_.emplace_back(std::make_unique<Exchange>()).get();
  loop_.Run([&] {
    pool_b->set_reclaim_idle([this] { return pool_->CloseOldestIdle(); });
    y->handle = pool_b->NewStream(*y, *y);
  });
  ASSERT_TRUE(Complete(y));
  EXPECT_EQ(y->status, 200);
  EXPECT_EQ(Idle(), 0u);  // Pool A's idle connection was closed for it.
  EXPECT_EQ(limits.connections.count(), 1u);
  EXPECT_EQ(limits.connections.overflows(), 1u);  // Only the unwired attempt.
  loop_.Run([&] {
    EXPECT_FALSE(pool_->CloseOldestIdle());  // Nothing left to give.
    pool_b.reset();
  });
}

TEST_F(PoolTest, CanceledConnectClosesAndCallsNothing) {
  Server server(kOk);
  MakePool(server.port());
  exchanges_.push_back(std::make_unique<Exchange>());
  Exchange* x = exchanges_.back().get();
  loop_.Run([&] {
    // In one callback: the connect cannot have finished yet.
    x->handle = pool_->NewStream(*x, *x);
    ASSERT_NE(x->handle, nullptr);
    x->handle->Cancel();
    EXPECT_TRUE(pool_->empty());
  });
  absl::SleepFor(absl::Milliseconds(50));  // Real time: a callback would have come by now.
  loop_.Run([&] {
    EXPECT_FALSE(x->ready);
    EXPECT_FALSE(x->failed);
  });
}

TEST_F(PoolTest, OutOfDescriptorsIsALocalFailure) {
  Server server(kOk);
  MakePool(server.port());
  rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  Exchange* x = nullptr;
  loop_.Run([&] {
    // No descriptor left for this thread's socket() (the limit is process-wide, so set it and
    // restore it on the loop thread, with nothing else opening files meanwhile).
    int probe = dup(0);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(probe);
    close(probe);
    setrlimit(RLIMIT_NOFILE, &low);
    exchanges_.push_back(std::make_unique<Exchange>());
    x = exchanges_.back().get();
    x->handle = pool_->NewStream(*x, *x);
    setrlimit(RLIMIT_NOFILE, &old);
  });
  EXPECT_EQ(x->handle, nullptr);
  EXPECT_TRUE(x->failed);
  EXPECT_EQ(x->reason, PoolFailureReason::kLocalResource);
  EXPECT_EQ(stats_.local_failures.load(), 1u);
  EXPECT_EQ(stats_.connect_failures.load(), 0u);
}

}  // namespace
}  // namespace lb::proxy::upstream
