// The connection manager over a socketless connection, with the real codec and router and a
// scripted connection pool, on simulated time: what the client sees, byte for byte, and when the
// connection closes.
#include "proxy/server/http_connection_manager.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proxy/balancer/balancer.h"
#include "proxy/upstream/cluster_snapshot.h"
#include "tests/test_common/event/simulated_time_dispatcher.h"
#include "tests/test_common/proxy/fake_connection.h"
#include "tests/test_common/proxy/fake_pool.h"
#include "tests/test_common/proxy/h2_test_client.h"
#include "tests/test_common/subprocess.h"

namespace lb::proxy {
namespace {

using event::Buffer;
using testing::FakeConnection;
using testing::FakePool;

class FakeWorker : public ConnectionManagerContext, public router::RouterContext {
 public:
  // ConnectionManagerContext.
  event::Dispatcher& dispatcher() override { return sim; }
  const ConnectionManagerOptions& connection_manager_options() const override { return options; }
  ConnectionManagerStats& connection_manager_stats() override { return stats; }
  router::RouterContext& router_context() override { return *this; }
  SnapshotPins& snapshots() override { return pins; }
  bool draining() const override { return is_draining; }
  accesslog::AccessLog* access_log() override { return log; }
  IdleConnections& idle_connections() override { return idle; }
  void OnConnectionManagerParked(HttpConnectionManager* manager) override {
    parked.push_back(manager);
  }
  HttpConnectionManager& ResumeConnection(std::unique_ptr<network::Connection> connection,
                                          bool tls) override {
    resumed.push_back(
        std::make_unique<HttpConnectionManager>(*this, std::move(connection), tls, true));
    return *resumed.back();
  }
  void OnParkedConnectionClosed() override { ++parked_closed; }
  size_t connection_managers() const override { return managers; }
  void OnConnectionManagerClosed(HttpConnectionManager* manager) override {
    closed.push_back(manager);
  }

  // router::RouterContext.
  const router::RouterOptions& router_options() const override { return router; }
  upstream::ConnPool& PoolFor(const std::shared_ptr<upstream::HostState>&,
                              const upstream::ClusterSnapshot&) override {
    return pool;
  }
  balancer::Picker::WorkerState& PickerState(const std::string&) override { return picker; }
  upstream::ClusterWorkerCounters* ClusterCounters(
      const upstream::ClusterSnapshot& cluster) override {
    return cluster.stats == nullptr ? nullptr : &cluster.stats->worker(0);
  }
  upstream::HostCounters& Counters(upstream::HostState& host) override { return host.counters(0); }
  void ReportResult(upstream::HostState&, router::UpstreamResult) override {}
  router::RetryBudget& retry_budget() override { return budget; }
  uint64_t active_requests() const override { return stats.requests_active.load(); }
  router::RouterStats& router_stats() override { return router_stats_; }

  testing::SimulatedTimeDispatcher sim;
  ConnectionManagerOptions options;
  IdleConnections idle{*this};
  std::vector<HttpConnectionManager*> parked;  // Owned by the test.
  std::vector<std::unique_ptr<HttpConnectionManager>> resumed;
  int parked_closed = 0;
  size_t managers = 1;
  ConnectionManagerStats stats;
  SnapshotPins pins;
  bool is_draining = false;
  accesslog::AccessLog* log = nullptr;
  std::vector<HttpConnectionManager*> closed;
  router::RouterOptions router;
  FakePool pool;
  balancer::Picker::WorkerState picker{1};
  router::RetryBudget budget{0.2};
  router::RouterStats router_stats_;
};

// Route "/" of any host to cluster "web" with one host.
std::shared_ptr<router::Snapshot> OneHostSnapshot() {
  auto snap = std::make_shared<router::Snapshot>();
  auto cluster = std::make_shared<upstream::ClusterSnapshot>();
  cluster->config.name = "web";
  auto host = std::make_shared<upstream::HostState>(1);
  host->key = "10.0.0.1:80";
  cluster->hosts.push_back(host);
  cluster->views.push_back({});
  cluster->picker = balancer::Picker::Create(LbPolicy::kRoundRobin, {{0, 1}}, {host->key}, {});
  snap->clusters["web"] = cluster;
  RouteConfig route;
  route.prefix = "/";
  route.cluster = "web";
  snap->virtual_hosts = {{"*", {route}}};
  return snap;
}

class ConnectionManagerTest : public ::testing::Test {
 protected:
  ConnectionManagerTest() {
    worker_.options.request_header_timeout = absl::Seconds(10);
    worker_.options.idle_timeout = absl::Seconds(60);
    // Park at the end of the event that leaves a connection idle (the delay has its own test).
    worker_.options.idle_release_after = absl::ZeroDuration();
    auto connection = std::make_unique<FakeConnection>();
    connection_ = connection.get();
    manager_ = std::make_unique<HttpConnectionManager>(worker_, std::move(connection));
  }
  ~ConnectionManagerTest() override {
    manager_.reset();
    worker_.resumed.clear();
    worker_.sim.RunPendingWork();
  }

