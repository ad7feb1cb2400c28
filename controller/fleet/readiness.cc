#include "controller/fleet/readiness.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace lb::fleet {

Readiness::Readiness(store::Store* store, Probe probe, Clock* clock, Options options)
    : store_(store), probe_(std::move(probe)), clock_(clock), options_(options) {}

Readiness::~Readiness() { Stop(); }

absl::Status Readiness::Validate(const Options& options) {
  if (options.max_lag <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--ready_max_lag must be positive");
  }
  if (options.check_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError("--ready_check_interval must be at least 10ms");
  }
  return absl::OkStatus();
}

void Readiness::SetOnChange(std::function<void(bool)> on_change) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(on_change);
}

absl::Status Readiness::Check() const {
  absl::MutexLock lock(&mu_);
  if (ready_) return absl::OkStatus();
  return absl::UnavailableError(reason_);
}

bool Readiness::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

int64_t Readiness::transitions() const {
  absl::MutexLock lock(&mu_);
  return transitions_;
}

void Readiness::EnsureWatch() {
  if (watch_ != nullptr) return;
  absl::StatusOr<int64_t> revision = store_->CurrentRevision();
  if (!revision.ok()) return;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      store_->Watch("", *revision, [this](const std::vector<store::Event>& events) {
        absl::MutexLock lock(&mu_);
        // One revision per batch, except a relist after compaction (each key its own).
        for (const store::Event& e : events) applied_ = std::max(applied_, e.kv.mod_revision);
        if (applied_ >= target_) behind_since_ = absl::InfinitePast();
      });
  if (!watch.ok()) return;
  watch_ = std::move(*watch);
  absl::MutexLock lock(&mu_);
  // Everything up to where the watch starts is seen (the watch delivers the rest).
  applied_ = std::max(applied_, *revision);
  if (applied_ >= target_) behind_since_ = absl::InfinitePast();
}

void Readiness::CheckOnce() {
  EnsureWatch();
  absl::StatusOr<int64_t> target = probe_();
  const absl::Time now = clock_->Now();
  std::function<void(bool)> cb;
  bool ready = false;
  {
    absl::MutexLock lock(&mu_);
    std::string reason;
    if (!target.ok()) {
      reason = absl::StrCat("the store is unreachable (", target.status().message(), ")");
    } else if (watch_ == nullptr) {
      reason = "cannot watch the store";
    } else {
      if (*target > applied_) {
        if (behind_since_ == absl::InfinitePast()) behind_since_ = now;
        target_ = std::max(target_, *target);
      }
      const absl::Duration lag =
          behind_since_ == absl::InfinitePast() ? absl::ZeroDuration() : now - behind_since_;
      if (lag > options_.max_lag) {
        reason = absl::StrCat("this controller's view is behind the store by ",
                              absl::FormatDuration(lag), " (seen revision ", applied_,
                              ", store at ", target_, "; --ready_max_lag ",
                              absl::FormatDuration(options_.max_lag), ")");
      }
    }
    ready = reason.empty();
    reason_ = std::move(reason);
    if (ready != ready_) {
      ready_ = ready;
      ++transitions_;
      cb = on_change_;
      if (ready) {
        spdlog::info("readiness: ready again");
      } else {
        spdlog::warn("readiness: {}", reason_);
      }
    }
  }
  if (cb) cb(ready);
}

void Readiness::Start() {
  CheckOnce();
  thread_ = std::thread([this] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping_), options_.check_interval)) {
          return;
        }
      }
      CheckOnce();
    }
  });
}

void Readiness::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  watch_.reset();
}

absl::StatusOr<int64_t> ReadyGatedStore::Txn(const std::vector<store::Compare>& compares,
                                             const std::vector<store::Op>& ops) {
  if (absl::Status s = readiness_->Check(); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("controller not ready (", s.message(),
                                               "): write refused; retry when /readyz is 200"));
  }
  return inner_->Txn(compares, ops);
}

}  // namespace lb::fleet
