#include "controller/xds/protocol.h"

#include <algorithm>
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

std::string ViewVersion(uint64_t view_hash) { return absl::StrFormat("%016x", view_hash); }

void SortByName(std::vector<ResourcePtr>* resources) {
  std::sort(resources->begin(), resources->end(),
            [](const ResourcePtr& a, const ResourcePtr& b) { return a->name < b->name; });
}

template <typename Repeated>
bool SameNames(const Repeated& request_names, const std::vector<std::string>& last) {
  if (static_cast<size_t>(request_names.size()) != last.size()) return false;
  for (size_t i = 0; i < last.size(); ++i) {
    if (request_names[i] != last[i]) return false;
  }
  return true;
}

void SortUnique(std::vector<std::string>* names) {
  std::sort(names->begin(), names->end());
  names->erase(std::unique(names->begin(), names->end()), names->end());
}

// kResourceExhausted if a stream that `verb` `names` names of `bytes` bytes in all is over
// `limits`; `*hit` says which.
absl::Status CheckLimits(const StreamLimits& limits, absl::string_view verb, size_t names,
                         size_t bytes, ExceededLimit* hit) {
  if (names > limits.max_names) {
    *hit = ExceededLimit::kNames;
    return absl::ResourceExhaustedError(absl::StrCat("ADS stream ", verb, " ", names,
                                                     " resource names; the limit is ",
                                                     limits.max_names, " per stream"));
  }
  if (bytes > limits.max_name_bytes) {
    *hit = ExceededLimit::kNameBytes;
    return absl::ResourceExhaustedError(absl::StrCat("ADS stream ", verb, " resource names of ",
                                                     bytes, " bytes in all; the limit is ",
                                                     limits.max_name_bytes, " per stream"));
  }
  return absl::OkStatus();
}

// The per-type status of a stream, in push order (both protocols keep it in TypeState).
template <typename TypeStates>
std::vector<TypeStatus> StatusInTypeOrder(const TypeStates& types) {
  std::vector<TypeStatus> out;
  for (const auto& type : TypeOrder()) {
    auto it = types.find(type);
    if (it != types.end()) out.push_back(it->second.status);
  }
  return out;
}

}  // namespace

envoy::service::discovery::v3::DiscoveryResponse ToProto(const SotwResponse& response) {
  envoy::service::discovery::v3::DiscoveryResponse out;
  out.set_version_info(response.version_info);
  out.set_type_url(response.type_url);
  out.set_nonce(response.nonce);
  out.mutable_control_plane()->set_identifier(response.control_plane_id);
  for (const auto& r : response.resources) *out.add_resources() = r->ToAny();
  return out;
}

envoy::service::discovery::v3::DeltaDiscoveryResponse ToProto(const DeltaResponse& response) {
  envoy::service::discovery::v3::DeltaDiscoveryResponse out;
  out.set_system_version_info(response.system_version_info);
  out.set_type_url(response.type_url);
  out.set_nonce(response.nonce);
  out.mutable_control_plane()->set_identifier(response.control_plane_id);
  for (const auto& r : response.resources) {
    auto* entry = out.add_resources();
    entry->set_name(r->name);
    entry->set_version(r->version);
    *entry->mutable_resource() = r->ToAny();
  }
  for (const auto& n : response.removed_resources) out.add_removed_resources(n);
  return out;
}

