// Tests of controller/api/change_feed.cc, the WatchChanges fan-out, fed by a model cache and
// read by fake sinks that decide when their writes complete.
#include "controller/api/change_feed.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/metrics/metrics.h"
#include "controller/limits/limit_metrics.h"
#include "controller/model/model_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/model_changes.h"

namespace lb::api {
namespace {

using ::lb::testing::ClusterChange;
using ::lb::testing::DeleteChange;
using ::lb::testing::RoutesChange;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records what it is sent, as "cluster NAME@REV", "routes@REV", "deleted NAME@REV" or
// "end@REV"; a write completes when the test calls Complete().
class FakeSink : public ChangeFeed::Sink {
 public:
  explicit FakeSink(ChangeFeed* feed) : feed_(feed) {}
  void Send(const ChangeFeed::Bytes& bytes) override {
    EXPECT_FALSE(in_flight_) << "two writes at once";
    in_flight_ = true;
    last_ = bytes;
    lb::v1::Change c;
    EXPECT_TRUE(c.ParseFromString(*bytes));
    const std::string at = "@" + std::to_string(c.revision());
    switch (c.kind_case()) {
      case lb::v1::Change::kCluster:
        sent_.push_back("cluster " + c.cluster().name() + at);
        break;
      case lb::v1::Change::kClusterDeleted:
        sent_.push_back("deleted " + c.cluster_deleted() + at);
        break;
      case lb::v1::Change::kRouteTable:
        sent_.push_back("routes" + at);
        break;
      case lb::v1::Change::kInitialStateEnd:
        sent_.push_back("end" + at);
        break;
      default:
        sent_.push_back("?");
    }
  }
  void End(const absl::Status& status) override { ended_ = status; }

  // Completes the write in flight, if any; returns whether there was one.
  bool Complete() {
    if (!in_flight_) return false;
    in_flight_ = false;
    feed_->Written(this);
    return true;
  }
  // Completes writes until none is in flight.
  void Drain() {
    for (int i = 0; i < 10000 && Complete(); ++i) {
    }
  }

  const std::vector<std::string>& sent() const { return sent_; }
  const ChangeFeed::Bytes& last() const { return last_; }
  const absl::Status& ended() const { return ended_; }

 private:
  ChangeFeed* const feed_;
  bool in_flight_ = false;
  ChangeFeed::Bytes last_;
  std::vector<std::string> sent_;
  absl::Status ended_;
};

lb::v1::Change EndChange(int64_t revision) {
  lb::v1::Change c;
  c.set_revision(revision);
  c.set_initial_state_end(true);
  return c;
}

ChangeFeed::Limits Limits(size_t max_watchers, size_t max_queued_bytes = 32 << 20) {
  ChangeFeed::Limits limits;
  limits.max_watchers = max_watchers;
  limits.max_queued_bytes = max_queued_bytes;
  return limits;
}

class ChangeFeedTest : public ::testing::Test {
 protected:
  void Start(ChangeFeed::Limits limits) {
    feed_ = std::make_unique<ChangeFeed>(limits, &metrics_);
    model_.AddObserver(feed_.get());
  }
  ~ChangeFeedTest() override {
    if (feed_) model_.RemoveObserver(feed_.get());
  }
  uint64_t Exceeded(const std::string& limit) {
    return limits::ExceededCounter(&metrics_, limit)->Value();
  }

  metrics::Registry metrics_;
  model::ModelCache model_;
  std::unique_ptr<ChangeFeed> feed_;
};

TEST_F(ChangeFeedTest, AWatcherGetsTheStateThenEveryChangeOneWriteAtATime) {
  Start({});
  model_.Apply(ClusterChange("web", 2));
  model_.Apply(ClusterChange("api", 3));
  model_.Apply(RoutesChange(4));
  model_.Apply(EndChange(5));  // The registry's: only its revision counts.
  FakeSink sink(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&sink).ok());
  EXPECT_THAT(sink.sent(), ElementsAre("cluster api@3"));  // By name; the rest waits its turn.
  sink.Drain();
  EXPECT_THAT(sink.sent(), ElementsAre("cluster api@3", "cluster web@2", "routes@4", "end@5"));

