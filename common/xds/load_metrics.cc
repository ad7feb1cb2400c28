#include "common/xds/load_metrics.h"

#include <cmath>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace lb::xds::load {

std::string BucketMetricName(double bound_ms) {
  if (std::isinf(bound_ms)) return absl::StrCat(kLatencyBucketPrefix, "inf");
  return absl::StrCat(kLatencyBucketPrefix, absl::StrFormat("%g", bound_ms));
}

std::optional<double> ParseBucketMetricName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kLatencyBucketPrefix)) return std::nullopt;
  if (name == "inf") return std::numeric_limits<double>::infinity();
  double bound = 0;
  if (!absl::SimpleAtod(name, &bound) || !std::isfinite(bound) || bound < 0) return std::nullopt;
  return bound;
}

double HistogramQuantile(const std::map<double, uint64_t>& buckets, double q) {
  uint64_t total = 0;
  for (const auto& [bound, count] : buckets) total += count;
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  double lower = 0;
  uint64_t below = 0;
  for (const auto& [bound, count] : buckets) {
    if (count > 0 && static_cast<double>(below + count) >= rank) {
      if (std::isinf(bound)) return lower;
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(count);
      return lower + (bound - lower) * within;
    }
    below += count;
    lower = std::isinf(bound) ? lower : bound;
  }
  return lower;
}

}  // namespace lb::xds::load
