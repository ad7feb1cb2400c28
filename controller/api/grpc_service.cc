#include "controller/api/grpc_service.h"

#include <deque>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "controller/api/status_map.h"

namespace lb::api {

struct LoadBalancerService::Watch {
  absl::Mutex mu;
  std::deque<lb::v1::Change> queue ABSL_GUARDED_BY(mu);
  bool overflow ABSL_GUARDED_BY(mu) = false;
  bool stop ABSL_GUARDED_BY(mu) = false;  // The service is shutting down.
};

LoadBalancerService::LoadBalancerService(registry::Registry* registry, const TokenAuth* auth,
                                         metrics::Registry* metrics, Clock* clock)
    : registry_(registry), auth_(auth), metrics_(metrics), clock_(clock) {}

void LoadBalancerService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (Watch* w : watches_) {
    absl::MutexLock watch_lock(&w->mu);
    w->stop = true;
  }
}

absl::Status LoadBalancerService::Authorize(grpc::ServerContext* ctx) const {
  if (!auth_->enabled()) return absl::OkStatus();
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) return auth_->Check("");
  return auth_->Check(absl::string_view(it->second.data(), it->second.size()));
}

grpc::Status LoadBalancerService::Finish(const char* method, const absl::Status& status) {
  metrics_
      ->GetCounter("lb_controller_grpc_requests_total", "lb.v1 gRPC calls by method and code.",
                   {{"method", method}, {"code", absl::StatusCodeToString(status.code())}})
      ->Increment();
  return ToGrpcStatus(status);
}

grpc::Status LoadBalancerService::AddEndpoint(grpc::ServerContext* ctx,
                                              const lb::v1::AddEndpointRequest* req,
                                              lb::v1::AddEndpointResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Cluster> c =
        registry_->AddEndpoint(req->cluster(), req->endpoint(), req->expected_version());
    s = c.status();
    if (c.ok()) *resp->mutable_cluster() = std::move(*c);
  }
  return Finish("AddEndpoint", s);
}

grpc::Status LoadBalancerService::RemoveEndpoint(grpc::ServerContext* ctx,
                                                 const lb::v1::RemoveEndpointRequest* req,
                                                 lb::v1::RemoveEndpointResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->RemoveEndpoint(
        req->cluster(), req->address(), req->port(), req->expected_version());
    s = c.status();
    if (c.ok()) *resp->mutable_cluster() = std::move(*c);
  }
  return Finish("RemoveEndpoint", s);
}

grpc::Status LoadBalancerService::SetEndpointState(grpc::ServerContext* ctx,
                                                   const lb::v1::SetEndpointStateRequest* req,
                                                   lb::v1::SetEndpointStateResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->SetEndpointState(
        req->cluster(), req->address(), req->port(), req->admin_state(), req->expected_version());
    s = c.status();
    if (c.ok()) *resp->mutable_cluster() = std::move(*c);
  }
  return Finish("SetEndpointState", s);
}

grpc::Status LoadBalancerService::UpdateEndpoint(grpc::ServerContext* ctx,
                                                 const lb::v1::UpdateEndpointRequest* req,
                                                 lb::v1::UpdateEndpointResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Cluster> c =
        registry_->UpdateEndpoint(req->cluster(), req->address(), req->port(), req->endpoint(),
                                  req->update_mask(), req->expected_version());
    s = c.status();
    if (c.ok()) *resp->mutable_cluster() = std::move(*c);
  }
  return Finish("UpdateEndpoint", s);
}

grpc::Status LoadBalancerService::ListEndpoints(grpc::ServerContext*,
                                                const lb::v1::ListEndpointsRequest* req,
                                                lb::v1::ListEndpointsResponse* resp) {
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(req->cluster());
  if (c.ok()) {
    *resp->mutable_endpoints() = std::move(*c->mutable_endpoints());
    resp->set_version(c->version());
  }
  return Finish("ListEndpoints", c.status());
}

grpc::Status LoadBalancerService::CreateCluster(grpc::ServerContext* ctx,
                                                const lb::v1::CreateClusterRequest* req,
                                                lb::v1::Cluster* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Cluster> c = registry_->CreateCluster(req->cluster());
    s = c.status();
    if (c.ok()) *resp = std::move(*c);
  }
  return Finish("CreateCluster", s);
}

grpc::Status LoadBalancerService::UpdateCluster(grpc::ServerContext* ctx,
                                                const lb::v1::UpdateClusterRequest* req,
                                                lb::v1::Cluster* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Cluster> c =
        registry_->UpdateCluster(req->cluster(), req->update_mask(), req->expected_version());
    s = c.status();
    if (c.ok()) *resp = std::move(*c);
  }
  return Finish("UpdateCluster", s);
}