  // The client sends `bytes`; the loop's work after the callback runs too.
  void Send(absl::string_view bytes, bool end_stream = false) {
    connection_->read_buffer().Append(bytes);
    // Whoever has the connection now: a manager, or the idle list while it is parked.
    connection_->callbacks()->OnData(connection_->read_buffer(), end_stream);
    worker_.sim.RunPendingWork();
  }
  void Advance(absl::Duration d) { worker_.sim.AdvanceTimeAndRun(d); }
  // One request for /a, answered 200 "hello" by the pool.
  void AnswerOne() {
    Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    worker_.pool.Ready();
    worker_.pool.Respond(200, "hello");
    worker_.sim.RunPendingWork();
  }
  bool Closed() const { return !worker_.closed.empty() || worker_.parked_closed > 0; }
  // The manager that has the connection (a new one after each idle period).
  HttpConnectionManager* current() {
    return worker_.resumed.empty() ? manager_.get() : worker_.resumed.back().get();
  }
  bool Open() const { return connection_->state() == network::Connection::State::kOpen; }
  // One end of a socketpair for connection_ to hand over on ReleaseSocket() (as a plaintext
  // connection does); returns the other end, the client's (the test closes it).
  int GiveReleasableSocket() {
    int pair[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    connection_->release_fd = pair[0];
    return pair[1];
  }
  // What the client's end of such a socket sees: "open" (nothing to read yet), "closed", or
  // "unexpected".
  static std::string ClientSees(int fd) {
    char byte;
    const ssize_t n = read(fd, &byte, 1);
    if (n == 0) return "closed";
    return n < 0 && errno == EAGAIN ? "open" : "unexpected";
  }

  FakeWorker worker_;
  FakeConnection* connection_;  // Owned by the manager.
  std::unique_ptr<HttpConnectionManager> manager_;
};

TEST_F(ConnectionManagerTest, RequestGoesUpstreamAndTheAnswerComesBack) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(worker_.pool.waiting());
  testing::FakeEncoder& up = worker_.pool.Ready();
  EXPECT_EQ(up.head,
            "GET /a\nHost: x\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n");
  worker_.pool.Respond(200, "hello");
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(worker_.stats.requests.load(), 1u);
  EXPECT_EQ(worker_.stats.responses_2xx.load(), 1u);
  EXPECT_EQ(worker_.stats.requests_active.load(), 0u);
  EXPECT_TRUE(Open());
  // Idle keep-alive: the connection is told to free its buffers.
  EXPECT_EQ(connection_->idle_releases, 1);
  // Kept alive, then closed when idle for idle_timeout.
  Advance(absl::Seconds(59));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(Closed());
  EXPECT_EQ(connection_->written(), "");  // Silently.
}

// After an idle keep-alive period (buffers and parser memory released) the next request on
// the connection is read and answered as the first was.
TEST_F(ConnectionManagerTest, RequestAfterIdleReleaseIsServed) {
  worker_.pins.Set(OneHostSnapshot());
  for (int i = 0; i < 3; ++i) {
    Send("GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    ASSERT_TRUE(worker_.pool.waiting());
    worker_.pool.Ready();
    worker_.pool.Respond(200, "hello");
    worker_.sim.RunPendingWork();
    EXPECT_EQ(connection_->TakeWritten(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_EQ(connection_->idle_releases, i + 1);
    Advance(absl::Seconds(30));
  }
}

// Between keep-alive requests the manager parks its connection in the worker's idle list
// (nothing of the request or the manager stays) and is destroyed; the next request's first
// byte makes a new manager, also when that request arrives in pieces.
TEST_F(ConnectionManagerTest, IdleKeepAliveParksTheConnection) {
  worker_.pins.Set(OneHostSnapshot());
  EXPECT_FALSE(manager_->holds_codec());  // Nothing read yet.
  Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(manager_->holds_codec());
  worker_.pool.Ready();
  worker_.pool.Respond(200, "hello");
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(worker_.parked.size(), 1u);
  EXPECT_EQ(worker_.parked[0], manager_.get());
  EXPECT_EQ(worker_.idle.size(), 1u);
  EXPECT_EQ(worker_.sim.armed_timers(), 1u);  // The idle list's only.
  EXPECT_TRUE(Open());
  Advance(absl::Seconds(30));
  Send("GET /b HT");
  ASSERT_EQ(worker_.resumed.size(), 1u);
  EXPECT_EQ(worker_.idle.size(), 0u);
  EXPECT_TRUE(current()->holds_codec());
  Send("TP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(worker_.pool.waiting());
  EXPECT_EQ(worker_.pool.Ready().head.substr(0, 7), "GET /b\n");
  worker_.pool.Respond(200, "again");
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain");
  EXPECT_EQ(worker_.parked.size(), 2u);
  EXPECT_EQ(worker_.stats.requests.load(), 2u);
  // The idle timeout runs from the end of the last response.
  Advance(absl::Seconds(59));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(Closed());
  EXPECT_EQ(worker_.parked_closed, 1);
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 1u);
}

// With --idle_release_after, a connection parks only once idle that long (a client that comes
// back sooner keeps its manager), and the idle timeout still runs from the last answer.
TEST_F(ConnectionManagerTest, ParksAfterTheReleaseDelayOnly) {
  worker_.options.idle_release_after = absl::Seconds(1);
  worker_.pins.Set(OneHostSnapshot());
  AnswerOne();
  EXPECT_TRUE(worker_.parked.empty());
  Advance(absl::Milliseconds(500));
  Send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");  // Back within the delay: same manager.
  worker_.pool.Ready();
  worker_.pool.Respond(200, "again");
  worker_.sim.RunPendingWork();
  EXPECT_TRUE(worker_.resumed.empty());
  EXPECT_TRUE(worker_.parked.empty());
  Advance(absl::Milliseconds(999));
  EXPECT_TRUE(worker_.parked.empty());
  Advance(absl::Milliseconds(1));
  ASSERT_EQ(worker_.parked.size(), 1u);
  EXPECT_EQ(worker_.idle.size(), 1u);
  EXPECT_EQ(worker_.sim.armed_timers(), 1u);  // The idle list's only.
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain");
  Advance(absl::Seconds(58));  // 59 s after the last answer.
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));  // Closed, then freed: connection_ is gone.
  EXPECT_TRUE(Closed());
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 1u);
}

// A worker holding more managers than idle_release_above parks an idle connection at once,
// whatever idle_release_after says.
TEST_F(ConnectionManagerTest, ParksAtOnceWhenTheWorkerHoldsManyManagers) {
  worker_.options.idle_release_after = absl::Seconds(1);
  worker_.options.idle_release_above = 4;
  worker_.managers = 5;
  worker_.pins.Set(OneHostSnapshot());
  AnswerOne();
  EXPECT_EQ(worker_.parked.size(), 1u);
  EXPECT_EQ(worker_.idle.size(), 1u);
  // The next request, before the release delay, finds the connection whole.
  Advance(absl::Milliseconds(500));
  AnswerOne();
  EXPECT_EQ(worker_.resumed.size(), 1u);
  EXPECT_EQ(worker_.parked.size(), 2u);
  Advance(absl::Seconds(2));  // Past both release delays: nothing of the first is left.
  EXPECT_EQ(worker_.idle.size(), 1u);
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

// A parked connection whose client closes is closed and counted once; a half-close with no
// bytes is the same.
TEST_F(ConnectionManagerTest, ParkedConnectionClosedByItsClient) {
  worker_.pins.Set(OneHostSnapshot());
  AnswerOne();
  ASSERT_EQ(worker_.idle.size(), 1u);
  connection_->callbacks()->OnData(connection_->read_buffer(), /*end_stream=*/true);
  EXPECT_FALSE(Open());  // Closed now, freed at the end of the loop turn.
  worker_.sim.RunPendingWork();
  EXPECT_EQ(worker_.parked_closed, 1);
  EXPECT_EQ(worker_.idle.size(), 0u);
  Advance(absl::Seconds(120));
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 0u);
  EXPECT_EQ(worker_.parked_closed, 1);
}

// Draining closes parked connections at once; a draining worker does not park.
TEST_F(ConnectionManagerTest, DrainClosesParkedConnections) {
  worker_.pins.Set(OneHostSnapshot());
  AnswerOne();
  ASSERT_EQ(worker_.idle.size(), 1u);
  worker_.idle.CloseAll();
  EXPECT_EQ(worker_.parked_closed, 1);
  EXPECT_FALSE(Open());
}

// A connection that can give its socket up (plaintext) parks as that socket alone: the
// connection object goes, and the list closes the socket at the idle deadline or on drain.
TEST_F(ConnectionManagerTest, APlaintextConnectionParksAsItsSocketAlone) {
  for (bool drain : {false, true}) {
    SCOPED_TRACE(drain ? "drain" : "idle timeout");
    worker_.pins.Set(OneHostSnapshot());
    const int client = GiveReleasableSocket();
    const int closed_before = worker_.parked_closed;
    AnswerOne();  // Parks; the connection object (connection_) is freed with the loop turn.
    ASSERT_EQ(worker_.idle.size(), 1u);
    EXPECT_EQ(ClientSees(client), "open");  // The socket itself is still open.
    if (drain) {
      worker_.idle.CloseAll();
    } else {
      Advance(absl::Seconds(59));
      EXPECT_EQ(worker_.parked_closed, closed_before);
      Advance(absl::Seconds(1));
    }
    EXPECT_EQ(worker_.parked_closed, closed_before + 1);
    EXPECT_EQ(worker_.idle.size(), 0u);
    EXPECT_EQ(ClientSees(client), "closed");  // By the list: the connection had let go.
    close(client);
    // A fresh connection for the next round.
    auto connection = std::make_unique<FakeConnection>();
    connection_ = connection.get();
    manager_ = std::make_unique<HttpConnectionManager>(worker_, std::move(connection));
  }
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 1u);
}

// Parked at once because the worker holds many managers, a plaintext connection stays whole
// (a busy client's next request finds it as it was) until idle_release_after into its idle
// time, then keeps only its socket.
TEST_F(ConnectionManagerTest, AConnectionParkedEarlyKeepsOnlyItsSocketAfterTheReleaseDelay) {
  worker_.options.idle_release_after = absl::Seconds(1);
  worker_.options.idle_release_above = 4;
  worker_.managers = 5;
  worker_.pins.Set(OneHostSnapshot());
  const int client = GiveReleasableSocket();
  const int released = connection_->release_fd;
  AnswerOne();
  ASSERT_EQ(worker_.parked.size(), 1u);
  EXPECT_EQ(connection_->release_fd, released);  // Whole.
  Advance(absl::Milliseconds(999));
  EXPECT_EQ(connection_->release_fd, released);
  Advance(absl::Milliseconds(1));  // Its socket alone now; the connection object is freed.
  EXPECT_EQ(worker_.idle.size(), 1u);
  EXPECT_EQ(ClientSees(client), "open");
  Advance(absl::Seconds(59));  // 60 s after the answer: the idle timeout closes the socket.
  EXPECT_EQ(worker_.parked_closed, 1);
  EXPECT_EQ(worker_.idle.size(), 0u);
  EXPECT_EQ(ClientSees(client), "closed");
  close(client);
}

// Beyond idle_warm_max warm (whole) ones, a connection parked early keeps only its socket at
// once: no release timer is armed for it, and the idle timeout closes the socket itself.
TEST_F(ConnectionManagerTest, BeyondTheWarmCapAConnectionParksAsItsSocketAtOnce) {
  worker_.options.idle_release_after = absl::Seconds(1);
  worker_.options.idle_release_above = 4;
  worker_.options.idle_warm_max = 0;
  worker_.managers = 5;
  worker_.pins.Set(OneHostSnapshot());
  const int client = GiveReleasableSocket();
  AnswerOne();  // The connection object is freed with the loop turn.
  ASSERT_EQ(worker_.idle.size(), 1u);
  EXPECT_EQ(worker_.sim.armed_timers(), 1u);  // The idle timeout only.
  Advance(absl::Seconds(60));
  EXPECT_EQ(worker_.parked_closed, 1);
  EXPECT_EQ(ClientSees(client), "closed");  // By the list: it held the socket.
  close(client);
}

// The worker's idle list: each parked connection expires idle_timeout after its own last
// answer, in that order, with one timer; one that got a new request or was closed is out of it.
TEST_F(ConnectionManagerTest, IdleConnectionsExpireInTheOrderTheyWentIdle) {
  worker_.pins.Set(OneHostSnapshot());
  std::vector<FakeConnection*> conns = {connection_};
  std::vector<std::unique_ptr<HttpConnectionManager>> managers;
  // Connection i is accepted and answers its request at i * 10 s.
  for (size_t i = 0; i < 4; ++i) {
    if (i > 0) {
      auto connection = std::make_unique<FakeConnection>();
      conns.push_back(connection.get());
      managers.push_back(std::make_unique<HttpConnectionManager>(worker_, std::move(connection)));
    }
    conns[i]->read_buffer().Append("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    conns[i]->callbacks()->OnData(conns[i]->read_buffer(), false);
    worker_.sim.RunPendingWork();
    ASSERT_TRUE(worker_.pool.waiting());
    worker_.pool.Ready();
    worker_.pool.Respond(200, "ok");
    worker_.sim.RunPendingWork();
    EXPECT_EQ(worker_.idle.size(), i + 1);
    Advance(absl::Seconds(10));
  }
  // t = 40 s. Connection 1 starts another request (out of the list), connection 3 is closed
  // by its client.
  conns[1]->read_buffer().Append("GET / HT");
  conns[1]->callbacks()->OnData(conns[1]->read_buffer(), false);
  worker_.sim.RunPendingWork();
  conns[3]->callbacks()->OnEvent(network::ConnectionEvent::kRemoteClose);
  EXPECT_EQ(worker_.parked_closed, 1);
  EXPECT_EQ(worker_.idle.size(), 2u);         // 0 and 2.
  EXPECT_EQ(worker_.sim.armed_timers(), 2u);  // The list's, and connection 1's header timeout.
  Advance(absl::Seconds(20));                 // t = 60: connection 0 expires (and is freed).
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 1u);
  EXPECT_EQ(worker_.parked_closed, 2);
  EXPECT_EQ(worker_.idle.size(), 1u);
  Advance(absl::Seconds(19));  // t = 79: connection 2 is due at 80.
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 1u);
  Advance(absl::Seconds(1));
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 2u);
  EXPECT_EQ(worker_.idle.size(), 0u);
  EXPECT_EQ(worker_.parked_closed, 3);
  // Connection 1's partial head got the header timeout (408), not the idle one.
  EXPECT_EQ(worker_.stats.request_header_timeouts.load(), 1u);
  EXPECT_TRUE(absl::StrContains(conns[1]->TakeWritten(), "HTTP/1.1 408 "));
  EXPECT_EQ(worker_.stats.idle_timeouts.load(), 2u);
}

