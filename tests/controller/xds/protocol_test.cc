// The ADS protocol state machines (SotwProtocol, DeltaProtocol) driven directly: requests and
// published snapshots in, responses out. One test (at least) per rule of
// docs/xds-protocol.md; every test checks the exact fields of the responses.
#include "controller/xds/protocol.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/xds/resources.h"
#include "controller/xds/snapshot.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"

namespace lb::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Names = std::vector<std::string>;

constexpr char kCp[] = "cp-test-1";

// ---------------------------------------------------------------------------------------------
// Resources. `rev` changes the content (and so the version) without changing the name.

ResourcePtr Cds(const std::string& name, int rev = 0) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  c.mutable_connect_timeout()->set_seconds(1 + rev);
  return MakeResource(name, c);
}

ResourcePtr CdsWithPolicy(const std::string& name,
                          envoy::config::cluster::v3::Cluster::LbPolicy policy) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_lb_policy(policy);
  return MakeResource(name, c);
}

ResourcePtr Eds(const std::string& name, int rev = 0) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name(name);
  auto* loc = cla.add_endpoints();
  loc->mutable_locality()->set_zone("z");
  loc->mutable_load_balancing_weight()->set_value(1);
  auto* sa =
      loc->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
  sa->set_address("10.0.0.1");
  sa->set_port_value(8000 + rev);
  return MakeResource(name, cla);
}

ResourcePtr Lds(const std::string& name, int rev = 0) {
  envoy::config::listener::v3::Listener l;
  l.set_name(name);
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address("0.0.0.0");
  sa->set_port_value(10000 + rev);
  return MakeResource(name, l);
}

ResourcePtr Rds(const std::string& name, const std::string& cluster = "c") {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name(name);
  auto* vh = rc.add_virtual_hosts();
  vh->set_name("vh");
  vh->add_domains("*");
  auto* r = vh->add_routes();
  r->mutable_match()->set_prefix("/");
  r->mutable_route()->set_cluster(cluster);
  return MakeResource(name, rc);
}

// A type this server does not serve.
constexpr char kUnknownType[] = "type.googleapis.com/envoy.service.runtime.v3.Runtime";

ResourcePtr Sds(const std::string& name, int rev = 0) {
  envoy::extensions::transport_sockets::tls::v3::Secret secret;
  secret.set_name(name);
  secret.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_string(
      absl::StrCat("chain ", rev));
  return MakeResource(name, secret);
}

ResourceMap MapOf(std::vector<ResourcePtr> resources) {
  ResourceMap m;
  for (auto& r : resources) m[r->name] = std::move(r);
  return m;
}

ChangeSet Changed(const std::string& type, const Names& names) {
  ChangeSet cs;
  cs.emplace_back(type, absl::flat_hash_set<std::string>(names.begin(), names.end()));
  return cs;
}

// The resource name inside an Any, decoded by its type URL.
std::string NameOf(const google::protobuf::Any& any) {
  if (any.type_url() == kClusterType) {
    envoy::config::cluster::v3::Cluster m;
    EXPECT_TRUE(any.UnpackTo(&m));
    return m.name();
  }
  if (any.type_url() == kEndpointType) {
    envoy::config::endpoint::v3::ClusterLoadAssignment m;
    EXPECT_TRUE(any.UnpackTo(&m));
    return m.cluster_name();
  }
  if (any.type_url() == kListenerType) {
    envoy::config::listener::v3::Listener m;
    EXPECT_TRUE(any.UnpackTo(&m));
    return m.name();
  }
  if (any.type_url() == kRouteType) {
    envoy::config::route::v3::RouteConfiguration m;
    EXPECT_TRUE(any.UnpackTo(&m));
    return m.name();
  }
  if (any.type_url() == kSecretType) {
    envoy::extensions::transport_sockets::tls::v3::Secret m;
    EXPECT_TRUE(any.UnpackTo(&m));
    return m.name();
  }
  ADD_FAILURE() << "unexpected Any type " << any.type_url();
  return "";
}

// Resource names of a SotW response, sorted; every Any must be of the response's type.
Names NamesOf(const DiscoveryResponse& r) {
  Names out;
  for (const auto& any : r.resources()) {
    EXPECT_EQ(any.type_url(), r.type_url());
    out.push_back(NameOf(any));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Resource names of a delta response, sorted; checks each entry's name against the Any.
Names NamesOf(const DeltaDiscoveryResponse& r) {
  Names out;
  for (const auto& res : r.resources()) {
    EXPECT_EQ(res.resource().type_url(), r.type_url());
    EXPECT_EQ(res.name(), NameOf(res.resource()));
    EXPECT_FALSE(res.version().empty()) << res.name();
    out.push_back(res.name());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Names Removed(const DeltaDiscoveryResponse& r) {
  Names out(r.removed_resources().begin(), r.removed_resources().end());
  std::sort(out.begin(), out.end());
  return out;
}

template <typename Response>
std::vector<std::string> TypesOf(const std::vector<Response>& responses) {
  std::vector<std::string> out;
  for (const auto& r : responses) out.push_back(r.type_url());
  return out;
}

uint64_t NonceNumber(const std::string& nonce) {
  uint64_t n = 0;
  EXPECT_TRUE(absl::SimpleAtoi(nonce, &n)) << "nonce not numeric: " << nonce;
  return n;
}

// The protocols answer with light responses that reference the shared resources; the tests
// check them as the messages a client would receive (ToProto).
std::vector<DiscoveryResponse> Protos(const std::vector<SotwResponse>& responses) {
  std::vector<DiscoveryResponse> out;
  for (const auto& r : responses) out.push_back(ToProto(r));
  return out;
}
std::vector<DeltaDiscoveryResponse> Protos(const std::vector<DeltaResponse>& responses) {
  std::vector<DeltaDiscoveryResponse> out;
  for (const auto& r : responses) out.push_back(ToProto(r));
  return out;
}
template <typename R>
auto Protos(const absl::StatusOr<std::vector<R>>& result)
    -> absl::StatusOr<decltype(Protos(std::vector<R>()))> {
  if (!result.ok()) return result.status();
  return Protos(*result);
}

// The value of an OnRequest result, which must be OK, as messages.
template <typename R>
auto ValueOr(const absl::StatusOr<std::vector<R>>& result) -> decltype(Protos(*result)) {
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? Protos(*result) : decltype(Protos(*result))();
}

envoy::config::core::v3::Node MakeNode(const std::string& id, const std::string& agent) {
  envoy::config::core::v3::Node node;
  node.set_id(id);
  node.set_user_agent_name(agent);
  node.mutable_locality()->set_zone("zone-" + id);
  return node;
}

// ---------------------------------------------------------------------------------------------
// SotW requests

DiscoveryRequest SReq(const std::string& type, const Names& names) {
  DiscoveryRequest r;
  r.set_type_url(type);
  for (const auto& n : names) r.add_resource_names(n);
  return r;
}

// ACK of `resp`, (re)stating the subscription `names`.
DiscoveryRequest SAck(const DiscoveryResponse& resp, const Names& names) {
  DiscoveryRequest r = SReq(resp.type_url(), names);
  r.set_version_info(resp.version_info());
  r.set_response_nonce(resp.nonce());
  return r;
}

// NACK of `resp`: version_info is the previous good one, error_detail says why.
DiscoveryRequest SNack(const DiscoveryResponse& resp, const Names& names,
                       const std::string& previous_version, const std::string& error) {
  DiscoveryRequest r = SReq(resp.type_url(), names);
  r.set_version_info(previous_version);
  r.set_response_nonce(resp.nonce());
  r.mutable_error_detail()->set_code(3);  // INVALID_ARGUMENT, as gRPC clients send.
  r.mutable_error_detail()->set_message(error);
  return r;
}

// Common checks of every SotW response.
void ExpectWellFormed(const DiscoveryResponse& r, const std::string& type) {
  EXPECT_EQ(r.type_url(), type);
  EXPECT_FALSE(r.version_info().empty());
  EXPECT_FALSE(r.nonce().empty());
  EXPECT_EQ(r.control_plane().identifier(), kCp);
  EXPECT_FALSE(r.canary());
}

// A snapshot under construction plus helpers to drive one protocol instance.
class SotwTest : public ::testing::Test {
 protected:
  void Set(const std::string& type, std::vector<ResourcePtr> resources) {
    snap_ = snap_->WithBoth(type, MapOf(std::move(resources)));
  }

  std::vector<DiscoveryResponse> Send(const DiscoveryRequest& r) { return Send(proto_, r); }
  std::vector<DiscoveryResponse> Send(SotwProtocol& p, const DiscoveryRequest& r) {
    absl::StatusOr<std::vector<DiscoveryResponse>> out = Protos(p.OnRequest(r, *snap_));
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return {};
    for (const auto& resp : *out) sent_.push_back(resp);
    return *std::move(out);
  }
  // Exactly one response expected.
  DiscoveryResponse SendOne(const DiscoveryRequest& r) {
    std::vector<DiscoveryResponse> out = Send(r);
    EXPECT_THAT(out, SizeIs(1));
    return out.empty() ? DiscoveryResponse() : out[0];
  }

  std::vector<DiscoveryResponse> Push(const ChangeSet& changes) { return Push(proto_, changes); }
  std::vector<DiscoveryResponse> Push(SotwProtocol& p, const ChangeSet& changes) {
    std::vector<DiscoveryResponse> out = Protos(p.OnSnapshot(*snap_, changes));
    for (const auto& resp : out) sent_.push_back(resp);
    return out;
  }
  DiscoveryResponse PushOne(const ChangeSet& changes) {
    std::vector<DiscoveryResponse> out = Push(changes);
    EXPECT_THAT(out, SizeIs(1));
    return out.empty() ? DiscoveryResponse() : out[0];
  }

  TypeStatus StatusOf(const std::string& type) const { return StatusOf(proto_, type); }
  static TypeStatus StatusOf(const SotwProtocol& p, const std::string& type) {
    for (const TypeStatus& t : p.Status()) {
      if (t.type_url == type) return t;
    }
    ADD_FAILURE() << "no status for " << type;
    return TypeStatus();
  }

  std::shared_ptr<const Snapshot> snap_ = std::make_shared<const Snapshot>();
  SotwProtocol proto_{kCp};
  std::vector<DiscoveryResponse> sent_;  // Everything proto_ returned, in order.
};

// --- First request --------------------------------------------------------------------------

TEST_F(SotwTest, FirstLdsAndCdsRequestAnsweredEvenWhenEmpty) {
  for (const char* type : {kListenerType, kClusterType}) {
    SCOPED_TRACE(type);
    DiscoveryResponse r = SendOne(SReq(type, {}));
    ExpectWellFormed(r, type);
    EXPECT_THAT(r.resources(), IsEmpty());
    TypeStatus st = StatusOf(type);
    EXPECT_EQ(st.version_sent, r.version_info());
    EXPECT_EQ(st.responses, 1u);
    EXPECT_TRUE(st.wildcard);
  }
}

TEST_F(SotwTest, FirstNamedLdsAndCdsRequestAnsweredEvenIfNamesMissing) {
  Set(kListenerType, {Lds("other")});
  Set(kClusterType, {Cds("other")});
  for (const char* type : {kListenerType, kClusterType}) {
    SCOPED_TRACE(type);
    DiscoveryResponse r = SendOne(SReq(type, {"missing"}));
    ExpectWellFormed(r, type);
    EXPECT_THAT(r.resources(), IsEmpty());  // "other" is not requested.
    EXPECT_FALSE(StatusOf(type).wildcard);
    EXPECT_EQ(StatusOf(type).subscribed, 1u);
  }
}

TEST_F(SotwTest, FirstRequestWithContent) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  DiscoveryResponse r = SendOne(SReq(kClusterType, {}));
  ExpectWellFormed(r, kClusterType);
  EXPECT_EQ(NamesOf(r), (Names{"a", "b"}));
  // The Any carries exactly the serialized resource.
  for (const auto& any : r.resources()) {
    EXPECT_EQ(any.value(), snap_->Get(kClusterType, ClientFlavor::kEnvoy).at(NameOf(any))->value());
  }
}

TEST_F(SotwTest, FirstEdsRdsRequestAnsweredWhenNamesExistSilentOtherwise) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  Set(kRouteType, {Rds("default")});
  DiscoveryResponse eds = SendOne(SReq(kEndpointType, {"a"}));
  ExpectWellFormed(eds, kEndpointType);
  EXPECT_EQ(NamesOf(eds), (Names{"a"}));
  DiscoveryResponse rds = SendOne(SReq(kRouteType, {"default"}));
  ExpectWellFormed(rds, kRouteType);
  EXPECT_EQ(NamesOf(rds), (Names{"default"}));

  // Nothing to send for names that don't exist (yet): no empty EDS/RDS response.
  SotwProtocol other(kCp);
  EXPECT_THAT(Send(other, SReq(kEndpointType, {"nope"})), IsEmpty());
  EXPECT_THAT(Send(other, SReq(kRouteType, {"nope"})), IsEmpty());
}

// SDS is named like EDS: only the subscribed secrets, changes only, never a wildcard.
TEST_F(SotwTest, SecretsByNameOnly) {
  Set(kSecretType, {Sds("web"), Sds("api"), Sds("lb.session-ticket-keys")});
  DiscoveryResponse r1 = SendOne(SReq(kSecretType, {"web", "lb.session-ticket-keys"}));
  ExpectWellFormed(r1, kSecretType);
  EXPECT_EQ(NamesOf(r1), (Names{"lb.session-ticket-keys", "web"}));
  EXPECT_EQ(StatusOf(kSecretType).subscribed, 2u);
  EXPECT_FALSE(StatusOf(kSecretType).wildcard);
  EXPECT_THAT(Send(SAck(r1, {"web", "lb.session-ticket-keys"})), IsEmpty());
  // A change of an unsubscribed secret sends nothing; of a subscribed one, that one.
  Set(kSecretType, {Sds("web"), Sds("api", 1), Sds("lb.session-ticket-keys")});
  EXPECT_THAT(Push(Changed(kSecretType, {"api"})), IsEmpty());
  Set(kSecretType, {Sds("web", 2), Sds("api", 1), Sds("lb.session-ticket-keys")});
  DiscoveryResponse r2 = PushOne(Changed(kSecretType, {"web"}));
  EXPECT_EQ(NamesOf(r2), (Names{"web"}));
  // "*" and an empty list are not wildcards for SDS.
  SotwProtocol other(kCp);
  EXPECT_THAT(Send(other, SReq(kSecretType, {"*"})), IsEmpty());
  EXPECT_THAT(Send(other, SReq(kSecretType, {"nope"})), IsEmpty());
}

// --- Node and flavour -----------------------------------------------------------------------

TEST_F(SotwTest, NodeTakenFromFirstRequestOnly) {
  Set(kClusterType, {Cds("a")});
  DiscoveryRequest first = SReq(kClusterType, {});
  *first.mutable_node() = MakeNode("proxy-1", "envoy");
  DiscoveryResponse r = SendOne(first);

  DiscoveryRequest second = SAck(r, {});
  *second.mutable_node() = MakeNode("impostor", "gRPC C-core");
  EXPECT_THAT(Send(second), IsEmpty());
  DiscoveryRequest third = SReq(kListenerType, {});
  *third.mutable_node() = MakeNode("impostor-2", "gRPC Go");
  Send(third);

  EXPECT_TRUE(proto_.identity().has_node());
  EXPECT_EQ(proto_.identity().node().id(), "proxy-1");
  EXPECT_EQ(proto_.identity().node().locality().zone(), "zone-proxy-1");
  EXPECT_EQ(proto_.identity().node().user_agent_name(), "envoy");
  EXPECT_EQ(proto_.identity().flavor(), ClientFlavor::kEnvoy);
}

TEST_F(SotwTest, NodeFromFirstRequestCarryingOne) {
  SotwProtocol p(kCp);
  Send(p, SReq(kClusterType, {}));  // No node (not allowed by clients, but harmless).
  EXPECT_FALSE(p.identity().has_node());
  DiscoveryRequest r = SReq(kListenerType, {});
  *r.mutable_node() = MakeNode("late", "envoy");
  Send(p, r);
  EXPECT_TRUE(p.identity().has_node());
  EXPECT_EQ(p.identity().node().id(), "late");
}

TEST_F(SotwTest, GrpcClientsGetTheGrpcClusterMap) {
  snap_ = snap_
              ->With(kClusterType, ClientFlavor::kEnvoy,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::MAGLEV)}))
              ->With(kClusterType, ClientFlavor::kGrpc,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::RING_HASH)}));
  struct Case {
    std::string agent;
    ClientFlavor flavor;
    envoy::config::cluster::v3::Cluster::LbPolicy policy;
  };
  for (const Case& c : std::vector<Case>{
           {"gRPC C-core", ClientFlavor::kGrpc, envoy::config::cluster::v3::Cluster::RING_HASH},
           {"gRPC Java", ClientFlavor::kGrpc, envoy::config::cluster::v3::Cluster::RING_HASH},
           {"envoy", ClientFlavor::kEnvoy, envoy::config::cluster::v3::Cluster::MAGLEV},
           {"", ClientFlavor::kEnvoy, envoy::config::cluster::v3::Cluster::MAGLEV},
       }) {
    SCOPED_TRACE(c.agent);
    SotwProtocol p(kCp);
    DiscoveryRequest req = SReq(kClusterType, {"a"});
    *req.mutable_node() = MakeNode("n", c.agent);
    std::vector<DiscoveryResponse> out = Send(p, req);
    ASSERT_THAT(out, SizeIs(1));
    EXPECT_EQ(p.identity().flavor(), c.flavor);
    ASSERT_EQ(out[0].resources_size(), 1);
    envoy::config::cluster::v3::Cluster cluster;
    ASSERT_TRUE(out[0].resources(0).UnpackTo(&cluster));
    EXPECT_EQ(cluster.name(), "a");
    EXPECT_EQ(cluster.lb_policy(), c.policy);
  }
}

