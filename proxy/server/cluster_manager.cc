#include "proxy/server/cluster_manager.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/logging/event_log.h"
#include "proxy/balancer/balancer.h"
#include "proxy/event/socket.h"
#include "proxy/tls/tls_socket.h"
#include "proxy/upstream/cluster_snapshot.h"

namespace lb::proxy {
namespace {

bool SameUpstreamTls(const UpstreamTlsConfig& a, const UpstreamTlsConfig& b) {
  auto cert = [](const UpstreamTlsConfig& c) {
    return c.client_certificate.has_value()
               ? c.client_certificate->certificate_chain + c.client_certificate->private_key
               : std::string();
  };
  return a.sni == b.sni && a.verify == b.verify && a.trusted_ca == b.trusted_ca &&
         a.alpn == b.alpn && cert(a) == cert(b);
}

// A TLS cluster whose context could not be built: its connections fail at once rather than
// going out in plaintext.
class UnusableTransport final : public network::TransportSocketFactory {
 public:
  std::unique_ptr<network::TransportSocket> Create() const override {
    return std::make_unique<tls::TlsSocket>(nullptr, nullptr, /*server=*/false);
  }
  bool secure() const override { return true; }
};

}  // namespace

ClusterManager::ClusterManager(event::Dispatcher& main, WorkerSet& workers, Published on_published)
    : main_(main), workers_(workers), on_published_(std::move(on_published)) {}

ClusterManager::~ClusterManager() = default;

void ClusterManager::Start() {
  LB_DCHECK(main_.IsThreadSafe());
  checker_ = std::make_unique<health::ActiveChecker>(
      main_, [this](const std::string& cluster, const std::string& endpoint, bool healthy) {
        logging::LogEvent("endpoint_health", {{"cluster", cluster},
                                              {"endpoint", endpoint},
                                              {"healthy", healthy},
                                              {"source", "active_check"}});
        ScheduleRebuild();
      });
  // TLS clusters are checked over TLS, with the context their traffic uses.
  checker_->SetTransports(
      [this](const std::string& cluster) -> std::shared_ptr<const network::TransportSocketFactory> {
        auto it = client_tls_.find(cluster);
        return it == client_tls_.end() ? nullptr : it->second.context;
      });
  tick_ = main_.CreateTimer([this] { OnTick(); });
  tick_->Arm(absl::Seconds(1));
}

void ClusterManager::SetConfig(std::shared_ptr<const ProxyConfig> config) {
  LB_DCHECK(main_.IsThreadSafe());
  LogEndpointChanges(config_.get(), *config);
  config_ = std::move(config);
  checker_->Update(*config_);
  for (auto it = detectors_.begin(); it != detectors_.end();) {
    it = config_->clusters.count(it->first) ? std::next(it) : detectors_.erase(it);
  }
  for (const auto& [name, c] : config_->clusters) {
    std::vector<std::string> keys;
    for (const auto& e : c.endpoints) keys.push_back(e.Key());
    auto it = detectors_.find(name);
    if (it == detectors_.end()) {
      detectors_.emplace(name, std::make_unique<health::OutlierDetector>(c.outlier, keys));
    } else {
      it->second->SetConfig(c.outlier);
      it->second->Update(keys);
    }
  }
  Rebuild();
}

void ClusterManager::LogEndpointChanges(const ProxyConfig* before, const ProxyConfig& after) {
  // endpoint key -> draining, per cluster.
  auto index = [](const ProxyConfig* config) {
    std::map<std::pair<std::string, std::string>, bool> out;
    if (config == nullptr) return out;
    for (const auto& [name, c] : config->clusters) {
      for (const EndpointConfig& e : c.endpoints) out[{name, e.Key()}] = e.draining;
    }
    return out;
  };
  const auto old_endpoints = index(before);
  const auto new_endpoints = index(&after);
  for (const auto& [id, draining] : new_endpoints) {
    auto it = old_endpoints.find(id);
    const char* event = nullptr;
    if (it == old_endpoints.end()) {
      event = draining ? "endpoint_added_draining" : "endpoint_added";
    } else if (it->second != draining) {
      event = draining ? "endpoint_draining" : "endpoint_undrained";
    }
    if (event != nullptr) {
      logging::LogEvent(event, {{"cluster", id.first}, {"endpoint", id.second}});
    }
  }
  for (const auto& [id, draining] : old_endpoints) {
    if (new_endpoints.count(id) == 0) {
      logging::LogEvent("endpoint_removed", {{"cluster", id.first}, {"endpoint", id.second}});
    }
  }
}

void ClusterManager::ScheduleRebuild() {
  if (rebuild_pending_) return;
  rebuild_pending_ = true;
  main_.Post([this] {
    rebuild_pending_ = false;
    Rebuild();
  });
}

void ClusterManager::OnResult(const std::shared_ptr<upstream::HostState>& host,
                              router::UpstreamResult result) {
  LB_DCHECK(main_.IsThreadSafe());
  auto it = detectors_.find(host->cluster);
  if (it == detectors_.end()) return;
  // Workers count streaks in the host's atomics; a streak of one means the host succeeded
  // in between, which the detector must hear to reset its own counters.
  uint32_t streak = host->consecutive_5xx.load(std::memory_order_relaxed) +
                    host->consecutive_gateway_failures.load(std::memory_order_relaxed);
  absl::Time now = main_.Now();
  if (streak <= 1) {
    it->second->Report(host->key, health::OutlierDetector::Result::kSuccess, now);
  }
  const bool is_5xx = result == router::UpstreamResult::k5xx;
  bool ejected = it->second->Report(host->key,
                                    is_5xx ? health::OutlierDetector::Result::k5xx
                                           : health::OutlierDetector::Result::kGatewayFailure,
                                    now);
  if (ejected) {
    nlohmann::json fields = {{"cluster", host->cluster}, {"endpoint", host->key}};
    if (const health::OutlierDetector::HostInfo* info = it->second->Info(host->key)) {
      // The streak that tripped, which a gateway failure may also have ended as a 5xx.
      fields["reason"] =
          info->last_trigger == health::OutlierDetector::Trigger::kConsecutiveGatewayFailure
              ? "consecutive_gateway_failures"
              : "consecutive_5xx";
      fields["until"] = absl::FormatTime(info->ejected_until, absl::UTCTimeZone());
    }
    logging::LogEvent("endpoint_ejected", fields);
    ScheduleRebuild();
  }
}

void ClusterManager::OnTick() {
  absl::Time now = main_.Now();
  bool changed = false;
  for (auto& [name, d] : detectors_) {
    for (const std::string& endpoint : d->Tick(now)) {
      logging::LogEvent("endpoint_returned", {{"cluster", name}, {"endpoint", endpoint}});
      changed = true;
    }
  }
  // Slow start: new weights each second while a host ramps up.
  if (changed || slow_start_.ramping()) ScheduleRebuild();
  tick_->Arm(absl::Seconds(1));
}

void ClusterManager::Rebuild() {
  if (config_ == nullptr) return;
  auto snap = std::make_shared<router::Snapshot>();
  snap->generation = ++generation_;
  snap->virtual_hosts = config_->virtual_hosts;
  if (config_->tls_listener != tls_listener_config_) {
    tls_listener_config_ = config_->tls_listener;
    if (tls_listener_config_ == nullptr) {
      tls_server_ = nullptr;
    } else {
      absl::StatusOr<std::shared_ptr<const tls::ServerContext>> server =
          tls::ServerContext::Create(*tls_listener_config_);
      if (server.ok()) {
        tls_server_ = std::move(*server);
        logging::LogEvent("tls_listener_updated",
                          {{"certificates", tls_listener_config_->chains.size()},
                           {"default", tls_listener_config_->default_certificate.has_value()},
                           {"ticket_keys", tls_listener_config_->ticket_keys.size()}});
      } else {
        // The builder validated every certificate, so this is rare (out of memory): the
        // previous certificates stay in use.
        logging::LogEvent("tls_listener_rejected", {{"error", server.status().ToString()}});
      }
    }
  }
  snap->tls_server = tls_server_;
  slow_start_.Begin(main_.MonotonicNow());
  std::map<std::pair<std::string, std::string>, std::shared_ptr<upstream::HostState>> live;
  for (const auto& [name, c] : config_->clusters) {
    auto cs = std::make_shared<upstream::ClusterSnapshot>();
    cs->config = c;
    std::shared_ptr<upstream::ClusterStats>& stats = cluster_stats_[name];
    if (stats == nullptr) {
      stats = std::make_shared<upstream::ClusterStats>(static_cast<int>(workers_.size()));
    }
    cs->stats = stats;
    if (c.tls != nullptr) {
      ClientTls& tls = client_tls_[name];
      if (tls.context == nullptr || !SameUpstreamTls(*tls.config, *c.tls)) {
        absl::StatusOr<std::shared_ptr<const tls::ClientContext>> context =
            tls::ClientContext::Create(*c.tls);
        if (context.ok()) {
          tls.config = c.tls;
          tls.context = std::move(*context);
        } else {
          logging::LogEvent("upstream_tls_rejected",
                            {{"cluster", name}, {"error", context.status().ToString()}});
        }
      }
      cs->transport = tls.context;
      // Without a context (rare: see above) the cluster must not fall back to plaintext.
      if (cs->transport == nullptr) cs->transport = std::make_shared<UnusableTransport>();
    } else {
      client_tls_.erase(name);
    }
    upstream::ClusterResources& limits = stats->resources();
    limits.connections.set_max(c.circuit_breakers.max_connections);
    limits.pending_requests.set_max(c.circuit_breakers.max_pending_requests);
    limits.requests.set_max(c.circuit_breakers.max_requests);
    limits.retries.set_max(c.circuit_breakers.max_retries);
    std::vector<health::HostHealth> health;
    std::vector<std::string> keys;
    auto detector_it = detectors_.find(name);
    const health::OutlierDetector* detector =
        detector_it == detectors_.end() ? nullptr : detector_it->second.get();
    for (const auto& e : c.endpoints) {
      std::string key = e.Key();
      auto id = std::make_pair(name, key);
      std::shared_ptr<upstream::HostState>& host = hosts_[id];
      if (host == nullptr) {
        absl::StatusOr<event::SocketAddress> addr = event::MakeAddress(e.address, e.port);
        if (!addr.ok()) {
          hosts_.erase(id);
          continue;
        }
        host = std::make_shared<upstream::HostState>(static_cast<int>(workers_.size()));
        host->cluster = name;
        host->key = key;
        host->address = *addr;
        host->hostname = e.hostname;
      }
      live[id] = host;
      cs->hosts.push_back(host);
      keys.push_back(key);
      health::HostHealth h;
      h.draining = e.draining;
      h.active_healthy = checker_->Healthy(name, key);
      h.ejected = detector != nullptr && detector->IsEjected(key);
      h.weight = e.weight;
      health.push_back(h);
      cs->views.push_back({h.draining, h.active_healthy, h.ejected, false});
    }
    health::Eligibility elig = health::EligibleHosts(health, c.healthy_panic_threshold);
    std::vector<balancer::Candidate> candidates;
    for (size_t i : elig.hosts) {
      candidates.push_back({static_cast<uint32_t>(i), health[i].weight});
      cs->views[i].eligible = true;
    }
    if (c.slow_start_window > absl::ZeroDuration()) {
      const balancer::SlowStart slow{c.slow_start_window, c.slow_start_aggression,
                                     c.slow_start_min_weight};
      std::vector<uint32_t> weights(keys.size(), 0);
      for (size_t i = 0; i < keys.size(); ++i) {
        weights[i] = slow_start_.Report(absl::StrCat(name, "|", keys[i]), cs->views[i].eligible,
                                        health[i].weight, slow);
      }
      for (balancer::Candidate& cand : candidates) cand.weight = weights[cand.host];
    }
    cs->panic = elig.panic;
    cs->eligible = candidates.size();
    balancer::PickerOptions options;
    options.min_ring_size = c.min_ring_size;
    options.max_ring_size = c.max_ring_size;
    options.maglev_table_size = c.maglev_table_size;
    cs->picker = balancer::Picker::Create(c.policy, std::move(candidates), keys, options);
    snap->clusters.emplace(name, std::move(cs));
  }
  for (auto it = cluster_stats_.begin(); it != cluster_stats_.end();) {
    it = config_->clusters.count(it->first) ? std::next(it) : cluster_stats_.erase(it);
  }
  for (auto it = client_tls_.begin(); it != client_tls_.end();) {
    it = config_->clusters.count(it->first) ? std::next(it) : client_tls_.erase(it);
  }
  // Endpoints that left: in-flight requests finish; pooled connections are dropped.
  for (auto& [id, host] : hosts_) {
    if (live.count(id) == 0) host->removed.store(true, std::memory_order_relaxed);
  }
  hosts_ = std::move(live);
  std::shared_ptr<const router::Snapshot> published = snap;
  workers_.RunOnAllWorkers([snap](Worker& w) { w.InstallSnapshot(snap); },
                           [this, published] { on_published_(published); }, &main_);
}

}  // namespace lb::proxy
