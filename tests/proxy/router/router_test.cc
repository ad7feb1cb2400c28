// The router against fakes only: a dispatcher on simulated time, connection pools that answer
// when the test says so, and a downstream that records what it is told. No sockets.
#include "proxy/router/router.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/balancer/balancer.h"
#include "proxy/event/lazy_timer.h"
#include "proxy/upstream/cluster_snapshot.h"
#include "tests/test_common/event/simulated_time_dispatcher.h"
#include "tests/test_common/proxy/fake_pool.h"

namespace lb::proxy::router {
namespace {

using event::Buffer;
using testing::FakeEncoder;
using testing::FakePool;

class FakeContext : public RouterContext {
 public:
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  const RouterOptions& router_options() const override { return options; }
  upstream::ConnPool& PoolFor(const std::shared_ptr<upstream::HostState>& host,
                              const upstream::ClusterSnapshot&) override {
    return pools[host->key];
  }
  balancer::Picker::WorkerState& PickerState(const std::string&) override { return picker_state_; }
  upstream::ClusterWorkerCounters* ClusterCounters(
      const upstream::ClusterSnapshot& cluster) override {
    return cluster.stats == nullptr ? nullptr : &cluster.stats->worker(0);
  }
  upstream::HostCounters& Counters(upstream::HostState& host) override { return host.counters(0); }
  void ReportResult(upstream::HostState& host, UpstreamResult result) override {
    results.push_back(absl::StrCat(host.key, " ",
                                   result == UpstreamResult::kSuccess ? "ok"
                                   : result == UpstreamResult::k5xx   ? "5xx"
                                                                      : "gateway"));
  }
  RetryBudget& retry_budget() override { return budget; }
  uint64_t active_requests() const override { return active; }
  RouterStats& router_stats() override { return stats; }

  testing::SimulatedTimeDispatcher& sim() { return dispatcher_; }

  RouterOptions options;
  std::map<std::string, FakePool> pools;
  std::vector<std::string> results;
  RetryBudget budget{0.2};
  uint64_t active = 1;
  RouterStats stats;

 private:
  testing::SimulatedTimeDispatcher dispatcher_;
  balancer::Picker::WorkerState picker_state_{1};
};

class FakeDownstream : public RouterCallbacks {
 public:
  void Encode100Continue() override { ++continues; }
  void EncodeHeaders(http::ResponseHeaderMapPtr headers, bool end_stream) override {
    status = headers->status;
    ended = end_stream;
    auto cookie = headers->Find("set-cookie");
    set_cookie = cookie ? std::string(cookie->value) : "";
  }
  void EncodeData(Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    ended = ended || end_stream;
  }
  void SendLocalReply(int s, absl::string_view message) override {
    status = s;
    body = std::string(message);
    local = true;
    ended = true;
  }
  void EncodeTrailers(http::ResponseHeaderMapPtr t) override {
    t->AppendHttp1(&trailers);
    ended = true;
  }
  void ResetDownstream() override { reset = true; }
  void ReadDisableDownstream(bool disable) override { read_disables.push_back(disable); }
  void ArmRouterTimer(absl::Duration after) override { timer->Arm(after); }
  void DisarmRouterTimer() override { timer->Disarm(); }
  accesslog::StreamInfo& stream_info() override { return info; }

  std::unique_ptr<event::LazyTimer> timer;  // Calls the router's OnTimeout().

  int status = 0;
  std::string set_cookie;
  std::string body;
  std::string trailers;
  bool ended = false;
  bool local = false;
  bool reset = false;
  int continues = 0;
  std::vector<bool> read_disables;
  accesslog::StreamInfo info;
};

// A snapshot with route "/" of any host to cluster "web" (round robin over `hosts` ports of
// 10.0.0.1, in order) and route "/ghost" to a cluster that does not exist.
std::shared_ptr<Snapshot> MakeSnapshot(int hosts, uint32_t retries = 2) {
  auto snap = std::make_shared<Snapshot>();
  auto cluster = std::make_shared<upstream::ClusterSnapshot>();
  cluster->config.name = "web";
  cluster->config.policy = LbPolicy::kRoundRobin;
  std::vector<balancer::Candidate> candidates;
  std::vector<std::string> keys;
  for (int i = 0; i < hosts; ++i) {
    auto host = std::make_shared<upstream::HostState>(1);
    host->cluster = "web";
    host->key = absl::StrCat("10.0.0.1:", 8000 + i);
    cluster->hosts.push_back(host);
    cluster->views.push_back({});
    candidates.push_back({static_cast<uint32_t>(i), 1});
    keys.push_back(host->key);
  }
  cluster->picker =
      balancer::Picker::Create(LbPolicy::kRoundRobin, std::move(candidates), keys, {});
  cluster->stats = std::make_shared<upstream::ClusterStats>(1);
  snap->clusters["web"] = cluster;
  RouteConfig ghost;
  ghost.name = "ghost";
  ghost.prefix = "/ghost";
  ghost.cluster = "nowhere";
  RouteConfig web;
  web.name = "web";
  web.prefix = "/";
  web.cluster = "web";
  web.retries = retries;
  snap->virtual_hosts = {{"*", {ghost, web}}};
  return snap;
}

http::RequestHeaderMapPtr Request(http::Method method = http::Method::kGet,
                                  absl::string_view target = "/") {
  http::RequestHeaderMapPtr h = http::NewRequestHeaderMap();
  h->method = method;
  h->target = target;
  h->has_host = true;
  h->host = "example.com";
  h->Add("Host", "example.com");
  return h;
}

class RouterTest : public ::testing::Test {
 protected:
  void Start(const Snapshot* snap, http::RequestHeaderMapPtr request, bool end_stream = true) {
    if (downstream_.timer == nullptr) {
      downstream_.timer = std::make_unique<event::LazyTimer>(context_.sim(), [this] {
        if (router_ != nullptr) router_->OnTimeout();
      });
    }
    router_ = std::make_unique<Router>(context_, downstream_);
    router_->StartRequest(snap, std::move(request), end_stream, "192.0.2.9");
  }
  FakePool& Pool(int i) { return context_.pools[absl::StrCat("10.0.0.1:", 8000 + i)]; }
  // The one pool a stream waits on now (the picker decides which host that is).
  FakePool& Waiting() {
    FakePool* found = nullptr;
    for (auto& [key, pool] : context_.pools) {
      if (pool.waiting()) {
        EXPECT_EQ(found, nullptr) << "more than one pool waited on";
        found = &pool;
      }
    }
    EXPECT_NE(found, nullptr) << "no pool waited on";
    static FakePool none;
    return found != nullptr ? *found : none;
  }
  std::string KeyOf(const FakePool& pool) {
    for (auto& [key, p] : context_.pools) {
      if (&p == &pool) return key;
    }
    return "";
  }
  int TotalRequests() {
    int n = 0;
    for (auto& [key, p] : context_.pools) n += p.requests;
    return n;
  }
  uint64_t Active(const Snapshot& snap, int i) {
    return snap.FindCluster("web")->hosts[i]->active();
  }

