#include "controller/lrs/lrs_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/limits/limit_metrics.h"
#include "spdlog/spdlog.h"

namespace lb::lrs {

namespace lrs_v3 = envoy::service::load_stats::v3;
using Reactor = grpc::ServerBidiReactor<lrs_v3::LoadStatsRequest, lrs_v3::LoadStatsResponse>;

// One reporter's stream. Holds one of the service's slots from construction to OnDone.
class LrsService::Stream final : public Reactor {
 public:
  Stream(LrsService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), peer_(context->peer()) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      FinishOnce(grpc::Status::OK);
      return;
    }
    // Only the one outstanding read touches request_.
    const bool first = node_id_.empty();
    if (first) {
      if (request_.node().id().empty()) {
        Reject(grpc::StatusCode::INVALID_ARGUMENT,
               "LoadStatsRequest.node.id: required on the stream's first message");
        return;
      }
      node_id_ = request_.node().id();
    }
    if (grpc::Status s = Check(); !s.ok()) {
      Reject(s.error_code(), s.error_message());
      return;
    }
    const absl::Time now = service_->clock_->Now();
    for (const auto& stats : request_.cluster_stats()) {
      if (absl::Status s = service_->aggregator_->Add(node_id_, stats, now); !s.ok()) {
        Reject(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message()));
        return;
      }
    }
    if (first) SendAnswer();
    absl::MutexLock lock(&mu_);
    if (!finished_) StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) FinishLocked(grpc::Status::OK);
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    {
      absl::MutexLock lock(&mu_);
      backstop_.Disarm();
    }
    service_->Unregister(this);
    delete this;
  }

  void Close() {
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller shutting down"));
  }

 private:
  // The report's size against the per-report limits.
  grpc::Status Check() {
    const LrsOptions& o = service_->options_;
    if (request_.ByteSizeLong() > o.max_report_bytes) {
      service_->bytes_exceeded_->Increment();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("load report of ", request_.ByteSizeLong(),
                                       " bytes; the limit is ", o.max_report_bytes));
    }
    if (static_cast<size_t>(request_.cluster_stats_size()) > o.max_clusters_per_report) {
      service_->clusters_exceeded_->Increment();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("load report with ", request_.cluster_stats_size(),
                                       " clusters; the limit is ", o.max_clusters_per_report));
    }
    size_t endpoints = 0;
    for (const auto& c : request_.cluster_stats()) {
      for (const auto& l : c.upstream_locality_stats())
        endpoints += l.upstream_endpoint_stats_size();
    }
    if (endpoints > o.max_endpoints_per_report) {
      service_->endpoints_exceeded_->Increment();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("load report with ", endpoints, " endpoints; the limit is ",
                                       o.max_endpoints_per_report));
    }
    return grpc::Status::OK;
  }

  void SendAnswer() {
    const LrsOptions& o = service_->options_;
    bool send_all = false;
    for (const std::string& f : request_.node().client_features()) {
      send_all = send_all || f == kSendAllClustersFeature;
    }
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (send_all) {
      answer_.set_send_all_clusters(true);
    } else {
      for (std::string& name : service_->cluster_names_()) {
        if (static_cast<size_t>(answer_.clusters_size()) >= o.max_clusters_per_report) break;
        answer_.add_clusters(std::move(name));
      }
    }
    answer_.mutable_load_reporting_interval()->set_seconds(
        absl::ToInt64Seconds(absl::Trunc(o.interval, absl::Seconds(1))));
    answer_.mutable_load_reporting_interval()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(o.interval - absl::Trunc(o.interval, absl::Seconds(1)))));
    answer_.set_report_endpoint_granularity(true);
    writing_ = true;
    StartWrite(&answer_);
  }

  void Reject(grpc::StatusCode code, const std::string& message) {
    service_->rejected_->Increment();
    spdlog::warn("lrs: {} ({}): {}", node_id_, peer_, message);
    FinishOnce(grpc::Status(code, message));
  }

  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
    if (writing_) backstop_.Arm(context_);
  }

  LrsService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string peer_;
  std::string node_id_;  // Set by the first message (read path only).
  lrs_v3::LoadStatsRequest request_;
  absl::Mutex mu_;
  lrs_v3::LoadStatsResponse answer_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  limits::CancelBackstop backstop_ ABSL_GUARDED_BY(mu_);
};

LrsService::LrsService(LoadAggregator* aggregator, ClusterNames cluster_names, LrsOptions options,
                       metrics::Registry* metrics, Clock* clock)
    : aggregator_(aggregator),
      cluster_names_(std::move(cluster_names)),
      options_(options),
      clock_(clock),
      slots_(options.max_streams),
      streams_gauge_(metrics->GetGauge("lb_lrs_streams", "Open Load Reporting Service streams.")),
      streams_exceeded_(limits::ExceededCounter(metrics, "lrs_max_streams")),
      clusters_exceeded_(limits::ExceededCounter(metrics, "lrs_max_clusters_per_report")),
      endpoints_exceeded_(limits::ExceededCounter(metrics, "lrs_max_endpoints_per_report")),
      bytes_exceeded_(limits::ExceededCounter(metrics, "lrs_max_report_bytes")),
      rejected_(metrics->GetCounter("lb_lrs_streams_rejected_total",
                                    "LRS streams ended for a bad or oversized report.")) {}

Reactor* LrsService::StreamLoadStats(grpc::CallbackServerContext* context) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return new limits::RefusedCall<Reactor>(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller shutting down"));
  }
  if (!slots_.TryAcquire()) {
    streams_exceeded_->Increment();
    return new limits::RefusedCall<Reactor>(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many load reporting streams: this controller serves at most ",
                     slots_.max(), "; try another controller or later")));
  }
  streams_gauge_->Add(1);
  auto* stream = new Stream(this, context);
  streams_.insert(stream);
  return stream;
}

void LrsService::Unregister(Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
  streams_gauge_->Add(-1);
  slots_.Release();
}

void LrsService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (Stream* s : streams_) s->Close();
}

}  // namespace lb::lrs
