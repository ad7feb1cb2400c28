// Tests of controller/model/model_cache.cc: states and observer calls, fed changes by hand.
#include "controller/model/model_cache.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/test_common/model_changes.h"

namespace lb::model {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::Pair;

lb::v1::Change Parse(const std::string& text) {
  lb::v1::Change c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

using ::lb::testing::ClusterChange;

std::vector<std::string> Names(const ModelState& s) {
  std::vector<std::string> out;
  for (const auto& [name, c] : s.clusters) out.push_back(name);
  return out;
}

// Records what it is told.
class RecordingObserver : public ModelCache::Observer {
 public:
  struct Call {
    lb::v1::Change change;
    std::shared_ptr<const ModelState> state;
  };
  void OnModelChange(const lb::v1::Change& change,
                     const std::shared_ptr<const ModelState>& state) override {
    calls.push_back({change, state});
    if (log != nullptr) log->push_back(name);
  }
  std::vector<Call> calls;
  std::string name;
  std::vector<std::string>* log = nullptr;
};

TEST(ModelStateTest, EmptyHasAnEmptyRouteTable) {
  std::shared_ptr<const ModelState> s = ModelState::Empty();
  EXPECT_TRUE(s->clusters.empty());
  ASSERT_NE(s->routes, nullptr);
  EXPECT_EQ(s->routes->ByteSizeLong(), 0u);
  EXPECT_EQ(s->revision, 0);
  EXPECT_EQ(s->endpoints, 0);
}

TEST(ModelCacheTest, StartsEmpty) {
  ModelCache cache;
  std::shared_ptr<const ModelState> s = cache.Current();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->clusters.empty());
  ASSERT_NE(s->routes, nullptr);
  EXPECT_EQ(s->routes->routes_size(), 0);
  EXPECT_EQ(s->revision, 0);
  EXPECT_EQ(s->endpoints, 0);
  EXPECT_EQ(s->FindCluster("backend"), nullptr);
}

TEST(ModelCacheTest, AppliesClustersDeletionsAndRouteTables) {
  ModelCache cache;
  cache.Apply(ClusterChange("web", 3, 2));
  cache.Apply(ClusterChange("api", 5, 1));
  cache.Apply(Parse(R"pb(revision: 4
                         route_table {
                           version: 4
                           routes { name: "r" path_prefix: "/" cluster: "web" }
                         })pb"));
  std::shared_ptr<const ModelState> s = cache.Current();
  EXPECT_THAT(Names(*s), ElementsAre("api", "web"));
  EXPECT_EQ(s->endpoints, 3);
  EXPECT_EQ(s->revision, 5);  // The highest seen; the replayed state is not in revision order.
  ASSERT_NE(s->FindCluster("web"), nullptr);
  EXPECT_TRUE(
      MessageDifferencer::Equals(*s->FindCluster("web"), ClusterChange("web", 3, 2).cluster()));
  ASSERT_EQ(s->routes->routes_size(), 1);
  EXPECT_EQ(s->routes->routes(0).cluster(), "web");
  EXPECT_EQ(s->routes->version(), 4);

  // An update replaces the cluster; its endpoints replace the old ones in the count.
  cache.Apply(ClusterChange("web", 6, 5));
  s = cache.Current();
  EXPECT_EQ(s->FindCluster("web")->version(), 6);
  EXPECT_EQ(s->endpoints, 6);
  EXPECT_EQ(s->revision, 6);

  cache.Apply(Parse(R"pb(revision: 7 cluster_deleted: "web")pb"));
  s = cache.Current();
  EXPECT_THAT(Names(*s), ElementsAre("api"));
  EXPECT_EQ(s->endpoints, 1);
  EXPECT_EQ(s->revision, 7);
  EXPECT_EQ(s->routes->routes_size(), 1);  // Untouched.

  // Deleting a missing cluster changes nothing but the revision.
  cache.Apply(Parse(R"pb(revision: 8 cluster_deleted: "nope")pb"));
  s = cache.Current();
  EXPECT_THAT(Names(*s), ElementsAre("api"));
  EXPECT_EQ(s->endpoints, 1);
  EXPECT_EQ(s->revision, 8);
}

TEST(ModelCacheTest, StatesAreImmutableAndShareUnchangedClusters) {
  ModelCache cache;
  cache.Apply(ClusterChange("a", 1, 1));
  cache.Apply(ClusterChange("b", 2, 1));
  std::shared_ptr<const ModelState> before = cache.Current();
  cache.Apply(ClusterChange("b", 3, 4));
  std::shared_ptr<const ModelState> after = cache.Current();
  EXPECT_NE(before, after);
  EXPECT_EQ(before->FindCluster("b")->version(), 2);  // The old state is as it was.
  EXPECT_EQ(before->endpoints, 2);
  EXPECT_EQ(after->FindCluster("b")->version(), 3);
  EXPECT_EQ(before->clusters.at("a"), after->clusters.at("a"));  // Same object.
  EXPECT_EQ(before->routes, after->routes);
}

TEST(ModelCacheTest, ObserversSeeEveryChangeInOrderWithTheStateItProduced) {
  ModelCache cache;
  std::vector<std::string> log;
  RecordingObserver first, second;
  first.name = "first";
  second.name = "second";
  first.log = second.log = &log;
  cache.AddObserver(&first);
  cache.AddObserver(&second);
  cache.Apply(ClusterChange("a", 1, 1));
  cache.Apply(Parse(R"pb(revision: 2 cluster_deleted: "a")pb"));
  EXPECT_THAT(log, ElementsAre("first", "second", "first", "second"));
  ASSERT_EQ(first.calls.size(), 2u);
  EXPECT_EQ(first.calls[0].change.cluster().name(), "a");
  EXPECT_THAT(Names(*first.calls[0].state), ElementsAre("a"));
  EXPECT_EQ(first.calls[1].change.cluster_deleted(), "a");
  EXPECT_TRUE(first.calls[1].state->clusters.empty());
  EXPECT_EQ(first.calls[1].state, cache.Current());
  EXPECT_EQ(second.calls[1].state, first.calls[1].state);  // One state for all observers.
}

TEST(ModelCacheTest, ChangeWithoutKindIsIgnored) {
  ModelCache cache;
  RecordingObserver observer;
  cache.AddObserver(&observer);
  std::shared_ptr<const ModelState> before = cache.Current();
  cache.Apply(Parse("revision: 9"));
  EXPECT_EQ(cache.Current(), before);
  EXPECT_TRUE(observer.calls.empty());
}

TEST(ModelCacheTest, InitialStateEndAdvancesTheRevisionOnlyAndIsPassedOn) {
  ModelCache cache;
  RecordingObserver observer;
  cache.AddObserver(&observer);
  cache.Apply(ClusterChange("a", 4, 2));
  // The store's revision at the end of the registry's snapshot: past every key's when the latest
  // commit deleted one.
  cache.Apply(Parse("revision: 9 initial_state_end: true"));
  std::shared_ptr<const ModelState> s = cache.Current();
  EXPECT_THAT(Names(*s), ElementsAre("a"));
  EXPECT_EQ(s->endpoints, 2);
  EXPECT_EQ(s->revision, 9);
  ASSERT_EQ(observer.calls.size(), 2u);
  EXPECT_TRUE(observer.calls[1].change.initial_state_end());
}

TEST(ModelCacheTest, RepeatedChangeGivesTheSameStateAndIsPassedOn) {
  ModelCache cache;
  RecordingObserver observer;
  cache.AddObserver(&observer);
  cache.Apply(ClusterChange("a", 4, 2));
  cache.Apply(ClusterChange("a", 4, 2));
  std::shared_ptr<const ModelState> s = cache.Current();
  EXPECT_THAT(Names(*s), ElementsAre("a"));
  EXPECT_EQ(s->endpoints, 2);
  EXPECT_EQ(s->revision, 4);
  EXPECT_EQ(observer.calls.size(), 2u);
}

TEST(ModelCacheTest, RemovedObserverIsNotCalled) {
  ModelCache cache;
  RecordingObserver kept, removed;
  cache.AddObserver(&kept);
  cache.AddObserver(&removed);
  cache.Apply(ClusterChange("a", 1, 0));
  cache.RemoveObserver(&removed);
  cache.Apply(ClusterChange("b", 2, 0));
  EXPECT_EQ(kept.calls.size(), 2u);
  EXPECT_EQ(removed.calls.size(), 1u);
}

}  // namespace
}  // namespace lb::model
