// The controller's streaming calls (ADS, WatchChanges) run on gRPC's callback API. Three pieces
// they share: a process-wide cap on concurrent calls of one kind, a reactor that refuses a call
// at once, and a backstop that cancels a call whose client stopped reading.
#ifndef LB_CONTROLLER_LIMITS_CALL_LIMITS_H_
#define LB_CONTROLLER_LIMITS_CALL_LIMITS_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"

namespace lb::limits {

// How long a call that was told to finish may take to deliver its status before it is
// cancelled (see CancelBackstop).
inline constexpr absl::Duration kFinishGrace = absl::Seconds(5);

// Slots for concurrent calls of one kind. Thread-safe.
class CallSlots {
 public:
  explicit CallSlots(size_t max) : max_(max) {}
  // Takes a slot; false at the cap.
  bool TryAcquire();
  void Release() { in_use_.fetch_sub(1, std::memory_order_relaxed); }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  size_t max() const { return max_; }

 private:
  const size_t max_;
  std::atomic<size_t> in_use_{0};
};

// A reactor that ends its call at once with `status` and deletes itself. `Reactor` is
// grpc::ServerBidiReactor<...> or grpc::ServerWriteReactor<...>.
template <typename Reactor>
class RefusedCall final : public Reactor {
 public:
  explicit RefusedCall(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// Finish() sends the status after the messages already being written, and a client that does
// not read never takes them: the call would stay open, with its slot and buffers, for good.
// Armed when such a call is told to finish, this cancels it after `grace` unless Disarm() came
// first (call it in OnDone, before the context goes). Arm and Disarm must not run concurrently
// (the reactors call both under their own mutex); the alarm may fire on any thread.
class CancelBackstop {
 public:
  CancelBackstop() : state_(std::make_shared<State>()) {}
  // Only the first call arms it.
  void Arm(grpc::CallbackServerContext* context, absl::Duration grace = kFinishGrace);
  void Disarm();

 private:
  struct State {
    absl::Mutex mu;
    grpc::CallbackServerContext* context ABSL_GUARDED_BY(mu) = nullptr;
    bool armed ABSL_GUARDED_BY(mu) = false;
  };
  // Shared with the alarm's callback, which may run after Disarm().
  const std::shared_ptr<State> state_;
  grpc::Alarm alarm_;
};

}  // namespace lb::limits

#endif  // LB_CONTROLLER_LIMITS_CALL_LIMITS_H_
