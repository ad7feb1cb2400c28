#include "controller/rest/rest_handler.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/net/address.h"
#include "controller/api/status_map.h"
#include "controller/model/validation.h"
#include "controller/rest/json_body.h"
#include "controller/ui/ui_handler.h"
#include "google/protobuf/util/json_util.h"

namespace lb::rest {

using http::HttpRequest;
using http::HttpResponse;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

HttpResponse JsonMessage(int status, const google::protobuf::Message& m) {
  return Json(status, ProtoJson(m));
}

template <typename T>
HttpResponse JsonOr(int status, const absl::StatusOr<T>& result) {
  if (!result.ok()) return JsonError(result.status());
  return JsonMessage(status, *result);
}

// Adds the ETag of a resource at `version` (strong: the version is exact).
HttpResponse WithETag(HttpResponse r, int64_t version) {
  if (r.status < 300) r.headers.emplace_back("ETag", absl::StrCat("\"", version, "\""));
  return r;
}

// A cluster with its version as the ETag.
HttpResponse ClusterJson(int status, const absl::StatusOr<lb::v1::Cluster>& result) {
  if (!result.ok()) return JsonError(result.status());
  return WithETag(JsonMessage(status, *result), result->version());
}

// The registry returns certificates without their private key.
HttpResponse CertificateJson(int status, const absl::StatusOr<lb::v1::Certificate>& result) {
  if (!result.ok()) return JsonError(result.status());
  return WithETag(JsonMessage(status, *result), result->version());
}

HttpResponse TableJson(int status, const absl::StatusOr<lb::v1::RouteTable>& result) {
  if (!result.ok()) return JsonError(result.status());
  return WithETag(JsonMessage(status, *result), result->version());
}

HttpResponse NoContent() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

bool IsMutating(absl::string_view method) { return method != "GET" && method != "HEAD"; }

// The JSON error body of `code` (an upper-case name) and `message`.
std::string ErrorBody(absl::string_view code, absl::string_view message) {
  std::string escaped;
  // Messages may quote any bytes a client sent (e.g. a %FF path segment). JSON text must be
  // UTF-8, so well-formed sequences are copied and every other byte becomes U+FFFD.
  while (!message.empty()) {
    size_t n = model::Utf8SequenceLength(message);
    if (n != 1) {
      absl::StrAppend(&escaped, n == 0 ? absl::string_view("\xEF\xBF\xBD") : message.substr(0, n));
      message.remove_prefix(n == 0 ? 1 : n);
      continue;
    }
    char c = message[0];
    message.remove_prefix(1);
    switch (c) {
      case '"':
        escaped += "\\\"";
        break;
      case '\\':
        escaped += "\\\\";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          escaped += absl::StrCat("\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          escaped += c;
        }
    }
  }
  return absl::StrCat("{\"error\":{\"code\":\"", code, "\",\"message\":\"", escaped, "\"}}");
}

}  // namespace

std::string ProtoJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) return "{}";
  return out;
}

absl::StatusOr<int64_t> ExpectedVersion(const HttpRequest& req) {
  absl::string_view v = absl::StripAsciiWhitespace(req.Header("If-Match"));
  if (v.empty() || v == "*") return 0;
  absl::ConsumePrefix(&v, "W/");
  if (absl::ConsumePrefix(&v, "\"") && !absl::ConsumeSuffix(&v, "\"")) v = "x";
  int64_t version = 0;
  if (!absl::SimpleAtoi(v, &version) || version <= 0) {
    return absl::InvalidArgumentError("If-Match: must be a version number from a previous read");
  }
  return version;
}

