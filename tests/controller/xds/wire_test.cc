// Encoding of ADS responses from shared resource bytes (controller/xds/wire.h) and the layout of
// Resource's serialized entries: byte-for-byte what protobuf serializes for the same response,
// without copying the resources' bytes.
#include "controller/xds/wire.h"

#include <grpcpp/impl/grpc_library.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "controller/xds/protocol.h"
#include "controller/xds/resources.h"
#include "controller/xds/snapshot.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace lb::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryResponse;
using google::protobuf::util::MessageDifferencer;

class WireTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static grpc::internal::GrpcLibraryInitializer init;
    init.summon();
  }
};

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// The bytes protobuf itself produces for the message, deterministically.
std::string Serialized(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(m.SerializeToString(&out));
  return out;
}

ResourcePtr Eds(const std::string& name, int endpoints) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name(name);
  auto* loc = cla.add_endpoints();
  for (int i = 0; i < endpoints; ++i) {
    auto* sa =
        loc->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
    sa->set_address("10.0.0." + std::to_string(i % 250));
    sa->set_port_value(8000 + i);
  }
  return MakeResource(name, cla);
}

ResourcePtr Cds(const std::string& name) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  return MakeResource(name, c);
}

TEST_F(WireTest, ResourceEntriesAreTheSerializedFields) {
  // Sizes chosen so the length prefixes take one, two and three bytes.
  for (int endpoints : {0, 1, 10, 200, 3000}) {
    SCOPED_TRACE(endpoints);
    ResourcePtr r = Eds("cluster-" + std::to_string(endpoints), endpoints);
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    ASSERT_TRUE(cla.ParseFromArray(r->value().data(), r->value().size()));
    EXPECT_EQ(cla.cluster_name(), r->name);
    EXPECT_EQ(r->type_url, kEndpointType);

    google::protobuf::Any any = r->ToAny();
    EXPECT_EQ(r->any_bytes(), Serialized(any));

    DiscoveryResponse sotw;
    *sotw.add_resources() = any;
    grpc::Slice sotw_entry(r->SotwEntry(), grpc::Slice::STEAL_REF);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sotw_entry.begin()), sotw_entry.size()),
              Serialized(sotw));
    EXPECT_EQ(sotw_entry.size(), r->sotw_entry_size());

    DeltaDiscoveryResponse delta;
    auto* entry = delta.add_resources();
    entry->set_name(r->name);
    entry->set_version(r->version);
    *entry->mutable_resource() = any;
    grpc::Slice delta_entry(r->DeltaEntry(), grpc::Slice::STEAL_REF);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(delta_entry.begin()), delta_entry.size()),
              Serialized(delta));
    EXPECT_EQ(delta_entry.size(), r->delta_entry_size());
  }
}

TEST_F(WireTest, SotwResponseMatchesProtobuf) {
  SotwResponse r;
  r.type_url = kEndpointType;
  r.version_info = "0123456789abcdef";
  r.nonce = "42";
  r.control_plane_id = "cp-1";
  r.resources = {Eds("a", 3), Eds("b", 300), Eds("c", 0)};
  EXPECT_EQ(Flatten(Encode(r)), Serialized(ToProto(r)));

  DiscoveryResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(Encode(r))));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, ToProto(r))) << parsed.DebugString();
  ASSERT_EQ(parsed.resources_size(), 3);
  EXPECT_EQ(parsed.resources(1).value(), r.resources[1]->value());

  // No resources (an empty full-state answer), empty fields and an empty control plane id.
  SotwResponse empty;
  empty.type_url = kClusterType;
  empty.version_info = "0000000000000000";
  empty.nonce = "1";
  EXPECT_EQ(Flatten(Encode(empty)), Serialized(ToProto(empty)));
  SotwResponse bare;
  EXPECT_EQ(Flatten(Encode(bare)), Serialized(ToProto(bare)));
  for (const SotwResponse* each : {&r, &empty, &bare}) {
    EXPECT_EQ(EncodedSize(*each), Encode(*each).Length());
  }
}

