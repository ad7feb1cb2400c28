#include "controller/server/ticket_rotator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace lb::controller {
namespace {
// After a failed rotation (store unavailable), the next try.
constexpr absl::Duration kRetry = absl::Seconds(10);
}  // namespace

TicketRotator::TicketRotator(registry::Registry* registry, Clock* clock, absl::Duration period)
    : registry_(registry), clock_(clock), period_(period) {}

TicketRotator::~TicketRotator() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Time TicketRotator::RotateOnce() {
  absl::Time now = clock_->Now();
  absl::StatusOr<lb::v1::SessionTicketKeys> keys = registry_->RotateTicketKeys(now, period_);
  if (!keys.ok()) {
    spdlog::warn("tls: session ticket key rotation failed: {}", keys.status().ToString());
    first_ = keys.status();
    return now + std::min(kRetry, period_);
  }
  first_ = absl::OkStatus();
  absl::Time rotated = absl::FromUnixSeconds(keys->rotated_at().seconds());
  // The stored time may be another replica's; never wait less than a second.
  return std::max(rotated + period_, now + absl::Seconds(1));
}

absl::Status TicketRotator::Start() {
  absl::Time next = RotateOnce();
  absl::Status status = first_;
  {
    absl::MutexLock lock(&mu_);
    next_ = next;
  }
  thread_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      if (clock_->AwaitWithDeadline(&mu_, absl::Condition(&stopping), next_)) return;
      mu_.Unlock();
      absl::Time next = RotateOnce();
      mu_.Lock();
      next_ = next;
    }
  });
  return status;
}

}  // namespace lb::controller
