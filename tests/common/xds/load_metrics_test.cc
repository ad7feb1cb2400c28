#include "common/xds/load_metrics.h"

#include <gtest/gtest.h>

#include <limits>

namespace lb::xds::load {
namespace {

TEST(LoadMetricsTest, BucketNamesRoundTrip) {
  EXPECT_EQ(BucketMetricName(0.5), "latency_ms_bucket.le_0.5");
  EXPECT_EQ(BucketMetricName(10000), "latency_ms_bucket.le_10000");
  EXPECT_EQ(BucketMetricName(std::numeric_limits<double>::infinity()), "latency_ms_bucket.le_inf");
  EXPECT_EQ(ParseBucketMetricName("latency_ms_bucket.le_2.5"), 2.5);
  EXPECT_EQ(ParseBucketMetricName("latency_ms_bucket.le_inf"),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(ParseBucketMetricName("latency_ms"), std::nullopt);
  EXPECT_EQ(ParseBucketMetricName("latency_ms_bucket.le_"), std::nullopt);
  EXPECT_EQ(ParseBucketMetricName("latency_ms_bucket.le_-1"), std::nullopt);
  EXPECT_EQ(ParseBucketMetricName("latency_ms_bucket.le_nan"), std::nullopt);
  EXPECT_EQ(ParseBucketMetricName("health.HEALTHY"), std::nullopt);
}

TEST(LoadMetricsTest, Quantiles) {
  EXPECT_EQ(HistogramQuantile({}, 0.99), 0);
  EXPECT_EQ(HistogramQuantile({{1, 0}, {5, 0}}, 0.99), 0);
  // 100 requests: 90 at most 1 ms, 10 in (1, 5]: the 99th is 9/10 of the way through (1, 5].
  EXPECT_DOUBLE_EQ(HistogramQuantile({{1, 90}, {5, 10}}, 0.99), 1 + 4 * 0.9);
  EXPECT_DOUBLE_EQ(HistogramQuantile({{1, 90}, {5, 10}}, 0.5), 0.5 / 0.9);
  // In the infinite bucket: its lower bound.
  EXPECT_DOUBLE_EQ(
      HistogramQuantile({{1, 1}, {10, 0}, {std::numeric_limits<double>::infinity(), 99}}, 0.99),
      10);
}

}  // namespace
}  // namespace lb::xds::load
