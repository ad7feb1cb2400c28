#include "proxy/server/proxy_server.h"

#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/http/evhttp_server.h"
#include "common/net/address.h"
#include "proxy/balancer/balancer.h"
#include "proxy/event/dispatcher.h"
#include "proxy/event/socket.h"
#include "proxy/health/active_checker.h"
#include "proxy/health/health_state.h"
#include "proxy/router/snapshot.h"
#include "proxy/upstream/cluster_snapshot.h"
#include "proxy/upstream/host.h"

namespace lb::proxy {
namespace {

using router::Snapshot;
using router::UpstreamResult;
using upstream::ClusterSnapshot;
using upstream::HostState;
using upstream::HostView;

const char* PolicyName(LbPolicy p) {
  switch (p) {
    case LbPolicy::kRandom:
      return "RANDOM";
    case LbPolicy::kRoundRobin:
      return "ROUND_ROBIN";
    case LbPolicy::kLeastRequest:
      return "LEAST_REQUEST";
    case LbPolicy::kRingHash:
      return "RING_HASH";
    case LbPolicy::kMaglev:
      return "MAGLEV";
  }
  return "?";
}

class ProxyServerImpl : public ProxyServer {
 public:
  ~ProxyServerImpl() override { Shutdown(); }

  absl::Status Init(const ProxyOptions& o) {
    options_ = o;
    absl::StatusOr<std::unique_ptr<event::Dispatcher>> main = event::Dispatcher::Create();
    if (!main.ok()) return main.status();
    main_ = std::move(*main);

    int n = o.workers > 0 ? o.workers : static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) n = 1;
    uint16_t port = o.listen_port;
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<int> fd = event::Listen(o.listen_host, port, /*reuse_port=*/true);
      if (!fd.ok()) {
        for (int f : fds) close(f);
        return fd.status();
      }
      if (port == 0) port = event::LocalPort(*fd);
      fds.push_back(*fd);
    }
    port_ = port;
    WorkerOptions wo = o.worker;
    for (int i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<Worker>(
          i, fds[i], wo, [this](const std::shared_ptr<HostState>& host, UpstreamResult r) {
            main_->Post([this, host, r] { OnResult(host, r); });
          }));
    }
    if (o.balance_connections && n > 1) {
      balancer_ = std::make_unique<ConnectionBalancer>(n);
      for (auto& w : workers_) {
        w->SetBalancing(balancer_.get(),
                        [this](int worker, int fd, const event::SocketAddress& peer) {
                          workers_[worker]->Adopt(fd, peer);
                        });
      }
    }

    // The main thread: health checks, outlier bookkeeping, snapshot building.
    main_thread_ = std::thread([this] {
      checker_ = std::make_unique<health::ActiveChecker>(
          *main_, [this](const std::string&, const std::string&, bool) { ScheduleRebuild(); });
      tick_ = main_->CreateTimer([this] { OnTick(); });
      tick_->Arm(absl::Seconds(1));
      main_->Run();
      tick_.reset();
      checker_.reset();
    });
    for (auto& w : workers_) w->Start();

