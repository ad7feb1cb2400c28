// What workers route with: immutable clusters and virtual hosts published by the main thread.
// A request pins the snapshot it started with, so its route, cluster and hosts stay alive
// across updates.
#ifndef LB_PROXY_ROUTER_SNAPSHOT_H_
#define LB_PROXY_ROUTER_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/config/config.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/cluster_snapshot.h"

namespace lb::proxy::router {

struct Snapshot {
  uint64_t generation = 0;
  std::map<std::string, std::shared_ptr<const upstream::ClusterSnapshot>, std::less<>> clusters;
  std::vector<VirtualHostConfig> virtual_hosts;
  // The TLS listener's certificates (built on the main thread); null: none received yet, and
  // the TLS listener refuses handshakes.
  std::shared_ptr<const tls::ServerContext> tls_server;

  // The route for a request, or nullptr: the most specific virtual host for `host` (the Host
  // header, port allowed), then its first route whose prefix `path` starts with and whose
  // scheme matcher (if any) is `scheme` ("http" or "https").
  const RouteConfig* Match(absl::string_view host, absl::string_view path,
                           absl::string_view scheme = "http") const;
  const upstream::ClusterSnapshot* FindCluster(absl::string_view name) const;
};

}  // namespace lb::proxy::router

#endif  // LB_PROXY_ROUTER_SNAPSHOT_H_
