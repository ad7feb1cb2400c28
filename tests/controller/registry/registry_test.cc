// Tests of registry::Registry, the controller's one mutation path, over the real SqliteStore
// (":memory:") and over FakeStore for conflicts and storage errors.
#include "controller/registry/registry.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net/address.h"
#include "controller/model/validation.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/test_common/fake_store.h"
#include "tests/test_common/text_proto.h"

namespace lb::registry {
namespace {

using ::lb::testing::ParseTextProto;

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr absl::Duration kWait = absl::Seconds(10);

void ExpectProtoEq(const google::protobuf::Message& actual, const std::string& expected_text) {
  std::unique_ptr<google::protobuf::Message> expected(actual.New());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(expected_text, expected.get()))
      << expected_text;
  EXPECT_TRUE(MessageDifferencer::Equals(actual, *expected))
      << "actual:\n"
      << actual.DebugString() << "expected:\n"
      << expected->DebugString();
}

lb::v1::Endpoint Ep(const std::string& address, uint32_t port) {
  lb::v1::Endpoint e;
  e.set_address(address);
  e.set_port(port);
  return e;
}

lb::v1::Cluster NamedCluster(const std::string& name) {
  lb::v1::Cluster c;
  c.set_name(name);
  return c;
}

lb::v1::Route MakeRoute(const std::string& name, const std::string& cluster,
                        const std::string& path_prefix = "/") {
  lb::v1::Route r;
  r.set_name(name);
  r.set_cluster(cluster);
  r.set_path_prefix(path_prefix);
  return r;
}

// The backend cluster as Bootstrap writes it (without version).
constexpr char kBootstrapBackend[] = R"pb(
  name: "backend"
  lb_policy: RANDOM
  health_check {
    interval { seconds: 5 }
    timeout { seconds: 1 }
    healthy_threshold: 2
    unhealthy_threshold: 3
  }
  outlier_detection {
    consecutive_5xx: 5
    consecutive_gateway_failure: 5
    interval { seconds: 10 }
    base_ejection_time { seconds: 30 }
    max_ejection_percent: 50
  }
  connect_timeout { seconds: 1 }
  retries { value: 2 }
  healthy_panic_threshold { value: 50 }
  circuit_breakers {
    max_connections: 1024
    max_pending_requests: 1024
    max_requests: 1024
    max_retries: 3
  }
  protocol: HTTP1
)pb";

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    registry_ = std::make_unique<Registry>(store_.get());
  }

  int64_t Revision() {
    absl::StatusOr<int64_t> rev = store_->CurrentRevision();
    EXPECT_TRUE(rev.ok()) << rev.status();
    return rev.ok() ? *rev : -1;
  }

  lb::v1::Cluster MustGet(const std::string& name) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(name);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : lb::v1::Cluster();
  }

  lb::v1::RouteTable MustRoutes() {
    absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : lb::v1::RouteTable();
  }

  lb::v1::Cluster MustCreate(const std::string& name) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->CreateCluster(NamedCluster(name));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : lb::v1::Cluster();
  }

  lb::v1::Cluster MustAdd(const std::string& cluster, const std::string& address, uint32_t port) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint(cluster, Ep(address, port));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : lb::v1::Cluster();
  }

  // Everything the registry exposes plus the store revision, to assert "state unchanged".
  std::string State() {
    std::string out = absl::StrCat("revision ", Revision(), "\n");
    absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
    EXPECT_TRUE(cs.ok()) << cs.status();
    if (cs.ok()) {
      for (const auto& c : *cs) absl::StrAppend(&out, "cluster ", c.ShortDebugString(), "\n");
    }
    absl::StrAppend(&out, "routes ", MustRoutes().ShortDebugString(), "\n");
    return out;
  }

  std::vector<std::string> HostPorts(const std::string& cluster) {
    std::vector<std::string> out;
    lb::v1::Cluster c = MustGet(cluster);
    for (const auto& e : c.endpoints()) {
      out.push_back(net::JoinHostPort(e.address(), e.port()));
    }
    return out;
  }

  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Registry> registry_;
};

// ---------------------------------------------------------------------------------------------
// Bootstrap

TEST_F(RegistryTest, BootstrapWritesBackendAndDefaultRouteInOneRevision) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  EXPECT_EQ(Revision(), 1);
  lb::v1::Cluster expected = ParseTextProto<lb::v1::Cluster>(kBootstrapBackend);
  expected.set_version(1);
  EXPECT_TRUE(MessageDifferencer::Equals(MustGet("backend"), expected))
      << MustGet("backend").DebugString();
  ExpectProtoEq(MustRoutes(), R"pb(
    name: "default"
    routes { name: "default" host: "*" path_prefix: "/" cluster: "backend" hosts: "*" }
    version: 1
  )pb");
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(cs->size(), 1u);
  absl::StatusOr<std::optional<store::KeyValue>> marker = store_->Get(kBootstrapKey);
  ASSERT_TRUE(marker.ok());
  EXPECT_TRUE(marker->has_value());
}

TEST_F(RegistryTest, BootstrapTwiceChangesNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::string before = State();
  ASSERT_TRUE(registry_->Bootstrap().ok());
  Registry second(store_.get());  // A restart over the same store.
  ASSERT_TRUE(second.Bootstrap().ok());
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, BootstrapDoesNotRecreateDeletedBackend) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  ASSERT_TRUE(registry_->DeleteRoute("default", 0).ok());
  ASSERT_TRUE(registry_->DeleteCluster("backend", 0).ok());
  std::string before = State();

  Registry restarted(store_.get());
  ASSERT_TRUE(restarted.Bootstrap().ok());
  ASSERT_TRUE(restarted.Bootstrap().ok());
  EXPECT_EQ(State(), before);
  absl::StatusOr<lb::v1::Cluster> backend = restarted.GetCluster("backend");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend.status().message(), "cluster \"backend\" not found");
  absl::StatusOr<lb::v1::RouteTable> routes = restarted.GetRouteTable();
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(routes->routes_size(), 0);
}

TEST_F(RegistryTest, BootstrapKeepsDataThatPredatesTheMarker) {
  // A store written before the marker existed (or by another replica mid-bootstrap).
  lb::v1::Cluster old = NamedCluster("backend");
  ASSERT_TRUE(model::NormalizeCluster(&old).ok());
  *old.add_endpoints() = Ep("10.0.0.1", 80);
  ASSERT_TRUE(store_->Txn({}, {store::Op::Put("clusters/backend", old.SerializeAsString())}).ok());

  ASSERT_TRUE(registry_->Bootstrap().ok());
  // Revision 2 moved the embedded endpoint to its own key, 3 wrote the marker.
  EXPECT_EQ(Revision(), 3);
  EXPECT_THAT(HostPorts("backend"), ElementsAre("10.0.0.1:80"));
  EXPECT_EQ(MustGet("backend").version(), 2);
  EXPECT_EQ(MustRoutes().routes_size(), 0);
  absl::StatusOr<std::optional<store::KeyValue>> marker = store_->Get(kBootstrapKey);
  ASSERT_TRUE(marker.ok());
  ASSERT_TRUE(marker->has_value());
  EXPECT_EQ((*marker)->mod_revision, 3);
  // And it is now done for good.
  ASSERT_TRUE(registry_->Bootstrap().ok());
  EXPECT_EQ(Revision(), 3);
}

// ---------------------------------------------------------------------------------------------
// Per-endpoint keys

std::vector<std::string> StoreKeys(store::Store* store, const std::string& prefix) {
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store->List(prefix);
  EXPECT_TRUE(kvs.ok()) << kvs.status();
  std::vector<std::string> out;
  if (kvs.ok()) {
    for (const auto& kv : *kvs) out.push_back(kv.key);
  }
  return out;
}

TEST_F(RegistryTest, EachEndpointIsItsOwnKeyAndAnAddWritesTwoSmallKeys) {
  MustCreate("web");
  std::vector<store::Event> last;
  absl::Mutex mu;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      store_->Watch("", Revision(), [&](const std::vector<store::Event>& events) {
        absl::MutexLock lock(&mu);
        last = events;
      });
  ASSERT_TRUE(watch.ok());
  size_t first_add_bytes = 0;
  for (int i = 1; i <= 200; ++i) {
    const int64_t before = Revision();
    ASSERT_TRUE(
        registry_->AddEndpoint("web", Ep(absl::StrCat("10.0.", i / 256, ".", i % 256), 80)).ok());
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(
                                +[](std::vector<store::Event>* l) { return !l->empty(); }, &last),
                            kWait));
    // One transaction: the endpoint's key, the cluster's settings key and the change's audit
    // event (docs/audit.md), nothing else.
    ASSERT_EQ(last.size(), 3u);
    EXPECT_EQ(last[0].kv.mod_revision, before + 1);
    size_t bytes = 0;
    for (const store::Event& e : last) bytes += e.kv.key.size() + e.kv.value.size();
    if (i == 1) first_add_bytes = bytes;
    // The same size at 1 and at 200 endpoints (addresses differ by a byte or two, in the key,
    // the value and the event's name and JSON).
    EXPECT_LE(bytes, first_add_bytes + 16) << i;
    last.clear();
  }
  EXPECT_EQ(StoreKeys(store_.get(), EndpointPrefix("web")).size(), 200u);
  EXPECT_EQ(MustGet("web").endpoints_size(), 200);
  EXPECT_EQ(MustGet("web").version(), Revision());
}

