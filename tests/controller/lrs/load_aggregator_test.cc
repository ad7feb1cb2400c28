// LoadAggregator: reports in, per-endpoint status and totals out, on fake time.

#include "controller/lrs/load_aggregator.h"

#include <gtest/gtest.h>

#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "common/xds/load_metrics.h"

namespace lb::lrs {
namespace {

namespace endpoint_v3 = envoy::config::endpoint::v3;
using Health = lb::v1::EndpointStatus;

const absl::Time kStart = absl::FromUnixSeconds(1000);

struct Entry {
  std::string ip;
  uint32_t port;
  uint64_t ok;
  uint64_t errors;
  uint64_t in_progress;
  std::string health;  // "" for none.
  std::vector<std::pair<std::string, uint64_t>> buckets;
};

endpoint_v3::ClusterStats Report(const std::string& cluster, absl::Duration interval,
                                 const std::vector<Entry>& entries) {
  endpoint_v3::ClusterStats s;
  s.set_cluster_name(cluster);
  s.mutable_load_report_interval()->set_seconds(absl::ToInt64Seconds(interval));
  endpoint_v3::UpstreamLocalityStats* l = s.add_upstream_locality_stats();
  for (const Entry& e : entries) {
    endpoint_v3::UpstreamEndpointStats* out = l->add_upstream_endpoint_stats();
    out->mutable_address()->mutable_socket_address()->set_address(e.ip);
    out->mutable_address()->mutable_socket_address()->set_port_value(e.port);
    out->set_total_successful_requests(e.ok);
    out->set_total_error_requests(e.errors);
    out->set_total_requests_in_progress(e.in_progress);
    out->set_total_issued_requests(e.ok + e.errors);
    l->set_total_successful_requests(l->total_successful_requests() + e.ok);
    l->set_total_error_requests(l->total_error_requests() + e.errors);
    if (!e.health.empty()) {
      auto* m = out->add_load_metric_stats();
      m->set_metric_name(absl::StrCat(xds::load::kHealthPrefix, e.health));
      m->set_num_requests_finished_with_metric(1);
      m->set_total_metric_value(1);
    }
    for (const auto& [bound, count] : e.buckets) {
      auto* m = out->add_load_metric_stats();
      m->set_metric_name(absl::StrCat(xds::load::kLatencyBucketPrefix, bound));
      m->set_num_requests_finished_with_metric(count);
    }
  }
  return s;
}

class LoadAggregatorTest : public ::testing::Test {
 protected:
  SimulatedClock clock_{kStart};
  metrics::Registry metrics_;
  AggregatorLimits limits_;
};

TEST_F(LoadAggregatorTest, SumsRatesAndHealthOverReporters) {
  LoadAggregator agg(limits_, &metrics_, &clock_);
  // Proxy a: 20 requests in 2 s on 10.0.0.1:80, 2 errors; sees it healthy.
  ASSERT_TRUE(
      agg.Add("a",
              Report("web", absl::Seconds(2), {{"10.0.0.1", 80, 18, 2, 3, "HEALTHY", {{"5", 20}}}}),
              kStart)
          .ok());
  // Proxy b: 5 requests in 1 s, sees it UNHEALTHY.
  ASSERT_TRUE(
      agg.Add("b",
              Report("web", absl::Seconds(1), {{"10.0.0.1", 80, 5, 0, 1, "UNHEALTHY", {{"5", 5}}}}),
              kStart)
          .ok());
  // A reporter without health (a gRPC client would not send endpoints at all; this one does).
  ASSERT_TRUE(
      agg.Add("c", Report("web", absl::Seconds(1), {{"10.0.0.1", 80, 0, 0, 0, "", {}}}), kStart)
          .ok());

  lb::v1::EndpointStatus s = agg.Status("web", "10.0.0.1", 80, {}, kStart);
  EXPECT_EQ(s.proxies_total(), 2u);
  EXPECT_EQ(s.proxies_healthy(), 1u);
  EXPECT_DOUBLE_EQ(s.rps(), 20.0 / 2 + 5.0 / 1);
  EXPECT_DOUBLE_EQ(s.error_rate(), 2.0 / 25);
  EXPECT_EQ(s.in_flight(), 4u);
  // All 25 in the bucket (0, 5] ms: the 99th percentile interpolates to 0.99 of it.
  EXPECT_DOUBLE_EQ(s.p99_ms(), 5.0 * 0.99);
  ASSERT_EQ(s.per_proxy_size(), 3);
  EXPECT_EQ(s.per_proxy(0).node_id(), "a");
  EXPECT_EQ(s.per_proxy(0).health(), Health::HEALTHY);
  EXPECT_EQ(s.per_proxy(1).node_id(), "b");
  EXPECT_EQ(s.per_proxy(1).health(), Health::UNHEALTHY);
  EXPECT_EQ(s.per_proxy(2).node_id(), "c");
  EXPECT_EQ(s.per_proxy(2).health(), Health::UNKNOWN);

  EXPECT_EQ(agg.ClusterTotals("web").completed, 25u);
  EXPECT_EQ(agg.ClusterTotals("web").errors, 2u);
  EXPECT_EQ(agg.EndpointTotals("web", "10.0.0.1:80").completed, 25u);
  EXPECT_EQ(agg.ClusterTotals("other").completed, 0u);
}

TEST_F(LoadAggregatorTest, WindowSlides) {
  limits_.window = absl::Seconds(10);
  LoadAggregator agg(limits_, &metrics_, &clock_);
  ASSERT_TRUE(agg.Add("a",
                      Report("web", absl::Seconds(5), {{"10.0.0.1", 80, 50, 0, 0, "HEALTHY", {}}}),
                      kStart)
                  .ok());
  ASSERT_TRUE(agg.Add("a",
                      Report("web", absl::Seconds(5), {{"10.0.0.1", 80, 10, 0, 0, "EJECTED", {}}}),
                      kStart + absl::Seconds(5))
                  .ok());
  // Both reports in the window: 60 requests over 10 s; the latest health counts.
  lb::v1::EndpointStatus s = agg.Status("web", "10.0.0.1", 80, {}, kStart + absl::Seconds(5));
  EXPECT_DOUBLE_EQ(s.rps(), 6.0);
  EXPECT_EQ(s.proxies_healthy(), 0u);
  ASSERT_EQ(s.per_proxy_size(), 1);
  EXPECT_EQ(s.per_proxy(0).health(), Health::EJECTED);
  // The first report leaves the window.
  s = agg.Status("web", "10.0.0.1", 80, {}, kStart + absl::Seconds(12));
  EXPECT_DOUBLE_EQ(s.rps(), 2.0);
  // Both gone: the reporter is no longer listed; totals stay.
  s = agg.Status("web", "10.0.0.1", 80, {}, kStart + absl::Seconds(16));
  EXPECT_EQ(s.per_proxy_size(), 0);
  EXPECT_EQ(s.rps(), 0);
  agg.Prune(kStart + absl::Seconds(16));
  EXPECT_EQ(agg.reporters(), 0u);
  EXPECT_EQ(agg.ClusterTotals("web").completed, 60u);
}

TEST_F(LoadAggregatorTest, HostnameEndpointSumsItsAddresses) {
  LoadAggregator agg(limits_, &metrics_, &clock_);
  ASSERT_TRUE(agg.Add("a",
                      Report("web", absl::Seconds(1),
                             {{"10.0.0.1", 80, 3, 0, 0, "HEALTHY", {}},
                              {"10.0.0.2", 80, 4, 0, 0, "HEALTHY", {}}}),
                      kStart)
                  .ok());
  lb::v1::EndpointStatus s =
      agg.Status("web", "api.internal", 80, {"10.0.0.1", "10.0.0.2"}, kStart);
  EXPECT_DOUBLE_EQ(s.rps(), 7.0);
  EXPECT_EQ(s.proxies_total(), 1u);
  EXPECT_EQ(s.proxies_healthy(), 1u);
}

TEST_F(LoadAggregatorTest, FillStatusSetsEveryEndpoint) {
  LoadAggregator agg(limits_, &metrics_, &clock_);
  ASSERT_TRUE(agg.Add("a",
                      Report("web", absl::Seconds(1), {{"10.0.0.1", 80, 3, 1, 0, "DRAINING", {}}}),
                      kStart)
                  .ok());
  google::protobuf::RepeatedPtrField<lb::v1::Endpoint> endpoints;
  endpoints.Add()->set_address("10.0.0.1");
  endpoints[0].set_port(80);
  endpoints.Add()->set_address("10.0.0.9");
  endpoints[1].set_port(80);
  agg.FillStatus("web", &endpoints, kStart);
  EXPECT_DOUBLE_EQ(endpoints[0].status().rps(), 4.0);
  EXPECT_DOUBLE_EQ(endpoints[0].status().error_rate(), 0.25);
  EXPECT_EQ(endpoints[0].status().per_proxy(0).health(), Health::DRAINING);
  EXPECT_TRUE(endpoints[1].has_status());
  EXPECT_EQ(endpoints[1].status().per_proxy_size(), 0);
}

TEST_F(LoadAggregatorTest, BadReportsAreRefusedWithNothingKept) {
  LoadAggregator agg(limits_, &metrics_, &clock_);
  absl::Status s = agg.Add("a", Report("", absl::Seconds(1), {}), kStart);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "cluster_stats.cluster_name: must not be empty");
  endpoint_v3::ClusterStats no_address = Report("web", absl::Seconds(1), {});
  no_address.mutable_upstream_locality_stats(0)
      ->add_upstream_endpoint_stats()
      ->set_total_successful_requests(5);
  no_address.mutable_upstream_locality_stats(0)->set_total_successful_requests(5);
  s = agg.Add("a", no_address, kStart);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "cluster_stats[web].upstream_endpoint_stats.address: a socket_address is required");
  EXPECT_EQ(agg.ClusterTotals("web").completed, 0u);
  EXPECT_EQ(agg.reporters(), 0u);
}