HttpResponse MethodNotAllowed(absl::string_view method, absl::string_view allow) {
  HttpResponse r =
      Json(405, ErrorBody("METHOD_NOT_ALLOWED",
                          absl::StrCat("method ", method, " not allowed here; allowed: ", allow)));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string QueryParam(absl::string_view target, absl::string_view name) {
  size_t q = target.find('?');
  if (q == absl::string_view::npos) return "";
  for (absl::string_view pair : absl::StrSplit(target.substr(q + 1), '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.first != name) continue;
    std::string value = std::string(kv.second);
    std::replace(value.begin(), value.end(), '+', ' ');
    std::string decoded;
    return PercentDecode(value, &decoded) ? decoded : "";
  }
  return "";
}

HttpResponse JsonError(const absl::Status& status) {
  std::string code = absl::StatusCodeToString(status.code());
  absl::AsciiStrToUpper(&code);
  HttpResponse r = Json(api::HttpStatusFor(status), ErrorBody(code, status.message()));
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return r;
}

audit::Caller RestCaller(const HttpRequest& request, absl::string_view api,
                         absl::string_view token_name) {
  return audit::Caller{std::string(api), audit::Identity(request.client_cert_subject, token_name),
                       request.peer};
}

RestHandler::RestHandler(registry::Registry* registry, const api::TokenAuth* auth,
                         metrics::Registry* metrics, Clock* clock)
    : registry_(registry), auth_(auth), metrics_(metrics), clock_(clock) {}

HttpResponse RestHandler::Handle(const HttpRequest& request) {
  absl::Time start = clock_->Now();
  absl::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  std::string route = "other";
  HttpResponse response = Route(request, path, &route);
  metrics_
      ->GetCounter("lb_controller_http_requests_total", "REST requests by route and status.",
                   {{"route", route}, {"code", absl::StrCat(response.status)}})
      ->Increment();
  metrics_
      ->GetHistogram("lb_controller_http_request_seconds", "REST request latency.",
                     {{"route", route}})
      ->Observe(absl::ToDoubleSeconds(clock_->Now() - start));
  return response;
}

HttpResponse RestHandler::Route(const HttpRequest& req, absl::string_view path,
                                std::string* route) {
  if (path == "/config") {
    *route = "/config";
    return HandleConfig(req);
  }
  if (path == "/healthz") {
    *route = "/healthz";
    HttpResponse r;
    r.body = "ok\n";
    return r;
  }
  if (path == "/readyz") {
    *route = "/readyz";
    absl::Status ready = readiness_ ? readiness_() : registry_->GetRouteTable().status();
    HttpResponse r;
    if (ready.ok()) {
      r.body = "ready\n";
    } else {
      r.status = 503;
      r.body = absl::StrCat("not ready: ", ready.message(), "\n");
    }
    return r;
  }
  if (path == "/metrics") {
    *route = "/metrics";
    HttpResponse r;
    r.content_type = metrics::kTextContentType;
    r.body = metrics_->Render();
    return r;
  }
  if (ui::IsUiPath(path)) {
    *route = "/ui";
    return ui::ServeUi(req, path);
  }
  if (absl::StartsWith(path, "/v1/")) {
    HttpResponse r;
    if (extra_ && extra_(req, &r)) {
      *route = "/v1/extra";
      return r;
    }
    // The caller of a write, for the audit trail (docs/audit.md).
    std::optional<audit::ScopedCaller> caller;
    if (IsMutating(req.method)) {
      absl::StatusOr<std::string> token_name = auth_->Authenticate(req.Header("Authorization"));
      if (!token_name.ok()) {
        *route = "/v1";
        return JsonError(token_name.status());
      }
      caller.emplace(RestCaller(req, audit::kApiRestV1, *token_name));
    }
    return HandleV1(req, path, route);
  }
  return JsonError(absl::NotFoundError(absl::StrCat("no such path: ", path)));
}

HttpResponse RestHandler::HandleV1(const HttpRequest& req, absl::string_view path,
                                   std::string* route) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path.substr(4), '/', absl::SkipEmpty())) {
    std::string decoded;
    if (!PercentDecode(p, &decoded)) {
      return JsonError(absl::InvalidArgumentError("malformed %-escape in the path"));
    }
    parts.push_back(std::move(decoded));
  }
  if (!parts.empty() && parts[0] == "clusters") return HandleClusters(req, path, parts, route);
  if (!parts.empty() && parts[0] == "routes" && parts.size() <= 2) {
    return HandleRoutes(req, parts, route);
  }
  if (!parts.empty() && parts[0] == "secrets" && parts.size() <= 2) {
    return HandleSecrets(req, parts, route);
  }
  *route = "/v1/other";
  return JsonError(absl::NotFoundError(absl::StrCat("no such path: ", path)));
}

