#include "controller/fleet/proxy_directory.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace lb::fleet {
namespace {

using ::google::protobuf::util::TimeUtil;

}  // namespace

ProxyDirectory::ProxyDirectory(store::Store* store, Clock* clock, LocalSource local,
                               Options options)
    : store_(store),
      clock_(clock),
      local_(std::move(local)),
      options_(std::move(options)),
      key_(absl::StrCat(kProxiesPrefix, options_.controller_id)) {}

ProxyDirectory::~ProxyDirectory() { Stop(); }

lb::v1::ListProxiesResponse ProxyDirectory::Local() {
  lb::v1::ListProxiesResponse out = local_();
  for (lb::v1::ProxyStatus& p : *out.mutable_proxies()) p.set_controller(options_.controller_id);
  return out;
}

void ProxyDirectory::PublishOnce() {
  lb::v1::ControllerProxies entry;
  entry.set_controller(options_.controller_id);
  *entry.mutable_written_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  *entry.mutable_proxies() = Local().proxies();
  absl::StatusOr<int64_t> r = store_->Txn({}, {store::Op::Put(key_, entry.SerializeAsString())});
  if (!r.ok())
    spdlog::warn("fleet: cannot publish this controller's proxies: {}", r.status().ToString());
  // Entries of controllers gone for long are deleted (compare-and-delete: a controller that
  // came back and wrote meanwhile keeps its entry).
  absl::StatusOr<std::vector<store::KeyValue>> all = store_->List(kProxiesPrefix);
  if (!all.ok()) return;
  for (const store::KeyValue& kv : *all) {
    lb::v1::ControllerProxies other;
    if (kv.key == key_ || !other.ParseFromString(kv.value)) continue;
    absl::Time written = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(other.written_at()));
    if (clock_->Now() - written > options_.delete_after) {
      (void)store_->Txn({{kv.key, kv.mod_revision}}, {store::Op::Delete(kv.key)});
    }
  }
}

void ProxyDirectory::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      PublishOnce();
      absl::MutexLock lock(&mu_);
      if (clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping_), options_.publish_interval)) {
        return;
      }
    }
  });
}

void ProxyDirectory::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
    absl::StatusOr<std::optional<store::KeyValue>> mine = store_->Get(key_);
    if (mine.ok() && mine->has_value()) {
      (void)store_->Txn({{key_, (*mine)->mod_revision}}, {store::Op::Delete(key_)});
    }
  }
}

lb::v1::ListProxiesResponse ProxyDirectory::List() {
  lb::v1::ListProxiesResponse out = Local();
  absl::StatusOr<std::vector<store::KeyValue>> all = store_->List(kProxiesPrefix);
  if (!all.ok()) return out;
  const absl::Time now = clock_->Now();
  std::vector<lb::v1::ProxyStatus> others;
  for (const store::KeyValue& kv : *all) {
    lb::v1::ControllerProxies entry;
    if (kv.key == key_ || !entry.ParseFromString(kv.value)) continue;
    absl::Time written = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(entry.written_at()));
    if (now - written > options_.stale_after) continue;
    for (lb::v1::ProxyStatus& p : *entry.mutable_proxies()) {
      p.set_controller(entry.controller());
      others.push_back(std::move(p));
    }
  }
  std::sort(others.begin(), others.end(),
            [](const lb::v1::ProxyStatus& a, const lb::v1::ProxyStatus& b) {
              return std::tie(a.node_id(), a.controller(), a.address()) <
                     std::tie(b.node_id(), b.controller(), b.address());
            });
  for (lb::v1::ProxyStatus& p : others) *out.add_proxies() = std::move(p);
  return out;
}

}  // namespace lb::fleet
