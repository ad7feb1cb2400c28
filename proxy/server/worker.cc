#include "proxy/server/worker.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/base/check.h"
#include "common/logging/event_log.h"
#include "proxy/event/lazy_timer.h"
#include "proxy/network/connection.h"
#include "proxy/network/transport_socket.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/http1_conn_pool.h"
#include "proxy/upstream/http2_conn_pool.h"

namespace lb::proxy {

// Everything that runs on the worker's thread: the listener, the connection managers and the
// connection pools, and the services they ask the worker for.
class Worker::Impl final : public ConnectionManagerContext, public router::RouterContext {
 public:
  Impl(Worker* worker, event::Dispatcher* dispatcher, int listen_fd, const WorkerOptions& options,
       ResultSink sink, ConnectionLimit* limit, int tls_listen_fd)
      : worker_(worker),
        dispatcher_(*dispatcher),
        listen_fd_(listen_fd),
        tls_listen_fd_(tls_listen_fd),
        sink_(std::move(sink)),
        limit_(limit),
        accept_pause_(options.accept_pause),
        accept_resume_(*dispatcher, [this] { ResumeAccepting(); }),
        rng_seed_(0x9E3779B97F4A7C15ull * static_cast<uint64_t>(worker->index() + 1)),
        retry_budget_(options.retry_budget),
        access_log_(options.access_log),
        idle_connections_(*this) {
    http_options_.request_header_timeout = options.request_header_timeout;
    http_options_.idle_timeout = options.idle_timeout;
    http_options_.idle_release_after = options.idle_release_after;
    http_options_.idle_release_above = options.idle_release_above;
    http_options_.idle_warm_max = options.idle_warm_max;
    http_options_.stream_idle_timeout = options.stream_idle_timeout;
    http_options_.tunnel_idle_timeout = options.tunnel_idle_timeout;
    http_options_.max_body_bytes = options.max_body_bytes;
    http_options_.buffer_limit_bytes = options.buffer_limit_bytes;
    http_options_.http2 = options.http2;
    http_options_.path.normalize = options.normalize_path;
    http_options_.path.merge_slashes = options.merge_slashes;
    http_options_.tls_handshake_timeout = options.tls_handshake_timeout;
    router_options_.https_port = options.https_port;
    router_options_.upstream_timeout = options.upstream_timeout;
    router_options_.body_idle_timeout = options.idle_timeout;
    router_options_.response_timeout = options.upstream_response_timeout;
    router_options_.max_grpc_timeout = options.max_grpc_timeout;
    router_options_.buffer_limit_bytes = options.buffer_limit_bytes;
    router_options_.retry_budget = options.retry_budget;
    router_options_.replay_buffer_bytes = options.upstream_replay_buffer_bytes;
    pool_settings_.idle_timeout = options.upstream_idle_timeout;
    pool_settings_.max_idle = options.max_idle_per_host;
    pool_settings_.buffer_limit_bytes = options.buffer_limit_bytes;
    http2_pool_settings_.idle_timeout = options.upstream_idle_timeout;
    http2_pool_settings_.buffer_limit_bytes = options.buffer_limit_bytes;
    http2_pool_settings_.codec.max_concurrent_streams =
        options.upstream_http2_max_concurrent_streams;
    http2_pool_settings_.codec.stream_buffer_limit =
        static_cast<uint32_t>(std::min<size_t>(options.buffer_limit_bytes, UINT32_MAX));
  }

  ~Impl() override {
    accept_resume_.Disarm();
    listener_.reset();
    tls_listener_.reset();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (tls_listen_fd_ >= 0) close(tls_listen_fd_);
    // Managers first (they abandon their requests), then the pools their routers used.
    managers_.clear();
    pools_.clear();
    retired_pools_.clear();
  }

  void Start() {
    listener_ = dispatcher_.WatchFd(listen_fd_, [this](uint32_t) { AcceptAll(false); });
    listener_->SetInterest(true, false);
    if (tls_listen_fd_ >= 0) {
      tls_listener_ = dispatcher_.WatchFd(tls_listen_fd_, [this](uint32_t) { AcceptAll(true); });
      tls_listener_->SetInterest(true, false);
    }
  }

  void SetBalancing(ConnectionBalancer* balancer, Worker::HandOff hand_off) {
    balancer_ = balancer;
    hand_off_ = std::move(hand_off);
  }

