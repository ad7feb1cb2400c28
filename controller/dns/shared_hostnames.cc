#include "controller/dns/shared_hostnames.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"

namespace lb::dns {

SharedHostnames::SharedHostnames(store::Store* store, Resolver* resolver,
                                 absl::Duration refresh_interval, Clock* clock,
                                 HostnameLimits limits, metrics::Registry* metrics)
    : store_(store),
      resolver_(resolver),
      refresh_interval_(refresh_interval),
      clock_(clock),
      limits_(limits),
      metrics_(metrics) {}

SharedHostnames::~SharedHostnames() { Stop(); }

absl::Status SharedHostnames::Start() {
  absl::StatusOr<int64_t> revision = store_->CurrentRevision();
  if (!revision.ok()) return revision.status();
  absl::StatusOr<std::vector<store::KeyValue>> kvs = store_->List(kDnsPrefix);
  if (!kvs.ok()) return kvs.status();
  std::vector<store::Event> events;
  for (store::KeyValue& kv : *kvs) events.push_back(store::Event{store::Event::Type::kPut, kv});
  {
    absl::MutexLock lock(&mu_);
    ApplyLocked(events);
  }
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      store_->Watch(kDnsPrefix, *revision, [this](const std::vector<store::Event>& events) {
        bool changed;
        {
          absl::MutexLock lock(&mu_);
          changed = ApplyLocked(events);
        }
        Notify(changed);
      });
  if (!watch.ok()) return watch.status();
  watch_ = std::move(*watch);
  return absl::OkStatus();
}

void SharedHostnames::Stop() {
  SetLeader(false);
  watch_.reset();
}

void SharedHostnames::SetLeader(bool leader) {
  absl::MutexLock lock(&local_mu_);
  if (leader == (local_ != nullptr)) return;
  if (!leader) {
    local_.reset();  // Joins its thread, which may be publishing.
    return;
  }
  local_ = std::make_unique<HostnameCache>(resolver_, refresh_interval_, clock_, limits_, metrics_);
  local_->SetOnChange([this, cache = local_.get()] { Publish(cache); });
  absl::flat_hash_set<std::string> names;
  {
    absl::MutexLock names_lock(&mu_);
    names = names_;
  }
  local_->SetHostnames(std::move(names));  // All pending: resolved at once by its thread.
  local_->Start();
}

void SharedHostnames::RefreshNow() {
  absl::MutexLock lock(&local_mu_);
  if (local_ == nullptr) return;
  local_->RefreshNow();
  Publish(local_.get());
}

void SharedHostnames::OnModelChange(const lb::v1::Change& change,
                                    const std::shared_ptr<const model::ModelState>& state) {
  if (!MayChangeHostnames(change)) return;
  absl::flat_hash_set<std::string> names = HostnamesOf(*state);
  absl::MutexLock lock(&local_mu_);
  {
    absl::MutexLock names_lock(&mu_);
    names_ = names;
  }
  if (local_ != nullptr) local_->SetHostnames(std::move(names));
}

void SharedHostnames::SetOnChange(std::function<void()> on_change) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(on_change);
}

std::vector<std::string> SharedHostnames::Lookup(const std::string& host) const {
  absl::MutexLock lock(&mu_);
  auto it = shared_.find(host);
  return it == shared_.end() ? std::vector<std::string>() : it->second;
}

void SharedHostnames::Publish(HostnameCache* cache) {
  std::vector<store::Op> ops;
  std::vector<store::Event> written;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : names_) {
      std::vector<std::string> addresses = cache->Lookup(name);
      if (addresses.empty()) continue;  // Not resolved (yet).
      auto it = shared_.find(name);
      if (it != shared_.end() && it->second == addresses) continue;
      ops.push_back(store::Op::Put(absl::StrCat(kDnsPrefix, name), absl::StrJoin(addresses, ",")));
    }
    for (const auto& [name, unused] : shared_) {
      if (!names_.contains(name)) ops.push_back(store::Op::Delete(absl::StrCat(kDnsPrefix, name)));
    }
  }
  if (ops.empty()) return;
  absl::StatusOr<int64_t> revision = store_->Txn({}, ops);
  if (!revision.ok()) {
    spdlog::warn("dns: cannot publish resolved addresses: {}", revision.status().ToString());
    return;
  }
  // Serve our own write at once; the watch delivering it later changes nothing.
  for (const store::Op& op : ops) {
    store::Event e;
    e.type =
        op.kind == store::Op::Kind::kPut ? store::Event::Type::kPut : store::Event::Type::kDelete;
    e.kv.key = op.key;
    e.kv.value = op.value;
    e.kv.mod_revision = *revision;
    written.push_back(std::move(e));
  }
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = ApplyLocked(written);
  }
  Notify(changed);
}

bool SharedHostnames::ApplyLocked(const std::vector<store::Event>& events) {
  bool changed = false;
  for (const store::Event& e : events) {
    if (!absl::StartsWith(e.kv.key, kDnsPrefix)) continue;
    std::string name = e.kv.key.substr(sizeof(kDnsPrefix) - 1);
    if (e.type == store::Event::Type::kDelete) {
      changed |= shared_.erase(name) > 0;
      continue;
    }
    std::vector<std::string> addresses = absl::StrSplit(e.kv.value, ',', absl::SkipEmpty());
    auto& slot = shared_[name];
    if (slot != addresses) {
      slot = std::move(addresses);
      changed = true;
    }
  }
  return changed;
}

void SharedHostnames::Notify(bool changed) {
  if (!changed) return;
  std::function<void()> cb;
  {
    absl::MutexLock lock(&mu_);
    cb = on_change_;
  }
  if (cb) cb();
}

}  // namespace lb::dns
