#include "controller/lrs/load_aggregator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/net/address.h"
#include "common/xds/load_metrics.h"
#include "controller/limits/limit_metrics.h"

namespace lb::lrs {
namespace {

namespace endpoint_v3 = envoy::config::endpoint::v3;
using Health = lb::v1::EndpointStatus::Health;

// The health a report's load_metric_stats name, UNKNOWN if none.
Health HealthOf(const google::protobuf::RepeatedPtrField<endpoint_v3::EndpointLoadMetricStats>& m) {
  for (const endpoint_v3::EndpointLoadMetricStats& stat : m) {
    absl::string_view name = stat.metric_name();
    if (!absl::ConsumePrefix(&name, xds::load::kHealthPrefix)) continue;
    Health h;
    if (lb::v1::EndpointStatus::Health_Parse(std::string(name), &h)) return h;
  }
  return lb::v1::EndpointStatus::UNKNOWN;
}

}  // namespace

LoadAggregator::LoadAggregator(AggregatorLimits limits, metrics::Registry* metrics, Clock* clock)
    : limits_(limits),
      clock_(clock),
      series_exceeded_(limits::ExceededCounter(metrics, "lrs_max_series")),
      metric_endpoints_exceeded_(limits::ExceededCounter(metrics, "lrs_max_metric_endpoints")),
      reports_(metrics->GetCounter("lb_lrs_cluster_reports_total",
                                   "ClusterStats received over the Load Reporting Service.")) {
  metrics->AddCollector([this](metrics::SampleSink& sink) { Collect(sink); });
}

absl::Status LoadAggregator::Add(const std::string& reporter, const endpoint_v3::ClusterStats& s,
                                 absl::Time now) {
  if (s.cluster_name().empty()) {
    return absl::InvalidArgumentError("cluster_stats.cluster_name: must not be empty");
  }
  for (const endpoint_v3::UpstreamLocalityStats& l : s.upstream_locality_stats()) {
    for (const endpoint_v3::UpstreamEndpointStats& e : l.upstream_endpoint_stats()) {
      if (!e.address().has_socket_address()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cluster_stats[", s.cluster_name(),
                         "].upstream_endpoint_stats.address: a socket_address is required"));
      }
    }
  }
  reports_->Increment();
  absl::MutexLock lock(&mu_);
  if (now - last_prune_ >= absl::Seconds(1)) PruneLocked(now);
  ReporterCluster& rc = reporters_[reporter][s.cluster_name()];
  double seconds = static_cast<double>(s.load_report_interval().seconds()) +
                   s.load_report_interval().nanos() / 1e9;
  if (seconds <= 0) {
    seconds =
        rc.last_report == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(now - rc.last_report);
  }
  seconds = std::max(seconds, 0.001);
  rc.last_report = now;

  Totals& cluster_total = cluster_totals_[s.cluster_name()];
  for (const endpoint_v3::UpstreamLocalityStats& l : s.upstream_locality_stats()) {
    cluster_total.completed += l.total_successful_requests() + l.total_error_requests();
    cluster_total.errors += l.total_error_requests();
    cluster_total.issued += l.total_issued_requests();
    for (const endpoint_v3::UpstreamEndpointStats& e : l.upstream_endpoint_stats()) {
      const std::string key = net::JoinHostPort(e.address().socket_address().address(),
                                                e.address().socket_address().port_value());
      auto it = rc.endpoints.find(key);
      if (it == rc.endpoints.end()) {
        if (series_ >= limits_.max_series) {
          series_exceeded_->Increment();
          continue;
        }
        it = rc.endpoints.emplace(key, Series()).first;
        ++series_;
      }
      Sample sample;
      sample.at = now;
      sample.seconds = seconds;
      sample.completed = e.total_successful_requests() + e.total_error_requests();
      sample.errors = e.total_error_requests();
      sample.in_progress =
          static_cast<uint32_t>(std::min<uint64_t>(e.total_requests_in_progress(), UINT32_MAX));
      sample.health = HealthOf(e.load_metric_stats());
      for (const endpoint_v3::EndpointLoadMetricStats& m : e.load_metric_stats()) {
        if (std::optional<double> bound = xds::load::ParseBucketMetricName(m.metric_name())) {
          sample.buckets[*bound] += m.num_requests_finished_with_metric();
        }
      }
      // A burst of reports must not grow a series past what the window can hold at one
      // report a millisecond; in practice the window holds a handful.
      if (it->second.size() >= 1024) it->second.pop_front();
      it->second.push_back(std::move(sample));
      auto total = endpoint_totals_.find({s.cluster_name(), key});
      if (total == endpoint_totals_.end() && endpoint_totals_.size() < limits_.max_series) {
        total = endpoint_totals_.emplace(std::make_pair(s.cluster_name(), key), Totals()).first;
      }
      if (total != endpoint_totals_.end()) {
        total->second.completed += e.total_successful_requests() + e.total_error_requests();
        total->second.errors += e.total_error_requests();
        total->second.issued += e.total_issued_requests();
      }
    }
  }
  return absl::OkStatus();
}

