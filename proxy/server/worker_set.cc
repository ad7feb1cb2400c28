#include "proxy/server/worker_set.h"

#include <unistd.h>

#include <atomic>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "proxy/event/socket.h"

namespace lb::proxy {

absl::StatusOr<std::unique_ptr<WorkerSet>> WorkerSet::Create(const WorkerSetOptions& options,
                                                             ResultSink sink) {
  auto set = std::unique_ptr<WorkerSet>(new WorkerSet());
  const int n = options.workers > 0 ? options.workers : 1;
  uint16_t port = options.listen_port;
  if (!options.share_port) {
    // Our workers share the port with each other (SO_REUSEPORT), never unasked with another
    // process: the kernel would split the clients between us.
    if (absl::Status s = event::CheckPortFree(options.listen_host, port); !s.ok()) return s;
  }
  const bool tls = options.tls_listen_port >= 0;
  uint16_t tls_port = tls ? static_cast<uint16_t>(options.tls_listen_port) : 0;
  if (tls && !options.share_port) {
    if (absl::Status s = event::CheckPortFree(options.tls_listen_host, tls_port); !s.ok()) {
      return s;
    }
  }
  std::vector<int> fds;
  std::vector<int> tls_fds;
  auto close_all = [&fds, &tls_fds] {
    for (int f : fds) close(f);
    for (int f : tls_fds) close(f);
  };
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<int> fd = event::Listen(options.listen_host, port, /*reuse_port=*/true);
    if (!fd.ok()) {
      close_all();
      return fd.status();
    }
    if (port == 0) port = event::LocalPort(*fd);
    fds.push_back(*fd);
    if (!tls) continue;
    absl::StatusOr<int> tls_fd =
        event::Listen(options.tls_listen_host, tls_port, /*reuse_port=*/true);
    if (!tls_fd.ok()) {
      close_all();
      return tls_fd.status();
    }
    if (tls_port == 0) tls_port = event::LocalPort(*tls_fd);
    tls_fds.push_back(*tls_fd);
  }
  set->port_ = port;
  set->tls_port_ = tls_port;
  set->clock_ = options.clock;
  if (options.max_connections > 0) {
    set->limit_ = std::make_unique<ConnectionLimit>(options.max_connections);
  }
  for (int i = 0; i < n; ++i) {
    set->workers_.push_back(std::make_unique<Worker>(i, fds[i], options.worker, sink,
                                                     set->limit_.get(), tls ? tls_fds[i] : -1));
  }
  if (options.balance_connections && n > 1) {
    set->balancer_ = std::make_unique<ConnectionBalancer>(n);
    WorkerSet* raw = set.get();
    for (auto& w : set->workers_) {
      w->SetBalancing(raw->balancer_.get(),
                      [raw](int worker, int fd, const event::SocketAddress& peer, bool tls) {
                        raw->workers_[worker]->Adopt(fd, peer, tls);
                      });
    }
  }
  return set;
}

WorkerSet::~WorkerSet() { Stop(); }

void WorkerSet::Start() {
  for (auto& w : workers_) w->Start();
}

void WorkerSet::RunOnAllWorkers(std::function<void(Worker&)> on_worker,
                                std::function<void()> complete, event::Dispatcher* complete_on) {
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto shared_complete = std::make_shared<std::function<void()>>(std::move(complete));
  auto shared_fn = std::make_shared<std::function<void(Worker&)>>(std::move(on_worker));
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->Post([worker, remaining, shared_complete, shared_fn, complete_on] {
      (*shared_fn)(*worker);
      if (remaining->fetch_sub(1) != 1 || !*shared_complete) return;
      if (complete_on != nullptr) {
        complete_on->Post(std::move(*shared_complete));
      } else {
        (*shared_complete)();
      }
    });
  }
}

bool WorkerSet::Drain(absl::Duration timeout) {
  // Shared: a worker that finishes after the timeout still reports into live memory.
  struct State {
    absl::Mutex mu;
    size_t done ABSL_GUARDED_BY(mu) = 0;
  };
  auto state = std::make_shared<State>();
  for (auto& w : workers_) {
    w->Drain([state] {
      absl::MutexLock lock(&state->mu);
      ++state->done;
    });
  }
  const size_t want = workers_.size();
  absl::MutexLock lock(&state->mu);
  auto finished = [&state, want]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) { return state->done == want; };
  return clock_->AwaitWithTimeout(&state->mu, absl::Condition(&finished), timeout);
}

void WorkerSet::Stop() {
  for (auto& w : workers_) w->Stop();
}

}  // namespace lb::proxy
