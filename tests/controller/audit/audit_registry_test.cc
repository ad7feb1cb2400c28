// The audit trail through registry::Registry over the real SqliteStore (":memory:"): each
// mutation kind records exactly one event with the right before/after, rejected mutations none,
// retention prunes by count and by age, certificates' private keys never appear.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/time/simulated_clock.h"
#include "controller/audit/audit.h"
#include "controller/audit/event_compactor.h"
#include "controller/registry/registry.h"
#include "controller/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "tests/test_common/test_certs.h"

namespace lb::audit {
namespace {

class AuditRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    registry_ = std::make_unique<registry::Registry>(store_.get(), &clock_);
    ASSERT_TRUE(registry_->Bootstrap().ok());
  }

  std::vector<lb::v1::Event> All() {
    ListOptions o;
    o.limit = kMaxListLimit;
    absl::StatusOr<std::vector<lb::v1::Event>> events = registry_->ListEvents(o);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<lb::v1::Event>{};
  }

  // The events after the last call of New().
  std::vector<lb::v1::Event> New() {
    std::vector<lb::v1::Event> all = All();
    std::vector<lb::v1::Event> out(all.begin() + static_cast<long>(seen_), all.end());
    seen_ = all.size();
    return out;
  }

  static nlohmann::json J(const std::string& s) {
    return s.empty() ? nlohmann::json() : nlohmann::json::parse(s);
  }

  static lb::v1::Endpoint Endpoint(const std::string& address, uint32_t port) {
    lb::v1::Endpoint e;
    e.set_address(address);
    e.set_port(port);
    return e;
  }

  // The registry's clock: events are dated by it. Starts at the real time, so that test
  // certificates (issued now) are valid.
  SimulatedClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<registry::Registry> registry_;
  size_t seen_ = 0;
};

TEST_F(AuditRegistryTest, BootstrapRecordsNothing) { EXPECT_TRUE(New().empty()); }

TEST_F(AuditRegistryTest, EndpointMutationsRecordOneEventEach) {
  ScopedCaller caller({kApiRestV1, "alice", "127.0.0.1:5555"});
  ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", 80)).ok());
  std::vector<lb::v1::Event> e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].api(), "rest_v1");
  EXPECT_EQ(e[0].caller(), "alice");
  EXPECT_EQ(e[0].peer(), "127.0.0.1:5555");
  EXPECT_EQ(e[0].action(), "create");
  EXPECT_EQ(e[0].kind(), "endpoint");
  EXPECT_EQ(e[0].name(), "backend/10.0.0.1:80");
  EXPECT_EQ(e[0].cluster(), "backend");
  EXPECT_EQ(e[0].operation(), "add_endpoint");
  EXPECT_EQ(e[0].before_json(), "");
  EXPECT_EQ(J(e[0].after_json())["address"], "10.0.0.1");
  EXPECT_GT(e[0].revision(), 0);
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster("backend");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(e[0].revision(), c->version());  // The mutation's own transaction.

  lb::v1::Endpoint weight;
  weight.set_weight(5);
  ASSERT_TRUE(registry_->UpdateEndpoint("backend", "10.0.0.1", 80, weight, {}, 0).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].action(), "update");
  EXPECT_EQ(e[0].operation(), "update_endpoint");
  EXPECT_EQ(J(e[0].before_json())["weight"], 1);
  EXPECT_EQ(J(e[0].after_json())["weight"], 5);

  ASSERT_TRUE(registry_->SetEndpointState("backend", "10.0.0.1", 80, lb::v1::DRAINING).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(J(e[0].before_json())["admin_state"], "ACTIVE");
  EXPECT_EQ(J(e[0].after_json())["admin_state"], "DRAINING");

  ASSERT_TRUE(registry_->RemoveEndpoint("backend", "10.0.0.1", 80).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].action(), "delete");
  EXPECT_EQ(e[0].name(), "backend/10.0.0.1:80");
  EXPECT_EQ(J(e[0].before_json())["weight"], 5);
  EXPECT_EQ(e[0].after_json(), "");
}

