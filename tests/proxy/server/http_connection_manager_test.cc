// The connection manager over a socketless connection, with the real codec and router and a
// scripted connection pool, on simulated time: what the client sees, byte for byte, and when the
// connection closes.
#include "proxy/server/http_connection_manager.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/balancer/balancer.h"
#include "proxy/upstream/cluster_snapshot.h"
#include "tests/test_common/event/simulated_time_dispatcher.h"
#include "tests/test_common/proxy/fake_connection.h"
#include "tests/test_common/proxy/fake_pool.h"

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
    auto connection = std::make_unique<FakeConnection>();
    connection_ = connection.get();
    manager_ = std::make_unique<HttpConnectionManager>(worker_, std::move(connection));
  }
  ~ConnectionManagerTest() override {
    manager_.reset();
    worker_.sim.RunPendingWork();
  }

  // The client sends `bytes`; the loop's work after the callback runs too.
  void Send(absl::string_view bytes, bool end_stream = false) {
    connection_->read_buffer().Append(bytes);
    manager_->OnData(connection_->read_buffer(), end_stream);
    worker_.sim.RunPendingWork();
  }
  void Advance(absl::Duration d) { worker_.sim.AdvanceTimeAndRun(d); }
  bool Closed() const { return !worker_.closed.empty(); }
  bool Open() const { return connection_->state() == network::Connection::State::kOpen; }

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
  // Kept alive, then closed when idle for idle_timeout.
  Advance(absl::Seconds(59));
  EXPECT_FALSE(Closed());
  Advance(absl::Seconds(1));
  EXPECT_TRUE(Closed());
  EXPECT_EQ(connection_->written(), "");  // Silently.
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
  manager_->StartDrain();
  EXPECT_FALSE(Closed());
  worker_.pool.Ready();
  worker_.pool.Respond(200, "");
  worker_.sim.RunPendingWork();
  EXPECT_EQ(connection_->TakeWritten(),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(Closed());
}

TEST_F(ConnectionManagerTest, IdleConnectionClosesAtOnceOnDrain) {
  manager_->StartDrain();
  EXPECT_TRUE(Closed());
}

TEST_F(ConnectionManagerTest, ClientLeavingMidRequestAbandonsTheUpstream) {
  worker_.pins.Set(OneHostSnapshot());
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::FakeEncoder& up = worker_.pool.Ready();
  manager_->OnEvent(network::ConnectionEvent::kRemoteClose);
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

}  // namespace
}  // namespace lb::proxy
