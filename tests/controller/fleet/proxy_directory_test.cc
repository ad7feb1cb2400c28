#include "controller/fleet/proxy_directory.h"

#include <memory>
#include <string>
#include <vector>

#include "common/time/simulated_clock.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lb::fleet {
namespace {

using ::testing::ElementsAre;

lb::v1::ListProxiesResponse Proxies(const std::vector<std::string>& nodes) {
  lb::v1::ListProxiesResponse r;
  for (const std::string& n : nodes) r.add_proxies()->set_node_id(n);
  return r;
}

// "node@controller" of each listed proxy, in order.
std::vector<std::string> Names(const lb::v1::ListProxiesResponse& r) {
  std::vector<std::string> out;
  for (const auto& p : r.proxies()) out.push_back(p.node_id() + "@" + p.controller());
  return out;
}

class ProxyDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::unique_ptr<ProxyDirectory> Make(const std::string& id, std::vector<std::string> nodes) {
    ProxyDirectory::Options o;
    o.controller_id = id;
    o.stale_after = absl::Seconds(20);
    o.delete_after = absl::Minutes(10);
    return std::make_unique<ProxyDirectory>(
        store_.get(), &clock_, [nodes] { return Proxies(nodes); }, o);
  }

  SimulatedClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(ProxyDirectoryTest, ListsItsOwnThenTheOthersFreshProxies) {
  auto a = Make("a:18000", {"p1", "p2"});
  auto b = Make("b:18000", {"p3"});
  auto c = Make("c:18000", {"p0"});
  EXPECT_THAT(Names(a->List()), ElementsAre("p1@a:18000", "p2@a:18000"));
  b->PublishOnce();
  c->PublishOnce();
  EXPECT_THAT(Names(a->List()),
              ElementsAre("p1@a:18000", "p2@a:18000", "p0@c:18000", "p3@b:18000"));
  // b stops publishing (killed): after stale_after it is not listed, c refreshed is.
  clock_.Advance(absl::Seconds(15));
  c->PublishOnce();
  clock_.Advance(absl::Seconds(6));
  EXPECT_THAT(Names(a->List()), ElementsAre("p1@a:18000", "p2@a:18000", "p0@c:18000"));
  // Long gone: its entry is deleted by the next publication of anyone.
  ASSERT_TRUE(store_->Get("fleet/proxies/b:18000")->has_value());
  clock_.Advance(absl::Minutes(10));
  a->PublishOnce();
  EXPECT_FALSE(store_->Get("fleet/proxies/b:18000")->has_value());
}

TEST_F(ProxyDirectoryTest, StopDeletesItsEntry) {
  auto a = Make("a:1", {"p1"});
  auto b = Make("b:1", {"p2"});
  b->Start();
  // Start publishes at once (on its thread).
  for (int i = 0; i < 200 && a->List().proxies_size() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(Names(a->List()), ElementsAre("p1@a:1", "p2@b:1"));
  b->Stop();
  EXPECT_THAT(Names(a->List()), ElementsAre("p1@a:1"));
  EXPECT_FALSE(store_->Get("fleet/proxies/b:1")->has_value());
  b->Stop();  // Idempotent.
}

}  // namespace
}  // namespace lb::fleet