TEST_F(AuditRegistryTest, RejectedAndNoOpMutationsRecordNothing) {
  ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", 80)).ok());
  New();
  EXPECT_EQ(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", 80)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry_->AddEndpoint("nope", Endpoint("10.0.0.2", 80)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->AddEndpoint("backend", Endpoint("10.0.0.2", 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->RemoveEndpoint("backend", "10.0.0.9", 80).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->DeleteCluster("backend", 0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_
                ->SetEndpointState("backend", "10.0.0.1", 80, lb::v1::ACTIVE,
                                   /*expected_version=*/1)
                .status()
                .code(),
            absl::StatusCode::kAborted);
  // Already ACTIVE: nothing changes, nothing commits, nothing is recorded.
  EXPECT_TRUE(registry_->SetEndpointState("backend", "10.0.0.1", 80, lb::v1::ACTIVE).ok());
  EXPECT_TRUE(New().empty());
  EXPECT_EQ(registry_->events_recorded(), 1u);
}

TEST_F(AuditRegistryTest, ClusterAndRouteMutations) {
  ScopedCaller caller({kApiGrpc, "CN=ops", "[::1]:7"});
  lb::v1::Cluster web;
  web.set_name("web");
  *web.add_endpoints() = Endpoint("10.0.0.5", 8080);
  ASSERT_TRUE(registry_->CreateCluster(web).ok());
  std::vector<lb::v1::Event> e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].api(), "grpc");
  EXPECT_EQ(e[0].caller(), "CN=ops");
  EXPECT_EQ(e[0].action(), "create");
  EXPECT_EQ(e[0].kind(), "cluster");
  EXPECT_EQ(e[0].name(), "web");
  EXPECT_EQ(J(e[0].after_json())["endpoints"].size(), 1u);

  lb::v1::Cluster update;
  update.set_name("web");
  update.set_lb_policy(lb::v1::LEAST_REQUEST);
  google::protobuf::FieldMask mask;
  mask.add_paths("lb_policy");
  ASSERT_TRUE(registry_->UpdateCluster(update, mask, 0).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].action(), "update");
  EXPECT_EQ(e[0].kind(), "cluster");
  EXPECT_EQ(J(e[0].after_json())["lb_policy"], "LEAST_REQUEST");
  EXPECT_FALSE(J(e[0].after_json()).contains("endpoints") &&
               !J(e[0].after_json())["endpoints"].empty());

  lb::v1::Route route;
  route.set_name("api");
  route.set_path_prefix("/api");
  route.set_cluster("web");
  ASSERT_TRUE(registry_->CreateRoute(route).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind(), "route");
  EXPECT_EQ(e[0].name(), "api");
  EXPECT_EQ(e[0].action(), "create");
  EXPECT_EQ(e[0].cluster(), "");
  ASSERT_TRUE(registry_->DeleteRoute("api", 0).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].action(), "delete");
  EXPECT_EQ(J(e[0].before_json())["path_prefix"], "/api");

  ASSERT_TRUE(registry_->DeleteCluster("web", 0).ok());
  e = New();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].action(), "delete");
  EXPECT_EQ(e[0].kind(), "cluster");
  EXPECT_EQ(J(e[0].before_json())["endpoints"][0]["address"], "10.0.0.5");
}

