// The reflector against a scripted Transport: list pages, watch, bookmarks, a watch that ends,
// 410 Gone and the relist that replaces the store, backoff after errors, an absent optional
// kind, and the object cap.
#include "controller/kubernetes/reflector.h"

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/controller/kubernetes/fake_transport.h"

namespace lb::kubernetes {
namespace {

using testing::FakeTransport;
using testing::FakeWatch;

constexpr char kServices[] = "/api/v1/services";

// Polls `done` (bounded: 20 s) and reports whether it became true.
bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

std::string Service(const std::string& name, const std::string& rv) {
  return R"({"metadata":{"namespace":"default","name":")" + name + R"(","resourceVersion":")" + rv +
         R"(","managedFields":[{"manager":"x"}]},"spec":{"ports":[{"port":80}]}})";
}

std::string Event(const std::string& type, const std::string& object) {
  return R"({"type":")" + type + R"(","object":)" + object + "}";
}

HttpResponse List(const std::vector<std::string>& items, const std::string& rv,
                  const std::string& cont = "") {
  std::string body = R"({"kind":"ServiceList","metadata":{"resourceVersion":")" + rv + R"(")";
  if (!cont.empty()) body += R"(,"continue":")" + cont + R"(")";
  body += R"(},"items":[)";
  for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
  return HttpResponse{200, body + "]}"};
}

ReflectorOptions Fast() {
  ReflectorOptions o;
  o.backoff_initial = absl::Milliseconds(1);
  o.backoff_max = absl::Milliseconds(4);
  o.absent_recheck = absl::Milliseconds(5);
  o.seed = 7;
  return o;
}

std::vector<std::string> Keys(const ObjectStore::Objects& objects) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : objects) keys.push_back(k);
  return keys;
}

TEST(ReflectorTest, ListWatchBookmarkGoneRelist) {
  FakeTransport t;
  t.AddList(kServices, List({Service("a", "5")}, "", "c+1/="));
  t.AddList(kServices, List({Service("b", "7")}, "10"));
  FakeWatch w1;
  w1.lines = {Event("ADDED", Service("c", "11")), Event("MODIFIED", Service("a", "12")),
              Event("BOOKMARK", R"({"metadata":{"resourceVersion":"15"}})")};
  t.AddWatch(kServices, w1);  // Then the server ends it: resume from 15.
  FakeWatch w2;
  w2.lines = {Event("DELETED", Service("b", "16")),
              Event("ERROR", R"({"kind":"Status","code":410,"reason":"Expired"})")};
  t.AddWatch(kServices, w2);
  t.AddList(kServices, List({Service("a", "18"), Service("d", "19")}, "20"));
  ObjectStore store(100);
  int changes = 0;
  store.SetOnChange([&] { ++changes; });
  Reflector r({"services", kServices, false}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.stats().lists.load() == 2 && t.Requests().size() == 6; }));
  r.Stop();
  EXPECT_EQ(t.Requests(),
            (std::vector<std::string>{
                "GET /api/v1/services?limit=500",
                "GET /api/v1/services?limit=500&continue=c%2B1%2F%3D",
                "WATCH /api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=10&"
                "timeoutSeconds=300",
                "WATCH /api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=15&"
                "timeoutSeconds=300",
                "GET /api/v1/services?limit=500",
                "WATCH /api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=20&"
                "timeoutSeconds=300",
            }));
  // The relist replaced the store: c (added by the watch) is gone, d is new.
  EXPECT_EQ(Keys(store.Get("services")), (std::vector<std::string>{"default/a", "default/d"}));
  EXPECT_FALSE(store.Get("services")["default/a"]["metadata"].contains("managedFields"));
  EXPECT_EQ(store.Get("services")["default/a"]["metadata"]["resourceVersion"], "18");
  EXPECT_EQ(r.stats().relists_gone.load(), 1u);
  EXPECT_EQ(r.stats().watch_restarts.load(), 1u);
  EXPECT_EQ(r.stats().events.load(), 3u);
  EXPECT_EQ(r.stats().errors.load(), 0u);
  EXPECT_TRUE(store.Present("services"));
  // list, ADDED, MODIFIED, DELETED, relist.
  EXPECT_EQ(changes, 5);
}

TEST(ReflectorTest, HttpGoneOnWatchRelists) {
  FakeTransport t;
  t.AddList(kServices, List({Service("a", "5")}, "5"));
  FakeWatch gone;
  gone.status = 410;
  gone.body = R"({"kind":"Status","code":410,"reason":"Gone"})";
  t.AddWatch(kServices, gone);
  t.AddList(kServices, List({}, "9"));
  ObjectStore store(100);
  Reflector r({"services", kServices, false}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.stats().lists.load() == 2; }));
  r.Stop();
  EXPECT_EQ(store.Count("services"), 0u);
  EXPECT_EQ(r.stats().relists_gone.load(), 1u);
}