  // A snapshot that outlives the router (which may still hold one of its hosts).
  std::shared_ptr<Snapshot> Snap(int hosts, uint32_t retries = 2) {
    snapshots_.push_back(MakeSnapshot(hosts, retries));
    return snapshots_.back();
  }

  FakeContext context_;
  FakeDownstream downstream_;
  std::vector<std::shared_ptr<Snapshot>> snapshots_;  // Destroyed after router_.
  std::unique_ptr<Router> router_;
};

TEST_F(RouterTest, WithoutConfigOrRouteOrClusterTheProxyAnswers) {
  Start(nullptr, Request());
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body, "no configuration received from the controller yet");

  std::shared_ptr<Snapshot> empty = std::make_shared<Snapshot>();
  Start(empty.get(), Request());
  EXPECT_EQ(downstream_.status, 404);
  EXPECT_EQ(downstream_.body, "no route matches this host and path");

  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request(http::Method::kGet, "/ghost/x"));
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body, "cluster \"nowhere\" is not available");

  std::shared_ptr<Snapshot> none = Snap(0);
  Start(none.get(), Request());
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body, "no healthy upstream");
  EXPECT_TRUE(context_.pools.empty());
}

TEST_F(RouterTest, ForwardsTheRewrittenRequestAndTheAnswer) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request());
  ASSERT_TRUE(Pool(0).waiting());
  EXPECT_EQ(Active(*snap, 0), 1u);
  FakeEncoder& up = Pool(0).Ready();
  EXPECT_EQ(up.head,
            "GET /\nHost: example.com\r\nX-Forwarded-For: 192.0.2.9\r\n"
            "X-Forwarded-Proto: http\r\n");
  EXPECT_TRUE(up.ended);
  Pool(0).Respond(200, "hello");
  EXPECT_EQ(downstream_.status, 200);
  EXPECT_EQ(downstream_.body, "hello");
  EXPECT_TRUE(downstream_.ended);
  EXPECT_FALSE(downstream_.local);
  EXPECT_EQ(context_.results, std::vector<std::string>({"10.0.0.1:8000 ok"}));
  EXPECT_EQ(Active(*snap, 0), 0u);
  EXPECT_EQ(snap->FindCluster("web")->hosts[0]->requests(), 1u);
  router_.reset();
  EXPECT_FALSE(up.reset);  // A finished stream is the pool's again.
}

TEST_F(RouterTest, ConnectFailureIsRetriedOnAnotherHost) {
  std::shared_ptr<Snapshot> snap = Snap(3);
  Start(snap.get(), Request(http::Method::kPost), /*end_stream=*/false);
  FakePool& first = Waiting();
  const std::string first_key = KeyOf(first);
  first.Fail(upstream::PoolFailureReason::kConnectFailure);
  FakePool& second = Waiting();
  const std::string second_key = KeyOf(second);
  EXPECT_NE(first_key, second_key);
  EXPECT_EQ(context_.stats.retries.load(), 1u);
  EXPECT_EQ(context_.budget.in_flight(), 0u);  // A refusal's retry takes no slot.
  EXPECT_EQ(downstream_.info.attempts, 2u);
  EXPECT_EQ(*downstream_.info.upstream_host, second_key);
  FakeEncoder& up = second.Ready();
  Buffer body;
  body.Append("payload");
  router_->OnRequestData(body, true);
  EXPECT_EQ(up.body, "payload");
  second.Respond(201, "");
  EXPECT_EQ(downstream_.status, 201);
  EXPECT_EQ(context_.results,
            std::vector<std::string>({first_key + " gateway", second_key + " ok"}));
  EXPECT_EQ(Active(*snap, 0) + Active(*snap, 1) + Active(*snap, 2), 0u);
  EXPECT_EQ(downstream_.info.response_flags, 0u);
  EXPECT_EQ(downstream_.info.details, "");
}

