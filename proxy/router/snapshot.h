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
#include "proxy/http/header_map.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/cluster_snapshot.h"

namespace lb::proxy::router {

// The parts of a request that route matching reads. `headers` may be null (no fields).
struct RouteRequest {
  absl::string_view host;  // The Host header, port allowed.
  absl::string_view path;  // With the query, which prefix matches see and exact ones ignore.
  absl::string_view scheme = "http";
  absl::string_view method;  // As sent, e.g. "GET".
  const http::HeaderMap* headers = nullptr;
};

// True if `route`'s path, scheme, method and header matchers all hold for `request`. Header
// matchers read the first field of their name; a missing field fails every kind (and so an
// inverted matcher holds).
bool RouteMatches(const RouteConfig& route, const RouteRequest& request);

// The position of a request in a weighted split of `total`: uniform in [0, total) for a uniform
// `hash`, and monotone in it, so a hash whose cluster grows keeps that cluster (lb.proto, Route).
// The hash is remixed first: the cluster then picks its endpoint with the same hash, and without
// remixing only part of its ring would be used.
uint64_t WeightedPosition(uint64_t hash, uint64_t total);

// The index in route.weighted_clusters whose weight range holds `position` (in
// [0, route.total_weight)); ranges are laid out in list order.
size_t PickWeightedCluster(const RouteConfig& route, uint64_t position);

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
  // (Routes with method or header matchers never match here.)
  const RouteConfig* Match(absl::string_view host, absl::string_view path,
                           absl::string_view scheme = "http") const;
  // The route for a request: the most specific virtual host, then its first route that
  // RouteMatches(); nullptr if none.
  const RouteConfig* Match(const RouteRequest& request) const;
  const upstream::ClusterSnapshot* FindCluster(absl::string_view name) const;
};

}  // namespace lb::proxy::router

#endif  // LB_PROXY_ROUTER_SNAPSHOT_H_
