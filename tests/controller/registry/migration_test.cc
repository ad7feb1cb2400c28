// Migration to per-endpoint keys (Registry::MigrateEndpointKeys, run by Bootstrap): from the
// checked-in SQLite store written by the controller before per-endpoint keys
// (testdata/make_embedded_data_dir.sh), and from the same layout written into SQLite and a real
// etcd through the Store, so both backends take the one registry-level code path.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "controller/registry/registry.h"
#include "controller/store/etcd_store.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/etcd_cluster.h"
#include "tests/test_common/fake_store.h"

namespace lb::registry {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Keys(store::Store* store, const std::string& prefix) {
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store->List(prefix);
  EXPECT_TRUE(kvs.ok()) << kvs.status();
  std::vector<std::string> out;
  if (kvs.ok()) {
    for (const store::KeyValue& kv : *kvs) out.push_back(kv.key);
  }
  return out;
}

std::vector<std::string> Endpoints(const lb::v1::Cluster& c) {
  std::vector<std::string> out;
  for (const lb::v1::Endpoint& e : c.endpoints()) out.push_back(e.ShortDebugString());
  return out;
}

int64_t ModRevision(store::Store* store, const std::string& key) {
  absl::StatusOr<std::optional<store::KeyValue>> kv = store->Get(key);
  EXPECT_TRUE(kv.ok() && kv->has_value()) << key;
  return kv.ok() && kv->has_value() ? (*kv)->mod_revision : -1;
}

// A copy of the fixture in TEST_TMPDIR.
std::string FixtureCopy() {
  const std::string src = "tests/controller/registry/testdata/main_embedded_endpoints.db";
  const std::string dst = absl::StrCat(::testing::TempDir(), "/lb.db");
  std::ifstream in(src, std::ios::binary);
  EXPECT_TRUE(in.good()) << src;
  std::ofstream out(dst, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  return dst;
}

TEST(MigrationTest, DataDirectoryWrittenByTheControllerBeforePerEndpointKeys) {
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(FixtureCopy());
  ASSERT_TRUE(s.ok()) << s.status();
  store::Store* store = s->get();
  // As written: one key per cluster, endpoints inside.
  ASSERT_THAT(Keys(store, kClusterPrefix),
              ElementsAre("clusters/api", "clusters/backend", "clusters/empty"));
  Registry registry(store);
  absl::StatusOr<std::vector<lb::v1::Cluster>> before = registry.ListClusters();
  ASSERT_TRUE(before.ok()) << before.status();
  const int64_t empty_version = ModRevision(store, "clusters/empty");
  const int64_t revision = *store->CurrentRevision();

  ASSERT_TRUE(registry.Bootstrap().ok());
  // One transaction.
  EXPECT_EQ(*store->CurrentRevision(), revision + 1);
  EXPECT_THAT(
      Keys(store, kClusterPrefix),
      ElementsAre("clusters/api", "clusters/api/endpoints/10.1.0.3:80",
                  "clusters/api/endpoints/[::1]:81", "clusters/api/endpoints/web.internal:82",
                  "clusters/backend", "clusters/backend/endpoints/10.0.0.1:8080",
                  "clusters/backend/endpoints/10.0.0.2:8080", "clusters/empty"));
  // Settings keys no longer embed endpoints.
  for (const char* name : {"api", "backend"}) {
    absl::StatusOr<std::optional<store::KeyValue>> kv = store->Get(ClusterKey(name));
    ASSERT_TRUE(kv.ok() && kv->has_value());
    lb::v1::Cluster settings;
    ASSERT_TRUE(settings.ParseFromString((*kv)->value));
    EXPECT_EQ(settings.endpoints_size(), 0) << name;
    EXPECT_EQ((*kv)->mod_revision, revision + 1);
  }
  EXPECT_EQ(ModRevision(store, "clusters/empty"), empty_version);

  // The same model, each migrated cluster at its new version.
  absl::StatusOr<std::vector<lb::v1::Cluster>> after = registry.ListClusters();
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].name(), (*before)[i].name());
    EXPECT_EQ(Endpoints((*after)[i]), Endpoints((*before)[i])) << (*after)[i].name();
    lb::v1::Cluster a = (*after)[i], b = (*before)[i];
    a.clear_version();
    b.clear_version();
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString()) << a.name();
  }
  EXPECT_THAT(Endpoints((*after)[0]),
              ElementsAre("address: \"10.1.0.3\" port: 80 weight: 3 admin_state: ACTIVE",
                          "address: \"::1\" port: 81 weight: 1 zone: \"z1\" labels { key: "
                          "\"tier\" value: \"gold\" } admin_state: ACTIVE",
                          "address: \"web.internal\" port: 82 weight: 1 admin_state: "
                          "DRAINING"));
  EXPECT_EQ((*after)[0].version(), revision + 1);

  // Once: a second start changes nothing.
  ASSERT_TRUE(registry.Bootstrap().ok());
  absl::StatusOr<int> again = registry.MigrateEndpointKeys();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(*store->CurrentRevision(), revision + 1);

  // Writes go to the new layout: an add writes its own key and the settings key.
  absl::StatusOr<lb::v1::Cluster> added = registry.AddEndpoint("backend", [] {
    lb::v1::Endpoint e;
    e.set_address("10.0.0.3");
    e.set_port(8080);
    return e;
  }());
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->endpoints_size(), 3);
  EXPECT_EQ(Keys(store, EndpointPrefix("backend")).size(), 3u);
}

