// lb.v1.LoadBalancer over gRPC: a thin adapter onto Registry. Mutating methods require the
// bearer token (metadata "authorization: Bearer <token>") when auth is enabled.
#ifndef LB_CONTROLLER_API_GRPC_SERVICE_H_
#define LB_CONTROLLER_API_GRPC_SERVICE_H_

#include <functional>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/api/auth.h"
#include "controller/registry/registry.h"
#include "lb/v1/lb.grpc.pb.h"

namespace lb::api {

// Runs on gRPC's sync-server threads. `registry`, `auth`, `metrics` and `clock` must outlive it.
class LoadBalancerService final : public lb::v1::LoadBalancer::Service {
 public:
  LoadBalancerService(registry::Registry* registry, const TokenAuth* auth,
                      metrics::Registry* metrics, Clock* clock = Clock::Real());

  // Ends every open WatchChanges stream with UNAVAILABLE, at once (call before the server shuts
  // down). A stream cancelled by its client ends within kWatchPoll on `clock`.
  void Shutdown();

  static constexpr absl::Duration kWatchPoll = absl::Milliseconds(200);

  // Source of ListProxies (the xDS server); unset: an empty list.
  void SetProxiesSource(std::function<lb::v1::ListProxiesResponse()> source) {
    proxies_ = std::move(source);
  }

  grpc::Status AddEndpoint(grpc::ServerContext* ctx, const lb::v1::AddEndpointRequest* req,
                           lb::v1::AddEndpointResponse* resp) override;
  grpc::Status RemoveEndpoint(grpc::ServerContext* ctx, const lb::v1::RemoveEndpointRequest* req,
                              lb::v1::RemoveEndpointResponse* resp) override;
  grpc::Status SetEndpointState(grpc::ServerContext* ctx,
                                const lb::v1::SetEndpointStateRequest* req,
                                lb::v1::SetEndpointStateResponse* resp) override;
  grpc::Status UpdateEndpoint(grpc::ServerContext* ctx, const lb::v1::UpdateEndpointRequest* req,
                              lb::v1::UpdateEndpointResponse* resp) override;
  grpc::Status ListEndpoints(grpc::ServerContext* ctx, const lb::v1::ListEndpointsRequest* req,
                             lb::v1::ListEndpointsResponse* resp) override;
  grpc::Status CreateCluster(grpc::ServerContext* ctx, const lb::v1::CreateClusterRequest* req,
                             lb::v1::Cluster* resp) override;
  grpc::Status UpdateCluster(grpc::ServerContext* ctx, const lb::v1::UpdateClusterRequest* req,
                             lb::v1::Cluster* resp) override;
  grpc::Status DeleteCluster(grpc::ServerContext* ctx, const lb::v1::DeleteClusterRequest* req,
                             lb::v1::DeleteClusterResponse* resp) override;
  grpc::Status GetCluster(grpc::ServerContext* ctx, const lb::v1::GetClusterRequest* req,
                          lb::v1::Cluster* resp) override;
  grpc::Status ListClusters(grpc::ServerContext* ctx, const lb::v1::ListClustersRequest* req,
                            lb::v1::ListClustersResponse* resp) override;
  grpc::Status CreateRoute(grpc::ServerContext* ctx, const lb::v1::CreateRouteRequest* req,
                           lb::v1::RouteTableResponse* resp) override;
  grpc::Status UpdateRoute(grpc::ServerContext* ctx, const lb::v1::UpdateRouteRequest* req,
                           lb::v1::RouteTableResponse* resp) override;
  grpc::Status DeleteRoute(grpc::ServerContext* ctx, const lb::v1::DeleteRouteRequest* req,
                           lb::v1::RouteTableResponse* resp) override;
  grpc::Status ListRoutes(grpc::ServerContext* ctx, const lb::v1::ListRoutesRequest* req,
                          lb::v1::RouteTableResponse* resp) override;
  grpc::Status WatchChanges(grpc::ServerContext* ctx, const lb::v1::WatchChangesRequest* req,
                            grpc::ServerWriter<lb::v1::Change>* writer) override;
  grpc::Status ListProxies(grpc::ServerContext* ctx, const lb::v1::ListProxiesRequest* req,
                           lb::v1::ListProxiesResponse* resp) override;

 private:
  absl::Status Authorize(grpc::ServerContext* ctx) const;
  // Counts the call and converts the status.
  grpc::Status Finish(const char* method, const absl::Status& status);

  // One WatchChanges stream: the store's watch thread queues, the RPC thread writes.
  struct Watch;

  registry::Registry* const registry_;
  const TokenAuth* const auth_;
  metrics::Registry* const metrics_;
  Clock* const clock_;
  std::function<lb::v1::ListProxiesResponse()> proxies_;
  // Lock order: mu_ before any Watch::mu.
  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Watch*> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::api

#endif  // LB_CONTROLLER_API_GRPC_SERVICE_H_