  model_.Apply(ClusterChange("web", 6));  // Idle: sent at once.
  model_.Apply(DeleteChange("api", 7));   // Waits for the write before.
  EXPECT_EQ(sink.sent().back(), "cluster web@6");
  sink.Drain();
  EXPECT_THAT(sink.sent(), ElementsAre("cluster api@3", "cluster web@2", "routes@4", "end@5",
                                       "cluster web@6", "deleted api@7"));
}

TEST_F(ChangeFeedTest, WithoutARouteTableYetTheStateHasAnEmptyOne) {
  Start({});
  FakeSink sink(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&sink).ok());
  sink.Drain();
  EXPECT_THAT(sink.sent(), ElementsAre("routes@0", "end@0"));
}

TEST_F(ChangeFeedTest, ChangesAreSerializedOnceAndShared) {
  Start({});
  FakeSink a(feed_.get());
  FakeSink b(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&a).ok());
  ASSERT_TRUE(feed_->Subscribe(&b).ok());
  a.Drain();
  b.Drain();
  model_.Apply(ClusterChange("web", 2, 100));
  EXPECT_EQ(a.last(), b.last());  // The same bytes, not a copy.
  FakeSink late(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&late).ok());
  EXPECT_EQ(late.last(), a.last());  // The state is made of the changes' own bytes too.
}

TEST_F(ChangeFeedTest, AWatcherStartsFromTheStateNotFromOldChanges) {
  Start({});
  FakeSink early(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&early).ok());
  model_.Apply(ClusterChange("web", 2));
  model_.Apply(ClusterChange("web", 3));
  FakeSink late(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&late).ok());
  late.Drain();
  EXPECT_THAT(late.sent(), ElementsAre("cluster web@3", "routes@0", "end@3"));
  early.Drain();
  EXPECT_THAT(early.sent(), ElementsAre("routes@0", "end@0", "cluster web@2", "cluster web@3"));
}

TEST_F(ChangeFeedTest, OverMaxWatchersSubscribeIsRefusedAndCounted) {
  Start(Limits(2));
  FakeSink a(feed_.get()), b(feed_.get()), c(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&a).ok());
  ASSERT_TRUE(feed_->Subscribe(&b).ok());
  absl::Status refused = feed_->Subscribe(&c);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(),
            "too many WatchChanges streams: this controller serves at most 2; try again later");
  EXPECT_EQ(feed_->refused(), 1u);
  EXPECT_EQ(Exceeded("watch_max_streams"), 1u);
  EXPECT_THAT(c.sent(), IsEmpty());
  feed_->Unsubscribe(&a);
  EXPECT_TRUE(feed_->Subscribe(&c).ok());
  EXPECT_EQ(feed_->watchers(), 2u);
}

TEST_F(ChangeFeedTest, InternalWatchersTakeNoClientSlotAndHaveTheirOwnBound) {
  Start(Limits(1));
  model_.Apply(ClusterChange("web", 2));
  FakeSink client(feed_.get()), other_client(feed_.get());
  std::vector<std::unique_ptr<FakeSink>> internal;
  for (size_t i = 0; i <= ChangeFeed::kMaxInternalWatchers; ++i) {
    internal.push_back(std::make_unique<FakeSink>(feed_.get()));
  }
  for (size_t i = 0; i < ChangeFeed::kMaxInternalWatchers; ++i) {
    ASSERT_TRUE(feed_->SubscribeInternal(internal[i].get()).ok()) << i;
  }
  // The client's one slot is still free.
  ASSERT_TRUE(feed_->Subscribe(&client).ok());
  EXPECT_EQ(feed_->Subscribe(&other_client).code(), absl::StatusCode::kResourceExhausted);
  absl::Status refused = feed_->SubscribeInternal(internal.back().get());
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(), "too many in-process watchers of the change feed: at most 4");
  EXPECT_EQ(feed_->watchers(), 1u);
  EXPECT_EQ(feed_->internal_watchers(), ChangeFeed::kMaxInternalWatchers);
  EXPECT_EQ(feed_->refused(), 1u);  // Only the client's refusal counts against the flag.
  EXPECT_EQ(Exceeded("watch_max_streams"), 1u);
  EXPECT_EQ(metrics_.GetGauge("lb_controller_watch_streams", "")->Value(), 1);
  // An internal watcher gets the same stream as a client.
  internal[0]->Drain();
  model_.Apply(ClusterChange("api", 3));
  internal[0]->Drain();
  EXPECT_THAT(internal[0]->sent(),
              ElementsAre("cluster web@2", "routes@0", "end@2", "cluster api@3"));
  // Its slot comes back when it leaves.
  feed_->Unsubscribe(internal[0].get());
  EXPECT_EQ(feed_->internal_watchers(), ChangeFeed::kMaxInternalWatchers - 1);
  EXPECT_TRUE(feed_->SubscribeInternal(internal.back().get()).ok());
  EXPECT_EQ(feed_->watchers(), 1u);
  feed_->Shutdown();
  EXPECT_EQ(feed_->internal_watchers(), 0u);
  EXPECT_EQ(feed_->watchers(), 0u);
  EXPECT_EQ(internal[1]->ended().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(feed_->SubscribeInternal(internal[0].get()).code(), absl::StatusCode::kUnavailable);
}