// --- Malformed and unknown requests ---------------------------------------------------------

TEST_F(SotwTest, MissingTypeUrlIsInvalidArgument) {
  DiscoveryRequest r;
  r.add_resource_names("a");
  absl::StatusOr<std::vector<DiscoveryResponse>> out = Protos(proto_.OnRequest(r, *snap_));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SotwTest, UnknownTypeIgnored) {
  absl::StatusOr<std::vector<DiscoveryResponse>> out =
      Protos(proto_.OnRequest(SReq(kUnknownType, {"cert"}), *snap_));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, IsEmpty());
  EXPECT_THAT(proto_.Status(), IsEmpty());
  // And it doesn't disturb known types.
  DiscoveryResponse r = SendOne(SReq(kClusterType, {}));
  EXPECT_EQ(r.nonce(), "1");
}

// --- ACK and NACK ---------------------------------------------------------------------------

TEST_F(SotwTest, AckProducesNoResponseAndRecordsVersion) {
  Set(kClusterType, {Cds("a")});
  Set(kEndpointType, {Eds("a")});
  DiscoveryResponse cds = SendOne(SReq(kClusterType, {}));
  DiscoveryResponse eds = SendOne(SReq(kEndpointType, {"a"}));
  EXPECT_EQ(StatusOf(kClusterType).version_acked, "");

  EXPECT_THAT(Send(SAck(cds, {})), IsEmpty());
  EXPECT_THAT(Send(SAck(eds, {"a"})), IsEmpty());
  for (const auto& [type, resp] : std::vector<std::pair<std::string, DiscoveryResponse>>{
           {kClusterType, cds}, {kEndpointType, eds}}) {
    TypeStatus st = StatusOf(type);
    EXPECT_EQ(st.version_sent, resp.version_info()) << type;
    EXPECT_EQ(st.version_acked, resp.version_info()) << type;
    EXPECT_EQ(st.nacks, 0u) << type;
    EXPECT_EQ(st.nacked_version, "") << type;
    EXPECT_EQ(st.responses, 1u) << type;
  }
  // Acking again (same nonce) is still no response.
  EXPECT_THAT(Send(SAck(cds, {})), IsEmpty());
}

TEST_F(SotwTest, NackRecordedNotRepushedUntilResourceChanges) {
  Set(kClusterType, {Cds("a", 0), Cds("b", 0)});
  DiscoveryResponse r1 = SendOne(SReq(kClusterType, {}));
  EXPECT_THAT(Send(SAck(r1, {})), IsEmpty());

  Set(kClusterType, {Cds("a", 1), Cds("b", 0)});
  DiscoveryResponse r2 = PushOne(Changed(kClusterType, {"a"}));
  ExpectWellFormed(r2, kClusterType);
  EXPECT_NE(r2.version_info(), r1.version_info());

  // NACK: version_info is the previous good one.
  EXPECT_THAT(Send(SNack(r2, {}, r1.version_info(), "cluster a: bad timeout")), IsEmpty());
  TypeStatus st = StatusOf(kClusterType);
  EXPECT_EQ(st.nacks, 1u);
  EXPECT_EQ(st.nacked_version, r2.version_info());
  EXPECT_EQ(st.last_nack_error, "cluster a: bad timeout");
  EXPECT_EQ(st.version_acked, r1.version_info());  // Unchanged by the NACK.
  EXPECT_EQ(st.version_sent, r2.version_info());
  EXPECT_EQ(st.responses, 2u);

  // Not re-pushed: not on the NACK, not on a republish of the same content, not on a
  // repeated request.
  EXPECT_THAT(Push(Changed(kClusterType, {"a"})), IsEmpty());
  Set(kClusterType, {Cds("a", 1), Cds("b", 0)});  // New snapshot, same content.
  EXPECT_THAT(Push(Changed(kClusterType, {"a", "b"})), IsEmpty());

  // The resource changes: pushed again.
  Set(kClusterType, {Cds("a", 2), Cds("b", 0)});
  DiscoveryResponse r3 = PushOne(Changed(kClusterType, {"a"}));
  ExpectWellFormed(r3, kClusterType);
  EXPECT_EQ(NamesOf(r3), (Names{"a", "b"}));
  EXPECT_NE(r3.version_info(), r2.version_info());
  EXPECT_THAT(Send(SAck(r3, {})), IsEmpty());
  st = StatusOf(kClusterType);
  EXPECT_EQ(st.version_acked, r3.version_info());
  EXPECT_EQ(st.nacks, 1u);  // History kept.
  EXPECT_EQ(st.nacked_version, r2.version_info());
}

TEST_F(SotwTest, NackOfEdsNotRepushedUntilChange) {
  Set(kEndpointType, {Eds("a", 0)});
  DiscoveryResponse r1 = SendOne(SReq(kEndpointType, {"a"}));
  EXPECT_THAT(Send(SNack(r1, {"a"}, "", "endpoint weight 0")), IsEmpty());
  EXPECT_EQ(StatusOf(kEndpointType).nacks, 1u);
  EXPECT_EQ(StatusOf(kEndpointType).nacked_version, r1.version_info());
  EXPECT_EQ(StatusOf(kEndpointType).last_nack_error, "endpoint weight 0");
  EXPECT_EQ(StatusOf(kEndpointType).version_acked, "");
  EXPECT_THAT(Push(Changed(kEndpointType, {"a"})), IsEmpty());

  Set(kEndpointType, {Eds("a", 1)});
  DiscoveryResponse r2 = PushOne(Changed(kEndpointType, {"a"}));
  EXPECT_EQ(NamesOf(r2), (Names{"a"}));
}

TEST_F(SotwTest, NackDetectedFromErrorDetailNotVersion) {
  Set(kClusterType, {Cds("a")});
  DiscoveryResponse r1 = SendOne(SReq(kClusterType, {}));
  // error_detail with a code but no message is a NACK, even echoing the current version.
  DiscoveryRequest nack = SAck(r1, {});
  nack.mutable_error_detail()->set_code(3);
  EXPECT_THAT(Send(nack), IsEmpty());
  EXPECT_EQ(StatusOf(kClusterType).nacks, 1u);
  EXPECT_EQ(StatusOf(kClusterType).version_acked, "");
  // A version_info the server never sent, without error_detail, is an ACK.
  DiscoveryRequest ack = SAck(r1, {});
  ack.set_version_info("something-else");
  EXPECT_THAT(Send(ack), IsEmpty());
  EXPECT_EQ(StatusOf(kClusterType).nacks, 1u);
  EXPECT_EQ(StatusOf(kClusterType).version_acked, r1.version_info());
}

// --- Nonces ---------------------------------------------------------------------------------

TEST_F(SotwTest, StaleNonceIgnored) {
  Set(kEndpointType, {Eds("a", 0), Eds("b", 0)});
  DiscoveryResponse r1 = SendOne(SReq(kEndpointType, {"a"}));
  Set(kEndpointType, {Eds("a", 1), Eds("b", 0)});
  DiscoveryResponse r2 = PushOne(Changed(kEndpointType, {"a"}));
  TypeStatus before = StatusOf(kEndpointType);

  // Answers to r1 (superseded by r2): a NACK, an ACK and a subscription change. All ignored.
  EXPECT_THAT(Send(SNack(r1, {"a", "b"}, "", "late complaint")), IsEmpty());
  EXPECT_THAT(Send(SAck(r1, {"a", "b"})), IsEmpty());
  TypeStatus after = StatusOf(kEndpointType);
  EXPECT_EQ(after.nacks, 0u);
  EXPECT_EQ(after.last_nack_error, "");
  EXPECT_EQ(after.version_acked, before.version_acked);
  EXPECT_EQ(after.version_sent, before.version_sent);
  EXPECT_EQ(after.subscribed, 1u);
  EXPECT_EQ(after.responses, 2u);
  // "b" was not subscribed by the stale request.
  Set(kEndpointType, {Eds("a", 1), Eds("b", 1)});
  EXPECT_THAT(Push(Changed(kEndpointType, {"b"})), IsEmpty());

  // A nonce never sent on this stream is stale too.
  DiscoveryRequest bogus = SReq(kEndpointType, {"a", "b"});
  bogus.set_response_nonce("999");
  EXPECT_THAT(Send(bogus), IsEmpty());
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);

  // The current nonce works.
  DiscoveryResponse r3 = SendOne(SAck(r2, {"a", "b"}));
  EXPECT_EQ(NamesOf(r3), (Names{"b"}));
  EXPECT_EQ(StatusOf(kEndpointType).version_acked, r2.version_info());
}

