// The controller's Load Reporting Service (envoy.service.load_stats.v3), served on the gRPC
// port beside ADS with the same transport rules (TLS / mTLS when the controller has them; no
// token, like ADS). Each stream: the client's first message names its node; the controller
// answers once with the clusters to report (all of them for clients that support
// send_all_clusters) and --lrs_interval; every report then goes to the LoadAggregator.
//
// Threads: gRPC's callback threads; each stream serializes itself with its own mutex.
#ifndef LB_CONTROLLER_LRS_LRS_SERVICE_H_
#define LB_CONTROLLER_LRS_LRS_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/limits/call_limits.h"
#include "controller/lrs/load_aggregator.h"
#include "envoy/service/load_stats/v3/lrs.grpc.pb.h"

namespace lb::lrs {

// Each is a flag of controller/main.cc; hits are counted in
// lb_controller_limit_exceeded_total{limit=FLAG} (docs/lrs.md, "Limits").
struct LrsOptions {
  // How often clients report (--lrs_interval). gRPC clients report at most once a second.
  absl::Duration interval = absl::Seconds(5);
  // Concurrent LRS streams, i.e. reporters (--lrs_max_streams); more are refused with
  // RESOURCE_EXHAUSTED at once.
  size_t max_streams = 4096;
  // Per report message: ClusterStats (--lrs_max_clusters_per_report), endpoint entries over all
  // of them (--lrs_max_endpoints_per_report) and bytes (--lrs_max_report_bytes; gRPC's
  // --grpc_max_receive_bytes applies first). A report over any of them ends the stream with
  // RESOURCE_EXHAUSTED; nothing of it is kept.
  size_t max_clusters_per_report = 1000;
  size_t max_endpoints_per_report = 20000;
  size_t max_report_bytes = 2 << 20;
};

// Client feature of a node that may be told send_all_clusters.
inline constexpr char kSendAllClustersFeature[] = "envoy.lrs.supports_send_all_clusters";

class LrsService final
    : public envoy::service::load_stats::v3::LoadReportingService::CallbackService {
 public:
  // The model's cluster names, for clients that cannot be told send_all_clusters.
  using ClusterNames = std::function<std::vector<std::string>()>;

  // `aggregator`, `metrics` and `clock` must outlive the service.
  LrsService(LoadAggregator* aggregator, ClusterNames cluster_names, LrsOptions options,
             metrics::Registry* metrics, Clock* clock);

  grpc::ServerBidiReactor<envoy::service::load_stats::v3::LoadStatsRequest,
                          envoy::service::load_stats::v3::LoadStatsResponse>*
  StreamLoadStats(grpc::CallbackServerContext* context) override;

  // Ends every stream with UNAVAILABLE; new ones are refused the same way.
  void Shutdown();

  class Stream;

 private:
  friend class Stream;
  void Unregister(Stream* stream);

  LoadAggregator* const aggregator_;
  const ClusterNames cluster_names_;
  const LrsOptions options_;
  Clock* const clock_;
  limits::CallSlots slots_;
  metrics::Gauge* const streams_gauge_;
  metrics::Counter* const streams_exceeded_;
  metrics::Counter* const clusters_exceeded_;
  metrics::Counter* const endpoints_exceeded_;
  metrics::Counter* const bytes_exceeded_;
  metrics::Counter* const rejected_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::lrs

#endif  // LB_CONTROLLER_LRS_LRS_SERVICE_H_
