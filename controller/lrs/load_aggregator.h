// The controller's view of load and health: every reporter's LRS reports (proxies and gRPC xDS
// clients), kept for a sliding window and summed per cluster and per endpoint (docs/lrs.md).
//
// Pure: no gRPC, no threads, no clock of its own (callers pass `now`). Thread-safe: one mutex
// around everything; reports arrive on gRPC's callback threads, reads come from REST, gRPC and
// /metrics.
#ifndef LB_CONTROLLER_LRS_LOAD_AGGREGATOR_H_
#define LB_CONTROLLER_LRS_LOAD_AGGREGATOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "envoy/config/endpoint/v3/load_report.pb.h"
#include "google/protobuf/repeated_field.h"
#include "lb/v1/lb.pb.h"

namespace lb::lrs {

// Bounds of what the aggregator keeps; each is a flag of controller/main.cc.
struct AggregatorLimits {
  // Reports older than this leave the aggregate (--lrs_window). Rates are computed over the
  // reports inside it; a reporter silent for longer is no longer listed.
  absl::Duration window = absl::Seconds(10);
  // (reporter, cluster, endpoint) series kept at once (--lrs_max_series); a report's new series
  // beyond it are dropped and counted in lb_controller_limit_exceeded_total{limit=
  // "lrs_max_series"}.
  size_t max_series = 200000;
  // (cluster, endpoint) pairs exported on /metrics (--lrs_max_metric_endpoints); the rest are
  // left out and counted.
  size_t max_metric_endpoints = 2000;
};

class LoadAggregator {
 public:
  // `metrics` and `clock` must outlive the aggregator; its /metrics collector is added here
  // and reads `clock` (nothing else does).
  LoadAggregator(AggregatorLimits limits, metrics::Registry* metrics, Clock* clock);

  // Takes one ClusterStats of `reporter` (a node id) received at `now`. The interval it covers
  // is its load_report_interval, or the time since this reporter's previous report of the
  // cluster when that is missing. kInvalidArgument (nothing kept) for a report without a
  // cluster name or with an endpoint without a socket address.
  absl::Status Add(const std::string& reporter, const envoy::config::endpoint::v3::ClusterStats& s,
                   absl::Time now);

  // The status of endpoint `address`:`port` of `cluster`; `resolved` are the addresses a
  // hostname endpoint resolved to (their reports are summed), empty for an IP endpoint.
  lb::v1::EndpointStatus Status(const std::string& cluster, const std::string& address,
                                uint32_t port, const std::vector<std::string>& resolved,
                                absl::Time now);
  // Sets `status` on every endpoint of `cluster`.
  void FillStatus(const std::string& cluster,
                  google::protobuf::RepeatedPtrField<lb::v1::Endpoint>* endpoints, absl::Time now);

  // Requests completed (successful + errors) and errors reported for `cluster` since start,
  // over every reporter, from the locality totals (so gRPC clients, which report no endpoints,
  // count too).
  struct Totals {
    uint64_t completed = 0;
    uint64_t errors = 0;
    uint64_t issued = 0;
  };
  Totals ClusterTotals(const std::string& cluster);
  // Likewise for one endpoint ("ip:port" as net::JoinHostPort writes it).
  Totals EndpointTotals(const std::string& cluster, const std::string& endpoint);

  // Drops reports older than the window and reporters with nothing left.
  void Prune(absl::Time now);
  // Distinct reporters with reports inside the window.
  size_t reporters();

 private:
  struct Sample {
    absl::Time at;
    double seconds = 0;  // Interval covered.
    uint64_t completed = 0;
    uint64_t errors = 0;
    uint32_t in_progress = 0;
    std::map<double, uint64_t> buckets;  // Latency histogram, ms bound -> count.
    lb::v1::EndpointStatus::Health health = lb::v1::EndpointStatus::UNKNOWN;
  };
  using Series = std::deque<Sample>;
  struct ReporterCluster {
    absl::Time last_report = absl::InfinitePast();
    std::map<std::string, Series> endpoints;  // By "ip:port".
  };
  // reporter -> cluster -> endpoint series.
  using Reporters = std::map<std::string, std::map<std::string, ReporterCluster>>;

  void PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Collect(metrics::SampleSink& sink);
  lb::v1::EndpointStatus StatusLocked(const std::string& cluster,
                                      const std::vector<std::string>& keys, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AggregatorLimits limits_;
  Clock* const clock_;
  metrics::Counter* const series_exceeded_;
  metrics::Counter* const metric_endpoints_exceeded_;
  metrics::Counter* const reports_;

  absl::Mutex mu_;
  Reporters reporters_ ABSL_GUARDED_BY(mu_);
  size_t series_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_prune_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Since start; by cluster, and by (cluster, endpoint) for the endpoints with series.
  std::map<std::string, Totals> cluster_totals_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Totals> endpoint_totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::lrs

#endif  // LB_CONTROLLER_LRS_LOAD_AGGREGATOR_H_
