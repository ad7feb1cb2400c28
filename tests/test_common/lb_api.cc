#include "tests/test_common/lb_api.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/wait.h"

namespace lb::testing::xds {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

LbApi::LbApi(const std::string& target, absl::Duration deadline)
    : stub_(lb::v1::LoadBalancer::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
      deadline_(deadline) {}

void LbApi::Prepare(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  ctx->set_wait_for_ready(true);
}

absl::Status LbApi::CreateCluster(const std::string& name) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::CreateClusterRequest req;
  req.mutable_cluster()->set_name(name);
  req.mutable_cluster()->set_lb_policy(lb::v1::ROUND_ROBIN);
  lb::v1::Cluster resp;
  return FromGrpc(stub_->CreateCluster(&ctx, req, &resp), "CreateCluster");
}

absl::Status LbApi::DeleteCluster(const std::string& name) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::DeleteClusterRequest req;
  req.set_name(name);
  lb::v1::DeleteClusterResponse resp;
  return FromGrpc(stub_->DeleteCluster(&ctx, req, &resp), "DeleteCluster");
}

absl::StatusOr<lb::v1::Cluster> LbApi::GetCluster(const std::string& name) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::GetClusterRequest req;
  req.set_name(name);
  lb::v1::Cluster resp;
  if (absl::Status s = FromGrpc(stub_->GetCluster(&ctx, req, &resp), "GetCluster"); !s.ok()) {
    return s;
  }
  return resp;
}

absl::Status LbApi::UpdateCluster(const lb::v1::Cluster& cluster) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::UpdateClusterRequest req;
  *req.mutable_cluster() = cluster;
  lb::v1::Cluster resp;
  return FromGrpc(stub_->UpdateCluster(&ctx, req, &resp), "UpdateCluster");
}

absl::Status LbApi::AddEndpoint(const std::string& cluster, const std::string& address, int port,
                                int weight, const std::string& zone) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::AddEndpointRequest req;
  req.set_cluster(cluster);
  req.mutable_endpoint()->set_address(address);
  req.mutable_endpoint()->set_port(port);
  req.mutable_endpoint()->set_weight(weight);
  req.mutable_endpoint()->set_zone(zone);
  lb::v1::AddEndpointResponse resp;
  return FromGrpc(stub_->AddEndpoint(&ctx, req, &resp), "AddEndpoint");
}

absl::Status LbApi::RemoveEndpoint(const std::string& cluster, const std::string& address,
                                   int port) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::RemoveEndpointRequest req;
  req.set_cluster(cluster);
  req.set_address(address);
  req.set_port(port);
  lb::v1::RemoveEndpointResponse resp;
  return FromGrpc(stub_->RemoveEndpoint(&ctx, req, &resp), "RemoveEndpoint");
}

absl::Status LbApi::SetEndpointState(const std::string& cluster, const std::string& address,
                                     int port, lb::v1::AdminState state) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::SetEndpointStateRequest req;
  req.set_cluster(cluster);
  req.set_address(address);
  req.set_port(port);
  req.set_admin_state(state);
  lb::v1::SetEndpointStateResponse resp;
  return FromGrpc(stub_->SetEndpointState(&ctx, req, &resp), "SetEndpointState");
}

absl::StatusOr<lb::v1::ListProxiesResponse> LbApi::ListProxies() {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::ListProxiesResponse resp;
  if (absl::Status s =
          FromGrpc(stub_->ListProxies(&ctx, lb::v1::ListProxiesRequest(), &resp), "ListProxies");
      !s.ok()) {
    return s;
  }
  return resp;
}

absl::StatusOr<lb::v1::ListProxiesResponse> RestListProxies(int rest_port) {
  HttpRequest request;
  request.target = "/v1/proxies";
  request.headers = {{"Accept", "application/json"}};
  absl::StatusOr<HttpResponse> resp = HttpCall(rest_port, request);
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return absl::UnknownError(
        absl::StrCat("GET /v1/proxies: HTTP ", resp->status, ": ", resp->body));
  }
  lb::v1::ListProxiesResponse out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(resp->body, &out, options);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat(
        "GET /v1/proxies: not a ListProxiesResponse: ", s.ToString(), ": ", resp->body));
  }
  return out;
}

const lb::v1::ProxyStatus* FindProxy(const lb::v1::ListProxiesResponse& proxies,
                                     const std::string& node_id) {
  for (const auto& p : proxies.proxies()) {
    if (p.node_id() == node_id) return &p;
  }
  return nullptr;
}

const lb::v1::ProxyResourceStatus* FindType(const lb::v1::ProxyStatus& proxy,
                                            const std::string& type_url) {
  for (const auto& r : proxy.resources()) {
    if (r.type_url() == type_url) return &r;
  }
  return nullptr;
}

absl::StatusOr<lb::v1::ProxyStatus> WaitForProxy(
    LbApi* api, const std::string& node_id,
    const std::function<bool(const lb::v1::ProxyStatus&)>& predicate, absl::Duration timeout) {
  std::string last = "(no answer)";
  lb::v1::ProxyStatus found;
  bool ok = WaitUntil(
      [&] {
        absl::StatusOr<lb::v1::ListProxiesResponse> proxies = api->ListProxies();
        if (!proxies.ok()) {
          last = proxies.status().ToString();
          return false;
        }
        const lb::v1::ProxyStatus* p = FindProxy(*proxies, node_id);
        if (p != nullptr && predicate(*p)) {
          found = *p;
          return true;
        }
        last = proxies->DebugString();
        return false;
      },
      timeout);
  if (ok) return found;
  return absl::DeadlineExceededError(absl::StrCat("proxy \"", node_id, "\" not as expected within ",
                                                  absl::FormatDuration(timeout),
                                                  "; last ListProxies:\n", last));
}

bool AllAcked(const lb::v1::ProxyStatus& proxy) {
  bool any_sent = false;
  for (const auto& r : proxy.resources()) {
    if (r.version_sent() != r.version_acked()) return false;
    any_sent |= !r.version_sent().empty();
  }
  return any_sent;
}

}  // namespace lb::testing::xds