TEST_F(RegistryTest, EndpointWritesCompareTheClusterVersion) {
  MustCreate("web");
  absl::StatusOr<lb::v1::Cluster> added = registry_->AddEndpoint("web", Ep("10.0.0.1", 80));
  ASSERT_TRUE(added.ok());
  const int64_t v1 = added->version();
  // Another endpoint's change moves the cluster's version: a write at the old one fails.
  added = registry_->AddEndpoint("web", Ep("10.0.0.2", 80), v1);
  ASSERT_TRUE(added.ok());
  absl::StatusOr<lb::v1::Cluster> stale =
      registry_->SetEndpointState("web", "10.0.0.1", 80, lb::v1::DRAINING, v1);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  int64_t version = 0;
  absl::StatusOr<lb::v1::Endpoint> e = registry_->GetEndpoint("web", "10.0.0.2", 80, &version);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(version, added->version());
  // A no-op changes nothing, a removal deletes the key.
  const int64_t revision = Revision();
  ASSERT_TRUE(registry_->SetEndpointState("web", "10.0.0.1", 80, lb::v1::ACTIVE, 0).ok());
  EXPECT_EQ(Revision(), revision);
  ASSERT_TRUE(registry_->RemoveEndpoint("web", "10.0.0.1", 80, added->version()).ok());
  EXPECT_THAT(StoreKeys(store_.get(), EndpointPrefix("web")),
              ElementsAre("clusters/web/endpoints/10.0.0.2:80"));
  // An update of the settings keeps the endpoint keys untouched.
  const int64_t created = (*store_->Get(EndpointKey("web", "10.0.0.2", 80)))->mod_revision;
  lb::v1::Cluster settings = NamedCluster("web");
  settings.set_lb_policy(lb::v1::ROUND_ROBIN);
  absl::StatusOr<lb::v1::Cluster> updated = registry_->UpdateCluster(settings, 0);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->endpoints_size(), 1);
  EXPECT_EQ((*store_->Get(EndpointKey("web", "10.0.0.2", 80)))->mod_revision, created);
  // A cluster with a name that extends this one's is a different cluster.
  MustCreate("web-2");
  ASSERT_TRUE(registry_->AddEndpoint("web-2", Ep("10.0.0.9", 80)).ok());
  EXPECT_EQ(MustGet("web").endpoints_size(), 1);
  // Delete removes the endpoint keys in the same transaction.
  ASSERT_TRUE(registry_->DeleteCluster("web", 0).ok());
  EXPECT_THAT(StoreKeys(store_.get(), "clusters/web/"), ::testing::IsEmpty());
  EXPECT_EQ(MustGet("web-2").endpoints_size(), 1);
  // Re-created empty.
  MustCreate("web");
  EXPECT_EQ(MustGet("web").endpoints_size(), 0);
}

TEST_F(RegistryTest, BootstrapReportsStoreErrors) {
  testing::FakeStore fake(store_.get());
  Registry registry(&fake);
  fake.FailGet(absl::UnavailableError("disk on fire"));
  absl::Status s = registry.Bootstrap();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "disk on fire");
  fake.FailGet(absl::OkStatus());
  fake.FailTxn(absl::InternalError("io error"));
  s = registry.Bootstrap();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "io error");
  EXPECT_EQ(Revision(), 0);
}

TEST(ClusterKeyTest, Layout) {
  EXPECT_EQ(ClusterKey("web"), "clusters/web");
  EXPECT_EQ(EndpointPrefix("web"), "clusters/web/endpoints/");
  EXPECT_EQ(EndpointKey("web", "10.0.0.1", 80), "clusters/web/endpoints/10.0.0.1:80");
  EXPECT_EQ(EndpointKey("web", "::1", 80), "clusters/web/endpoints/[::1]:80");
}

// ---------------------------------------------------------------------------------------------
// Versions

TEST_F(RegistryTest, EveryChangeBumpsOnlyTheTouchedClusterVersion) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  lb::v1::Cluster web = MustCreate("web");
  lb::v1::Cluster api = MustCreate("api");
  EXPECT_EQ(web.version(), 2);
  EXPECT_EQ(api.version(), 3);
  const int64_t backend_version = MustGet("backend").version();
  const int64_t routes_version = MustRoutes().version();

  lb::v1::Cluster added = MustAdd("web", "10.0.0.1", 80);
  EXPECT_EQ(added.version(), 4);
  EXPECT_EQ(MustGet("web").version(), 4);
  EXPECT_EQ(MustGet("api").version(), 3);
  EXPECT_EQ(MustGet("backend").version(), backend_version);
  EXPECT_EQ(MustRoutes().version(), routes_version);

  absl::StatusOr<lb::v1::Cluster> drained =
      registry_->SetEndpointState("web", "10.0.0.1", 80, lb::v1::DRAINING);
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(drained->version(), 5);
  lb::v1::Cluster update = NamedCluster("api");
  update.set_lb_policy(lb::v1::ROUND_ROBIN);
  absl::StatusOr<lb::v1::Cluster> updated = registry_->UpdateCluster(update, 0);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 6);
  EXPECT_EQ(MustGet("web").version(), 5);
  absl::StatusOr<lb::v1::Cluster> removed = registry_->RemoveEndpoint("web", "10.0.0.1", 80);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->version(), 7);
  EXPECT_EQ(MustGet("api").version(), 6);
  EXPECT_EQ(MustGet("backend").version(), backend_version);
  EXPECT_EQ(MustRoutes().version(), routes_version);
}

TEST_F(RegistryTest, RouteChangesBumpOnlyTheRouteTableVersion) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustCreate("web");
  const int64_t web_version = MustGet("web").version();
  const int64_t backend_version = MustGet("backend").version();

  absl::StatusOr<lb::v1::RouteTable> t = registry_->CreateRoute(MakeRoute("api", "web", "/api"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->version(), 3);
  EXPECT_EQ(MustRoutes().version(), 3);
  t = registry_->UpdateRoute(MakeRoute("api", "backend", "/api/v2"), 3);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->version(), 4);
  t = registry_->DeleteRoute("api", 4);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->version(), 5);
  EXPECT_EQ(MustGet("web").version(), web_version);
  EXPECT_EQ(MustGet("backend").version(), backend_version);
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST_F(RegistryTest, AddEndpointNormalizesAndKeepsInsertionOrder) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "127.0.0.1", 1112);
  MustAdd("backend", "Web.Internal.", 80);
  lb::v1::Endpoint e = Ep("::FFFF:1.2.3.4", 443);
  e.set_weight(7);
  e.set_zone("z1");
  (*e.mutable_labels())["app"] = "web";
  e.add_resolved_addresses("9.9.9.9");  // Output only: dropped.
  absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint("backend", e);
  ASSERT_TRUE(c.ok()) << c.status();
  MustAdd("backend", "127.0.0.1", 1111);
  lb::v1::Cluster expected = ParseTextProto<lb::v1::Cluster>(kBootstrapBackend);
  expected.set_version(5);
  *expected.add_endpoints() = ParseTextProto<lb::v1::Endpoint>(
      R"pb(address: "127.0.0.1" port: 1112 weight: 1 admin_state: ACTIVE)pb");
  *expected.add_endpoints() = ParseTextProto<lb::v1::Endpoint>(
      R"pb(address: "web.internal" port: 80 weight: 1 admin_state: ACTIVE)pb");
  *expected.add_endpoints() = ParseTextProto<lb::v1::Endpoint>(R"pb(
    address: "::ffff:1.2.3.4"
    port: 443
    weight: 7
    zone: "z1"
    labels { key: "app" value: "web" }
    admin_state: ACTIVE
  )pb");
  *expected.add_endpoints() = ParseTextProto<lb::v1::Endpoint>(
      R"pb(address: "127.0.0.1" port: 1111 weight: 1 admin_state: ACTIVE)pb");
  lb::v1::Cluster got = MustGet("backend");
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected)) << got.DebugString();
  EXPECT_THAT(HostPorts("backend"), ElementsAre("127.0.0.1:1112", "web.internal:80",
                                                "[::ffff:1.2.3.4]:443", "127.0.0.1:1111"));
}

TEST_F(RegistryTest, AddEndpointDuplicateIsAlreadyExistsAndChangesNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "10.0.0.1", 80);
  MustAdd("backend", "::ffff:1.2.3.4", 80);
  MustAdd("backend", "web.internal", 80);
  std::string before = State();

  absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.status().message(), "endpoint 10.0.0.1:80 already exists in cluster \"backend\"");
  // Other spellings of the same endpoint.
  c = registry_->AddEndpoint("backend", Ep("::FFFF:1.2.3.4", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.status().message(),
            "endpoint [::ffff:1.2.3.4]:80 already exists in cluster \"backend\"");
  c = registry_->AddEndpoint("backend", Ep("WEB.internal.", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.status().message(), "endpoint web.internal:80 already exists in cluster \"backend\"");
  // A different weight does not make it a different endpoint.
  lb::v1::Endpoint heavier = Ep("10.0.0.1", 80);
  heavier.set_weight(5);
  c = registry_->AddEndpoint("backend", heavier);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, AddEndpointInvalidChangesNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "10.0.0.1", 80);
  std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint("backend", Ep("10.0.0.2", 0));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "endpoint.port: must be from 1 to 65535, got 0");
  lb::v1::Endpoint e = Ep("1.2.3.999", 70000);
  e.set_weight(10001);
  c = registry_->AddEndpoint("backend", e);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "endpoint.address: \"1.2.3.999\" is neither an IP address nor a hostname; "
            "endpoint.port: must be from 1 to 65535, got 70000; "
            "endpoint.weight: must be from 1 to 10000, got 10001");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, AddEndpointWithNonUtf8ZoneIsRejected) {
  // proto3 strings must be UTF-8: a stored cluster holding "\xff" no longer parses, so the
  // cluster would become unreadable ("stored cluster ... is corrupt").
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::string before = State();
  lb::v1::Endpoint e = Ep("10.0.0.1", 80);
  e.set_zone("\xff");
  absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint("backend", e);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "endpoint.zone: must be at most 128 printable characters");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, AddEndpointToMissingClusterIsNotFound) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint("nope", Ep("10.0.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "cluster \"nope\" not found");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, AddEndpointToFullClusterIsFailedPrecondition) {
  lb::v1::Cluster big = NamedCluster("big");
  for (uint32_t i = 0; i < model::kMaxEndpointsPerCluster; ++i) {
    *big.add_endpoints() =
        Ep(absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256), 80);
  }
  absl::StatusOr<lb::v1::Cluster> created = registry_->CreateCluster(big);
  ASSERT_TRUE(created.ok()) << created.status();
  std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint("big", Ep("10.200.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.status().message(), "cluster \"big\" already has 10000 endpoints");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, RemoveEndpoint) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "127.0.0.1", 1111);
  MustAdd("backend", "web.internal", 80);
  MustAdd("backend", "127.0.0.1", 1112);
  MustAdd("backend", "::1", 80);

  // Any spelling of the address identifies the endpoint.
  absl::StatusOr<lb::v1::Cluster> c = registry_->RemoveEndpoint("backend", "WEB.Internal.", 80);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->endpoints_size(), 3);
  c = registry_->RemoveEndpoint("backend", "0:0:0:0:0:0:0:1", 80);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(HostPorts("backend"), ElementsAre("127.0.0.1:1111", "127.0.0.1:1112"));
  EXPECT_EQ(c->version(), MustGet("backend").version());
}

