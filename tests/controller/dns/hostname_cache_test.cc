// Tests of controller/dns/hostname_cache.cc with a fake Resolver (no DNS) on simulated time,
// plus the system resolver on "localhost" only.
#include "controller/dns/hostname_cache.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "controller/limits/limit_metrics.h"
#include "controller/model/model_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lb::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(10);

// Answers from a table; thread-safe; counts calls.
class FakeResolver : public Resolver {
 public:
  void Set(const std::string& host, absl::StatusOr<std::vector<std::string>> answer) {
    absl::MutexLock lock(&mu_);
    answers_.insert_or_assign(host, std::move(answer));
  }
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) override {
    absl::MutexLock lock(&mu_);
    ++calls_[host];
    ++total_calls_;
    auto it = answers_.find(host);
    if (it == answers_.end()) return absl::NotFoundError("no such host " + host);
    return it->second;
  }
  int calls(const std::string& host) {
    absl::MutexLock lock(&mu_);
    return calls_[host];
  }
  // Waits (bounded) until `host` was resolved at least `n` times; returns whether it was.
  bool WaitForCalls(const std::string& host, int n) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_[host] >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, absl::StatusOr<std::vector<std::string>>> answers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  int total_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts on_change calls.
class ChangeCounter {
 public:
  std::function<void()> Callback() {
    return [this] {
      absl::MutexLock lock(&mu_);
      ++count_;
    };
  }
  bool WaitFor(int n) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(HostnameCacheTest, NothingIsKnownBeforeResolution) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1"});
  HostnameCache cache(&resolver, absl::Hours(1));
  cache.SetHostnames({"a.example"});
  EXPECT_THAT(cache.Lookup("a.example"), IsEmpty());
  EXPECT_THAT(cache.Lookup("unknown.example"), IsEmpty());
  EXPECT_EQ(resolver.calls("a.example"), 0);  // Nothing runs until Start() or RefreshNow().
}

TEST(HostnameCacheTest, RefreshNowResolvesEveryName) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1", "10.0.0.2"});
  resolver.Set("b.example", std::vector<std::string>{"::1"});
  HostnameCache cache(&resolver, absl::Hours(1));
  ChangeCounter changes;
  cache.SetOnChange(changes.Callback());
  cache.SetHostnames({"a.example", "b.example"});
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1", "10.0.0.2"));
  EXPECT_THAT(cache.Lookup("b.example"), ElementsAre("::1"));
  EXPECT_EQ(resolver.calls("a.example"), 1);
  EXPECT_EQ(resolver.calls("b.example"), 1);
  EXPECT_EQ(changes.count(), 0);  // RefreshNow runs on the caller's thread without callbacks.
}

TEST(HostnameCacheTest, FailedResolutionKeepsLastGoodAddresses) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1"});
  HostnameCache cache(&resolver, absl::Hours(1));
  cache.SetHostnames({"a.example", "never.example"});
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));
  EXPECT_THAT(cache.Lookup("never.example"), IsEmpty());

  resolver.Set("a.example", absl::UnavailableError("SERVFAIL"));
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));
  resolver.Set("a.example", absl::NotFoundError("NXDOMAIN"));
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));
  EXPECT_EQ(resolver.calls("a.example"), 3);

  resolver.Set("a.example", std::vector<std::string>{"10.0.0.9"});
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.9"));
}

TEST(HostnameCacheTest, RemovedNamesAreForgotten) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1"});
  resolver.Set("b.example", std::vector<std::string>{"10.0.0.2"});
  HostnameCache cache(&resolver, absl::Hours(1));
  cache.SetHostnames({"a.example", "b.example"});
  cache.RefreshNow();
  cache.SetHostnames({"a.example"});
  EXPECT_THAT(cache.Lookup("b.example"), IsEmpty());
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));
  cache.RefreshNow();
  EXPECT_EQ(resolver.calls("b.example"), 1);  // Not resolved any more.
  EXPECT_THAT(cache.Lookup("b.example"), IsEmpty());
  cache.SetHostnames({});
  EXPECT_THAT(cache.Lookup("a.example"), IsEmpty());
}

TEST(HostnameCacheTest, ObservesTheModelsHostnameEndpoints) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1"});
  resolver.Set("b.example", std::vector<std::string>{"10.0.0.2"});
  HostnameCache cache(&resolver, absl::Hours(1));
  model::ModelCache model;
  model.AddObserver(&cache);
  lb::v1::Change web;
  web.set_revision(1);
  web.mutable_cluster()->set_name("web");
  for (const char* address : {"a.example", "10.0.0.9", "::1"}) {
    web.mutable_cluster()->add_endpoints()->set_address(address);
  }
  model.Apply(web);
  lb::v1::Change api;
  api.set_revision(2);
  api.mutable_cluster()->set_name("api");
  api.mutable_cluster()->add_endpoints()->set_address("b.example");
  model.Apply(api);
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));
  EXPECT_THAT(cache.Lookup("b.example"), ElementsAre("10.0.0.2"));
  EXPECT_EQ(resolver.calls("10.0.0.9"), 0);  // IP literals are not resolved.
  EXPECT_EQ(resolver.calls("::1"), 0);

  // A route table change keeps the names; deleting a cluster forgets its names.
  lb::v1::Change routes;
  routes.set_revision(3);
  routes.mutable_route_table()->add_routes()->set_cluster("web");
  model.Apply(routes);
  EXPECT_THAT(cache.Lookup("b.example"), ElementsAre("10.0.0.2"));
  lb::v1::Change deleted;
  deleted.set_revision(4);
  deleted.set_cluster_deleted("api");
  model.Apply(deleted);
  EXPECT_THAT(cache.Lookup("b.example"), IsEmpty());
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));
  cache.RefreshNow();
  EXPECT_EQ(resolver.calls("a.example"), 2);
  EXPECT_EQ(resolver.calls("b.example"), 1);
}

