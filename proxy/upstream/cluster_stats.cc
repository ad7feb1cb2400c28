#include "proxy/upstream/cluster_stats.h"

namespace lb::proxy::upstream {

LatencySummary::LatencySummary() : counts(kLatencyBoundsUs.size() + 1, 0) {
  for (uint64_t b : kLatencyBoundsUs) bounds_seconds.push_back(static_cast<double>(b) / 1e6);
}

void LatencySummary::Add(const LatencyCounters& c) {
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] += c.buckets[i].load(std::memory_order_relaxed);
  }
  sum_seconds += static_cast<double>(c.sum_us.load(std::memory_order_relaxed)) / 1e6;
}

uint64_t ClusterStats::responses(int status_class) const {
  if (status_class < 1 || status_class > 5) return 0;
  uint64_t total = 0;
  for (int i = 0; i < workers_; ++i) {
    total += counters_[i].responses[status_class - 1].load(std::memory_order_relaxed);
  }
  return total;
}

LatencySummary ClusterStats::latency() const {
  LatencySummary s;
  for (int i = 0; i < workers_; ++i) s.Add(counters_[i].latency);
  return s;
}

}  // namespace lb::proxy::upstream