TEST_F(RegistryTest, RemoveEndpointErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "127.0.0.1", 1111);
  std::string before = State();

  absl::StatusOr<lb::v1::Cluster> c = registry_->RemoveEndpoint("backend", "127.0.0.1", 1112);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "endpoint 127.0.0.1:1112 not found in cluster \"backend\"");
  c = registry_->RemoveEndpoint("backend", "::1", 1111);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "endpoint [::1]:1111 not found in cluster \"backend\"");
  c = registry_->RemoveEndpoint("nope", "127.0.0.1", 1111);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "cluster \"nope\" not found");
  c = registry_->RemoveEndpoint("backend", "a b", 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "address: \"a b\" is neither an IP address nor a hostname; "
            "port: must be from 1 to 65535, got 0");
  c = registry_->RemoveEndpoint("backend", "", 70000);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "address: is required; port: must be from 1 to 65535, got 70000");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, SetEndpointState) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "10.0.0.1", 80);
  MustAdd("backend", "web.internal", 81);
  absl::StatusOr<lb::v1::Cluster> c =
      registry_->SetEndpointState("backend", "Web.Internal", 81, lb::v1::DRAINING);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->endpoints_size(), 2);
  EXPECT_EQ(c->endpoints(0).admin_state(), lb::v1::ACTIVE);
  EXPECT_EQ(c->endpoints(1).admin_state(), lb::v1::DRAINING);
  EXPECT_EQ(MustGet("backend").endpoints(1).admin_state(), lb::v1::DRAINING);
  c = registry_->SetEndpointState("backend", "web.internal", 81, lb::v1::ACTIVE);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(MustGet("backend").endpoints(1).admin_state(), lb::v1::ACTIVE);
}

TEST_F(RegistryTest, SetEndpointStateErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "10.0.0.1", 80);
  std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c =
      registry_->SetEndpointState("backend", "10.0.0.1", 80, lb::v1::ADMIN_STATE_UNSPECIFIED);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "admin_state: must be ACTIVE or DRAINING");
  c = registry_->SetEndpointState("backend", "10.0.0.1", 80, static_cast<lb::v1::AdminState>(9));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "admin_state: must be ACTIVE or DRAINING");
  c = registry_->SetEndpointState("backend", "10.0.0.2", 80, lb::v1::DRAINING);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "endpoint 10.0.0.2:80 not found in cluster \"backend\"");
  c = registry_->SetEndpointState("nope", "10.0.0.1", 80, lb::v1::DRAINING);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "cluster \"nope\" not found");
  c = registry_->SetEndpointState("backend", "-x", 80, lb::v1::DRAINING);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "address: \"-x\" is neither an IP address nor a hostname");
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Clusters

TEST_F(RegistryTest, CreateClusterNormalizesAndReturnsVersion) {
  lb::v1::Cluster c = ParseTextProto<lb::v1::Cluster>(R"pb(
    name: "web"
    lb_policy: LEAST_REQUEST
    version: 99
    endpoints { address: "WEB.internal" port: 80 resolved_addresses: "1.1.1.1" }
  )pb");
  absl::StatusOr<lb::v1::Cluster> created = registry_->CreateCluster(c);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->version(), 1);
  EXPECT_EQ(created->lb_policy(), lb::v1::LEAST_REQUEST);
  EXPECT_EQ(created->retries().value(), 2u);
  ASSERT_EQ(created->endpoints_size(), 1);
  ExpectProtoEq(created->endpoints(0),
                R"pb(address: "web.internal" port: 80 weight: 1 admin_state: ACTIVE)pb");
  EXPECT_TRUE(MessageDifferencer::Equals(*created, MustGet("web")));
}

TEST_F(RegistryTest, CreateClusterErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c = registry_->CreateCluster(NamedCluster("backend"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.status().message(), "cluster \"backend\" already exists");
  c = registry_->CreateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(
    name: "web"
    retries { value: 11 }
    endpoints { address: "10.0.0.1" port: 80 }
    endpoints { address: "10.0.0.1" port: 80 }
  )pb"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "cluster.retries: must be from 0 to 10, got 11; "
            "cluster.endpoints[1]: duplicate endpoint 10.0.0.1:80");
  c = registry_->CreateCluster(NamedCluster(""));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "cluster.name: is required");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, ListClustersInNameOrder) {
  MustCreate("web");
  MustCreate("api");
  MustCreate("backend");
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
  ASSERT_TRUE(cs.ok()) << cs.status();
  std::vector<std::pair<std::string, int64_t>> got;
  for (const auto& c : *cs) got.emplace_back(c.name(), c.version());
  EXPECT_THAT(got, ElementsAre(Pair("api", 2), Pair("backend", 3), Pair("web", 1)));
}

TEST_F(RegistryTest, UpdateClusterReplacesSettingsAndKeepsEndpoints) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "10.0.0.1", 80);
  MustAdd("backend", "10.0.0.2", 80);
  const int64_t version = MustGet("backend").version();

  lb::v1::Cluster update = ParseTextProto<lb::v1::Cluster>(R"pb(
    name: "backend"
    lb_policy: ROUND_ROBIN
    retries { value: 0 }
    endpoints { address: "10.9.9.9" port: 9 }
  )pb");
  absl::StatusOr<lb::v1::Cluster> c = registry_->UpdateCluster(update, version);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version(), version + 1);
  EXPECT_EQ(c->lb_policy(), lb::v1::ROUND_ROBIN);
  EXPECT_EQ(c->retries().value(), 0u);
  EXPECT_THAT(HostPorts("backend"), ElementsAre("10.0.0.1:80", "10.0.0.2:80"));
  EXPECT_TRUE(MessageDifferencer::Equals(*c, MustGet("backend")));
  // Settings not given return to their defaults (a replace, not a merge).
  c = registry_->UpdateCluster(NamedCluster("backend"), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lb_policy(), lb::v1::RANDOM);
  EXPECT_EQ(c->retries().value(), 2u);
  EXPECT_EQ(c->endpoints_size(), 2);
}

TEST_F(RegistryTest, UpdateClusterErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustAdd("backend", "10.0.0.1", 80);
  const int64_t version = MustGet("backend").version();
  std::string before = State();

  lb::v1::Cluster update = NamedCluster("backend");
  update.set_lb_policy(lb::v1::MAGLEV);
  absl::StatusOr<lb::v1::Cluster> c = registry_->UpdateCluster(update, version - 1);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(c.status().message(), absl::StrCat("cluster \"backend\" is at version ", version,
                                               ", not ", version - 1, "; re-read and retry"));
  c = registry_->UpdateCluster(NamedCluster("nope"), 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "cluster \"nope\" not found");
  update.mutable_retries()->set_value(11);
  c = registry_->UpdateCluster(update, version);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "cluster.retries: must be from 0 to 10, got 11");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, DeleteCluster) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  lb::v1::Cluster web = MustCreate("web");
  ASSERT_TRUE(registry_->DeleteCluster("web", web.version()).ok());
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster("web");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  MustCreate("api");
  ASSERT_TRUE(registry_->DeleteCluster("api", 0).ok());
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
  ASSERT_TRUE(cs.ok());
  ASSERT_EQ(cs->size(), 1u);
  EXPECT_EQ((*cs)[0].name(), "backend");
}

TEST_F(RegistryTest, DeleteClusterErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  lb::v1::Cluster web = MustCreate("web");
  std::string before = State();
  absl::Status s = registry_->DeleteCluster("backend", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "cluster \"backend\" is used by route \"default\"; delete or change the route first");
  s = registry_->DeleteCluster("nope", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "cluster \"nope\" not found");
  s = registry_->DeleteCluster("web", web.version() + 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), absl::StrCat("cluster \"web\" is at version ", web.version(), ", not ",
                                      web.version() + 1, "; re-read and retry"));
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Conditional writes, in-place updates and no-op writes

google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask mask;
  for (const char* p : paths) mask.add_paths(p);
  return mask;
}