TEST_F(WireTest, DeltaResponseMatchesProtobuf) {
  DeltaResponse r;
  r.type_url = kClusterType;
  r.system_version_info = "17";
  r.nonce = "9";
  r.control_plane_id = "a-control-plane-with-a-longer-name";
  r.resources = {Cds("a"), Cds("b")};
  r.removed_resources = {"gone", "x"};
  EXPECT_EQ(Flatten(Encode(r)), Serialized(ToProto(r)));
  DeltaDiscoveryResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(Encode(r))));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, ToProto(r))) << parsed.DebugString();
  ASSERT_EQ(parsed.resources_size(), 2);
  EXPECT_EQ(parsed.resources(0).name(), "a");
  EXPECT_EQ(parsed.resources(0).version(), r.resources[0]->version);
  EXPECT_EQ(parsed.resources(0).resource().type_url(), kClusterType);

  DeltaResponse removed_only;
  removed_only.type_url = kEndpointType;
  removed_only.system_version_info = "3";
  removed_only.nonce = "4";
  removed_only.removed_resources = {"a"};
  EXPECT_EQ(Flatten(Encode(removed_only)), Serialized(ToProto(removed_only)));
  DeltaResponse long_name = removed_only;
  long_name.removed_resources = {std::string(300, 'n'), ""};
  for (const DeltaResponse* each : {&r, &removed_only, &long_name}) {
    EXPECT_EQ(EncodedSize(*each), Encode(*each).Length());
  }
}

TEST_F(WireTest, ResponsesReferenceTheResourceBytesAndKeepThemAlive) {
  ResourcePtr big = Eds("big", 2000);
  const char* value = big->value().data();
  SotwResponse sotw;
  sotw.type_url = kEndpointType;
  sotw.resources = {big};
  DeltaResponse delta;
  delta.type_url = kEndpointType;
  delta.resources = {big};
  const std::string want_sotw = Serialized(ToProto(sotw));
  const std::string want_delta = Serialized(ToProto(delta));
  grpc::ByteBuffer a = Encode(sotw);
  grpc::ByteBuffer b = Encode(delta);
  grpc::ByteBuffer c = Encode(sotw);
  for (const grpc::ByteBuffer* buffer : {&a, &b, &c}) {
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(buffer->Dump(&slices).ok());
    bool shared = false;
    for (const auto& s : slices) {
      const char* begin = reinterpret_cast<const char*>(s.begin());
      shared |= begin <= value && value < begin + s.size();
    }
    EXPECT_TRUE(shared) << "the resource's bytes were copied";
  }
  // The encoded responses outlive every other holder of the resource.
  sotw.resources.clear();
  delta.resources.clear();
  big.reset();
  EXPECT_EQ(Flatten(a), want_sotw);
  EXPECT_EQ(Flatten(b), want_delta);
  EXPECT_EQ(Flatten(c), want_sotw);
}

TEST_F(WireTest, ProtocolResponsesEncodeAsTheirMessages) {
  auto snap = std::make_shared<const Snapshot>()
                  ->WithBoth(kClusterType, {{"a", Cds("a")}, {"b", Cds("b")}})
                  ->WithBoth(kEndpointType, {{"a", Eds("a", 5)}, {"b", Eds("b", 500)}});
  SotwProtocol sotw("cp");
  envoy::service::discovery::v3::DiscoveryRequest req;
  req.set_type_url(kClusterType);
  absl::StatusOr<std::vector<SotwResponse>> cds = sotw.OnRequest(req, *snap);
  ASSERT_TRUE(cds.ok());
  std::vector<SotwResponse> out = *std::move(cds);
  req.set_type_url(kEndpointType);
  req.add_resource_names("a");
  req.add_resource_names("b");
  absl::StatusOr<std::vector<SotwResponse>> eds = sotw.OnRequest(req, *snap);
  ASSERT_TRUE(eds.ok());
  for (auto& r : *eds) out.push_back(std::move(r));
  ASSERT_EQ(out.size(), 2u);
  for (const auto& r : out) EXPECT_EQ(Flatten(Encode(r)), Serialized(ToProto(r)));

  DeltaProtocol delta("cp");
  envoy::service::discovery::v3::DeltaDiscoveryRequest dreq;
  dreq.set_type_url(kEndpointType);
  dreq.add_resource_names_subscribe("a");
  dreq.add_resource_names_subscribe("missing");
  absl::StatusOr<std::vector<DeltaResponse>> dres = delta.OnRequest(dreq, *snap);
  ASSERT_TRUE(dres.ok());
  const std::vector<DeltaResponse>& dout = *dres;
  ASSERT_EQ(dout.size(), 1u);
  EXPECT_EQ(Flatten(Encode(dout[0])), Serialized(ToProto(dout[0])));
  EXPECT_THAT(dout[0].removed_resources, ::testing::ElementsAre("missing"));
}

}  // namespace
}  // namespace lb::xds
