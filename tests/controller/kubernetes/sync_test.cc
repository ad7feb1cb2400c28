// The sync end to end with a scripted Transport (no network) into a registry on SQLite in a
// temporary directory: first apply after every kind is listed, endpoint diffs that never leave a
// cluster without a live endpoint, deletion of owned objects, manual objects untouched, the 409
// owner rule for API writes, status patches only when they change, and /metrics.
//
// The translation is a small stand-in (TestTranslate) so this test checks the sync alone; the
// real Translate has its own tests.
#include "controller/kubernetes/sync.h"

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/metrics/metrics.h"
#include "controller/registry/registry.h"
#include "controller/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "tests/controller/kubernetes/fake_transport.h"

namespace lb::kubernetes {
namespace {

using testing::FakeTransport;
using testing::FakeWatch;

constexpr char kServices[] = "/api/v1/services";

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

// A Service whose annotation "eps" lists endpoints "IP:PORT:ready|draining" separated by ' '.
std::string Service(const std::string& name, const std::string& rv, const std::string& eps) {
  return absl::StrCat(R"({"metadata":{"namespace":"default","name":")", name,
                      R"(","resourceVersion":")", rv, R"(","annotations":{"eps":")", eps,
                      R"("}}})");
}

std::string Event(const std::string& type, const std::string& object) {
  return absl::StrCat(R"({"type":")", type, R"(","object":)", object, "}");
}

// Service default/NAME -> cluster default.NAME.80 with its endpoints, a route /NAME to it, and a
// status write naming the endpoint count. Service "clash" asks for cluster "manual".
DesiredState TestTranslate(const ObjectSnapshot& s, const TranslateOptions&) {
  DesiredState d;
  for (const auto& [key, svc] : s.services) {
    const std::string name = svc["metadata"]["name"].get<std::string>();
    lb::v1::Cluster c;
    c.set_name(name == "clash" ? "manual" : absl::StrCat("default.", name, ".80"));
    c.set_owner(kOwner);
    int n = 0;
    for (absl::string_view ep : absl::StrSplit(
             svc["metadata"]["annotations"]["eps"].get<std::string>(), ' ', absl::SkipEmpty())) {
      std::vector<std::string> parts = absl::StrSplit(ep, ':');
      lb::v1::Endpoint* e = c.add_endpoints();
      e->set_address(parts[0]);
      e->set_port(static_cast<uint32_t>(std::stoi(parts[1])));
      e->set_admin_state(parts[2] == "ready" ? lb::v1::ACTIVE : lb::v1::DRAINING);
      ++n;
    }
    lb::v1::Route r;
    r.set_name(absl::StrCat("k8s.service.default.", name, ".0"));
    r.set_path_prefix(absl::StrCat("/", name));
    r.set_cluster(c.name());
    r.set_owner(kOwner);
    d.clusters.push_back(std::move(c));
    if (name != "clash") d.routes.push_back(std::move(r));
    d.status_writes.push_back({"ingresses", "default", name, {{"status", {{"endpoints", n}}}}});
  }
  return d;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/sync_test_",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db"));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    api_ = std::make_unique<registry::Registry>(store_.get());
    options_.translate_fn = TestTranslate;
    options_.debounce = absl::Milliseconds(1);
    options_.reflector.backoff_initial = absl::Milliseconds(1);
    options_.reflector.backoff_max = absl::Milliseconds(4);
    options_.reflector.seed = 3;
  }

  lb::v1::Cluster Cluster(const std::string& name) {
    absl::StatusOr<lb::v1::Cluster> c = api_->GetCluster(name);
    return c.ok() ? *c : lb::v1::Cluster();
  }
  // "address:port:STATE ..." of a cluster, in the registry's order; "" when missing.
  std::string Endpoints(const std::string& name) {
    std::string out;
    for (const auto& e : Cluster(name).endpoints()) {
      absl::StrAppend(&out, out.empty() ? "" : " ", e.address(), ":", e.port(), ":",
                      lb::v1::AdminState_Name(e.admin_state()));
    }
    return out;
  }
  std::vector<std::string> RouteNames() {
    std::vector<std::string> names;
    absl::StatusOr<lb::v1::RouteTable> t = api_->GetRouteTable();
    if (t.ok()) {
      for (const auto& r : t->routes()) names.push_back(r.name());
    }
    return names;
  }

  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<registry::Registry> api_;  // Writer "": the API's registry.
  SyncOptions options_;
  FakeTransport transport_;
};