TEST_F(SotwTest, StaleNonceOfFullStateTypeIgnored) {
  Set(kListenerType, {Lds("a", 0)});
  DiscoveryResponse r1 = SendOne(SReq(kListenerType, {"a"}));
  Set(kListenerType, {Lds("a", 1), Lds("b")});
  DiscoveryResponse r2 = PushOne(Changed(kListenerType, {"a"}));
  EXPECT_EQ(NamesOf(r2), (Names{"a"}));
  // Stale request adding "b": ignored, although it would otherwise force an answer.
  EXPECT_THAT(Send(SAck(r1, {"a", "b"})), IsEmpty());
  EXPECT_EQ(StatusOf(kListenerType).subscribed, 1u);
  EXPECT_EQ(StatusOf(kListenerType).version_acked, "");
}

TEST_F(SotwTest, NoncesUniqueAndIncreasingAcrossTypes) {
  Set(kClusterType, {Cds("a")});
  Set(kEndpointType, {Eds("a")});
  Set(kListenerType, {Lds("a")});
  Set(kRouteType, {Rds("default")});
  DiscoveryResponse cds = SendOne(SReq(kClusterType, {}));
  DiscoveryResponse eds = SendOne(SReq(kEndpointType, {"a"}));
  DiscoveryResponse lds = SendOne(SReq(kListenerType, {}));
  DiscoveryResponse rds = SendOne(SReq(kRouteType, {"default"}));
  for (int i = 1; i <= 3; ++i) {
    Set(kClusterType, {Cds("a", i)});
    Set(kEndpointType, {Eds("a", i)});
    ChangeSet cs = Changed(kClusterType, {"a"});
    cs.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{"a"});
    EXPECT_THAT(Push(cs), SizeIs(2));
  }
  ASSERT_THAT(sent_, SizeIs(10));
  uint64_t last = 0;
  std::set<std::string> seen;
  for (const auto& r : sent_) {
    EXPECT_TRUE(seen.insert(r.nonce()).second) << "duplicate nonce " << r.nonce();
    uint64_t n = NonceNumber(r.nonce());
    EXPECT_GT(n, last);
    last = n;
    EXPECT_EQ(r.control_plane().identifier(), kCp);
  }
  // A second stream numbers its own nonces.
  SotwProtocol other(kCp);
  std::vector<DiscoveryResponse> out = Send(other, SReq(kClusterType, {}));
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(out[0].nonce(), "1");
}

TEST_F(SotwTest, ControlPlaneIdentifierOnEveryResponse) {
  SotwProtocol p("controller-eu-1");
  Set(kClusterType, {Cds("a")});
  std::vector<DiscoveryResponse> out = Send(p, SReq(kClusterType, {}));
  Set(kClusterType, {Cds("a", 1)});
  std::vector<DiscoveryResponse> pushed = Push(p, Changed(kClusterType, {"a"}));
  out.insert(out.end(), pushed.begin(), pushed.end());
  ASSERT_THAT(out, SizeIs(2));
  for (const auto& r : out) EXPECT_EQ(r.control_plane().identifier(), "controller-eu-1");
}

// --- Subscriptions --------------------------------------------------------------------------

TEST_F(SotwTest, OnlyNewestRequestPerTypeCounts) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DiscoveryResponse r1 = SendOne(SReq(kEndpointType, {"a"}));
  // The next request replaces the subscription: {"b"} only.
  DiscoveryResponse r2 = SendOne(SAck(r1, {"b"}));
  ExpectWellFormed(r2, kEndpointType);
  EXPECT_EQ(NamesOf(r2), (Names{"b"}));
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);
  Set(kEndpointType, {Eds("a", 1), Eds("b")});
  EXPECT_THAT(Push(Changed(kEndpointType, {"a"})), IsEmpty());
  Set(kEndpointType, {Eds("a", 1), Eds("b", 1)});
  DiscoveryResponse r3 = PushOne(Changed(kEndpointType, {"b"}));
  EXPECT_EQ(NamesOf(r3), (Names{"b"}));
}

TEST_F(SotwTest, WildcardViaStar) {
  Set(kListenerType, {Lds("a"), Lds("b")});
  DiscoveryResponse r1 = SendOne(SReq(kListenerType, {"*"}));
  ExpectWellFormed(r1, kListenerType);
  EXPECT_EQ(NamesOf(r1), (Names{"a", "b"}));
  EXPECT_TRUE(StatusOf(kListenerType).wildcard);
  EXPECT_EQ(StatusOf(kListenerType).subscribed, 0u);
  EXPECT_THAT(Send(SAck(r1, {"*"})), IsEmpty());
  // A new resource is pushed, with the full set.
  Set(kListenerType, {Lds("a"), Lds("b"), Lds("c")});
  DiscoveryResponse r2 = PushOne(Changed(kListenerType, {"c"}));
  EXPECT_EQ(NamesOf(r2), (Names{"a", "b", "c"}));
}

TEST_F(SotwTest, WildcardStarAfterNamedRequest) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  DiscoveryResponse r1 = SendOne(SReq(kClusterType, {"a"}));
  EXPECT_EQ(NamesOf(r1), (Names{"a"}));
  DiscoveryResponse r2 = SendOne(SAck(r1, {"*"}));
  EXPECT_EQ(NamesOf(r2), (Names{"a", "b"}));
  EXPECT_TRUE(StatusOf(kClusterType).wildcard);
}

TEST_F(SotwTest, LegacyWildcardEmptyListForLdsAndCds) {
  for (const char* type : {kListenerType, kClusterType}) {
    SCOPED_TRACE(type);
    SotwProtocol p(kCp);
    Set(type, {type == std::string(kListenerType) ? Lds("x") : Cds("x")});
    std::vector<DiscoveryResponse> r1 = Send(p, SReq(type, {}));
    ASSERT_THAT(r1, SizeIs(1));
    EXPECT_EQ(NamesOf(r1[0]), (Names{"x"}));
    EXPECT_TRUE(StatusOf(p, type).wildcard);
    // Still wildcard on the ACK with the empty list.
    EXPECT_THAT(Send(p, SAck(r1[0], {})), IsEmpty());
    EXPECT_TRUE(StatusOf(p, type).wildcard);
    Set(type, {type == std::string(kListenerType) ? Lds("x") : Cds("x"),
               type == std::string(kListenerType) ? Lds("y") : Cds("y")});
    std::vector<DiscoveryResponse> r2 = Push(p, Changed(type, {"y"}));
    ASSERT_THAT(r2, SizeIs(1));
    EXPECT_EQ(NamesOf(r2[0]), (Names{"x", "y"}));
  }
}

TEST_F(SotwTest, StarAndEmptyListAreNotWildcardForEdsAndRds) {
  Set(kEndpointType, {Eds("a")});
  Set(kRouteType, {Rds("default")});
  EXPECT_THAT(Send(SReq(kEndpointType, {"*"})), IsEmpty());
  EXPECT_THAT(Send(SReq(kRouteType, {})), IsEmpty());
  EXPECT_FALSE(StatusOf(kEndpointType).wildcard);
  EXPECT_FALSE(StatusOf(kRouteType).wildcard);
  Set(kEndpointType, {Eds("a", 1)});
  EXPECT_THAT(Push(Changed(kEndpointType, {"a"})), IsEmpty());
}

TEST_F(SotwTest, EmptyListAfterNamedIsNotWildcard) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  DiscoveryResponse r1 = SendOne(SReq(kClusterType, {"a"}));
  EXPECT_EQ(NamesOf(r1), (Names{"a"}));
  // Now the empty list means "nothing", not "everything".
  EXPECT_THAT(Send(SAck(r1, {})), IsEmpty());
  TypeStatus st = StatusOf(kClusterType);
  EXPECT_FALSE(st.wildcard);
  EXPECT_EQ(st.subscribed, 0u);
  Set(kClusterType, {Cds("a", 1), Cds("b", 1), Cds("c")});
  EXPECT_THAT(Push(Changed(kClusterType, {"a", "b", "c"})), IsEmpty());
}

TEST_F(SotwTest, NamedSubscription) {
  Set(kClusterType, {Cds("a"), Cds("b"), Cds("c")});
  Set(kEndpointType, {Eds("a"), Eds("b"), Eds("c")});
  DiscoveryResponse cds = SendOne(SReq(kClusterType, {"a", "c"}));
  EXPECT_EQ(NamesOf(cds), (Names{"a", "c"}));
  EXPECT_EQ(StatusOf(kClusterType).subscribed, 2u);
  EXPECT_FALSE(StatusOf(kClusterType).wildcard);
  DiscoveryResponse eds = SendOne(SReq(kEndpointType, {"b"}));
  EXPECT_EQ(NamesOf(eds), (Names{"b"}));
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);
}

TEST_F(SotwTest, NamesRequestedBeforeTheyExistAnsweredWhenTheyAppear) {
  EXPECT_THAT(Send(SReq(kEndpointType, {"x"})), IsEmpty());
  DiscoveryResponse cds0 = SendOne(SReq(kClusterType, {"x"}));
  EXPECT_THAT(cds0.resources(), IsEmpty());
  EXPECT_THAT(Send(SAck(cds0, {"x"})), IsEmpty());
  EXPECT_THAT(Send(SReq(kRouteType, {"default"})), IsEmpty());

  // Other names appear: nothing.
  Set(kEndpointType, {Eds("y")});
  Set(kClusterType, {Cds("y")});
  ChangeSet cs = Changed(kClusterType, {"y"});
  cs.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{"y"});
  EXPECT_THAT(Push(cs), IsEmpty());

  // The requested ones appear: answered.
  Set(kClusterType, {Cds("x"), Cds("y")});
  Set(kEndpointType, {Eds("x"), Eds("y")});
  Set(kRouteType, {Rds("default")});
  ChangeSet appear = Changed(kClusterType, {"x"});
  appear.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{"x"});
  appear.emplace_back(kRouteType, absl::flat_hash_set<std::string>{"default"});
  std::vector<DiscoveryResponse> out = Push(appear);
  ASSERT_THAT(out, SizeIs(3));
  ExpectWellFormed(out[0], kClusterType);
  EXPECT_EQ(NamesOf(out[0]), (Names{"x"}));
  ExpectWellFormed(out[1], kEndpointType);
  EXPECT_EQ(NamesOf(out[1]), (Names{"x"}));
  ExpectWellFormed(out[2], kRouteType);
  EXPECT_EQ(NamesOf(out[2]), (Names{"default"}));
}

TEST_F(SotwTest, NewlyRequestedNameAnsweredEvenWhenNothingChanged) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  Set(kClusterType, {Cds("a"), Cds("b")});
  DiscoveryResponse e1 = SendOne(SReq(kEndpointType, {"a"}));
  DiscoveryResponse c1 = SendOne(SReq(kClusterType, {"a"}));

  // EDS: only the new name.
  DiscoveryResponse e2 = SendOne(SAck(e1, {"a", "b"}));
  ExpectWellFormed(e2, kEndpointType);
  EXPECT_EQ(NamesOf(e2), (Names{"b"}));
  EXPECT_NE(e2.version_info(), e1.version_info());
  EXPECT_EQ(StatusOf(kEndpointType).version_acked, e1.version_info());

  // CDS: the full (requested) set.
  DiscoveryResponse c2 = SendOne(SAck(c1, {"a", "b"}));
  ExpectWellFormed(c2, kClusterType);
  EXPECT_EQ(NamesOf(c2), (Names{"a", "b"}));

  // CDS: a newly requested name that doesn't exist is answered too (its absence is the
  // answer), with the unchanged set.
  DiscoveryResponse c3 = SendOne(SAck(c2, {"a", "b", "zzz"}));
  EXPECT_EQ(NamesOf(c3), (Names{"a", "b"}));
  EXPECT_EQ(c3.version_info(), c2.version_info());
  EXPECT_NE(c3.nonce(), c2.nonce());
}

TEST_F(SotwTest, UnsubscribeThenResubscribeAnsweredAgain) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  Set(kClusterType, {Cds("a"), Cds("b")});
  DiscoveryResponse e1 = SendOne(SReq(kEndpointType, {"a", "b"}));
  EXPECT_EQ(NamesOf(e1), (Names{"a", "b"}));
  EXPECT_THAT(Send(SAck(e1, {"a"})), IsEmpty());  // Drop "b".
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);
  DiscoveryResponse e2 = SendOne(SAck(e1, {"a", "b"}));  // Same nonce: still current.
  EXPECT_EQ(NamesOf(e2), (Names{"b"}));

  DiscoveryResponse c1 = SendOne(SReq(kClusterType, {"a", "b"}));
  EXPECT_THAT(Send(SAck(c1, {"a"})), IsEmpty());
  DiscoveryResponse c2 = SendOne(SAck(c1, {"a", "b"}));
  EXPECT_EQ(NamesOf(c2), (Names{"a", "b"}));

  // Dropping everything, then asking again.
  EXPECT_THAT(Send(SAck(e2, {})), IsEmpty());
  DiscoveryResponse e3 = SendOne(SAck(e2, {"a"}));
  EXPECT_EQ(NamesOf(e3), (Names{"a"}));
}