TEST_F(RegistryTest, EveryEndpointWriteHonoursTheExpectedVersion) {
  MustCreate("web");
  const lb::v1::Cluster web = MustAdd("web", "10.0.0.1", 80);
  const int64_t stale = web.version() - 1;
  const std::string want = absl::StrCat("cluster \"web\" is at version ", web.version(), ", not ",
                                        stale, "; re-read and retry");
  const std::string before = State();
  std::vector<absl::Status> results = {
      registry_->AddEndpoint("web", Ep("10.0.0.2", 80), stale).status(),
      registry_->RemoveEndpoint("web", "10.0.0.1", 80, stale).status(),
      registry_->SetEndpointState("web", "10.0.0.1", 80, lb::v1::DRAINING, stale).status(),
      registry_
          ->UpdateEndpoint("web", "10.0.0.1", 80, ParseTextProto<lb::v1::Endpoint>("weight: 5"),
                           google::protobuf::FieldMask(), stale)
          .status(),
  };
  for (const absl::Status& s : results) {
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    EXPECT_EQ(s.message(), want);
  }
  EXPECT_EQ(State(), before);
  // At the current version each of them commits.
  absl::StatusOr<lb::v1::Cluster> c =
      registry_->AddEndpoint("web", Ep("10.0.0.2", 80), web.version());
  ASSERT_TRUE(c.ok()) << c.status();
  c = registry_->SetEndpointState("web", "10.0.0.2", 80, lb::v1::DRAINING, c->version());
  ASSERT_TRUE(c.ok()) << c.status();
  c = registry_->UpdateEndpoint("web", "10.0.0.2", 80,
                                ParseTextProto<lb::v1::Endpoint>("weight: 5"),
                                google::protobuf::FieldMask(), c->version());
  ASSERT_TRUE(c.ok()) << c.status();
  c = registry_->RemoveEndpoint("web", "10.0.0.2", 80, c->version());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(HostPorts("web"), ElementsAre("10.0.0.1:80"));
}

TEST_F(RegistryTest, UpdateEndpointChangesItInPlace) {
  MustCreate("web");
  MustAdd("web", "10.0.0.1", 80);
  MustAdd("web", "10.0.0.2", 80);
  absl::StatusOr<lb::v1::Cluster> c = registry_->UpdateEndpoint(
      "web", "10.0.0.1", 80,
      ParseTextProto<lb::v1::Endpoint>(R"pb(weight: 7
                                            zone: "eu-1"
                                            labels { key: "v" value: "2" })pb"),
      google::protobuf::FieldMask(), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  // Same place in the list, same address; only the given fields changed.
  ExpectProtoEq(c->endpoints(0), R"pb(address: "10.0.0.1"
                                      port: 80
                                      weight: 7
                                      zone: "eu-1"
                                      labels { key: "v" value: "2" }
                                      admin_state: ACTIVE)pb");
  EXPECT_THAT(HostPorts("web"), ElementsAre("10.0.0.1:80", "10.0.0.2:80"));
  // A mask: named fields change, a named unset field gets its default, labels go whole.
  c = registry_->UpdateEndpoint("web", "10.0.0.1", 80,
                                ParseTextProto<lb::v1::Endpoint>(R"pb(admin_state: DRAINING
                                                                      zone: "x")pb"),
                                Mask({"admin_state", "labels", "weight"}), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectProtoEq(c->endpoints(0),
                R"pb(address: "10.0.0.1" port: 80 weight: 1 zone: "eu-1" admin_state: DRAINING)pb");
  // Any spelling of the address finds it.
  c = registry_->UpdateEndpoint("web", "::ffff:10.0.0.2", 80,
                                ParseTextProto<lb::v1::Endpoint>("weight: 3"),
                                google::protobuf::FieldMask(), 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistryTest, UpdateEndpointErrorsChangeNothing) {
  MustCreate("web");
  MustAdd("web", "10.0.0.1", 80);
  const std::string before = State();
  auto update = [&](const std::string& values, google::protobuf::FieldMask mask) {
    return registry_
        ->UpdateEndpoint("web", "10.0.0.1", 80, ParseTextProto<lb::v1::Endpoint>(values), mask, 0)
        .status();
  };
  absl::Status s = update("weight: 0", google::protobuf::FieldMask());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "endpoint.weight: must be from 1 to 10000, got 0");
  s = update("weight: 20000 zone: \"\\x01\"", Mask({"weight", "zone"}));
  EXPECT_EQ(s.message(),
            "endpoint.weight: must be from 1 to 10000, got 20000; "
            "endpoint.zone: must be at most 128 printable characters");
  s = update("", google::protobuf::FieldMask());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "nothing to change: give weight, zone, labels or admin_state");
  s = update("port: 81", Mask({"weight", "port", "address"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "update_mask.paths[1]: \"port\" cannot change; only weight, zone, labels, admin_state "
            "(address and port identify the endpoint); "
            "update_mask.paths[2]: \"address\" cannot change; only weight, zone, labels, "
            "admin_state (address and port identify the endpoint)");
  s = registry_
          ->UpdateEndpoint("web", "10.0.0.9", 80, ParseTextProto<lb::v1::Endpoint>("weight: 2"),
                           google::protobuf::FieldMask(), 0)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "endpoint 10.0.0.9:80 not found in cluster \"web\"");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, NoOpWritesKeepTheVersion) {
  MustCreate("web");
  const lb::v1::Cluster web = MustAdd("web", "10.0.0.1", 80);
  ASSERT_TRUE(registry_->Bootstrap().ok());
  const std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c =
      registry_->SetEndpointState("web", "10.0.0.1", 80, lb::v1::ACTIVE);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version(), web.version());
  c = registry_->UpdateEndpoint("web", "10.0.0.1", 80,
                                ParseTextProto<lb::v1::Endpoint>("weight: 1"),
                                google::protobuf::FieldMask(), web.version());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version(), web.version());
  lb::v1::Cluster same = MustGet("web");
  c = registry_->UpdateCluster(same, web.version());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version(), web.version());
  c = registry_->UpdateCluster(
      ParseTextProto<lb::v1::Cluster>(R"pb(name: "web" lb_policy: RANDOM)pb"), Mask({"lb_policy"}),
      0);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version(), web.version());
  const lb::v1::RouteTable routes = MustRoutes();
  absl::StatusOr<lb::v1::RouteTable> t = registry_->UpdateRoute(routes.routes(0), 0);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->version(), routes.version());
  EXPECT_EQ(State(), before);
  // A stale version still fails, change or not.
  c = registry_->SetEndpointState("web", "10.0.0.1", 80, lb::v1::ACTIVE, web.version() + 1);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAborted);
}

TEST_F(RegistryTest, UpdateClusterWithAMaskKeepsEverythingElse) {
  lb::v1::Cluster created = ParseTextProto<lb::v1::Cluster>(R"pb(
    name: "web"
    lb_policy: RING_HASH
    hash_policy { header: "x-user" }
    health_check {
      path: "/healthz"
      interval { seconds: 2 }
      unhealthy_threshold: 4
    }
    outlier_detection { consecutive_5xx: 0 }
    retries { value: 5 }
    endpoints { address: "10.0.0.1" port: 80 }
  )pb");
  ASSERT_TRUE(registry_->CreateCluster(created).ok());
  const lb::v1::Cluster before = MustGet("web");
  absl::StatusOr<lb::v1::Cluster> c =
      registry_->UpdateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(name: "web"
                                                                    lb_policy: MAGLEV
                                                                    health_check {
                                                                      interval { seconds: 3 }
                                                                      path: "/not-named"
                                                                    })pb"),
                               Mask({"lb_policy", "health_check.interval"}), before.version());
  ASSERT_TRUE(c.ok()) << c.status();
  lb::v1::Cluster want = before;
  want.set_lb_policy(lb::v1::MAGLEV);
  want.mutable_health_check()->mutable_interval()->set_seconds(3);
  want.set_version(c->version());
  EXPECT_TRUE(MessageDifferencer::Equals(*c, want)) << c->DebugString();
  EXPECT_GT(c->version(), before.version());
  // A named field unset in the patch gets its default; the result is validated whole.
  c = registry_->UpdateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(name: "web")pb"),
                               Mask({"health_check", "retries"}), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->health_check().path(), "");
  EXPECT_EQ(c->health_check().interval().seconds(), 5);
  EXPECT_EQ(c->retries().value(), 2u);
  EXPECT_EQ(c->hash_policy().header(), "x-user");
  EXPECT_EQ(c->endpoints_size(), 1);
  c = registry_->UpdateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(name: "web"
                                                                    lb_policy: ROUND_ROBIN)pb"),
                               Mask({"lb_policy"}), 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "cluster.hash_policy: only RING_HASH and MAGLEV hash; lb_policy is ROUND_ROBIN");
  c = registry_->UpdateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(name: "web"
                                                                    lb_policy: ROUND_ROBIN)pb"),
                               Mask({"lb_policy", "hash_policy"}), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->has_hash_policy());
}