TEST_F(RouterTest, FailuresBeyondTheRetriesAre502) {
  std::shared_ptr<Snapshot> snap = Snap(4, /*retries=*/2);
  for (int i = 0; i < 4; ++i) Pool(i).fail_at_once = upstream::PoolFailureReason::kConnectFailure;
  Start(snap.get(), Request());
  EXPECT_EQ(TotalRequests(), 3);
  EXPECT_EQ(downstream_.status, 502);
  EXPECT_EQ(downstream_.body,
            "upstream connect error or disconnect before response (retries exhausted)");
  EXPECT_EQ(downstream_.info.response_flags,
            accesslog::kUpstreamConnectionFailure | accesslog::kUpstreamRetryLimitExceeded);
  EXPECT_EQ(downstream_.info.attempts, 3u);
}

TEST_F(RouterTest, EveryHostTriedGives502NotARepeat) {
  std::shared_ptr<Snapshot> snap = Snap(2, /*retries=*/5);
  Pool(0).fail_at_once = Pool(1).fail_at_once = upstream::PoolFailureReason::kConnectFailure;
  Start(snap.get(), Request());
  EXPECT_EQ(Pool(0).requests, 1);
  EXPECT_EQ(Pool(1).requests, 1);
  EXPECT_EQ(downstream_.status, 502);
}

TEST_F(RouterTest, RetryBudgetBoundsRetriesAfterConnectTimeouts) {
  std::shared_ptr<Snapshot> snap = Snap(3);
  // Exhaust the budget: 3 + 20 % of the one active request.
  while (context_.budget.TryAcquire(context_.active)) {
  }
  ASSERT_EQ(context_.budget.in_flight(), 4u);
  for (int i = 0; i < 3; ++i) Pool(i).fail_at_once = upstream::PoolFailureReason::kTimeout;
  Start(snap.get(), Request());
  EXPECT_EQ(TotalRequests(), 1);
  EXPECT_EQ(downstream_.status, 504);
  EXPECT_EQ(downstream_.body, "refused at once (retry limit of the worker or cluster reached)");
  EXPECT_EQ(context_.stats.retries.load(), 0u);
  EXPECT_EQ(context_.stats.retries_refused.load(), 1u);
}

// A crashed host: refusals and resets before any response byte are retried whatever the budget
// says (row 7 of issue 12: a kill -9 under load must not reach clients).
TEST_F(RouterTest, RefusalsAndResetsAreRetriedBeyondTheBudget) {
  std::shared_ptr<Snapshot> snap = Snap(3);
  while (context_.budget.TryAcquire(context_.active)) {
  }
  snap->FindCluster("web")->stats->resources().retries.set_max(0);
  Start(snap.get(), Request());
  FakePool& first = Waiting();
  first.Ready();
  first.Reset(http::StreamResetReason::kConnectionTermination, "gone");
  Waiting().Fail(upstream::PoolFailureReason::kConnectFailure);
  FakePool& third = Waiting();
  third.Ready();
  third.Respond(200, "ok");
  EXPECT_EQ(downstream_.status, 200);
  EXPECT_EQ(context_.stats.retries.load(), 2u);
  EXPECT_EQ(snap->FindCluster("web")->stats->resources().retries.overflows(), 0u);
}

TEST_F(RouterTest, ClusterMaxRetriesBoundsRetriesAfterConnectTimeouts) {
  std::shared_ptr<Snapshot> snap = Snap(3);
  upstream::ResourceLimit& retries = snap->FindCluster("web")->stats->resources().retries;
  retries.set_max(1);
  ASSERT_TRUE(retries.TryAcquire());  // Another request's retry holds the only slot.
  Start(snap.get(), Request());
  Waiting().Fail(upstream::PoolFailureReason::kTimeout);
  EXPECT_EQ(downstream_.status, 504);
  EXPECT_EQ(retries.overflows(), 1u);
  EXPECT_EQ(context_.budget.in_flight(), 0u);  // The budget's slot was given back.
  retries.Release();
  // With the slot free the retry happens, and its slot is released at the end.
  Start(snap.get(), Request());
  Waiting().Fail(upstream::PoolFailureReason::kTimeout);
  FakePool& second = Waiting();
  EXPECT_EQ(retries.count(), 1u);
  second.Ready();
  second.Respond(200, "ok");
  EXPECT_EQ(downstream_.status, 200);
  EXPECT_EQ(retries.count(), 0u);
}

TEST_F(RouterTest, ClusterMaxRequestsOverflowIs503) {
  std::shared_ptr<Snapshot> snap = Snap(2);
  upstream::ResourceLimit& requests = snap->FindCluster("web")->stats->resources().requests;
  requests.set_max(1);
  Start(snap.get(), Request());
  FakePool& pool = Waiting();
  EXPECT_EQ(requests.count(), 1u);
  Router second(context_, downstream_);
  second.StartRequest(snap.get(), Request(), true, "192.0.2.9");
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body,
            "upstream overflow: cluster \"web\" has its max_requests (1) in flight");
  EXPECT_EQ(downstream_.info.response_flags, accesslog::kUpstreamOverflow);
  EXPECT_EQ(requests.overflows(), 1u);
  pool.Ready();
  pool.Respond(200, "ok");
  EXPECT_EQ(requests.count(), 0u);
}

