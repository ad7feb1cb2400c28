// Tests of controller/ui/event_hub.cc: /v1/stream's events, fed by a real change feed and model
// cache; clients' streams are read directly (no network).
#include "controller/ui/event_hub.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "controller/api/change_feed.h"
#include "controller/model/model_cache.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/model_changes.h"
#include "tests/test_common/wait.h"

namespace lb::ui {
namespace {

using ::lb::testing::ClusterChange;
using ::lb::testing::DeleteChange;
using ::lb::testing::RoutesChange;

std::string Bytes(const lb::v1::Change& c) {
  std::string s;
  c.SerializeToString(&s);
  return s;
}

lb::v1::Change EndChange(int64_t revision) {
  lb::v1::Change c;
  c.set_revision(revision);
  c.set_initial_state_end(true);
  return c;
}

http::HttpRequest Get() {
  http::HttpRequest r;
  r.method = "GET";
  r.target = "/v1/stream";
  return r;
}

// Everything written to `stream` so far, accumulated in `got`.
std::string Drain(http::ResponseStream* stream, std::string* got) {
  std::string chunk;
  stream->Take(&chunk);
  *got += chunk;
  return *got;
}

class EventHubTest : public ::testing::Test {
 protected:
  void StartHub(EventHub::Limits limits) {
    feed_ = std::make_unique<api::ChangeFeed>(api::ChangeFeed::Limits{}, &metrics_);
    model_.AddObserver(feed_.get());
    model_.Apply(ClusterChange("web", 1));
    model_.Apply(EndChange(2));
    hub_ = std::make_unique<EventHub>(
        limits, feed_.get(),
        [this] {
          absl::MutexLock lock(&mu_);
          return digest_;
        },
        &metrics_, &clock_);
    ASSERT_TRUE(hub_->Start().ok());
  }
  void TearDown() override {
    if (hub_) hub_->Stop();
  }

