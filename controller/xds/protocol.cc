#include "controller/xds/protocol.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lb::xds {
namespace {

// Per type and delta stream: how many unanswered responses are remembered for ACK/NACK
// bookkeeping.
constexpr size_t kMaxUnansweredNonces = 16;

// FNV-1a over "name\0version\0..." of a sorted view: the SotW version_info of that view.
std::string ViewVersion(const std::vector<ResourcePtr>& view) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0;
    h *= 1099511628211ull;
  };
  for (const auto& r : view) {
    mix(r->name);
    mix(r->version);
  }
  return absl::StrFormat("%016x", h);
}

}  // namespace

void StreamIdentity::ObserveNode(const envoy::config::core::v3::Node& node) {
  if (has_node_) return;
  has_node_ = true;
  node_ = node;
  flavor_ =
      absl::StartsWith(node.user_agent_name(), "gRPC") ? ClientFlavor::kGrpc : ClientFlavor::kEnvoy;
}

bool RecordAckOrNack(const google::rpc::Status& error, const std::string& version,
                     TypeStatus* status) {
  if (error.code() != 0 || !error.message().empty()) {
    ++status->nacks;
    status->nacked_version = version;
    status->last_nack_error = error.message();
    return true;
  }
  status->version_acked = version;
  return false;
}

// ---------------------------------------------------------------------------------------------
// State of the world.

SotwProtocol::SotwProtocol(std::string control_plane_id)
    : control_plane_id_(std::move(control_plane_id)) {}

absl::StatusOr<std::vector<SotwProtocol::Response>> SotwProtocol::OnRequest(
    const Request& request, const Snapshot& snapshot) {
  if (request.has_node()) identity_.ObserveNode(request.node());
  const std::string& type = request.type_url();
  if (type.empty()) {
    return absl::InvalidArgumentError("DiscoveryRequest.type_url is required on an ADS stream");
  }
  std::vector<Response> out;
  if (!IsKnownType(type)) return out;
  TypeState& ts = types_[type];
  ts.status.type_url = type;
  if (!request.response_nonce().empty()) {
    // Only the answer to our latest response counts; older ones are superseded.
    if (request.response_nonce() != ts.nonce) return out;
    RecordAckOrNack(request.error_detail(), ts.status.version_sent, &ts.status);
  }
  ts.requested = true;

  std::set<std::string> names;
  bool star = false;
  for (const auto& n : request.resource_names()) {
    if (n == "*") {
      star = true;
    } else {
      names.insert(n);
    }
  }
  if (IsFullStateType(type)) {
    ts.ever_named |= !names.empty();
    ts.wildcard = star || (names.empty() && !ts.ever_named);
  } else {
    ts.wildcard = false;
  }
  bool added = false;
  for (const auto& n : names) added |= ts.names.count(n) == 0;
  if (!ts.wildcard) {
    // Forget what was sent for names no longer wanted, so asking again gets an answer.
    for (auto it = ts.sent.begin(); it != ts.sent.end();) {
      it = names.count(it->first) ? std::next(it) : ts.sent.erase(it);
    }
  }
  ts.names = std::move(names);
  ts.status.wildcard = ts.wildcard;
  ts.status.subscribed = ts.names.size();

  Response response;
  bool force = IsFullStateType(type) && (ts.nonce.empty() || added);
  if (MaybeRespond(type, ts, snapshot, force, &response)) out.push_back(std::move(response));
  return out;
}

std::vector<SotwProtocol::Response> SotwProtocol::OnSnapshot(const Snapshot& snapshot,
                                                             const ChangeSet& changes) {
  std::vector<Response> out;
  for (const auto& [type, names] : changes) {
    auto it = types_.find(type);
    if (it == types_.end() || !it->second.requested) continue;
    TypeState& ts = it->second;
    bool relevant = ts.wildcard;
    for (auto n = names.begin(); !relevant && n != names.end(); ++n) relevant = ts.names.count(*n);
    if (!relevant) continue;
    Response response;
    if (MaybeRespond(type, ts, snapshot, false, &response)) out.push_back(std::move(response));
  }
  return out;
}

