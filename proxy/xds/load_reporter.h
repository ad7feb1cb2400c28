// The LRS protocol on the proxy's side as a pure class (no gRPC, threads or clock): the first
// message of a stream, the server's answers (which clusters, how often) and each report, built
// as the difference between two views of the proxy's cumulative counters (docs/lrs.md).
#ifndef LB_PROXY_XDS_LOAD_REPORTER_H_
#define LB_PROXY_XDS_LOAD_REPORTER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "envoy/service/load_stats/v3/lrs.pb.h"

namespace lb::proxy::xds {

// How this proxy sees one endpoint now.
enum class EndpointHealth { kHealthy, kUnhealthy, kEjected, kDraining };

// One endpoint's cumulative counters (since the proxy started) and current state.
struct EndpointLoad {
  std::string address;  // IP literal.
  uint32_t port = 0;
  std::string zone;
  uint64_t issued = 0;     // Attempts sent to it.
  uint64_t completed = 0;  // Attempts ended.
  uint64_t errors = 0;     // Of those, failed.
  uint64_t in_progress = 0;
  uint64_t latency_sum_us = 0;
  // Per bucket (not cumulative), parallel to LoadView::latency_bounds_us plus +Inf last.
  std::vector<uint64_t> latency_buckets;
  EndpointHealth health = EndpointHealth::kHealthy;
};

struct ClusterLoad {
  std::string name;
  std::vector<EndpointLoad> endpoints;
};

// Everything the proxy counts, at one moment.
struct LoadView {
  std::vector<uint64_t> latency_bounds_us;  // Upper bounds of the buckets, ascending.
  std::vector<ClusterLoad> clusters;
};

class LoadReporter {
 public:
  struct Node {
    std::string id;
    std::string zone;
    std::string user_agent;
    std::string user_agent_version;
  };
  explicit LoadReporter(Node node) : node_(std::move(node)) {}

  // The first message of a new stream: the node (with the send_all_clusters feature), no
  // stats. Clears the clusters asked for; the counters' baseline is kept, so traffic between
  // two streams is reported on the next one.
  envoy::service::load_stats::v3::LoadStatsRequest StartStream();
  // Takes the server's answer: clusters to report (or all) and the interval (a missing or
  // non-positive interval keeps the previous one; before any, no reports are due).
  void OnResponse(const envoy::service::load_stats::v3::LoadStatsResponse& response);
  // True once the server has said what to report.
  bool active() const { return interval_ > absl::ZeroDuration(); }
  absl::Duration interval() const { return interval_; }

  // The report for `view` taken at `now`: for each cluster asked for, every endpoint's counts
  // since the previous report (in_progress and health as they are now), load_report_interval
  // = the time since the previous report. The baseline moves to `view` for every cluster,
  // asked for or not.
  envoy::service::load_stats::v3::LoadStatsRequest Report(const LoadView& view, absl::Time now);

 private:
  struct Baseline {
    uint64_t issued = 0;
    uint64_t completed = 0;
    uint64_t errors = 0;
    uint64_t latency_sum_us = 0;
    std::vector<uint64_t> latency_buckets;
  };

  const Node node_;
  absl::Duration interval_ = absl::ZeroDuration();
  bool all_clusters_ = false;
  absl::flat_hash_set<std::string> clusters_;
  absl::Time last_report_ = absl::InfinitePast();
  // (cluster, "ip:port") -> counters at the previous report.
  std::map<std::pair<std::string, std::string>, Baseline> baseline_;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_LOAD_REPORTER_H_