TEST(HostnameCacheTest, StartedCacheResolvesNewNamesAtOnce) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1"});
  resolver.Set("b.example", std::vector<std::string>{"10.0.0.2"});
  SimulatedClock clock;
  HostnameCache cache(&resolver, absl::Hours(1), &clock);
  ChangeCounter changes;
  cache.SetOnChange(changes.Callback());
  cache.Start();
  cache.SetHostnames({"a.example"});
  ASSERT_TRUE(changes.WaitFor(1));
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));

  // Only the new name is resolved; the hour-long full refresh has not come.
  cache.SetHostnames({"a.example", "b.example"});
  ASSERT_TRUE(changes.WaitFor(2));
  EXPECT_THAT(cache.Lookup("b.example"), ElementsAre("10.0.0.2"));
  EXPECT_EQ(resolver.calls("a.example"), 1);
  EXPECT_EQ(resolver.calls("b.example"), 1);
}

// Moves `clock` past the next full refresh once the refresh thread waits for it, and waits
// until that refresh has resolved `host` (its `calls`-th resolution in all).
void RunFullRefresh(SimulatedClock& clock, FakeResolver& resolver, const std::string& host,
                    int calls) {
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(absl::Seconds(30));
  ASSERT_TRUE(resolver.WaitForCalls(host, calls));
}

TEST(HostnameCacheTest, PeriodicRefreshPicksUpChangesAndCallsBackOnlyOnChange) {
  FakeResolver resolver;
  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1"});
  SimulatedClock clock;
  HostnameCache cache(&resolver, absl::Seconds(30), &clock);
  ChangeCounter changes;
  cache.SetOnChange(changes.Callback());
  cache.Start();
  cache.SetHostnames({"a.example"});
  ASSERT_TRUE(changes.WaitFor(1));
  EXPECT_EQ(resolver.calls("a.example"), 1);  // New name, at once.

  // Nothing happens until the interval has passed on the clock.
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(absl::Seconds(29));
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_EQ(resolver.calls("a.example"), 1);
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(resolver.WaitForCalls("a.example", 2));

  // Two more refreshes with the same answer: no callback.
  RunFullRefresh(clock, resolver, "a.example", 3);
  RunFullRefresh(clock, resolver, "a.example", 4);
  EXPECT_EQ(resolver.calls("a.example"), 4);
  EXPECT_EQ(changes.count(), 1);
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1"));

  resolver.Set("a.example", std::vector<std::string>{"10.0.0.1", "10.0.0.3"});
  RunFullRefresh(clock, resolver, "a.example", 5);
  ASSERT_TRUE(changes.WaitFor(2));
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1", "10.0.0.3"));

  // A failure keeps the addresses and is not a change.
  resolver.Set("a.example", absl::UnavailableError("timeout"));
  RunFullRefresh(clock, resolver, "a.example", 6);
  RunFullRefresh(clock, resolver, "a.example", 7);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // Past the callback decision of the 7th.
  EXPECT_EQ(changes.count(), 2);
  EXPECT_EQ(resolver.calls("a.example"), 7);
  EXPECT_THAT(cache.Lookup("a.example"), ElementsAre("10.0.0.1", "10.0.0.3"));
}

TEST(HostnameCacheTest, DestructorStopsTheThreadPromptly) {
  FakeResolver resolver;
  SimulatedClock clock;
  absl::Time start = absl::Now();  // Real time: the destructor must not wait for the clock.
  {
    HostnameCache cache(&resolver, absl::Hours(1), &clock);
    cache.Start();
    cache.SetHostnames({"a.example"});
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  { HostnameCache never_started(&resolver, absl::Hours(1)); }
}

// Answers "10.0.0.1" for every name; names in `gated` wait for Open() (bounded). Records how
// many calls ran at once.
class GatedResolver : public Resolver {
 public:
  explicit GatedResolver(absl::flat_hash_set<std::string> gated, int wait_for_concurrent = 0)
      : gated_(std::move(gated)), wait_for_concurrent_(wait_for_concurrent) {}
  ~GatedResolver() override { Open(); }
  void Open() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) override {
    {
      absl::MutexLock lock(&mu_);
      ++calls_[host];
      max_inside_ = std::max(max_inside_, ++inside_);
      // Holds the calls until `wait_for_concurrent` run at once (bounded; once): sequential
      // calls would wait in vain.
      reached_ |= inside_ >= wait_for_concurrent_;
      auto all_in = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reached_; };
      mu_.AwaitWithTimeout(absl::Condition(&all_in), kWait);
    }
    if (gated_.contains(host)) gate_.WaitForNotificationWithTimeout(kWait);
    absl::MutexLock lock(&mu_);
    --inside_;
    return std::vector<std::string>{"10.0.0.1"};
  }
  int max_inside() {
    absl::MutexLock lock(&mu_);
    return max_inside_;
  }
  int calls(const std::string& host) {
    absl::MutexLock lock(&mu_);
    return calls_[host];
  }

 private:
  const absl::flat_hash_set<std::string> gated_;
  const int wait_for_concurrent_;
  absl::Notification gate_;
  absl::Mutex mu_;
  int inside_ ABSL_GUARDED_BY(mu_) = 0;
  int max_inside_ ABSL_GUARDED_BY(mu_) = 0;
  bool reached_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