TEST_F(ChangeFeedTest, AWatcherThatFallsTooFarBehindIsCutOffAndItsBacklogDropped) {
  const size_t change_bytes = ClusterChange("web", 10, 50).ByteSizeLong();
  Start(Limits(10, 5 * change_bytes));
  FakeSink slow(feed_.get());
  FakeSink reader(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&slow).ok());
  ASSERT_TRUE(feed_->Subscribe(&reader).ok());
  reader.Drain();
  int applied = 0;
  for (int rev = 10; rev < 30 && slow.ended().ok(); ++rev, ++applied) {
    model_.Apply(ClusterChange("web", rev, 50));
    reader.Drain();
    EXPECT_LE(feed_->queued_bytes(), 5 * change_bytes);
  }
  // Its first write (of the state) never completed: 5 changes fit behind it, the 6th is one too
  // many.
  EXPECT_EQ(applied, 6);
  EXPECT_EQ(slow.ended().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(slow.ended().message(), "this watcher fell more than " +
                                        std::to_string(5 * change_bytes) +
                                        " bytes of changes behind; watch again");
  EXPECT_EQ(feed_->cut_off(), 1u);
  EXPECT_EQ(Exceeded("watch_max_queued_bytes"), 1u);
  EXPECT_EQ(feed_->watchers(), 1u);
  // What the reader has taken is dropped at the next change.
  model_.Apply(ClusterChange("web", 40, 50));
  reader.Drain();
  model_.Apply(ClusterChange("web", 41));
  EXPECT_EQ(feed_->queued_bytes(), 0u);
  // The ended sink is not called again.
  slow.Complete();
  EXPECT_THAT(slow.sent(), ElementsAre("routes@0"));
}

TEST_F(ChangeFeedTest, OneChangeLargerThanTheLimitStillReachesEveryWatcher) {
  Start(Limits(10, 16));
  FakeSink a(feed_.get());
  FakeSink b(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&a).ok());
  ASSERT_TRUE(feed_->Subscribe(&b).ok());
  a.Drain();
  b.Complete();  // b still has its end marker in flight.
  model_.Apply(ClusterChange("web", 2, 100));
  EXPECT_TRUE(a.ended().ok());
  EXPECT_TRUE(b.ended().ok());
  b.Drain();
  EXPECT_EQ(b.sent().back(), "cluster web@2");
  EXPECT_EQ(a.sent().back(), "cluster web@2");
}

TEST_F(ChangeFeedTest, ShutdownEndsEveryWatcherAndRefusesNewOnes) {
  Start({});
  FakeSink a(feed_.get());
  ASSERT_TRUE(feed_->Subscribe(&a).ok());
  feed_->Shutdown();
  EXPECT_EQ(a.ended(), absl::UnavailableError("controller is shutting down"));
  FakeSink b(feed_.get());
  EXPECT_EQ(feed_->Subscribe(&b), absl::UnavailableError("controller is shutting down"));
  model_.Apply(ClusterChange("web", 2));
  EXPECT_EQ(feed_->watchers(), 0u);
  EXPECT_EQ(feed_->queued_bytes(), 0u);
}

}  // namespace
}  // namespace lb::api