TEST_F(RegistryTest, UpdateClusterMaskChangesOneCircuitBreakerLimit) {
  ASSERT_TRUE(registry_
                  ->CreateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(
                    name: "web"
                    circuit_breakers { max_connections: 10 max_requests: 5 max_retries: 0 }
                  )pb"))
                  .ok());
  const lb::v1::Cluster before = MustGet("web");
  absl::StatusOr<lb::v1::Cluster> c = registry_->UpdateCluster(
      ParseTextProto<lb::v1::Cluster>(
          R"pb(name: "web"
               circuit_breakers { max_requests: 7 max_connections: 99 })pb"),
      Mask({"circuit_breakers.max_requests"}), before.version());
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectProtoEq(c->circuit_breakers(),
                R"pb(
                  max_connections: 10 max_pending_requests: 1024 max_requests: 7 max_retries: 0
                )pb");
  EXPECT_GT(c->version(), before.version());
  // A refused value changes nothing; a named limit unset in the patch gets its default.
  const std::string state = State();
  c = registry_->UpdateCluster(
      ParseTextProto<lb::v1::Cluster>(R"pb(name: "web"
                                           circuit_breakers { max_requests: 0 })pb"),
      Mask({"circuit_breakers.max_requests"}), 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "cluster.circuit_breakers.max_requests: must be from 1 to 1000000, got 0");
  EXPECT_EQ(State(), state);
  c = registry_->UpdateCluster(NamedCluster("web"), Mask({"circuit_breakers.max_retries"}), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectProtoEq(c->circuit_breakers(),
                R"pb(
                  max_connections: 10 max_pending_requests: 1024 max_requests: 7 max_retries: 3
                )pb");
  // The whole message named: every limit back to its default.
  c = registry_->UpdateCluster(NamedCluster("web"), Mask({"circuit_breakers"}), 0);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectProtoEq(c->circuit_breakers(), R"pb(
    max_connections: 1024
    max_pending_requests: 1024
    max_requests: 1024
    max_retries: 3
  )pb");
}

TEST_F(RegistryTest, UpdateClusterMaskErrors) {
  MustCreate("web");
  const std::string before = State();
  absl::StatusOr<lb::v1::Cluster> c = registry_->UpdateCluster(
      NamedCluster("web"), Mask({"name", "endpoints", "version", "retries"}), 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "update_mask.paths[0]: \"name\" cannot change: name identifies the cluster; "
            "update_mask.paths[1]: \"endpoints\" cannot change: endpoints change through the "
            "endpoint calls; "
            "update_mask.paths[2]: \"version\" cannot change: version is output only");
  c = registry_->UpdateCluster(NamedCluster("web"), Mask({"nope"}), 0);
  EXPECT_EQ(c.status().message(),
            "update_mask.paths[0]: \"nope\": no field \"nope\" in lb.v1.Cluster");
  c = registry_->UpdateCluster(NamedCluster("gone"), Mask({"retries"}), 0);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, ADuplicateHostAndPrefixIsRefusedNamingTheRoute) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustCreate("web");
  lb::v1::Route api = MakeRoute("api", "web", "/api");
  api.add_hosts("a.example");
  api.add_hosts("b.example");
  ASSERT_TRUE(registry_->CreateRoute(api).ok());
  const std::string before = State();
  lb::v1::Route dup = MakeRoute("api2", "backend", "/api");
  dup.add_hosts("c.example");
  dup.add_hosts("B.example");
  absl::StatusOr<lb::v1::RouteTable> t = registry_->CreateRoute(dup);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(t.status().message(),
            "route \"api2\": host \"b.example\" with path_prefix \"/api\" is already routed by "
            "route \"api\"");
  t = registry_->CreateRoute(MakeRoute("any", "web", "/"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(t.status().message(),
            "route \"any\": host \"*\" with path_prefix \"/\" is already routed by route "
            "\"default\"");
  // An update may not collide with another route either, but may keep its own match.
  lb::v1::Route moved = MakeRoute("default", "backend", "/api");
  moved.set_host("a.example");
  t = registry_->UpdateRoute(moved, 0);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(State(), before);
  api.set_cluster("backend");
  t = registry_->UpdateRoute(api, 0);
  ASSERT_TRUE(t.ok()) << t.status();
  // Another prefix, or another host, is fine.
  dup.set_path_prefix("/api/v2");
  EXPECT_TRUE(registry_->CreateRoute(dup).ok());
}

TEST_F(RegistryTest, CreateRouteHonoursTheExpectedVersion) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  const int64_t version = MustRoutes().version();
  absl::StatusOr<lb::v1::RouteTable> t =
      registry_->CreateRoute(MakeRoute("r", "backend", "/r"), version + 1);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(t.status().message(), absl::StrCat("route table is at version ", version, ", not ",
                                               version + 1, "; re-read and retry"));
  t = registry_->CreateRoute(MakeRoute("r", "backend", "/r"), version);
  ASSERT_TRUE(t.ok()) << t.status();
}

TEST_F(RegistryTest, DataStoredBeforeFieldPresenceReadsTheSame) {
  // Written by the previous version: a normalized cluster whose zero scalars were not encoded,
  // and a route with `host` only.
  lb::v1::Cluster old = ParseTextProto<lb::v1::Cluster>(kBootstrapBackend);
  old.set_name("old");
  old.mutable_outlier_detection()->clear_consecutive_5xx();
  old.mutable_outlier_detection()->clear_max_ejection_percent();
  lb::v1::RouteTable table;
  lb::v1::Route* r = table.add_routes();
  r->set_name("r");
  r->set_host("a.example");
  r->set_path_prefix("/");
  r->set_cluster("old");
  ASSERT_TRUE(store_
                  ->Txn({}, {store::Op::Put(ClusterKey("old"), old.SerializeAsString()),
                             store::Op::Put(kRouteTableKey, table.SerializeAsString())})
                  .ok());
  lb::v1::Cluster c = MustGet("old");
  EXPECT_TRUE(c.outlier_detection().has_consecutive_5xx());
  EXPECT_EQ(c.outlier_detection().consecutive_5xx(), 0u);
  EXPECT_EQ(c.outlier_detection().max_ejection_percent(), 0u);
  EXPECT_EQ(c.outlier_detection().consecutive_gateway_failure(), 5u);
  // An update of something else keeps the zeros (they are not "unset").
  absl::StatusOr<lb::v1::Cluster> updated =
      registry_->UpdateCluster(ParseTextProto<lb::v1::Cluster>(R"pb(name: "old"
                                                                    retries { value: 4 })pb"),
                               Mask({"retries"}), 0);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->outlier_detection().consecutive_5xx(), 0u);
  EXPECT_EQ(MustRoutes().routes(0).hosts_size(), 1);
  EXPECT_EQ(MustRoutes().routes(0).hosts(0), "a.example");
}

TEST_F(RegistryTest, ClusterStoredBeforeCircuitBreakersHasTheDefaults) {
  lb::v1::Cluster old = ParseTextProto<lb::v1::Cluster>(kBootstrapBackend);
  old.set_name("old");
  old.clear_circuit_breakers();
  ASSERT_TRUE(store_->Txn({}, {store::Op::Put(ClusterKey("old"), old.SerializeAsString())}).ok());
  const lb::v1::Cluster c = MustGet("old");
  ExpectProtoEq(c.circuit_breakers(), R"pb(
    max_connections: 1024
    max_pending_requests: 1024
    max_requests: 1024
    max_retries: 3
  )pb");
  // What it always had: replacing it with itself is a no-op.
  const std::string before = State();
  absl::StatusOr<lb::v1::Cluster> same = registry_->UpdateCluster(c, 0);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->version(), c.version());
  EXPECT_EQ(State(), before);
}

// ---------------------------------------------------------------------------------------------
// Routes

TEST_F(RegistryTest, GetRouteTableOfEmptyStore) {
  ExpectProtoEq(MustRoutes(), R"pb(name: "default")pb");
}

TEST_F(RegistryTest, CreateRouteAppendsNormalizedRoutesInOrder) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustCreate("web");
  lb::v1::Route r = MakeRoute("api", "web", "/api");
  r.set_host("API.Example.com");
  absl::StatusOr<lb::v1::RouteTable> t = registry_->CreateRoute(r);
  ASSERT_TRUE(t.ok()) << t.status();
  t = registry_->CreateRoute(MakeRoute("static", "backend", "/static"));
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectProtoEq(*t, R"pb(
    name: "default"
    routes { name: "default" host: "*" path_prefix: "/" cluster: "backend" hosts: "*" }
    routes {
      name: "api"
      host: "api.example.com"
      path_prefix: "/api"
      cluster: "web"
      hosts: "api.example.com"
    }
    routes { name: "static" host: "*" path_prefix: "/static" cluster: "backend" hosts: "*" }
    version: 4
  )pb");
  EXPECT_TRUE(MessageDifferencer::Equals(*t, MustRoutes()));
}