// Cookie affinity: a request without the hash cookie gets one (its random value picked the
// host); a request that sends that cookie back lands on the same host and gets no new one.
TEST_F(RouterTest, MissingHashCookieIsGeneratedAndHonoured) {
  std::shared_ptr<Snapshot> snap = Snap(5);
  // Ring hash over the five hosts; the "web" route hashes on cookie "lb".
  auto cluster = std::make_shared<upstream::ClusterSnapshot>(*snap->FindCluster("web"));
  std::vector<balancer::Candidate> candidates;
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < 5; ++i) {
    candidates.push_back({i, 1});
    keys.push_back(cluster->hosts[i]->key);
  }
  cluster->config.policy = LbPolicy::kRingHash;
  cluster->picker = balancer::Picker::Create(LbPolicy::kRingHash, std::move(candidates), keys, {});
  snap->clusters["web"] = cluster;
  RouteConfig& web = snap->virtual_hosts[0].routes[1];
  web.has_hash_policy = true;
  web.hash_policy.kind = HashPolicy::Kind::kCookie;
  web.hash_policy.name = "lb";
  web.hash_policy.generate_cookie = true;
  web.hash_policy.cookie_ttl = absl::Hours(1);
  web.hash_policy.cookie_path = "/";
  web.hash_policy.cookie_attributes = {{"HttpOnly", ""}, {"SameSite", "Lax"}};

  std::set<std::string> values;
  for (int client = 0; client < 20; ++client) {
    Start(snap.get(), Request());
    FakePool& first = Waiting();
    first.Ready();
    first.Respond(200, "ok");
    ASSERT_EQ(downstream_.status, 200);
    const std::string cookie = downstream_.set_cookie;
    // "lb=<16 hex digits>; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
    ASSERT_EQ(cookie.size(), 3u + 16 + 46) << cookie;
    EXPECT_EQ(cookie.substr(0, 3), "lb=");
    EXPECT_EQ(cookie.substr(19), "; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax");
    const std::string value = cookie.substr(3, 16);
    values.insert(value);
    // The client comes back with the cookie: the same host, no new cookie.
    for (int again = 0; again < 3; ++again) {
      http::RequestHeaderMapPtr request = Request();
      request->Add("Cookie", "other=1; lb=" + value);
      Start(snap.get(), std::move(request));
      FakePool& same = Waiting();
      EXPECT_EQ(&same, &first);
      same.Ready();
      same.Respond(200, "ok");
      EXPECT_EQ(downstream_.set_cookie, "");
    }
  }
  EXPECT_EQ(values.size(), 20u);  // Every new client its own value.
}

TEST_F(RouterTest, PoolOverflowIs503WithoutRetryOrBlame) {
  std::shared_ptr<Snapshot> snap = Snap(2);
  Pool(0).fail_at_once = Pool(1).fail_at_once = upstream::PoolFailureReason::kOverflow;
  Start(snap.get(), Request());
  EXPECT_EQ(TotalRequests(), 1);
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body, "upstream overflow: refused at once");
  EXPECT_EQ(downstream_.info.response_flags, accesslog::kUpstreamOverflow);
  EXPECT_TRUE(context_.results.empty());
}

TEST_F(RouterTest, ResetBeforeAnswerIsRetriedOnlyWhenReplayable) {
  std::shared_ptr<Snapshot> snap = Snap(3);
  Start(snap.get(), Request(http::Method::kGet));
  FakePool& first = Waiting();
  first.Ready();
  first.Reset(http::StreamResetReason::kConnectionTermination, "gone");
  FakePool& second = Waiting();  // An idempotent GET is replayed.
  EXPECT_NE(&first, &second);
  second.Ready();
  second.Respond(200, "ok");
  EXPECT_EQ(downstream_.status, 200);

  // A POST whose body went out is not.
  Start(snap.get(), Request(http::Method::kPost), false);
  FakePool& pool = Waiting();
  FakeEncoder& up = pool.Ready();
  Buffer body;
  body.Append("x");
  router_->OnRequestData(body, true);
  EXPECT_EQ(up.body, "x");
  int before = TotalRequests();
  pool.Reset(http::StreamResetReason::kConnectionTermination, "gone");
  EXPECT_EQ(TotalRequests(), before);
  EXPECT_EQ(downstream_.status, 502);
}