  void SetSnapshot(std::shared_ptr<const router::Snapshot> snapshot) {
    LB_DCHECK(dispatcher_.IsThreadSafe());
    pins_.Set(std::move(snapshot));
    // Pools of hosts that left the configuration, or whose cluster's transport (TLS settings)
    // changed: idle connections go now, the pool once its last busy connection is done (a
    // later sweep).
    const router::Snapshot* current = pins_.current();
    for (auto it = pools_.begin(); it != pools_.end();) {
      upstream::ConnPool& pool = *it->second.pool;
      upstream::HostState* host = it->first.first;
      const upstream::ClusterSnapshot* cluster =
          current == nullptr ? nullptr : current->FindCluster(host->cluster);
      const bool stale_transport =
          cluster != nullptr && cluster->transport.get() != it->first.second;
      if (host->removed.load(std::memory_order_relaxed) || stale_transport) {
        pool.Drain();
        if (pool.empty()) {
          pools_.erase(it++);
          continue;
        }
      }
      ++it;
    }
    // Pools of a protocol their cluster no longer speaks: gone once their streams finished.
    retired_pools_.erase(std::remove_if(retired_pools_.begin(), retired_pools_.end(),
                                        [](const std::unique_ptr<upstream::ConnPool>& pool) {
                                          return pool->empty();
                                        }),
                         retired_pools_.end());
  }

  void Adopt(int fd, const event::SocketAddress& peer, bool tls) {
    if (draining_) {
      // Too late: this worker stopped accepting. The client sees the close as a reset listener.
      close(fd);
      if (balancer_ != nullptr) balancer_->Release(worker_->index());
      if (limit_ != nullptr) limit_->Release();
      return;
    }
    AddConnection(fd, peer, tls);
  }

  void Drain(std::function<void()> done) {
    draining_ = true;
    drained_ = std::move(done);
    accept_resume_.Disarm();
    listener_.reset();
    tls_listener_.reset();
    if (listen_fd_ >= 0) {
      close(listen_fd_);
      listen_fd_ = -1;
    }
    if (tls_listen_fd_ >= 0) {
      close(tls_listen_fd_);
      tls_listen_fd_ = -1;
    }
    for (auto& [host, entry] : pools_) entry.pool->Drain();
    for (auto& pool : retired_pools_) pool->Drain();
    std::vector<HttpConnectionManager*> managers;
    for (auto& [raw, owned] : managers_) managers.push_back(raw);
    for (HttpConnectionManager* m : managers) m->StartDrain();
    idle_connections_.CloseAll();
    MaybeDrained();
  }

  // ConnectionManagerContext.
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  const ConnectionManagerOptions& connection_manager_options() const override {
    return http_options_;
  }
  ConnectionManagerStats& connection_manager_stats() override { return worker_->stats_.http; }
  router::RouterContext& router_context() override { return *this; }
  SnapshotPins& snapshots() override { return pins_; }
  bool draining() const override { return draining_; }
  accesslog::AccessLog* access_log() override { return access_log_; }
  IdleConnections& idle_connections() override { return idle_connections_; }

  void OnConnectionManagerClosed(HttpConnectionManager* manager) override {
    if (ReleaseManager(manager)) OnConnectionClosed();
  }

  void OnConnectionManagerParked(HttpConnectionManager* manager) override {
    if (ReleaseManager(manager)) stats().connections_idle.fetch_add(1, std::memory_order_relaxed);
  }

  // Out of managers_, destroyed at the end of the loop turn; false if it was not there.
  bool ReleaseManager(HttpConnectionManager* manager) {
    auto it = managers_.find(manager);
    if (it == managers_.end()) return false;
    dispatcher_.DeferredDelete(std::move(it->second));
    managers_.erase(it);
    return true;
  }

  HttpConnectionManager& ResumeConnection(std::unique_ptr<network::Connection> connection,
                                          bool tls) override {
    auto manager = std::make_unique<HttpConnectionManager>(*this, std::move(connection), tls,
                                                           /*resumed=*/true);
    HttpConnectionManager* raw = manager.get();
    managers_.emplace(raw, std::move(manager));
    stats().connections_idle.fetch_sub(1, std::memory_order_relaxed);
    return *raw;
  }

  size_t connection_managers() const override { return managers_.size(); }

  void OnParkedConnectionClosed() override {
    stats().connections_idle.fetch_sub(1, std::memory_order_relaxed);
    OnConnectionClosed();
  }

