#include "proxy/server/connection_balancer.h"

namespace lb::proxy {

ConnectionBalancer::ConnectionBalancer(int workers)
    : workers_(workers < 1 ? 1 : workers),
      counts_(std::make_unique<std::atomic<int64_t>[]>(workers_)) {
  for (int i = 0; i < workers_; ++i) counts_[i].store(0, std::memory_order_relaxed);
}

int ConnectionBalancer::Assign(int self) {
  int best = self;
  int64_t best_count = counts_[self].load(std::memory_order_relaxed);
  for (int i = 0; i < workers_; ++i) {
    int64_t c = counts_[i].load(std::memory_order_relaxed);
    if (c < best_count) {
      best = i;
      best_count = c;
    }
  }
  counts_[best].fetch_add(1, std::memory_order_relaxed);
  return best;
}

void ConnectionBalancer::Release(int worker) {
  counts_[worker].fetch_sub(1, std::memory_order_relaxed);
}

int64_t ConnectionBalancer::connections(int worker) const {
  return counts_[worker].load(std::memory_order_relaxed);
}

}  // namespace lb::proxy
