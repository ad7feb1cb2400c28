// Snapshot and MakeResource: deterministic per-resource versions and the sharing of maps
// between successive snapshots.
#include "controller/xds/snapshot.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/xds/resources.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"

namespace lb::xds {
namespace {

envoy::config::cluster::v3::Cluster EnvoyCluster(const std::string& name, int64_t timeout_s) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  c.mutable_connect_timeout()->set_seconds(timeout_s);
  return c;
}

// An lb.v1 cluster whose endpoint carries labels inserted in the given order.
lb::v1::Cluster LabelledCluster(const std::vector<std::pair<std::string, std::string>>& labels) {
  lb::v1::Cluster c;
  c.set_name("labelled");
  lb::v1::Endpoint* e = c.add_endpoints();
  e->set_address("10.0.0.1");
  e->set_port(80);
  for (const auto& [k, v] : labels) (*e->mutable_labels())[k] = v;
  return c;
}

// A route configuration whose routes carry typed_per_filter_config maps (Any values) inserted
// in the given order.
envoy::config::route::v3::RouteConfiguration RouteWithMap(const std::vector<std::string>& keys) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("default");
  auto* vh = rc.add_virtual_hosts();
  vh->set_name("vh");
  vh->add_domains("*");
  for (const auto& k : keys) {
    google::protobuf::UInt32Value v;
    v.set_value(static_cast<uint32_t>(k.size()));
    (*vh->mutable_typed_per_filter_config())[k].PackFrom(v);
  }
  return rc;
}

ResourceMap MapOf(std::vector<ResourcePtr> resources) {
  ResourceMap m;
  for (auto& r : resources) m[r->name] = std::move(r);
  return m;
}

// ---------------------------------------------------------------------------------------------
// MakeResource

TEST(MakeResourceTest, NameAnyAndVersionFormat) {
  auto c = EnvoyCluster("backend", 1);
  ResourcePtr r = MakeResource("backend", c);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "backend");
  EXPECT_EQ(r->type_url, "type.googleapis.com/envoy.config.cluster.v3.Cluster");
  EXPECT_EQ(r->type_url, kClusterType);
  envoy::config::cluster::v3::Cluster back;
  ASSERT_TRUE(r->ToAny().UnpackTo(&back));
  EXPECT_EQ(back.SerializeAsString(), c.SerializeAsString());
  ASSERT_EQ(r->version.size(), 16u);
  EXPECT_EQ(r->version.find_first_not_of("0123456789abcdef"), std::string::npos) << r->version;
}

TEST(MakeResourceTest, TypeUrlsOfAllFourTypes) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name("x");
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("x");
  envoy::config::listener::v3::Listener l;
  l.set_name("x");
  EXPECT_EQ(MakeResource("x", cla)->type_url, kEndpointType);
  EXPECT_EQ(MakeResource("x", rc)->type_url, kRouteType);
  EXPECT_EQ(MakeResource("x", l)->type_url, kListenerType);
  EXPECT_EQ(MakeResource("x", EnvoyCluster("x", 1))->type_url, kClusterType);
}

TEST(MakeResourceTest, VersionIsStableAcrossProcesses) {
  // The version is a fixed 64-bit FNV-1a-style hash of the serialized bytes, not a per-process
  // seeded hash (absl::Hash), so a restarted controller computes the same versions and a
  // reconnecting client is not resent what it has. Golden values pin that: they change only if
  // the algorithm does. (The implementation's offset basis is 1469598103934665603, the
  // standard FNV-1a basis 14695981039346656037 with its last digit missing, hence an empty
  // input hashes to 14650fb0739d0383 rather than cbf29ce484222325; harmless, but noted.)
  envoy::config::cluster::v3::Cluster empty;
  EXPECT_EQ(MakeResource("e", empty)->version, "14650fb0739d0383");
  envoy::config::cluster::v3::Cluster named;
  named.set_name("a");  // Serializes to 0a 01 61.
  EXPECT_EQ(MakeResource("a", named)->version, "dd39e24f57ff9f6d");
  // Equal bytes, equal version, whatever the message type or name.
  envoy::config::endpoint::v3::ClusterLoadAssignment empty_cla;
  EXPECT_EQ(MakeResource("other", empty_cla)->version, MakeResource("e", empty)->version);
}

