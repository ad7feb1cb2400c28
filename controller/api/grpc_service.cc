#include "controller/api/grpc_service.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "controller/api/status_map.h"
#include "controller/limits/call_limits.h"

namespace lb::api {
namespace {

using WriteReactor = grpc::ServerWriteReactor<grpc::ByteBuffer>;

// A message of the feed as a byte buffer that shares its bytes (no copy).
grpc::ByteBuffer SharedBuffer(const ChangeFeed::Bytes& bytes) {
  auto* ref = new ChangeFeed::Bytes(bytes);
  grpc::Slice slice(
      const_cast<char*>((*ref)->data()), (*ref)->size(),
      [](void* p) { delete static_cast<ChangeFeed::Bytes*>(p); }, ref);
  return grpc::ByteBuffer(&slice, 1);
}

// One WatchChanges stream: the feed hands it one change at a time (Send, under the feed's
// lock) and it asks for the next once that is written. Lock order: the feed's, then mu_.
class WatchReactor final : public WriteReactor, public ChangeFeed::Sink {
 public:
  static WatchReactor* Start(LoadBalancerService* service, ChangeFeed* feed,
                             grpc::CallbackServerContext* context) {
    auto* reactor = new WatchReactor(service, feed, context);
    if (absl::Status s = feed->Subscribe(reactor); !s.ok()) reactor->FinishOnce(s, false);
    return reactor;
  }

  void Send(const ChangeFeed::Bytes& change) override {
    write_buf_ = SharedBuffer(change);  // The previous write is done (one at a time).
    StartWrite(&write_buf_);
  }
  // A change may be on its way still (cut off, shut down).
  void End(const absl::Status& status) override { FinishOnce(status, true); }

  void OnWriteDone(bool ok) override {
    if (ok) {
      feed_->Written(this);
      return;
    }
    feed_->Unsubscribe(this);
    FinishOnce(absl::CancelledError("the client went away"), false);
  }
  void OnCancel() override {
    feed_->Unsubscribe(this);
    FinishOnce(absl::CancelledError("the client cancelled"), false);
  }
  void OnDone() override {
    feed_->Unsubscribe(this);
    {
      absl::MutexLock lock(&mu_);
      backstop_.Disarm();
    }
    delete this;
  }

 private:
  WatchReactor(LoadBalancerService* service, ChangeFeed* feed, grpc::CallbackServerContext* context)
      : service_(service), feed_(feed), context_(context) {}

  // With `writing`, a change may still be on its way to a client that does not read: the
  // backstop cancels the call if the status cannot follow it.
  void FinishOnce(const absl::Status& status, bool writing) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    Finish(service_->Finish("WatchChanges", status));
    if (writing) backstop_.Arm(context_);
  }

  LoadBalancerService* const service_;
  ChangeFeed* const feed_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer write_buf_;  // Owned by the one write in flight.
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  limits::CancelBackstop backstop_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

LoadBalancerService::LoadBalancerService(registry::Registry* registry, const TokenAuth* auth,
                                         metrics::Registry* metrics)
    : registry_(registry), auth_(auth), metrics_(metrics) {}

void LoadBalancerService::Shutdown() {
  if (feed_ != nullptr) feed_->Shutdown();
}

absl::Status LoadBalancerService::Authorize(grpc::ServerContext* ctx,
                                            std::optional<audit::ScopedCaller>* caller) const {
  auto it = ctx->client_metadata().find("authorization");
  absl::StatusOr<std::string> token_name = auth_->Authenticate(
      it == ctx->client_metadata().end() ? absl::string_view()
                                         : absl::string_view(it->second.data(), it->second.size()));
  if (!token_name.ok()) return token_name.status();
  caller->emplace(GrpcCaller(*ctx, *token_name));
  return absl::OkStatus();
}

audit::Caller GrpcCaller(const grpc::ServerContext& ctx, absl::string_view token_name) {
  std::string subject;
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& v : auth->FindPropertyValues("x509_subject")) {
      subject.assign(v.data(), v.size());
      break;
    }
  }
  // gRPC names peers "ipv4:1.2.3.4:5" or "ipv6:[::1]:5".
  const std::string peer_name = ctx.peer();  // By value: keep it alive for the view below.
  absl::string_view peer = peer_name;
  if (!absl::ConsumePrefix(&peer, "ipv4:")) absl::ConsumePrefix(&peer, "ipv6:");
  return audit::Caller{audit::kApiGrpc, audit::Identity(subject, token_name), std::string(peer)};
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
    if (endpoint_status_) endpoint_status_(req->cluster(), resp->mutable_endpoints());
  }
  return Finish("ListEndpoints", c.status());
}

