#include "controller/audit/audit.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/net/address.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "openssl/rand.h"

namespace lb::audit {
namespace {

namespace pbjson = google::protobuf::util;

thread_local const Caller* current_caller = nullptr;

// Digits of the time part of an event key: microseconds since the epoch, zero-padded so keys
// sort by time.
constexpr int kTimeDigits = 17;
constexpr size_t kMaxDeletesPerTxn = 1000;

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

std::string EndpointName(const lb::v1::Endpoint& e) {
  return net::JoinHostPort(e.address(), e.port());
}

lb::v1::Event Make(const lb::v1::Event& base, absl::string_view action, absl::string_view kind,
                   absl::string_view name, const google::protobuf::Message* before,
                   const google::protobuf::Message* after) {
  lb::v1::Event e = base;
  e.set_action(std::string(action));
  e.set_kind(std::string(kind));
  e.set_name(std::string(name));
  if (before != nullptr) e.set_before_json(ResourceJson(*before));
  if (after != nullptr) e.set_after_json(ResourceJson(*after));
  return e;
}

// The time encoded in an event key, or nullopt for a key not written by EventOps.
std::optional<absl::Time> KeyTime(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, kEventPrefix) || key.size() < kTimeDigits) return std::nullopt;
  int64_t micros = 0;
  if (!absl::SimpleAtoi(key.substr(0, kTimeDigits), &micros)) return std::nullopt;
  return absl::FromUnixMicros(micros);
}

}  // namespace

ScopedCaller::ScopedCaller(Caller caller) : caller_(std::move(caller)), previous_(current_caller) {
  current_caller = &caller_;
}

ScopedCaller::~ScopedCaller() { current_caller = previous_; }

const Caller* CurrentCaller() { return current_caller; }

std::string Identity(absl::string_view cert_subject, absl::string_view token_name) {
  if (!cert_subject.empty()) return std::string(cert_subject);
  if (!token_name.empty()) return std::string(token_name);
  return kAnonymous;
}

std::string ResourceJson(const google::protobuf::Message& m) {
  pbjson::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!pbjson::MessageToJsonString(m, &out, options).ok()) return "{}";
  if (out.size() > kMaxJsonBytes) return absl::StrCat("{\"truncated_bytes\":", out.size(), "}");
  return out;
}

lb::v1::Event NewEvent(absl::string_view operation, absl::Time now) {
  lb::v1::Event e;
  *e.mutable_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  const Caller* caller = CurrentCaller();
  if (caller != nullptr) {
    e.set_api(caller->api);
    e.set_caller(caller->identity);
    e.set_peer(caller->peer);
  } else {
    e.set_api(kApiInternal);
    e.set_caller("controller");
  }
  e.set_operation(std::string(operation));
  return e;
}

std::vector<store::Op> EventOps(const std::vector<lb::v1::Event>& events, absl::Time now) {
  std::vector<store::Op> ops;
  if (events.empty()) return ops;
  // Unique across controllers writing at the same microsecond.
  uint32_t random = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof(random)) != 1) {
    random = static_cast<uint32_t>(absl::ToUnixNanos(now));
  }
  const std::string prefix =
      absl::StrFormat("%s%0*d-%08x-", kEventPrefix, kTimeDigits, absl::ToUnixMicros(now), random);
  for (size_t i = 0; i < events.size(); ++i) {
    ops.push_back(
        store::Op::Put(absl::StrFormat("%s%04d", prefix, i), events[i].SerializeAsString()));
  }
  return ops;
}

std::vector<lb::v1::Event> ClusterEvents(const lb::v1::Event& base,
                                         const std::optional<lb::v1::Cluster>& before,
                                         const std::optional<lb::v1::Cluster>& after) {
  std::vector<lb::v1::Event> out;
  if (!before.has_value() && !after.has_value()) return out;
  const std::string& name = after.has_value() ? after->name() : before->name();
  lb::v1::Event cluster_base = base;
  cluster_base.set_cluster(name);
  auto settings = [](lb::v1::Cluster c) {
    c.clear_endpoints();
    c.clear_version();
    return c;
  };
  auto whole = [](lb::v1::Cluster c) {
    c.clear_version();
    for (lb::v1::Endpoint& e : *c.mutable_endpoints()) e.clear_resolved_addresses();
    return c;
  };
  if (!before.has_value()) {
    lb::v1::Cluster a = whole(*after);
    out.push_back(Make(cluster_base, "create", "cluster", name, nullptr, &a));
    return out;
  }
  if (!after.has_value()) {
    lb::v1::Cluster b = whole(*before);
    out.push_back(Make(cluster_base, "delete", "cluster", name, &b, nullptr));
    return out;
  }
  const lb::v1::Cluster sb = settings(*before), sa = settings(*after);
  if (!Same(sb, sa)) out.push_back(Make(cluster_base, "update", "cluster", name, &sb, &sa));
  std::map<std::string, lb::v1::Endpoint> old_endpoints;
  for (lb::v1::Endpoint e : before->endpoints()) {
    e.clear_resolved_addresses();
    old_endpoints.emplace(EndpointName(e), std::move(e));
  }
  for (lb::v1::Endpoint e : after->endpoints()) {
    e.clear_resolved_addresses();
    const std::string key = EndpointName(e);
    const std::string event_name = absl::StrCat(name, "/", key);
    auto it = old_endpoints.find(key);
    if (it == old_endpoints.end()) {
      out.push_back(Make(cluster_base, "create", "endpoint", event_name, nullptr, &e));
      continue;
    }
    if (!Same(it->second, e)) {
      out.push_back(Make(cluster_base, "update", "endpoint", event_name, &it->second, &e));
    }
    old_endpoints.erase(it);
  }
  for (const auto& [key, e] : old_endpoints) {
    out.push_back(
        Make(cluster_base, "delete", "endpoint", absl::StrCat(name, "/", key), &e, nullptr));
  }
  return out;
}

