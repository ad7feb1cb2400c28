// The proxy's workers: their SO_REUSEPORT listeners, the connection balancer between them, and
// "run on every worker, then complete" (Envoy's ThreadLocal runOnAllThreads).
//
// Threading: Create() and the destructor on the main thread; RunOnAllWorkers() and Drain() from
// any thread.
#ifndef LB_PROXY_SERVER_WORKER_SET_H_
#define LB_PROXY_SERVER_WORKER_SET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "proxy/event/dispatcher.h"
#include "proxy/server/connection_balancer.h"
#include "proxy/server/connection_limit.h"
#include "proxy/server/worker.h"

namespace lb::proxy {

struct WorkerSetOptions {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;  // 0: the kernel picks one (see port()).
  // The TLS listener, on the same workers and limits; port -1: none, 0: the kernel picks one.
  std::string tls_listen_host = "0.0.0.0";
  int tls_listen_port = -1;
  int workers = 1;
  bool balance_connections = true;
  // Join a port another process already listens on (SO_REUSEPORT), e.g. the old process during
  // a zero-downtime upgrade. Off: such a port is refused (kAlreadyExists), never shared.
  bool share_port = false;
  // Open client connections across all workers; at the cap the listeners rest (0: no cap).
  uint64_t max_connections = 0;
  WorkerOptions worker;
  Clock* clock = Clock::Real();  // For the drain timeout.
};

class WorkerSet {
 public:
  // Binds one listener per worker (kAlreadyExists if another socket holds the port and
  // share_port is off, kUnavailable if the address cannot be used); the workers do not run
  // until Start().
  static absl::StatusOr<std::unique_ptr<WorkerSet>> Create(const WorkerSetOptions& options,
                                                           ResultSink sink);
  ~WorkerSet();  // Stops the workers.

  void Start();
  uint16_t port() const { return port_; }
  uint16_t tls_port() const { return tls_port_; }  // 0 without a TLS listener.
  // Null when there is no cap.
  const ConnectionLimit* connection_limit() const { return limit_.get(); }
  size_t size() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_[i]; }

  // Runs `on_worker(worker)` on every worker's thread; once all of them have, `complete` runs
  // on `complete_on`'s thread (directly on the last worker's if `complete_on` is null).
  void RunOnAllWorkers(std::function<void(Worker&)> on_worker, std::function<void()> complete,
                       event::Dispatcher* complete_on);
  // Every worker stops accepting and finishes its requests; true if all did within `timeout`.
  bool Drain(absl::Duration timeout);
  void Stop();

 private:
  WorkerSet() = default;

  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  Clock* clock_ = Clock::Real();
  std::unique_ptr<ConnectionBalancer> balancer_;  // Outlives the workers (declared first).
  std::unique_ptr<ConnectionLimit> limit_;        // The same.
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_WORKER_SET_H_