TEST_F(RouterTest, RefusedHttp2StreamsAreRetriedWithTheirBody) {
  std::shared_ptr<Snapshot> snap = Snap(3);
  const_cast<upstream::ClusterSnapshot*>(snap->FindCluster("web"))->config.protocol =
      UpstreamProtocol::kHttp2;
  // A POST whose body went out: not processed upstream (GOAWAY), so replayed with its body.
  Start(snap.get(), Request(http::Method::kPost), false);
  FakePool& first = Waiting();
  FakeEncoder& up = first.Ready();
  Buffer body;
  body.Append("payload");
  router_->OnRequestData(body, true);
  EXPECT_EQ(up.body, "payload");
  first.Reset(http::StreamResetReason::kRemoteRefusedStream, "not processed");
  FakePool& second = Waiting();
  EXPECT_NE(&first, &second);
  FakeEncoder& again = second.Ready();
  EXPECT_EQ(again.body, "payload");
  EXPECT_TRUE(again.ended);
  second.Respond(200, "ok");
  EXPECT_EQ(downstream_.status, 200);
  // Not the host's fault: only the answer is reported.
  EXPECT_EQ(context_.results, std::vector<std::string>{KeyOf(second) + " ok"});

  // A body over the replay buffer is not kept: 502, counted.
  context_.options.replay_buffer_bytes = 4;
  Start(snap.get(), Request(http::Method::kPost), false);
  FakePool& pool = Waiting();
  pool.Ready();
  body.Append("too long");
  router_->OnRequestData(body, true);
  int before = TotalRequests();
  pool.Reset(http::StreamResetReason::kRemoteRefusedStream, "not processed");
  EXPECT_EQ(TotalRequests(), before);
  EXPECT_EQ(downstream_.status, 502);
  EXPECT_EQ(context_.stats.refused_not_replayed.load(), 1u);
}

TEST_F(RouterTest, ProtocolErrorIs502WithItsReasonAndNoRetry) {
  std::shared_ptr<Snapshot> snap = Snap(2);
  Start(snap.get(), Request());
  FakePool& pool = Waiting();
  pool.Ready();
  pool.Reset(http::StreamResetReason::kProtocolError, "upstream sent an invalid response");
  EXPECT_EQ(downstream_.status, 502);
  EXPECT_EQ(downstream_.body, "upstream sent an invalid response");
  EXPECT_EQ(TotalRequests(), 1);
  EXPECT_EQ(context_.results, std::vector<std::string>({KeyOf(pool) + " gateway"}));
}

TEST_F(RouterTest, NoAnswerWithinTheUpstreamTimeoutIs504) {
  context_.options.upstream_timeout = absl::Seconds(2);
  std::shared_ptr<Snapshot> snap = Snap(2);
  Start(snap.get(), Request());
  FakeEncoder& up = Waiting().Ready();
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(1999));
  EXPECT_EQ(downstream_.status, 0);
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_EQ(downstream_.status, 504);
  EXPECT_EQ(downstream_.body, "upstream request timeout");
  EXPECT_TRUE(up.reset);
  EXPECT_EQ(TotalRequests(), 1);  // Not retried: the first may still be working on it.
  EXPECT_EQ(context_.stats.upstream_timeouts.load(), 1u);
}

TEST_F(RouterTest, TimeoutStopsAtTheResponseHead) {
  context_.options.upstream_timeout = absl::Seconds(1);
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request());
  Pool(0).Ready();
  Pool(0).Respond(200, "part", /*end=*/false);
  context_.sim().AdvanceTimeAndRun(absl::Seconds(10));
  EXPECT_EQ(downstream_.status, 200);
  EXPECT_FALSE(downstream_.ended);
  EXPECT_EQ(context_.stats.upstream_timeouts.load(), 0u);
}

http::RequestHeaderMapPtr GrpcRequest(absl::string_view timeout) {
  http::RequestHeaderMapPtr h = Request(http::Method::kPost, "/pkg.Svc/Call");
  h->Add("content-type", "application/grpc");
  if (!timeout.empty()) h->Add("grpc-timeout", timeout);
  return h;
}

TEST_F(RouterTest, GrpcTimeoutBeforeTheHeadIsDeadlineExceeded) {
  context_.options.upstream_timeout = absl::Seconds(1);
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), GrpcRequest("3S"));
  FakeEncoder& up = Pool(0).Ready();
  EXPECT_NE(up.head.find("grpc-timeout: 3S\r\n"), std::string::npos) << up.head;  // Unchanged.
  // The call's deadline replaces upstream_timeout (1 s).
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(2999));
  EXPECT_EQ(downstream_.status, 0);
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_TRUE(downstream_.local);
  EXPECT_EQ(downstream_.status, 504);  // DEADLINE_EXCEEDED in the connection manager's reply.
  EXPECT_EQ(downstream_.body, "grpc-timeout expired");
  EXPECT_TRUE(up.reset);
  EXPECT_EQ(context_.stats.grpc_timeouts.load(), 1u);
  EXPECT_EQ(context_.stats.upstream_timeouts.load(), 0u);
  EXPECT_TRUE(context_.results.empty());  // The client's deadline is not the host's fault.
}

TEST_F(RouterTest, GrpcTimeoutAfterTheHeadEndsTheCallWithTrailers) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), GrpcRequest("500m"));
  FakeEncoder& up = Pool(0).Ready();
  Pool(0).Respond(200, "msg", /*end=*/false);
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(499));
  EXPECT_FALSE(downstream_.ended);
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_EQ(downstream_.status, 200);
  EXPECT_EQ(downstream_.body, "msg");
  EXPECT_EQ(downstream_.trailers, "grpc-status: 4\r\ngrpc-message: grpc-timeout expired\r\n");
  EXPECT_TRUE(downstream_.ended);
  EXPECT_FALSE(downstream_.reset);
  EXPECT_TRUE(up.reset);
  EXPECT_EQ(context_.stats.grpc_timeouts.load(), 1u);
}

