// One cluster as published to the workers: its config, its hosts and a picker over the hosts
// that take new requests. Immutable once published.
#ifndef LB_PROXY_UPSTREAM_CLUSTER_SNAPSHOT_H_
#define LB_PROXY_UPSTREAM_CLUSTER_SNAPSHOT_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "proxy/balancer/balancer.h"
#include "proxy/config/config.h"
#include "proxy/network/transport_socket.h"
#include "proxy/upstream/cluster_stats.h"
#include "proxy/upstream/host.h"

namespace lb::proxy::upstream {

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
  // The cluster's counters, the same object in every snapshot while the cluster is configured.
  std::shared_ptr<ClusterStats> stats;
  // The transport of its upstream connections (the cluster's TLS context); null: plaintext.
  // The same object while the cluster's TLS settings stay the same, so pools keyed by it
  // survive unrelated updates.
  std::shared_ptr<const network::TransportSocketFactory> transport;
};

}  // namespace lb::proxy::upstream

#endif  // LB_PROXY_UPSTREAM_CLUSTER_SNAPSHOT_H_