void LoadAggregator::PruneLocked(absl::Time now) {
  last_prune_ = now;
  const absl::Time oldest = now - limits_.window;
  for (auto r = reporters_.begin(); r != reporters_.end();) {
    for (auto c = r->second.begin(); c != r->second.end();) {
      for (auto e = c->second.endpoints.begin(); e != c->second.endpoints.end();) {
        Series& series = e->second;
        while (!series.empty() && series.front().at < oldest) series.pop_front();
        if (series.empty()) {
          e = c->second.endpoints.erase(e);
          --series_;
        } else {
          ++e;
        }
      }
      if (c->second.endpoints.empty() && c->second.last_report < oldest) {
        c = r->second.erase(c);
      } else {
        ++c;
      }
    }
    r = r->second.empty() ? reporters_.erase(r) : std::next(r);
  }
}

void LoadAggregator::Prune(absl::Time now) {
  absl::MutexLock lock(&mu_);
  PruneLocked(now);
}

size_t LoadAggregator::reporters() {
  absl::MutexLock lock(&mu_);
  return reporters_.size();
}

lb::v1::EndpointStatus LoadAggregator::StatusLocked(const std::string& cluster,
                                                    const std::vector<std::string>& keys,
                                                    absl::Time now) {
  lb::v1::EndpointStatus status;
  const absl::Time oldest = now - limits_.window;
  std::map<double, uint64_t> buckets;
  uint64_t completed = 0;
  uint64_t errors = 0;
  for (const auto& [reporter, clusters] : reporters_) {
    auto c = clusters.find(cluster);
    if (c == clusters.end()) continue;
    bool seen = false;
    Health health = lb::v1::EndpointStatus::UNKNOWN;
    absl::Time health_at = absl::InfinitePast();
    for (const std::string& key : keys) {
      auto e = c->second.endpoints.find(key);
      if (e == c->second.endpoints.end()) continue;
      uint64_t done = 0;
      double seconds = 0;
      for (const Sample& s : e->second) {
        if (s.at < oldest) continue;
        seen = true;
        done += s.completed;
        errors += s.errors;
        seconds += s.seconds;
        for (const auto& [bound, count] : s.buckets) buckets[bound] += count;
      }
      if (seconds > 0) status.set_rps(status.rps() + static_cast<double>(done) / seconds);
      completed += done;
      const Sample& last = e->second.back();
      if (last.at >= oldest) {
        status.set_in_flight(status.in_flight() + last.in_progress);
        // A hostname endpoint: the address reported last decides.
        if (last.at >= health_at) {
          health = last.health;
          health_at = last.at;
        }
      }
    }
    if (!seen) continue;
    lb::v1::EndpointStatus::ProxyHealth* p = status.add_per_proxy();
    p->set_node_id(reporter);
    p->set_health(health);
    if (health != lb::v1::EndpointStatus::UNKNOWN) {
      status.set_proxies_total(status.proxies_total() + 1);
      if (health == lb::v1::EndpointStatus::HEALTHY) {
        status.set_proxies_healthy(status.proxies_healthy() + 1);
      }
    }
  }
  if (completed > 0) {
    status.set_error_rate(static_cast<double>(errors) / static_cast<double>(completed));
  }
  status.set_p99_ms(xds::load::HistogramQuantile(buckets, 0.99));
  return status;
}