TEST_F(AuditRegistryTest, ListFiltersByClusterSinceAndLimit) {
  lb::v1::Cluster web;
  web.set_name("web");
  ASSERT_TRUE(registry_->CreateCluster(web).ok());
  for (uint32_t port = 1; port <= 5; ++port) {
    ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", port)).ok());
  }
  ListOptions o;
  o.cluster = "web";
  absl::StatusOr<std::vector<lb::v1::Event>> web_events = registry_->ListEvents(o);
  ASSERT_TRUE(web_events.ok());
  ASSERT_EQ(web_events->size(), 1u);
  EXPECT_EQ((*web_events)[0].name(), "web");

  o.cluster = "backend";
  o.limit = 2;
  absl::StatusOr<std::vector<lb::v1::Event>> newest = registry_->ListEvents(o);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].name(), "backend/10.0.0.1:4");
  EXPECT_EQ((*newest)[1].name(), "backend/10.0.0.1:5");

  o.since = (*web_events)[0].revision();
  absl::StatusOr<std::vector<lb::v1::Event>> after = registry_->ListEvents(o);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].name(), "backend/10.0.0.1:1");
  EXPECT_EQ((*after)[1].name(), "backend/10.0.0.1:2");

  o.limit = kMaxListLimit + 1;
  EXPECT_EQ(registry_->ListEvents(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.limit = 0;
  o.since = -1;
  EXPECT_EQ(registry_->ListEvents(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditRegistryTest, CertificatePrivateKeyIsNeverRecorded) {
  absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create();
  ASSERT_TRUE(ca.ok()) << ca.status();
  testing::CertOptions options;
  options.common_name = "a.example";
  options.dns_names = {"a.example"};
  absl::StatusOr<testing::TestCert> pem = ca->Issue(options);
  ASSERT_TRUE(pem.ok()) << pem.status();
  lb::v1::Certificate cert;
  cert.set_name("a");
  cert.set_cert_chain(pem->chain_pem);
  cert.set_private_key(pem->key_pem);
  ASSERT_TRUE(registry_->CreateCertificate(cert).ok());
  cert.set_default_(true);
  ASSERT_TRUE(registry_->UpdateCertificate(cert, 0).ok());
  ASSERT_TRUE(registry_->DeleteCertificate("a", 0).ok());
  std::vector<lb::v1::Event> e = New();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].action(), "create");
  EXPECT_EQ(e[1].action(), "update");
  EXPECT_EQ(e[2].action(), "delete");
  for (const lb::v1::Event& event : e) {
    EXPECT_EQ(event.kind(), "certificate");
    EXPECT_EQ(event.name(), "a");
    EXPECT_FALSE(absl::StrContains(event.DebugString(), "PRIVATE KEY")) << event.DebugString();
  }
  EXPECT_EQ(J(e[1].after_json())["default"], true);
  // Nor in the raw stored values.
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store_->List(kEventPrefix);
  ASSERT_TRUE(kvs.ok());
  for (const store::KeyValue& kv : *kvs) {
    EXPECT_FALSE(absl::StrContains(kv.value, "PRIVATE KEY"));
    EXPECT_FALSE(absl::StrContains(kv.value, pem->key_pem.substr(40, 40)));
  }
}

TEST_F(AuditRegistryTest, RetentionPrunesByCountAndByAge) {
  for (uint32_t port = 1; port <= 12; ++port) {
    ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", port)).ok());
    // Keys order events by time, then at random (docs/audit.md "Keys"): one tick apart.
    clock_.Advance(absl::Milliseconds(1));
  }
  Retention r;
  r.max_events = 10;
  r.max_age = absl::Hours(1);
  absl::StatusOr<int64_t> pruned = Prune(store_.get(), r, clock_.Now());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  std::vector<lb::v1::Event> left = All();
  ASSERT_EQ(left.size(), 10u);
  EXPECT_EQ(left.front().name(), "backend/10.0.0.1:3");  // The oldest went first.
  EXPECT_EQ(left.back().name(), "backend/10.0.0.1:12");
  // Again: nothing more to prune.
  pruned = Prune(store_.get(), r, clock_.Now());
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 0);
  // Two hours later every event is older than max_age.
  pruned = Prune(store_.get(), r, clock_.Now() + absl::Hours(2));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 10);
  EXPECT_TRUE(All().empty());
}