    absl::StatusOr<std::unique_ptr<http::EvhttpServer>> admin = http::EvhttpServer::Start(
        o.admin_listen, [this](const http::HttpRequest& req) { return Admin(req); }, 64 * 1024);
    if (!admin.ok()) return admin.status();
    admin_ = std::move(*admin);
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }
  int admin_port() const override { return admin_->port(); }

  void SetConfig(std::shared_ptr<const ProxyConfig> config) override {
    main_->Post([this, config = std::move(config)]() mutable {
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
    });
  }

  void SetSourceStatus(std::function<std::string()> status) override {
    absl::MutexLock lock(&mu_);
    source_status_ = std::move(status);
  }

  bool Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return true;
      shut_down_ = true;
      draining_ = true;
    }
    // Stop accepting and wait for in-flight requests, bounded by the drain timeout.
    absl::Mutex done_mu;
    size_t done = 0;
    for (auto& w : workers_) {
      w->Drain([&done_mu, &done] {
        absl::MutexLock lock(&done_mu);
        ++done;
      });
    }
    bool all = false;
    {
      absl::MutexLock lock(&done_mu);
      auto finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(done_mu) {
        return done == workers_.size();
      };
      all = done_mu.AwaitWithTimeout(absl::Condition(&finished), options_.drain_timeout);
    }
    for (auto& w : workers_) w->Stop();
    admin_.reset();
    main_->Exit();
    if (main_thread_.joinable()) main_thread_.join();
    return all;
  }

 private:
  // Main thread.
  void ScheduleRebuild() {
    if (rebuild_pending_) return;
    rebuild_pending_ = true;
    main_->Post([this] {
      rebuild_pending_ = false;
      Rebuild();
    });
  }

  void OnResult(const std::shared_ptr<HostState>& host, UpstreamResult r) {
    auto it = detectors_.find(host->cluster);
    if (it == detectors_.end()) return;
    // Workers count streaks in the host's atomics; a streak of one means the host succeeded
    // in between, which the detector must hear to reset its own counters.
    uint32_t streak = host->consecutive_5xx.load(std::memory_order_relaxed) +
                      host->consecutive_gateway_failures.load(std::memory_order_relaxed);
    absl::Time now = absl::Now();
    if (streak <= 1) {
      it->second->Report(host->key, health::OutlierDetector::Result::kSuccess, now);
    }
    bool ejected = it->second->Report(host->key,
                                      r == UpstreamResult::k5xx
                                          ? health::OutlierDetector::Result::k5xx
                                          : health::OutlierDetector::Result::kGatewayFailure,
                                      now);
    if (ejected) ScheduleRebuild();
  }

  void OnTick() {
    absl::Time now = absl::Now();
    bool changed = false;
    for (auto& [name, d] : detectors_) changed |= !d->Tick(now).empty();
    if (changed) ScheduleRebuild();
    tick_->Arm(absl::Seconds(1));
  }

  void Rebuild() {
    if (config_ == nullptr) return;
    auto snap = std::make_shared<Snapshot>();
    snap->generation = ++generation_;
    snap->virtual_hosts = config_->virtual_hosts;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<HostState>> live;
    for (const auto& [name, c] : config_->clusters) {
      auto cs = std::make_shared<ClusterSnapshot>();
      cs->config = c;
      std::vector<health::HostHealth> health;
      std::vector<std::string> keys;
      const health::OutlierDetector* detector =
          detectors_.count(name) ? detectors_[name].get() : nullptr;
      for (const auto& e : c.endpoints) {
        std::string key = e.Key();
        auto id = std::make_pair(name, key);
        std::shared_ptr<HostState>& host = hosts_[id];
        if (host == nullptr) {
          absl::StatusOr<event::SocketAddress> addr = event::MakeAddress(e.address, e.port);
          if (!addr.ok()) {
            hosts_.erase(id);
            continue;
          }
          host = std::make_shared<HostState>(static_cast<int>(workers_.size()));
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
      cs->panic = elig.panic;
      cs->eligible = candidates.size();
      balancer::PickerOptions options;
      options.min_ring_size = c.min_ring_size;
      options.max_ring_size = c.max_ring_size;
      options.maglev_table_size = c.maglev_table_size;
      cs->picker = balancer::Picker::Create(c.policy, std::move(candidates), keys, options);
      snap->clusters.emplace(name, std::move(cs));
    }
    // Endpoints that left: in-flight requests finish; pooled connections are dropped.
    for (auto& [id, host] : hosts_) {
      if (live.count(id) == 0) host->removed.store(true, std::memory_order_relaxed);
    }
    hosts_ = std::move(live);
    // The admin API shows a snapshot once every worker serves with it, so what /config_dump
    // and /ready report is what requests get.
    auto pending = std::make_shared<std::atomic<size_t>>(workers_.size());
    std::shared_ptr<const Snapshot> published = snap;
    for (auto& w : workers_) {
      w->SetSnapshot(snap, [this, pending, published] {
        if (pending->fetch_sub(1) != 1) return;
        absl::MutexLock lock(&mu_);
        if (published_ == nullptr || published_->generation < published->generation) {
          published_ = published;
        }
      });
    }
  }

  // Admin thread.
  http::HttpResponse Admin(const http::HttpRequest& req) {
    absl::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    std::shared_ptr<const Snapshot> snap;
    bool draining;
    std::function<std::string()> source;
    {
      absl::MutexLock lock(&mu_);
      snap = published_;
      draining = draining_;
      source = source_status_;
    }
    http::HttpResponse r;
    if (path == "/ready") {
      std::string missing;
      if (snap != nullptr) {
        // Ready only when every routed cluster is warm (has its endpoints).
        for (const auto& vh : snap->virtual_hosts) {
          for (const auto& route : vh.routes) {
            if (snap->FindCluster(route.cluster) == nullptr) missing = route.cluster;
          }
        }
      }
      if (snap == nullptr || draining || !missing.empty()) {
        r.status = 503;
        r.body = draining          ? "draining\n"
                 : snap == nullptr ? "no configuration received yet\n"
                                   : absl::StrCat("cluster \"", missing, "\" is not ready\n");
      } else {
        r.body = "ready\n";
      }
      return r;
    }
    if (path == "/stats") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = Stats(snap);
      return r;
    }
    if (path == "/config_dump") {
      r.content_type = "application/json";
      r.body = ConfigDump(snap, source);
      return r;
    }
    r.status = 404;
    r.body = "admin endpoints: /ready /stats /config_dump\n";
    return r;
  }

  std::string Stats(const std::shared_ptr<const Snapshot>& snap) {
    std::string out;
    auto counter = [&out](const char* name, const char* help, const char* type, uint64_t v) {
      absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name,
                      " ", v, "\n");
    };
    auto sum = [this](auto get) {
      uint64_t total = 0;
      for (const auto& w : workers_) total += get(w->stats()).load(std::memory_order_relaxed);
      return total;
    };
#define SUM(field) sum([](const WorkerStats& s) -> const std::atomic<uint64_t>& { return s.field; })
    counter("lb_proxy_connections_accepted_total", "Client connections accepted.", "counter",
            SUM(connections_accepted));
    counter("lb_proxy_connections_active", "Open client connections.", "gauge",
            SUM(connections_active));
    counter("lb_proxy_connections_handed_off_total",
            "Client connections accepted by one worker and served by a less loaded one.", "counter",
            SUM(connections_handed_off));
    absl::StrAppend(&out,
                    "# HELP lb_proxy_worker_connections_active Open client connections per "
                    "worker.\n# TYPE lb_proxy_worker_connections_active gauge\n");
    for (const auto& w : workers_) {
      absl::StrAppend(&out, "lb_proxy_worker_connections_active{worker=\"", w->index(), "\"} ",
                      w->stats().connections_active.load(std::memory_order_relaxed), "\n");
    }
    counter("lb_proxy_requests_total", "Requests received.", "counter", SUM(http.requests));
    counter("lb_proxy_requests_active", "Requests in flight.", "gauge", SUM(http.requests_active));
    absl::StrAppend(&out,
                    "# HELP lb_proxy_responses_total Responses sent, by status class.\n"
                    "# TYPE lb_proxy_responses_total counter\n");
    absl::StrAppend(&out, "lb_proxy_responses_total{class=\"2xx\"} ", SUM(http.responses_2xx),
                    "\n");
    absl::StrAppend(&out, "lb_proxy_responses_total{class=\"3xx\"} ", SUM(http.responses_3xx),
                    "\n");
    absl::StrAppend(&out, "lb_proxy_responses_total{class=\"4xx\"} ", SUM(http.responses_4xx),
                    "\n");
    absl::StrAppend(&out, "lb_proxy_responses_total{class=\"5xx\"} ", SUM(http.responses_5xx),
                    "\n");
    counter("lb_proxy_local_replies_total", "Answers made by the proxy itself.", "counter",
            SUM(http.local_replies));
    counter("lb_proxy_retries_total", "Attempts retried on another endpoint.", "counter",
            SUM(router.retries));
    counter("lb_proxy_upstream_connects_total", "New upstream connections.", "counter",
            SUM(pool.connects));
    counter("lb_proxy_upstream_reuses_total", "Requests sent on pooled connections.", "counter",
            SUM(pool.reuses));
    counter("lb_proxy_upstream_connect_failures_total", "Failed upstream connects.", "counter",
            SUM(pool.connect_failures));
    counter("lb_proxy_upstream_timeouts_total", "Upstream response timeouts.", "counter",
            SUM(router.upstream_timeouts));
    counter("lb_proxy_config_generation", "Snapshots published.", "gauge",
            snap == nullptr ? 0 : snap->generation);
    if (snap != nullptr) {
      absl::StrAppend(&out,
                      "# HELP lb_proxy_upstream_requests_total Attempts per endpoint.\n"
                      "# TYPE lb_proxy_upstream_requests_total counter\n");
      std::string healthy =
          "# HELP lb_proxy_upstream_eligible Endpoint takes new requests (1) or not (0).\n"
          "# TYPE lb_proxy_upstream_eligible gauge\n";
      std::string failures =
          "# HELP lb_proxy_upstream_failures_total Failed attempts per endpoint.\n"
          "# TYPE lb_proxy_upstream_failures_total counter\n";
      for (const auto& [name, cs] : snap->clusters) {
        for (size_t i = 0; i < cs->hosts.size(); ++i) {
          std::string labels =
              absl::StrCat("{cluster=\"", name, "\",endpoint=\"", cs->hosts[i]->key, "\"}");
          absl::StrAppend(&out, "lb_proxy_upstream_requests_total", labels, " ",
                          cs->hosts[i]->requests(), "\n");
          absl::StrAppend(&failures, "lb_proxy_upstream_failures_total", labels, " ",
                          cs->hosts[i]->failures(), "\n");
          absl::StrAppend(&healthy, "lb_proxy_upstream_eligible", labels, " ",
                          cs->views[i].eligible ? 1 : 0, "\n");
        }
      }
      out += failures + healthy;
    }
    return out;
  }

  std::string ConfigDump(const std::shared_ptr<const Snapshot>& snap,
                         const std::function<std::string()>& source) {
    nlohmann::json j = nlohmann::json::object();
    j["generation"] = snap == nullptr ? 0 : snap->generation;
    if (source) {
      nlohmann::json s = nlohmann::json::parse(source(), nullptr, false);
      if (!s.is_discarded()) j["source"] = s;
    }
    nlohmann::json routes = nlohmann::json::array();
    nlohmann::json clusters = nlohmann::json::array();
    if (snap != nullptr) {
      for (const auto& vh : snap->virtual_hosts) {
        nlohmann::json v = {{"domain", vh.domain}, {"routes", nlohmann::json::array()}};
        for (const auto& r : vh.routes) {
          v["routes"].push_back({{"name", r.name},
                                 {"prefix", r.prefix},
                                 {"cluster", r.cluster},
                                 {"retries", r.retries}});
        }
        routes.push_back(v);
      }
      for (const auto& [name, cs] : snap->clusters) {
        nlohmann::json c = {{"name", name},
                            {"policy", PolicyName(cs->config.policy)},
                            {"version", cs->config.version},
                            {"endpoints_version", cs->config.endpoints_version},
                            {"panic", cs->panic},
                            {"eligible", cs->eligible},
                            {"table_size", cs->picker == nullptr ? 0 : cs->picker->table_size()},
                            {"health_check_path", cs->config.health_check.path},
                            {"endpoints", nlohmann::json::array()}};
        for (size_t i = 0; i < cs->hosts.size(); ++i) {
          const HostState& h = *cs->hosts[i];
          const HostView& v = cs->views[i];
          c["endpoints"].push_back(
              {{"address", h.key},
               {"hostname", h.hostname},
               {"weight", i < cs->config.endpoints.size() ? cs->config.endpoints[i].weight : 0},
               {"zone", i < cs->config.endpoints.size() ? cs->config.endpoints[i].zone : ""},
               {"draining", v.draining},
               {"healthy", v.healthy},
               {"ejected", v.ejected},
               {"eligible", v.eligible},
               {"active_requests", h.active()},
               {"requests", h.requests()},
               {"failures", h.failures()}});
        }
        clusters.push_back(c);
      }
    }
    j["routes"] = routes;
    j["clusters"] = clusters;
    return j.dump(2) + "\n";
  }

  ProxyOptions options_;
  uint16_t port_ = 0;
  std::unique_ptr<event::Dispatcher> main_;
  std::thread main_thread_;
  std::unique_ptr<ConnectionBalancer> balancer_;  // Outlives workers_ (declared first).
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<http::EvhttpServer> admin_;

  // Main thread only.
  std::shared_ptr<const ProxyConfig> config_;
  std::unique_ptr<health::ActiveChecker> checker_;
  std::map<std::string, std::unique_ptr<health::OutlierDetector>> detectors_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<HostState>> hosts_;
  std::unique_ptr<event::Timer> tick_;
  uint64_t generation_ = 0;
  bool rebuild_pending_ = false;

  absl::Mutex mu_;
  std::shared_ptr<const Snapshot> published_ ABSL_GUARDED_BY(mu_);
  std::function<std::string()> source_status_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ProxyServer>> ProxyServer::Start(const ProxyOptions& options) {
  auto server = std::make_unique<ProxyServerImpl>();
  if (absl::Status s = server->Init(options); !s.ok()) return s;
  return server;
}

}  // namespace lb::proxy