// Pipelined requests: the manager stays while bytes of the next request wait, and parks the
// connection after the last answer.
TEST_F(ConnectionManagerTest, PipelinedRequestsParkOnlyAfterTheLastAnswer) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  worker_.pool.Ready();
  worker_.pool.Respond(200, "one");
  worker_.sim.RunPendingWork();
  EXPECT_TRUE(worker_.parked.empty());
  ASSERT_TRUE(worker_.pool.waiting());
  EXPECT_EQ(worker_.pool.Ready().head.substr(0, 7), "GET /2\n");
  worker_.pool.Respond(200, "two");
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
  EXPECT_EQ(worker_.parked.size(), 1u);
}

// A head that stops half-way after an idle period gets the header timeout's 408.
TEST_F(ConnectionManagerTest, PartialHeadAfterIdleStillTimesOut) {
  worker_.pins.Set(OneHostSnapshot());
  AnswerOne();
  connection_->TakeWritten();
  Send("GET /b HTTP/1.1\r\nHo");
  EXPECT_TRUE(current()->holds_codec());
  Advance(absl::Seconds(10));
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 408 "));
  EXPECT_EQ(worker_.stats.request_header_timeouts.load(), 1u);
}

// A resumed connection speaks HTTP/1 whatever its next bytes look like.
TEST_F(ConnectionManagerTest, ResumedConnectionStaysHttp1) {
  worker_.pins.Set(OneHostSnapshot());
  AnswerOne();
  connection_->TakeWritten();
  Send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 "));
}

