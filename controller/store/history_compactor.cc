#include "controller/store/history_compactor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace lb::store {

absl::Status HistoryCompactor::Validate(const Options& options) {
  if (options.max_revisions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--history_max_revisions must be at least 1, got ", options.max_revisions));
  }
  if (options.max_age < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat("--history_max_age must be at least 1s, got ",
                                                   absl::FormatDuration(options.max_age)));
  }
  if (options.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("history compaction interval must be positive");
  }
  return absl::OkStatus();
}

HistoryCompactor::HistoryCompactor(Store* store, CompactFn compact, Clock* clock, Options options)
    : store_(store), compact_(std::move(compact)), clock_(clock), options_(options) {}

HistoryCompactor::~HistoryCompactor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HistoryCompactor::Start() {
  thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (clock_->AwaitWithTimeout(&mu_, absl::Condition(&stop_), options_.interval)) return;
      }
      RunOnce().IgnoreError();  // Counted in stats; the next round tries again.
    }
  });
}

absl::Status HistoryCompactor::RunOnce() {
  absl::StatusOr<int64_t> current = store_->CurrentRevision();
  const absl::Time now = clock_->Now();
  int64_t target = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!current.ok()) {
      ++stats_.failures;
      return current.status();
    }
    samples_.emplace_back(now, *current);
    // Revisions up to a sample's were committed by its time. The newest sample at least max_age
    // old bounds history by age; samples before it are no longer needed.
    while (samples_.size() >= 2 && now - samples_[1].first >= options_.max_age) {
      samples_.pop_front();
    }
    const size_t cap = static_cast<size_t>(options_.max_age / options_.interval) + 2;
    while (samples_.size() > cap) samples_.pop_front();
    const int64_t by_age =
        now - samples_.front().first >= options_.max_age ? samples_.front().second : 0;
    target = std::max(*current - options_.max_revisions, by_age);
    if (target <= stats_.compacted_revision) return absl::OkStatus();
  }
  absl::Status s = compact_(target);
  absl::MutexLock lock(&mu_);
  // kOutOfRange: compacted already (by the store itself or another controller).
  if (!s.ok() && s.code() != absl::StatusCode::kOutOfRange) {
    ++stats_.failures;
    return s;
  }
  if (s.ok()) ++stats_.compactions;
  stats_.compacted_revision = std::max(stats_.compacted_revision, target);
  return absl::OkStatus();
}

HistoryCompactor::Stats HistoryCompactor::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace lb::store