bool StreamIdentity::ObserveNode(const envoy::config::core::v3::Node& node) {
  if (has_node_) return false;
  has_node_ = true;
  node_ = node;
  ClientFlavor before = flavor_;
  flavor_ =
      absl::StartsWith(node.user_agent_name(), "gRPC") ? ClientFlavor::kGrpc : ClientFlavor::kEnvoy;
  return flavor_ != before;
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
//
// Invariant between calls: for every requested type, `sent` holds exactly the client's view in
// the stream's current snapshot (each subscribed name that exists, at the version last sent),
// and `view_hash` sums their view hashes. A publication changes only the names in its
// ChangeSet, so OnSnapshot restores the invariant by looking at those names only.

SotwProtocol::SotwProtocol(std::string control_plane_id, StreamLimits limits)
    : control_plane_id_(std::move(control_plane_id)), limits_(limits) {}

absl::StatusOr<std::vector<SotwProtocol::Response>> SotwProtocol::OnRequest(
    const Request& request, const Snapshot& snapshot) {
  if (request.has_node() && identity_.ObserveNode(request.node())) {
    for (auto& [type, ts] : types_) ts.stale = ts.requested;
  }
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
    if (RecordAckOrNack(request.error_detail(), ts.status.version_sent, &ts.status)) {
      ++total_nacks_;
    }
  }
  const bool full_state = IsFullStateType(type);
  // The usual ACK restates the subscription already taken: nothing can differ (the view is up
  // to date with the stream's snapshot), so there is nothing to recompute.
  if (ts.requested && !ts.stale && !(full_state && ts.nonce.empty()) &&
      SameNames(request.resource_names(), ts.last_names)) {
    return out;
  }
  // Checked before anything is built from the request: it may be as large as a message can be.
  size_t request_bytes = 0;
  for (const auto& n : request.resource_names()) request_bytes += n.size();
  const size_t request_names = request.resource_names_size();
  if (absl::Status s =
          CheckLimits(limits_, "subscribes to", names_ - ts.last_names.size() + request_names,
                      name_bytes_ - ts.last_names_bytes + request_bytes, &exceeded_);
      !s.ok()) {
    return s;
  }
  names_ = names_ - ts.last_names.size() + request_names;
  name_bytes_ = name_bytes_ - ts.last_names_bytes + request_bytes;
  ts.last_names_bytes = request_bytes;
  ts.requested = true;
  ts.last_names.assign(request.resource_names().begin(), request.resource_names().end());

  absl::flat_hash_set<std::string> names;
  bool star = false;
  for (const auto& n : request.resource_names()) {
    if (n == "*") {
      star = true;
    } else {
      names.insert(n);
    }
  }
  if (full_state) {
    ts.ever_named |= !names.empty();
    ts.wildcard = star || (names.empty() && !ts.ever_named);
  } else {
    ts.wildcard = false;
  }
  bool added = false;
  for (const auto& n : names) added |= !ts.names.contains(n);
  ts.names = std::move(names);
  ts.status.wildcard = ts.wildcard;
  ts.status.subscribed = ts.names.size();

  Response response;
  bool force = full_state && (ts.nonce.empty() || added);
  if (Recompute(type, ts, snapshot, force, &response)) out.push_back(std::move(response));
  return out;
}

std::vector<SotwProtocol::Response> SotwProtocol::OnSnapshot(const Snapshot& snapshot,
                                                             const ChangeSet& changes) {
  std::vector<Response> out;
  for (const auto& [type, names] : changes) {
    auto it = types_.find(type);
    if (it == types_.end() || !it->second.requested) continue;
    TypeState& ts = it->second;
    Response response;
    if (ts.stale) {
      if (Recompute(type, ts, snapshot, false, &response)) out.push_back(std::move(response));
      continue;
    }
    const ResourceMap& all = snapshot.Get(type, identity_.flavor());
    std::vector<ResourcePtr> changed;
    bool removed = false;
    for (const std::string& n : names) {
      if (!ts.wildcard && !ts.names.contains(n)) continue;
      auto res = all.find(n);
      if (res != all.end()) {
        Upsert(ts, res->second, &changed);
        continue;
      }
      auto held = ts.sent.find(n);
      if (held != ts.sent.end()) {
        Drop(ts, held);  // Deleted. For EDS/RDS not sent; sent again if it comes back.
        removed = true;
      }
    }
    if (Respond(type, ts, std::move(changed), removed, false, &response)) {
      out.push_back(std::move(response));
    }
  }
  return out;
}

void SotwProtocol::Upsert(TypeState& ts, const ResourcePtr& r, std::vector<ResourcePtr>* changed) {
  auto [it, inserted] = ts.sent.try_emplace(r->name, r);
  if (inserted) {
    ts.view_hash += r->view_hash;
    changed->push_back(r);
    return;
  }
  if (it->second->version != r->version) {
    ts.view_hash += r->view_hash - it->second->view_hash;
    changed->push_back(r);
  }
  if (it->second != r) it->second = r;  // Same content: hold the current copy only.
}

void SotwProtocol::Drop(TypeState& ts, absl::flat_hash_map<std::string, ResourcePtr>::iterator it) {
  ts.view_hash -= it->second->view_hash;
  ts.sent.erase(it);
}

bool SotwProtocol::Recompute(const std::string& type, TypeState& ts, const Snapshot& snapshot,
                             bool force, Response* out) {
  ts.stale = false;
  const ResourceMap& all = snapshot.Get(type, identity_.flavor());
  bool removed = false;
  for (auto it = ts.sent.begin(); it != ts.sent.end();) {
    auto cur = it++;
    if (!ts.wildcard && !ts.names.contains(cur->first)) {
      // No longer wanted: forgotten, so asking again gets an answer. Not an answer by itself.
      Drop(ts, cur);
    } else if (all.count(cur->first) == 0) {
      Drop(ts, cur);
      removed = true;
    }
  }
  std::vector<ResourcePtr> changed;
  if (ts.wildcard) {
    for (const auto& [name, r] : all) Upsert(ts, r, &changed);
  } else {
    for (const auto& n : ts.names) {
      auto it = all.find(n);
      if (it != all.end()) Upsert(ts, it->second, &changed);
    }
  }
  return Respond(type, ts, std::move(changed), removed, force, out);
}

