// Prometheus-style metrics: counters, gauges and histograms with fixed label sets, rendered in
// the Prometheus text exposition format (version 0.0.4).
//
// Thread-safe: metric objects are created once (under the registry's lock) and updated with
// relaxed atomics, so the hot path takes no lock. Metric objects live as long as the registry.
#ifndef LB_COMMON_METRICS_METRICS_H_
#define LB_COMMON_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace lb::metrics {

// The Content-Type of Registry::Render()'s output (Prometheus text format 0.0.4).
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4";

// Label name/value pairs, in the order given at creation.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative histogram over fixed upper bounds (in the metric's unit, e.g. seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket counts (not cumulative), one more than bounds (the +Inf bucket).
  std::vector<uint64_t> BucketCounts() const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};  // Sum scaled by 1e6 to stay atomic.
};

// Latency buckets in seconds, 0.5 ms to 10 s.
std::vector<double> DefaultLatencyBounds();

// Samples a collector reports at render time (see Registry::AddCollector).
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  virtual void Counter(const std::string& name, const std::string& help, const Labels& labels,
                       uint64_t value) = 0;
  virtual void Gauge(const std::string& name, const std::string& help, const Labels& labels,
                     double value) = 0;
  // `counts`: per bucket, not cumulative, one more than `bounds` (the +Inf bucket); `sum` in
  // the unit of the bounds.
  virtual void Histogram(const std::string& name, const std::string& help, const Labels& labels,
                         const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                         double sum) = 0;
};

class Registry {
 public:
  // Returns the metric for (name, labels), creating it on first use. `help` is taken from the
  // first call for a name. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; label values are escaped.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const Labels& labels = {},
                          std::vector<double> bounds = DefaultLatencyBounds());

  // Values kept elsewhere (per-thread counters summed on demand, sizes of live structures):
  // `collect` runs at every Render(), without the registry's lock, on the rendering thread.
  // Its samples are rendered with the registry's own, families sorted by name.
  void AddCollector(std::function<void(SampleSink&)> collect);

  // The whole registry in Prometheus text format, families sorted by name.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(const std::string& name, const std::string& help, Type type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(SampleSink&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::metrics

#endif  // LB_COMMON_METRICS_METRICS_H_