TEST_F(RouterTest, GrpcTimeoutIsCappedAndTheCapGoesUpstream) {
  context_.options.max_grpc_timeout = absl::Seconds(2);
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), GrpcRequest("1M"));
  FakeEncoder& up = Pool(0).Ready();
  EXPECT_NE(up.head.find("grpc-timeout: 2000000u\r\n"), std::string::npos) << up.head;
  EXPECT_EQ(up.head.find("grpc-timeout: 1M"), std::string::npos) << up.head;
  context_.sim().AdvanceTimeAndRun(absl::Seconds(2));
  EXPECT_EQ(downstream_.status, 504);
  EXPECT_EQ(context_.stats.grpc_timeouts.load(), 1u);
}

TEST_F(RouterTest, GrpcTimeoutIsCappedByTheResponseTimeout) {
  context_.options.response_timeout = absl::Seconds(1);
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), GrpcRequest("10S"));
  FakeEncoder& up = Pool(0).Ready();
  EXPECT_NE(up.head.find("grpc-timeout: 1000000u\r\n"), std::string::npos) << up.head;
  context_.sim().AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(downstream_.status, 504);
  EXPECT_EQ(downstream_.body, "grpc-timeout expired");
}

TEST_F(RouterTest, MalformedGrpcTimeoutIsIgnored) {
  context_.options.upstream_timeout = absl::Seconds(1);
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), GrpcRequest("10x"));
  Pool(0).Ready();
  context_.sim().AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(downstream_.body, "upstream request timeout");  // upstream_timeout applies.
  EXPECT_EQ(context_.stats.grpc_timeouts.load(), 0u);
}

TEST_F(RouterTest, GrpcTimeoutOfANonGrpcRequestIsIgnored) {
  context_.options.upstream_timeout = absl::Seconds(1);
  std::shared_ptr<Snapshot> snap = Snap(1);
  http::RequestHeaderMapPtr plain = Request();
  plain->Add("grpc-timeout", "100m");  // Not a gRPC request: the header means nothing.
  Start(snap.get(), std::move(plain));
  Pool(0).Ready();
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(999));
  EXPECT_EQ(downstream_.status, 0);
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(1));
  EXPECT_EQ(downstream_.body, "upstream request timeout");
  EXPECT_EQ(context_.stats.grpc_timeouts.load(), 0u);
}

TEST_F(RouterTest, RequestTrailersFollowTheBody) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request(http::Method::kPost, "/up"), /*end_stream=*/false);
  Buffer part;
  part.Append("abc");
  router_->OnRequestData(part, false);
  http::RequestHeaderMapPtr trailers = http::NewRequestHeaderMap();
  trailers->Add("x-checksum", "1");
  router_->OnRequestTrailers(std::move(trailers));  // Before the upstream is ready: kept.
  FakeEncoder& up = Pool(0).Ready();
  EXPECT_EQ(up.body, "abc");
  EXPECT_EQ(up.trailers, "x-checksum: 1\r\n");
  EXPECT_TRUE(up.ended);

  // Once the upstream stream is there, they go at once.
  Pool(0).Respond(200, "ok");
  Start(snap.get(), Request(http::Method::kPost, "/up"), /*end_stream=*/false);
  FakeEncoder& up2 = Pool(0).Ready();
  EXPECT_FALSE(up2.ended);
  trailers = http::NewRequestHeaderMap();
  trailers->Add("x-checksum", "2");
  router_->OnRequestTrailers(std::move(trailers));
  EXPECT_EQ(up2.body, "");
  EXPECT_EQ(up2.trailers, "x-checksum: 2\r\n");
  EXPECT_TRUE(up2.ended);
}

TEST_F(RouterTest, StalledBodyUploadIs504) {
  context_.options.body_idle_timeout = absl::Seconds(5);
  context_.options.upstream_timeout = absl::Seconds(1);
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request(http::Method::kPost), false);
  Pool(0).Ready();
  Buffer b;
  b.Append("a");
  context_.sim().AdvanceTimeAndRun(absl::Seconds(4));
  router_->OnRequestData(b, false);  // Progress restarts the stall timer.
  context_.sim().AdvanceTimeAndRun(absl::Seconds(4));
  EXPECT_EQ(downstream_.status, 0);
  context_.sim().AdvanceTimeAndRun(absl::Seconds(1));
  EXPECT_EQ(downstream_.status, 504);
}

TEST_F(RouterTest, ConnectTimeoutIsRetriedThen504) {
  std::shared_ptr<Snapshot> snap = Snap(2, /*retries=*/1);
  Start(snap.get(), Request());
  Waiting().Fail(upstream::PoolFailureReason::kTimeout);
  Waiting().Fail(upstream::PoolFailureReason::kTimeout);
  EXPECT_EQ(TotalRequests(), 2);
  EXPECT_EQ(downstream_.status, 504);
  EXPECT_EQ(downstream_.body, "connect failed (retries exhausted)");
  EXPECT_EQ(downstream_.info.response_flags,
            accesslog::kUpstreamConnectionFailure | accesslog::kUpstreamRetryLimitExceeded);
}

TEST_F(RouterTest, LocalResourceShortageIs503WithoutBlame) {
  std::shared_ptr<Snapshot> snap = Snap(2);
  Pool(0).fail_at_once = Pool(1).fail_at_once = upstream::PoolFailureReason::kLocalResource;
  Start(snap.get(), Request());
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body, "upstream connection not possible: refused at once");
  EXPECT_TRUE(context_.results.empty());
  EXPECT_EQ(TotalRequests(), 1);
}

