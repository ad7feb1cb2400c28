// The HTTP/2 pool of one host against a loopback h2c server on nghttp2 (tests/test_common), on
// a loop thread with simulated time.
#include "proxy/upstream/http2_conn_pool.h"

#include <nghttp2/nghttp2.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/event/socket.h"
#include "tests/test_common/event/loop_thread.h"
#include "tests/test_common/h2_server.h"

namespace lb::proxy::upstream {
namespace {

using testing::H2Server;
using testing::LoopThread;
using testing::WaitFor;

// One request through the pool, recorded.
class Exchange : public http::ResponseDecoder, public http::StreamCallbacks, public PoolCallbacks {
 public:
  void OnPoolReady(http::RequestEncoder& encoder, bool was_reused) override {
    ready = true;
    reused = was_reused;
    encoder.SetCallbacks(this);
    http::RequestHeaderMapPtr h = http::NewRequestHeaderMap();
    h->owned_target = "/x";
    h->target = h->owned_target;
    h->host = "up";
    h->has_host = true;
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
  void OnStreamReset(http::StreamResetReason r, absl::string_view d) override {
    reset = true;
    reset_reason = r;
    details = std::string(d);
  }
  void OnAboveWriteBufferHighWatermark() override {}
  void OnBelowWriteBufferLowWatermark() override {}

  bool ready = false;
  bool reused = false;
  bool failed = false;
  PoolFailureReason reason = PoolFailureReason::kConnectFailure;
  bool reset = false;
  http::StreamResetReason reset_reason = http::StreamResetReason::kLocalReset;
  std::string details;
  int status = 0;
  std::string body;
  bool complete = false;
  PoolHandle* handle = nullptr;
};

class Http2PoolTest : public ::testing::Test {
 protected:
  void MakePool(uint16_t port, uint32_t cap = 100,
                std::shared_ptr<ClusterStats> cluster = nullptr) {
    host_ = std::make_shared<HostState>(1);
    host_->key = absl::StrCat("127.0.0.1:", port);
    host_->address = *event::MakeAddress("127.0.0.1", port);
    loop_.Run([&] {
      pool_ = std::make_unique<Http2ConnPool>(loop_.dispatcher(), host_, Http2PoolSettings{},
                                              stats_, cluster);
      pool_->set_cluster_max_concurrent_streams(cap);
    });
  }
  ~Http2PoolTest() override {
    loop_.Run([&] { pool_.reset(); });
  }
  Exchange* Start() {
    exchanges_.push_back(std::make_unique<Exchange>());
    Exchange* x = exchanges_.back().get();
    loop_.Run([&] { x->handle = pool_->NewStream(*x, *x); });
    return x;
  }
  bool Done(Exchange* x) {
    return WaitFor([&] {
      bool done = false;
      loop_.Run([&] { done = x->complete || x->failed || x->reset; });
      return done;
    });
  }
  size_t Connections() {
    size_t n = 0;
    loop_.Run([&] { n = pool_->connections(); });
    return n;
  }

