// Fuzz target for the controller's ADS protocol state machines (controller/xds/protocol.h):
// requests from any client on the network, and snapshot publications, in any order.
//
// Each input (format: xds_protocol_fuzz.h) drives one SotwProtocol or DeltaProtocol stream (a
// new one after a rejected request or a reconnect op). Alongside, this file keeps its own model
// of the stream, built from the protocol rules (docs/xds-protocol.md, protocol.h) and
// from the responses alone, and after every step checks:
//   - nothing crashes or hangs; OnRequest fails only for a request without type_url, with
//     InvalidArgument and a message; a request for another type is ignored (no response);
//   - at most one response per request, of the request's type; publications answer in the
//     ChangeSet's (push) order, at most once per type;
//   - every response: a known type_url, our control_plane id, a numeric nonce greater than any
//     before on the stream (so unique), resources sorted by name without duplicates, each of
//     the response's type, subscribed, and at the version the stream's snapshot has for the
//     client's flavour (the flavour of the first node the stream saw);
//   - SotW: version_info is the view's version (sum of the view hashes of the subscribed
//     resources that exist); LDS/CDS carry exactly that view; the type's first request and one
//     naming something new are answered, other LDS/CDS answers never repeat the view the client
//     holds; EDS/RDS answers are never empty and carry only resources the client does not hold
//     at that version; a request with a stale nonce (not the type's latest) changes nothing and
//     gets nothing;
//   - delta: system_version_info is the snapshot generation; resources and removed_resources
//     never share a name, are never empty together, never resend what the client holds or
//     repeat a removal, and a removed name is absent from the snapshot; subscriptions follow
//     subscribe/unsubscribe/"*"/legacy wildcard/initial_resource_versions even with a stale
//     nonce;
//   - liveness: after every step, for every requested type (except those whose view is stale
//     because the flavour was learnt late, until their next request or change), what the client
//     holds equals what it subscribed to in the snapshot; delta clients have been told of
//     every missing explicit name;
//   - Status(): the types requested, in push order, with their subscription, responses,
//     version sent, and the ACKs/NACKs of nonces the protocol accepts, echoed exactly (SotW: the
//     type's latest; delta: one of the type's 16 most recent unanswered): a NACK (error_detail
//     code or message set) records the NACKed version and the error message; total_nacks() is
//     their sum; identity() holds the first node.
//
// Ordinary runs: xds_protocol_fuzz_test (a cc_test) runs the checked-in corpus in
// tests/fuzz/corpus/xds_protocol/, deterministic mutations of it and random streams.
//
// As a real coverage-guided fuzzer (clang + libFuzzer, not needed by the Bazel build), from the
// repository root, after `bazel build //proto:envoy_xds`, as one command:
//   clang++ -std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
//     -fno-sanitize-recover=undefined -I. -Ibazel-bin/proto
//     tests/fuzz/controller_xds/xds_protocol_fuzz.cc controller/xds/protocol.cc
//     controller/xds/snapshot.cc $(find bazel-bin/proto/envoy bazel-bin/proto/google
//     -name '*.pb.cc' ! -name '*.grpc.pb.cc') $(pkg-config --libs absl_strings
//     absl_str_format absl_status absl_statusor absl_hash absl_raw_hash_set)
//     -lprotobuf -lgrpc -lgpr -o /tmp/xds_protocol_fuzz
// then
//   mkdir -p /tmp/xds_corpus && cp tests/fuzz/corpus/xds_protocol/*_* /tmp/xds_corpus/
//   /tmp/xds_protocol_fuzz -max_len=8192 -max_total_time=300 /tmp/xds_corpus
// A crash writes crash-<sha1>; once fixed, copy it into tests/fuzz/corpus/xds_protocol/ as
// regress_<what>, a regression input.
#include "tests/fuzz/controller_xds/xds_protocol_fuzz.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/xds/protocol.h"
#include "controller/xds/resources.h"
#include "controller/xds/snapshot.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"

