// One endpoint of one cluster as the data path sees it: its address and the counters workers
// keep for it. Hosts outlive snapshots: the main thread reuses the same object while the
// endpoint stays configured, so counts (least request reads in-flight counts) survive config
// updates. Lives as long as any snapshot, connection pool or request references it.
//
// Threading: the identity fields are written once before the host is published; counters are
// written by workers without locks (each worker its own cache line) and read by anyone.
#ifndef LB_PROXY_UPSTREAM_HOST_H_
#define LB_PROXY_UPSTREAM_HOST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "proxy/event/socket.h"
#include "proxy/upstream/cluster_stats.h"

namespace lb::proxy::upstream {

// Request counters one worker keeps for one host. Each worker has its own cache line, so the
// request path never writes a line another worker writes (the admin thread sums them, and so
// does least request, reading `active` of its two candidates).
struct alignas(64) HostCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> failures{0};  // 5xx answers, connect failures, resets, timeouts.
  std::atomic<uint32_t> active{0};    // Requests on this host now.
  // Attempts that ended (answered, failed or abandoned), those of them that failed (any
  // failure above, counted once per attempt), and their latency from the pick to the end:
  // what the LRS client reports (docs/lrs.md).
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> errors{0};
  LatencyCounters latency;
};

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
  uint64_t completed() const { return Sum(&HostCounters::completed); }
  uint64_t errors() const { return Sum(&HostCounters::errors); }
  // The latency histogram summed over workers, per bucket of kLatencyBoundsUs (+Inf last).
  std::array<uint64_t, kLatencyBoundsUs.size() + 1> LatencyBuckets() const {
    std::array<uint64_t, kLatencyBoundsUs.size() + 1> out{};
    for (int i = 0; i < workers_; ++i) {
      for (size_t b = 0; b < out.size(); ++b) {
        out[b] += counters_[i].latency.buckets[b].load(std::memory_order_relaxed);
      }
    }
    return out;
  }
  uint64_t LatencySumUs() const {
    uint64_t total = 0;
    for (int i = 0; i < workers_; ++i) {
      total += counters_[i].latency.sum_us.load(std::memory_order_relaxed);
    }
    return total;
  }

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

}  // namespace lb::proxy::upstream

#endif  // LB_PROXY_UPSTREAM_HOST_H_
