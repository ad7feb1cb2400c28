// Names of the load_metric_stats entries that carry, inside Envoy's LRS messages, what those
// messages have no field for (docs/lrs.md, "Extensions"): the latency histogram and the health
// each proxy sees. The proxy's LRS client writes them, the controller's aggregator reads them.
//
//   "latency_ms"                 num_requests_finished_with_metric = requests completed,
//                                total_metric_value = the sum of their latencies in ms.
//   "latency_ms_bucket.le_B"     num = requests completed in B's bucket (not cumulative): more
//                                than the next lower bound, at most B ms; B is "inf" for the
//                                last; total_metric_value = num * B (an upper bound of their
//                                sum; num * the next lower bound for "inf").
//   "health.STATE"               num = 1, total_metric_value = 1; STATE is HEALTHY, UNHEALTHY,
//                                EJECTED or DRAINING: how this reporter sees the endpoint now.
//
// Pure functions, no proto dependency.
#ifndef LB_COMMON_XDS_LOAD_METRICS_H_
#define LB_COMMON_XDS_LOAD_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace lb::xds::load {

inline constexpr char kLatencyMetric[] = "latency_ms";
inline constexpr char kLatencyBucketPrefix[] = "latency_ms_bucket.le_";
inline constexpr char kHealthPrefix[] = "health.";

// "latency_ms_bucket.le_2.5"; an infinite bound gives "latency_ms_bucket.le_inf".
std::string BucketMetricName(double bound_ms);
// The bound of a bucket metric name (infinity for "inf"); nullopt for any other name or a
// bound that is not a non-negative number.
std::optional<double> ParseBucketMetricName(absl::string_view name);

// The `q` quantile (0 < q <= 1) of a histogram given as bound (ms, upper, inclusive) -> count,
// interpolated linearly inside its bucket (the first bucket starts at 0); a quantile in the
// infinite bucket is its lower bound. 0 for an empty histogram.
double HistogramQuantile(const std::map<double, uint64_t>& buckets, double q);

}  // namespace lb::xds::load

#endif  // LB_COMMON_XDS_LOAD_METRICS_H_