TEST_F(RegistryTest, CreateRouteErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::string before = State();
  absl::StatusOr<lb::v1::RouteTable> t = registry_->CreateRoute(MakeRoute("r", "nope", "/r"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.status().message(), "route \"r\": cluster \"nope\" does not exist; create it first");
  t = registry_->CreateRoute(MakeRoute("default", "backend"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(t.status().message(), "route \"default\" already exists");
  t = registry_->CreateRoute(MakeRoute("r", "backend", "api"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "route.path_prefix: must start with \"/\" and contain no spaces");
  t = registry_->CreateRoute(lb::v1::Route());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "route.name: is required; route.cluster: is required");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, UpdateRoute) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustCreate("web");
  ASSERT_TRUE(registry_->CreateRoute(MakeRoute("api", "web", "/api")).ok());
  const int64_t version = MustRoutes().version();
  lb::v1::Route r = MakeRoute("default", "web", "/");
  r.set_host("*.Example.com");
  absl::StatusOr<lb::v1::RouteTable> t = registry_->UpdateRoute(r, version);
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectProtoEq(*t,
                absl::StrCat(
                    R"pb(
                      name: "default"
                      routes {
                        name: "default"
                        host: "*.example.com"
                        path_prefix: "/"
                        cluster: "web"
                        hosts: "*.example.com"
                      }
                      routes { name: "api" host: "*" path_prefix: "/api" cluster: "web" hosts: "*" }
                      version:)pb",
                    version + 1));
}

TEST_F(RegistryTest, UpdateRouteErrorsChangeNothing) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  const int64_t version = MustRoutes().version();
  std::string before = State();
  absl::StatusOr<lb::v1::RouteTable> t = registry_->UpdateRoute(MakeRoute("x", "backend"), 0);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(), "route \"x\" not found");
  t = registry_->UpdateRoute(MakeRoute("default", "backend", "/v2"), version + 5);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(t.status().message(), absl::StrCat("route table is at version ", version, ", not ",
                                               version + 5, "; re-read and retry"));
  t = registry_->UpdateRoute(MakeRoute("default", "nope"), version);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.status().message(),
            "route \"default\": cluster \"nope\" does not exist; create it first");
  t = registry_->UpdateRoute(MakeRoute("default", "backend", "/a b"), version);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "route.path_prefix: must start with \"/\" and contain no spaces");
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, DeleteRoute) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  ASSERT_TRUE(registry_->CreateRoute(MakeRoute("a", "backend", "/a")).ok());
  ASSERT_TRUE(registry_->CreateRoute(MakeRoute("b", "backend", "/b")).ok());
  absl::StatusOr<lb::v1::RouteTable> t = registry_->DeleteRoute("a", MustRoutes().version());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->routes_size(), 2);
  EXPECT_EQ(t->routes(0).name(), "default");
  EXPECT_EQ(t->routes(1).name(), "b");
  std::string before = State();
  t = registry_->DeleteRoute("a", 0);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(), "route \"a\" not found");
  t = registry_->DeleteRoute("b", 1);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(t.status().message(), absl::StrCat("route table is at version ", MustRoutes().version(),
                                               ", not 1; re-read and retry"));
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryTest, RouteReferenceKeepsClusterAlive) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustCreate("web");
  ASSERT_TRUE(registry_->CreateRoute(MakeRoute("api", "web", "/api")).ok());
  absl::Status s = registry_->DeleteCluster("web", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "cluster \"web\" is used by route \"api\"; delete or change the route first");
  ASSERT_TRUE(registry_->UpdateRoute(MakeRoute("api", "backend", "/api"), 0).ok());
  EXPECT_TRUE(registry_->DeleteCluster("web", 0).ok());
}

// ---------------------------------------------------------------------------------------------
// Reads

TEST_F(RegistryTest, ResolvedAddressesAreFilledOnReadsOnly) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::vector<std::string> looked_up;
  registry_->SetResolvedLookup([&](const std::string& host) {
    looked_up.push_back(host);
    return std::vector<std::string>{"10.0.0.5", "10.0.0.6"};
  });
  lb::v1::Cluster c = MustAdd("backend", "Web.Internal", 80);
  MustAdd("backend", "10.0.0.1", 81);
  ASSERT_EQ(c.endpoints_size(), 1);
  EXPECT_THAT(c.endpoints(0).resolved_addresses(), ElementsAre("10.0.0.5", "10.0.0.6"));
  lb::v1::Cluster got = MustGet("backend");
  ASSERT_EQ(got.endpoints_size(), 2);
  EXPECT_THAT(got.endpoints(0).resolved_addresses(), ElementsAre("10.0.0.5", "10.0.0.6"));
  EXPECT_EQ(got.endpoints(1).resolved_addresses_size(), 0);  // IP literals are not looked up.
  for (const auto& host : looked_up) EXPECT_EQ(host, "web.internal");
  // Not stored.
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get("clusters/backend");
  ASSERT_TRUE(kv.ok() && kv->has_value());
  lb::v1::Cluster stored;
  ASSERT_TRUE(stored.ParseFromString((*kv)->value));
  EXPECT_EQ(stored.endpoints_size(), 0);
  EXPECT_EQ(stored.version(), 0);
  kv = store_->Get("clusters/backend/endpoints/web.internal:80");
  ASSERT_TRUE(kv.ok() && kv->has_value());
  lb::v1::Endpoint stored_endpoint;
  ASSERT_TRUE(stored_endpoint.ParseFromString((*kv)->value));
  EXPECT_EQ(stored_endpoint.address(), "web.internal");
  EXPECT_EQ(stored_endpoint.resolved_addresses_size(), 0);
}

TEST_F(RegistryTest, CorruptStoredValuesAreInternal) {
  ASSERT_TRUE(store_->Txn({}, {store::Op::Put("clusters/bad", "\xff\xff\xff")}).ok());
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster("bad");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(c.status().message(), "stored cluster \"bad\" is corrupt");
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cs.status().message(), "stored value of clusters/bad is corrupt");
  ASSERT_TRUE(store_->Txn({}, {store::Op::Put("routes/default", "\xff\xff\xff")}).ok());
  absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(t.status().message(), "stored route table is corrupt");
}

// ---------------------------------------------------------------------------------------------
// Compare-and-set, retries and store errors (FakeStore)

class RegistryFakeStoreTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    ASSERT_TRUE(registry_->Bootstrap().ok());
    fake_ = std::make_unique<testing::FakeStore>(store_.get());
    faked_ = std::make_unique<Registry>(fake_.get());
  }
  std::unique_ptr<testing::FakeStore> fake_;
  std::unique_ptr<Registry> faked_;
};

TEST_F(RegistryFakeStoreTest, ConflictsAreRetried) {
  fake_->AbortNextTxns(5);
  absl::StatusOr<lb::v1::Cluster> c = faked_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(fake_->txn_calls(), 6);
  EXPECT_EQ(c->version(), 2);
  EXPECT_THAT(HostPorts("backend"), ElementsAre("10.0.0.1:80"));
}