bool SotwProtocol::MaybeRespond(const std::string& type, TypeState& ts, const Snapshot& snapshot,
                                bool force, Response* out) {
  const ResourceMap& all = snapshot.Get(type, identity_.flavor());
  std::vector<ResourcePtr> view;
  if (ts.wildcard) {
    for (const auto& [name, r] : all) view.push_back(r);
  } else {
    for (const auto& n : ts.names) {
      auto it = all.find(n);
      if (it != all.end()) view.push_back(it->second);
    }
  }
  std::vector<ResourcePtr> include;
  if (IsFullStateType(type)) {
    std::map<std::string, std::string> now;
    for (const auto& r : view) now.emplace(r->name, r->version);
    if (!force && now == ts.sent) return false;
    include = view;
    ts.sent = std::move(now);
  } else {
    for (auto it = ts.sent.begin(); it != ts.sent.end();) {
      it = all.count(it->first) ? std::next(it) : ts.sent.erase(it);  // Deleted: resend if back.
    }
    for (const auto& r : view) {
      auto sent = ts.sent.find(r->name);
      if (sent == ts.sent.end() || sent->second != r->version) include.push_back(r);
    }
    if (include.empty()) return false;
    for (const auto& r : include) ts.sent[r->name] = r->version;
  }
  out->set_version_info(ViewVersion(view));
  out->set_type_url(type);
  out->set_nonce(absl::StrCat(next_nonce_++));
  out->mutable_control_plane()->set_identifier(control_plane_id_);
  for (const auto& r : include) *out->add_resources() = r->any;
  ts.nonce = out->nonce();
  ts.status.version_sent = out->version_info();
  ++ts.status.responses;
  return true;
}