TEST(MigrationTest, RetriesWhenAClusterChangesMeanwhile) {
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
  ASSERT_TRUE(s.ok()) << s.status();
  lb::v1::Cluster old;
  old.set_name("old");
  old.add_endpoints()->set_address("10.0.0.1");
  old.mutable_endpoints(0)->set_port(80);
  ASSERT_TRUE((*s)->Txn({}, {store::Op::Put("clusters/old", old.SerializeAsString())}).ok());
  testing::FakeStore fake(s->get());
  // Another writer (still on the old layout) adds an endpoint just before the first attempt.
  fake.BeforeNextTxn([&] {
    old.add_endpoints()->set_address("10.0.0.2");
    old.mutable_endpoints(1)->set_port(80);
    ASSERT_TRUE((*s)->Txn({}, {store::Op::Put("clusters/old", old.SerializeAsString())}).ok());
  });
  Registry registry(&fake);
  absl::StatusOr<int> migrated = registry.MigrateEndpointKeys();
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ(*migrated, 1);
  EXPECT_EQ(fake.txn_calls(), 2);
  EXPECT_THAT(Keys(s->get(), kClusterPrefix),
              ElementsAre("clusters/old", "clusters/old/endpoints/10.0.0.1:80",
                          "clusters/old/endpoints/10.0.0.2:80"));
  // A storage failure is reported, nothing written.
  fake.FailList(absl::UnavailableError("down"));
  EXPECT_EQ(registry.Bootstrap().code(), absl::StatusCode::kUnavailable);
}

// The same migration through EtcdStore: the layout of today's code written with the Store.
TEST(MigrationTest, Etcd) {
  absl::StatusOr<std::unique_ptr<testing::EtcdCluster>> etcd = testing::EtcdCluster::Start(1);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  store::EtcdStore::Options options;
  options.endpoints = (*etcd)->endpoints();
  absl::StatusOr<std::unique_ptr<store::EtcdStore>> s = store::EtcdStore::Connect(options);
  ASSERT_TRUE(s.ok()) << s.status();
  store::Store* store = s->get();
  lb::v1::Cluster web;
  web.set_name("web");
  for (int i = 1; i <= 3; ++i) {
    lb::v1::Endpoint* e = web.add_endpoints();
    e->set_address(absl::StrCat("10.0.0.", i));
    e->set_port(80);
    e->set_weight(i);
  }
  ASSERT_TRUE(store->Txn({}, {store::Op::Put("clusters/web", web.SerializeAsString())}).ok());
  Registry registry(store);
  ASSERT_TRUE(registry.Bootstrap().ok());
  EXPECT_THAT(
      Keys(store, kClusterPrefix),
      ElementsAre("clusters/backend", "clusters/web", "clusters/web/endpoints/10.0.0.1:80",
                  "clusters/web/endpoints/10.0.0.2:80", "clusters/web/endpoints/10.0.0.3:80"));
  absl::StatusOr<lb::v1::Cluster> c = registry.GetCluster("web");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->endpoints_size(), 3);
  EXPECT_EQ(c->endpoints(2).weight(), 3u);
  // Cluster delete takes the endpoint keys along, in one transaction.
  ASSERT_TRUE(registry.DeleteCluster("web", c->version()).ok());
  EXPECT_THAT(Keys(store, kClusterPrefix), ElementsAre("clusters/backend"));
}

}  // namespace
}  // namespace lb::registry