HttpResponse RestHandler::HandleClusters(const HttpRequest& req, absl::string_view path,
                                         const std::vector<std::string>& parts,
                                         std::string* route) {
  // HEAD is GET without the body (the server drops it).
  const std::string m = req.method == "HEAD" ? "GET" : req.method;
  absl::StatusOr<int64_t> expected = ExpectedVersion(req);
  if (!expected.ok()) return JsonError(expected.status());
  if (parts.size() == 1) {
    *route = "/v1/clusters";
    if (m == "GET") {
      absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
      if (!cs.ok()) return JsonError(cs.status());
      lb::v1::ListClustersResponse resp;
      for (auto& c : *cs) *resp.add_clusters() = std::move(c);
      return JsonMessage(200, resp);
    }
    if (m == "POST") {
      if (*expected != 0) {
        return JsonError(absl::InvalidArgumentError(
            "If-Match: a new cluster has no version yet (an existing name is 409 anyway)"));
      }
      lb::v1::Cluster cluster;
      if (absl::Status s = ParseJsonBody(req.body, "cluster", &cluster); !s.ok()) {
        return JsonError(s);
      }
      HttpResponse r = ClusterJson(201, registry_->CreateCluster(cluster));
      if (r.status == 201) r.headers.emplace_back("Location", "/v1/clusters/" + cluster.name());
      return r;
    }
    return MethodNotAllowed(req.method, "GET, HEAD, POST");
  }
  const std::string& name = parts[1];
  if (parts.size() == 2) {
    *route = "/v1/clusters/{name}";
    if (m == "GET") return ClusterJson(200, registry_->GetCluster(name));
    if (m == "PUT" || m == "PATCH") {
      lb::v1::Cluster cluster;
      google::protobuf::FieldMask named;
      if (absl::Status s = ParseJsonBody(req.body, "cluster", &cluster, &named); !s.ok()) {
        return JsonError(s);
      }
      if (cluster.name().empty()) cluster.set_name(name);
      if (cluster.name() != name) {
        return JsonError(absl::InvalidArgumentError(absl::StrCat(
            "cluster.name: \"", cluster.name(), "\" does not match the path's \"", name, "\"")));
      }
      if (cluster.endpoints_size() > 0) {
        return JsonError(absl::InvalidArgumentError(
            "cluster.endpoints: change endpoints through /v1/clusters/{name}/endpoints"));
      }
      if (m == "PUT") return ClusterJson(200, registry_->UpdateCluster(cluster, *expected));
      // PATCH merges: the fields the body names (name and version are not settings).
      google::protobuf::FieldMask mask;
      for (const std::string& p : named.paths()) {
        if (p != "name" && p != "version" && p != "endpoints") mask.add_paths(p);
      }
      if (mask.paths_size() == 0) return ClusterJson(200, registry_->GetCluster(name));
      return ClusterJson(200, registry_->UpdateCluster(cluster, mask, *expected));
    }
    if (m == "DELETE") {
      absl::Status s = registry_->DeleteCluster(name, *expected);
      return s.ok() ? NoContent() : JsonError(s);
    }
    return MethodNotAllowed(req.method, "GET, HEAD, PUT, PATCH, DELETE");
  }
  if (parts[2] != "endpoints" || parts.size() > 5 || parts.size() == 4) {
    return JsonError(absl::NotFoundError(absl::StrCat("no such path: ", path)));
  }
  if (parts.size() == 3) {
    *route = "/v1/clusters/{name}/endpoints";
    if (m == "GET") {
      absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(name);
      if (!c.ok()) return JsonError(c.status());
      lb::v1::ListEndpointsResponse resp;
      *resp.mutable_endpoints() = std::move(*c->mutable_endpoints());
      resp.set_version(c->version());
      if (endpoint_status_) endpoint_status_(name, resp.mutable_endpoints());
      return WithETag(JsonMessage(200, resp), resp.version());
    }
    if (m == "POST") {
      lb::v1::Endpoint endpoint;
      if (absl::Status s = ParseJsonBody(req.body, "endpoint", &endpoint); !s.ok()) {
        return JsonError(s);
      }
      absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint(name, endpoint, *expected);
      if (!c.ok()) return JsonError(c.status());
      lb::v1::AddEndpointResponse resp;
      *resp.mutable_cluster() = std::move(*c);
      return WithETag(JsonMessage(201, resp), resp.cluster().version());
    }
    return MethodNotAllowed(req.method, "GET, HEAD, POST");
  }
  *route = "/v1/clusters/{name}/endpoints/{address}/{port}";
  std::optional<uint16_t> parsed_port = net::ParsePort(parts[4]);
  if (!parsed_port.has_value() || *parsed_port == 0) {
    return JsonError(absl::InvalidArgumentError(
        absl::StrCat("port: must be from 1 to 65535, got \"", parts[4], "\"")));
  }
  const int64_t port = *parsed_port;
  const std::string& address = parts[3];
  if (m == "GET") {
    int64_t version = 0;
    absl::StatusOr<lb::v1::Endpoint> e = registry_->GetEndpoint(name, address, port, &version);
    if (!e.ok()) return JsonError(e.status());
    return WithETag(JsonMessage(200, *e), version);
  }
  if (m == "PATCH") {
    lb::v1::Endpoint patch;
    google::protobuf::FieldMask named;
    if (absl::Status s = ParseJsonBody(req.body, "endpoint", &patch, &named); !s.ok()) {
      return JsonError(s);
    }
    if (named.paths_size() == 0) {
      return JsonError(absl::InvalidArgumentError(
          "nothing to change: give weight, zone, labels or admin_state"));
    }
    absl::StatusOr<lb::v1::Cluster> c =
        registry_->UpdateEndpoint(name, address, port, patch, named, *expected);
    if (!c.ok()) return JsonError(c.status());
    lb::v1::UpdateEndpointResponse resp;
    *resp.mutable_cluster() = std::move(*c);
    return WithETag(JsonMessage(200, resp), resp.cluster().version());
  }
  if (m == "DELETE") {
    absl::StatusOr<lb::v1::Cluster> c = registry_->RemoveEndpoint(name, address, port, *expected);
    return c.ok() ? WithETag(NoContent(), c->version()) : JsonError(c.status());
  }
  return MethodNotAllowed(req.method, "GET, HEAD, PATCH, DELETE");
}