// --- Full state (LDS/CDS) vs incremental (EDS/RDS) ------------------------------------------

TEST_F(SotwTest, LdsCdsCarryFullSetAndDeletedResourceDisappears) {
  for (const char* type : {kClusterType, kListenerType}) {
    SCOPED_TRACE(type);
    bool lds = type == std::string(kListenerType);
    auto make = [lds](const std::string& n, int rev) { return lds ? Lds(n, rev) : Cds(n, rev); };
    SotwProtocol p(kCp);
    Set(type, {make("a", 0), make("b", 0), make("c", 0)});
    std::vector<DiscoveryResponse> r1 = Send(p, SReq(type, {}));
    ASSERT_THAT(r1, SizeIs(1));
    EXPECT_EQ(NamesOf(r1[0]), (Names{"a", "b", "c"}));
    Send(p, SAck(r1[0], {}));

    Set(type, {make("a", 0), make("b", 1), make("c", 0)});
    std::vector<DiscoveryResponse> r2 = Push(p, Changed(type, {"b"}));
    ASSERT_THAT(r2, SizeIs(1));
    EXPECT_EQ(NamesOf(r2[0]), (Names{"a", "b", "c"}));  // Full set, not just "b".
    Send(p, SAck(r2[0], {}));

    Set(type, {make("a", 0), make("b", 1)});  // "c" deleted.
    std::vector<DiscoveryResponse> r3 = Push(p, Changed(type, {"c"}));
    ASSERT_THAT(r3, SizeIs(1));
    ExpectWellFormed(r3[0], type);
    EXPECT_EQ(NamesOf(r3[0]), (Names{"a", "b"}));
    EXPECT_NE(r3[0].version_info(), r2[0].version_info());

    // Named subscription: deleting a named resource also sends the set without it.
    SotwProtocol named(kCp);
    std::vector<DiscoveryResponse> n1 = Send(named, SReq(type, {"a", "b"}));
    ASSERT_THAT(n1, SizeIs(1));
    EXPECT_EQ(NamesOf(n1[0]), (Names{"a", "b"}));
    Set(type, {make("b", 1)});
    std::vector<DiscoveryResponse> n2 = Push(named, Changed(type, {"a"}));
    ASSERT_THAT(n2, SizeIs(1));
    EXPECT_EQ(NamesOf(n2[0]), (Names{"b"}));
    // Everything gone: an empty full set.
    Set(type, {});
    std::vector<DiscoveryResponse> n3 = Push(named, Changed(type, {"b"}));
    ASSERT_THAT(n3, SizeIs(1));
    EXPECT_THAT(n3[0].resources(), IsEmpty());
  }
}

TEST_F(SotwTest, EdsCarriesOnlyChangesAndDeletionIsNotImplicit) {
  Set(kEndpointType, {Eds("a", 0), Eds("b", 0), Eds("c", 0)});
  DiscoveryResponse r1 = SendOne(SReq(kEndpointType, {"a", "b", "c"}));
  EXPECT_EQ(NamesOf(r1), (Names{"a", "b", "c"}));
  EXPECT_THAT(Send(SAck(r1, {"a", "b", "c"})), IsEmpty());

  Set(kEndpointType, {Eds("a", 1), Eds("b", 0), Eds("c", 0)});
  DiscoveryResponse r2 = PushOne(Changed(kEndpointType, {"a"}));
  ExpectWellFormed(r2, kEndpointType);
  EXPECT_EQ(NamesOf(r2), (Names{"a"}));
  EXPECT_NE(r2.version_info(), r1.version_info());
  EXPECT_THAT(Send(SAck(r2, {"a", "b", "c"})), IsEmpty());

  // Deleting "c": no response at all (an EDS response without "c" would not remove it).
  Set(kEndpointType, {Eds("a", 1), Eds("b", 0)});
  EXPECT_THAT(Push(Changed(kEndpointType, {"c"})), IsEmpty());
  // A change to "b" still sends only "b".
  Set(kEndpointType, {Eds("a", 1), Eds("b", 1)});
  DiscoveryResponse r3 = PushOne(Changed(kEndpointType, {"b"}));
  EXPECT_EQ(NamesOf(r3), (Names{"b"}));
  // "c" comes back with its old content: it is sent again.
  Set(kEndpointType, {Eds("a", 1), Eds("b", 1), Eds("c", 0)});
  DiscoveryResponse r4 = PushOne(Changed(kEndpointType, {"c"}));
  EXPECT_EQ(NamesOf(r4), (Names{"c"}));
}

TEST_F(SotwTest, RdsCarriesOnlyChangesAndDeletionIsNotImplicit) {
  Set(kRouteType, {Rds("default", "x"), Rds("other", "x")});
  DiscoveryResponse r1 = SendOne(SReq(kRouteType, {"default", "other"}));
  EXPECT_EQ(NamesOf(r1), (Names{"default", "other"}));
  Set(kRouteType, {Rds("default", "y"), Rds("other", "x")});
  DiscoveryResponse r2 = PushOne(Changed(kRouteType, {"default"}));
  ExpectWellFormed(r2, kRouteType);
  EXPECT_EQ(NamesOf(r2), (Names{"default"}));
  Set(kRouteType, {Rds("default", "y")});
  EXPECT_THAT(Push(Changed(kRouteType, {"other"})), IsEmpty());
}

// --- Send only on change --------------------------------------------------------------------

TEST_F(SotwTest, UnrelatedNamesProduceNothing) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  Set(kClusterType, {Cds("a"), Cds("b")});
  SendOne(SReq(kEndpointType, {"a"}));
  SendOne(SReq(kClusterType, {"a"}));
  Set(kEndpointType, {Eds("a"), Eds("b", 1)});
  Set(kClusterType, {Cds("a"), Cds("b", 1)});
  ChangeSet cs = Changed(kClusterType, {"b"});
  cs.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{"b"});
  EXPECT_THAT(Push(cs), IsEmpty());
  // Types never requested produce nothing either.
  Set(kListenerType, {Lds("a")});
  Set(kRouteType, {Rds("default")});
  ChangeSet other = Changed(kListenerType, {"a"});
  other.emplace_back(kRouteType, absl::flat_hash_set<std::string>{"default"});
  EXPECT_THAT(Push(other), IsEmpty());
  EXPECT_THAT(Push(ChangeSet{}), IsEmpty());
}

TEST_F(SotwTest, IdenticalContentIsNotPushed) {
  Set(kClusterType, {Cds("a")});
  Set(kEndpointType, {Eds("a")});
  Set(kListenerType, {Lds("a")});
  DiscoveryResponse c = SendOne(SReq(kClusterType, {}));
  DiscoveryResponse e = SendOne(SReq(kEndpointType, {"a"}));
  DiscoveryResponse l = SendOne(SReq(kListenerType, {"a"}));
  // A new snapshot with freshly built, identical resources, reported as changed.
  Set(kClusterType, {Cds("a")});
  Set(kEndpointType, {Eds("a")});
  Set(kListenerType, {Lds("a")});
  ChangeSet cs = Changed(kClusterType, {"a"});
  cs.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{"a"});
  cs.emplace_back(kListenerType, absl::flat_hash_set<std::string>{"a"});
  EXPECT_THAT(Push(cs), IsEmpty());
  // Nor on re-requests of the same subscription.
  EXPECT_THAT(Send(SAck(c, {})), IsEmpty());
  EXPECT_THAT(Send(SAck(e, {"a"})), IsEmpty());
  EXPECT_THAT(Send(SAck(l, {"a"})), IsEmpty());
  EXPECT_EQ(StatusOf(kClusterType).responses, 1u);
  EXPECT_EQ(StatusOf(kEndpointType).responses, 1u);
  EXPECT_EQ(StatusOf(kListenerType).responses, 1u);
}

TEST_F(SotwTest, VersionInfoStableForSameContentDifferentOtherwise) {
  Set(kClusterType, {Cds("a", 0), Cds("b", 0)});
  Set(kEndpointType, {Eds("a", 0)});
  SotwProtocol p1(kCp), p2(kCp);
  std::vector<DiscoveryResponse> c1 = Send(p1, SReq(kClusterType, {}));
  std::vector<DiscoveryResponse> c2 = Send(p2, SReq(kClusterType, {}));
  std::vector<DiscoveryResponse> e1 = Send(p1, SReq(kEndpointType, {"a"}));
  std::vector<DiscoveryResponse> e2 = Send(p2, SReq(kEndpointType, {"a"}));
  ASSERT_THAT(c1, SizeIs(1));
  ASSERT_THAT(c2, SizeIs(1));
  ASSERT_THAT(e1, SizeIs(1));
  ASSERT_THAT(e2, SizeIs(1));
  EXPECT_EQ(c1[0].version_info(), c2[0].version_info());  // Same content, same version.
  EXPECT_EQ(e1[0].version_info(), e2[0].version_info());
  EXPECT_NE(c1[0].version_info(), e1[0].version_info());

  // Different content: different version.
  Set(kClusterType, {Cds("a", 1), Cds("b", 0)});
  std::vector<DiscoveryResponse> c3 = Push(p1, Changed(kClusterType, {"a"}));
  ASSERT_THAT(c3, SizeIs(1));
  EXPECT_NE(c3[0].version_info(), c1[0].version_info());
  // Back to the original content: the original version again.
  Set(kClusterType, {Cds("a", 0), Cds("b", 0)});
  std::vector<DiscoveryResponse> c4 = Push(p1, Changed(kClusterType, {"a"}));
  ASSERT_THAT(c4, SizeIs(1));
  EXPECT_EQ(c4[0].version_info(), c1[0].version_info());
  // Same content in a different stream after churn: still the same version.
  SotwProtocol p3(kCp);
  std::vector<DiscoveryResponse> c5 = Send(p3, SReq(kClusterType, {}));
  ASSERT_THAT(c5, SizeIs(1));
  EXPECT_EQ(c5[0].version_info(), c1[0].version_info());
  // A different control-plane id does not change versions.
  SotwProtocol p4("another-replica");
  std::vector<DiscoveryResponse> c6 = Send(p4, SReq(kClusterType, {}));
  ASSERT_THAT(c6, SizeIs(1));
  EXPECT_EQ(c6[0].version_info(), c1[0].version_info());
}

// --- Reconnect ------------------------------------------------------------------------------

TEST_F(SotwTest, ReconnectGetsFullAnswer) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  Set(kEndpointType, {Eds("a"), Eds("b")});
  Set(kListenerType, {Lds("a")});
  DiscoveryResponse c1 = SendOne(SReq(kClusterType, {}));
  DiscoveryResponse e1 = SendOne(SReq(kEndpointType, {"a", "b"}));
  DiscoveryResponse l1 = SendOne(SReq(kListenerType, {"a"}));
  Send(SAck(c1, {}));
  Send(SAck(e1, {"a", "b"}));
  Send(SAck(l1, {"a"}));

  // New stream: the client sends its last versions (no nonce: nonces don't survive).
  SotwProtocol again(kCp);
  for (const auto& [prev, names] :
       std::vector<std::pair<DiscoveryResponse, Names>>{{c1, {}}, {e1, {"a", "b"}}, {l1, {"a"}}}) {
    SCOPED_TRACE(prev.type_url());
    DiscoveryRequest req = SReq(prev.type_url(), names);
    req.set_version_info(prev.version_info());
    std::vector<DiscoveryResponse> out = Send(again, req);
    ASSERT_THAT(out, SizeIs(1));
    ExpectWellFormed(out[0], prev.type_url());
    EXPECT_EQ(NamesOf(out[0]), NamesOf(prev));  // Everything, not a diff.
    EXPECT_EQ(out[0].version_info(), prev.version_info());
  }
}

// --- Incremental bookkeeping ----------------------------------------------------------------

