#include "controller/limits/call_limits.h"

namespace lb::limits {

bool CallSlots::TryAcquire() {
  size_t n = in_use_.load(std::memory_order_relaxed);
  do {
    if (n >= max_) return false;
  } while (!in_use_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

void CancelBackstop::Arm(grpc::CallbackServerContext* context, absl::Duration grace) {
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->armed) return;
    state_->armed = true;
    state_->context = context;
  }
  // gRPC alarms run on the real clock.
  alarm_.Set(absl::ToChronoTime(absl::Now() + grace), [state = state_](bool fired) {
    absl::MutexLock lock(&state->mu);
    if (fired && state->context != nullptr) state->context->TryCancel();
  });
}

void CancelBackstop::Disarm() {
  bool armed;
  {
    absl::MutexLock lock(&state_->mu);
    state_->context = nullptr;
    armed = state_->armed;
  }
  if (armed) alarm_.Cancel();
}

}  // namespace lb::limits
