#include "proxy/server/proxy_server.h"

#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "proxy/event/dispatcher.h"
#include "proxy/server/admin_server.h"
#include "proxy/server/cluster_manager.h"
#include "proxy/server/load_view.h"
#include "proxy/server/worker_set.h"

namespace lb::proxy {
namespace {

class ProxyServerImpl final : public ProxyServer {
 public:
  ~ProxyServerImpl() override { Shutdown(); }

  absl::Status Init(const ProxyOptions& o) {
    options_ = o;
    absl::StatusOr<std::unique_ptr<event::Dispatcher>> main = event::Dispatcher::Create();
    if (!main.ok()) return main.status();
    main_ = std::move(*main);

    WorkerSetOptions wo;
    wo.listen_host = o.listen_host;
    wo.listen_port = o.listen_port;
    wo.tls_listen_host = o.tls_listen_host;
    wo.tls_listen_port = o.tls_listen_port;
    wo.workers = o.workers > 0 ? o.workers : static_cast<int>(std::thread::hardware_concurrency());
    wo.balance_connections = o.balance_connections;
    wo.share_port = o.share_port;
    wo.max_connections = o.max_connections;
    wo.worker = o.worker;
    absl::StatusOr<std::unique_ptr<WorkerSet>> workers = WorkerSet::Create(
        wo, [this](const std::shared_ptr<upstream::HostState>& host, router::UpstreamResult r) {
          main_->Post([this, host, r] { clusters_->OnResult(host, r); });
        });
    if (!workers.ok()) return workers.status();
    workers_ = std::move(*workers);
    clusters_ = std::make_unique<ClusterManager>(
        *main_, *workers_, [this](std::shared_ptr<const router::Snapshot> snapshot) {
          absl::MutexLock lock(&mu_);
          if (published_ == nullptr || published_->generation < snapshot->generation) {
            published_ = std::move(snapshot);
          }
        });

    AdminSources sources;
    sources.published = [this] {
      absl::MutexLock lock(&mu_);
      return published_;
    };
    sources.access_log = o.worker.access_log;
    sources.draining = [this] {
      absl::MutexLock lock(&mu_);
      return draining_;
    };
    sources.xds_status = [this]() -> xds::AdsClientStatus {
      std::function<xds::AdsClientStatus()> source;
      {
        absl::MutexLock lock(&mu_);
        source = source_status_;
      }
      return source ? source() : xds::AdsClientStatus();
    };
    absl::StatusOr<std::unique_ptr<AdminServer>> admin =
        AdminServer::Start(o.admin_listen, *workers_, std::move(sources));
    if (!admin.ok()) return admin.status();
    admin_ = std::move(*admin);

    main_thread_ = std::thread([this] {
      clusters_->Start();
      main_->Run();
      clusters_.reset();  // On its own thread: it owns timers and connections there.
    });
    workers_->Start();
    started_ = true;
    return absl::OkStatus();
  }

  uint16_t port() const override { return workers_->port(); }
  uint16_t tls_port() const override { return workers_->tls_port(); }
  int admin_port() const override { return admin_->port(); }

  void SetConfig(std::shared_ptr<const ProxyConfig> config) override {
    main_->Post(
        [this, config = std::move(config)]() mutable { clusters_->SetConfig(std::move(config)); });
  }

  void SetSourceStatus(std::function<xds::AdsClientStatus()> status) override {
    absl::MutexLock lock(&mu_);
    source_status_ = std::move(status);
  }

  xds::LoadView LoadView() override {
    std::shared_ptr<const router::Snapshot> snapshot;
    {
      absl::MutexLock lock(&mu_);
      snapshot = published_;
    }
    return snapshot == nullptr ? xds::LoadView() : LoadViewOf(*snapshot);
  }

  bool Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return true;
      shut_down_ = true;
      draining_ = true;
    }
    // Stop accepting and wait for in-flight requests, bounded by the drain timeout.
    bool all = !started_ || workers_->Drain(options_.drain_timeout);
    if (workers_ != nullptr) workers_->Stop();
    admin_.reset();
    if (main_ != nullptr) main_->Exit();
    if (main_thread_.joinable()) main_thread_.join();
    return all;
  }

 private:
  ProxyOptions options_;
  std::unique_ptr<event::Dispatcher> main_;
  std::unique_ptr<WorkerSet> workers_;
  std::unique_ptr<ClusterManager> clusters_;  // Main thread, once it runs.
  std::unique_ptr<AdminServer> admin_;
  std::thread main_thread_;
  bool started_ = false;  // Workers and main thread run (Init() succeeded).

  absl::Mutex mu_;
  std::shared_ptr<const router::Snapshot> published_ ABSL_GUARDED_BY(mu_);
  std::function<xds::AdsClientStatus()> source_status_ ABSL_GUARDED_BY(mu_);
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