  // A client connection is gone, from a manager or from the idle list.
  void OnConnectionClosed() {
    stats().connections_active.fetch_sub(1, std::memory_order_relaxed);
    if (balancer_ != nullptr) balancer_->Release(worker_->index());
    if (limit_ != nullptr) {
      limit_->Release();
      // A slot is free: a listener resting at the cap takes it now rather than at its timer.
      if (paused_at_cap_) ResumeAccepting();
    }
    MaybeDrained();
  }

  // router::RouterContext.
  const router::RouterOptions& router_options() const override { return router_options_; }

  upstream::ConnPool& PoolFor(const std::shared_ptr<upstream::HostState>& host,
                              const upstream::ClusterSnapshot& cluster) override {
    // Keyed by transport too: TLS and plaintext connections (or two TLS settings) never mix.
    PoolEntry& entry = pools_[std::make_pair(host.get(), cluster.transport.get())];
    if (entry.pool != nullptr && entry.protocol != cluster.config.protocol) {
      // The cluster switched protocols: the old pool finishes its requests, then goes.
      entry.pool->Drain();
      if (!entry.pool->empty()) retired_pools_.push_back(std::move(entry.pool));
      entry.pool.reset();
      entry.http1 = nullptr;
      entry.http2 = nullptr;
    }
    if (entry.pool == nullptr) {
      entry.protocol = cluster.config.protocol;
      if (cluster.config.protocol == UpstreamProtocol::kHttp2) {
        upstream::Http2PoolSettings settings = http2_pool_settings_;
        if (cluster.transport != nullptr) {
          settings.transport_socket_factory = [transport = cluster.transport] {
            return transport->Create();
          };
        }
        auto pool = std::make_unique<upstream::Http2ConnPool>(dispatcher_, host, settings,
                                                              stats().pool, cluster.stats);
        entry.http2 = pool.get();
        entry.pool = std::move(pool);
      } else {
        upstream::Http1PoolSettings settings = pool_settings_;
        if (draining_) settings.max_idle = 0;
        auto pool = std::make_unique<upstream::Http1ConnPool>(
            dispatcher_, host, settings, stats().pool, cluster.stats, cluster.transport);
        pool->set_reclaim_idle([this, stats = cluster.stats.get()] { return ReclaimIdle(stats); });
        entry.http1 = pool.get();
        entry.pool = std::move(pool);
      }
    }
    if (entry.http2 != nullptr) {
      entry.http2->set_connect_timeout(cluster.config.connect_timeout);
      entry.http2->set_cluster_max_concurrent_streams(cluster.config.http2_max_concurrent_streams);
    } else {
      entry.http1->set_connect_timeout(cluster.config.connect_timeout);
    }
    return *entry.pool;
  }

  // Closes one idle HTTP/1 connection of the cluster whose breakers are `cluster` (on this
  // worker), freeing its connection slot. Runs only when the slots are all taken.
  bool ReclaimIdle(const upstream::ClusterStats* cluster) {
    for (auto& [key, entry] : pools_) {
      if (entry.http1 != nullptr && entry.http1->cluster() == cluster &&
          entry.http1->CloseOldestIdle()) {
        return true;
      }
    }
    return false;
  }

  balancer::Picker::WorkerState& PickerState(const std::string& cluster) override {
    auto it = picker_states_.find(cluster);
    if (it == picker_states_.end()) {
      it = picker_states_
               .emplace(cluster, balancer::Picker::WorkerState(rng_seed_ ^
                                                               std::hash<std::string>()(cluster)))
               .first;
    }
    return it->second;
  }

  upstream::HostCounters& Counters(upstream::HostState& host) override {
    return host.counters(worker_->index());
  }
  upstream::ClusterWorkerCounters* ClusterCounters(
      const upstream::ClusterSnapshot& cluster) override {
    return cluster.stats == nullptr ? nullptr : &cluster.stats->worker(worker_->index());
  }

  void ReportResult(upstream::HostState& host, router::UpstreamResult result) override {
    if (result == router::UpstreamResult::kSuccess) {
      // Read before writing: the common case (no streak) then leaves the shared line clean.
      if (host.consecutive_5xx.load(std::memory_order_relaxed) != 0) {
        host.consecutive_5xx.store(0, std::memory_order_relaxed);
      }
      if (host.consecutive_gateway_failures.load(std::memory_order_relaxed) != 0) {
        host.consecutive_gateway_failures.store(0, std::memory_order_relaxed);
      }
      return;
    }
    Counters(host).failures.fetch_add(1, std::memory_order_relaxed);
    (result == router::UpstreamResult::k5xx ? host.consecutive_5xx
                                            : host.consecutive_gateway_failures)
        .fetch_add(1, std::memory_order_relaxed);
    if (sink_) sink_(host.shared_from_this(), result);
  }