grpc::Status LoadBalancerService::DeleteCluster(grpc::ServerContext* ctx,
                                                const lb::v1::DeleteClusterRequest* req,
                                                lb::v1::DeleteClusterResponse*) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) s = registry_->DeleteCluster(req->name(), req->expected_version());
  return Finish("DeleteCluster", s);
}

grpc::Status LoadBalancerService::GetCluster(grpc::ServerContext*,
                                             const lb::v1::GetClusterRequest* req,
                                             lb::v1::Cluster* resp) {
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(req->name());
  if (c.ok()) *resp = std::move(*c);
  return Finish("GetCluster", c.status());
}

grpc::Status LoadBalancerService::ListClusters(grpc::ServerContext*,
                                               const lb::v1::ListClustersRequest*,
                                               lb::v1::ListClustersResponse* resp) {
  absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
  if (cs.ok()) {
    for (auto& c : *cs) *resp->add_clusters() = std::move(c);
  }
  return Finish("ListClusters", cs.status());
}

grpc::Status LoadBalancerService::CreateRoute(grpc::ServerContext* ctx,
                                              const lb::v1::CreateRouteRequest* req,
                                              lb::v1::RouteTableResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::RouteTable> t =
        registry_->CreateRoute(req->route(), req->expected_version());
    s = t.status();
    if (t.ok()) *resp->mutable_route_table() = std::move(*t);
  }
  return Finish("CreateRoute", s);
}

grpc::Status LoadBalancerService::UpdateRoute(grpc::ServerContext* ctx,
                                              const lb::v1::UpdateRouteRequest* req,
                                              lb::v1::RouteTableResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::RouteTable> t =
        registry_->UpdateRoute(req->route(), req->expected_version());
    s = t.status();
    if (t.ok()) *resp->mutable_route_table() = std::move(*t);
  }
  return Finish("UpdateRoute", s);
}

grpc::Status LoadBalancerService::DeleteRoute(grpc::ServerContext* ctx,
                                              const lb::v1::DeleteRouteRequest* req,
                                              lb::v1::RouteTableResponse* resp) {
  absl::Status s = Authorize(ctx);
  if (s.ok()) {
    absl::StatusOr<lb::v1::RouteTable> t =
        registry_->DeleteRoute(req->name(), req->expected_version());
    s = t.status();
    if (t.ok()) *resp->mutable_route_table() = std::move(*t);
  }
  return Finish("DeleteRoute", s);
}

grpc::Status LoadBalancerService::ListRoutes(grpc::ServerContext*, const lb::v1::ListRoutesRequest*,
                                             lb::v1::RouteTableResponse* resp) {
  absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
  if (t.ok()) *resp->mutable_route_table() = std::move(*t);
  return Finish("ListRoutes", t.status());
}

grpc::Status LoadBalancerService::WatchChanges(grpc::ServerContext* ctx,
                                               const lb::v1::WatchChangesRequest*,
                                               grpc::ServerWriter<lb::v1::Change>* writer) {
  // The store's watch thread queues changes; this RPC thread writes them, so a slow client
  // never blocks the store. A client that falls 10,000 changes behind is cut off.
  constexpr size_t kMaxQueued = 10000;
  Watch w;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      return Finish("WatchChanges", absl::UnavailableError("controller is shutting down"));
    }
    watches_.insert(&w);
  }
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      registry_->Watch([&w](const lb::v1::Change& change) {
        absl::MutexLock lock(&w.mu);
        if (w.queue.size() >= kMaxQueued) {
          w.overflow = true;
          return;
        }
        w.queue.push_back(change);
      });
  absl::Status result = watch.status();
  while (result.ok()) {
    std::deque<lb::v1::Change> batch;
    {
      absl::MutexLock lock(&w.mu);
      auto ready = [&w]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) {
        return !w.queue.empty() || w.overflow || w.stop;
      };
      // Wakes for changes and shutdown; polls for a cancelled client (gRPC's sync API has no
      // callback for that).
      clock_->AwaitWithTimeout(&w.mu, absl::Condition(&ready), kWatchPoll);
      if (w.overflow) {
        result = absl::ResourceExhaustedError("watcher fell too far behind; re-watch");
        break;
      }
      if (w.stop) {
        result = absl::UnavailableError("controller is shutting down");
        break;
      }
      batch.swap(w.queue);
    }
    if (ctx->IsCancelled()) break;
    bool ok = true;
    for (const auto& change : batch) {
      if (!writer->Write(change)) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
  }
  if (watch.ok()) watch->reset();  // Stop callbacks before `w` goes out of scope.
  {
    absl::MutexLock lock(&mu_);
    watches_.erase(&w);
  }
  return Finish("WatchChanges", result);
}

grpc::Status LoadBalancerService::ListProxies(grpc::ServerContext*,
                                              const lb::v1::ListProxiesRequest*,
                                              lb::v1::ListProxiesResponse* resp) {
  if (proxies_) *resp = proxies_();
  return Finish("ListProxies", absl::OkStatus());
}

}  // namespace lb::api