TEST_F(RegistryFakeStoreTest, ThirtyOneConflictsStillCommit) {
  fake_->AbortNextTxns(31);
  absl::StatusOr<lb::v1::RouteTable> t = faked_->CreateRoute(MakeRoute("r", "backend", "/r"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(fake_->txn_calls(), 32);
  EXPECT_EQ(t->routes_size(), 2);
}

TEST_F(RegistryFakeStoreTest, TooMuchContentionIsAbortedAndChangesNothing) {
  std::string before = State();
  fake_->AbortNextTxns(32);
  absl::StatusOr<lb::v1::Cluster> c = faked_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(c.status().message(), "too many concurrent writers; try again");
  EXPECT_EQ(fake_->txn_calls(), 32);
  fake_->AbortNextTxns(1000);
  absl::Status s = faked_->DeleteCluster("backend", 0);  // FailedPrecondition first: no Txn.
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<lb::v1::Cluster> created = faked_->CreateCluster(NamedCluster("web"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(created.status().message(), "too many concurrent writers; try again");
  absl::StatusOr<lb::v1::RouteTable> t = faked_->DeleteRoute("default", 0);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryFakeStoreTest, RealConflictLosesNoUpdate) {
  // Between the registry's read and its write another writer adds an endpoint; the CAS fails
  // for real, and the retry re-reads and keeps both.
  Registry other(store_.get());
  fake_->BeforeNextTxn([&] {
    absl::StatusOr<lb::v1::Cluster> c = other.AddEndpoint("backend", Ep("10.0.0.2", 80));
    EXPECT_TRUE(c.ok()) << c.status();
  });
  absl::StatusOr<lb::v1::Cluster> c = faked_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(fake_->txn_calls(), 2);
  EXPECT_THAT(HostPorts("backend"), ElementsAre("10.0.0.2:80", "10.0.0.1:80"));
  EXPECT_EQ(c->version(), 3);
}

TEST_F(RegistryFakeStoreTest, ConflictingDuplicateBecomesAlreadyExists) {
  Registry other(store_.get());
  fake_->BeforeNextTxn([&] { ASSERT_TRUE(other.AddEndpoint("backend", Ep("10.0.0.1", 80)).ok()); });
  absl::StatusOr<lb::v1::Cluster> c = faked_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(HostPorts("backend"), ElementsAre("10.0.0.1:80"));
}

TEST_F(RegistryFakeStoreTest, ClusterCreatedConcurrentlyIsAlreadyExists) {
  Registry other(store_.get());
  fake_->BeforeNextTxn([&] { ASSERT_TRUE(other.CreateCluster(NamedCluster("web")).ok()); });
  absl::StatusOr<lb::v1::Cluster> c = faked_->CreateCluster(NamedCluster("web"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c.status().message(), "cluster \"web\" already exists");
}

TEST_F(RegistryFakeStoreTest, ClusterDeletedUnderARouteCreateIsFailedPrecondition) {
  // The route's target cluster is checked at commit time (its revision is a compare).
  MustCreate("web");
  Registry other(store_.get());
  fake_->BeforeNextTxn([&] { ASSERT_TRUE(other.DeleteCluster("web", 0).ok()); });
  absl::StatusOr<lb::v1::RouteTable> t = faked_->CreateRoute(MakeRoute("api", "web", "/api"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.status().message(), "route \"api\": cluster \"web\" does not exist; create it first");
  EXPECT_EQ(MustRoutes().routes_size(), 1);
}

TEST_F(RegistryFakeStoreTest, RouteAddedUnderAClusterDeleteIsFailedPrecondition) {
  MustCreate("web");
  Registry other(store_.get());
  fake_->BeforeNextTxn(
      [&] { ASSERT_TRUE(other.CreateRoute(MakeRoute("api", "web", "/api")).ok()); });
  absl::Status s = faked_->DeleteCluster("web", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "cluster \"web\" is used by route \"api\"; delete or change the route first");
  EXPECT_TRUE(registry_->GetCluster("web").ok());
}

TEST_F(RegistryFakeStoreTest, ExpectedVersionIsCheckedAgainstTheRereadValue) {
  const int64_t version = MustGet("backend").version();
  Registry other(store_.get());
  fake_->BeforeNextTxn([&] { ASSERT_TRUE(other.AddEndpoint("backend", Ep("10.0.0.1", 80)).ok()); });
  lb::v1::Cluster update = NamedCluster("backend");
  update.set_lb_policy(lb::v1::ROUND_ROBIN);
  absl::StatusOr<lb::v1::Cluster> c = faked_->UpdateCluster(update, version);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(c.status().message(), absl::StrCat("cluster \"backend\" is at version ", version + 1,
                                               ", not ", version, "; re-read and retry"));
  EXPECT_EQ(MustGet("backend").lb_policy(), lb::v1::RANDOM);
}

TEST_F(RegistryFakeStoreTest, StoreErrorsAreReturnedUnchanged) {
  std::string before = State();
  fake_->FailTxn(absl::UnavailableError("store unreachable"));
  absl::StatusOr<lb::v1::Cluster> c = faked_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.status().message(), "store unreachable");
  EXPECT_EQ(fake_->txn_calls(), 1);  // Not retried.
  absl::StatusOr<lb::v1::RouteTable> t = faked_->CreateRoute(MakeRoute("r", "backend", "/r"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  absl::Status s = faked_->DeleteCluster("backend", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  fake_->FailTxn(absl::OkStatus());

  fake_->FailGet(absl::UnavailableError("read failed"));
  c = faked_->GetCluster("backend");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.status().message(), "read failed");
  c = faked_->AddEndpoint("backend", Ep("10.0.0.1", 80));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  t = faked_->GetRouteTable();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(t.status().message(), "read failed");
  c = faked_->CreateCluster(NamedCluster("web"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  fake_->FailGet(absl::OkStatus());

  fake_->FailList(absl::InternalError("list failed"));
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = faked_->ListClusters();
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cs.status().message(), "list failed");
  fake_->FailList(absl::OkStatus());
  EXPECT_EQ(State(), before);
}

TEST_F(RegistryFakeStoreTest, MutationObserverSeesEveryOutcome) {
  std::vector<std::pair<std::string, absl::StatusCode>> seen;
  faked_->SetMutationObserver([&](absl::string_view op, const absl::Status& status) {
    seen.emplace_back(std::string(op), status.code());
  });
  ASSERT_TRUE(faked_->AddEndpoint("backend", Ep("10.0.0.1", 80)).ok());
  EXPECT_FALSE(faked_->AddEndpoint("backend", Ep("10.0.0.1", 80)).ok());
  EXPECT_FALSE(faked_->AddEndpoint("backend", Ep("10.0.0.1", 0)).ok());
  ASSERT_TRUE(faked_->SetEndpointState("backend", "10.0.0.1", 80, lb::v1::DRAINING).ok());
  EXPECT_FALSE(
      faked_->SetEndpointState("backend", "10.0.0.1", 80, lb::v1::ADMIN_STATE_UNSPECIFIED).ok());
  ASSERT_TRUE(faked_->RemoveEndpoint("backend", "10.0.0.1", 80).ok());
  EXPECT_FALSE(faked_->RemoveEndpoint("backend", "", 80).ok());
  ASSERT_TRUE(faked_->CreateCluster(NamedCluster("web")).ok());
  ASSERT_TRUE(faked_->UpdateCluster(NamedCluster("web"), 0).ok());
  EXPECT_FALSE(faked_->UpdateCluster(NamedCluster(""), 0).ok());
  ASSERT_TRUE(faked_->CreateRoute(MakeRoute("r", "web", "/r")).ok());
  ASSERT_TRUE(faked_->UpdateRoute(MakeRoute("r", "web", "/s"), 0).ok());
  ASSERT_TRUE(faked_->DeleteRoute("r", 0).ok());
  ASSERT_TRUE(faked_->DeleteCluster("web", 0).ok());
  fake_->AbortNextTxns(32);
  EXPECT_FALSE(faked_->AddEndpoint("backend", Ep("10.0.0.1", 80)).ok());
  // Reads are not reported.
  ASSERT_TRUE(faked_->GetCluster("backend").ok());
  ASSERT_TRUE(faked_->ListClusters().ok());
  ASSERT_TRUE(faked_->GetRouteTable().ok());

  using C = absl::StatusCode;
  EXPECT_THAT(
      seen,
      ElementsAre(Pair("add_endpoint", C::kOk), Pair("add_endpoint", C::kAlreadyExists),
                  Pair("add_endpoint", C::kInvalidArgument), Pair("set_endpoint_state", C::kOk),
                  Pair("set_endpoint_state", C::kInvalidArgument), Pair("remove_endpoint", C::kOk),
                  Pair("remove_endpoint", C::kInvalidArgument), Pair("create_cluster", C::kOk),
                  Pair("update_cluster", C::kOk), Pair("update_cluster", C::kInvalidArgument),
                  Pair("create_route", C::kOk), Pair("update_route", C::kOk),
                  Pair("delete_route", C::kOk), Pair("delete_cluster", C::kOk),
                  Pair("add_endpoint", C::kAborted)));
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST_F(RegistryTest, ConcurrentAddEndpointLosesNoUpdate) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::vector<absl::Status>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        results[t].push_back(
            registry_->AddEndpoint("backend", Ep(absl::StrCat("10.0.", t, ".", i), 8080)).status());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_TRUE(results[t][i].ok()) << "thread " << t << " call " << i << ": " << results[t][i];
    }
  }
  lb::v1::Cluster c = MustGet("backend");
  ASSERT_EQ(c.endpoints_size(), kThreads * kPerThread);
  std::set<std::string> got;
  std::vector<int> next(kThreads, 0);
  for (const auto& e : c.endpoints()) {
    got.insert(e.address());
    // Each thread's endpoints appear in the order it added them.
    int t = 0, i = 0;
    ASSERT_EQ(sscanf(e.address().c_str(), "10.0.%d.%d", &t, &i), 2) << e.address();
    EXPECT_EQ(i, next[t]++) << e.address();
  }
  EXPECT_EQ(got.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(c.version(), Revision());
  EXPECT_EQ(Revision(), 1 + kThreads * kPerThread);
}

// ---------------------------------------------------------------------------------------------
// Watch

class ChangeCollector {
 public:
  void Add(const lb::v1::Change& change) {
    absl::MutexLock lock(&mu_);
    changes_.push_back(change);
  }
  // The first `n` changes, waiting (bounded) for them to arrive.
  std::vector<lb::v1::Change> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changes_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return changes_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return changes_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<lb::v1::Change> changes_ ABSL_GUARDED_BY(mu_);
};

std::string Texts(const std::vector<lb::v1::Change>& changes) {
  std::string out;
  for (const auto& c : changes) absl::StrAppend(&out, c.ShortDebugString(), "\n");
  return out;
}

TEST_F(RegistryTest, WatchDeliversSnapshotThenChanges) {
  ASSERT_TRUE(registry_->Bootstrap().ok());
  MustCreate("web");
  ChangeCollector collector;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      registry_->Watch([&](const lb::v1::Change& c) { collector.Add(c); });
  ASSERT_TRUE(watch.ok()) << watch.status();
  // The snapshot is delivered before Watch returns: every cluster (name order), routes, then
  // the marker at the revision it was read at.
  std::vector<lb::v1::Change> snapshot = collector.WaitFor(4);
  ASSERT_EQ(snapshot.size(), 4u) << Texts(snapshot);
  lb::v1::Change expected;
  expected.set_revision(1);
  *expected.mutable_cluster() = MustGet("backend");
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot[0], expected)) << Texts(snapshot);
  expected.set_revision(2);
  *expected.mutable_cluster() = MustGet("web");
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot[1], expected)) << Texts(snapshot);
  ExpectProtoEq(snapshot[2], R"pb(
    revision: 1
    route_table {
      name: "default"
      routes { name: "default" host: "*" path_prefix: "/" cluster: "backend" hosts: "*" }
      version: 1
    }
  )pb");
  ExpectProtoEq(snapshot[3], R"pb(revision: 2 initial_state_end: true)pb");

  lb::v1::Cluster added = MustAdd("web", "10.0.0.1", 80);                     // Revision 3.
  ASSERT_TRUE(registry_->CreateRoute(MakeRoute("api", "web", "/api")).ok());  // 4.
  ASSERT_TRUE(registry_->DeleteRoute("api", 0).ok());                         // 5.
  ASSERT_TRUE(registry_->DeleteCluster("web", 0).ok());                       // 6.
  std::vector<lb::v1::Change> all = collector.WaitFor(8);
  ASSERT_EQ(all.size(), 8u) << Texts(all);
  all.erase(all.begin());  // Indexes as before the marker.
  expected.set_revision(3);
  *expected.mutable_cluster() = added;
  EXPECT_TRUE(MessageDifferencer::Equals(all[3], expected)) << Texts(all);
  ExpectProtoEq(all[4], R"pb(
    revision: 4
    route_table {
      name: "default"
      routes { name: "default" host: "*" path_prefix: "/" cluster: "backend" hosts: "*" }
      routes { name: "api" host: "*" path_prefix: "/api" cluster: "web" hosts: "*" }
      version: 4
    }
  )pb");
  ExpectProtoEq(all[5], R"pb(
    revision: 5
    route_table {
      name: "default"
      routes { name: "default" host: "*" path_prefix: "/" cluster: "backend" hosts: "*" }
      version: 5
    }
  )pb");
  ExpectProtoEq(all[6], R"pb(revision: 6 cluster_deleted: "web")pb");

  // After the handle is destroyed nothing more arrives.
  watch->reset();
  MustAdd("backend", "10.0.0.2", 80);
  EXPECT_EQ(collector.size(), 8u);
}

TEST_F(RegistryTest, WatchOfEmptyStoreThenBootstrapSkipsTheMarker) {
  ChangeCollector collector;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      registry_->Watch([&](const lb::v1::Change& c) { collector.Add(c); });
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(registry_->Bootstrap().ok());
  std::vector<lb::v1::Change> all = collector.WaitFor(4);
  ASSERT_EQ(all.size(), 4u) << Texts(all);
  ExpectProtoEq(all[0], R"pb(revision: 0
                             route_table { name: "default" })pb");
  ExpectProtoEq(all[1], R"pb(revision: 0 initial_state_end: true)pb");
  all.erase(all.begin());
  lb::v1::Change expected;
  expected.set_revision(1);
  *expected.mutable_cluster() = MustGet("backend");
  EXPECT_TRUE(MessageDifferencer::Equals(all[1], expected)) << Texts(all);
  EXPECT_EQ(all[2].kind_case(), lb::v1::Change::kRouteTable) << Texts(all);
  EXPECT_EQ(all[2].revision(), 1);
  // Only model keys produce changes ("meta/bootstrapped" does not).
  MustAdd("backend", "10.0.0.1", 80);
  all = collector.WaitFor(5);
  ASSERT_EQ(all.size(), 5u) << Texts(all);
  EXPECT_EQ(all[4].cluster().endpoints_size(), 1);
}

TEST_F(RegistryTest, WatchReportsStoreErrors) {
  testing::FakeStore fake(store_.get());
  Registry registry(&fake);
  fake.FailCurrentRevision(absl::UnavailableError("no revision"));
  int calls = 0;
  auto count = [&](const lb::v1::Change&) { ++calls; };
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> w = registry.Watch(count);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(w.status().message(), "no revision");
  fake.FailCurrentRevision(absl::OkStatus());
  fake.FailWatch(absl::OutOfRangeError("compacted"));
  w = registry.Watch(count);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(w.status().message(), "compacted");
}

TEST(ChangeFromEventTest, DecodesModelKeys) {
  lb::v1::RouteTable t;
  t.set_name("default");
  store::Event routes;
  routes.kv = {"routes/default", t.SerializeAsString(), 1, 9};
  absl::StatusOr<lb::v1::Change> change = Registry::ChangeFromEvent(routes);
  ASSERT_TRUE(change.ok()) << change.status();
  ExpectProtoEq(*change, R"pb(revision: 9
                              route_table { name: "default" version: 9 })pb");
}

store::Event PutEvent(const std::string& key, const std::string& value, int64_t create,
                      int64_t mod) {
  store::Event e;
  e.type = store::Event::Type::kPut;
  e.kv = {key, value, create, mod};
  return e;
}

store::Event DeleteEvent(const std::string& key, int64_t mod) {
  store::Event e;
  e.type = store::Event::Type::kDelete;
  e.kv = {key, "", 0, mod};
  return e;
}

std::string Serialized(const lb::v1::Endpoint& e) { return e.SerializeAsString(); }

TEST(ChangeAssemblerTest, WholeClustersFromSettingsAndEndpointKeys) {
  lb::v1::Cluster c;
  c.set_name("web");
  c.set_protocol(lb::v1::HTTP1);
  ChangeAssembler assembler;
  // Endpoint keys sort by key ("10.0.0.9" < "9.9.9.9"), but list by create_revision.
  ASSERT_TRUE(
      assembler
          .Load({{"clusters/web", c.SerializeAsString(), 3, 7},
                 {"clusters/web/endpoints/10.0.0.9:80", Serialized(Ep("10.0.0.9", 80)), 6, 6},
                 {"clusters/web/endpoints/9.9.9.9:80", Serialized(Ep("9.9.9.9", 80)), 4, 4},
                 {"clusters/web/other", "ignored", 5, 5}})
          .ok());
  std::vector<lb::v1::Cluster> clusters = assembler.Clusters();
  ASSERT_EQ(clusters.size(), 1u);
  EXPECT_EQ(clusters[0].version(), 7);
  ASSERT_EQ(clusters[0].endpoints_size(), 2);
  EXPECT_EQ(clusters[0].endpoints(0).address(), "9.9.9.9");
  EXPECT_EQ(clusters[0].endpoints(1).address(), "10.0.0.9");
  // Stored without circuit breakers: it had the defaults.
  EXPECT_EQ(clusters[0].circuit_breakers().max_connections(), 1024u);

  // An endpoint add: one Change with the whole cluster at the new version.
  std::vector<lb::v1::Change> changes =
      assembler.Apply({PutEvent("clusters/web/endpoints/[::1]:81", Serialized(Ep("::1", 81)), 8, 8),
                       PutEvent("clusters/web", c.SerializeAsString(), 3, 8)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].revision(), 8);
  EXPECT_EQ(changes[0].cluster().version(), 8);
  ASSERT_EQ(changes[0].cluster().endpoints_size(), 3);
  EXPECT_EQ(changes[0].cluster().endpoints(2).address(), "::1");

  // An endpoint removal.
  changes = assembler.Apply({DeleteEvent("clusters/web/endpoints/9.9.9.9:80", 9),
                             PutEvent("clusters/web", c.SerializeAsString(), 3, 9)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].cluster().version(), 9);
  ASSERT_EQ(changes[0].cluster().endpoints_size(), 2);
  EXPECT_EQ(changes[0].cluster().endpoints(0).address(), "10.0.0.9");

  // A route table in the same transaction as a cluster: the cluster comes first.
  lb::v1::Cluster api;
  api.set_name("api");
  lb::v1::RouteTable t;
  t.set_name("default");
  changes = assembler.Apply({PutEvent("routes/default", t.SerializeAsString(), 1, 10),
                             PutEvent("clusters/api", api.SerializeAsString(), 10, 10),
                             PutEvent("meta/bootstrapped", "1", 10, 10)});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].cluster().name(), "api");
  EXPECT_EQ(changes[1].route_table().version(), 10);

  // A cluster delete takes its endpoint keys along.
  changes = assembler.Apply({DeleteEvent("clusters/web", 11),
                             DeleteEvent("clusters/web/endpoints/10.0.0.9:80", 11),
                             DeleteEvent("clusters/web/endpoints/[::1]:81", 11)});
  ASSERT_EQ(changes.size(), 1u);
  ExpectProtoEq(changes[0], R"pb(revision: 11 cluster_deleted: "web")pb");
  clusters = assembler.Clusters();
  ASSERT_EQ(clusters.size(), 1u);
  EXPECT_EQ(clusters[0].name(), "api");

  // Endpoint keys of a cluster not seen yet (a replay from before the snapshot): nothing yet.
  EXPECT_TRUE(assembler
                  .Apply({PutEvent("clusters/new/endpoints/1.1.1.1:80",
                                   Serialized(Ep("1.1.1.1", 80)), 12, 12)})
                  .empty());
  changes =
      assembler.Apply({PutEvent("clusters/new", NamedCluster("new").SerializeAsString(), 13, 13)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].cluster().endpoints_size(), 1);
}

TEST(ChangeAssemblerTest, EmbeddedEndpointsOfOlderDataAndCorruptValues) {
  lb::v1::Cluster old = NamedCluster("old");
  *old.add_endpoints() = Ep("10.0.0.1", 80);
  *old.add_endpoints() = Ep("10.0.0.2", 80);
  ChangeAssembler assembler;
  lb::v1::Endpoint keyed = Ep("10.0.0.2", 80);
  keyed.set_zone("z");
  ASSERT_TRUE(assembler
                  .Load({{"clusters/old", old.SerializeAsString(), 1, 1},
                         {"clusters/old/endpoints/10.0.0.2:80", Serialized(keyed), 2, 2}})
                  .ok());
  std::vector<lb::v1::Cluster> clusters = assembler.Clusters();
  ASSERT_EQ(clusters.size(), 1u);
  // The key wins over the embedded copy; keyed endpoints first.
  ASSERT_EQ(clusters[0].endpoints_size(), 2);
  EXPECT_EQ(clusters[0].endpoints(0).zone(), "z");
  EXPECT_EQ(clusters[0].endpoints(1).address(), "10.0.0.1");
  // Weight was a plain scalar in older data: absent means 0.
  EXPECT_EQ(clusters[0].endpoints(1).weight(), 0u);

  absl::Status s = assembler.Load({{"clusters/bad", "\xff\xff", 1, 1}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "stored value of clusters/bad is corrupt");
  s = assembler.Load({{"clusters/x/endpoints/1.1.1.1:80", "\xff\xff", 1, 1}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "stored value of clusters/x/endpoints/1.1.1.1:80 is corrupt");
  // In a watch, a corrupt value is skipped (the key keeps its last good value).
  ASSERT_TRUE(assembler.Load({{"clusters/old", old.SerializeAsString(), 1, 1}}).ok());
  std::vector<lb::v1::Change> changes =
      assembler.Apply({PutEvent("clusters/old", "\xff\xff", 1, 3)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].cluster().endpoints_size(), 2);
}

TEST(ChangeFromEventTest, Errors) {
  store::Event e;
  e.kv = {"meta/bootstrapped", "1", 1, 1};
  absl::StatusOr<lb::v1::Change> change = Registry::ChangeFromEvent(e);
  EXPECT_EQ(change.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(change.status().message(), "not a model key: meta/bootstrapped");
  e.type = store::Event::Type::kDelete;
  e.kv = {"routes/default", "", 0, 2};
  change = Registry::ChangeFromEvent(e);
  EXPECT_EQ(change.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(change.status().message(), "not a model key: routes/default");
  e.type = store::Event::Type::kPut;
  e.kv = {"clusters/web", "", 1, 3};
  change = Registry::ChangeFromEvent(e);
  EXPECT_EQ(change.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(change.status().message(),
            "cluster key clusters/web: decode it with a ChangeAssembler");
  e.kv = {"routes/default", "\xff\xff", 1, 3};
  change = Registry::ChangeFromEvent(e);
  EXPECT_EQ(change.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(change.status().message(), "stored route table is corrupt");
}

}  // namespace
}  // namespace lb::registry
