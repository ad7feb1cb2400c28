// The controller's REST API:
//   /config          the seed's API, reproduced exactly (see config_shim.cc)
//   /v1/...          resource API for clusters, endpoints and routes (JSON, lb.v1 field names)
//   /healthz /readyz /metrics
//   /ui              the web console (controller/ui, docs/console.md)
// Every mutation goes through registry::Registry, like the gRPC API.
//
// /v1 contract: reads answer with ETag: "<version>" of the cluster (or the route table) they
// show; every write takes If-Match: <version> ("12", "\"12\"" or W/"12"; "*" or none: any) and
// answers 409 ABORTED naming the current version when it is stale. Errors are
// {"error":{"code":C,"message":M}} where C is the canonical name of the status code that maps to
// the HTTP status (api::HttpStatusFor), or METHOD_NOT_ALLOWED for 405 (with Allow).
#ifndef LB_CONTROLLER_REST_REST_HANDLER_H_
#define LB_CONTROLLER_REST_REST_HANDLER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/http/http_types.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/api/auth.h"
#include "controller/audit/audit.h"
#include "controller/lrs/endpoint_status_source.h"
#include "controller/registry/registry.h"
#include "controller/rest/json_body.h"
#include "google/protobuf/message.h"

namespace lb::rest {

// Extra read-only endpoints other components register (e.g. /v1/proxies from the xDS server).
// Returns false if it does not handle the path.
using ExtraHandler = std::function<bool(const http::HttpRequest&, http::HttpResponse*)>;

// Thread-safe if the registry is. Dependencies must outlive the handler; request latencies are
// measured on `clock`.
class RestHandler {
 public:
  RestHandler(registry::Registry* registry, const api::TokenAuth* auth, metrics::Registry* metrics,
              Clock* clock = Clock::Real());

  void AddExtraHandler(ExtraHandler handler) { extra_ = std::move(handler); }
  // Fills each endpoint's status in GET /v1/clusters/{name}/endpoints; unset: no status.
  void SetEndpointStatusSource(lrs::EndpointStatusSource source) {
    endpoint_status_ = std::move(source);
  }

  // /readyz answers 503 with the status's message when this says not ok; unset: the store
  // answers a read of the route table.
  void SetReadiness(std::function<absl::Status()> readiness) { readiness_ = std::move(readiness); }

  http::HttpResponse Handle(const http::HttpRequest& request);

 private:
  http::HttpResponse Route(const http::HttpRequest& request, absl::string_view path,
                           std::string* route);
  http::HttpResponse HandleConfig(const http::HttpRequest& request);
  http::HttpResponse HandleV1(const http::HttpRequest& request, absl::string_view path,
                              std::string* route);
  // /v1/clusters... and /v1/routes...; `parts` are the decoded path segments after /v1/.
  http::HttpResponse HandleClusters(const http::HttpRequest& request, absl::string_view path,
                                    const std::vector<std::string>& parts, std::string* route);
  // /v1/secrets and /v1/secrets/{name}: certificates (never with their private key).
  http::HttpResponse HandleSecrets(const http::HttpRequest& request,
                                   const std::vector<std::string>& parts, std::string* route);
  http::HttpResponse HandleRoutes(const http::HttpRequest& request,
                                  const std::vector<std::string>& parts, std::string* route);

  registry::Registry* const registry_;
  const api::TokenAuth* const auth_;
  metrics::Registry* const metrics_;
  Clock* const clock_;
  ExtraHandler extra_;
  std::function<absl::Status()> readiness_;
  lrs::EndpointStatusSource endpoint_status_;
};

// Helpers shared by the handlers (exposed for tests).
// Decodes %XX escapes; false on a malformed escape.
bool PercentDecode(absl::string_view in, std::string* out);
// Value of `name` in the query string of `target`, decoded; "" if absent.
std::string QueryParam(absl::string_view target, absl::string_view name);
// The audit trail's caller of an authenticated write through `api` (audit::kApiRest*).
audit::Caller RestCaller(const http::HttpRequest& request, absl::string_view api,
                         absl::string_view token_name);
// The API's JSON of a message: proto field names, every primitive field printed, no
// whitespace; "{}" if it cannot be printed.
std::string ProtoJson(const google::protobuf::Message& m);
// {"error":{"code":"NOT_FOUND","message":"..."}} with the mapped HTTP status.
http::HttpResponse JsonError(const absl::Status& status);
// The version in `request`'s If-Match ("12", "\"12\"" or W/"12"); 0 when absent or "*"
// (unconditional); INVALID_ARGUMENT when it is not a version.
absl::StatusOr<int64_t> ExpectedVersion(const http::HttpRequest& request);
// 405 {"error":{"code":"METHOD_NOT_ALLOWED",...}} with an Allow header listing `allow`.
http::HttpResponse MethodNotAllowed(absl::string_view method, absl::string_view allow);

}  // namespace lb::rest

#endif  // LB_CONTROLLER_REST_REST_HANDLER_H_
