#include "proxy/server/load_view.h"

namespace lb::proxy {

xds::LoadView LoadViewOf(const router::Snapshot& snapshot) {
  xds::LoadView view;
  view.latency_bounds_us.assign(upstream::kLatencyBoundsUs.begin(),
                                upstream::kLatencyBoundsUs.end());
  for (const auto& [name, cluster] : snapshot.clusters) {
    xds::ClusterLoad& c = view.clusters.emplace_back();
    c.name = name;
    for (size_t i = 0; i < cluster->hosts.size(); ++i) {
      const upstream::HostState& h = *cluster->hosts[i];
      const upstream::HostView& v = cluster->views[i];
      xds::EndpointLoad& e = c.endpoints.emplace_back();
      e.address = h.address.Ip();
      e.port = h.address.Port();
      if (i < cluster->config.endpoints.size()) e.zone = cluster->config.endpoints[i].zone;
      e.issued = h.requests();
      e.completed = h.completed();
      e.errors = h.errors();
      e.in_progress = h.active();
      e.latency_sum_us = h.LatencySumUs();
      const auto buckets = h.LatencyBuckets();
      e.latency_buckets.assign(buckets.begin(), buckets.end());
      e.health = v.draining   ? xds::EndpointHealth::kDraining
                 : v.ejected  ? xds::EndpointHealth::kEjected
                 : !v.healthy ? xds::EndpointHealth::kUnhealthy
                              : xds::EndpointHealth::kHealthy;
    }
  }
  return view;
}

}  // namespace lb::proxy
