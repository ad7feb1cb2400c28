#include "controller/rest/events_handler.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/rest/rest_handler.h"

namespace lb::rest {
namespace {

// `name`'s value as an integer in [min, max]; `fallback` when absent.
absl::StatusOr<int64_t> IntParam(absl::string_view target, absl::string_view name, int64_t min,
                                 int64_t max, int64_t fallback) {
  const std::string value = QueryParam(target, name);
  if (value.empty()) return fallback;
  int64_t n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < min || n > max) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": must be an integer from ", min, " to ",
                                                   max, ", got \"", value.substr(0, 32), "\""));
  }
  return n;
}

nlohmann::json EventJson(const lb::v1::Event& event) {
  nlohmann::json j = nlohmann::json::parse(ProtoJson(event), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return nlohmann::json::object();
  // int64 is a string in proto JSON; the revision is small enough for a number.
  j["revision"] = event.revision();
  for (const auto& [field, key] :
       {std::pair<const char*, const char*>{"before_json", "before"}, {"after_json", "after"}}) {
    const std::string& raw = j[field].get_ref<const std::string&>();
    nlohmann::json parsed = raw.empty()
                                ? nlohmann::json()
                                : nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
    j[key] = parsed.is_discarded() ? nlohmann::json() : std::move(parsed);
    j.erase(field);
  }
  return j;
}

}  // namespace

bool ServeEvents(registry::Registry* registry, const http::HttpRequest& request,
                 http::HttpResponse* response) {
  absl::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  if (path != "/v1/events") return false;
  if (request.method != "GET" && request.method != "HEAD") {
    *response = MethodNotAllowed(request.method, "GET, HEAD");
    return true;
  }
  audit::ListOptions options;
  options.cluster = QueryParam(request.target, "cluster");
  absl::StatusOr<int64_t> since =
      IntParam(request.target, "since", 0, std::numeric_limits<int64_t>::max(), 0);
  absl::StatusOr<int64_t> limit =
      IntParam(request.target, "limit", 1, audit::kMaxListLimit, audit::kDefaultListLimit);
  if (!since.ok() || !limit.ok()) {
    *response = JsonError(!since.ok() ? since.status() : limit.status());
    return true;
  }
  options.since = *since;
  options.limit = static_cast<uint32_t>(*limit);
  absl::StatusOr<std::vector<lb::v1::Event>> events = registry->ListEvents(options);
  if (!events.ok()) {
    *response = JsonError(events.status());
    return true;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const lb::v1::Event& e : *events) list.push_back(EventJson(e));
  response->status = 200;
  response->content_type = "application/json";
  response->body = nlohmann::json{{"events", std::move(list)}}.dump() + "\n";
  return true;
}

}  // namespace lb::rest