TEST(MakeResourceTest, SameContentSameVersion) {
  ResourcePtr a = MakeResource("backend", EnvoyCluster("backend", 1));
  ResourcePtr b = MakeResource("backend", EnvoyCluster("backend", 1));
  EXPECT_EQ(a->version, b->version);
  EXPECT_EQ(a->value(), b->value());
  // Built independently, many times: always the same.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(MakeResource("backend", EnvoyCluster("backend", 1))->version, a->version);
  }
}

TEST(MakeResourceTest, DifferentContentDifferentVersion) {
  ResourcePtr a = MakeResource("backend", EnvoyCluster("backend", 1));
  ResourcePtr b = MakeResource("backend", EnvoyCluster("backend", 2));
  ResourcePtr c = MakeResource("other", EnvoyCluster("other", 1));
  EXPECT_NE(a->version, b->version);
  EXPECT_NE(a->version, c->version);
  EXPECT_NE(b->version, c->version);
}

TEST(MakeResourceTest, MapFieldsSerializeDeterministically) {
  // Same labels, inserted in opposite orders (enough entries that hash-map iteration order
  // would differ): same bytes, same version.
  std::vector<std::pair<std::string, std::string>> labels;
  for (int i = 0; i < 64; ++i) {
    labels.emplace_back("key-" + std::to_string(i), "value-" + std::to_string(i * 7));
  }
  std::vector<std::pair<std::string, std::string>> reversed(labels.rbegin(), labels.rend());
  ResourcePtr a = MakeResource("labelled", LabelledCluster(labels));
  ResourcePtr b = MakeResource("labelled", LabelledCluster(reversed));
  EXPECT_EQ(a->version, b->version);
  EXPECT_EQ(a->value(), b->value());

  // One label value differs: different version.
  labels[10].second = "changed";
  EXPECT_NE(MakeResource("labelled", LabelledCluster(labels))->version, a->version);
}

TEST(MakeResourceTest, MapOfAnyFieldsSerializeDeterministically) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("envoy.filters.http.f" + std::to_string(i * 13));
  std::vector<std::string> reversed(keys.rbegin(), keys.rend());
  ResourcePtr a = MakeResource("default", RouteWithMap(keys));
  ResourcePtr b = MakeResource("default", RouteWithMap(reversed));
  EXPECT_EQ(a->version, b->version);
  keys.pop_back();
  EXPECT_NE(MakeResource("default", RouteWithMap(keys))->version, a->version);
}

// ---------------------------------------------------------------------------------------------
// Snapshot

TEST(SnapshotTest, EmptySnapshot) {
  Snapshot s;
  EXPECT_EQ(s.generation(), 0u);
  for (const auto& type : TypeOrder()) {
    EXPECT_TRUE(s.Get(type, ClientFlavor::kEnvoy).empty()) << type;
    EXPECT_TRUE(s.Get(type, ClientFlavor::kGrpc).empty()) << type;
  }
}

// A type this server does not serve.
constexpr char kUnknownType[] = "type.googleapis.com/envoy.service.runtime.v3.Runtime";

TEST(SnapshotTest, TypeOrderIsMakeBeforeBreak) {
  EXPECT_THAT(TypeOrder(), ::testing::ElementsAre(kSecretType, kClusterType, kEndpointType,
                                                  kListenerType, kRouteType));
  EXPECT_TRUE(IsFullStateType(kListenerType));
  EXPECT_TRUE(IsFullStateType(kClusterType));
  EXPECT_FALSE(IsFullStateType(kEndpointType));
  EXPECT_FALSE(IsFullStateType(kRouteType));
  EXPECT_FALSE(IsFullStateType(kSecretType));  // Named, as EDS.
  for (const auto& t : TypeOrder()) EXPECT_TRUE(IsKnownType(t)) << t;
  EXPECT_TRUE(IsKnownType(kSecretType));
  EXPECT_FALSE(IsKnownType(kUnknownType));
  EXPECT_FALSE(IsKnownType(""));
}

