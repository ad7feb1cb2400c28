// lb.v1.LoadBalancer over gRPC: a thin adapter onto Registry. Mutating methods require the
// bearer token (metadata "authorization: Bearer <token>") when auth is enabled.
#ifndef LB_CONTROLLER_API_GRPC_SERVICE_H_
#define LB_CONTROLLER_API_GRPC_SERVICE_H_

#include <functional>
#include <optional>

#include "common/metrics/metrics.h"
#include "controller/api/auth.h"
#include "controller/api/change_feed.h"
#include "controller/audit/audit.h"
#include "controller/lrs/endpoint_status_source.h"
#include "controller/registry/registry.h"
#include "lb/v1/lb.grpc.pb.h"

namespace lb::api {

// Unary methods run on gRPC's sync-server threads; WatchChanges on its callback API (no thread
// per stream), written from a ChangeFeed. `registry`, `auth` and `metrics` must outlive it.
class LoadBalancerService final : public lb::v1::LoadBalancer::WithRawCallbackMethod_WatchChanges<
                                      lb::v1::LoadBalancer::Service> {
 public:
  LoadBalancerService(registry::Registry* registry, const TokenAuth* auth,
                      metrics::Registry* metrics);

  // Ends every open WatchChanges stream with UNAVAILABLE, at once, and refuses new ones (call
  // before the server shuts down).
  void Shutdown();

  // The source of WatchChanges (must outlive the service); unset: WatchChanges is UNAVAILABLE.
  void SetChangeFeed(ChangeFeed* feed) { feed_ = feed; }

  // Source of ListProxies (the xDS server); unset: an empty list.
  void SetProxiesSource(std::function<lb::v1::ListProxiesResponse()> source) {
    proxies_ = std::move(source);
  }

  // The elected leader's id, sent with every ListProxies answer as the initial metadata
  // "lb-leader" (lbctl proxies prints it above the table); unset or empty: not sent. Set
  // before serving.
  void SetLeaderSource(std::function<std::string()> source) { leader_ = std::move(source); }

  // Fills ListEndpoints' endpoint status (the load reports); unset: no status.
  void SetEndpointStatusSource(lrs::EndpointStatusSource source) {
    endpoint_status_ = std::move(source);
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
  // The request has no fields; its bytes are not read.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchChanges(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* req) override;
  grpc::Status ListProxies(grpc::ServerContext* ctx, const lb::v1::ListProxiesRequest* req,
                           lb::v1::ListProxiesResponse* resp) override;
  grpc::Status CreateCertificate(grpc::ServerContext* ctx,
                                 const lb::v1::CreateCertificateRequest* req,
                                 lb::v1::Certificate* resp) override;
  grpc::Status UpdateCertificate(grpc::ServerContext* ctx,
                                 const lb::v1::UpdateCertificateRequest* req,
                                 lb::v1::Certificate* resp) override;
  grpc::Status DeleteCertificate(grpc::ServerContext* ctx,
                                 const lb::v1::DeleteCertificateRequest* req,
                                 lb::v1::DeleteCertificateResponse* resp) override;
  grpc::Status GetCertificate(grpc::ServerContext* ctx, const lb::v1::GetCertificateRequest* req,
                              lb::v1::Certificate* resp) override;
  grpc::Status ListCertificates(grpc::ServerContext* ctx,
                                const lb::v1::ListCertificatesRequest* req,
                                lb::v1::ListCertificatesResponse* resp) override;
  grpc::Status ListEvents(grpc::ServerContext* ctx, const lb::v1::ListEventsRequest* req,
                          lb::v1::ListEventsResponse* resp) override;

  // Counts the call and converts the status.
  grpc::Status Finish(const char* method, const absl::Status& status);

 private:
  // Checks the bearer token; on success puts the call's caller in `caller` for the audit trail.
  absl::Status Authorize(grpc::ServerContext* ctx,
                         std::optional<audit::ScopedCaller>* caller) const;

  registry::Registry* const registry_;
  const TokenAuth* const auth_;
  metrics::Registry* const metrics_;
  std::function<lb::v1::ListProxiesResponse()> proxies_;
  std::function<std::string()> leader_;
  lrs::EndpointStatusSource endpoint_status_;
  ChangeFeed* feed_ = nullptr;
};

// The audit trail's caller of an authenticated gRPC call: the verified client certificate's
// subject, else the token's name, else "anonymous"; and the peer's address:port.
audit::Caller GrpcCaller(const grpc::ServerContext& ctx, absl::string_view token_name);

}  // namespace lb::api

#endif  // LB_CONTROLLER_API_GRPC_SERVICE_H_