TEST_F(LoadAggregatorTest, SeriesCapDropsNewSeriesAndCounts) {
  limits_.max_series = 1;
  LoadAggregator agg(limits_, &metrics_, &clock_);
  ASSERT_TRUE(agg.Add("a",
                      Report("web", absl::Seconds(1),
                             {{"10.0.0.1", 80, 1, 0, 0, "HEALTHY", {}},
                              {"10.0.0.2", 80, 1, 0, 0, "HEALTHY", {}}}),
                      kStart)
                  .ok());
  EXPECT_EQ(agg.Status("web", "10.0.0.1", 80, {}, kStart).per_proxy_size(), 1);
  EXPECT_EQ(agg.Status("web", "10.0.0.2", 80, {}, kStart).per_proxy_size(), 0);
  EXPECT_NE(
      metrics_.Render().find("lb_controller_limit_exceeded_total{limit=\"lrs_max_series\"} 1\n"),
      std::string::npos)
      << metrics_.Render();
}

TEST_F(LoadAggregatorTest, MetricsPerEndpoint) {
  LoadAggregator agg(limits_, &metrics_, &clock_);
  ASSERT_TRUE(agg.Add("a",
                      Report("web", absl::Seconds(2), {{"10.0.0.1", 80, 8, 2, 1, "HEALTHY", {}}}),
                      kStart)
                  .ok());
  const std::string text = metrics_.Render();
  for (const char* line : {
           "lb_lrs_endpoint_requests_total{cluster=\"web\",endpoint=\"10.0.0.1:80\"} 10\n",
           "lb_lrs_endpoint_errors_total{cluster=\"web\",endpoint=\"10.0.0.1:80\"} 2\n",
           "lb_lrs_endpoint_rps{cluster=\"web\",endpoint=\"10.0.0.1:80\"} 5\n",
           "lb_lrs_endpoint_in_flight{cluster=\"web\",endpoint=\"10.0.0.1:80\"} 1\n",
           "lb_lrs_endpoint_proxies_healthy{cluster=\"web\",endpoint=\"10.0.0.1:80\"} 1\n",
           "lb_lrs_cluster_requests_total{cluster=\"web\"} 10\n",
           "lb_lrs_reporters 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
  }
}

}  // namespace
}  // namespace lb::lrs
