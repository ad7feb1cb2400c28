// Abuse suite, WatchChanges (issue 12, table row 6): more watchers than the cap on one
// connection, and hundreds that never read while a big cluster changes. Watchers hold no thread,
// those over the cap are refused with RESOURCE_EXHAUSTED, those that fall behind are cut off
// and counted, memory stays bounded, and writes (and a watcher that reads) keep going.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/controller/abuse/abuse_fixture.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;
// Stated bounds: the controller's threads with a thousand watchers open (each held one before),
// and its peak RSS through 200 changes of a 3,000-endpoint cluster with 500 watchers not
// reading (it reached 7.9 GB before).
constexpr int kMaxThreads = 64;
constexpr uint64_t kMaxPeakRss = 300 * kMiB;

using Reader = grpc::ClientReader<lb::v1::Change>;

// Watchers opened on one channel (one connection), none of them read yet.
struct Watchers {
  explicit Watchers(std::unique_ptr<lb::v1::LoadBalancer::Stub> s) : stub(std::move(s)) {}
  std::unique_ptr<lb::v1::LoadBalancer::Stub> stub;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<Reader>> readers;
  std::vector<bool> finished;

  // Reads what is left of watcher `i` and its status.
  grpc::Status Finish(size_t i) {
    lb::v1::Change ignored;
    while (readers[i]->Read(&ignored)) {
    }
    finished[i] = true;
    return readers[i]->Finish();
  }

  void Open(int n) {
    for (int i = 0; i < n; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      readers.push_back(stub->WatchChanges(contexts.back().get(), lb::v1::WatchChangesRequest()));
      finished.push_back(false);
    }
  }
  ~Watchers() {
    for (auto& ctx : contexts) ctx->TryCancel();
    for (size_t i = 0; i < readers.size(); ++i) {
      if (!finished[i]) Finish(i);
    }
  }
};

class WatchAbuseTest : public ControllerAbuseTest {};

TEST_F(WatchAbuseTest, AThousandWatchersHoldNoThreadAndThoseOverTheCapAreRefused) {
  StartController({"--watch_max_streams=800"});
  const int threads_before = Stats().threads;
  Watchers w(LbStub());
  w.Open(1000);
  int served = 0;
  int refused = 0;
  lb::v1::Change change;
  for (size_t i = 0; i < w.readers.size(); ++i) {
    if (w.readers[i]->Read(&change)) {
      ++served;
      continue;
    }
    grpc::Status s = w.Finish(i);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(s.error_message(),
              "too many WatchChanges streams: this controller serves at most 800; try again "
              "later");
    ++refused;
  }
  // The web console's event hub watches the feed too, but takes none of the 800 slots.
  EXPECT_EQ(served, 800);
  EXPECT_EQ(refused, 200);
  EXPECT_EQ(Exceeded("watch_max_streams"), 200u);
  EXPECT_EQ(Metric("lb_controller_watch_streams"), 800u);
  const ProcStats after = Stats();
  std::cerr << "threads: " << threads_before << " before, " << after.threads << " with " << served
            << " watchers; peak RSS " << after.peak_rss_bytes / kMiB << " MiB\n";
  EXPECT_LT(after.threads, kMaxThreads);
}

TEST_F(WatchAbuseTest, WatchersThatDoNotReadAreCutOffWhileAddsKeepWorking) {
  StartController({"--watch_max_queued_bytes=4194304"});
  ASSERT_TRUE(CreateBigCluster("big", 3000).ok());
  Watchers stuck(LbStub());
  stuck.Open(500);
  // One watcher that reads everything, on its own connection.
  std::atomic<int64_t> last_revision{0};
  auto reader_ctx = std::make_unique<grpc::ClientContext>();
  reader_ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  std::unique_ptr<lb::v1::LoadBalancer::Stub> reader_stub = LbStub();
  std::unique_ptr<Reader> reader =
      reader_stub->WatchChanges(reader_ctx.get(), lb::v1::WatchChangesRequest());
  std::thread reading([&] {
    lb::v1::Change c;
    while (reader->Read(&c)) last_revision = c.revision();
  });
  ASSERT_TRUE(
      WaitUntil([&] { return Metric("lb_controller_watch_streams") == 501; }, absl::Seconds(10)));

  std::vector<absl::Duration> latencies;
  for (int i = 0; i < 200; ++i) {
    const absl::Time start = absl::Now();
    ASSERT_TRUE(AddEndpoint("big", i).ok());
    latencies.push_back(absl::Now() - start);
  }
  std::sort(latencies.begin(), latencies.end());
  const ProcStats after = Stats();
  std::cerr << "adds p50 " << latencies[100] << ", max " << latencies.back() << "; peak RSS "
            << after.peak_rss_bytes / kMiB << " MiB, " << after.threads << " threads\n";
  EXPECT_LT(latencies[100], absl::Milliseconds(250));
  EXPECT_LT(after.peak_rss_bytes, kMaxPeakRss);
  EXPECT_LT(after.threads, kMaxThreads);
  // Every watcher that did not read was cut off; the one that read saw the last add.
  EXPECT_EQ(Exceeded("watch_max_queued_bytes"), 500u);
  const int64_t revision = static_cast<int64_t>(Metric("lb_controller_store_revision"));
  EXPECT_TRUE(WaitUntil([&] { return last_revision == revision; }, absl::Seconds(10)))
      << last_revision << " vs " << revision;
  // Their calls end too: the status cannot reach a client that does not read, so they are
  // cancelled after a grace period.
  EXPECT_TRUE(
      WaitUntil([&] { return Metric("lb_controller_watch_streams") == 1; }, absl::Seconds(15)));
  EXPECT_TRUE(WaitUntil([&] { return Metric("lb_controller_watch_queued_bytes") < 4 * kMiB; },
                        absl::Seconds(5)));
  grpc::Status s = stuck.Finish(0);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
              s.error_code() == grpc::StatusCode::CANCELLED)
      << s.error_code() << ": " << s.error_message();

  reader_ctx->TryCancel();
  reading.join();
  reader->Finish();
}

TEST_F(WatchAbuseTest, AClientPingingTooOftenIsSentAway) {
  // The client asks for a ping every 200 ms on an idle stream (gRPC's client sends them about
  // once a second); the controller accepts one per 10 s here: after two strikes the connection
  // gets GOAWAY (ENHANCE_YOUR_CALM, "too_many_pings") and the stream ends.
  StartController({"--grpc_min_ping_interval=10s"});
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 200);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 200);
  auto stub = lb::v1::LoadBalancer::NewStub(NewChannel(args));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  std::unique_ptr<Reader> reader = stub->WatchChanges(&ctx, lb::v1::WatchChangesRequest());
  const absl::Time start = absl::Now();
  lb::v1::Change c;
  int messages = 0;
  while (reader->Read(&c)) ++messages;
  grpc::Status s = reader->Finish();
  EXPECT_EQ(messages, 3);  // backend, the route table, the end of the state.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  // A client within the rule is served on a new connection.
  auto good = LbStub();
  grpc::ClientContext list_ctx;
  list_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  lb::v1::ListClustersResponse clusters;
  EXPECT_TRUE(good->ListClusters(&list_ctx, {}, &clusters).ok());
}

}  // namespace
}  // namespace lb::testing