bool SotwProtocol::Respond(const std::string& type, TypeState& ts, std::vector<ResourcePtr> changed,
                           bool removed, bool force, Response* out) {
  std::vector<ResourcePtr> include;
  if (IsFullStateType(type)) {
    // LDS/CDS: the whole view, whenever anything in it differs (or when forced).
    if (!force && changed.empty() && !removed) return false;
    include.reserve(ts.sent.size());
    for (const auto& [name, r] : ts.sent) include.push_back(r);
  } else {
    // EDS/RDS: only what the client lacks; a deletion alone is not sent.
    if (changed.empty()) return false;
    include = std::move(changed);
  }
  SortByName(&include);
  out->type_url = type;
  out->version_info = ViewVersion(ts.view_hash);
  out->nonce = absl::StrCat(next_nonce_++);
  out->control_plane_id = control_plane_id_;
  out->resources = std::move(include);
  ts.nonce = out->nonce;
  ts.status.version_sent = out->version_info;
  ++ts.status.responses;
  return true;
}

std::vector<TypeStatus> SotwProtocol::Status() const { return StatusInTypeOrder(types_); }

// ---------------------------------------------------------------------------------------------
// Incremental (delta).
//
// Invariant between calls: for every requested type and every name other than those a request
// or publication is about to touch, `client` agrees with the stream's current snapshot as far
// as the protocol requires (subscribed resources held at their current version, missing
// explicit names reported). So a request looks only at the names it (un)subscribes, plus all
// names when the wildcard is switched on or off, and a publication only at its changed names.

DeltaProtocol::DeltaProtocol(std::string control_plane_id, StreamLimits limits)
    : control_plane_id_(std::move(control_plane_id)), limits_(limits) {}

absl::StatusOr<std::vector<DeltaProtocol::Response>> DeltaProtocol::OnRequest(
    const Request& request, const Snapshot& snapshot) {
  if (request.has_node() && identity_.ObserveNode(request.node())) {
    for (auto& [type, ts] : types_) ts.stale = ts.requested;
  }
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
  std::vector<std::string> candidates;
  if (first) {
    size_t bytes = 0;
    for (const auto& [name, version] : request.initial_resource_versions()) {
      bytes += name.size() + version.size();
    }
    if (absl::Status s = CheckLimits(limits_, "sends initial_resource_versions for",
                                     request.initial_resource_versions().size(), bytes, &exceeded_);
        !s.ok()) {
      return s;
    }
    for (const auto& [name, version] : request.initial_resource_versions()) {
      ts.client[name] = version;
      candidates.push_back(name);
    }
  }
  // Our nonces are plain decimal numbers; SimpleAtoi alone would also take "01", "+1" or " 1",
  // which echo no nonce we sent.
  if (uint64_t nonce = 0; absl::SimpleAtoi(request.response_nonce(), &nonce) &&
                          absl::StrCat(nonce) == request.response_nonce()) {
    // Only a response we sent and that is still unanswered can be ACKed or NACKed; an unknown
    // nonce (from before a reconnect, a repeated ACK, or one evicted from the window) says
    // nothing about which version the client holds.
    auto it = ts.nonce_versions.find(nonce);
    if (it != ts.nonce_versions.end()) {
      if (RecordAckOrNack(request.error_detail(), it->second, &ts.status)) ++total_nacks_;
      // The client answers in order: responses older than this one can no longer be answered.
      ts.nonce_versions.erase(ts.nonce_versions.begin(), std::next(it));
    }
  }
  // Subscription changes count even with a stale nonce. Subscribing is checked as it goes, less
  // what the request unsubscribes (so a full stream can swap names), and exactly at the end.
  size_t releasing = 0;
  size_t releasing_bytes = 0;
  for (const auto& n : request.resource_names_unsubscribe()) {
    if (ts.names.contains(n)) {
      ++releasing;
      releasing_bytes += n.size();
    }
  }
  auto less = [](size_t a, size_t b) { return a > b ? a - b : 0; };
  const bool was_wildcard = ts.wildcard;
  for (const auto& n : request.resource_names_subscribe()) {
    if (n == "*") {
      ts.wildcard = true;
      continue;
    }
    if (ts.names.insert(n).second) {
      ++names_;
      name_bytes_ += n.size();
      if (absl::Status s = CheckLimits(limits_, "subscribes to", less(names_, releasing),
                                       less(name_bytes_, releasing_bytes), &exceeded_);
          !s.ok()) {
        return s;
      }
    }
    candidates.push_back(n);
  }
  if (first && IsFullStateType(type) && request.resource_names_subscribe().empty()) {
    ts.wildcard = true;  // Legacy wildcard.
  }
  for (const auto& n : request.resource_names_unsubscribe()) {
    if (n == "*") {
      ts.wildcard = false;
    } else {
      if (ts.names.erase(n) != 0) {
        --names_;
        name_bytes_ -= n.size();
      }
      ts.client.erase(n);
      candidates.push_back(n);  // Still wanted through the wildcard: sent again.
    }
  }
  if (absl::Status s = CheckLimits(limits_, "subscribes to", names_, name_bytes_, &exceeded_);
      !s.ok()) {
    return s;
  }
  if (ts.stale) {
    ts.stale = false;
    AddAllNames(ts, all, &candidates);
  } else if (was_wildcard && !ts.wildcard) {
    // The client drops what it no longer subscribes to; so do we.
    for (auto it = ts.client.begin(); it != ts.client.end();) {
      auto cur = it++;
      if (!ts.names.contains(cur->first)) ts.client.erase(cur);
    }
  } else if (!was_wildcard && ts.wildcard) {
    for (const auto& [name, r] : all) candidates.push_back(name);
  }
  ts.status.wildcard = ts.wildcard;
  ts.status.subscribed = ts.names.size();
  if (candidates.empty()) return out;  // The usual ACK.
  SortUnique(&candidates);
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
    std::vector<std::string> candidates;
    if (ts.stale) {
      ts.stale = false;
      AddAllNames(ts, snapshot.Get(type, identity_.flavor()), &candidates);
    }
    for (const auto& n : names) {
      if (ts.wildcard || ts.names.contains(n)) candidates.push_back(n);
    }
    if (candidates.empty()) continue;
    SortUnique(&candidates);
    Response response;
    if (Reconcile(type, ts, snapshot, candidates, &response)) out.push_back(std::move(response));
  }
  return out;
}