// Each request is logged once, when it is over: an answered one and one whose client left.
TEST_F(ConnectionManagerTest, AccessLogLines) {
  const std::string path = testing::MakeTempDir() + "/access.log";
  absl::StatusOr<std::unique_ptr<accesslog::AccessLog>> log =
      accesslog::AccessLog::Open({path, 1 << 20});
  ASSERT_TRUE(log.ok());
  worker_.log = log->get();
  worker_.pins.Set(OneHostSnapshot());
  Send("GET /a?q=1 HTTP/1.1\r\nHost: shop\r\n\r\n");
  worker_.pool.Ready();
  worker_.pool.Respond(200, "hello");
  worker_.sim.RunPendingWork();
  Send("GET /gone HTTP/1.1\r\nHost: shop\r\n\r\n");
  ASSERT_TRUE(worker_.pool.waiting());
  Send("", /*end_stream=*/true);  // The client leaves before the answer.
  manager_.reset();
  worker_.sim.RunPendingWork();
  log->reset();  // Flushes.
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["client"], "192.0.2.7");
  EXPECT_EQ(lines[0]["method"], "GET");
  EXPECT_EQ(lines[0]["authority"], "shop");
  EXPECT_EQ(lines[0]["path"], "/a?q=1");
  EXPECT_EQ(lines[0]["status"], 200);
  EXPECT_EQ(lines[0]["bytes_sent"], 5);
  EXPECT_EQ(lines[0]["attempts"], 1);
  EXPECT_EQ(lines[0]["flags"], "-");
  EXPECT_EQ(lines[1]["path"], "/gone");
  EXPECT_EQ(lines[1]["status"], 0);
  EXPECT_EQ(lines[1]["flags"], "DC");
  EXPECT_TRUE(lines[1]["upstream_ms"].is_null());
}