TEST(ReflectorTest, BacksOffAfterErrorsThenLists) {
  FakeTransport t;
  t.AddList(kServices, absl::UnavailableError("connection refused"));
  t.AddList(kServices, HttpResponse{500, R"({"kind":"Status","message":"etcd is down"})"});
  t.AddList(kServices, HttpResponse{200, "not json"});
  t.AddList(kServices, List({Service("a", "5")}, "5"));
  FakeWatch broken;
  broken.lines = {"{not an event"};
  t.AddWatch(kServices, broken);
  FakeWatch cut;
  cut.error = absl::UnavailableError("connection reset");
  t.AddWatch(kServices, cut);
  ObjectStore store(100);
  Reflector r({"services", kServices, false}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return t.Requests().size() == 7; }));
  r.Stop();
  EXPECT_EQ(r.stats().errors.load(), 5u);
  EXPECT_EQ(r.stats().lists.load(), 1u);
  // After the broken and the cut watch it resumed from the list's version, without relisting.
  const std::vector<std::string> requests = t.Requests();
  EXPECT_EQ(requests[6],
            "WATCH /api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=5&"
            "timeoutSeconds=300");
  EXPECT_EQ(store.Count("services"), 1u);
}

TEST(ReflectorTest, BackoffGrowsToTheCapWithJitter) {
  std::mt19937_64 rng(1);
  const absl::Duration initial = absl::Milliseconds(100), max = absl::Seconds(1);
  for (int attempt = 0; attempt < 40; ++attempt) {
    absl::Duration full = initial;
    for (int i = 0; i < attempt && full < max; ++i) full *= 2;
    full = std::min(full, max);
    const absl::Duration d = Backoff(attempt, initial, max, rng);
    EXPECT_GE(d, full / 2) << attempt;
    EXPECT_LE(d, full) << attempt;
  }
}

TEST(ReflectorTest, OptionalKindAbsentThenPresent) {
  constexpr char kRoutes[] = "/apis/gateway.networking.k8s.io/v1/httproutes";
  FakeTransport t;
  t.AddList(kRoutes, HttpResponse{404, R"({"kind":"Status","code":404})"});
  t.AddList(kRoutes, HttpResponse{404, R"({"kind":"Status","code":404})"});
  t.AddList(kRoutes, List({Service("r", "3")}, "3"));
  ObjectStore store(100);
  Reflector r({"httproutes", kRoutes, true}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.Synced(); }));
  ASSERT_TRUE(WaitFor([&] { return r.stats().lists.load() == 1; }));
  r.Stop();
  EXPECT_TRUE(store.Present("httproutes"));
  EXPECT_EQ(store.Count("httproutes"), 1u);
  EXPECT_EQ(r.stats().errors.load(), 0u);
}

TEST(ReflectorTest, NotOptionalKind404IsAnError) {
  FakeTransport t;
  t.AddList(kServices, HttpResponse{404, R"({"kind":"Status","message":"nope"})"});
  ObjectStore store(100);
  Reflector r({"services", kServices, false}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.stats().lists.load() == 1; }));
  r.Stop();
  EXPECT_EQ(r.stats().errors.load(), 1u);
}

TEST(ReflectorTest, ObjectCap) {
  FakeTransport t;
  t.AddList(kServices, List({Service("a", "1"), Service("b", "2")}, "2"));
  t.AddList(kServices, List({Service("a", "1")}, "3"));
  FakeWatch w;
  w.lines = {Event("ADDED", Service("c", "4")), Event("MODIFIED", Service("a", "5"))};
  t.AddWatch(kServices, w);
  ObjectStore store(1);
  Reflector r({"services", kServices, false}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.stats().events.load() == 2; }));
  r.Stop();
  EXPECT_EQ(r.stats().over_cap.load(), 2u);  // The first list, then c.
  EXPECT_EQ(Keys(store.Get("services")), (std::vector<std::string>{"default/a"}));
  EXPECT_EQ(store.Get("services")["default/a"]["metadata"]["resourceVersion"], "5");
  EXPECT_EQ(store.Total(), 1u);
}

TEST(ReflectorTest, StopCancelsABlockedWatch) {
  FakeTransport t;
  ObjectStore store(10);
  Reflector r({"services", kServices, false}, &t, &store, Fast());
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return t.Requests().size() == 2; }));
  r.Stop();  // Returns: the blocked watch saw the cancellation.
  EXPECT_TRUE(r.Synced());
}

}  // namespace
}  // namespace lb::kubernetes