void DeltaProtocol::AddAllNames(const TypeState& ts, const ResourceMap& all,
                                std::vector<std::string>* candidates) {
  for (const auto& [name, version] : ts.client) candidates->push_back(name);
  for (const auto& name : ts.names) candidates->push_back(name);
  if (ts.wildcard) {
    for (const auto& [name, r] : all) candidates->push_back(name);
  }
}

bool DeltaProtocol::Reconcile(const std::string& type, TypeState& ts, const Snapshot& snapshot,
                              const std::vector<std::string>& candidates, Response* out) {
  const ResourceMap& all = snapshot.Get(type, identity_.flavor());
  for (const auto& n : candidates) {
    bool explicit_name = ts.names.contains(n);
    bool subscribed = ts.wildcard || explicit_name;
    auto held = ts.client.find(n);
    if (!subscribed) {
      if (held != ts.client.end()) ts.client.erase(held);
      continue;
    }
    auto res = all.find(n);
    if (res != all.end()) {
      const ResourcePtr& r = res->second;
      if (held == ts.client.end()) {
        ts.client.emplace(n, r->version);
        out->resources.push_back(r);
      } else if (held->second != r->version) {
        held->second = r->version;
        out->resources.push_back(r);
      }
      continue;
    }
    // Missing: tell the client once (explicit names are remembered as absent).
    bool client_thinks_exists = held != ts.client.end() && !held->second.empty();
    bool never_told = held == ts.client.end() && explicit_name;
    if (client_thinks_exists || never_told) {
      out->removed_resources.push_back(n);
      if (!explicit_name) {
        ts.client.erase(held);
      } else if (held == ts.client.end()) {
        ts.client.emplace(n, "");
      } else {
        held->second.clear();
      }
    } else if (!explicit_name && held != ts.client.end()) {
      // Only the wildcard covers it and the client holds no version of it (an empty initial
      // version): nothing to tell and nothing to remember.
      ts.client.erase(held);
    }
  }
  if (out->resources.empty() && out->removed_resources.empty()) return false;
  out->type_url = type;
  out->system_version_info = absl::StrCat(snapshot.generation());
  uint64_t nonce = next_nonce_++;
  out->nonce = absl::StrCat(nonce);
  out->control_plane_id = control_plane_id_;
  ts.nonce_versions[nonce] = out->system_version_info;
  // Bound the map: keep only the most recent nonces (numeric keys: begin() is the oldest).
  while (ts.nonce_versions.size() > kMaxUnansweredNonces) {
    ts.nonce_versions.erase(ts.nonce_versions.begin());
  }
  ts.status.version_sent = out->system_version_info;
  ++ts.status.responses;
  return true;
}

std::vector<TypeStatus> DeltaProtocol::Status() const { return StatusInTypeOrder(types_); }

}  // namespace lb::xds