HttpResponse RestHandler::HandleRoutes(const HttpRequest& req,
                                       const std::vector<std::string>& parts, std::string* route) {
  const std::string m = req.method == "HEAD" ? "GET" : req.method;
  absl::StatusOr<int64_t> expected = ExpectedVersion(req);
  if (!expected.ok()) return JsonError(expected.status());
  if (parts.size() == 1) {
    *route = "/v1/routes";
    if (m == "GET") return TableJson(200, registry_->GetRouteTable());
    if (m == "POST") {
      lb::v1::Route r;
      if (absl::Status s = ParseJsonBody(req.body, "route", &r); !s.ok()) return JsonError(s);
      HttpResponse resp = TableJson(201, registry_->CreateRoute(r, *expected));
      if (resp.status == 201) resp.headers.emplace_back("Location", "/v1/routes/" + r.name());
      return resp;
    }
    return MethodNotAllowed(req.method, "GET, HEAD, POST");
  }
  *route = "/v1/routes/{name}";
  const std::string& name = parts[1];
  if (m == "GET") {
    absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
    if (!t.ok()) return JsonError(t.status());
    for (const auto& r : t->routes()) {
      if (r.name() == name) return WithETag(JsonMessage(200, r), t->version());
    }
    return JsonError(absl::NotFoundError(absl::StrCat("route \"", name, "\" not found")));
  }
  if (m == "PUT") {
    lb::v1::Route r;
    if (absl::Status s = ParseJsonBody(req.body, "route", &r); !s.ok()) return JsonError(s);
    if (r.name().empty()) r.set_name(name);
    if (r.name() != name) {
      return JsonError(absl::InvalidArgumentError(
          absl::StrCat("route.name: \"", r.name(), "\" does not match the path's \"", name, "\"")));
    }
    return TableJson(200, registry_->UpdateRoute(r, *expected));
  }
  if (m == "DELETE") {
    absl::StatusOr<lb::v1::RouteTable> t = registry_->DeleteRoute(name, *expected);
    return t.ok() ? WithETag(NoContent(), t->version()) : JsonError(t.status());
  }
  return MethodNotAllowed(req.method, "GET, HEAD, PUT, DELETE");
}

