// Per-cluster counters the workers keep (responses by status class, request latency), kept
// across snapshots for as long as the cluster is configured, and the latency histogram the proxy
// uses everywhere. Like HostCounters: each worker writes only its own cache line; the admin
// thread sums them.
#ifndef LB_PROXY_UPSTREAM_CLUSTER_STATS_H_
#define LB_PROXY_UPSTREAM_CLUSTER_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"

namespace lb::proxy::upstream {

// Upper bounds of the latency buckets, in microseconds: 0.5 ms to 10 s, then +Inf.
inline constexpr std::array<uint64_t, 14> kLatencyBoundsUs = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

// One worker's latency histogram (relaxed atomics: one writer, readers anywhere).
struct LatencyCounters {
  std::array<std::atomic<uint64_t>, kLatencyBoundsUs.size() + 1> buckets{};
  std::atomic<uint64_t> sum_us{0};

  void Record(absl::Duration d) {
    const int64_t us = absl::ToInt64Microseconds(d);
    const uint64_t v = us < 0 ? 0 : static_cast<uint64_t>(us);
    size_t i = 0;
    while (i < kLatencyBoundsUs.size() && v > kLatencyBoundsUs[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(v, std::memory_order_relaxed);
  }
};

// Sums of several workers' histograms, in the form metrics::SampleSink takes.
struct LatencySummary {
  std::vector<double> bounds_seconds;
  std::vector<uint64_t> counts;  // Per bucket, not cumulative; +Inf last.
  double sum_seconds = 0;

  LatencySummary();
  void Add(const LatencyCounters& c);
};

struct alignas(64) ClusterWorkerCounters {
  std::array<std::atomic<uint64_t>, 5> responses{};  // By class: [0] 1xx ... [4] 5xx.
  LatencyCounters latency;                           // Request start to the end of its response.

  void CountResponse(int status) {
    if (status >= 100 && status < 600) {
      responses[static_cast<size_t>(status / 100 - 1)].fetch_add(1, std::memory_order_relaxed);
    }
  }
};

// A count of something held against a cap that every worker shares (a circuit breaker). The
// cap may change at any time (a new cluster config); holders above a lowered cap keep what
// they hold.
class ResourceLimit {
 public:
  // Takes one unless `count() >= max()`; a refusal is counted in overflows().
  bool TryAcquire() {
    uint64_t current = count_.load(std::memory_order_relaxed);
    do {
      if (current >= max_.load(std::memory_order_relaxed)) {
        overflows_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!count_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }
  void Release() { count_.fetch_sub(1, std::memory_order_relaxed); }
  void set_max(uint64_t max) { max_.store(max, std::memory_order_relaxed); }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  uint64_t overflows() const { return overflows_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_{UINT64_MAX};
  std::atomic<uint64_t> overflows_{0};
};

// The cluster's circuit breakers (CircuitBreakerConfig), shared by all workers.
struct alignas(64) ClusterResources {
  ResourceLimit connections;
  ResourceLimit pending_requests;
  ResourceLimit requests;
  ResourceLimit retries;
};

class ClusterStats {
 public:
  explicit ClusterStats(int workers)
      : workers_(workers < 1 ? 1 : workers), counters_(new ClusterWorkerCounters[workers_]) {}

  ClusterWorkerCounters& worker(int i) { return counters_[i]; }
  ClusterResources& resources() { return resources_; }
  const ClusterResources& resources() const { return resources_; }
  // Sums over the workers (a moment's view).
  uint64_t responses(int status_class) const;
  LatencySummary latency() const;

 private:
  const int workers_;
  std::unique_ptr<ClusterWorkerCounters[]> counters_;
  ClusterResources resources_;
};

}  // namespace lb::proxy::upstream

#endif  // LB_PROXY_UPSTREAM_CLUSTER_STATS_H_