TEST_F(AuditRegistryTest, EventsAreDatedByTheRegistrysClock) {
  const absl::Time first = clock_.Now();
  ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", 1)).ok());
  clock_.Advance(absl::Minutes(90));
  ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", 2)).ok());
  std::vector<lb::v1::Event> e = New();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].time().seconds(), absl::ToUnixSeconds(first));
  EXPECT_EQ(e[1].time().seconds(), absl::ToUnixSeconds(first + absl::Minutes(90)));
  // An hour's retention on that clock keeps exactly the newer one.
  Retention r;
  r.max_age = absl::Hours(1);
  absl::StatusOr<int64_t> pruned = Prune(store_.get(), r, clock_.Now());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  std::vector<lb::v1::Event> left = All();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].name(), "backend/10.0.0.1:2");
}

TEST_F(AuditRegistryTest, CertificateValidityIsJudgedOnTheRegistrysClock) {
  absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create();
  ASSERT_TRUE(ca.ok()) << ca.status();
  testing::CertOptions options;
  options.common_name = "a.example";
  options.dns_names = {"a.example"};
  options.not_after = absl::Hours(24);
  absl::StatusOr<testing::TestCert> pem = ca->Issue(options);
  ASSERT_TRUE(pem.ok()) << pem.status();
  lb::v1::Certificate cert;
  cert.set_name("a");
  cert.set_cert_chain(pem->chain_pem);
  cert.set_private_key(pem->key_pem);
  clock_.Advance(absl::Hours(48));  // Valid in real time, expired on the registry's clock.
  absl::StatusOr<lb::v1::Certificate> created = registry_->CreateCertificate(cert);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
  EXPECT_TRUE(New().empty());
}

TEST_F(AuditRegistryTest, CompactorCountsPruned) {
  for (uint32_t port = 1; port <= 3; ++port) {
    ASSERT_TRUE(registry_->AddEndpoint("backend", Endpoint("10.0.0.1", port)).ok());
  }
  EventCompactor::Options o;
  o.retention.max_events = 1;
  EventCompactor compactor(store_.get(), Clock::Real(), o);
  ASSERT_TRUE(compactor.RunOnce().ok());
  EXPECT_EQ(compactor.stats().pruned, 2u);
  EXPECT_EQ(compactor.stats().rounds, 1u);
  EXPECT_EQ(All().size(), 1u);
}

TEST(RetentionTest, ValidateRejectsOutOfRange) {
  Retention r;
  EXPECT_TRUE(ValidateRetention(r).ok());
  r.max_events = 0;
  EXPECT_EQ(ValidateRetention(r).message(), "--audit_max_events must be 1 to 10000000, got 0");
  r.max_events = -5;
  EXPECT_EQ(ValidateRetention(r).code(), absl::StatusCode::kInvalidArgument);
  r = Retention();
  r.max_age = absl::Seconds(-1);
  EXPECT_EQ(ValidateRetention(r).message(),
            "--audit_max_age must be 1m to 87672h (10 years), got -1s");
  r.max_age = absl::Hours(24 * 3653 + 1);
  EXPECT_EQ(ValidateRetention(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CallerTest, ScopedCallerNestsAndRestores) {
  EXPECT_EQ(CurrentCaller(), nullptr);
  {
    ScopedCaller outer({kApiRestConfig, "token", ""});
    EXPECT_EQ(CurrentCaller()->api, "rest_config");
    {
      ScopedCaller inner({kApiGrpc, "x", ""});
      EXPECT_EQ(CurrentCaller()->api, "grpc");
    }
    EXPECT_EQ(CurrentCaller()->identity, "token");
  }
  EXPECT_EQ(CurrentCaller(), nullptr);
  EXPECT_EQ(Identity("CN=a", "tok"), "CN=a");
  EXPECT_EQ(Identity("", "tok"), "tok");
  EXPECT_EQ(Identity("", ""), "anonymous");
}

}  // namespace
}  // namespace lb::audit