namespace lb::fuzz {
namespace {

using envoy::config::core::v3::Node;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryRequest;
using xds::ChangeSet;
using xds::ClientFlavor;
using xds::ResourceMap;
using xds::ResourcePtr;
using xds::Snapshot;
using xds::TypeStatus;

constexpr char kControlPlane[] = "cp-fuzz";
// DeltaProtocol remembers this many unanswered nonces per type (kMaxUnansweredNonces in
// controller/xds/protocol.cc); an ACK of an older one is not recorded.
constexpr size_t kDeltaNonceWindow = 16;
constexpr int kPoolSize = 8;

// ---------------------------------------------------------------------------------------------
// Snapshots

ResourcePtr BuildResource(XdsType type, const std::string& name, int rev, bool grpc) {
  switch (type) {
    case kXdsCds: {
      envoy::config::cluster::v3::Cluster c;
      c.set_name(name);
      c.set_type(envoy::config::cluster::v3::Cluster::EDS);
      c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
      c.mutable_connect_timeout()->set_seconds(1 + rev);
      // The flavours differ as the controller's do: gRPC gets a policy it supports.
      c.set_lb_policy(grpc ? envoy::config::cluster::v3::Cluster::ROUND_ROBIN
                           : envoy::config::cluster::v3::Cluster::LEAST_REQUEST);
      return xds::MakeResource(name, c);
    }
    case kXdsEds: {
      envoy::config::endpoint::v3::ClusterLoadAssignment cla;
      cla.set_cluster_name(name);
      auto* loc = cla.add_endpoints();
      loc->mutable_locality()->set_zone("z");
      loc->mutable_load_balancing_weight()->set_value(1);
      auto* sa =
          loc->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
      sa->set_address("10.0.0.1");
      sa->set_port_value(8000 + rev);
      return xds::MakeResource(name, cla);
    }
    case kXdsLds: {
      envoy::config::listener::v3::Listener l;
      l.set_name(name);
      auto* sa = l.mutable_address()->mutable_socket_address();
      sa->set_address("0.0.0.0");
      sa->set_port_value(10000 + rev);
      return xds::MakeResource(name, l);
    }
    case kXdsRds: {
      envoy::config::route::v3::RouteConfiguration rc;
      rc.set_name(name);
      auto* vh = rc.add_virtual_hosts();
      vh->set_name("vh");
      vh->add_domains("*");
      auto* r = vh->add_routes();
      r->mutable_match()->set_prefix(rev == 0 ? "/" : "/v2");
      r->mutable_route()->set_cluster(name);
      return xds::MakeResource(name, rc);
    }
  }
  return nullptr;
}

// Built once per (type, name, revision, flavour) and shared by every snapshot, as the
// controller shares unchanged resources between publications.
const ResourcePtr& CachedResource(XdsType type, int name, int rev, bool grpc) {
  static const std::vector<ResourcePtr>* cache = [] {
    auto* c = new std::vector<ResourcePtr>(4 * kPoolSize * 2 * 2);
    for (int t = 0; t < 4; ++t) {
      for (int n = 0; n < kPoolSize; ++n) {
        for (int r = 0; r < 2; ++r) {
          for (int g = 0; g < 2; ++g) {
            (*c)[((t * kPoolSize + n) * 2 + r) * 2 + g] =
                BuildResource(static_cast<XdsType>(t), XdsNamePool()[n], r, g == 1);
          }
        }
      }
    }
    return c;
  }();
  const int g = grpc && type == kXdsCds ? 1 : 0;
  return (*cache)[((type * kPoolSize + name) * 2 + rev) * 2 + g];
}

ResourceMap MapOf(const XdsSnapshotSpec& spec, XdsType type, bool grpc) {
  const uint8_t present =
      type == kXdsCds && grpc ? spec.grpc_cds_present : spec.present[static_cast<int>(type)];
  ResourceMap map;
  for (int i = 0; i < kPoolSize; ++i) {
    if ((present >> i) & 1) {
      const int rev = (spec.revision[static_cast<int>(type)] >> i) & 1;
      map[XdsNamePool()[i]] = CachedResource(type, i, rev, grpc);
    }
  }
  return map;
}

// Names whose resource differs between the maps (added, deleted or changed).
void AddDiffering(const ResourceMap& before, const ResourceMap& after, std::set<std::string>* out) {
  for (const auto& [name, r] : before) {
    auto it = after.find(name);
    if (it == after.end() || it->second != r) out->insert(name);
  }
  for (const auto& [name, r] : after) {
    if (before.count(name) == 0) out->insert(name);
  }
}

// Publishes `spec` on top of `current` the way XdsServer::Publish does (only changed maps are
// replaced, CDS per flavour) and fills the ChangeSet in push order.
std::shared_ptr<const Snapshot> Publish(const std::shared_ptr<const Snapshot>& current,
                                        const XdsSnapshotSpec& spec, uint8_t extra_names,
                                        bool every_type, ChangeSet* changes) {
  std::shared_ptr<const Snapshot> next = current;
  for (int t = 0; t < 4; ++t) {
    const XdsType type = static_cast<XdsType>(t);
    const std::string& url = XdsTypeUrl(type);
    ResourceMap envoy = MapOf(spec, type, false);
    ResourceMap grpc = MapOf(spec, type, true);
    std::set<std::string> changed;
    AddDiffering(current->Get(url, ClientFlavor::kEnvoy), envoy, &changed);
    AddDiffering(current->Get(url, ClientFlavor::kGrpc), grpc, &changed);
    if (!changed.empty()) {
      if (type == kXdsCds) {
        next = next->With(url, ClientFlavor::kEnvoy, std::move(envoy))
                   ->With(url, ClientFlavor::kGrpc, std::move(grpc));
      } else {
        next = next->WithBoth(url, std::move(envoy));
      }
    }
    for (int i = 0; i < kPoolSize; ++i) {
      if ((extra_names >> i) & 1) changed.insert(XdsNamePool()[i]);
    }
    if (!changed.empty() || every_type) {
      changes->emplace_back(url, absl::flat_hash_set<std::string>(changed.begin(), changed.end()));
    }
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
// Input

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t Byte() { return p_ == end_ ? 0 : *p_++; }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = Byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return v;
  }
  std::string Bytes(uint64_t n) {
    n = std::min<uint64_t>(n, end_ - p_);
    std::string out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }
  XdsSnapshotSpec Spec() {
    XdsSnapshotSpec spec;
    for (int t = 0; t < 4; ++t) {
      spec.present[t] = Byte();
      spec.revision[t] = Byte();
    }
    spec.grpc_cds_present = Byte();
    return spec;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// ---------------------------------------------------------------------------------------------
// What both protocol variants share: the node, the nonces, the response header, Status().

// The status the model expects for one type.
struct ExpectedStatus {
  bool wildcard = false;
  size_t subscribed = 0;
  std::string version_sent, version_acked, nacked_version, last_nack_error;
  uint64_t nacks = 0, responses = 0;
};

bool IsNack(const google::rpc::Status& error) {
  return error.code() != 0 || !error.message().empty();
}

std::string Clip(const std::string& s) {
  return s.size() > 300 ? absl::StrCat(s.substr(0, 300), "...") : s;
}

class Stream {
 public:
  Stream(const char* kind, std::set<std::string>* outcomes) : kind_(kind), outcomes_(outcomes) {}
  virtual ~Stream() = default;
  // A request op: `bytes` is the serialized request; `selector` is the answer op's (or -1).
  // Sets *ended if the stream ends. Returns "" or the violation.
  virtual std::string Request(const std::string& bytes, int selector, const Snapshot& snapshot,
                              bool* ended) = 0;
  virtual std::string Publish(const Snapshot& snapshot, const ChangeSet& changes) = 0;

  void Note(absl::string_view what) {
    if (outcomes_ != nullptr) outcomes_->insert(absl::StrCat(kind_, " ", what));
  }

 protected:
  // The node and flavour are those of the first request carrying a node. Returns true if that
  // changed the flavour.
  bool ObserveNode(bool has_node, const Node& node) {
    if (!has_node) return false;
    if (has_node_) {
      if (!google::protobuf::util::MessageDifferencer::Equals(node, node_)) Note("node ignored");
      return false;
    }
    has_node_ = true;
    node_ = node;
    const ClientFlavor before = flavor_;
    flavor_ = absl::StartsWith(node.user_agent_name(), "gRPC") ? ClientFlavor::kGrpc
                                                               : ClientFlavor::kEnvoy;
    if (flavor_ == ClientFlavor::kGrpc) Note("grpc flavour");
    return flavor_ != before;
  }

  // The only rejection: a request without type_url (the stream then ends).
  std::string CheckRejection(const absl::Status& status, bool* ended) {
    if (status.ok()) return "a request without type_url was accepted";
    if (status.code() != absl::StatusCode::kInvalidArgument || status.message().empty()) {
      return absl::StrCat("rejection is not InvalidArgument with a message: ", status.ToString());
    }
    Note("error InvalidArgument");
    *ended = true;
    return "";
  }

  std::string CheckHeader(const std::string& type_url, const std::string& nonce,
                          const std::string& control_plane_id) {
    if (!xds::IsKnownType(type_url)) return absl::StrCat("response of unknown type ", type_url);
    if (control_plane_id != kControlPlane) {
      return absl::StrCat("control_plane id \"", control_plane_id, "\"");
    }
    uint64_t n = 0;
    if (!absl::SimpleAtoi(nonce, &n) || absl::StrCat(n) != nonce) {
      return absl::StrCat("nonce \"", absl::CHexEscape(nonce), "\" is not a plain number");
    }
    if (n <= last_nonce_) {
      return absl::StrCat("nonce ", n, " after ", last_nonce_, ": not unique and increasing");
    }
    last_nonce_ = n;
    return "";
  }

  template <typename Protocol>
  std::string CheckIdentityAndStatus(const Protocol& protocol,
                                     const std::map<std::string, ExpectedStatus>& expected) {
    const xds::StreamIdentity& id = protocol.identity();
    if (id.has_node() != has_node_) return "identity().has_node() differs from the requests";
    if (has_node_ && !google::protobuf::util::MessageDifferencer::Equals(id.node(), node_)) {
      return "identity() is not the first node seen";
    }
    if (id.flavor() != flavor_) return "identity().flavor() is not the first node's";
    std::vector<TypeStatus> status = protocol.Status();
    std::vector<std::string> want_types;
    for (const std::string& t : xds::TypeOrder()) {
      if (expected.count(t) != 0) want_types.push_back(t);
    }
    if (status.size() != want_types.size()) {
      return absl::StrCat("Status() lists ", status.size(), " types, expected ", want_types.size());
    }
    uint64_t nacks = 0;
    for (size_t i = 0; i < status.size(); ++i) {
      const TypeStatus& s = status[i];
      if (s.type_url != want_types[i]) {
        return absl::StrCat("Status()[", i, "] is ", s.type_url, ", expected ", want_types[i]);
      }
      const ExpectedStatus& e = expected.at(s.type_url);
      auto field = [&](const char* name, const auto& got, const auto& want) -> std::string {
        if (got == want) return "";
        return absl::StrCat("Status() of ", s.type_url, ": ", name, " is \"", got,
                            "\", expected \"", want, "\"");
      };
      for (std::string problem :
           {field("wildcard", s.wildcard, e.wildcard),
            field("subscribed", s.subscribed, e.subscribed),
            field("version_sent", s.version_sent, e.version_sent),
            field("version_acked", s.version_acked, e.version_acked),
            field("nacked_version", s.nacked_version, e.nacked_version),
            field("last_nack_error", s.last_nack_error, e.last_nack_error),
            field("nacks", s.nacks, e.nacks), field("responses", s.responses, e.responses)}) {
        if (!problem.empty()) return problem;
      }
      nacks += e.nacks;
    }
    if (protocol.total_nacks() != nacks) {
      return absl::StrCat("total_nacks() ", protocol.total_nacks(), ", expected ", nacks);
    }
    return "";
  }

  // An earlier response of `type` (or of any type), `back` responses before the latest.
  struct Sent {
    std::string type, nonce, version;
  };
  // The nonce an answer op echoes.
  static std::string Echo(const Sent& s, int selector) {
    return (selector & 0x40) != 0 ? absl::StrCat("0", s.nonce) : s.nonce;
  }
  const Sent* Earlier(const std::string& type, int selector) const {
    const size_t back = selector & 0x0f;
    const bool any_type = (selector & 0x20) != 0;
    size_t seen = 0;
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (!any_type && it->type != type) continue;
      if (seen++ == back) return &*it;
    }
    return nullptr;
  }

  const char* kind_;
  std::set<std::string>* outcomes_;
  bool has_node_ = false;
  Node node_;
  ClientFlavor flavor_ = ClientFlavor::kEnvoy;
  uint64_t last_nonce_ = 0;
  std::vector<Sent> sent_;  // Every response of the stream, in order.
};

template <typename Message>
bool Parse(const std::string& bytes, Message* m) {
  google::protobuf::LogSilencer silence;  // Invalid UTF-8 in proto3 strings is logged.
  return m->ParseFromString(bytes);
}

// Strictly sorted (so no duplicates).
template <typename Names, typename Name>
std::string CheckSorted(const Names& names, Name name_of, const char* what) {
  for (size_t i = 1; i < names.size(); ++i) {
    if (!(name_of(names[i - 1]) < name_of(names[i]))) {
      return absl::StrCat(what, " not sorted or duplicated at \"", name_of(names[i]), "\"");
    }
  }
  return "";
}

const std::string& NameOf(const ResourcePtr& r) { return r->name; }
const std::string& Self(const std::string& s) { return s; }

// ---------------------------------------------------------------------------------------------
// State of the world

class SotwStream : public Stream {
 public:
  explicit SotwStream(std::set<std::string>* outcomes) : Stream("sotw", outcomes) {}

  std::string Request(const std::string& bytes, int selector, const Snapshot& snapshot,
                      bool* ended) override {
    DiscoveryRequest req;
    if (!Parse(bytes, &req)) {
      Note("parse error");  // The server ends such a stream before the protocol sees it.
      return "";
    }
    if (selector >= 0) {
      if (const Sent* s = Earlier(req.type_url(), selector)) {
        req.set_response_nonce(Echo(*s, selector));
        if (selector & 0x10) req.set_version_info(s->version);
      }
    }
    std::string problem = Handle(req, snapshot, ended);
    if (!problem.empty()) {
      return absl::StrCat(problem, "\n  request: ", Clip(req.ShortDebugString()));
    }
    return "";
  }

  std::string Publish(const Snapshot& snapshot, const ChangeSet& changes) override {
    std::vector<xds::SotwResponse> out = protocol_.OnSnapshot(snapshot, changes);
    for (const auto& [type, names] : changes) {
      auto it = types_.find(type);
      if (it != types_.end() && it->second.counted) it->second.stale = false;
    }
    Note(out.empty() ? "push nothing" : "push");
    size_t position = 0;
    for (const xds::SotwResponse& r : out) {
      // At most one per type, in the ChangeSet's order.
      while (position < changes.size() && changes[position].first != r.type_url) ++position;
      if (position == changes.size()) {
        return absl::StrCat("pushed ", r.type_url, " out of ChangeSet order or twice");
      }
      ++position;
      if (std::string e = CheckResponse(r, snapshot, false); !e.empty()) {
        return absl::StrCat("push: ", e);
      }
    }
    // EDS/RDS deletions are not sent: the protocol forgets them, and sends them again if they
    // come back.
    for (auto& [type, m] : types_) {
      if (xds::IsFullStateType(type)) continue;
      const ResourceMap& all = snapshot.Get(type, flavor_);
      for (auto it = m.client.begin(); it != m.client.end();) {
        auto cur = it++;
        if (all.count(cur->first) == 0) m.client.erase(cur);
      }
    }
    return CheckAfter(snapshot);
  }

 private:
  struct Type {
    bool counted = false;  // A request of this type was taken (not ignored).
    bool ever_named = false;
    bool wildcard = false;
    bool stale = false;  // The flavour changed since the view was last computed.
    std::set<std::string> names;
    std::string latest_nonce;
    std::map<std::string, std::string> client;  // What the client holds: name -> version.
    ExpectedStatus status;
  };

  std::string Handle(const DiscoveryRequest& req, const Snapshot& snapshot, bool* ended) {
    if (ObserveNode(req.has_node(), req.node())) {
      for (auto& [type, m] : types_) {
        m.stale = m.counted;
        if (m.counted) Note("flavour learnt late");
      }
    }
    absl::StatusOr<std::vector<xds::SotwResponse>> result = protocol_.OnRequest(req, snapshot);
    const std::string& type = req.type_url();
    if (type.empty()) return CheckRejection(result.status(), ended);
    if (!result.ok()) return absl::StrCat("request rejected: ", result.status().ToString());
    if (!xds::IsKnownType(type)) {
      Note("unknown type");
      if (!result->empty()) return "response to a request for an unknown type";
      return CheckAfter(snapshot);
    }
    Type& m = types_[type];
    const std::string& nonce = req.response_nonce();
    // Only the newest request per type counts: one answering our latest response, or one
    // without a nonce.
    if (!nonce.empty() && (m.latest_nonce.empty() || nonce != m.latest_nonce)) {
      Note("stale nonce");
      if (!result->empty()) return "response to a request with a stale nonce";
      return CheckAfter(snapshot);
    }
    if (!nonce.empty()) {
      if (IsNack(req.error_detail())) {
        Note("nack");
        ++m.status.nacks;
        m.status.nacked_version = m.status.version_sent;
        m.status.last_nack_error = req.error_detail().message();
      } else {
        Note("ack");
        m.status.version_acked = m.status.version_sent;
      }
    }
    std::set<std::string> names;
    bool star = false;
    for (const std::string& n : req.resource_names()) {
      if (n == "*") {
        star = true;
      } else {
        names.insert(n);
      }
    }
    bool added = false;
    for (const std::string& n : names) added |= m.names.count(n) == 0;
    const bool full_state = xds::IsFullStateType(type);
    if (full_state) {
      // Wildcard: "*", or an empty list from a client that never named one.
      m.ever_named |= !names.empty();
      const bool legacy = !star && names.empty() && !m.ever_named;
      m.wildcard = star || legacy;
      if (legacy) Note("legacy wildcard");
      if (star) Note("wildcard");
    } else {
      m.wildcard = false;
      if (star) Note("star on eds/rds");
    }
    if (req.resource_names_size() > 1000) Note("huge name list");
    if (names.size() < static_cast<size_t>(req.resource_names_size()) - (star ? 1 : 0)) {
      Note("duplicate names");
    }
    m.names = std::move(names);
    m.counted = true;
    m.stale = false;
    m.status.wildcard = m.wildcard;
    m.status.subscribed = m.names.size();
    if (!m.wildcard) {
      // The client forgets what it no longer subscribes to.
      for (auto it = m.client.begin(); it != m.client.end();) {
        auto cur = it++;
        if (m.names.count(cur->first) == 0) m.client.erase(cur);
      }
    }
    // LDS/CDS: the type's first answer, and one for a newly named resource, are due even if
    // the view did not change (the client waits for every name it asks for).
    const bool forced = full_state && (m.status.responses == 0 || added);
    if (result->size() > 1) return absl::StrCat(result->size(), " responses to one request");
    if (result->empty()) {
      if (forced) return absl::StrCat("no ", type, " answer to its first request or a new name");
      Note("no response");
    } else {
      Note(full_state ? "response lds/cds" : "response eds/rds");
      const xds::SotwResponse& r = result->front();
      if (r.type_url != type) return absl::StrCat("answered with type ", r.type_url);
      if (std::string e = CheckResponse(r, snapshot, forced); !e.empty()) return e;
    }
    return CheckAfter(snapshot);
  }

  // The client's view of `type`: the subscribed resources that exist, by name.
  std::map<std::string, ResourcePtr> View(const Type& m, const std::string& type,
                                          const Snapshot& snapshot) const {
    std::map<std::string, ResourcePtr> view;
    for (const auto& [name, r] : snapshot.Get(type, flavor_)) {
      if (m.wildcard || m.names.count(name) != 0) view.emplace(name, r);
    }
    return view;
  }

  std::string CheckResponse(const xds::SotwResponse& r, const Snapshot& snapshot, bool forced) {
    if (std::string e = CheckHeader(r.type_url, r.nonce, r.control_plane_id); !e.empty()) {
      return e;
    }
    auto it = types_.find(r.type_url);
    if (it == types_.end() || !it->second.counted) {
      return absl::StrCat("response for ", r.type_url, ", which was never requested");
    }
    Type& m = it->second;
    const std::map<std::string, ResourcePtr> view = View(m, r.type_url, snapshot);
    uint64_t view_hash = 0;
    for (const auto& [name, res] : view) view_hash += res->view_hash;
    const std::string want_version = absl::StrFormat("%016x", view_hash);
    if (r.version_info != want_version) {
      return absl::StrCat(r.type_url, " version_info ", r.version_info, ", the view's is ",
                          want_version);
    }
    if (std::string e = CheckSorted(r.resources, NameOf, "resources"); !e.empty()) return e;
    std::map<std::string, std::string> got;
    for (const ResourcePtr& res : r.resources) {
      if (res == nullptr) return "null resource";
      if (res->type_url != r.type_url) {
        return absl::StrCat("a ", res->type_url, " in a ", r.type_url, " response");
      }
      auto v = view.find(res->name);
      if (v == view.end()) {
        return absl::StrCat(r.type_url, " \"", res->name,
                            "\" sent but not subscribed or not in the snapshot");
      }
      if (v->second->version != res->version) {
        return absl::StrCat(r.type_url, " \"", res->name, "\" sent at version ", res->version,
                            ", the snapshot has ", v->second->version);
      }
      got.emplace(res->name, res->version);
    }
    if (xds::IsFullStateType(r.type_url)) {
      if (got.size() != view.size()) {
        return absl::StrCat(r.type_url, " response carries ", got.size(), " of the view's ",
                            view.size(), " resources");
      }
      if (!forced && got == m.client) {
        return absl::StrCat(r.type_url, " response resends the view the client holds");
      }
      m.client = std::move(got);
    } else {
      if (got.empty()) return absl::StrCat("empty ", r.type_url, " response");
      for (const auto& [name, version] : got) {
        auto held = m.client.find(name);
        if (held != m.client.end() && held->second == version) {
          return absl::StrCat(r.type_url, " \"", name, "\" resent at the version the client holds");
        }
        m.client[name] = version;
      }
    }
    m.latest_nonce = r.nonce;
    m.status.version_sent = r.version_info;
    ++m.status.responses;
    sent_.push_back({r.type_url, r.nonce, r.version_info});
    return "";
  }

  std::string CheckAfter(const Snapshot& snapshot) {
    std::map<std::string, ExpectedStatus> expected;
    for (const auto& [type, m] : types_) expected.emplace(type, m.status);
    if (std::string e = CheckIdentityAndStatus(protocol_, expected); !e.empty()) return e;
    // Liveness: the client holds its whole view, at the snapshot's versions.
    for (const auto& [type, m] : types_) {
      if (!m.counted || m.stale) continue;
      const std::map<std::string, ResourcePtr> view = View(m, type, snapshot);
      if (xds::IsFullStateType(type)) {
        if (m.status.responses == 0) return absl::StrCat(type, " requested but never answered");
        if (m.client.size() != view.size()) {
          return absl::StrCat("the client holds ", m.client.size(), " ", type, ", its view has ",
                              view.size());
        }
      }
      for (const auto& [name, r] : view) {
        auto held = m.client.find(name);
        if (held == m.client.end() || held->second != r->version) {
          return absl::StrCat("the client lacks ", type, " \"", name, "\" at version ", r->version);
        }
      }
    }
    return "";
  }

  xds::SotwProtocol protocol_{kControlPlane};
  std::map<std::string, Type> types_;  // Every known type a request named.
};

// ---------------------------------------------------------------------------------------------
// Incremental

class DeltaStream : public Stream {
 public:
  explicit DeltaStream(std::set<std::string>* outcomes) : Stream("delta", outcomes) {}

  std::string Request(const std::string& bytes, int selector, const Snapshot& snapshot,
                      bool* ended) override {
    DeltaDiscoveryRequest req;
    if (!Parse(bytes, &req)) {
      Note("parse error");
      return "";
    }
    if (selector >= 0) {
      if (const Sent* s = Earlier(req.type_url(), selector)) {
        req.set_response_nonce(Echo(*s, selector));
      }
    }
    std::string problem = Handle(req, snapshot, ended);
    if (!problem.empty()) {
      return absl::StrCat(problem, "\n  request: ", Clip(req.ShortDebugString()));
    }
    return "";
  }

  std::string Publish(const Snapshot& snapshot, const ChangeSet& changes) override {
    std::vector<xds::DeltaResponse> out = protocol_.OnSnapshot(snapshot, changes);
    for (const auto& [type, names] : changes) {
      auto it = types_.find(type);
      if (it != types_.end() && it->second.requested) it->second.stale = false;
    }
    Note(out.empty() ? "push nothing" : "push");
    size_t position = 0;
    for (const xds::DeltaResponse& r : out) {
      while (position < changes.size() && changes[position].first != r.type_url) ++position;
      if (position == changes.size()) {
        return absl::StrCat("pushed ", r.type_url, " out of ChangeSet order or twice");
      }
      ++position;
      if (std::string e = CheckResponse(r, snapshot); !e.empty()) {
        return absl::StrCat("push: ", e);
      }
    }
    return CheckAfter(snapshot);
  }

 private:
  struct Type {
    bool requested = false;
    bool wildcard = false;
    bool stale = false;
    std::set<std::string> names;  // Explicit subscriptions.
    // What the client holds: name -> version; "" = told that it does not exist.
    std::map<std::string, std::string> client;
    // Responses not answered yet, oldest first: (nonce, system_version_info).
    std::deque<std::pair<std::string, std::string>> unanswered;
    ExpectedStatus status;
    bool Subscribed(const std::string& name) const { return wildcard || names.count(name) != 0; }
  };

  std::string Handle(const DeltaDiscoveryRequest& req, const Snapshot& snapshot, bool* ended) {
    if (ObserveNode(req.has_node(), req.node())) {
      for (auto& [type, m] : types_) {
        m.stale = m.requested;
        if (m.requested) Note("flavour learnt late");
      }
    }
    absl::StatusOr<std::vector<xds::DeltaResponse>> result = protocol_.OnRequest(req, snapshot);
    const std::string& type = req.type_url();
    if (type.empty()) return CheckRejection(result.status(), ended);
    if (!result.ok()) return absl::StrCat("request rejected: ", result.status().ToString());
    if (!xds::IsKnownType(type)) {
      Note("unknown type");
      if (!result->empty()) return "response to a request for an unknown type";
      return CheckAfter(snapshot);
    }
    Type& m = types_[type];
    const bool first = !m.requested;
    m.requested = true;
    m.stale = false;
    std::set<std::string> initial_same;  // Names the client already holds at the current version.
    if (first) {
      // A reconnecting client states what it holds; only the type's first request may.
      const ResourceMap& all = snapshot.Get(type, flavor_);
      for (const auto& [name, version] : req.initial_resource_versions()) {
        m.client[name] = version;
        auto r = all.find(name);
        if (r != all.end() && r->second->version == version) initial_same.insert(name);
      }
      if (!req.initial_resource_versions().empty()) Note("initial versions");
    } else if (!req.initial_resource_versions().empty()) {
      Note("initial versions ignored");
    }
    const std::string& nonce = req.response_nonce();
    auto answered = std::find_if(m.unanswered.begin(), m.unanswered.end(),
                                 [&](const auto& u) { return u.first == nonce; });
    if (!nonce.empty() && answered != m.unanswered.end()) {
      if (IsNack(req.error_detail())) {
        Note("nack");
        ++m.status.nacks;
        m.status.nacked_version = answered->second;
        m.status.last_nack_error = req.error_detail().message();
      } else {
        Note("ack");
        m.status.version_acked = answered->second;
      }
      // The client answers in order: older responses can no longer be answered.
      m.unanswered.erase(m.unanswered.begin(), std::next(answered));
    } else if (!nonce.empty()) {
      Note("stale nonce");
    }
    // Subscription changes count whatever the nonce.
    const bool was_wildcard = m.wildcard;
    for (const std::string& n : req.resource_names_subscribe()) {
      if (n == "*") {
        m.wildcard = true;
      } else {
        m.names.insert(n);
      }
    }
    if (first && xds::IsFullStateType(type) && req.resource_names_subscribe().empty()) {
      m.wildcard = true;
      Note("legacy wildcard");
    }
    for (const std::string& n : req.resource_names_unsubscribe()) {
      if (n == "*") {
        m.wildcard = false;
      } else {
        m.names.erase(n);
        m.client.erase(n);
      }
      Note("unsubscribe");
    }
    if (!was_wildcard && m.wildcard) Note("wildcard");
    if (was_wildcard && !m.wildcard) Note("wildcard off");
    if (req.resource_names_subscribe_size() > 1000) Note("huge name list");
    // The client drops what it no longer subscribes to.
    for (auto it = m.client.begin(); it != m.client.end();) {
      auto cur = it++;
      if (!m.Subscribed(cur->first)) m.client.erase(cur);
    }
    m.status.wildcard = m.wildcard;
    m.status.subscribed = m.names.size();
    if (result->size() > 1) return absl::StrCat(result->size(), " responses to one request");
    if (result->empty()) {
      Note("no response");
    } else {
      Note("response");
      const xds::DeltaResponse& r = result->front();
      if (r.type_url != type) return absl::StrCat("answered with type ", r.type_url);
      if (std::string e = CheckResponse(r, snapshot); !e.empty()) return e;
      for (const ResourcePtr& res : r.resources) initial_same.erase(res->name);
    }
    for (const std::string& name : initial_same) {
      if (m.Subscribed(name)) Note("initial versions suppressed");
    }
    return CheckAfter(snapshot);
  }

  std::string CheckResponse(const xds::DeltaResponse& r, const Snapshot& snapshot) {
    if (std::string e = CheckHeader(r.type_url, r.nonce, r.control_plane_id); !e.empty()) {
      return e;
    }
    auto it = types_.find(r.type_url);
    if (it == types_.end() || !it->second.requested) {
      return absl::StrCat("response for ", r.type_url, ", which was never requested");
    }
    Type& m = it->second;
    if (r.system_version_info != absl::StrCat(snapshot.generation())) {
      return absl::StrCat("system_version_info ", r.system_version_info, " in generation ",
                          snapshot.generation());
    }
    if (r.resources.empty() && r.removed_resources.empty()) return "empty delta response";
    if (std::string e = CheckSorted(r.resources, NameOf, "resources"); !e.empty()) return e;
    if (std::string e = CheckSorted(r.removed_resources, Self, "removed_resources"); !e.empty()) {
      return e;
    }
    const ResourceMap& all = snapshot.Get(r.type_url, flavor_);
    std::set<std::string> sent;
    for (const ResourcePtr& res : r.resources) {
      if (res == nullptr) return "null resource";
      if (res->type_url != r.type_url) {
        return absl::StrCat("a ", res->type_url, " in a ", r.type_url, " response");
      }
      if (!m.Subscribed(res->name)) {
        return absl::StrCat(r.type_url, " \"", res->name, "\" sent but not subscribed");
      }
      auto cur = all.find(res->name);
      if (cur == all.end() || cur->second->version != res->version) {
        return absl::StrCat(r.type_url, " \"", res->name, "\" sent at version ", res->version,
                            ", not the snapshot's");
      }
      auto held = m.client.find(res->name);
      if (held != m.client.end() && held->second == res->version) {
        return absl::StrCat(r.type_url, " \"", res->name, "\" resent at the version the client ",
                            "holds");
      }
      sent.insert(res->name);
    }
    for (const std::string& name : r.removed_resources) {
      if (sent.count(name) != 0) {
        return absl::StrCat(r.type_url, " \"", name, "\" both in resources and removed");
      }
      if (all.count(name) != 0) {
        return absl::StrCat(r.type_url, " \"", name, "\" removed but in the snapshot");
      }
      if (!m.Subscribed(name)) {
        return absl::StrCat(r.type_url, " \"", name, "\" removed but not subscribed");
      }
      auto held = m.client.find(name);
      if (held != m.client.end() ? held->second.empty() : m.names.count(name) == 0) {
        return absl::StrCat(r.type_url, " \"", name, "\" removed but the client ",
                            held != m.client.end() ? "was told already" : "never had it");
      }
    }
    for (const ResourcePtr& res : r.resources) m.client[res->name] = res->version;
    for (const std::string& name : r.removed_resources) {
      if (m.names.count(name) != 0) {
        m.client[name] = "";  // An explicit name is remembered as absent.
      } else {
        m.client.erase(name);
      }
    }
    if (!r.removed_resources.empty()) Note("removed_resources");
    m.unanswered.emplace_back(r.nonce, r.system_version_info);
    if (m.unanswered.size() > kDeltaNonceWindow) m.unanswered.pop_front();
    m.status.version_sent = r.system_version_info;
    ++m.status.responses;
    sent_.push_back({r.type_url, r.nonce, r.system_version_info});
    return "";
  }

  std::string CheckAfter(const Snapshot& snapshot) {
    std::map<std::string, ExpectedStatus> expected;
    for (const auto& [type, m] : types_) expected.emplace(type, m.status);
    if (std::string e = CheckIdentityAndStatus(protocol_, expected); !e.empty()) return e;
    // Liveness: the client holds every subscribed resource at the snapshot's version, was told
    // of every missing explicit name, and holds nothing deleted.
    for (const auto& [type, m] : types_) {
      if (!m.requested || m.stale) continue;
      const ResourceMap& all = snapshot.Get(type, flavor_);
      for (const auto& [name, r] : all) {
        if (!m.Subscribed(name)) continue;
        auto held = m.client.find(name);
        if (held == m.client.end() || held->second != r->version) {
          return absl::StrCat("the client lacks ", type, " \"", name, "\" at version ", r->version);
        }
      }
      for (const std::string& name : m.names) {
        if (all.count(name) != 0) continue;
        auto held = m.client.find(name);
        if (held == m.client.end() || !held->second.empty()) {
          return absl::StrCat("the client was not told ", type, " \"", name, "\" does not exist");
        }
      }
      for (const auto& [name, version] : m.client) {
        if (!version.empty() && all.count(name) == 0) {
          return absl::StrCat("the client still holds deleted ", type, " \"", name, "\"");
        }
      }
    }
    return "";
  }

  xds::DeltaProtocol protocol_{kControlPlane};
  std::map<std::string, Type> types_;
};

// Deterministic, so the same seed gives the same bytes in every process (map fields such as
// initial_resource_versions otherwise serialize in hash order).
std::string Serialize(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

std::unique_ptr<Stream> NewStream(bool delta, std::set<std::string>* outcomes) {
  if (delta) return std::make_unique<DeltaStream>(outcomes);
  return std::make_unique<SotwStream>(outcomes);
}

}  // namespace

const std::vector<std::string>& XdsNamePool() {
  static const auto* names = new std::vector<std::string>{
      "a", "b", "c", "backend", "default", "web", "svc.example.com", "xds:///grpc-svc"};
  return *names;
}

const std::string& XdsTypeUrl(XdsType type) {
  // The four types this fuzzer models (SDS is not among them).
  static const auto* urls = new std::vector<std::string>{xds::kClusterType, xds::kEndpointType,
                                                         xds::kListenerType, xds::kRouteType};
  return (*urls)[static_cast<int>(type)];
}

std::string XdsResourceVersion(XdsType type, int name_index, int revision, bool grpc) {
  return CachedResource(type, name_index, revision, grpc)->version;
}

XdsInputBuilder::XdsInputBuilder(bool delta, const XdsSnapshotSpec& snapshot) {
  bytes_.push_back(delta ? 1 : 0);
  Spec(snapshot);
}

XdsInputBuilder& XdsInputBuilder::Request(const google::protobuf::MessageLite& request) {
  bytes_.push_back(0);
  const std::string b = Serialize(request);
  Varint(b.size());
  bytes_ += b;
  return *this;
}

XdsInputBuilder& XdsInputBuilder::Answer(uint8_t selector,
                                         const google::protobuf::MessageLite& request) {
  bytes_.push_back(1);
  bytes_.push_back(static_cast<char>(selector));
  const std::string b = Serialize(request);
  Varint(b.size());
  bytes_ += b;
  return *this;
}

XdsInputBuilder& XdsInputBuilder::Publish(const XdsSnapshotSpec& snapshot, uint8_t extra_names,
                                          bool every_type) {
  bytes_.push_back(every_type ? 6 : 2);
  Spec(snapshot);
  bytes_.push_back(static_cast<char>(extra_names));
  return *this;
}

XdsInputBuilder& XdsInputBuilder::Reconnect() {
  bytes_.push_back(3);
  return *this;
}

XdsInputBuilder& XdsInputBuilder::Raw(const std::string& bytes) {
  bytes_ += bytes;
  return *this;
}

void XdsInputBuilder::Varint(uint64_t v) {
  while (v >= 0x80) {
    bytes_.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  bytes_.push_back(static_cast<char>(v));
}

void XdsInputBuilder::Spec(const XdsSnapshotSpec& snapshot) {
  for (int t = 0; t < 4; ++t) {
    bytes_.push_back(static_cast<char>(snapshot.present[t]));
    bytes_.push_back(static_cast<char>(snapshot.revision[t]));
  }
  bytes_.push_back(static_cast<char>(snapshot.grpc_cds_present));
}

std::string RunXdsProtocolInput(const uint8_t* data, size_t size, std::set<std::string>* outcomes) {
  Reader in(data, size);
  const bool delta = (in.Byte() & 1) != 0;
  ChangeSet ignored;
  std::shared_ptr<const Snapshot> snapshot =
      Publish(std::make_shared<const Snapshot>(), in.Spec(), 0, false, &ignored);
  std::unique_ptr<Stream> stream = NewStream(delta, outcomes);
  for (size_t op = 0; op < kXdsMaxOps && !in.empty(); ++op) {
    const uint8_t kind = in.Byte();
    std::string problem;
    bool ended = false;
    switch (kind & 3) {
      case 0: {
        const uint64_t length = in.Varint();
        problem = stream->Request(in.Bytes(length), -1, *snapshot, &ended);
        break;
      }
      case 1: {
        const int selector = in.Byte();
        const uint64_t length = in.Varint();
        problem = stream->Request(in.Bytes(length), selector, *snapshot, &ended);
        break;
      }
      case 2: {
        const XdsSnapshotSpec spec = in.Spec();
        const uint8_t extra = in.Byte();
        ChangeSet changes;
        snapshot = Publish(snapshot, spec, extra, (kind & 4) != 0, &changes);
        problem = stream->Publish(*snapshot, changes);
        break;
      }
      case 3:
        ended = true;
        break;
    }
    if (!problem.empty()) return absl::StrCat("op ", op, ": ", problem);
    if (ended) {
      stream = NewStream(delta, outcomes);
      stream->Note("new stream");
    }
  }
  return "";
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = lb::fuzz::RunXdsProtocolInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\ninput: \"%s\"\n", problem.c_str(),
                 absl::CHexEscape(std::string(reinterpret_cast<const char*>(data), size)).c_str());
    std::abort();
  }
  return 0;
}