TEST_F(RouterTest, ContinueAndBodyBufferedUntilTheUpstreamIsReady) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  http::RequestHeaderMapPtr request = Request(http::Method::kPost);
  request->expect_100_continue = true;
  request->Add("Expect", "100-continue");
  Start(snap.get(), std::move(request), false);
  Buffer big;
  big.Append(std::string(1536 * 1024, 'b'));
  router_->OnRequestData(big, false);
  EXPECT_EQ(downstream_.read_disables, std::vector<bool>({true}));  // Over 1 MiB waiting.
  EXPECT_EQ(downstream_.continues, 0);
  FakeEncoder& up = Pool(0).Ready();
  EXPECT_EQ(downstream_.continues, 1);
  EXPECT_EQ(up.body.size(), 1536u * 1024);
  EXPECT_EQ(downstream_.read_disables, std::vector<bool>({true, false}));
  EXPECT_EQ(up.head.find("Expect"), std::string::npos);  // Answered here, not forwarded.
}

TEST_F(RouterTest, FlowControlBothWays) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request(http::Method::kPost), false);
  FakeEncoder& up = Pool(0).Ready();
  up.callbacks()->OnAboveWriteBufferHighWatermark();
  up.callbacks()->OnBelowWriteBufferLowWatermark();
  EXPECT_EQ(downstream_.read_disables, std::vector<bool>({true, false}));
  router_->OnDownstreamAboveWriteBufferHighWatermark();
  EXPECT_TRUE(up.read_disabled);
  router_->OnDownstreamBelowWriteBufferLowWatermark();
  EXPECT_FALSE(up.read_disabled);
}

TEST_F(RouterTest, ResetAfterTheHeadCutsTheResponse) {
  std::shared_ptr<Snapshot> snap = Snap(2);
  Start(snap.get(), Request());
  FakePool& pool = Waiting();
  pool.Ready();
  pool.Respond(200, "par", /*end=*/false);
  pool.Reset(http::StreamResetReason::kConnectionTermination, "gone");
  EXPECT_TRUE(downstream_.reset);
  EXPECT_EQ(TotalRequests(), 1);
}

TEST_F(RouterTest, DownstreamResetAbandonsTheUpstream) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  Start(snap.get(), Request());
  router_->OnDownstreamReset();
  EXPECT_EQ(Pool(0).canceled, 1);  // Still connecting: the wait is canceled.

  Start(snap.get(), Request());
  FakeEncoder& up = Pool(0).Ready();
  router_->OnDownstreamReset();
  EXPECT_TRUE(up.reset);
  EXPECT_EQ(Active(*snap, 0), 0u);
}

TEST_F(RouterTest, UpstreamStatusesReachOutlierDetection) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  for (int status : {500, 503}) {
    Start(snap.get(), Request());
    Pool(0).Ready();
    Pool(0).Respond(status, "");
  }
  EXPECT_EQ(context_.results,
            std::vector<std::string>({"10.0.0.1:8000 5xx", "10.0.0.1:8000 gateway"}));
}

TEST_F(RouterTest, ClusterCountsResponsesAndLatency) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  const upstream::ClusterStats& stats = *snap->FindCluster("web")->stats;
  Start(snap.get(), Request());
  context_.sim().AdvanceTimeAndRun(absl::Milliseconds(3));
  Pool(0).Ready();
  Pool(0).Respond(200, "ok");
  Start(snap.get(), Request());
  Pool(0).Fail(upstream::PoolFailureReason::kConnectFailure);  // One host: 502 from the proxy.
  Start(snap.get(), Request());
  router_->OnDownstreamReset();  // Abandoned: no answer, not counted.
  EXPECT_EQ(stats.responses(2), 1u);
  EXPECT_EQ(stats.responses(5), 1u);
  upstream::LatencySummary latency = stats.latency();
  EXPECT_EQ(latency.counts[3], 1u);  // 3 ms: in (2.5 ms, 5 ms].
  EXPECT_EQ(latency.counts[0], 1u);  // The 502, at once.
  EXPECT_DOUBLE_EQ(latency.sum_seconds, 0.003);
}

// A snapshot with clusters "stable" (host 10.0.0.1:8000) and "canary" (10.0.0.2:8000) and one
// route "/" splitting stable:canary by the given weights.
std::shared_ptr<Snapshot> SplitSnapshot(uint32_t stable, uint32_t canary) {
  auto snap = std::make_shared<Snapshot>();
  int n = 1;
  for (const char* name : {"stable", "canary"}) {
    auto cluster = std::make_shared<upstream::ClusterSnapshot>();
    cluster->config.name = name;
    cluster->config.policy = LbPolicy::kRandom;
    auto host = std::make_shared<upstream::HostState>(1);
    host->cluster = name;
    host->key = absl::StrCat("10.0.0.", n++, ":8000");
    cluster->hosts.push_back(host);
    cluster->views.push_back({});
    cluster->picker = balancer::Picker::Create(LbPolicy::kRandom, {{0, 1}}, {host->key}, {});
    cluster->stats = std::make_shared<upstream::ClusterStats>(1);
    snap->clusters[name] = cluster;
  }
  RouteConfig split;
  split.name = "split";
  split.prefix = "/";
  split.weighted_clusters = {{"stable", stable}, {"canary", canary}};
  split.total_weight = stable + canary;
  snap->virtual_hosts = {{"*", {split}}};
  return snap;
}