  router::RetryBudget& retry_budget() override { return retry_budget_; }
  uint64_t active_requests() const override {
    return worker_->stats_.http.requests_active.load(std::memory_order_relaxed);
  }
  router::RouterStats& router_stats() override { return stats().router; }

 private:
  WorkerStats& stats() { return worker_->stats_; }

  void AcceptAll(bool tls) {
    const int listen_fd = tls ? tls_listen_fd_ : listen_fd_;
    for (int i = 0; i < 64; ++i) {
      if (limit_ != nullptr && !limit_->TryAcquire()) {
        PauseAccepting(/*at_cap=*/true, 0);
        return;
      }
      event::SocketAddress peer;
      int fd = event::Accept(listen_fd, &peer);
      if (fd < 0) {
        const int err = errno;
        if (limit_ != nullptr) limit_->Release();
        // The listener is level-triggered: out of descriptors (or kernel memory), trying again
        // at once would spin. Rest, as nginx does; the backlog keeps the clients meanwhile.
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          PauseAccepting(/*at_cap=*/false, err);
        }
        return;  // EAGAIN, or a connection that went away before it was accepted.
      }
      stats().connections_accepted.fetch_add(1, std::memory_order_relaxed);
      int self = worker_->index();
      int owner = balancer_ != nullptr ? balancer_->Assign(self) : self;
      if (owner != self) {
        stats().connections_handed_off.fetch_add(1, std::memory_order_relaxed);
        hand_off_(owner, fd, peer, tls);
        continue;
      }
      AddConnection(fd, peer, tls);
    }
  }

  // Takes over `fd` (its ConnectionLimit slot, if any, is already held).
  void AddConnection(int fd, const event::SocketAddress& peer, bool tls) {
    LB_DCHECK(dispatcher_.IsThreadSafe());
    std::unique_ptr<network::TransportSocket> transport;
    if (tls) {
      const router::Snapshot* snapshot = pins_.current();
      if (snapshot == nullptr || snapshot->tls_server == nullptr) {
        // No certificate received yet: refused before any handshake (counted).
        tls::Stats().no_certificate.fetch_add(1, std::memory_order_relaxed);
        close(fd);
        if (balancer_ != nullptr) balancer_->Release(worker_->index());
        if (limit_ != nullptr) limit_->Release();
        return;
      }
      // The connection keeps this context (its certificates and ticket keys) for its life.
      transport = tls::NewServerSocket(snapshot->tls_server);
    } else {
      transport = std::make_unique<network::RawTransportSocket>();
    }
    stats().connections_active.fetch_add(1, std::memory_order_relaxed);
    auto manager = std::make_unique<HttpConnectionManager>(
        *this, network::CreateServerConnection(dispatcher_, fd, peer, std::move(transport)), tls);
    HttpConnectionManager* raw = manager.get();
    managers_.emplace(raw, std::move(manager));
  }

  void PauseAccepting(bool at_cap, int err) {
    if (listener_ == nullptr) return;
    listener_->SetInterest(false, false);
    if (tls_listener_ != nullptr) tls_listener_->SetInterest(false, false);
    paused_at_cap_ = at_cap;
    (at_cap ? stats().accept_paused_max_connections : stats().accept_paused_descriptors)
        .fetch_add(1, std::memory_order_relaxed);
    accept_resume_.Arm(accept_pause_);
    if (limit_ != nullptr && limit_->ShouldLog(dispatcher_.MonotonicNow(), absl::Seconds(10))) {
      nlohmann::json fields = {{"worker", worker_->index()},
                               {"reason", at_cap ? "max_connections" : "descriptors"},
                               {"open_connections", limit_->open()},
                               {"max_connections", limit_->max()},
                               {"pause_ms", absl::ToInt64Milliseconds(accept_pause_)}};
      if (!at_cap) fields["error"] = strerror(err);
      logging::LogEvent("accept_paused", fields);
    }
  }

