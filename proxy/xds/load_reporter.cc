#include "proxy/xds/load_reporter.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/net/address.h"
#include "common/xds/load_metrics.h"
#include "google/protobuf/util/time_util.h"

namespace lb::proxy::xds {
namespace {

namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace lrs_v3 = envoy::service::load_stats::v3;

constexpr char kSendAllClustersFeature[] = "envoy.lrs.supports_send_all_clusters";

const char* HealthName(EndpointHealth h) {
  switch (h) {
    case EndpointHealth::kHealthy:
      return "HEALTHY";
    case EndpointHealth::kUnhealthy:
      return "UNHEALTHY";
    case EndpointHealth::kEjected:
      return "EJECTED";
    case EndpointHealth::kDraining:
      return "DRAINING";
  }
  return "HEALTHY";
}

// Counter difference; a counter that went backwards (a host object replaced) counts from 0.
uint64_t Delta(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

void AddMetric(endpoint_v3::UpstreamEndpointStats* e, std::string name, uint64_t count,
               double total) {
  endpoint_v3::EndpointLoadMetricStats* m = e->add_load_metric_stats();
  m->set_metric_name(std::move(name));
  m->set_num_requests_finished_with_metric(count);
  m->set_total_metric_value(total);
}

}  // namespace

lrs_v3::LoadStatsRequest LoadReporter::StartStream() {
  clusters_.clear();
  all_clusters_ = false;
  interval_ = absl::ZeroDuration();
  lrs_v3::LoadStatsRequest request;
  auto* node = request.mutable_node();
  node->set_id(node_.id);
  node->mutable_locality()->set_zone(node_.zone);
  node->set_user_agent_name(node_.user_agent);
  node->set_user_agent_version(node_.user_agent_version);
  node->add_client_features(kSendAllClustersFeature);
  return request;
}

void LoadReporter::OnResponse(const lrs_v3::LoadStatsResponse& response) {
  all_clusters_ = response.send_all_clusters();
  clusters_.clear();
  for (const std::string& c : response.clusters()) clusters_.insert(c);
  if (response.has_load_reporting_interval()) {
    const absl::Duration d = absl::Seconds(response.load_reporting_interval().seconds()) +
                             absl::Nanoseconds(response.load_reporting_interval().nanos());
    if (d > absl::ZeroDuration()) interval_ = d;
  }
}

lrs_v3::LoadStatsRequest LoadReporter::Report(const LoadView& view, absl::Time now) {
  lrs_v3::LoadStatsRequest request;
  const absl::Duration covered =
      last_report_ == absl::InfinitePast() ? interval_ : now - last_report_;
  last_report_ = now;
  std::map<std::pair<std::string, std::string>, Baseline> next;
  for (const ClusterLoad& cluster : view.clusters) {
    const bool wanted = all_clusters_ || clusters_.contains(cluster.name);
    endpoint_v3::ClusterStats* stats = nullptr;
    std::map<std::string, endpoint_v3::UpstreamLocalityStats*> localities;
    if (wanted) {
      stats = request.add_cluster_stats();
      stats->set_cluster_name(cluster.name);
      *stats->mutable_load_report_interval() =
          google::protobuf::util::TimeUtil::NanosecondsToDuration(
              absl::ToInt64Nanoseconds(covered));
    }
    for (const EndpointLoad& e : cluster.endpoints) {
      const std::string key = net::JoinHostPort(e.address, e.port);
      Baseline& after = next[{cluster.name, key}];
      after = {e.issued, e.completed, e.errors, e.latency_sum_us, e.latency_buckets};
      if (!wanted) continue;
      Baseline before;
      if (auto it = baseline_.find({cluster.name, key}); it != baseline_.end()) before = it->second;
      endpoint_v3::UpstreamLocalityStats*& locality = localities[e.zone];
      if (locality == nullptr) {
        locality = stats->add_upstream_locality_stats();
        locality->mutable_locality()->set_zone(e.zone);
      }
      const uint64_t completed = Delta(e.completed, before.completed);
      const uint64_t errors = std::min(Delta(e.errors, before.errors), completed);
      const uint64_t issued = Delta(e.issued, before.issued);
      endpoint_v3::UpstreamEndpointStats* out = locality->add_upstream_endpoint_stats();
      out->mutable_address()->mutable_socket_address()->set_address(e.address);
      out->mutable_address()->mutable_socket_address()->set_port_value(e.port);
      out->set_total_successful_requests(completed - errors);
      out->set_total_error_requests(errors);
      out->set_total_requests_in_progress(e.in_progress);
      out->set_total_issued_requests(issued);
      locality->set_total_successful_requests(locality->total_successful_requests() + completed -
                                              errors);
      locality->set_total_error_requests(locality->total_error_requests() + errors);
      locality->set_total_requests_in_progress(locality->total_requests_in_progress() +
                                               e.in_progress);
      locality->set_total_issued_requests(locality->total_issued_requests() + issued);
      if (completed > 0) {
        AddMetric(out, ::lb::xds::load::kLatencyMetric, completed,
                  static_cast<double>(Delta(e.latency_sum_us, before.latency_sum_us)) / 1000);
        for (size_t b = 0; b < e.latency_buckets.size(); ++b) {
          const uint64_t was = b < before.latency_buckets.size() ? before.latency_buckets[b] : 0;
          const uint64_t n = Delta(e.latency_buckets[b], was);
          if (n == 0) continue;
          const bool last = b >= view.latency_bounds_us.size();
          const double bound_ms = last ? std::numeric_limits<double>::infinity()
                                       : static_cast<double>(view.latency_bounds_us[b]) / 1000;
          const double lower_ms =
              b == 0 ? 0 : static_cast<double>(view.latency_bounds_us[b - 1]) / 1000;
          AddMetric(out, ::lb::xds::load::BucketMetricName(bound_ms), n,
                    static_cast<double>(n) * (last ? lower_ms : bound_ms));
        }
      }
      AddMetric(out, absl::StrCat(::lb::xds::load::kHealthPrefix, HealthName(e.health)), 1, 1);
    }
  }
  baseline_ = std::move(next);
  return request;
}

}  // namespace lb::proxy::xds