TEST_F(RouterTest, WeightedClustersSplitRequestsByWeight) {
  std::shared_ptr<Snapshot> snap = SplitSnapshot(90, 10);
  snapshots_.push_back(snap);
  std::map<std::string, int> hits;
  for (int i = 0; i < 4000; ++i) {
    Start(snap.get(), Request());
    FakePool& pool = Waiting();
    ++hits[KeyOf(pool)];
    pool.Ready();
    pool.Respond(200, "ok");
  }
  // 10% of 4000 = 400; a binomial's standard deviation here is 19.
  EXPECT_GT(hits["10.0.0.2:8000"], 300);
  EXPECT_LT(hits["10.0.0.2:8000"], 500);
  EXPECT_EQ(hits["10.0.0.1:8000"] + hits["10.0.0.2:8000"], 4000);
}

TEST_F(RouterTest, WeightedClusterWithHashPolicyKeepsEachClientOnItsCluster) {
  // Header hash: a client on the canary at 10% stays there at 50% and 100%; at each step the
  // share is about the canary's weight.
  std::map<std::string, std::string> at10;
  for (uint32_t canary : {10u, 50u, 100u}) {
    std::shared_ptr<Snapshot> snap = SplitSnapshot(100 - canary, canary);
    snapshots_.push_back(snap);
    RouteConfig& split = snap->virtual_hosts[0].routes[0];
    split.has_hash_policy = true;
    split.hash_policy.kind = HashPolicy::Kind::kHeader;
    split.hash_policy.name = "x-user";
    int on_canary = 0;
    for (int user = 0; user < 1000; ++user) {
      std::string where;
      for (int again = 0; again < 2; ++again) {
        http::RequestHeaderMapPtr request = Request();
        request->Add("X-User", absl::StrCat("user-", user));
        Start(snap.get(), std::move(request));
        FakePool& pool = Waiting();
        if (again == 1) {
          EXPECT_EQ(KeyOf(pool), where);  // The same cluster every time.
        }
        where = KeyOf(pool);
        pool.Ready();
        pool.Respond(200, "ok");
      }
      const std::string key = absl::StrCat(user);
      if (where == "10.0.0.2:8000") ++on_canary;
      if (canary == 10) at10[key] = where;
      if (at10[key] == "10.0.0.2:8000") {
        EXPECT_EQ(where, "10.0.0.2:8000") << user;
      }
    }
    EXPECT_NEAR(on_canary, 10 * static_cast<int>(canary), 60) << canary;
  }
}

TEST_F(RouterTest, MissingWeightedClusterIs503) {
  std::shared_ptr<Snapshot> snap = SplitSnapshot(0, 1);
  snapshots_.push_back(snap);
  snap->clusters.erase("canary");
  Start(snap.get(), Request());
  EXPECT_EQ(downstream_.status, 503);
  EXPECT_EQ(downstream_.body, "cluster \"canary\" is not available");
}

TEST_F(RouterTest, RouteHeaderRemovalsThenAdditionsBeforeTheProxysOwn) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  RouteConfig& web = snap->virtual_hosts[0].routes[1];
  web.headers_to_remove = {"x-secret", "x-forwarded-for"};
  web.headers_to_add = {{"x-env", "prod", false}, {"x-tag", "b", true}};
  http::RequestHeaderMapPtr request = Request();
  request->Add("X-Secret", "s");
  request->Add("X-Env", "dev");
  request->Add("X-Tag", "a");
  request->Add("X-Forwarded-For", "198.51.100.1");
  Start(snap.get(), std::move(request));
  FakeEncoder& up = Pool(0).Ready();
  // x-env replaced, x-tag appended; the client's X-Forwarded-For removed before the proxy
  // adds its own.
  EXPECT_EQ(up.head,
            "GET /\nHost: example.com\r\nX-Tag: a\r\nx-env: prod\r\nx-tag: b\r\n"
            "X-Forwarded-For: 192.0.2.9\r\nX-Forwarded-Proto: http\r\n");
}

TEST_F(RouterTest, MethodAndHeaderMatchersChooseTheRoute) {
  std::shared_ptr<Snapshot> snap = Snap(1);
  RouteConfig post_only;
  post_only.name = "post";
  post_only.prefix = "/";
  post_only.cluster = "nowhere";
  post_only.headers = {{":method", HeaderMatcherConfig::Kind::kExact, "POST", false},
                       {"x-canary", HeaderMatcherConfig::Kind::kPresent, "", false}};
  auto& routes = snap->virtual_hosts[0].routes;
  routes.insert(routes.begin(), post_only);
  http::RequestHeaderMapPtr post = Request(http::Method::kPost);
  post->Add("X-Canary", "1");
  Start(snap.get(), std::move(post));
  EXPECT_EQ(downstream_.body, "cluster \"nowhere\" is not available");  // The POST route.
  Start(snap.get(), Request(http::Method::kPost));  // No X-Canary: the "/" route.
  ASSERT_TRUE(Pool(0).waiting());
  Pool(0).Ready();
  Pool(0).Respond(200, "ok");
  EXPECT_EQ(downstream_.status, 200);
}

}  // namespace
}  // namespace lb::proxy::router