TEST_F(ConnectionManagerTest, ClientThatSendsNothingIsCutAtTheHeaderTimeout) {
  Advance(absl::Seconds(10));
  EXPECT_TRUE(Closed());
  EXPECT_EQ(connection_->written(), "");
}

TEST_F(ConnectionManagerTest, SlowHeadersGet408AndTheConnectionCloses) {
  Send("GET / HTTP/1.1\r\nHo");
  Advance(absl::Seconds(9));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n"
            "Connection: close\r\n\r\nrequest headers not received in time\n");
  EXPECT_TRUE(Closed());
  EXPECT_EQ(worker_.stats.local_replies.load(), 1u);
  EXPECT_EQ(worker_.stats.responses_4xx.load(), 1u);
}

TEST_F(ConnectionManagerTest, TheHeaderTimeoutOfALaterRequestRunsFromItsFirstByte) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  worker_.pool.Ready();
  worker_.pool.Respond(204, "");
  worker_.sim.RunPendingWork();
  connection_->TakeWritten();
  Advance(absl::Seconds(30));  // Idle: under the idle timeout.
  Send("GET / HT");
  Advance(absl::Seconds(9));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 408 "));
}

TEST_F(ConnectionManagerTest, MalformedRequestIsAnsweredWithItsStatusAndClosed) {
  Send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string out = connection_->TakeWritten();
  EXPECT_TRUE(absl::StartsWith(out, "HTTP/1.1 400 Bad Request\r\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\r\nConnection: close\r\n")) << out;
  EXPECT_TRUE(Closed());
  EXPECT_FALSE(worker_.pool.waiting());
}

