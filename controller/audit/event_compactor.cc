#include "controller/audit/event_compactor.h"

namespace lb::audit {

absl::Status EventCompactor::Validate(const Options& options) {
  if (absl::Status s = ValidateRetention(options.retention); !s.ok()) return s;
  if (options.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("audit compaction interval must be positive");
  }
  return absl::OkStatus();
}

EventCompactor::EventCompactor(store::Store* store, Clock* clock, Options options)
    : store_(store), clock_(clock), options_(options) {}

EventCompactor::~EventCompactor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EventCompactor::Start() {
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

absl::Status EventCompactor::RunOnce() {
  absl::StatusOr<int64_t> pruned = Prune(store_, options_.retention, clock_->Now());
  absl::MutexLock lock(&mu_);
  if (!pruned.ok()) {
    ++stats_.failures;
    return pruned.status();
  }
  ++stats_.rounds;
  stats_.pruned += static_cast<uint64_t>(*pruned);
  return absl::OkStatus();
}

EventCompactor::Stats EventCompactor::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace lb::audit