TEST_F(SotwTest, IncrementalVersionInfoEqualsAFreshAnswer) {
  // A stream's view is updated one changed name at a time; its version_info must be what a new
  // stream with the same subscription computes from scratch.
  const Names names = {"a", "b", "c"};
  auto fresh = [&](const std::string& type, const Names& subscription) {
    SotwProtocol p(kCp);
    absl::StatusOr<std::vector<SotwResponse>> out = p.OnRequest(SReq(type, subscription), *snap_);
    return out.ok() && out->size() == 1 ? ToProto((*out)[0]) : DiscoveryResponse();
  };
  Set(kEndpointType, {Eds("a", 0), Eds("b", 0), Eds("c", 0)});
  Set(kClusterType, {Cds("a", 0), Cds("b", 0)});
  DiscoveryResponse e = SendOne(SReq(kEndpointType, names));
  DiscoveryResponse c = SendOne(SReq(kClusterType, {}));
  struct Step {
    std::vector<ResourcePtr> eds, cds;
    Names eds_changed, cds_changed;
  };
  for (const Step& step : std::vector<Step>{
           {{Eds("a", 1), Eds("b", 0), Eds("c", 0)}, {Cds("a", 0), Cds("b", 0)}, {"a"}, {}},
           {{Eds("a", 1), Eds("b", 0)}, {Cds("a", 0), Cds("b", 0), Cds("c")}, {"c"}, {"c"}},
           {{Eds("a", 1), Eds("b", 2)}, {Cds("a", 1), Cds("c")}, {"b"}, {"a", "b"}},
           {{Eds("a", 1), Eds("b", 2), Eds("c", 0)}, {Cds("a", 1), Cds("c")}, {"c"}, {}},
           {{Eds("a", 0), Eds("b", 0), Eds("c", 0)},
            {Cds("a", 0), Cds("b", 0)},
            {"a", "b"},
            {"a", "b", "c"}},
       }) {
    Set(kEndpointType, step.eds);
    Set(kClusterType, step.cds);
    ChangeSet cs;
    if (!step.cds_changed.empty()) {
      cs.emplace_back(kClusterType, absl::flat_hash_set<std::string>(step.cds_changed.begin(),
                                                                     step.cds_changed.end()));
    }
    cs.emplace_back(kEndpointType, absl::flat_hash_set<std::string>(step.eds_changed.begin(),
                                                                    step.eds_changed.end()));
    bool eds_sent = false;
    for (const auto& r : Push(cs)) {
      eds_sent |= r.type_url() == kEndpointType;
      (r.type_url() == kEndpointType ? e : c) = r;
      Send(SAck(r, r.type_url() == kEndpointType ? names : Names{}));
    }
    // EDS: a deletion alone is not sent, so compare when the view was answered.
    if (eds_sent) {
      EXPECT_EQ(e.version_info(), fresh(kEndpointType, names).version_info());
    }
    DiscoveryResponse fresh_cds = fresh(kClusterType, {});
    EXPECT_EQ(StatusOf(kClusterType).version_sent, fresh_cds.version_info());
    EXPECT_EQ(c.version_info(), fresh_cds.version_info());
    EXPECT_EQ(NamesOf(c), NamesOf(fresh_cds));
  }
  // Back to the starting content: the starting versions.
  EXPECT_EQ(e.version_info(), fresh(kEndpointType, names).version_info());
  EXPECT_EQ(c.version_info(), fresh(kClusterType, {}).version_info());
  EXPECT_EQ(StatusOf(kEndpointType).version_acked, e.version_info());
}

TEST_F(SotwTest, AckRestatingTheSubscriptionInAnotherOrderChangesNothing) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DiscoveryResponse r1 = SendOne(SReq(kEndpointType, {"a", "b"}));
  EXPECT_THAT(Send(SAck(r1, {"b", "a"})), IsEmpty());
  EXPECT_THAT(Send(SAck(r1, {"b", "a", "a"})), IsEmpty());
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 2u);
  EXPECT_EQ(StatusOf(kEndpointType).version_acked, r1.version_info());
  Set(kEndpointType, {Eds("a"), Eds("b", 1)});
  DiscoveryResponse r2 = PushOne(Changed(kEndpointType, {"b"}));
  EXPECT_EQ(NamesOf(r2), (Names{"b"}));
}

TEST_F(SotwTest, FlavourLearntLateRecomputesTheView) {
  // A client whose first request has no node gets Envoy's flavour until a node says otherwise.
  snap_ = snap_
              ->With(kClusterType, ClientFlavor::kEnvoy,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::MAGLEV)}))
              ->With(kClusterType, ClientFlavor::kGrpc,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::RING_HASH)}));
  DiscoveryResponse c1 = SendOne(SReq(kClusterType, {}));
  DiscoveryRequest lds = SReq(kListenerType, {});
  *lds.mutable_node() = MakeNode("late", "gRPC C-core");
  Send(lds);
  EXPECT_EQ(proto_.identity().flavor(), ClientFlavor::kGrpc);
  // The next look at CDS answers from the gRPC map.
  std::vector<DiscoveryResponse> out = Push(Changed(kClusterType, {"a"}));
  ASSERT_THAT(out, SizeIs(1));
  ASSERT_EQ(out[0].resources_size(), 1);
  envoy::config::cluster::v3::Cluster cluster;
  ASSERT_TRUE(out[0].resources(0).UnpackTo(&cluster));
  EXPECT_EQ(cluster.lb_policy(), envoy::config::cluster::v3::Cluster::RING_HASH);
  EXPECT_NE(out[0].version_info(), c1.version_info());
}

TEST_F(SotwTest, StatusListsTypesInPushOrder) {
  Send(SReq(kRouteType, {"default"}));
  Send(SReq(kListenerType, {}));
  Send(SReq(kEndpointType, {"a"}));
  Send(SReq(kClusterType, {}));
  Send(SReq(kSecretType, {"web"}));
  std::vector<std::string> types;
  for (const TypeStatus& t : proto_.Status()) types.push_back(t.type_url);
  EXPECT_THAT(types,
              ElementsAre(kSecretType, kClusterType, kEndpointType, kListenerType, kRouteType));
}

// ---------------------------------------------------------------------------------------------
// Delta

DeltaDiscoveryRequest DReq(const std::string& type, const Names& subscribe,
                           const Names& unsubscribe = {}) {
  DeltaDiscoveryRequest r;
  r.set_type_url(type);
  for (const auto& n : subscribe) r.add_resource_names_subscribe(n);
  for (const auto& n : unsubscribe) r.add_resource_names_unsubscribe(n);
  return r;
}

DeltaDiscoveryRequest DAck(const DeltaDiscoveryResponse& resp) {
  DeltaDiscoveryRequest r;
  r.set_type_url(resp.type_url());
  r.set_response_nonce(resp.nonce());
  return r;
}

DeltaDiscoveryRequest DNack(const DeltaDiscoveryResponse& resp, const std::string& error) {
  DeltaDiscoveryRequest r = DAck(resp);
  r.mutable_error_detail()->set_code(3);
  r.mutable_error_detail()->set_message(error);
  return r;
}

void ExpectWellFormed(const DeltaDiscoveryResponse& r, const std::string& type,
                      uint64_t generation) {
  EXPECT_EQ(r.type_url(), type);
  EXPECT_EQ(r.system_version_info(), std::to_string(generation));
  EXPECT_FALSE(r.nonce().empty());
  EXPECT_EQ(r.control_plane().identifier(), kCp);
}

class DeltaTest : public ::testing::Test {
 protected:
  void Set(const std::string& type, std::vector<ResourcePtr> resources) {
    snap_ = snap_->WithBoth(type, MapOf(std::move(resources)));
  }
  std::vector<DeltaDiscoveryResponse> Send(const DeltaDiscoveryRequest& r) {
    return Send(proto_, r);
  }
  std::vector<DeltaDiscoveryResponse> Send(DeltaProtocol& p, const DeltaDiscoveryRequest& r) {
    absl::StatusOr<std::vector<DeltaDiscoveryResponse>> out = Protos(p.OnRequest(r, *snap_));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : std::vector<DeltaDiscoveryResponse>{};
  }
  DeltaDiscoveryResponse SendOne(const DeltaDiscoveryRequest& r) {
    std::vector<DeltaDiscoveryResponse> out = Send(r);
    EXPECT_THAT(out, SizeIs(1));
    return out.empty() ? DeltaDiscoveryResponse() : out[0];
  }
  std::vector<DeltaDiscoveryResponse> Push(const ChangeSet& changes) {
    return Protos(proto_.OnSnapshot(*snap_, changes));
  }
  DeltaDiscoveryResponse PushOne(const ChangeSet& changes) {
    std::vector<DeltaDiscoveryResponse> out = Push(changes);
    EXPECT_THAT(out, SizeIs(1));
    return out.empty() ? DeltaDiscoveryResponse() : out[0];
  }
  TypeStatus StatusOf(const std::string& type) const {
    for (const TypeStatus& t : proto_.Status()) {
      if (t.type_url == type) return t;
    }
    ADD_FAILURE() << "no status for " << type;
    return TypeStatus();
  }
  std::string VersionOf(const std::string& type, const std::string& name) const {
    return snap_->Get(type, ClientFlavor::kEnvoy).at(name)->version;
  }

  std::shared_ptr<const Snapshot> snap_ = std::make_shared<const Snapshot>();
  DeltaProtocol proto_{kCp};
};

TEST_F(DeltaTest, MissingTypeUrlIsInvalidArgumentUnknownTypeIgnored) {
  absl::StatusOr<std::vector<DeltaDiscoveryResponse>> bad =
      Protos(proto_.OnRequest(DReq("", {"a"}), *snap_));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<DeltaDiscoveryResponse>> unknown =
      Protos(proto_.OnRequest(DReq(kUnknownType, {"cert"}), *snap_));
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_THAT(*unknown, IsEmpty());
  EXPECT_THAT(proto_.Status(), IsEmpty());
}

TEST_F(DeltaTest, NodeAndFlavourFromFirstRequest) {
  snap_ = snap_
              ->With(kClusterType, ClientFlavor::kEnvoy,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::RANDOM)}))
              ->With(kClusterType, ClientFlavor::kGrpc,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::ROUND_ROBIN)}));
  DeltaDiscoveryRequest first = DReq(kClusterType, {"a"});
  *first.mutable_node() = MakeNode("g", "gRPC C-core");
  DeltaDiscoveryResponse r = SendOne(first);
  ASSERT_EQ(r.resources_size(), 1);
  envoy::config::cluster::v3::Cluster c;
  ASSERT_TRUE(r.resources(0).resource().UnpackTo(&c));
  EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_EQ(r.resources(0).version(),
            snap_->Get(kClusterType, ClientFlavor::kGrpc).at("a")->version);
  DeltaDiscoveryRequest second = DAck(r);
  *second.mutable_node() = MakeNode("other", "envoy");
  Send(second);
  EXPECT_EQ(proto_.identity().node().id(), "g");
  EXPECT_EQ(proto_.identity().flavor(), ClientFlavor::kGrpc);
}

TEST_F(DeltaTest, ResourceEntriesCarryNameVersionAndAny) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DeltaDiscoveryResponse r = SendOne(DReq(kEndpointType, {"a", "b"}));
  ExpectWellFormed(r, kEndpointType, snap_->generation());
  EXPECT_EQ(NamesOf(r), (Names{"a", "b"}));
  EXPECT_THAT(r.removed_resources(), IsEmpty());
  for (const auto& res : r.resources()) {
    const ResourcePtr& want = snap_->Get(kEndpointType, ClientFlavor::kEnvoy).at(res.name());
    EXPECT_EQ(res.version(), want->version);
    EXPECT_EQ(res.resource().type_url(), kEndpointType);
    EXPECT_EQ(res.resource().value(), want->value());
  }
}

TEST_F(DeltaTest, SubscribeAndUnsubscribe) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kEndpointType, {"a"}));
  ExpectWellFormed(r1, kEndpointType, snap_->generation());
  EXPECT_EQ(NamesOf(r1), (Names{"a"}));
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);
  EXPECT_FALSE(StatusOf(kEndpointType).wildcard);
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());

  // Add "b": only "b" is sent.
  DeltaDiscoveryResponse r2 = SendOne(DReq(kEndpointType, {"b"}));
  EXPECT_EQ(NamesOf(r2), (Names{"b"}));
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 2u);

  // Unsubscribe "a": no response, and changes to "a" are no longer sent.
  EXPECT_THAT(Send(DReq(kEndpointType, {}, {"a"})), IsEmpty());
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);
  Set(kEndpointType, {Eds("a", 1), Eds("b")});
  EXPECT_THAT(Push(Changed(kEndpointType, {"a"})), IsEmpty());
  // Nor its deletion.
  Set(kEndpointType, {Eds("b")});
  EXPECT_THAT(Push(Changed(kEndpointType, {"a"})), IsEmpty());
  // Re-subscribing to a re-created "a" sends it.
  Set(kEndpointType, {Eds("a", 1), Eds("b")});
  DeltaDiscoveryResponse r3 = SendOne(DReq(kEndpointType, {"a"}));
  EXPECT_EQ(NamesOf(r3), (Names{"a"}));
  EXPECT_THAT(r3.removed_resources(), IsEmpty());
  // Changes to subscribed names: only those.
  Set(kEndpointType, {Eds("a", 1), Eds("b", 2)});
  DeltaDiscoveryResponse r4 = PushOne(Changed(kEndpointType, {"b"}));
  ExpectWellFormed(r4, kEndpointType, snap_->generation());
  EXPECT_EQ(NamesOf(r4), (Names{"b"}));
  ASSERT_EQ(r4.resources_size(), 1);
  EXPECT_EQ(r4.resources(0).version(), VersionOf(kEndpointType, "b"));
}