grpc::Status LoadBalancerService::CreateCluster(grpc::ServerContext* ctx,
                                                const lb::v1::CreateClusterRequest* req,
                                                lb::v1::Cluster* resp) {
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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

grpc::Status LoadBalancerService::CreateCertificate(grpc::ServerContext* ctx,
                                                    const lb::v1::CreateCertificateRequest* req,
                                                    lb::v1::Certificate* resp) {
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Certificate> c = registry_->CreateCertificate(req->certificate());
    if (c.ok()) *resp = std::move(*c);
    s = c.status();
  }
  return Finish("CreateCertificate", s);
}

grpc::Status LoadBalancerService::UpdateCertificate(grpc::ServerContext* ctx,
                                                    const lb::v1::UpdateCertificateRequest* req,
                                                    lb::v1::Certificate* resp) {
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
  if (s.ok()) {
    absl::StatusOr<lb::v1::Certificate> c =
        registry_->UpdateCertificate(req->certificate(), req->expected_version());
    if (c.ok()) *resp = std::move(*c);
    s = c.status();
  }
  return Finish("UpdateCertificate", s);
}

grpc::Status LoadBalancerService::DeleteCertificate(grpc::ServerContext* ctx,
                                                    const lb::v1::DeleteCertificateRequest* req,
                                                    lb::v1::DeleteCertificateResponse*) {
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
  if (s.ok()) s = registry_->DeleteCertificate(req->name(), req->expected_version());
  return Finish("DeleteCertificate", s);
}

grpc::Status LoadBalancerService::GetCertificate(grpc::ServerContext*,
                                                 const lb::v1::GetCertificateRequest* req,
                                                 lb::v1::Certificate* resp) {
  absl::StatusOr<lb::v1::Certificate> c = registry_->GetCertificate(req->name());
  if (c.ok()) *resp = std::move(*c);
  return Finish("GetCertificate", c.status());
}

grpc::Status LoadBalancerService::ListCertificates(grpc::ServerContext*,
                                                   const lb::v1::ListCertificatesRequest*,
                                                   lb::v1::ListCertificatesResponse* resp) {
  absl::StatusOr<std::vector<lb::v1::Certificate>> cs = registry_->ListCertificates();
  if (cs.ok()) {
    for (auto& c : *cs) *resp->add_certificates() = std::move(c);
  }
  return Finish("ListCertificates", cs.status());
}

grpc::Status LoadBalancerService::ListEvents(grpc::ServerContext*,
                                             const lb::v1::ListEventsRequest* req,
                                             lb::v1::ListEventsResponse* resp) {
  audit::ListOptions options;
  options.cluster = req->cluster();
  options.since = req->since();
  options.limit = req->limit();
  absl::StatusOr<std::vector<lb::v1::Event>> events = registry_->ListEvents(options);
  if (events.ok()) {
    for (auto& e : *events) *resp->add_events() = std::move(e);
  }
  return Finish("ListEvents", events.status());
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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
  std::optional<audit::ScopedCaller> caller;
  absl::Status s = Authorize(ctx, &caller);
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

grpc::ServerWriteReactor<grpc::ByteBuffer>* LoadBalancerService::WatchChanges(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer*) {
  if (feed_ == nullptr) {
    return new limits::RefusedCall<WriteReactor>(
        Finish("WatchChanges", absl::UnavailableError("this server has no change feed")));
  }
  return WatchReactor::Start(this, feed_, ctx);
}

grpc::Status LoadBalancerService::ListProxies(grpc::ServerContext* ctx,
                                              const lb::v1::ListProxiesRequest*,
                                              lb::v1::ListProxiesResponse* resp) {
  if (proxies_) *resp = proxies_();
  if (leader_) {
    if (std::string leader = leader_(); !leader.empty()) {
      ctx->AddInitialMetadata("lb-leader", leader);
    }
  }
  return Finish("ListProxies", absl::OkStatus());
}

}  // namespace lb::api