TEST_F(ConnectionManagerTest, BodiesOverTheLimitAre413) {
  worker_.options.max_body_bytes = 10;
  worker_.pins.Set(OneHostSnapshot());
  Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
  std::string out = connection_->TakeWritten();
  EXPECT_TRUE(absl::StartsWith(out, "HTTP/1.1 413 Payload Too Large\r\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "request body too large\n")) << out;
  EXPECT_TRUE(Closed());
  EXPECT_FALSE(worker_.pool.waiting());  // Refused before anything went upstream.
}

TEST_F(ConnectionManagerTest, ChunkedBodyOverTheLimitIs413AndTheUpstreamIsAbandoned) {
  worker_.options.max_body_bytes = 10;
  worker_.pins.Set(OneHostSnapshot());
  Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n");
  testing::FakeEncoder& up = worker_.pool.Ready();
  Send("6\r\n567890\r\n");
  EXPECT_TRUE(up.reset);
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 413 "));
  EXPECT_TRUE(Closed());
}

TEST_F(ConnectionManagerTest, PipelinedRequestsAreAnsweredInOrder) {
  // No config: both are answered by the proxy, the second only after the first.
  Send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string out = connection_->TakeWritten();
  const std::string answer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n";
  const std::string message = "no configuration received from the controller yet\n";
  EXPECT_EQ(out,
            absl::StrCat(answer, "\r\n", message, answer, "Connection: close\r\n\r\n", message));
  EXPECT_EQ(worker_.stats.requests.load(), 2u);
  EXPECT_TRUE(Closed());
}

TEST_F(ConnectionManagerTest, DrainClosesIdleConnectionsAtOnceAndBusyOnesAfterTheirAnswer) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  worker_.is_draining = true;
  current()->StartDrain();
  EXPECT_FALSE(Closed());
  worker_.pool.Ready();
  worker_.pool.Respond(200, "");
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(Closed());
}

TEST_F(ConnectionManagerTest, IdleConnectionClosesAtOnceOnDrain) {
  current()->StartDrain();
  EXPECT_TRUE(Closed());
}

TEST_F(ConnectionManagerTest, ClientLeavingMidRequestAbandonsTheUpstream) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::FakeEncoder& up = worker_.pool.Ready();
  current()->OnEvent(network::ConnectionEvent::kRemoteClose);
  EXPECT_TRUE(up.reset);
  EXPECT_TRUE(Closed());
  EXPECT_EQ(worker_.stats.requests_active.load(), 1u);  // Until the stream is freed...
  worker_.sim.RunPendingWork();
  EXPECT_EQ(worker_.stats.requests_active.load(), 0u);  // ... at the end of the loop turn.
}