TEST_F(SyncTest, FollowsTheClusterAndKeepsManualObjects) {
  lb::v1::Cluster manual;
  manual.set_name("manual");
  manual.add_endpoints()->set_address("192.0.2.1");
  manual.mutable_endpoints(0)->set_port(8080);
  ASSERT_TRUE(api_->CreateCluster(manual).ok());
  lb::v1::Route manual_route;
  manual_route.set_name("manual");
  manual_route.set_path_prefix("/manual");
  manual_route.set_cluster("manual");
  ASSERT_TRUE(api_->CreateRoute(manual_route).ok());

  transport_.AddList(
      kServices,
      HttpResponse{200,
                   absl::StrCat(R"({"metadata":{"resourceVersion":"5"},"items":[)",
                                Service("web", "5", "10.0.0.1:80:ready 10.0.0.2:80:ready"), "]}")});
  absl::Notification roll, remove;
  FakeWatch w1;
  w1.gate = &roll;
  // A rolling update: a new pod ready, an old one terminating; then the old one gone.
  w1.lines = {Event(
      "MODIFIED", Service("web", "6", "10.0.0.2:80:ready 10.0.0.3:80:ready 10.0.0.1:80:draining"))};
  transport_.AddWatch(kServices, w1);
  FakeWatch w2;
  w2.gate = &remove;
  w2.lines = {Event("MODIFIED", Service("web", "7", "10.0.0.2:80:ready 10.0.0.3:80:ready")),
              Event("BOOKMARK", R"({"metadata":{"resourceVersion":"8"}})"),
              Event("DELETED", Service("web", "9", ""))};
  transport_.AddWatch(kServices, w2);

  // Every committed state of the owned cluster keeps at least one ACTIVE endpoint.
  absl::Mutex mu;
  int states = 0, without_active = 0;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      api_->Watch([&](const lb::v1::Change& change) {
        if (!change.has_cluster() || change.cluster().name() != "default.web.80") return;
        int active = 0;
        for (const auto& e : change.cluster().endpoints())
          active += e.admin_state() == lb::v1::ACTIVE;
        absl::MutexLock lock(&mu);
        ++states;
        without_active += active == 0 && change.cluster().endpoints_size() > 0 ? 1 : 0;
      });
  ASSERT_TRUE(watch.ok()) << watch.status();

  metrics::Registry metrics;
  Sync sync(&transport_, store_.get(), &metrics, options_);
  sync.Start();
  ASSERT_TRUE(WaitFor([&] {
    return Endpoints("default.web.80") == "10.0.0.1:80:ACTIVE 10.0.0.2:80:ACTIVE";
  })) << Endpoints("default.web.80");
  ASSERT_TRUE(WaitFor([&] { return RouteNames().size() == 2; }));
  EXPECT_EQ(RouteNames(), (std::vector<std::string>{"manual", "k8s.service.default.web.0"}));
  EXPECT_EQ(Cluster("default.web.80").owner(), "kubernetes");

  // The API cannot change what Kubernetes owns: 409 naming the owner, state unchanged.
  const std::string owned_msg =
      "cluster \"default.web.80\" is owned by kubernetes; change it in Kubernetes";
  lb::v1::Cluster update = Cluster("default.web.80");
  update.clear_endpoints();
  update.mutable_retries()->set_value(5);
  EXPECT_EQ(api_->UpdateCluster(update, 0).status(), absl::FailedPreconditionError(owned_msg));
  lb::v1::Endpoint extra;
  extra.set_address("10.9.9.9");
  extra.set_port(80);
  EXPECT_EQ(api_->AddEndpoint("default.web.80", extra).status(),
            absl::FailedPreconditionError(owned_msg));
  EXPECT_EQ(api_->RemoveEndpoint("default.web.80", "10.0.0.1", 80).status(),
            absl::FailedPreconditionError(owned_msg));
  EXPECT_EQ(
      api_->DeleteRoute("k8s.service.default.web.0", 0).status(),
      absl::FailedPreconditionError(
          "route \"k8s.service.default.web.0\" is owned by kubernetes; change it in Kubernetes"));
  lb::v1::Cluster fake_owned;
  fake_owned.set_name("sneaky");
  fake_owned.set_owner("kubernetes");
  EXPECT_EQ(api_->CreateCluster(fake_owned).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Endpoints("default.web.80"), "10.0.0.1:80:ACTIVE 10.0.0.2:80:ACTIVE");

  roll.Notify();
  ASSERT_TRUE(WaitFor([&] {
    return Endpoints("default.web.80") ==
           "10.0.0.1:80:DRAINING 10.0.0.2:80:ACTIVE 10.0.0.3:80:ACTIVE";
  })) << Endpoints("default.web.80");
  remove.Notify();
  ASSERT_TRUE(WaitFor([&] { return !api_->GetCluster("default.web.80").ok(); }));
  EXPECT_EQ(api_->GetCluster("default.web.80").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RouteNames(), (std::vector<std::string>{"manual"}));
  EXPECT_EQ(Endpoints("manual"), "192.0.2.1:8080:ACTIVE");
  sync.Stop();
  {
    absl::MutexLock lock(&mu);
    EXPECT_GE(states, 3);
    EXPECT_EQ(without_active, 0);
  }
  // One status patch per distinct status.
  const auto patches = transport_.Patches();
  ASSERT_FALSE(patches.empty());
  EXPECT_EQ(patches[0].first, "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status");
  EXPECT_EQ(patches[0].second, R"({"status":{"endpoints":2}})");
  for (size_t i = 1; i < patches.size(); ++i) EXPECT_NE(patches[i].second, patches[i - 1].second);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("lb_kubernetes_objects{kind=\"services\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("lb_kubernetes_lists_total{kind=\"httproutes\"} 1"), std::string::npos);
  EXPECT_NE(text.find("lb_kubernetes_sync_applies_total"), std::string::npos);
  EXPECT_NE(text.find("lb_kubernetes_last_sync_timestamp_seconds"), std::string::npos);
}

