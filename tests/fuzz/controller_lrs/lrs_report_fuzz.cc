// Invariants: no crash; for every endpoint named in the report, the status has
// proxies_healthy <= proxies_total <= per_proxy size <= 2, rps and p99 finite and >= 0,
// error_rate in [0, 1]; cluster totals never shrink; /metrics renders; series within the cap.
//
// libFuzzer: tests/fuzz/build_libfuzzer.sh shows how the other targets are built with clang
// -fsanitize=fuzzer; this one links the same way.
#include "tests/fuzz/controller_lrs/lrs_report_fuzz.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "common/xds/load_metrics.h"
#include "controller/lrs/load_aggregator.h"
#include "envoy/service/load_stats/v3/lrs.pb.h"

namespace lb::fuzz {

std::string RunLrsReportInput(const uint8_t* data, size_t size, int* accepted) {
  envoy::service::load_stats::v3::LoadStatsRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(std::min<size_t>(size, INT32_MAX)))) {
    return "";
  }
  const absl::Time start = absl::FromUnixSeconds(1000);
  SimulatedClock clock(start);
  metrics::Registry metrics;
  lrs::AggregatorLimits limits;
  limits.max_series = 64;
  limits.max_metric_endpoints = 16;
  lrs::LoadAggregator agg(limits, &metrics, &clock);
  for (int round = 0; round < 2; ++round) {
    const absl::Time now = start + absl::Seconds(round);
    for (const auto& stats : request.cluster_stats()) {
      const uint64_t before = agg.ClusterTotals(stats.cluster_name()).completed;
      const bool ok = agg.Add(round == 0 ? "a" : "b", stats, now).ok();
      if (ok && accepted != nullptr) ++*accepted;
      if (agg.ClusterTotals(stats.cluster_name()).completed < before) {
        return absl::StrCat("cluster total of ", stats.cluster_name(), " shrank");
      }
      for (const auto& l : stats.upstream_locality_stats()) {
        for (const auto& m : l.load_metric_stats()) {
          std::optional<double> b = xds::load::ParseBucketMetricName(m.metric_name());
          if (b.has_value() && (std::isnan(*b) || *b < 0)) return "bad bucket bound parsed";
        }
        for (const auto& e : l.upstream_endpoint_stats()) {
          const lb::v1::EndpointStatus s =
              agg.Status(stats.cluster_name(), e.address().socket_address().address(),
                         e.address().socket_address().port_value(), {}, now);
          if (s.proxies_healthy() > s.proxies_total() ||
              s.proxies_total() > static_cast<uint32_t>(s.per_proxy_size()) ||
              s.per_proxy_size() > 2) {
            return absl::StrCat("proxy counts: ", s.ShortDebugString());
          }
          if (!std::isfinite(s.rps()) || s.rps() < 0 || !std::isfinite(s.p99_ms()) ||
              s.p99_ms() < 0 || !(s.error_rate() >= 0 && s.error_rate() <= 1)) {
            return absl::StrCat("values: ", s.ShortDebugString());
          }
        }
      }
    }
  }
  const std::string text = metrics.Render();
  if (text.find("lb_lrs_reporters") == std::string::npos) return "no lb_lrs_reporters";
  return "";
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = lb::fuzz::RunLrsReportInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