TEST(HostnameCacheTest, NamesResolveInParallelUpToTheLimit) {
  GatedResolver resolver({}, /*wait_for_concurrent=*/4);
  HostnameLimits limits;
  limits.parallelism = 4;
  limits.timeout = kWait;
  HostnameCache cache(&resolver, absl::Hours(1), Clock::Real(), limits);
  cache.SetHostnames({"a.example", "b.example", "c.example", "d.example", "e.example"});
  const absl::Time start = absl::Now();
  cache.RefreshNow();
  EXPECT_LT(absl::Now() - start, kWait);  // The first four ran together.
  EXPECT_EQ(resolver.max_inside(), 4);
  for (const char* host : {"a.example", "b.example", "c.example", "d.example", "e.example"}) {
    EXPECT_THAT(cache.Lookup(host), ElementsAre("10.0.0.1")) << host;
  }
}

TEST(HostnameCacheTest, ANameWithoutAnswerInTimeKeepsItsAddressesAndIsNotAskedTwice) {
  GatedResolver resolver({"slow.example"});
  HostnameLimits limits;
  limits.timeout = absl::Milliseconds(200);
  metrics::Registry metrics;
  HostnameCache cache(&resolver, absl::Hours(1), Clock::Real(), limits, &metrics);
  cache.SetHostnames({"slow.example", "fast.example"});
  const absl::Time start = absl::Now();
  cache.RefreshNow();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(cache.Lookup("fast.example"), ElementsAre("10.0.0.1"));
  EXPECT_THAT(cache.Lookup("slow.example"), IsEmpty());
  // Still running: not asked again (and not counted again as a timeout).
  cache.RefreshNow();
  EXPECT_EQ(resolver.calls("slow.example"), 1);
  EXPECT_EQ(resolver.calls("fast.example"), 2);
  EXPECT_EQ(limits::ExceededCounter(&metrics, "dns_timeout")->Value(), 1u);
  resolver.Open();
}

TEST(HostnameCacheTest, AddressesPerNameAreCapped) {
  FakeResolver resolver;
  resolver.Set("many.example",
               std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"});
  resolver.Set("few.example", std::vector<std::string>{"10.0.1.1", "10.0.1.2"});
  HostnameLimits limits;
  limits.max_addresses_per_host = 2;
  metrics::Registry metrics;
  HostnameCache cache(&resolver, absl::Hours(1), Clock::Real(), limits, &metrics);
  cache.SetHostnames({"many.example", "few.example"});
  cache.RefreshNow();
  EXPECT_THAT(cache.Lookup("many.example"), ElementsAre("10.0.0.1", "10.0.0.2"));
  EXPECT_THAT(cache.Lookup("few.example"), ElementsAre("10.0.1.1", "10.0.1.2"));
  EXPECT_EQ(limits::ExceededCounter(&metrics, "dns_max_addresses_per_host")->Value(), 1u);
}

TEST(SystemResolverTest, Localhost) {
  std::unique_ptr<Resolver> resolver = NewSystemResolver();
  absl::StatusOr<std::vector<std::string>> addrs = resolver->Resolve("localhost");
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  ASSERT_FALSE(addrs->empty());
  EXPECT_TRUE(std::is_sorted(addrs->begin(), addrs->end()));
  EXPECT_EQ(std::adjacent_find(addrs->begin(), addrs->end()), addrs->end());
  bool loopback = false;
  for (const auto& a : *addrs) {
    unsigned char buf[16];
    EXPECT_TRUE(inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1)
        << a;
    loopback |= a == "127.0.0.1" || a == "::1";
  }
  EXPECT_TRUE(loopback) << addrs->size();
}

TEST(SystemResolverTest, IpLiteralResolvesToItself) {
  std::unique_ptr<Resolver> resolver = NewSystemResolver();
  absl::StatusOr<std::vector<std::string>> addrs = resolver->Resolve("127.0.0.1");
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  EXPECT_THAT(*addrs, ElementsAre("127.0.0.1"));
}

}  // namespace
}  // namespace lb::dns