TEST_F(ConnectionManagerTest, HalfCloseWhileTheAnswerIsPendingAbandonsTheUpstream) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::FakeEncoder& up = worker_.pool.Ready();
  Send("", /*end_stream=*/true);
  EXPECT_TRUE(up.reset);
  EXPECT_TRUE(Closed());
  EXPECT_EQ(connection_->TakeWritten(), "");
  EXPECT_EQ(worker_.stats.downstream_resets.load(), 1u);
}

TEST_F(ConnectionManagerTest, StreamIdleTimeoutCutsAResponseThatStalls) {
  worker_.options.stream_idle_timeout = absl::Seconds(30);
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::FakeEncoder& up = worker_.pool.Ready();
  worker_.pool.Respond(200, "part", /*end=*/false);
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npart");
  Advance(absl::Seconds(29));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(Closed());
  EXPECT_TRUE(up.reset);
  EXPECT_EQ(worker_.stats.stream_idle_timeouts.load(), 1u);
}

TEST_F(ConnectionManagerTest, StreamIdleTimeoutBeforeTheHeadIs504) {
  worker_.options.stream_idle_timeout = absl::Seconds(30);
  worker_.router.upstream_timeout = absl::Minutes(10);
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::FakeEncoder& up = worker_.pool.Ready();
  Advance(absl::Seconds(30));
  EXPECT_TRUE(up.reset);
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\nContent-Length: 53\r\n"
            "\r\nupstream sent nothing within the stream idle timeout\n");
  EXPECT_EQ(worker_.stats.stream_idle_timeouts.load(), 1u);
}

TEST_F(ConnectionManagerTest, ATunnelHasItsOwnIdleTimeout) {
  worker_.options.stream_idle_timeout = absl::Seconds(30);
  worker_.options.tunnel_idle_timeout = absl::Seconds(120);
  worker_.pins.Set(OneHostSnapshot());
  Send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  worker_.pool.Ready();
  http::ResponseHeaderMapPtr head = http::NewResponseHeaderMap();
  head->status = 101;
  head->upgrade = "websocket";
  worker_.pool.RespondHead(std::move(head), /*end=*/false);
  worker_.sim.RunPendingWork();
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 101 Switching Protocols"));
  Advance(absl::Seconds(60));
  Send("ping");  // Bytes either way start the idle time again.
  Advance(absl::Seconds(119));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(Closed());
  EXPECT_EQ(worker_.stats.tunnel_idle_timeouts.load(), 1u);
  EXPECT_EQ(worker_.stats.stream_idle_timeouts.load(), 0u);
}

