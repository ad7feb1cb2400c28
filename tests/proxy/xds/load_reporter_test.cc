// LoadReporter: the LRS protocol on the proxy side, fed views of cumulative counters.

#include "proxy/xds/load_reporter.h"

#include <gtest/gtest.h>

namespace lb::proxy::xds {
namespace {

namespace lrs_v3 = envoy::service::load_stats::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;

const absl::Time kStart = absl::FromUnixSeconds(1000);

LoadView View(uint64_t completed, uint64_t errors, uint64_t bucket1, uint64_t bucket_inf,
              EndpointHealth health = EndpointHealth::kHealthy) {
  LoadView v;
  v.latency_bounds_us = {1000};  // One bound (1 ms), then +Inf.
  ClusterLoad& c = v.clusters.emplace_back();
  c.name = "web";
  EndpointLoad& e = c.endpoints.emplace_back();
  e.address = "10.0.0.1";
  e.port = 80;
  e.zone = "z1";
  e.issued = completed + 1;
  e.completed = completed;
  e.errors = errors;
  e.in_progress = 1;
  e.latency_sum_us = 1500 * completed;
  e.latency_buckets = {bucket1, bucket_inf};
  e.health = health;
  ClusterLoad& other = v.clusters.emplace_back();
  other.name = "other";
  other.endpoints.push_back(e);
  return v;
}

lrs_v3::LoadStatsResponse Answer(std::vector<std::string> clusters, bool all, int64_t seconds) {
  lrs_v3::LoadStatsResponse r;
  for (const std::string& c : clusters) r.add_clusters(c);
  r.set_send_all_clusters(all);
  r.mutable_load_reporting_interval()->set_seconds(seconds);
  return r;
}

const endpoint_v3::EndpointLoadMetricStats* Metric(const endpoint_v3::UpstreamEndpointStats& e,
                                                   const std::string& name) {
  for (const auto& m : e.load_metric_stats()) {
    if (m.metric_name() == name) return &m;
  }
  return nullptr;
}

TEST(LoadReporterTest, FirstMessageCarriesTheNodeAndFeature) {
  LoadReporter r({"proxy-1", "z1", "lb-proxy", "1"});
  lrs_v3::LoadStatsRequest first = r.StartStream();
  EXPECT_EQ(first.node().id(), "proxy-1");
  EXPECT_EQ(first.node().locality().zone(), "z1");
  ASSERT_EQ(first.node().client_features_size(), 1);
  EXPECT_EQ(first.node().client_features(0), "envoy.lrs.supports_send_all_clusters");
  EXPECT_EQ(first.cluster_stats_size(), 0);
  EXPECT_FALSE(r.active());
  r.OnResponse(Answer({}, true, 0));
  EXPECT_FALSE(r.active());  // No interval yet.
  r.OnResponse(Answer({}, true, 3));
  EXPECT_TRUE(r.active());
  EXPECT_EQ(r.interval(), absl::Seconds(3));
}

TEST(LoadReporterTest, ReportsDeltasOfTheClustersAskedFor) {
  LoadReporter r({"proxy-1", "", "lb-proxy", "1"});
  r.StartStream();
  r.OnResponse(Answer({"web"}, false, 2));
  // Baseline: nothing yet.
  lrs_v3::LoadStatsRequest first = r.Report(View(0, 0, 0, 0), kStart);
  ASSERT_EQ(first.cluster_stats_size(), 1);
  EXPECT_EQ(first.cluster_stats(0).cluster_name(), "web");

  lrs_v3::LoadStatsRequest report =
      r.Report(View(10, 3, 4, 6, EndpointHealth::kEjected), kStart + absl::Seconds(2));
  ASSERT_EQ(report.cluster_stats_size(), 1);  // Not "other".
  const endpoint_v3::ClusterStats& c = report.cluster_stats(0);
  EXPECT_EQ(c.load_report_interval().seconds(), 2);
  ASSERT_EQ(c.upstream_locality_stats_size(), 1);
  const endpoint_v3::UpstreamLocalityStats& l = c.upstream_locality_stats(0);
  EXPECT_EQ(l.locality().zone(), "z1");
  EXPECT_EQ(l.total_successful_requests(), 7u);
  EXPECT_EQ(l.total_error_requests(), 3u);
  EXPECT_EQ(l.total_issued_requests(), 10u);
  EXPECT_EQ(l.total_requests_in_progress(), 1u);
  ASSERT_EQ(l.upstream_endpoint_stats_size(), 1);
  const endpoint_v3::UpstreamEndpointStats& e = l.upstream_endpoint_stats(0);
  EXPECT_EQ(e.address().socket_address().address(), "10.0.0.1");
  EXPECT_EQ(e.address().socket_address().port_value(), 80u);
  EXPECT_EQ(e.total_successful_requests(), 7u);
  EXPECT_EQ(e.total_error_requests(), 3u);
  const auto* latency = Metric(e, "latency_ms");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->num_requests_finished_with_metric(), 10u);
  EXPECT_DOUBLE_EQ(latency->total_metric_value(), 15.0);
  const auto* le1 = Metric(e, "latency_ms_bucket.le_1");
  ASSERT_NE(le1, nullptr);
  EXPECT_EQ(le1->num_requests_finished_with_metric(), 4u);
  EXPECT_DOUBLE_EQ(le1->total_metric_value(), 4.0);
  const auto* inf = Metric(e, "latency_ms_bucket.le_inf");
  ASSERT_NE(inf, nullptr);
  EXPECT_EQ(inf->num_requests_finished_with_metric(), 6u);
  EXPECT_DOUBLE_EQ(inf->total_metric_value(), 6.0);  // 6 x the lower bound, 1 ms.
  const auto* health = Metric(e, "health.EJECTED");
  ASSERT_NE(health, nullptr);
  EXPECT_EQ(health->num_requests_finished_with_metric(), 1u);

  // Nothing new: zero counts, no latency metrics, health still there.
  report = r.Report(View(10, 3, 4, 6), kStart + absl::Seconds(4));
  const endpoint_v3::UpstreamEndpointStats& idle =
      report.cluster_stats(0).upstream_locality_stats(0).upstream_endpoint_stats(0);
  EXPECT_EQ(idle.total_successful_requests(), 0u);
  EXPECT_EQ(idle.total_error_requests(), 0u);
  EXPECT_EQ(Metric(idle, "latency_ms"), nullptr);
  EXPECT_NE(Metric(idle, "health.HEALTHY"), nullptr);
}

TEST(LoadReporterTest, SendAllClustersAndANewStreamKeepTheBaseline) {
  LoadReporter r({"proxy-1", "", "lb-proxy", "1"});
  r.StartStream();
  r.OnResponse(Answer({}, true, 1));
  r.Report(View(5, 0, 5, 0), kStart);
  // The stream breaks; traffic goes on; the next stream reports only what is new.
  r.StartStream();
  EXPECT_FALSE(r.active());
  r.OnResponse(Answer({}, true, 1));
  lrs_v3::LoadStatsRequest report = r.Report(View(8, 1, 8, 0), kStart + absl::Seconds(3));
  ASSERT_EQ(report.cluster_stats_size(), 2);
  const auto& l = report.cluster_stats(0).upstream_locality_stats(0);
  EXPECT_EQ(l.total_successful_requests(), 2u);
  EXPECT_EQ(l.total_error_requests(), 1u);
}

}  // namespace
}  // namespace lb::proxy::xds