TEST(SnapshotTest, WithIncrementsGenerationAndReplacesOnlyOneFlavour) {
  auto s0 = std::make_shared<const Snapshot>();
  ResourcePtr envoy_a = MakeResource("a", EnvoyCluster("a", 1));
  ResourcePtr grpc_a = MakeResource("a", EnvoyCluster("a", 2));

  auto s1 = s0->With(kClusterType, ClientFlavor::kEnvoy, MapOf({envoy_a}));
  EXPECT_EQ(s1->generation(), 1u);
  EXPECT_EQ(s0->generation(), 0u);  // The original is immutable.
  EXPECT_TRUE(s0->Get(kClusterType, ClientFlavor::kEnvoy).empty());
  ASSERT_EQ(s1->Get(kClusterType, ClientFlavor::kEnvoy).size(), 1u);
  EXPECT_EQ(s1->Get(kClusterType, ClientFlavor::kEnvoy).at("a"), envoy_a);
  EXPECT_TRUE(s1->Get(kClusterType, ClientFlavor::kGrpc).empty());

  auto s2 = s1->With(kClusterType, ClientFlavor::kGrpc, MapOf({grpc_a}));
  EXPECT_EQ(s2->generation(), 2u);
  EXPECT_EQ(s2->Get(kClusterType, ClientFlavor::kEnvoy).at("a"), envoy_a);
  EXPECT_EQ(s2->Get(kClusterType, ClientFlavor::kGrpc).at("a"), grpc_a);
  // The Envoy map was not copied: s1 and s2 share it.
  EXPECT_EQ(&s1->Get(kClusterType, ClientFlavor::kEnvoy),
            &s2->Get(kClusterType, ClientFlavor::kEnvoy));
  // Other types untouched.
  for (const char* t : {kEndpointType, kListenerType, kRouteType}) {
    EXPECT_TRUE(s2->Get(t, ClientFlavor::kEnvoy).empty()) << t;
    EXPECT_TRUE(s2->Get(t, ClientFlavor::kGrpc).empty()) << t;
  }
}

TEST(SnapshotTest, WithBothSharesOneMapForBothFlavours) {
  auto s0 = std::make_shared<const Snapshot>();
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name("a");
  ResourcePtr a = MakeResource("a", cla);
  auto s1 = s0->WithBoth(kEndpointType, MapOf({a}));
  EXPECT_EQ(s1->generation(), 1u);
  EXPECT_EQ(&s1->Get(kEndpointType, ClientFlavor::kEnvoy),
            &s1->Get(kEndpointType, ClientFlavor::kGrpc));
  EXPECT_EQ(s1->Get(kEndpointType, ClientFlavor::kGrpc).at("a"), a);
  EXPECT_TRUE(s0->Get(kEndpointType, ClientFlavor::kEnvoy).empty());
}

TEST(SnapshotTest, UnchangedTypesAreSharedBetweenSnapshots) {
  auto s0 = std::make_shared<const Snapshot>();
  ResourcePtr c = MakeResource("a", EnvoyCluster("a", 1));
  envoy::config::listener::v3::Listener l;
  l.set_name("a");
  ResourcePtr lr = MakeResource("a", l);
  auto s1 = s0->WithBoth(kClusterType, MapOf({c}));
  auto s2 = s1->WithBoth(kListenerType, MapOf({lr}));
  auto s3 = s2->WithBoth(kListenerType, {});
  EXPECT_EQ(s3->generation(), 3u);
  // The CDS map object is the same one in s1, s2 and s3; the resource pointer too.
  EXPECT_EQ(&s1->Get(kClusterType, ClientFlavor::kEnvoy),
            &s2->Get(kClusterType, ClientFlavor::kEnvoy));
  EXPECT_EQ(&s2->Get(kClusterType, ClientFlavor::kGrpc),
            &s3->Get(kClusterType, ClientFlavor::kGrpc));
  EXPECT_EQ(s3->Get(kClusterType, ClientFlavor::kEnvoy).at("a").get(), c.get());
  // The listener map changed and the older snapshot still holds its own.
  EXPECT_EQ(s2->Get(kListenerType, ClientFlavor::kEnvoy).size(), 1u);
  EXPECT_TRUE(s3->Get(kListenerType, ClientFlavor::kEnvoy).empty());
  EXPECT_NE(&s2->Get(kListenerType, ClientFlavor::kEnvoy),
            &s3->Get(kListenerType, ClientFlavor::kEnvoy));
}

TEST(SnapshotTest, TypesAreIndependent) {
  auto s = std::make_shared<const Snapshot>();
  for (const auto& type : TypeOrder()) {
    envoy::config::cluster::v3::Cluster m = EnvoyCluster(type, 1);
    s = s->WithBoth(type, MapOf({MakeResource(type, m)}));
  }
  EXPECT_EQ(s->generation(), TypeOrder().size());
  for (const auto& type : TypeOrder()) {
    const ResourceMap& m = s->Get(type, ClientFlavor::kEnvoy);
    ASSERT_EQ(m.size(), 1u) << type;
    EXPECT_EQ(m.begin()->first, type);
  }
}

}  // namespace
}  // namespace lb::xds