TEST_F(DeltaTest, WildcardViaStar) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kClusterType, {"*"}));
  ExpectWellFormed(r1, kClusterType, snap_->generation());
  EXPECT_EQ(NamesOf(r1), (Names{"a", "b"}));
  EXPECT_TRUE(StatusOf(kClusterType).wildcard);
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());
  Set(kClusterType, {Cds("a"), Cds("b"), Cds("c")});
  DeltaDiscoveryResponse r2 = PushOne(Changed(kClusterType, {"c"}));
  EXPECT_EQ(NamesOf(r2), (Names{"c"}));  // Only the change, in delta.
  // Unsubscribing "*" ends the wildcard.
  EXPECT_THAT(Send(DReq(kClusterType, {}, {"*"})), IsEmpty());
  EXPECT_FALSE(StatusOf(kClusterType).wildcard);
  Set(kClusterType, {Cds("a"), Cds("b"), Cds("c"), Cds("d")});
  EXPECT_THAT(Push(Changed(kClusterType, {"d"})), IsEmpty());
}

TEST_F(DeltaTest, LegacyWildcardEmptyFirstSubscribeForLdsAndCds) {
  for (const char* type : {kListenerType, kClusterType}) {
    SCOPED_TRACE(type);
    bool lds = type == std::string(kListenerType);
    Set(type, {lds ? Lds("x") : Cds("x")});
    DeltaProtocol p(kCp);
    std::vector<DeltaDiscoveryResponse> out = Send(p, DReq(type, {}));
    ASSERT_THAT(out, SizeIs(1));
    EXPECT_EQ(NamesOf(out[0]), (Names{"x"}));
    bool wildcard = false;
    for (const auto& t : p.Status()) {
      if (t.type_url == type) wildcard = t.wildcard;
    }
    EXPECT_TRUE(wildcard);
  }
  // Not for EDS.
  Set(kEndpointType, {Eds("x")});
  EXPECT_THAT(Send(DReq(kEndpointType, {})), IsEmpty());
  EXPECT_FALSE(StatusOf(kEndpointType).wildcard);
}

TEST_F(DeltaTest, LegacyWildcardOnlyOnFirstRequest) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kClusterType, {"a"}));
  EXPECT_EQ(NamesOf(r1), (Names{"a"}));
  // A later request with an empty subscribe list (e.g. an unsubscribe) is not a wildcard.
  EXPECT_THAT(Send(DReq(kClusterType, {}, {"zzz"})), IsEmpty());
  EXPECT_FALSE(StatusOf(kClusterType).wildcard);
}

TEST_F(DeltaTest, InitialResourceVersionsSuppressSameVersionResendDifferent) {
  Set(kEndpointType, {Eds("a"), Eds("b"), Eds("c")});
  DeltaDiscoveryRequest req = DReq(kEndpointType, {"a", "b", "c"});
  (*req.mutable_initial_resource_versions())["a"] = VersionOf(kEndpointType, "a");  // Current.
  (*req.mutable_initial_resource_versions())["b"] = "stale-version";
  DeltaDiscoveryResponse r = SendOne(req);
  ExpectWellFormed(r, kEndpointType, snap_->generation());
  EXPECT_EQ(NamesOf(r), (Names{"b", "c"}));
  EXPECT_THAT(r.removed_resources(), IsEmpty());

  // Everything current: no response at all.
  DeltaProtocol p(kCp);
  DeltaDiscoveryRequest all = DReq(kEndpointType, {"a", "b"});
  (*all.mutable_initial_resource_versions())["a"] = VersionOf(kEndpointType, "a");
  (*all.mutable_initial_resource_versions())["b"] = VersionOf(kEndpointType, "b");
  EXPECT_THAT(Send(p, all), IsEmpty());
  // ... and the client is known to hold them: a later identical publish sends nothing, a change
  // sends it.
  EXPECT_THAT(Protos(p.OnSnapshot(*snap_, Changed(kEndpointType, {"a", "b"}))), IsEmpty());
  Set(kEndpointType, {Eds("a", 5), Eds("b"), Eds("c")});
  std::vector<DeltaDiscoveryResponse> out =
      Protos(p.OnSnapshot(*snap_, Changed(kEndpointType, {"a"})));
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(NamesOf(out[0]), (Names{"a"}));
}

TEST_F(DeltaTest, InitialResourceVersionsWithWildcard) {
  Set(kClusterType, {Cds("a"), Cds("b")});
  DeltaDiscoveryRequest req = DReq(kClusterType, {"*"});
  (*req.mutable_initial_resource_versions())["a"] = VersionOf(kClusterType, "a");
  DeltaDiscoveryResponse r = SendOne(req);
  EXPECT_EQ(NamesOf(r), (Names{"b"}));
  EXPECT_THAT(r.removed_resources(), IsEmpty());
}

TEST_F(DeltaTest, ReconnectWithVanishedResourceGetsRemoved) {
  Set(kClusterType, {Cds("a")});
  Set(kEndpointType, {Eds("a")});
  // Wildcard CDS (legacy empty list), the client still holds "gone".
  DeltaDiscoveryRequest cds = DReq(kClusterType, {});
  (*cds.mutable_initial_resource_versions())["a"] = VersionOf(kClusterType, "a");
  (*cds.mutable_initial_resource_versions())["gone"] = "v-old";
  DeltaDiscoveryResponse r1 = SendOne(cds);
  ExpectWellFormed(r1, kClusterType, snap_->generation());
  EXPECT_THAT(r1.resources(), IsEmpty());
  EXPECT_EQ(Removed(r1), (Names{"gone"}));

  // Explicit EDS names, re-subscribed as clients do on reconnect.
  DeltaDiscoveryRequest eds = DReq(kEndpointType, {"a", "gone"});
  (*eds.mutable_initial_resource_versions())["a"] = "v-older";
  (*eds.mutable_initial_resource_versions())["gone"] = "v-old";
  DeltaDiscoveryResponse r2 = SendOne(eds);
  ExpectWellFormed(r2, kEndpointType, snap_->generation());
  EXPECT_EQ(NamesOf(r2), (Names{"a"}));
  EXPECT_EQ(Removed(r2), (Names{"gone"}));
}

TEST_F(DeltaTest, SecretsByNameAndRemovedWhenDeleted) {
  Set(kSecretType, {Sds("web"), Sds("lb.session-ticket-keys")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kSecretType, {"web", "lb.session-ticket-keys", "x"}));
  ExpectWellFormed(r1, kSecretType, snap_->generation());
  EXPECT_EQ(NamesOf(r1), (Names{"lb.session-ticket-keys", "web"}));
  EXPECT_EQ(Removed(r1), (Names{"x"}));
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());
  Set(kSecretType, {Sds("lb.session-ticket-keys")});
  DeltaDiscoveryResponse r2 = PushOne(Changed(kSecretType, {"web"}));
  EXPECT_THAT(r2.resources(), IsEmpty());
  EXPECT_EQ(Removed(r2), (Names{"web"}));
}

TEST_F(DeltaTest, MissingSubscribedNamesReportedOnce) {
  Set(kEndpointType, {Eds("a")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kEndpointType, {"a", "x"}));
  ExpectWellFormed(r1, kEndpointType, snap_->generation());
  EXPECT_EQ(NamesOf(r1), (Names{"a"}));
  EXPECT_EQ(Removed(r1), (Names{"x"}));
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());
  // Not again: not on re-subscribing, not on a publish naming it while still missing.
  EXPECT_THAT(Send(DReq(kEndpointType, {"x"})), IsEmpty());
  EXPECT_THAT(Push(Changed(kEndpointType, {"x"})), IsEmpty());
  // A second missing name is reported on its own.
  DeltaDiscoveryResponse r2 = SendOne(DReq(kEndpointType, {"y"}));
  EXPECT_THAT(r2.resources(), IsEmpty());
  EXPECT_EQ(Removed(r2), (Names{"y"}));
  // "x" appears: sent.
  Set(kEndpointType, {Eds("a"), Eds("x")});
  DeltaDiscoveryResponse r3 = PushOne(Changed(kEndpointType, {"x"}));
  EXPECT_EQ(NamesOf(r3), (Names{"x"}));
  EXPECT_THAT(r3.removed_resources(), IsEmpty());
}

TEST_F(DeltaTest, DeletionReportedInRemovedResources) {
  // Wildcard.
  Set(kClusterType, {Cds("a"), Cds("b")});
  DeltaDiscoveryResponse c1 = SendOne(DReq(kClusterType, {"*"}));
  EXPECT_EQ(NamesOf(c1), (Names{"a", "b"}));
  Set(kClusterType, {Cds("a")});
  DeltaDiscoveryResponse c2 = PushOne(Changed(kClusterType, {"b"}));
  ExpectWellFormed(c2, kClusterType, snap_->generation());
  EXPECT_THAT(c2.resources(), IsEmpty());
  EXPECT_EQ(Removed(c2), (Names{"b"}));
  // Reported once.
  EXPECT_THAT(Push(Changed(kClusterType, {"b"})), IsEmpty());
  // Re-created: sent again.
  Set(kClusterType, {Cds("a"), Cds("b")});
  DeltaDiscoveryResponse c3 = PushOne(Changed(kClusterType, {"b"}));
  EXPECT_EQ(NamesOf(c3), (Names{"b"}));

  // Explicit EDS name (unlike SotW, delta does remove EDS resources).
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DeltaDiscoveryResponse e1 = SendOne(DReq(kEndpointType, {"a", "b"}));
  EXPECT_EQ(NamesOf(e1), (Names{"a", "b"}));
  Set(kEndpointType, {Eds("b", 1)});
  DeltaDiscoveryResponse e2 = PushOne(Changed(kEndpointType, {"a", "b"}));
  EXPECT_EQ(NamesOf(e2), (Names{"b"}));
  EXPECT_EQ(Removed(e2), (Names{"a"}));
}

TEST_F(DeltaTest, SubscriptionChangesHonouredWithStaleNonce) {
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kEndpointType, {"a"}));
  Set(kEndpointType, {Eds("a", 1), Eds("b")});
  DeltaDiscoveryResponse r2 = PushOne(Changed(kEndpointType, {"a"}));
  ASSERT_NE(r1.nonce(), r2.nonce());
  // Carries r1's nonce (stale: r2 is newer) and subscribes to "b".
  DeltaDiscoveryRequest req = DReq(kEndpointType, {"b"});
  req.set_response_nonce(r1.nonce());
  DeltaDiscoveryResponse r3 = SendOne(req);
  EXPECT_EQ(NamesOf(r3), (Names{"b"}));
  // Unsubscribe with a stale nonce too.
  DeltaDiscoveryRequest unsub = DReq(kEndpointType, {}, {"a"});
  unsub.set_response_nonce(r1.nonce());
  EXPECT_THAT(Send(unsub), IsEmpty());
  EXPECT_EQ(StatusOf(kEndpointType).subscribed, 1u);
  Set(kEndpointType, {Eds("a", 2), Eds("b")});
  EXPECT_THAT(Push(Changed(kEndpointType, {"a"})), IsEmpty());
}

TEST_F(DeltaTest, AckAndNackRecordedByNonce) {
  Set(kClusterType, {Cds("a")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kClusterType, {"a"}));
  uint64_t g1 = snap_->generation();
  ExpectWellFormed(r1, kClusterType, g1);
  Set(kClusterType, {Cds("a", 1)});
  DeltaDiscoveryResponse r2 = PushOne(Changed(kClusterType, {"a"}));
  uint64_t g2 = snap_->generation();
  ExpectWellFormed(r2, kClusterType, g2);
  ASSERT_NE(g1, g2);
  EXPECT_EQ(StatusOf(kClusterType).version_sent, std::to_string(g2));

  // ACK of r1 (arriving after r2 was sent): recorded against r1's system version.
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());
  TypeStatus st = StatusOf(kClusterType);
  EXPECT_EQ(st.version_acked, std::to_string(g1));
  EXPECT_EQ(st.nacks, 0u);

  // NACK of r2: recorded against r2's, not re-pushed.
  EXPECT_THAT(Send(DNack(r2, "cluster a rejected")), IsEmpty());
  st = StatusOf(kClusterType);
  EXPECT_EQ(st.nacks, 1u);
  EXPECT_EQ(st.nacked_version, std::to_string(g2));
  EXPECT_EQ(st.last_nack_error, "cluster a rejected");
  EXPECT_EQ(st.version_acked, std::to_string(g1));
  EXPECT_EQ(st.responses, 2u);
  Set(kClusterType, {Cds("a", 1)});  // Same content republished.
  EXPECT_THAT(Push(Changed(kClusterType, {"a"})), IsEmpty());
  // Changed content: pushed.
  Set(kClusterType, {Cds("a", 2)});
  DeltaDiscoveryResponse r3 = PushOne(Changed(kClusterType, {"a"}));
  EXPECT_EQ(NamesOf(r3), (Names{"a"}));
  EXPECT_THAT(Send(DAck(r3)), IsEmpty());
  EXPECT_EQ(StatusOf(kClusterType).version_acked, std::to_string(snap_->generation()));
}

TEST_F(DeltaTest, AckWithUnknownNonceDoesNotClobberAckedVersion) {
  Set(kClusterType, {Cds("a")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kClusterType, {"a"}));
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());
  const std::string acked = StatusOf(kClusterType).version_acked;
  ASSERT_EQ(acked, r1.system_version_info());
  // A nonce this stream never sent (e.g. one from before a reconnect), or the same ACK twice.
  DeltaDiscoveryRequest bogus = DReq(kClusterType, {});
  bogus.set_response_nonce("12345");
  Send(bogus);
  Send(DAck(r1));
  EXPECT_EQ(StatusOf(kClusterType).version_acked, acked);
}