lb::v1::EndpointStatus LoadAggregator::Status(const std::string& cluster,
                                              const std::string& address, uint32_t port,
                                              const std::vector<std::string>& resolved,
                                              absl::Time now) {
  std::vector<std::string> keys;
  if (resolved.empty()) {
    keys.push_back(net::JoinHostPort(address, port));
  } else {
    for (const std::string& a : resolved) keys.push_back(net::JoinHostPort(a, port));
  }
  absl::MutexLock lock(&mu_);
  return StatusLocked(cluster, keys, now);
}

void LoadAggregator::FillStatus(const std::string& cluster,
                                google::protobuf::RepeatedPtrField<lb::v1::Endpoint>* endpoints,
                                absl::Time now) {
  for (lb::v1::Endpoint& e : *endpoints) {
    *e.mutable_status() =
        Status(cluster, e.address(), e.port(),
               {e.resolved_addresses().begin(), e.resolved_addresses().end()}, now);
  }
}

LoadAggregator::Totals LoadAggregator::ClusterTotals(const std::string& cluster) {
  absl::MutexLock lock(&mu_);
  auto it = cluster_totals_.find(cluster);
  return it == cluster_totals_.end() ? Totals() : it->second;
}

LoadAggregator::Totals LoadAggregator::EndpointTotals(const std::string& cluster,
                                                      const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  auto it = endpoint_totals_.find({cluster, endpoint});
  return it == endpoint_totals_.end() ? Totals() : it->second;
}

void LoadAggregator::Collect(metrics::SampleSink& sink) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  sink.Gauge("lb_lrs_reporters", "Reporters with load reports inside --lrs_window.", {},
             static_cast<double>(reporters_.size()));
  sink.Gauge("lb_lrs_series", "(reporter, cluster, endpoint) series kept (--lrs_max_series).", {},
             static_cast<double>(series_));
  for (const auto& [cluster, t] : cluster_totals_) {
    sink.Counter("lb_lrs_cluster_requests_total",
                 "Requests completed, over every reporter (locality totals).",
                 {{"cluster", cluster}}, t.completed);
    sink.Counter("lb_lrs_cluster_errors_total",
                 "Requests that ended in an error, over every "
                 "reporter.",
                 {{"cluster", cluster}}, t.errors);
  }
  size_t exported = 0;
  for (const auto& [key, t] : endpoint_totals_) {
    if (exported++ >= limits_.max_metric_endpoints) {
      metric_endpoints_exceeded_->Increment();
      break;
    }
    const metrics::Labels labels = {{"cluster", key.first}, {"endpoint", key.second}};
    sink.Counter("lb_lrs_endpoint_requests_total",
                 "Requests completed on an endpoint, over every reporter.", labels, t.completed);
    sink.Counter("lb_lrs_endpoint_errors_total",
                 "Requests on an endpoint that ended in an error, over every reporter.", labels,
                 t.errors);
    const lb::v1::EndpointStatus s = StatusLocked(key.first, {key.second}, now);
    sink.Gauge("lb_lrs_endpoint_rps", "Requests completed per second over --lrs_window.", labels,
               s.rps());
    sink.Gauge("lb_lrs_endpoint_error_ratio", "Errors / requests completed over --lrs_window.",
               labels, s.error_rate());
    sink.Gauge("lb_lrs_endpoint_p99_seconds", "99th percentile latency over --lrs_window.", labels,
               s.p99_ms() / 1000);
    sink.Gauge("lb_lrs_endpoint_in_flight", "Requests in progress, over every reporter.", labels,
               s.in_flight());
    sink.Gauge("lb_lrs_endpoint_proxies", "Reporters that see the endpoint's health.", labels,
               s.proxies_total());
    sink.Gauge("lb_lrs_endpoint_proxies_healthy", "Reporters that see the endpoint HEALTHY.",
               labels, s.proxies_healthy());
  }
}

}  // namespace lb::lrs