HttpResponse RestHandler::HandleSecrets(const HttpRequest& req,
                                        const std::vector<std::string>& parts, std::string* route) {
  const std::string m = req.method == "HEAD" ? "GET" : req.method;
  absl::StatusOr<int64_t> expected = ExpectedVersion(req);
  if (!expected.ok()) return JsonError(expected.status());
  if (parts.size() == 1) {
    *route = "/v1/secrets";
    if (m == "GET") {
      absl::StatusOr<std::vector<lb::v1::Certificate>> cs = registry_->ListCertificates();
      if (!cs.ok()) return JsonError(cs.status());
      lb::v1::ListCertificatesResponse resp;
      for (auto& c : *cs) *resp.add_certificates() = std::move(c);
      return JsonMessage(200, resp);
    }
    if (m == "POST") {
      if (*expected != 0) {
        return JsonError(absl::InvalidArgumentError(
            "If-Match: a new certificate has no version yet (an existing name is 409 anyway)"));
      }
      lb::v1::Certificate cert;
      if (absl::Status s = ParseJsonBody(req.body, "certificate", &cert); !s.ok()) {
        return JsonError(s);
      }
      HttpResponse r = CertificateJson(201, registry_->CreateCertificate(cert));
      if (r.status == 201) r.headers.emplace_back("Location", "/v1/secrets/" + cert.name());
      return r;
    }
    return MethodNotAllowed(req.method, "GET, HEAD, POST");
  }
  *route = "/v1/secrets/{name}";
  const std::string& name = parts[1];
  if (m == "GET") return CertificateJson(200, registry_->GetCertificate(name));
  if (m == "PUT") {
    lb::v1::Certificate cert;
    if (absl::Status s = ParseJsonBody(req.body, "certificate", &cert); !s.ok()) {
      return JsonError(s);
    }
    if (cert.name().empty()) cert.set_name(name);
    if (cert.name() != name) {
      return JsonError(absl::InvalidArgumentError(absl::StrCat(
          "certificate.name: \"", cert.name(), "\" does not match the path's \"", name, "\"")));
    }
    return CertificateJson(200, registry_->UpdateCertificate(cert, *expected));
  }
  if (m == "DELETE") {
    absl::Status s = registry_->DeleteCertificate(name, *expected);
    return s.ok() ? NoContent() : JsonError(s);
  }
  return MethodNotAllowed(req.method, "GET, HEAD, PUT, DELETE");
}

}  // namespace lb::rest