// Only the exact bytes of a nonce we sent answer it: "0<n>", "+<n>" or " <n>" name no response.
TEST_F(DeltaTest, NonceLookAlikesAreNotAcksOrNacks) {
  Set(kClusterType, {Cds("a")});
  DeltaDiscoveryResponse r1 = SendOne(DReq(kClusterType, {"a"}));
  for (const std::string& lookalike :
       {"0" + r1.nonce(), "+" + r1.nonce(), " " + r1.nonce(), r1.nonce() + " "}) {
    DeltaDiscoveryRequest nack = DNack(r1, "rejected");
    nack.set_response_nonce(lookalike);
    EXPECT_THAT(Send(nack), IsEmpty()) << lookalike;
  }
  TypeStatus st = StatusOf(kClusterType);
  EXPECT_EQ(st.nacks, 0u);
  EXPECT_EQ(st.last_nack_error, "");
  EXPECT_EQ(st.version_acked, "");
  // The real nonce is still unanswered: its ACK counts.
  EXPECT_THAT(Send(DAck(r1)), IsEmpty());
  EXPECT_EQ(StatusOf(kClusterType).version_acked, r1.system_version_info());
}

TEST_F(DeltaTest, AckWithoutSubscriptionChangeLooksAtNothing) {
  // Wildcard CDS and named EDS; plain ACKs produce nothing, and changes are still followed.
  Set(kClusterType, {Cds("a"), Cds("b")});
  Set(kEndpointType, {Eds("a"), Eds("b")});
  DeltaDiscoveryResponse c1 = SendOne(DReq(kClusterType, {"*"}));
  DeltaDiscoveryResponse e1 = SendOne(DReq(kEndpointType, {"a", "b"}));
  EXPECT_THAT(Send(DAck(c1)), IsEmpty());
  EXPECT_THAT(Send(DAck(e1)), IsEmpty());
  EXPECT_THAT(Send(DAck(e1)), IsEmpty());  // Repeated.
  Set(kEndpointType, {Eds("a", 1), Eds("b")});
  DeltaDiscoveryResponse e2 = PushOne(Changed(kEndpointType, {"a"}));
  EXPECT_EQ(NamesOf(e2), (Names{"a"}));
  // Under the wildcard, explicitly unsubscribing a name does not stop it: it is sent again.
  DeltaDiscoveryResponse c2 = SendOne(DReq(kClusterType, {}, {"a"}));
  EXPECT_EQ(NamesOf(c2), (Names{"a"}));
  // Switching the wildcard off drops what was only held through it, silently.
  EXPECT_THAT(Send(DReq(kClusterType, {"b"}, {"*"})), IsEmpty());
  Set(kClusterType, {Cds("a", 1), Cds("b", 1)});
  DeltaDiscoveryResponse c3 = PushOne(Changed(kClusterType, {"a", "b"}));
  EXPECT_EQ(NamesOf(c3), (Names{"b"}));
  // And switching it on again sends what the client lacks.
  DeltaDiscoveryResponse c4 = SendOne(DReq(kClusterType, {"*"}));
  EXPECT_EQ(NamesOf(c4), (Names{"a"}));
}

TEST_F(DeltaTest, FlavourLearntLateReconcilesEverything) {
  snap_ = snap_
              ->With(kClusterType, ClientFlavor::kEnvoy,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::MAGLEV)}))
              ->With(kClusterType, ClientFlavor::kGrpc,
                     MapOf({CdsWithPolicy("a", envoy::config::cluster::v3::Cluster::RING_HASH)}));
  DeltaDiscoveryResponse r1 = SendOne(DReq(kClusterType, {"*"}));
  DeltaDiscoveryRequest lds = DReq(kListenerType, {"*"});
  *lds.mutable_node() = MakeNode("late", "gRPC C-core");
  Send(lds);
  DeltaDiscoveryResponse r2 = SendOne(DAck(r1));
  ASSERT_EQ(r2.resources_size(), 1);
  envoy::config::cluster::v3::Cluster c;
  ASSERT_TRUE(r2.resources(0).resource().UnpackTo(&c));
  EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::RING_HASH);
}

TEST_F(DeltaTest, NoncesUniqueAndIncreasing) {
  Set(kClusterType, {Cds("a")});
  Set(kEndpointType, {Eds("a")});
  std::vector<DeltaDiscoveryResponse> all;
  all.push_back(SendOne(DReq(kClusterType, {"*"})));
  all.push_back(SendOne(DReq(kEndpointType, {"a"})));
  for (int i = 1; i <= 3; ++i) {
    Set(kClusterType, {Cds("a", i)});
    Set(kEndpointType, {Eds("a", i)});
    ChangeSet cs = Changed(kClusterType, {"a"});
    cs.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{"a"});
    for (auto& r : Push(cs)) all.push_back(std::move(r));
  }
  ASSERT_THAT(all, SizeIs(8));
  uint64_t last = 0;
  for (const auto& r : all) {
    uint64_t n = NonceNumber(r.nonce());
    EXPECT_GT(n, last);
    last = n;
    EXPECT_EQ(r.control_plane().identifier(), kCp);
  }
}

// ---------------------------------------------------------------------------------------------
// Make-before-break: the three phases XdsServer::Publish delivers, for a model change that adds
// cluster "new", deletes cluster "old" and points the ingress route at "new".

lb::v1::Cluster ModelCluster(const std::string& name, const std::string& ip) {
  lb::v1::Cluster c;
  c.set_name(name);
  c.set_lb_policy(lb::v1::ROUND_ROBIN);
  lb::v1::Endpoint* e = c.add_endpoints();
  e->set_address(ip);
  e->set_port(8080);
  e->set_weight(1);
  return c;
}

lb::v1::RouteTable RoutesTo(const std::string& cluster) {
  lb::v1::RouteTable t;
  lb::v1::Route* r = t.add_routes();
  r->set_name("all");
  r->set_path_prefix("/");
  r->set_cluster(cluster);
  return t;
}

// A small stand-in for XdsServer::Publish's bookkeeping: builds the resources of a set of model
// clusters the same way and produces the phase snapshots and change sets.
class MiniPublisher {
 public:
  struct Phase {
    std::shared_ptr<const Snapshot> snapshot;
    ChangeSet changes;
  };

  std::shared_ptr<const Snapshot> current() const { return current_; }

  // Initial state, published at once.
  void Seed(const std::vector<lb::v1::Cluster>& clusters, const lb::v1::RouteTable& routes) {
    for (const auto& c : clusters) clusters_[c.name()] = c;
    ResourceMap ce, cg, e, l, r;
    for (const auto& [name, c] : clusters_) Build(c, &ce, &cg, &e, &l);
    r[kIngressRouteConfig] = RouteResource(routes);
    current_ = current_->With(kClusterType, ClientFlavor::kEnvoy, ce)
                   ->With(kClusterType, ClientFlavor::kGrpc, cg)
                   ->WithBoth(kEndpointType, e)
                   ->WithBoth(kListenerType, l)
                   ->WithBoth(kRouteType, r);
  }

  // Adds `add`, deletes `remove`, sets the route table: the phases, in delivery order.
  std::vector<Phase> Publish(const lb::v1::Cluster& add, const std::string& remove,
                             const lb::v1::RouteTable& routes) {
    std::vector<Phase> phases;
    clusters_[add.name()] = add;
    clusters_.erase(remove);
    ResourceMap ce = current_->Get(kClusterType, ClientFlavor::kEnvoy);
    ResourceMap cg = current_->Get(kClusterType, ClientFlavor::kGrpc);
    ResourceMap e = current_->Get(kEndpointType, ClientFlavor::kEnvoy);
    ResourceMap l = current_->Get(kListenerType, ClientFlavor::kEnvoy);
    ResourceMap r = current_->Get(kRouteType, ClientFlavor::kEnvoy);
    Build(add, &ce, &cg, &e, &l);
    r[kIngressRouteConfig] = RouteResource(routes);
    current_ = current_->With(kClusterType, ClientFlavor::kEnvoy, ce)
                   ->With(kClusterType, ClientFlavor::kGrpc, cg)
                   ->WithBoth(kEndpointType, e)
                   ->WithBoth(kListenerType, l)
                   ->WithBoth(kRouteType, r);
    ChangeSet phase1;
    phase1.emplace_back(kClusterType, absl::flat_hash_set<std::string>{add.name()});
    phase1.emplace_back(kEndpointType, absl::flat_hash_set<std::string>{add.name()});
    phase1.emplace_back(kListenerType, absl::flat_hash_set<std::string>{add.name()});
    phase1.emplace_back(kRouteType, absl::flat_hash_set<std::string>{kIngressRouteConfig});
    phases.push_back({current_, phase1});

    l.erase(remove);
    current_ = current_->WithBoth(kListenerType, l);
    phases.push_back({current_, {{kListenerType, {remove}}}});

    ce.erase(remove);
    cg.erase(remove);
    e.erase(remove);
    current_ = current_->With(kClusterType, ClientFlavor::kEnvoy, ce)
                   ->With(kClusterType, ClientFlavor::kGrpc, cg)
                   ->WithBoth(kEndpointType, e);
    phases.push_back({current_, {{kClusterType, {remove}}, {kEndpointType, {remove}}}});
    return phases;
  }

 private:
  static void Build(const lb::v1::Cluster& c, ResourceMap* ce, ResourceMap* cg, ResourceMap* e,
                    ResourceMap* l) {
    (*ce)[c.name()] = MakeResource(c.name(), BuildCluster(c, ClientFlavor::kEnvoy));
    (*cg)[c.name()] = MakeResource(c.name(), BuildCluster(c, ClientFlavor::kGrpc));
    (*e)[c.name()] = MakeResource(c.name(), BuildLoadAssignment(c, nullptr));
    (*l)[c.name()] = MakeResource(c.name(), BuildApiListener(c));
  }
  ResourcePtr RouteResource(const lb::v1::RouteTable& routes) const {
    absl::flat_hash_map<std::string, lb::v1::Cluster> by_name(clusters_.begin(), clusters_.end());
    return MakeResource(kIngressRouteConfig, BuildIngressRoutes(routes, by_name));
  }

  std::map<std::string, lb::v1::Cluster> clusters_;
  std::shared_ptr<const Snapshot> current_ = std::make_shared<const Snapshot>();
};

TEST(MakeBeforeBreakTest, SotwResponsesFollowPublishPhases) {
  MiniPublisher pub;
  pub.Seed({ModelCluster("old", "10.0.0.1")}, RoutesTo("old"));

  // An Envoy proxy: wildcard CDS and LDS, EDS for both clusters, the ingress routes.
  SotwProtocol p(kCp);
  auto request = [&](DiscoveryRequest req) {
    std::vector<DiscoveryResponse> out = ValueOr(p.OnRequest(req, *pub.current()));
    for (const auto& r : out) {  // ACK everything at once.
      DiscoveryRequest ack = req;
      ack.set_version_info(r.version_info());
      ack.set_response_nonce(r.nonce());
      EXPECT_THAT(ValueOr(p.OnRequest(ack, *pub.current())), IsEmpty());
    }
    return out;
  };
  DiscoveryRequest first = SReq(kClusterType, {});
  *first.mutable_node() = MakeNode("envoy-1", "envoy");
  EXPECT_THAT(request(first), SizeIs(1));
  EXPECT_THAT(request(SReq(kEndpointType, {"old", "new"})), SizeIs(1));
  EXPECT_THAT(request(SReq(kListenerType, {})), SizeIs(1));
  EXPECT_THAT(request(SReq(kRouteType, {kIngressRouteConfig})), SizeIs(1));

  std::vector<MiniPublisher::Phase> phases =
      pub.Publish(ModelCluster("new", "10.0.0.2"), "old", RoutesTo("new"));
  ASSERT_THAT(phases, SizeIs(3));

  // Phase 1: everything new, CDS -> EDS -> LDS -> RDS. "old" is still there.
  std::vector<DiscoveryResponse> p1 = Protos(p.OnSnapshot(*phases[0].snapshot, phases[0].changes));
  EXPECT_THAT(TypesOf(p1), ElementsAre(kClusterType, kEndpointType, kListenerType, kRouteType));
  ASSERT_THAT(p1, SizeIs(4));
  EXPECT_EQ(NamesOf(p1[0]), (Names{"new", "old"}));
  EXPECT_EQ(NamesOf(p1[1]), (Names{"new"}));
  EXPECT_EQ(NamesOf(p1[2]), (Names{"new", "old"}));
  EXPECT_EQ(NamesOf(p1[3]), (Names{kIngressRouteConfig}));
  ASSERT_EQ(p1[3].resources_size(), 1);
  envoy::config::route::v3::RouteConfiguration rc;
  ASSERT_TRUE(p1[3].resources(0).UnpackTo(&rc));
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  ASSERT_EQ(rc.virtual_hosts(0).routes_size(), 1);
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).route().cluster(), "new");

  // Phase 2: the listener of the deleted cluster goes first.
  std::vector<DiscoveryResponse> p2 = Protos(p.OnSnapshot(*phases[1].snapshot, phases[1].changes));
  EXPECT_THAT(TypesOf(p2), ElementsAre(kListenerType));
  ASSERT_THAT(p2, SizeIs(1));
  EXPECT_EQ(NamesOf(p2[0]), (Names{"new"}));

  // Phase 3: then its cluster (full-state CDS without "old"); EDS deletion is not sent in SotW.
  std::vector<DiscoveryResponse> p3 = Protos(p.OnSnapshot(*phases[2].snapshot, phases[2].changes));
  EXPECT_THAT(TypesOf(p3), ElementsAre(kClusterType));
  ASSERT_THAT(p3, SizeIs(1));
  EXPECT_EQ(NamesOf(p3[0]), (Names{"new"}));

  // Nonces kept increasing through the phases.
  uint64_t last = 0;
  for (const auto* batch : {&p1, &p2, &p3}) {
    for (const auto& r : *batch) {
      uint64_t n = NonceNumber(r.nonce());
      EXPECT_GT(n, last);
      last = n;
    }
  }
}

