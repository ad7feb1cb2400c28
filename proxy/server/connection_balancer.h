// Spreads client connections evenly over the workers.
//
// Each worker accepts on its own SO_REUSEPORT socket, and the kernel picks the socket by a hash
// of the connection's addresses: 50 long-lived connections land 29/21 as often as 25/25, and the
// busier worker sets the tail latency. With balancing on, the worker that accepted a connection
// hands it to the worker with the fewest open connections (ties stay where they are), so the
// counts never differ by more than one. The cost is one cross-thread post per handed-off
// connection, paid at accept time only.
//
// Thread-safe: every worker calls Assign() and Release(). Counts are atomics read without a lock,
// so two workers accepting at the same instant may both pick the same least-loaded worker; the
// next accepts correct it.
#ifndef LB_PROXY_SERVER_CONNECTION_BALANCER_H_
#define LB_PROXY_SERVER_CONNECTION_BALANCER_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace lb::proxy {

class ConnectionBalancer {
 public:
  explicit ConnectionBalancer(int workers);

  int workers() const { return workers_; }
  // Worker `self` accepted a connection: returns the worker that should own it and counts it
  // there.
  int Assign(int self);
  // A connection owned by `worker` closed.
  void Release(int worker);
  int64_t connections(int worker) const;

 private:
  const int workers_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_CONNECTION_BALANCER_H_