  LoopThread loop_;
  PoolStats stats_;
  std::shared_ptr<HostState> host_;
  std::unique_ptr<Http2ConnPool> pool_;
  std::vector<std::unique_ptr<Exchange>> exchanges_;
};

TEST_F(Http2PoolTest, MultiplexesStreamsOnOneConnection) {
  H2Server server({.name = "a", .max_concurrent_streams = 0, .hold = true, .trailers = false});
  MakePool(server.port());
  for (int i = 0; i < 10; ++i) Start();
  ASSERT_TRUE(WaitFor([&] { return server.waiting() == 10; }));
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(Connections(), 1u);
  server.Release();
  for (auto& x : exchanges_) {
    ASSERT_TRUE(Done(x.get()));
    EXPECT_EQ(x->status, 200);
    EXPECT_EQ(x->body, "a /x");
  }
  EXPECT_EQ(stats_.connects.load(), 1u);
  // Another request reuses the connection.
  Exchange* again = Start();
  ASSERT_TRUE(Done(again));
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->handle, nullptr);  // Ready at once.
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(Http2PoolTest, OpensAnotherConnectionWhenEveryOneIsFull) {
  H2Server server({.name = "a", .max_concurrent_streams = 0, .hold = true, .trailers = false});
  MakePool(server.port(), /*cap=*/2);
  for (int i = 0; i < 5; ++i) {
    Start();
    ASSERT_TRUE(WaitFor([&] { return server.waiting() == i + 1; }));
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(Connections(), 3u);
  EXPECT_GE(stats_.http2_connections_full.load(), 1u);
  server.Release();
  for (auto& x : exchanges_) ASSERT_TRUE(Done(x.get()));
}

TEST_F(Http2PoolTest, GoAwayFinishesProcessedStreamsAndRefusesTheRest) {
  H2Server server({.name = "a", .max_concurrent_streams = 0, .hold = true, .trailers = false});
  MakePool(server.port());
  Exchange* first = Start();
  ASSERT_TRUE(WaitFor([&] { return server.waiting() == 1; }));
  Exchange* second = Start();
  ASSERT_TRUE(WaitFor([&] { return server.waiting() == 2; }));
  server.GoAwayKeepFirst();
  ASSERT_TRUE(Done(first));
  ASSERT_TRUE(Done(second));
  EXPECT_TRUE(first->complete);
  EXPECT_EQ(first->body, "a /x");
  EXPECT_TRUE(second->reset);
  EXPECT_EQ(second->reset_reason, http::StreamResetReason::kRemoteRefusedStream) << second->details;
  EXPECT_EQ(stats_.http2_goaways.load(), 1u);
  // The connection closes once its last stream ended; a new request gets a new one.
  ASSERT_TRUE(WaitFor([&] {
    loop_.Advance(absl::Milliseconds(1));
    return Connections() == 0;
  }));
  Exchange* third = Start();
  ASSERT_TRUE(Done(third));
  EXPECT_TRUE(third->complete);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(Http2PoolTest, UpstreamResetOfOneStreamKeepsTheConnection) {
  H2Server server({.name = "a", .max_concurrent_streams = 0, .hold = true, .trailers = false});
  MakePool(server.port());
  Exchange* x = Start();
  ASSERT_TRUE(WaitFor([&] { return server.waiting() == 1; }));
  server.ResetHeld(NGHTTP2_INTERNAL_ERROR);
  ASSERT_TRUE(Done(x));
  EXPECT_TRUE(x->reset);
  EXPECT_EQ(x->reset_reason, http::StreamResetReason::kConnectionTermination);
  EXPECT_EQ(Connections(), 1u);
}

TEST_F(Http2PoolTest, CircuitBreakersCountConnectionsAndPendingStreams) {
  H2Server server({.name = "a", .max_concurrent_streams = 0, .hold = true, .trailers = false});
  auto cluster = std::make_shared<ClusterStats>(1);
  cluster->resources().connections.set_max(1);
  MakePool(server.port(), /*cap=*/1, cluster);
  Exchange* first = Start();
  ASSERT_TRUE(WaitFor([&] { return server.waiting() == 1; }));
  EXPECT_EQ(cluster->resources().connections.count(), 1u);
  EXPECT_EQ(cluster->resources().pending_requests.count(), 0u);  // Started.
  Exchange* second = Start();  // The one connection is full: a second is over the limit.
  EXPECT_TRUE(second->failed);
  EXPECT_EQ(second->reason, PoolFailureReason::kOverflow);
  EXPECT_TRUE(absl::StrContains(second->details, "max_connections 1")) << second->details;
  server.Release();
  ASSERT_TRUE(Done(first));
  loop_.Run([&] { pool_.reset(); });
  EXPECT_EQ(cluster->resources().connections.count(), 0u);
}

TEST_F(Http2PoolTest, ConnectFailureFailsTheWaitingStreams) {
  absl::StatusOr<int> fd = event::Listen("127.0.0.1", 0, false);
  uint16_t port = event::LocalPort(*fd);
  close(*fd);  // Nothing listens there now.
  MakePool(port);
  Exchange* x = Start();
  ASSERT_TRUE(Done(x));
  EXPECT_TRUE(x->failed);
  EXPECT_EQ(x->reason, PoolFailureReason::kConnectFailure);
  EXPECT_EQ(stats_.connect_failures.load(), 1u);
}

TEST_F(Http2PoolTest, DrainClosesIdleConnections) {
  H2Server server({.name = "a", .max_concurrent_streams = 0, .hold = false, .trailers = false});
  MakePool(server.port());
  Exchange* x = Start();
  ASSERT_TRUE(Done(x));
  EXPECT_EQ(Connections(), 1u);
  size_t idle = 0;
  loop_.Run([&] { idle = pool_->idle_connections(); });
  EXPECT_EQ(idle, 1u);
  loop_.Run([&] { pool_->Drain(); });
  bool empty = false;
  loop_.Run([&] { empty = pool_->empty(); });
  EXPECT_TRUE(empty);
}

}  // namespace
}  // namespace lb::proxy::upstream
