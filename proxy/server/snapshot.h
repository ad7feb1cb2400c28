// What workers read: immutable routing and cluster state published by the main thread. A
// worker holds a shared_ptr to the snapshot it uses, so an in-flight request keeps its cluster
// and hosts alive across updates.
#ifndef LB_PROXY_SERVER_SNAPSHOT_H_
#define LB_PROXY_SERVER_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/balancer/balancer.h"
#include "proxy/config/config.h"
#include "proxy/event/socket.h"

namespace lb::proxy {

// Request counters one worker keeps for one host. Each worker has its own cache line, so the
// request path never writes a line another worker writes (the admin thread sums them, and so
// does least request, reading `active` of its two candidates).
struct alignas(64) HostCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> failures{0};  // 5xx answers, connect failures, resets, timeouts.
  std::atomic<uint32_t> active{0};    // Requests on this host now.
};

// One endpoint of one cluster. Lives as long as any snapshot or connection references it; the
// same object is reused by successive snapshots while the endpoint stays configured. Counters
// are updated by workers without locks.
struct HostState : std::enable_shared_from_this<HostState> {
  // `workers`: how many workers count requests (indexes 0..workers-1 of counters()).
  explicit HostState(int workers = 1)
      : workers_(workers < 1 ? 1 : workers), counters_(new HostCounters[workers_]) {}

  std::string cluster;
  std::string key;  // "ip:port"
  event::SocketAddress address;
  std::string hostname;  // For Host headers of health checks; may be empty.

  std::atomic<uint32_t> consecutive_5xx{0};
  std::atomic<uint32_t> consecutive_gateway_failures{0};
  // Set once the endpoint left the configuration: pooled connections to it are closed.
  std::atomic<bool> removed{false};

  // Worker `worker`'s own counters (worker thread only writes them).
  HostCounters& counters(int worker) { return counters_[worker]; }
  // Sums over workers (any thread; each term is exact, the sum is a moment's view).
  uint64_t requests() const { return Sum(&HostCounters::requests); }
  uint64_t failures() const { return Sum(&HostCounters::failures); }
  uint64_t active() const { return Sum(&HostCounters::active); }

 private:
  template <typename T>
  uint64_t Sum(std::atomic<T> HostCounters::*field) const {
    uint64_t total = 0;
    for (int i = 0; i < workers_; ++i) {
      total += (counters_[i].*field).load(std::memory_order_relaxed);
    }
    return total;
  }
  const int workers_;
  std::unique_ptr<HostCounters[]> counters_;
};

// How one host looked when the snapshot was built (for the admin page).
struct HostView {
  bool draining = false;
  bool healthy = true;    // Active health checks (true when not checked).
  bool ejected = false;   // Outlier detection.
  bool eligible = false;  // Takes new requests in this snapshot.
};

struct ClusterSnapshot {
  ClusterConfig config;                            // Endpoints included.
  std::vector<HostView> views;                     // Parallel to `hosts`.
  std::vector<std::shared_ptr<HostState>> hosts;   // Index = host id used by `picker`.
  std::shared_ptr<const balancer::Picker> picker;  // Over the eligible hosts.
  bool panic = false;
  size_t eligible = 0;
};

struct Snapshot {
  uint64_t generation = 0;
  std::map<std::string, std::shared_ptr<const ClusterSnapshot>, std::less<>> clusters;
  std::vector<VirtualHostConfig> virtual_hosts;

  // The route for a request, or nullptr. `host` is the Host header (port allowed).
  const RouteConfig* Match(absl::string_view host, absl::string_view path) const;
  const ClusterSnapshot* FindCluster(absl::string_view name) const;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_SNAPSHOT_H_
