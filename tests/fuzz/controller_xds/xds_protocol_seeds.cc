// Seed inputs: one short stream per protocol rule of docs/xds-protocol.md.
#include "tests/fuzz/controller_xds/xds_protocol_seeds.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/xds/type_urls.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "tests/fuzz/controller_xds/xds_protocol_fuzz.h"

namespace lb::fuzz {
namespace {

using envoy::config::core::v3::Node;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryRequest;
using Names = std::vector<std::string>;

// Answer selectors (see xds_protocol_fuzz.h).
constexpr uint8_t kLatest = 0;
constexpr uint8_t kPrevious = 1;
constexpr uint8_t kWithVersion = 0x10;  // SotW: echo the response's version_info too (an ACK).
constexpr uint8_t kAnyType = 0x20;

// Bits of XdsNamePool().
constexpr uint8_t kA = 1 << 0, kB = 1 << 1, kC = 1 << 2, kBackend = 1 << 3, kDefault = 1 << 4,
                  kWeb = 1 << 5, kSvc = 1 << 6, kGrpcSvc = 1 << 7;

// A real xDS type the controller does not serve (RTDS).
constexpr char kUnservedType[] = "type.googleapis.com/envoy.service.runtime.v3.Runtime";

const std::string& Cds() { return XdsTypeUrl(kXdsCds); }
const std::string& Eds() { return XdsTypeUrl(kXdsEds); }
const std::string& Lds() { return XdsTypeUrl(kXdsLds); }
const std::string& Rds() { return XdsTypeUrl(kXdsRds); }

XdsSnapshotSpec Spec(uint8_t cds, uint8_t eds, uint8_t lds, uint8_t rds, uint8_t rev = 0) {
  XdsSnapshotSpec s;
  s.present[kXdsCds] = cds;
  s.present[kXdsEds] = eds;
  s.present[kXdsLds] = lds;
  s.present[kXdsRds] = rds;
  for (uint8_t& r : s.revision) r = rev;
  s.grpc_cds_present = cds;
  return s;
}

// Clusters a, b, backend with their endpoints; listeners a and the gRPC target; route default.
XdsSnapshotSpec Base() {
  return Spec(kA | kB | kBackend, kA | kB | kBackend, kA | kGrpcSvc, kDefault);
}

Node MakeNode(const std::string& id, const std::string& agent) {
  Node n;
  n.set_id(id);
  n.set_cluster("proxies");
  n.set_user_agent_name(agent);
  n.mutable_locality()->set_zone("zone-a");
  return n;
}
Node Envoy() { return MakeNode("envoy-1", "envoy"); }
Node Grpc() { return MakeNode("grpc-1", "gRPC C-core"); }

DiscoveryRequest S(const std::string& type, const Names& names) {
  DiscoveryRequest r;
  r.set_type_url(type);
  for (const auto& n : names) r.add_resource_names(n);
  return r;
}
DiscoveryRequest S(const std::string& type, const Names& names, const Node& node) {
  DiscoveryRequest r = S(type, names);
  *r.mutable_node() = node;
  return r;
}
DiscoveryRequest SNack(const std::string& type, const Names& names, int code,
                       const std::string& message) {
  DiscoveryRequest r = S(type, names);
  r.mutable_error_detail()->set_code(code);
  r.mutable_error_detail()->set_message(message);
  return r;
}

DeltaDiscoveryRequest D(const std::string& type, const Names& subscribe,
                        const Names& unsubscribe = {}) {
  DeltaDiscoveryRequest r;
  r.set_type_url(type);
  for (const auto& n : subscribe) r.add_resource_names_subscribe(n);
  for (const auto& n : unsubscribe) r.add_resource_names_unsubscribe(n);
  return r;
}
DeltaDiscoveryRequest D(const std::string& type, const Names& subscribe, const Names& unsubscribe,
                        const Node& node) {
  DeltaDiscoveryRequest r = D(type, subscribe, unsubscribe);
  *r.mutable_node() = node;
  return r;
}
DeltaDiscoveryRequest DNack(const std::string& type, int code, const std::string& message) {
  DeltaDiscoveryRequest r = D(type, {});
  r.mutable_error_detail()->set_code(code);
  r.mutable_error_detail()->set_message(message);
  return r;
}

// ---------------------------------------------------------------------------------------------
// SotW

std::string SotwCdsWildcardInitial() {
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Answer(kLatest | kWithVersion, S(Cds(), {}))
      .Request(S(Lds(), {}))
      .Answer(kLatest | kWithVersion, S(Lds(), {}))
      .bytes();
}

std::string SotwStarAndNamed() {
  return XdsInputBuilder(false, Base())
      .Request(S(Lds(), {"*"}, Envoy()))
      .Answer(kWithVersion, S(Lds(), {"*"}))
      .Request(S(Cds(), {"a", "*"}))
      .Answer(kWithVersion, S(Cds(), {"a", "*"}))
      .Answer(kWithVersion, S(Cds(), {"a"}))  // Wildcard off.
      // A new name is answered even though the view (just "a") did not change.
      .Answer(kWithVersion, S(Cds(), {"a", "missing"}))
      .Answer(kWithVersion, S(Cds(), {}))  // Not a legacy wildcard any more: nothing.
      .Answer(kWithVersion, S(Cds(), {"*"}))
      .Request(S(Eds(), {"*"}))  // "*" means nothing for EDS.
      .bytes();
}

std::string SotwEdsNamedSubscribe() {
  XdsSnapshotSpec next = Base();
  next.revision[kXdsEds] = kA;
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Answer(kWithVersion, S(Cds(), {}))
      .Request(S(Eds(), {"a", "b"}))
      .Answer(kWithVersion, S(Eds(), {"a", "b"}))
      .Publish(next)
      .Answer(kWithVersion, S(Eds(), {"a", "b"}))
      .bytes();
}

std::string SotwEdsMissingThenAppears() {
  XdsSnapshotSpec later = Base();
  later.present[kXdsEds] |= kC;
  XdsSnapshotSpec last = later;
  last.present[kXdsEds] |= kSvc;
  last.present[kXdsRds] = 0;
  XdsSnapshotSpec again = last;
  again.present[kXdsRds] = kDefault;
  return XdsInputBuilder(false, Spec(kA, kA, 0, 0))
      .Request(S(Eds(), {"c", "svc.example.com"}, Envoy()))
      .Request(S(Rds(), {"default"}))
      .Publish(later)
      .Answer(kWithVersion, S(Eds(), {"c", "svc.example.com"}))
      .Publish(last)
      .Publish(again)
      .Answer(kWithVersion, S(Rds(), {"default"}))
      .bytes();
}

std::string SotwNackErrorDetail() {
  XdsSnapshotSpec changed = Base();
  changed.revision[kXdsCds] = kA;
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Answer(kLatest, SNack(Cds(), {}, 3, "cluster a: unsupported lb_policy"))
      .Publish(Base(), kA | kB, true)  // Nothing changed: the NACKed view is not pushed again.
      .Publish(changed)
      .Answer(kWithVersion, S(Cds(), {}))
      .Request(S(Eds(), {"a"}))
      .Answer(kLatest, SNack(Eds(), {"a"}, 0, "message only"))
      .Answer(kLatest, SNack(Eds(), {"a"}, 13, ""))  // Code only: still a NACK.
      .bytes();
}

std::string SotwStaleNonce() {
  XdsSnapshotSpec changed = Base();
  changed.revision[kXdsCds] = kA | kB;
  DiscoveryRequest bogus = S(Cds(), {"a"});
  bogus.set_response_nonce("999");
  bogus.set_version_info("0000000000000000");
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Request(S(Eds(), {"a"}))
      .Publish(changed)
      .Answer(kPrevious | kWithVersion, S(Cds(), {"a"}))  // Superseded: ignored.
      .Request(bogus)
      .Answer(kAnyType, S(Cds(), {"b"}))  // The EDS nonce: not CDS's latest.
      .Answer(kWithVersion, S(Cds(), {}))
      .bytes();
}

std::string SotwUnknownTypeUrl() {
  return XdsInputBuilder(false, Base())
      .Request(S(kUnservedType, {"a"}, Envoy()))
      .Request(S("envoy.config.cluster.v3.Cluster", {}))
      .Request(S("type.googleapis.com/envoy.config.cluster.v3.Cluster ", {}))
      .Request(S("type.googleapis.com/envoy.config.cluster.v2.Cluster", {}))
      .Request(S(Cds(), {}))
      .bytes();
}

std::string SotwEmptyTypeUrlLater() {
  DiscoveryRequest reconnect = S(Cds(), {});
  reconnect.set_version_info("0123456789abcdef");  // A version from before.
  *reconnect.mutable_node() = Envoy();
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Answer(kWithVersion, S(Cds(), {}))
      .Request(S(Eds(), {"a"}))
      .Answer(kLatest, S("", {"a"}))  // No type_url: the stream ends.
      .Request(reconnect)
      .Answer(kWithVersion, S(Cds(), {}))
      .bytes();
}

std::string SotwNodeChanges() {
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Request(S(Lds(), {}, Grpc()))  // Only the first node counts.
      .Answer(kWithVersion, S(Cds(), {}, MakeNode("other", "envoy")))
      .bytes();
}

std::string SotwGrpcLateNode() {
  XdsSnapshotSpec spec = Base();
  spec.grpc_cds_present = kA | kBackend;  // gRPC's map lacks b.
  XdsSnapshotSpec eds_only = spec;
  eds_only.revision[kXdsEds] = kB;
  return XdsInputBuilder(false, spec)
      .Request(S(Cds(), {"*"}))
      .Request(S(Eds(), {"a", "b"}))
      .Request(S(Lds(), {"a"}, Grpc()))  // The flavour is learnt late: CDS is stale.
      .Publish(eds_only)
      .Answer(kWithVersion, S(Cds(), {"*"}))  // Recomputed for gRPC.
      .Answer(kWithVersion, S(Cds(), {"*"}))
      .bytes();
}

std::string SotwGrpcClientFlow() {
  XdsSnapshotSpec deleted = Base();
  deleted.present[kXdsCds] &= ~kBackend;
  deleted.present[kXdsEds] &= ~kBackend;
  deleted.grpc_cds_present = deleted.present[kXdsCds];
  return XdsInputBuilder(false, Base())
      .Request(S(Lds(), {"xds:///grpc-svc"}, Grpc()))
      .Answer(kWithVersion, S(Lds(), {"xds:///grpc-svc"}))
      .Request(S(Rds(), {"default"}))
      .Answer(kWithVersion, S(Rds(), {"default"}))
      .Request(S(Cds(), {"backend"}))
      .Answer(kWithVersion, S(Cds(), {"backend"}))
      .Request(S(Eds(), {"backend"}))
      .Answer(kWithVersion, S(Eds(), {"backend"}))
      .Publish(deleted)
      .Answer(kWithVersion, S(Cds(), {"backend"}))
      .Publish(Base())
      .bytes();
}

std::string SotwHugeNames() {
  DiscoveryRequest eds = S(Eds(), {}, Envoy());
  for (int i = 0; i < 3000; ++i) eds.add_resource_names(absl::StrCat("n", i));
  for (const char* n : {"a", "b", "backend", "c"}) eds.add_resource_names(n);
  DiscoveryRequest cds = S(Cds(), {});
  for (int i = 0; i < 2000; ++i) cds.add_resource_names("a");
  return XdsInputBuilder(false, Base())
      .Request(eds)
      .Answer(kWithVersion, eds)
      .Request(cds)
      .Publish(Spec(0xff, 0xff, 0xff, 0xff))
      .bytes();
}

std::string SotwDuplicateNames() {
  return XdsInputBuilder(false, Base())
      .Request(S(Eds(), {"a", "a", "b", "a"}, Envoy()))
      .Answer(kWithVersion, S(Eds(), {"b", "a"}))  // Same subscription, another order.
      .Answer(kWithVersion, S(Eds(), {"a", "b", "b"}))
      .Request(S(Cds(), {"a", "a", "*", "*"}))
      .bytes();
}

std::string SotwUnsubscribeResubscribe() {
  return XdsInputBuilder(false, Base())
      .Request(S(Eds(), {"a", "b"}, Envoy()))
      .Answer(kWithVersion, S(Eds(), {"a"}))
      .Answer(kWithVersion, S(Eds(), {"a", "b"}))  // b is answered again.
      .Answer(kWithVersion, S(Eds(), {}))
      .Request(S(Lds(), {"a", "web"}))
      .Answer(kWithVersion, S(Lds(), {"web"}))
      .bytes();
}

std::string SotwPublishDeletesReadds() {
  XdsSnapshotSpec without_b =
      Spec(kA | kBackend, kA | kBackend, kA | kGrpcSvc, kDefault | kWeb, kA);
  return XdsInputBuilder(false, Base())
      .Request(S(Lds(), {}, Envoy()))
      .Request(S(Cds(), {}))
      .Request(S(Eds(), {"a", "b"}))
      .Request(S(Rds(), {"default", "web"}))
      .Publish(without_b)
      .Answer(kWithVersion, S(Eds(), {"a", "b"}))
      .Publish(Base())  // b comes back: sent again.
      .Publish(Base(), 0xff, true)
      .Publish(Spec(0, 0, 0, 0))
      .bytes();
}

std::string SotwReconnect() {
  DiscoveryRequest old = S(Cds(), {});
  old.set_version_info("00000000000000ff");
  old.set_response_nonce("1");
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Answer(kWithVersion, S(Cds(), {}))
      .Reconnect()
      .Request(old)  // A nonce from the old stream: stale here.
      .Request(S(Cds(), {}, Envoy()))
      .Answer(kWithVersion, S(Cds(), {}))
      .bytes();
}

// ---------------------------------------------------------------------------------------------
// Delta

std::string DeltaWildcardStar() {
  XdsSnapshotSpec changed = Base();
  changed.revision[kXdsCds] = kB;
  return XdsInputBuilder(true, Base())
      .Request(D(Cds(), {"*"}, {}, Envoy()))
      .Answer(kLatest, D(Cds(), {}))
      .Publish(changed)
      .Answer(kLatest, D(Cds(), {}))
      .Request(D(Eds(), {"a", "b"}))
      .Answer(kLatest, D(Eds(), {}))
      .bytes();
}

std::string DeltaLegacyWildcard() {
  return XdsInputBuilder(true, Base())
      .Request(D(Lds(), {}, {}, Envoy()))  // Legacy wildcard for LDS/CDS only.
      .Request(D(Rds(), {}))
      .Request(D(Cds(), {}, {"a"}))
      .Request(D(Eds(), {"*"}))
      .bytes();
}

std::string DeltaSubscribeUnsubscribe() {
  XdsSnapshotSpec with_c = Base();
  with_c.present[kXdsEds] |= kC;
  return XdsInputBuilder(true, Base())
      .Request(D(Eds(), {"a", "b"}, {}, Envoy()))
      .Answer(kLatest, D(Eds(), {}))
      .Request(D(Eds(), {}, {"a"}))
      .Request(D(Eds(), {"c"}))  // Missing: reported in removed_resources.
      .Publish(with_c)
      .Request(D(Eds(), {}, {"a", "b", "c"}))
      .Request(D(Eds(), {"c"}))
      .bytes();
}

std::string DeltaWildcardOffOn() {
  XdsSnapshotSpec changed = Base();
  changed.revision[kXdsCds] = kA | kB;
  return XdsInputBuilder(true, Base())
      .Request(D(Cds(), {"*"}, {}, Envoy()))
      .Answer(kLatest, D(Cds(), {}))
      .Request(D(Cds(), {}, {"a"}))  // Still wanted through the wildcard: sent again.
      .Request(D(Cds(), {"b"}, {"*"}))
      .Publish(changed)
      .Request(D(Cds(), {"*"}))
      .bytes();
}

std::string DeltaInitialVersions() {
  DeltaDiscoveryRequest cds = D(Cds(), {"*"}, {}, Envoy());
  auto& cv = *cds.mutable_initial_resource_versions();
  cv["a"] = XdsResourceVersion(kXdsCds, 0, 0, false);  // Current: not resent.
  cv["b"] = "stale-version";                           // Resent.
  cv["gone"] = "0000000000000001";                     // Vanished: removed.
  cv["c"] = "";
  DeltaDiscoveryRequest eds = D(Eds(), {"a", "b", "c"});
  auto& ev = *eds.mutable_initial_resource_versions();
  ev["a"] = XdsResourceVersion(kXdsEds, 0, 0, false);
  ev["b"] = XdsResourceVersion(kXdsEds, 1, 1, false);        // Another revision: resent.
  ev["backend"] = XdsResourceVersion(kXdsEds, 3, 0, false);  // Not subscribed.
  DeltaDiscoveryRequest late = D(Eds(), {"backend"});
  (*late.mutable_initial_resource_versions())["backend"] = ev["backend"];  // Not the first.
  return XdsInputBuilder(true, Base()).Request(cds).Request(eds).Request(late).bytes();
}

std::string DeltaNack() {
  XdsSnapshotSpec changed = Base();
  changed.revision[kXdsCds] = kA;
  DeltaDiscoveryRequest unknown = D(Cds(), {});
  unknown.set_response_nonce("12345");
  DeltaDiscoveryRequest junk = D(Cds(), {});
  junk.set_response_nonce("abc");
  return XdsInputBuilder(true, Base())
      .Request(D(Cds(), {"a"}, {}, Envoy()))
      .Answer(kLatest, DNack(Cds(), 3, "cluster a rejected"))
      .Publish(changed)
      .Answer(kPrevious, D(Cds(), {}))  // Already answered: not recorded.
      .Answer(kLatest, D(Cds(), {}))
      .Request(unknown)
      .Request(junk)
      .bytes();
}

std::string DeltaStaleNonceSubscription() {
  XdsSnapshotSpec changed = Base();
  changed.revision[kXdsEds] = kA;
  DeltaDiscoveryRequest bogus = D(Eds(), {}, {"a"});
  bogus.set_response_nonce("777");
  return XdsInputBuilder(true, Base())
      .Request(D(Eds(), {"a"}, {}, Envoy()))
      .Publish(changed)
      .Answer(kPrevious, D(Eds(), {"b"}))  // ACK of the older response, and a subscription.
      .Request(bogus)
      .Answer(kAnyType, D(Eds(), {"backend"}))
      .bytes();
}

std::string DeltaHugeNames() {
  DeltaDiscoveryRequest sub = D(Eds(), {}, {}, Envoy());
  for (int i = 0; i < 3000; ++i) sub.add_resource_names_subscribe(absl::StrCat("n", i % 2500));
  for (const char* n : {"a", "b", "a"}) sub.add_resource_names_subscribe(n);
  DeltaDiscoveryRequest unsub = D(Eds(), {});
  for (int i = 0; i < 1500; ++i) unsub.add_resource_names_unsubscribe(absl::StrCat("n", i));
  return XdsInputBuilder(true, Base())
      .Request(sub)
      .Answer(kLatest, unsub)
      .Publish(Spec(0xff, 0xff, 0xff, 0xff))
      .Request(D(Eds(), {"*"}))
      .bytes();
}

std::string DeltaEmptyTypeUrlReconnect() {
  DeltaDiscoveryRequest cds = D(Cds(), {"*"}, {}, Envoy());
  for (int i : {0, 1, 3}) {
    (*cds.mutable_initial_resource_versions())[XdsNamePool()[i]] =
        XdsResourceVersion(kXdsCds, i, 0, false);
  }
  DeltaDiscoveryRequest eds = D(Eds(), {"a"});
  (*eds.mutable_initial_resource_versions())["a"] = XdsResourceVersion(kXdsEds, 0, 0, false);
  return XdsInputBuilder(true, Base())
      .Request(D(Cds(), {"*"}, {}, Envoy()))
      .Request(D(Eds(), {"a"}))
      .Answer(kLatest, D("", {"b"}))  // No type_url: the stream ends.
      .Request(cds)                   // The reconnect states what the client holds.
      .Request(eds)
      .bytes();
}

std::string DeltaUnknownType() {
  return XdsInputBuilder(true, Base())
      .Request(D(kUnservedType, {"a"}, {}, Envoy()))
      .Request(D("type.googleapis.com/envoy.config.cluster.v3.Cluster ", {"*"}))
      .Request(D(Cds(), {"a"}))
      .bytes();
}

std::string DeltaGrpcLateNode() {
  XdsSnapshotSpec spec = Base();
  spec.grpc_cds_present = kA | kBackend;
  return XdsInputBuilder(true, spec)
      .Request(D(Cds(), {"*"}))
      .Request(D(Eds(), {"a"}))
      .Request(D(Lds(), {"*"}, {}, Grpc()))  // The flavour is learnt late.
      .Answer(kLatest, D(Cds(), {}))         // CDS reconciled for gRPC: b removed.
      .Request(D(Cds(), {}, {}, Envoy()))    // Ignored: not the first node.
      .bytes();
}

std::string DeltaSameNameBothLists() {
  return XdsInputBuilder(true, Base())
      .Request(D(Eds(), {"a", "b"}, {"a"}, Envoy()))
      .Request(D(Cds(), {"*"}, {"*"}))
      .Request(D(Cds(), {"b", "b"}, {"c", "c"}))
      .bytes();
}

std::string DeltaNonceWindow() {
  XdsInputBuilder b(true, Base());
  b.Request(D(Cds(), {"*"}, {}, Envoy()));
  for (int i = 0; i < 20; ++i) {
    XdsSnapshotSpec s = Base();
    s.revision[kXdsCds] = (i % 2) != 0 ? 0 : kA;
    b.Publish(s);
  }
  return b
      .Answer(15, D(Cds(), {}))  // Inside the window.
      .Answer(15, D(Cds(), {}))  // Now older than the one answered.
      .Answer(kLatest, DNack(Cds(), 3, "rejected"))
      .bytes();
}

// Regression: delta matched nonces by their number, so a look-alike echo ("01" for "1") was
// recorded as an ACK/NACK of a response the client never answered.
std::string RegressDeltaNonceLookalike() {
  constexpr uint8_t kLookalike = 0x40;
  return XdsInputBuilder(true, Base())
      .Request(D(Cds(), {"*"}, {}, Envoy()))
      .Answer(kLatest | kLookalike, D(Cds(), {}))
      .Request(D(Eds(), {"a"}))
      .Answer(kLatest | kLookalike, DNack(Eds(), 3, "bogus"))
      .Answer(kLatest, D(Eds(), {}))
      .bytes();
}

// Framing edge: a length that runs past the end of the input, over a request cut short (it
// does not parse).
std::string SotwTruncated() {
  const std::string eds = S(Eds(), {"a"}).SerializeAsString();
  return XdsInputBuilder(false, Base())
      .Request(S(Cds(), {}, Envoy()))
      .Raw(std::string("\x00\xff\xff\x03", 4) + eds.substr(0, eds.size() - 1))
      .bytes();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> XdsProtocolSeeds() {
  return {
      {"seed_sotw_cds_wildcard_initial", SotwCdsWildcardInitial()},
      {"seed_sotw_star_and_named", SotwStarAndNamed()},
      {"seed_sotw_eds_named_subscribe", SotwEdsNamedSubscribe()},
      {"seed_sotw_eds_missing_then_appears", SotwEdsMissingThenAppears()},
      {"seed_sotw_nack_error_detail", SotwNackErrorDetail()},
      {"seed_sotw_stale_nonce", SotwStaleNonce()},
      {"seed_sotw_unknown_type_url", SotwUnknownTypeUrl()},
      {"seed_sotw_empty_type_url_later", SotwEmptyTypeUrlLater()},
      {"seed_sotw_node_changes", SotwNodeChanges()},
      {"seed_sotw_grpc_late_node", SotwGrpcLateNode()},
      {"seed_sotw_grpc_client_flow", SotwGrpcClientFlow()},
      {"seed_sotw_huge_names", SotwHugeNames()},
      {"seed_sotw_duplicate_names", SotwDuplicateNames()},
      {"seed_sotw_unsubscribe_resubscribe", SotwUnsubscribeResubscribe()},
      {"seed_sotw_publish_deletes_readds", SotwPublishDeletesReadds()},
      {"seed_sotw_reconnect", SotwReconnect()},
      {"seed_sotw_truncated", SotwTruncated()},
      {"seed_delta_wildcard_star", DeltaWildcardStar()},
      {"seed_delta_legacy_wildcard", DeltaLegacyWildcard()},
      {"seed_delta_subscribe_unsubscribe", DeltaSubscribeUnsubscribe()},
      {"seed_delta_wildcard_off_on", DeltaWildcardOffOn()},
      {"seed_delta_initial_versions", DeltaInitialVersions()},
      {"seed_delta_nack", DeltaNack()},
      {"seed_delta_stale_nonce_subscription", DeltaStaleNonceSubscription()},
      {"seed_delta_huge_names", DeltaHugeNames()},
      {"seed_delta_empty_type_url_reconnect", DeltaEmptyTypeUrlReconnect()},
      {"seed_delta_unknown_type", DeltaUnknownType()},
      {"seed_delta_grpc_late_node", DeltaGrpcLateNode()},
      {"seed_delta_same_name_both_lists", DeltaSameNameBothLists()},
      {"seed_delta_nonce_window", DeltaNonceWindow()},
      {"regress_delta_nonce_lookalike", RegressDeltaNonceLookalike()},
  };
}

}  // namespace lb::fuzz