std::vector<lb::v1::Event> RouteEvents(const lb::v1::Event& base, const lb::v1::RouteTable& before,
                                       const lb::v1::RouteTable& after) {
  std::vector<lb::v1::Event> out;
  std::map<std::string, const lb::v1::Route*> old_routes;
  for (const lb::v1::Route& r : before.routes()) old_routes.emplace(r.name(), &r);
  for (const lb::v1::Route& r : after.routes()) {
    auto it = old_routes.find(r.name());
    if (it == old_routes.end()) {
      out.push_back(Make(base, "create", "route", r.name(), nullptr, &r));
      continue;
    }
    if (!Same(*it->second, r)) {
      out.push_back(Make(base, "update", "route", r.name(), it->second, &r));
    }
    old_routes.erase(it);
  }
  for (const auto& [name, r] : old_routes) {
    out.push_back(Make(base, "delete", "route", name, r, nullptr));
  }
  return out;
}

lb::v1::Event CertificateEvent(const lb::v1::Event& base,
                               const std::optional<lb::v1::Certificate>& before,
                               const std::optional<lb::v1::Certificate>& after) {
  auto clean = [](lb::v1::Certificate c) {
    c.clear_private_key();  // Redacted already; never risk it.
    c.clear_version();
    c.clear_warnings();
    return c;
  };
  std::optional<lb::v1::Certificate> b, a;
  if (before.has_value()) b = clean(*before);
  if (after.has_value()) a = clean(*after);
  const char* action = !b.has_value() ? "create" : !a.has_value() ? "delete" : "update";
  return Make(base, action, "certificate", a.has_value() ? a->name() : b->name(),
              b.has_value() ? &*b : nullptr, a.has_value() ? &*a : nullptr);
}

absl::StatusOr<std::vector<lb::v1::Event>> ListEvents(store::Store* store,
                                                      const ListOptions& options) {
  if (options.limit > kMaxListLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: at most ", kMaxListLimit, ", got ", options.limit));
  }
  if (options.since < 0) {
    return absl::InvalidArgumentError(absl::StrCat("since: must be >= 0, got ", options.since));
  }
  const uint32_t limit = options.limit == 0 ? kDefaultListLimit : options.limit;
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store->List(kEventPrefix);
  if (!kvs.ok()) return kvs.status();
  std::vector<std::pair<std::pair<int64_t, std::string>, lb::v1::Event>> events;
  for (store::KeyValue& kv : *kvs) {
    if (kv.create_revision <= options.since) continue;
    lb::v1::Event e;
    if (!e.ParseFromString(kv.value)) continue;  // Corrupt: skipped, not fatal to the listing.
    if (!options.cluster.empty() && e.cluster() != options.cluster) continue;
    e.set_revision(kv.create_revision);
    events.emplace_back(std::make_pair(kv.create_revision, std::move(kv.key)), std::move(e));
  }
  std::sort(events.begin(), events.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t begin = 0, end = events.size();
  if (options.since > 0) {
    end = std::min<size_t>(end, limit);
  } else if (end > limit) {
    begin = end - limit;
  }
  std::vector<lb::v1::Event> out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) out.push_back(std::move(events[i].second));
  return out;
}

absl::Status ValidateRetention(const Retention& retention) {
  constexpr int64_t kMaxEvents = 10'000'000;
  if (retention.max_events < 1 || retention.max_events > kMaxEvents) {
    return absl::InvalidArgumentError(absl::StrCat("--audit_max_events must be 1 to ", kMaxEvents,
                                                   ", got ", retention.max_events));
  }
  if (retention.max_age < absl::Minutes(1) || retention.max_age > absl::Hours(24 * 3653)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--audit_max_age must be 1m to 87672h (10 years), got ",
                     absl::FormatDuration(retention.max_age)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Prune(store::Store* store, const Retention& retention, absl::Time now) {
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store->List(kEventPrefix);
  if (!kvs.ok()) return kvs.status();
  // Keys sort by time; the oldest go first.
  const absl::Time cutoff = now - retention.max_age;
  size_t drop = 0;
  while (drop < kvs->size()) {
    std::optional<absl::Time> t = KeyTime((*kvs)[drop].key);
    if (t.has_value() && *t >= cutoff) break;
    ++drop;
  }
  const size_t max_events = static_cast<size_t>(retention.max_events);
  if (kvs->size() - drop > max_events) drop = kvs->size() - max_events;
  int64_t pruned = 0;
  for (size_t start = 0; start < drop; start += kMaxDeletesPerTxn) {
    std::vector<store::Compare> compares;
    std::vector<store::Op> ops;
    for (size_t i = start; i < std::min(drop, start + kMaxDeletesPerTxn); ++i) {
      compares.push_back({(*kvs)[i].key, (*kvs)[i].mod_revision});
      ops.push_back(store::Op::Delete((*kvs)[i].key));
    }
    // kAborted: another controller pruned some of them meanwhile; the next round goes on.
    absl::StatusOr<int64_t> rev = store->Txn(compares, ops);
    if (!rev.ok()) return rev.status();
    pruned += static_cast<int64_t>(ops.size());
  }
  return pruned;
}

}  // namespace lb::audit
