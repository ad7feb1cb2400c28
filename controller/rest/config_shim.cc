// The seed's /config API (nginx + Lua blog post; docs/seed-config-api.md), reproduced for every
// case the seed defines:
//   GET  -> 200, JSON array of "ip:port" of cluster "backend" in insertion order
//   POST {"action":"add"|"del","ip":..,"port":..} -> 200 with an empty body, or the bodies
//        "Upstream already exist", "Upstream not found", "Invalid action" (all 200, as the seed)
//   other methods -> 400 "Only POST and GET requests are allowed!"
// Where the seed crashed with a 500 (bad JSON, missing or mistyped fields, bad port or address,
// huge body) this answers 400 naming the problem and changes nothing. Extensions: optional
// "cluster" and "weight" fields, GET /config?cluster=NAME, and the /v1 versions: GET carries the
// cluster's ETag, a POST with If-Match is refused with 409 when the cluster is at another version.
#include <nlohmann/json.hpp>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "common/net/address.h"
#include "common/validation/validation_errors.h"
#include "controller/api/status_map.h"
#include "controller/model/validation.h"
#include "controller/rest/rest_handler.h"

namespace lb::rest {

using http::HttpRequest;
using http::HttpResponse;

namespace {

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse TextError(const absl::Status& status) {
  HttpResponse r = Text(api::HttpStatusFor(status), absl::StrCat(status.message(), "\n"));
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return r;
}

// An integer field that the seed concatenated into a string: a JSON integer, or a string of
// decimal digits (Lua's `..` accepted both). 128 bits hold every JSON integer exactly: nlohmann
// keeps negative ones as int64 and non-negative ones up to 2^64-1 as uint64, so neither may be
// read as the other (get<int64_t>() of 18446744073709551615 would be -1).
bool IntegerField(const nlohmann::json& v, absl::int128* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!(d > -1e15 && d < 1e15) || d != static_cast<double>(static_cast<int64_t>(d))) {
      return false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty() || s.size() > 18) return false;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    *out = std::stoll(s);
    return true;
  }
  return false;
}

}  // namespace

HttpResponse RestHandler::HandleConfig(const HttpRequest& req) {
  if (req.method == "GET") {
    std::string cluster = QueryParam(req.target, "cluster");
    if (cluster.empty()) cluster = registry::kDefaultCluster;
    absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster(cluster);
    if (!c.ok()) return TextError(c.status());
    nlohmann::json upstreams = nlohmann::json::array();
    for (const auto& e : c->endpoints()) {
      upstreams.push_back(net::JoinHostPort(e.address(), e.port()));
    }
    HttpResponse r = Text(200, upstreams.dump());
    r.content_type = "application/json";
    r.headers.emplace_back("ETag", absl::StrCat("\"", c->version(), "\""));
    return r;
  }
  if (req.method != "POST") return Text(400, "Only POST and GET requests are allowed!");
  absl::StatusOr<std::string> token_name = auth_->Authenticate(req.Header("Authorization"));
  if (!token_name.ok()) return TextError(token_name.status());
  audit::ScopedCaller caller(RestCaller(req, audit::kApiRestConfig, *token_name));
  if (req.body.size() > kMaxBodyBytes) {
    return Text(400, absl::StrCat("request body too large: ", req.body.size(), " bytes (limit ",
                                  kMaxBodyBytes, ")\n"));
  }
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Text(400, "request body is not valid JSON\n");
  if (!body.is_object()) {
    return Text(400,
                "request body must be a JSON object like "
                "{\"action\":\"add\",\"ip\":\"10.0.0.1\",\"port\":8080}\n");
  }

  ValidationErrors errors;
  lb::v1::Endpoint endpoint;
  auto ip = body.find("ip");
  if (ip == body.end() || ip->is_null()) {
    errors.AddFieldError("ip", "is required");
  } else if (!ip->is_string()) {
    errors.AddFieldError("ip", "must be a string");
  } else {
    absl::StatusOr<std::string> address =
        model::NormalizeAddress(ip->get_ref<const std::string&>());
    if (address.ok()) {
      endpoint.set_address(*address);
    } else {
      errors.AddFieldError("ip", address.status().message());
    }
  }
  auto port = body.find("port");
  absl::int128 port_value = 0;
  if (port == body.end() || port->is_null()) {
    errors.AddFieldError("port", "is required");
  } else if (!IntegerField(*port, &port_value)) {
    errors.AddFieldError("port", "must be an integer from 1 to 65535");
  } else if (std::string p = model::PortProblem(port_value); !p.empty()) {
    errors.AddFieldError("port", p);
  } else {
    endpoint.set_port(static_cast<uint32_t>(port_value));
  }
  std::string cluster = registry::kDefaultCluster;
  if (auto c = body.find("cluster"); c != body.end() && !c->is_null()) {
    if (!c->is_string() || !model::IsValidName(c->get_ref<const std::string&>())) {
      errors.AddFieldError("cluster", "must be a cluster name (1-128 of [a-zA-Z0-9_.-])");
    } else {
      cluster = c->get<std::string>();
    }
  }
  if (auto w = body.find("weight"); w != body.end() && !w->is_null()) {
    absl::int128 weight = 0;
    if (!w->is_number() || !IntegerField(*w, &weight) || weight < 1 || weight > model::kMaxWeight) {
      errors.AddFieldError("weight",
                           absl::StrCat("must be an integer from 1 to ", model::kMaxWeight));
    } else {
      endpoint.set_weight(static_cast<uint32_t>(weight));
    }
  }
  if (!errors.ok()) return Text(400, absl::StrCat(errors.message(), "\n"));
  absl::StatusOr<int64_t> expected = ExpectedVersion(req);
  if (!expected.ok()) return TextError(expected.status());

  auto action = body.find("action");
  std::string verb = action != body.end() && action->is_string() ? action->get<std::string>() : "";
  if (verb == "add") {
    absl::StatusOr<lb::v1::Cluster> c = registry_->AddEndpoint(cluster, endpoint, *expected);
    if (c.ok()) return Text(200, "");
    if (c.status().code() == absl::StatusCode::kAlreadyExists) {
      return Text(200, "Upstream already exist");
    }
    return TextError(c.status());
  }
  if (verb == "del") {
    absl::StatusOr<lb::v1::Cluster> c =
        registry_->RemoveEndpoint(cluster, endpoint.address(), endpoint.port(), *expected);
    if (c.ok()) return Text(200, "");
    if (c.status().code() == absl::StatusCode::kNotFound) {
      // A missing cluster is our extension's error, not the seed's "not found" upstream.
      absl::StatusOr<lb::v1::Cluster> exists = registry_->GetCluster(cluster);
      if (!exists.ok()) return TextError(exists.status());
      return Text(200, "Upstream not found");
    }
    return TextError(c.status());
  }
  return Text(200, "Invalid action");
}

}  // namespace lb::rest