  SimulatedClock clock_;  // Ticks come when a test advances it.
  metrics::Registry metrics_;
  model::ModelCache model_;
  std::unique_ptr<api::ChangeFeed> feed_;
  std::unique_ptr<EventHub> hub_;
  absl::Mutex mu_;
  std::string digest_ ABSL_GUARDED_BY(mu_) = "d1";
};

TEST(EventHubDescribeTest, EventPerKindOfChange) {
  EXPECT_EQ(EventHub::Describe(Bytes(ClusterChange("web", 7, 3))),
            "event: cluster\ndata: {\"endpoints\":3,\"name\":\"web\",\"version\":7}\n\n");
  EXPECT_EQ(EventHub::Describe(Bytes(DeleteChange("web", 8))),
            "event: cluster\ndata: {\"deleted\":true,\"name\":\"web\"}\n\n");
  EXPECT_EQ(EventHub::Describe(Bytes(RoutesChange(9))), "event: routes\ndata: {\"version\":9}\n\n");
  lb::v1::Change cert;
  cert.mutable_certificate()->set_name("c");
  EXPECT_EQ(EventHub::Describe(Bytes(cert)), "");
  EXPECT_EQ(EventHub::Describe(Bytes(EndChange(3))), "");
  EXPECT_EQ(EventHub::Describe("\xff\xff not a change"), "");
}

TEST_F(EventHubTest, TheHubIsAnInternalWatcherOfTheFeed) {
  StartHub(EventHub::Limits{});
  EXPECT_EQ(feed_->internal_watchers(), 1u);
  EXPECT_EQ(feed_->watchers(), 0u);  // No WatchChanges slot taken.
  hub_->Stop();
  EXPECT_EQ(feed_->internal_watchers(), 0u);
}

TEST_F(EventHubTest, ClientGetsHelloThenEachChangeButNotTheInitialState) {
  EventHub::Limits limits;
  limits.tick_interval = absl::Hours(1);  // No ticks in this test.
  StartHub(limits);
  http::HttpResponse r = hub_->Open(Get());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  ASSERT_NE(r.stream, nullptr);
  EXPECT_EQ(hub_->clients(), 1u);
  model_.Apply(ClusterChange("api", 3, 2));
  model_.Apply(DeleteChange("web", 4));
  model_.Apply(RoutesChange(5));
  const std::string want =
      "retry: 3000\n\nevent: hello\ndata: {\"tick_ms\":3600000}\n\n"
      "event: cluster\ndata: {\"endpoints\":2,\"name\":\"api\",\"version\":3}\n\n"
      "event: cluster\ndata: {\"deleted\":true,\"name\":\"web\"}\n\n"
      "event: routes\ndata: {\"version\":5}\n\n";
  std::string got;
  EXPECT_TRUE(lb::testing::WaitUntil([&] { return Drain(r.stream.get(), &got) == want; },
                                     absl::Seconds(10)));
  EXPECT_EQ(got, want);
  EXPECT_TRUE(absl::StrContains(metrics_.Render(), "lb_controller_ui_stream_clients 1\n"));
}

TEST_F(EventHubTest, TickCarriesTheProxiesDigestOncePerInterval) {
  EventHub::Limits limits;
  limits.tick_interval = absl::Seconds(2);
  StartHub(limits);
  http::HttpResponse r = hub_->Open(Get());
  ASSERT_NE(r.stream, nullptr);
  const std::string tick_d1 = "event: tick\ndata: {\"proxies\":\"d1\"}\n\n";
  const std::string tick_d2 = "event: tick\ndata: {\"proxies\":\"d2\"}\n\n";
  std::string got;
  // Just short of the interval: no tick.
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  clock_.Advance(absl::Seconds(2) - absl::Milliseconds(1));
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_FALSE(absl::StrContains(Drain(r.stream.get(), &got), "event: tick"));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(lb::testing::WaitUntil(
      [&] { return absl::StrContains(Drain(r.stream.get(), &got), tick_d1); }, absl::Seconds(10)));
  {
    absl::MutexLock lock(&mu_);
    digest_ = "d2";
  }
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(lb::testing::WaitUntil(
      [&] { return absl::StrContains(Drain(r.stream.get(), &got), tick_d2); }, absl::Seconds(10)));
  // One tick per interval.
  size_t ticks = 0;
  for (size_t at = got.find("event: tick"); at != std::string::npos;
       at = got.find("event: tick", at + 1)) {
    ++ticks;
  }
  EXPECT_EQ(ticks, 2u) << got;
}

TEST_F(EventHubTest, AtMaxClientsMoreAreRefusedAndCounted) {
  EventHub::Limits limits;
  limits.max_clients = 2;
  StartHub(limits);
  http::HttpResponse a = hub_->Open(Get());
  http::HttpResponse b = hub_->Open(Get());
  http::HttpResponse c = hub_->Open(Get());
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(c.status, 503);
  EXPECT_EQ(c.stream, nullptr);
  EXPECT_EQ(c.body,
            "{\"error\":{\"code\":\"RESOURCE_EXHAUSTED\",\"message\":\"2 console event streams "
            "are open, the limit (--ui_stream_max_clients)\"}}\n");
  const std::string m = metrics_.Render();
  EXPECT_TRUE(absl::StrContains(
      m, "lb_controller_limit_exceeded_total{limit=\"ui_stream_max_clients\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(m, "lb_controller_limit{limit=\"ui_stream_max_clients\"} 2\n"));
  // A client that went away frees its place at the next event.
  a.stream->Disconnect();
  model_.Apply(ClusterChange("api", 3));
  EXPECT_TRUE(lb::testing::WaitUntil([&] { return hub_->clients() == 1; }, absl::Seconds(10)));
  EXPECT_EQ(hub_->Open(Get()).status, 200);
}

TEST_F(EventHubTest, ClientThatDoesNotReadIsDroppedAtItsQueueCap) {
  EventHub::Limits limits;
  limits.max_queued_bytes = 400;
  limits.tick_interval = absl::Hours(1);
  StartHub(limits);
  http::HttpResponse slow = hub_->Open(Get());
  http::HttpResponse fast = hub_->Open(Get());
  ASSERT_NE(slow.stream, nullptr);
  std::string fast_got;
  // Each event is ~70 bytes: the slow client's 400 bytes fill within ten.
  for (int i = 0; i < 10; ++i) {
    model_.Apply(ClusterChange("api", 3 + i));
    ASSERT_TRUE(lb::testing::WaitUntil(
        [&] {
          return absl::StrContains(Drain(fast.stream.get(), &fast_got),
                                   "\"version\":" + std::to_string(3 + i) + "}");
        },
        absl::Seconds(10)));
  }
  EXPECT_TRUE(slow.stream->overflowed());
  EXPECT_EQ(hub_->clients(), 1u);
  EXPECT_TRUE(absl::StrContains(
      metrics_.Render(),
      "lb_controller_limit_exceeded_total{limit=\"ui_stream_max_queued_bytes\"} 1\n"));
}

TEST_F(EventHubTest, OnlyGetAndStopEndsEveryStream) {
  StartHub({});
  http::HttpRequest post = Get();
  post.method = "POST";
  http::HttpResponse r = hub_->Open(post);
  EXPECT_EQ(r.status, 405);
  http::HttpResponse open = hub_->Open(Get());
  ASSERT_NE(open.stream, nullptr);
  hub_->Stop();
  EXPECT_TRUE(open.stream->closed());
  EXPECT_EQ(hub_->Open(Get()).status, 503);
  EXPECT_EQ(hub_->clients(), 0u);
}

TEST(EventHubLimitsTest, ZeroLimitIsRefused) {
  metrics::Registry metrics;
  api::ChangeFeed feed(api::ChangeFeed::Limits{}, &metrics);
  EventHub::Limits limits;
  limits.max_clients = 0;
  EventHub hub(
      limits, &feed, [] { return std::string(); }, &metrics);
  absl::Status s = hub.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(feed.internal_watchers(), 0u);
}

}  // namespace
}  // namespace lb::ui
