// The process-wide cap on open client connections (--max_connections), shared by the workers,
// and the rate limit on "stopped accepting" log lines.
//
// A worker takes a slot before it accepts and gives it back when the connection closes; at the
// cap it stops accepting (the kernel's backlog holds new clients) until a slot frees, as
// HAProxy's maxconn does, instead of accepting and dropping.
//
// Thread-safe: lock-free counters.
#ifndef LB_PROXY_SERVER_CONNECTION_LIMIT_H_
#define LB_PROXY_SERVER_CONNECTION_LIMIT_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace lb::proxy {

class ConnectionLimit {
 public:
  explicit ConnectionLimit(uint64_t max) : max_(max) {}

  uint64_t max() const { return max_; }
  uint64_t open() const { return open_.load(std::memory_order_relaxed); }
  // Takes a slot; false at the cap.
  bool TryAcquire() {
    uint64_t n = open_.load(std::memory_order_relaxed);
    do {
      if (n >= max_) return false;
    } while (!open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  void Release() { open_.fetch_sub(1, std::memory_order_relaxed); }

  // True at most once per `interval` (process-wide): whether to log a pause now. `now` is any
  // monotonic time.
  bool ShouldLog(absl::Duration now, absl::Duration interval) {
    int64_t last = last_log_ns_.load(std::memory_order_relaxed);
    const int64_t t = absl::ToInt64Nanoseconds(now);
    if (last != kNever && t - last < absl::ToInt64Nanoseconds(interval)) return false;
    return last_log_ns_.compare_exchange_strong(last, t, std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t kNever = INT64_MIN;
  const uint64_t max_;
  std::atomic<uint64_t> open_{0};
  std::atomic<int64_t> last_log_ns_{kNever};
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_CONNECTION_LIMIT_H_