TEST_F(SyncTest, NeverTouchesAManualClusterOfTheSameName) {
  lb::v1::Cluster manual;
  manual.set_name("manual");
  manual.add_endpoints()->set_address("192.0.2.1");
  manual.mutable_endpoints(0)->set_port(8080);
  ASSERT_TRUE(api_->CreateCluster(manual).ok());
  transport_.AddList(
      kServices, HttpResponse{200, absl::StrCat(R"({"metadata":{"resourceVersion":"5"},"items":[)",
                                                Service("clash", "5", "10.0.0.1:80:ready"), "]}")});
  metrics::Registry metrics;
  Sync sync(&transport_, store_.get(), &metrics, options_);
  // Before the reflectors have listed, SyncOnce refuses (nothing is deleted for want of a list).
  EXPECT_EQ(sync.SyncOnce().status().code(), absl::StatusCode::kUnavailable);
  sync.Start();
  ASSERT_TRUE(WaitFor([&] { return sync.applies() >= 1; }));
  sync.Stop();
  absl::StatusOr<ApplyStats> stats = sync.SyncOnce();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->errors, 1);
  EXPECT_EQ(stats->writes, 0);
  EXPECT_EQ(Endpoints("manual"), "192.0.2.1:8080:ACTIVE");
  EXPECT_EQ(Cluster("manual").owner(), "");
}

}  // namespace
}  // namespace lb::kubernetes
