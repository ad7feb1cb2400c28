#include "controller/fleet/leader_election.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"

namespace lb::fleet {

std::string LeaderRecord::Serialize() const {
  return absl::StrCat(id, "\n", absl::ToUnixMicros(since), "\n", absl::ToInt64Seconds(lease_ttl),
                      "\n", lease);
}

absl::StatusOr<LeaderRecord> LeaderRecord::Parse(const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(value, '\n');
  int64_t since = 0, ttl = 0, lease = 0;
  if (parts.size() != 4 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &since) ||
      !absl::SimpleAtoi(parts[2], &ttl) || !absl::SimpleAtoi(parts[3], &lease)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed leader record in ", kLeaderKey));
  }
  LeaderRecord r;
  r.id = parts[0];
  r.since = absl::FromUnixMicros(since);
  r.lease_ttl = absl::Seconds(ttl);
  r.lease = lease;
  return r;
}

std::unique_ptr<LeaderElection> LeaderElection::AlwaysLeader(std::string id, Clock* clock) {
  Options options;
  options.id = std::move(id);
  auto election = std::unique_ptr<LeaderElection>(new LeaderElection(clock, options, true));
  absl::MutexLock lock(&election->mu_);
  election->is_leader_ = true;
  election->elections_won_ = 1;
  election->leader_.id = election->options_.id;
  election->leader_.since = clock->Now();
  return election;
}

LeaderElection::LeaderElection(Clock* clock, Options options, bool always)
    : store_(nullptr), clock_(clock), options_(std::move(options)), always_(always) {}

LeaderElection::LeaderElection(store::Store* store, Clock* clock, Options options)
    : store_(store), clock_(clock), options_(std::move(options)), always_(false) {}

LeaderElection::~LeaderElection() { Stop(); }

absl::Status LeaderElection::Validate(const Options& options) {
  if (options.lease_ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--leader_lease_ttl must be at least 1s");
  }
  if (options.retry_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leader election retry interval must be positive");
  }
  if (options.id.empty() || options.id.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError("leader election: the controller id must be one line");
  }
  return absl::OkStatus();
}

void LeaderElection::SetOnChange(std::function<void(bool)> on_change) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(on_change);
}

bool LeaderElection::IsLeader() const {
  absl::MutexLock lock(&mu_);
  return is_leader_;
}

LeaderElection::View LeaderElection::view() const {
  absl::MutexLock lock(&mu_);
  View v;
  v.id = options_.id;
  v.is_leader = is_leader_;
  v.leader = leader_;
  return v;
}

int64_t LeaderElection::elections_won() const {
  absl::MutexLock lock(&mu_);
  return elections_won_;
}

void LeaderElection::SetLeader(bool is_leader) {
  std::function<void(bool)> cb;
  {
    absl::MutexLock lock(&mu_);
    if (is_leader_ == is_leader) return;
    is_leader_ = is_leader;
    if (is_leader) ++elections_won_;
    cb = on_change_;
  }
  spdlog::info("election: {} {} the leader", options_.id, is_leader ? "is now" : "is no longer");
  if (cb) cb(is_leader);
}

void LeaderElection::OnKeyChange(const std::vector<store::Event>& events) {
  absl::MutexLock lock(&mu_);
  for (const store::Event& e : events) {
    if (e.kv.key != kLeaderKey) continue;
    if (e.type == store::Event::Type::kDelete) {
      leader_ = LeaderRecord();
    } else if (absl::StatusOr<LeaderRecord> r = LeaderRecord::Parse(e.kv.value); r.ok()) {
      leader_ = *r;
    }
  }
  wake_ = true;
}

void LeaderElection::EnsureWatch() {
  if (watch_ != nullptr) return;
  absl::StatusOr<int64_t> revision = store_->CurrentRevision();
  if (!revision.ok()) return;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      store_->Watch(kLeaderKey, *revision,
                    [this](const std::vector<store::Event>& events) { OnKeyChange(events); });
  if (watch.ok()) watch_ = std::move(*watch);
}

void LeaderElection::Step() {
  if (always_) return;
  EnsureWatch();
  const absl::Duration ttl = options_.lease_ttl;
  // 1. Our lease: renewed every ttl/3; given up once a whole ttl passed without a renewal
  // (the store has expired it by then).
  if (lease_ != 0 && clock_->Now() - renewed_ >= ttl / 3) {
    absl::Status s = store_->KeepAliveLease(lease_);
    if (s.ok()) {
      renewed_ = clock_->Now();
    } else if (s.code() == absl::StatusCode::kNotFound) {
      spdlog::warn("election: lease of {} ended: {}", options_.id, std::string(s.message()));
      lease_ = 0;
    } else {
      spdlog::warn("election: cannot renew the lease of {}: {}", options_.id,
                   std::string(s.message()));
    }
  }
  if (lease_ != 0 && clock_->Now() - renewed_ >= ttl) lease_ = 0;
  if (lease_ == 0) {
    SetLeader(false);
    absl::StatusOr<int64_t> lease = store_->GrantLease(ttl);
    if (!lease.ok()) {
      spdlog::warn("election: cannot get a lease: {}", lease.status().ToString());
      return;
    }
    lease_ = *lease;
    renewed_ = clock_->Now();
  }
  // 2. Who leads: us (our id and lease in the key), someone else, or nobody.
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(kLeaderKey);
  if (!kv.ok()) return;  // Unknown: keep what we believe until the lease runs out.
  if (kv->has_value()) {
    absl::StatusOr<LeaderRecord> record = LeaderRecord::Parse((*kv)->value);
    const bool mine = record.ok() && record->id == options_.id && record->lease == lease_;
    if (record.ok()) {
      absl::MutexLock lock(&mu_);
      leader_ = *record;
    }
    SetLeader(mine);
    return;
  }
  // 3. Nobody: campaign. Only one create of the absent key succeeds.
  SetLeader(false);
  LeaderRecord mine;
  mine.id = options_.id;
  mine.since = clock_->Now();
  mine.lease_ttl = ttl;
  mine.lease = lease_;
  absl::StatusOr<int64_t> created =
      store_->Txn({store::Compare{kLeaderKey, 0}},
                  {store::Op::PutWithLease(kLeaderKey, mine.Serialize(), lease_)});
  if (!created.ok()) {
    // kAborted: another controller won; the next round reads it.
    if (created.status().code() != absl::StatusCode::kAborted) {
      spdlog::warn("election: campaign failed: {}", created.status().ToString());
    }
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    leader_ = mine;
  }
  SetLeader(true);
}

void LeaderElection::Start() {
  if (always_) return;
  thread_ = std::thread([this] {
    const absl::Duration wait = std::min(options_.retry_interval, options_.lease_ttl / 3);
    for (;;) {
      Step();
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || wake_; };
      clock_->AwaitWithTimeout(&mu_, absl::Condition(&woken), wait);
      if (stopping_) return;
      wake_ = false;
    }
  });
}

void LeaderElection::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (always_) return;
  watch_.reset();
  if (lease_ != 0) {
    // Deletes the leader key if it is ours: the others take over without waiting for the TTL.
    absl::Status s = store_->RevokeLease(lease_);
    if (!s.ok()) spdlog::warn("election: cannot revoke the lease: {}", s.ToString());
    lease_ = 0;
  }
  SetLeader(false);
}

}  // namespace lb::fleet