TEST(MakeBeforeBreakTest, SotwGrpcClientNamedSubscriptions) {
  // A gRPC client of xds:///old that also watches xds:///new: named LDS/CDS/EDS.
  MiniPublisher pub;
  pub.Seed({ModelCluster("old", "10.0.0.1")}, RoutesTo("old"));
  SotwProtocol p(kCp);
  DiscoveryRequest lds = SReq(kListenerType, {"old", "new"});
  *lds.mutable_node() = MakeNode("grpc-1", "gRPC C-core");
  EXPECT_THAT(ValueOr(p.OnRequest(lds, *pub.current())), SizeIs(1));
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kClusterType, {"old", "new"}), *pub.current())), SizeIs(1));
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kEndpointType, {"old", "new"}), *pub.current())), SizeIs(1));
  std::vector<MiniPublisher::Phase> phases =
      pub.Publish(ModelCluster("new", "10.0.0.2"), "old", RoutesTo("new"));
  std::vector<DiscoveryResponse> p1 = Protos(p.OnSnapshot(*phases[0].snapshot, phases[0].changes));
  EXPECT_THAT(TypesOf(p1), ElementsAre(kClusterType, kEndpointType, kListenerType));
  // The gRPC flavour of the new cluster.
  ASSERT_THAT(p1, SizeIs(3));
  for (const auto& any : p1[0].resources()) {
    envoy::config::cluster::v3::Cluster c;
    ASSERT_TRUE(any.UnpackTo(&c));
    EXPECT_FALSE(c.has_outlier_detection()) << c.name();
  }
  std::vector<DiscoveryResponse> p2 = Protos(p.OnSnapshot(*phases[1].snapshot, phases[1].changes));
  EXPECT_THAT(TypesOf(p2), ElementsAre(kListenerType));
  std::vector<DiscoveryResponse> p3 = Protos(p.OnSnapshot(*phases[2].snapshot, phases[2].changes));
  EXPECT_THAT(TypesOf(p3), ElementsAre(kClusterType));
}

TEST(MakeBeforeBreakTest, DeltaResponsesFollowPublishPhases) {
  MiniPublisher pub;
  pub.Seed({ModelCluster("old", "10.0.0.1")}, RoutesTo("old"));
  DeltaProtocol p(kCp);
  auto subscribe = [&](const std::string& type, const Names& names) {
    return ValueOr(p.OnRequest(DReq(type, names), *pub.current()));
  };
  EXPECT_THAT(subscribe(kClusterType, {"*"}), SizeIs(1));
  EXPECT_THAT(subscribe(kEndpointType, {"old", "new"}), SizeIs(1));  // "new" reported missing.
  EXPECT_THAT(subscribe(kListenerType, {"*"}), SizeIs(1));
  EXPECT_THAT(subscribe(kRouteType, {kIngressRouteConfig}), SizeIs(1));

  std::vector<MiniPublisher::Phase> phases =
      pub.Publish(ModelCluster("new", "10.0.0.2"), "old", RoutesTo("new"));
  std::vector<DeltaDiscoveryResponse> p1 =
      Protos(p.OnSnapshot(*phases[0].snapshot, phases[0].changes));
  EXPECT_THAT(TypesOf(p1), ElementsAre(kClusterType, kEndpointType, kListenerType, kRouteType));
  ASSERT_THAT(p1, SizeIs(4));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(NamesOf(p1[i]), (Names{"new"})) << p1[i].type_url();
    EXPECT_THAT(p1[i].removed_resources(), IsEmpty()) << p1[i].type_url();
    EXPECT_EQ(p1[i].system_version_info(), std::to_string(phases[0].snapshot->generation()));
  }
  EXPECT_EQ(NamesOf(p1[3]), (Names{kIngressRouteConfig}));

  std::vector<DeltaDiscoveryResponse> p2 =
      Protos(p.OnSnapshot(*phases[1].snapshot, phases[1].changes));
  EXPECT_THAT(TypesOf(p2), ElementsAre(kListenerType));
  ASSERT_THAT(p2, SizeIs(1));
  EXPECT_THAT(p2[0].resources(), IsEmpty());
  EXPECT_EQ(Removed(p2[0]), (Names{"old"}));

  std::vector<DeltaDiscoveryResponse> p3 =
      Protos(p.OnSnapshot(*phases[2].snapshot, phases[2].changes));
  EXPECT_THAT(TypesOf(p3), ElementsAre(kClusterType, kEndpointType));
  ASSERT_THAT(p3, SizeIs(2));
  EXPECT_EQ(Removed(p3[0]), (Names{"old"}));
  EXPECT_EQ(Removed(p3[1]), (Names{"old"}));
  EXPECT_THAT(p3[0].resources(), IsEmpty());
  EXPECT_THAT(p3[1].resources(), IsEmpty());
}

TEST(MakeBeforeBreakTest, ResponsesFollowChangeSetOrder) {
  // OnSnapshot answers in the order of the ChangeSet it is given, whatever that is.
  auto snap = std::make_shared<const Snapshot>()
                  ->WithBoth(kClusterType, MapOf({Cds("a")}))
                  ->WithBoth(kListenerType, MapOf({Lds("a")}));
  SotwProtocol p(kCp);
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kClusterType, {}), *snap)), SizeIs(1));
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kListenerType, {}), *snap)), SizeIs(1));
  snap = snap->WithBoth(kClusterType, MapOf({Cds("a", 1)}))
             ->WithBoth(kListenerType, MapOf({Lds("a", 1)}));
  ChangeSet cs = Changed(kListenerType, {"a"});
  cs.emplace_back(kClusterType, absl::flat_hash_set<std::string>{"a"});
  EXPECT_THAT(TypesOf(Protos(p.OnSnapshot(*snap, cs))), ElementsAre(kListenerType, kClusterType));
}

// ---------------------------------------------------------------------------------------------
// Stream limits: a request over them fails with kResourceExhausted, naming the count and the
// limit, and leaves what the stream already subscribed to alone.

template <typename Result>
void ExpectExhausted(const Result& result, const std::string& message) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(result.status().message(), message);
}

TEST(StreamLimitsTest, SotwCountsNamesOverAllTypesAndFreesThemOnReplacement) {
  auto snap = std::make_shared<const Snapshot>()->WithBoth(kEndpointType, MapOf({Eds("a")}));
  SotwProtocol p(kCp, StreamLimits{3, 1000});
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kEndpointType, {"a", "b", "c"}), *snap)), SizeIs(1));
  EXPECT_EQ(p.exceeded(), ExceededLimit::kNone);
  ExpectExhausted(p.OnRequest(SReq(kClusterType, {"x"}), *snap),
                  "ADS stream subscribes to 4 resource names; the limit is 3 per stream");
  EXPECT_EQ(p.exceeded(), ExceededLimit::kNames);
  // Replacing the EDS names frees their share; duplicates count, as they are kept as sent.
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kEndpointType, {"a"}), *snap)), IsEmpty());
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kClusterType, {"x", "x"}), *snap)), SizeIs(1));
  ExpectExhausted(p.OnRequest(SReq(kEndpointType, {"a", "b"}), *snap),
                  "ADS stream subscribes to 4 resource names; the limit is 3 per stream");
  // "*" is a name as sent.
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kClusterType, {"*"}), *snap)), IsEmpty());
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kEndpointType, {"a", "b"}), *snap)), IsEmpty());
  ExpectExhausted(p.OnRequest(SReq(kEndpointType, {"a", "b", "c"}), *snap),
                  "ADS stream subscribes to 4 resource names; the limit is 3 per stream");
}

TEST(StreamLimitsTest, SotwCountsNameBytes) {
  auto snap = std::make_shared<const Snapshot>();
  SotwProtocol p(kCp, StreamLimits{100, 10});
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kEndpointType, {"aaaa", "bbbb"}), *snap)), IsEmpty());
  ExpectExhausted(p.OnRequest(SReq(kRouteType, {"ccc"}), *snap),
                  "ADS stream subscribes to resource names of 11 bytes in all; the limit is 10 "
                  "per stream");
  EXPECT_EQ(p.exceeded(), ExceededLimit::kNameBytes);
  EXPECT_THAT(ValueOr(p.OnRequest(SReq(kRouteType, {"cc"}), *snap)), IsEmpty());
}

TEST(StreamLimitsTest, DeltaCountsSubscribedNamesAndEchoesUnknownOnesWithinTheLimit) {
  auto snap = std::make_shared<const Snapshot>()->WithBoth(kEndpointType, MapOf({Eds("a")}));
  DeltaProtocol p(kCp, StreamLimits{3, 1000});
  std::vector<DeltaDiscoveryResponse> r =
      ValueOr(p.OnRequest(DReq(kEndpointType, {"a", "x"}), *snap));
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_EQ(NamesOf(r[0]), (Names{"a"}));
  EXPECT_EQ(Removed(r[0]), (Names{"x"}));
  // Subscribing again to a name held does not count twice.
  EXPECT_THAT(ValueOr(p.OnRequest(DReq(kEndpointType, {"a", "x"}), *snap)), IsEmpty());
  r = ValueOr(p.OnRequest(DReq(kClusterType, {"y"}), *snap));
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_EQ(Removed(r[0]), (Names{"y"}));
  ExpectExhausted(p.OnRequest(DReq(kClusterType, {"z"}), *snap),
                  "ADS stream subscribes to 4 resource names; the limit is 3 per stream");

  // A full stream can swap names in one request ("*" is none); the result is what counts.
  DeltaProtocol q(kCp, StreamLimits{3, 1000});
  EXPECT_THAT(ValueOr(q.OnRequest(DReq(kEndpointType, {"a", "b", "c", "*"}), *snap)), SizeIs(1));
  EXPECT_THAT(ValueOr(q.OnRequest(DReq(kEndpointType, {"d"}, {"b", "c"}), *snap)), SizeIs(1));
  EXPECT_THAT(ValueOr(q.OnRequest(DReq(kEndpointType, {"e"}), *snap)), SizeIs(1));
  ExpectExhausted(q.OnRequest(DReq(kEndpointType, {"f"}), *snap),
                  "ADS stream subscribes to 4 resource names; the limit is 3 per stream");
  ExpectExhausted(q.OnRequest(DReq(kEndpointType, {"f", "g"}, {"a"}), *snap),
                  "ADS stream subscribes to 4 resource names; the limit is 3 per stream");
}

TEST(StreamLimitsTest, DeltaCountsNameBytes) {
  auto snap = std::make_shared<const Snapshot>();
  DeltaProtocol p(kCp, StreamLimits{100, 8});
  EXPECT_THAT(ValueOr(p.OnRequest(DReq(kEndpointType, {"aaaa", "bbbb"}), *snap)), SizeIs(1));
  ExpectExhausted(p.OnRequest(DReq(kEndpointType, {"c"}), *snap),
                  "ADS stream subscribes to resource names of 9 bytes in all; the limit is 8 "
                  "per stream");
  EXPECT_EQ(p.exceeded(), ExceededLimit::kNameBytes);
}

TEST(StreamLimitsTest, DeltaBoundsInitialResourceVersions) {
  auto snap = std::make_shared<const Snapshot>();
  DeltaProtocol p(kCp, StreamLimits{2, 1000});
  DeltaDiscoveryRequest req = DReq(kClusterType, {"*"});
  for (const char* n : {"a", "b", "c"}) (*req.mutable_initial_resource_versions())[n] = "v";
  ExpectExhausted(p.OnRequest(req, *snap),
                  "ADS stream sends initial_resource_versions for 3 resource names; the limit "
                  "is 2 per stream");
  DeltaProtocol q(kCp, StreamLimits{100, 5});
  (*req.mutable_initial_resource_versions()).erase("c");
  (*req.mutable_initial_resource_versions())["b"] = "v-long";
  ExpectExhausted(q.OnRequest(req, *snap),
                  "ADS stream sends initial_resource_versions for resource names of 9 bytes in "
                  "all; the limit is 5 per stream");
}

}  // namespace
}  // namespace lb::xds