std::vector<TypeStatus> SotwProtocol::Status() const {
  std::vector<TypeStatus> out;
  for (const auto& type : TypeOrder()) {
    auto it = types_.find(type);
    if (it != types_.end()) out.push_back(it->second.status);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Incremental (delta).

DeltaProtocol::DeltaProtocol(std::string control_plane_id)
    : control_plane_id_(std::move(control_plane_id)) {}

absl::StatusOr<std::vector<DeltaProtocol::Response>> DeltaProtocol::OnRequest(
    const Request& request, const Snapshot& snapshot) {
  if (request.has_node()) identity_.ObserveNode(request.node());
  const std::string& type = request.type_url();
  if (type.empty()) {
    return absl::InvalidArgumentError(
        "DeltaDiscoveryRequest.type_url is required on an ADS stream");
  }
  std::vector<Response> out;
  if (!IsKnownType(type)) return out;
  TypeState& ts = types_[type];
  ts.status.type_url = type;
  const ResourceMap& all = snapshot.Get(type, identity_.flavor());
  bool first = !ts.requested;
  ts.requested = true;
  std::set<std::string> candidates;
  if (first) {
    for (const auto& [name, version] : request.initial_resource_versions()) {
      ts.client[name] = version;
      candidates.insert(name);
    }
  }
  if (uint64_t nonce = 0; absl::SimpleAtoi(request.response_nonce(), &nonce)) {
    // Only a response we sent and that is still unanswered can be ACKed or NACKed; an unknown
    // nonce (from before a reconnect, a repeated ACK, or one evicted from the window) says
    // nothing about which version the client holds.
    auto it = ts.nonce_versions.find(nonce);
    if (it != ts.nonce_versions.end()) {
      RecordAckOrNack(request.error_detail(), it->second, &ts.status);
      // The client answers in order: responses older than this one can no longer be answered.
      ts.nonce_versions.erase(ts.nonce_versions.begin(), std::next(it));
    }
  }
  // Subscription changes count even with a stale nonce.
  for (const auto& n : request.resource_names_subscribe()) {
    if (n == "*") {
      ts.wildcard = true;
    } else {
      ts.names.insert(n);
      candidates.insert(n);
    }
  }
  if (first && IsFullStateType(type) && request.resource_names_subscribe().empty()) {
    ts.wildcard = true;  // Legacy wildcard.
  }
  for (const auto& n : request.resource_names_unsubscribe()) {
    if (n == "*") {
      ts.wildcard = false;
    } else {
      ts.names.erase(n);
      ts.client.erase(n);
    }
  }
  if (!ts.wildcard) {
    // The client drops what it no longer subscribes to; so do we.
    for (auto it = ts.client.begin(); it != ts.client.end();) {
      it = ts.names.count(it->first) ? std::next(it) : ts.client.erase(it);
    }
  } else {
    for (const auto& [name, r] : all) candidates.insert(name);
  }
  ts.status.wildcard = ts.wildcard;
  ts.status.subscribed = ts.names.size();
  Response response;
  if (Reconcile(type, ts, snapshot, candidates, &response)) out.push_back(std::move(response));
  return out;
}

std::vector<DeltaProtocol::Response> DeltaProtocol::OnSnapshot(const Snapshot& snapshot,
                                                               const ChangeSet& changes) {
  std::vector<Response> out;
  for (const auto& [type, names] : changes) {
    auto it = types_.find(type);
    if (it == types_.end() || !it->second.requested) continue;
    TypeState& ts = it->second;
    std::set<std::string> candidates;
    for (const auto& n : names) {
      if (ts.wildcard || ts.names.count(n)) candidates.insert(n);
    }
    if (candidates.empty()) continue;
    Response response;
    if (Reconcile(type, ts, snapshot, candidates, &response)) out.push_back(std::move(response));
  }
  return out;
}

bool DeltaProtocol::Reconcile(const std::string& type, TypeState& ts, const Snapshot& snapshot,
                              const std::set<std::string>& candidates, Response* out) {
  const ResourceMap& all = snapshot.Get(type, identity_.flavor());
  for (const auto& n : candidates) {
    bool explicit_name = ts.names.count(n) > 0;
    bool subscribed = ts.wildcard || explicit_name;
    auto res = all.find(n);
    auto held = ts.client.find(n);
    if (!subscribed) {
      if (held != ts.client.end()) ts.client.erase(held);
      continue;
    }
    if (res != all.end()) {
      if (held == ts.client.end() || held->second != res->second->version) {
        auto* r = out->add_resources();
        r->set_name(n);
        r->set_version(res->second->version);
        *r->mutable_resource() = res->second->any;
        ts.client[n] = res->second->version;
      }
      continue;
    }
    // Missing: tell the client once (explicit names are remembered as absent).
    bool client_thinks_exists = held != ts.client.end() && !held->second.empty();
    bool never_told = held == ts.client.end() && explicit_name;
    if (client_thinks_exists || never_told) {
      out->add_removed_resources(n);
      if (explicit_name) {
        ts.client[n] = "";
      } else {
        ts.client.erase(n);
      }
    }
  }
  if (out->resources().empty() && out->removed_resources().empty()) return false;
  out->set_type_url(type);
  out->set_system_version_info(absl::StrCat(snapshot.generation()));
  uint64_t nonce = next_nonce_++;
  out->set_nonce(absl::StrCat(nonce));
  out->mutable_control_plane()->set_identifier(control_plane_id_);
  ts.nonce_versions[nonce] = out->system_version_info();
  // Bound the map: keep only the most recent nonces (numeric keys: begin() is the oldest).
  while (ts.nonce_versions.size() > kMaxUnansweredNonces) {
    ts.nonce_versions.erase(ts.nonce_versions.begin());
  }
  ts.status.version_sent = out->system_version_info();
  ++ts.status.responses;
  return true;
}

std::vector<TypeStatus> DeltaProtocol::Status() const {
  std::vector<TypeStatus> out;
  for (const auto& type : TypeOrder()) {
    auto it = types_.find(type);
    if (it != types_.end()) out.push_back(it->second.status);
  }
  return out;
}

}  // namespace lb::xds