TEST_F(ConnectionManagerTest, ProxyErrorsKeepTheConnection) {
  worker_.pins.Set(std::make_shared<router::Snapshot>());  // No routes.
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 404 Not Found\r\n"));
  EXPECT_FALSE(Closed());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(connection_->TakeWritten(), "HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(worker_.stats.responses_4xx.load(), 2u);
}

// --- HTTP/2 (h2c prior knowledge) through the same manager --------------------------------

class Http2ConnectionManagerTest : public ConnectionManagerTest {
 protected:
  // Moves bytes both ways until neither side has more (bounded).
  void Pump() {
    for (int i = 0; i < 100; ++i) {
      const std::string up = client_.Out();
      if (!up.empty()) Send(up);
      const std::string down = connection_->TakeWritten();
      if (!down.empty()) client_.In(down);
      if (up.empty() && down.empty()) break;
    }
  }
  // One request answered 200 "hello" by the pool.
  void Serve(absl::string_view path) {
    const int32_t id = client_.Get(path);
    Pump();
    ASSERT_TRUE(worker_.pool.waiting());
    worker_.pool.Ready();
    worker_.pool.Respond(200, "hello");
    worker_.sim.RunPendingWork();
    Pump();
    EXPECT_EQ(client_.streams[id].headers[":status"], "200");
    EXPECT_EQ(client_.streams[id].body, "hello");
  }

  testing::H2TestClient client_;
};

TEST_F(Http2ConnectionManagerTest, ResetEndsOnlyItsStream) {
  worker_.pins.Set(OneHostSnapshot());
  Serve("/a");
  EXPECT_TRUE(absl::StartsWith(worker_.pool.encoders.back()->head,
                               "GET /a\nhost: example.com\r\nX-Forwarded-For: 192.0.2.7\r\n"))
      << worker_.pool.encoders.back()->head;
  const int32_t id = client_.Get("/b");
  Pump();
  ASSERT_TRUE(worker_.pool.waiting());
  nghttp2_submit_rst_stream(client_.session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Pump();
  EXPECT_FALSE(worker_.pool.waiting());  // The pending upstream request was cancelled.
  EXPECT_EQ(worker_.stats.downstream_resets.load(), 1u);
  EXPECT_EQ(worker_.stats.http2.premature_resets.load(), 1u);
  EXPECT_TRUE(Open());
  Serve("/c");
  EXPECT_EQ(worker_.stats.http2.streams.load(), 3u);
  EXPECT_EQ(worker_.stats.requests_active.load(), 0u);
}

TEST_F(Http2ConnectionManagerTest, IdleTimeoutRunsFromTheLastStreamWhateverPingsSay) {
  worker_.pins.Set(OneHostSnapshot());
  Serve("/a");
  Advance(absl::Seconds(30));
  nghttp2_submit_ping(client_.session_, NGHTTP2_FLAG_NONE, nullptr);
  Pump();
  Advance(absl::Seconds(29));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(Closed());
}

// Each stream has its own router timer: no response head within upstream_timeout is a 504 on
// that stream only.
TEST_F(Http2ConnectionManagerTest, UpstreamTimeoutPerStream) {
  worker_.pins.Set(OneHostSnapshot());
  const int32_t id = client_.Get("/slow");
  Pump();
  worker_.pool.Ready();
  Advance(absl::Seconds(15));
  Pump();
  EXPECT_EQ(client_.streams[id].headers[":status"], "504");
  EXPECT_TRUE(Open());
  Serve("/next");
}

TEST_F(Http2ConnectionManagerTest, GrpcCallGetsTrailersOnlyStatus) {
  // No configuration yet: 503 for HTTP, UNAVAILABLE for gRPC.
  const int32_t id =
      client_.Get("/pkg.Svc/Call", {{"content-type", "application/grpc"}, {"te", "trailers"}});
  Pump();
  const testing::H2ClientStream& s = client_.streams[id];
  EXPECT_EQ(s.headers.at(":status"), "200");
  EXPECT_EQ(s.headers.at("content-type"), "application/grpc");
  EXPECT_EQ(s.headers.at("grpc-status"), "14");
  EXPECT_TRUE(s.ended);
  EXPECT_EQ(s.body, "");
  EXPECT_EQ(worker_.stats.local_replies.load(), 1u);
}

TEST_F(Http2ConnectionManagerTest, DrainSendsGoawayAndFinishesTheStream) {
  worker_.pins.Set(OneHostSnapshot());
  const int32_t id = client_.Get("/a");
  Pump();
  worker_.pool.Ready();
  worker_.is_draining = true;
  current()->StartDrain();
  Pump();
  EXPECT_EQ(client_.goaway, NGHTTP2_NO_ERROR);
  EXPECT_EQ(client_.goaway_last_stream, id);
  EXPECT_TRUE(Open());
  worker_.pool.Respond(200, "bye");
  worker_.sim.RunPendingWork();
  Pump();
  EXPECT_EQ(client_.streams[id].body, "bye");
  EXPECT_TRUE(Closed());
}

// Draining while a response still waits for the client's window: the connection closes only
// once the response is out, not when the stream's last byte left the router.
TEST_F(Http2ConnectionManagerTest, DrainWaitsForResponsesTheCodecStillHolds) {
  worker_.pins.Set(OneHostSnapshot());
  testing::H2TestClient slow({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
  auto pump = [&] {
    for (int i = 0; i < 100; ++i) {
      const std::string up = slow.Out();
      if (!up.empty()) Send(up);
      const std::string down = connection_->TakeWritten();
      if (!down.empty()) slow.In(down);
      if (up.empty() && down.empty()) break;
    }
  };
  const int32_t id = slow.Get("/a");
  pump();
  worker_.pool.Ready();
  worker_.is_draining = true;
  current()->StartDrain();
  worker_.pool.Respond(200, "held back");
  worker_.sim.RunPendingWork();
  pump();
  EXPECT_EQ(slow.streams[id].headers[":status"], "200");
  EXPECT_EQ(slow.streams[id].body, "");  // Window 0: nothing sent yet ...
  EXPECT_FALSE(Closed());                // ... so the connection stays.
  nghttp2_submit_window_update(slow.session_, NGHTTP2_FLAG_NONE, id, 1024);
  pump();
  EXPECT_EQ(slow.streams[id].body, "held back");
  EXPECT_TRUE(Closed());
}

}  // namespace
}  // namespace lb::proxy