  void ResumeAccepting() {
    paused_at_cap_ = false;
    accept_resume_.Disarm();
    if (listener_ != nullptr && !draining_) listener_->SetInterest(true, false);
    if (tls_listener_ != nullptr && !draining_) tls_listener_->SetInterest(true, false);
  }

  void MaybeDrained() {
    if (draining_ && managers_.empty() && idle_connections_.size() == 0 && drained_) {
      auto done = std::move(drained_);
      drained_ = nullptr;
      done();
    }
  }

  Worker* const worker_;
  event::Dispatcher& dispatcher_;
  int listen_fd_;
  int tls_listen_fd_;  // -1: no TLS listener.
  ResultSink sink_;
  ConnectionLimit* const limit_;  // May be null.
  const absl::Duration accept_pause_;
  event::LazyTimer accept_resume_;  // Armed while the listener rests.
  bool paused_at_cap_ = false;
  const uint64_t rng_seed_;
  ConnectionManagerOptions http_options_;
  router::RouterOptions router_options_;
  upstream::Http1PoolSettings pool_settings_;
  upstream::Http2PoolSettings http2_pool_settings_;
  router::RetryBudget retry_budget_;
  accesslog::AccessLog* const access_log_;
  ConnectionBalancer* balancer_ = nullptr;
  Worker::HandOff hand_off_;
  std::unique_ptr<event::FdWatcher> listener_;
  std::unique_ptr<event::FdWatcher> tls_listener_;
  SnapshotPins pins_;
  // Before managers_ (destroyed after them); closes what it holds without accounting.
  IdleConnections idle_connections_;
  absl::flat_hash_map<HttpConnectionManager*, std::unique_ptr<HttpConnectionManager>> managers_;
  // A host's pool, of its cluster's protocol and transport.
  struct PoolEntry {
    UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
    std::unique_ptr<upstream::ConnPool> pool;
    upstream::Http1ConnPool* http1 = nullptr;  // The same object, typed; one of the two is set.
    upstream::Http2ConnPool* http2 = nullptr;
  };
  absl::flat_hash_map<std::pair<upstream::HostState*, const network::TransportSocketFactory*>,
                      PoolEntry>
      pools_;
  std::vector<std::unique_ptr<upstream::ConnPool>> retired_pools_;
  absl::flat_hash_map<std::string, balancer::Picker::WorkerState> picker_states_;
  bool draining_ = false;
  std::function<void()> drained_;
};

// ---------------------------------------------------------------------------------------------

Worker::Worker(int index, int listen_fd, const WorkerOptions& options, ResultSink sink,
               ConnectionLimit* limit, int tls_listen_fd)
    : index_(index) {
  absl::StatusOr<std::unique_ptr<event::Dispatcher>> d = event::Dispatcher::Create();
  if (d.ok()) dispatcher_ = std::move(*d);
  impl_ = std::make_unique<Impl>(this, dispatcher_.get(), listen_fd, options, std::move(sink),
                                 limit, tls_listen_fd);
}

Worker::~Worker() {
  Stop();
  impl_.reset();  // If the loop never ran.
}

void Worker::SetBalancing(ConnectionBalancer* balancer, HandOff hand_off) {
  impl_->SetBalancing(balancer, std::move(hand_off));
}

void Worker::Adopt(int fd, const event::SocketAddress& peer, bool tls) {
  // The closure owns the fd until it runs: if the loop stopped first, destroying the unrun
  // closure (with the dispatcher) closes it.
  std::shared_ptr<int> owned(new int(fd), [](int* p) {
    if (*p >= 0) close(*p);
    delete p;
  });
  dispatcher_->Post(
      [this, owned, peer, tls] { impl_->Adopt(std::exchange(*owned, -1), peer, tls); });
}

void Worker::Start() {
  thread_ = std::thread([this] {
    impl_->Start();
    dispatcher_->Run();
    impl_.reset();  // Connections close on the worker's own thread.
  });
}

void Worker::InstallSnapshot(std::shared_ptr<const router::Snapshot> snapshot) {
  LB_DCHECK(dispatcher_->IsThreadSafe());
  impl_->SetSnapshot(std::move(snapshot));
}

void Worker::Post(std::function<void()> fn) { dispatcher_->Post(std::move(fn)); }

void Worker::Drain(std::function<void()> done) {
  dispatcher_->Post([this, done = std::move(done)]() mutable { impl_->Drain(std::move(done)); });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  dispatcher_->Exit();
  thread_.join();
}

}  // namespace lb::proxy
