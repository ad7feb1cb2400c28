#include "cli/lbctl.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/net/address.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"

namespace lb::cli {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kVersion[] = "0.1.0";
constexpr char kDefaultController[] = "127.0.0.1:18000";
constexpr char kDefaultCluster[] = "backend";

constexpr char kMainDescription[] =
    "lbctl manages the load balancer through its controller's lb.v1 gRPC API.";

constexpr char kMainFooter[] = R"(Environment:
  LBCTL_CONTROLLER  controller address when --controller is not given
  LBCTL_TOKEN       bearer token when neither --token nor --token-file is given

Exit codes:
  0  success
  1  the controller refused the request (invalid, not found, already exists, conflict...)
  2  usage error: bad flags or arguments (the controller is not contacted)
  3  controller unreachable, or no answer within --timeout
  4  unauthenticated or permission denied (give a token)

Examples:
  lbctl add 127.0.0.1 1111
  lbctl add 10.0.0.7:8080 --weight 3 --zone eu-1
  lbctl list -o json
  lbctl del 127.0.0.1 1111
  lbctl cluster create web --policy round_robin --hc-path /healthz
  lbctl route create api --cluster web --prefix /api

Run 'lbctl COMMAND --help' for a command's flags.)";

// Global flags, shared by every command.
struct GlobalFlags {
  std::string controller;
  std::string token;
  std::string token_file;
  std::string output = "table";
  std::string timeout = "5s";
  CLI::Option* controller_opt = nullptr;
  CLI::Option* timeout_opt = nullptr;
};

// The validated global settings a command runs with.
struct Settings {
  std::string controller;
  std::string token;
  bool json = false;
  absl::Duration timeout;
  bool timeout_given = false;
};

// A command's local failure: bad usage (exit 2).
struct UsageError {
  std::string message;
};

// ---------------------------------------------------------------------------------------------
// Parsing helpers.

// "abc" → error; 1-65535 only.
bool ParsePort(absl::string_view text, uint32_t* port, std::string* error) {
  std::optional<uint16_t> value = net::ParsePort(text);
  if (!value.has_value() || *value == 0) {
    *error = absl::StrCat("invalid PORT \"", text, "\": must be a number from 1 to 65535");
    return false;
  }
  *port = *value;
  return true;
}

// IP PORT, IP:PORT, [IPv6]:PORT, or [IPv6] PORT. IP may be a hostname.
bool ParseEndpointArgs(const std::string& ip, const std::string& port_arg, bool port_given,
                       std::string* address, uint32_t* port, std::string* error) {
  absl::string_view host = ip;
  absl::string_view port_text = port_arg;
  if (!port_given) {
    if (absl::StartsWith(host, "[")) {
      size_t close = host.find(']');
      if (close == absl::string_view::npos) {
        *error = absl::StrCat("invalid address \"", ip, "\": missing \"]\"");
        return false;
      }
      absl::string_view rest = host.substr(close + 1);
      if (!absl::StartsWith(rest, ":")) {
        *error = absl::StrCat("missing PORT: give IP PORT, IP:PORT or [IPv6]:PORT");
        return false;
      }
      port_text = rest.substr(1);
      host = host.substr(1, close - 1);
    } else {
      size_t colon = host.find(':');
      if (colon == absl::string_view::npos) {
        *error = "missing PORT: give IP PORT, IP:PORT or [IPv6]:PORT";
        return false;
      }
      if (host.find(':', colon + 1) != absl::string_view::npos) {
        *error = absl::StrCat("ambiguous \"", ip,
                              "\": write an IPv6 address as [IPv6]:PORT or give PORT separately");
        return false;
      }
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  } else if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    *error = "missing IP: give IP PORT, IP:PORT or [IPv6]:PORT";
    return false;
  }
  if (!ParsePort(port_text, port, error)) return false;
  *address = std::string(host);
  return true;
}

bool ParseDurationFlag(absl::string_view flag, const std::string& text,
                       google::protobuf::Duration* out, std::string* error) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    *error =
        absl::StrCat("invalid ", flag, " \"", text, "\": want a duration such as 500ms, 5s or 1m");
    return false;
  }
  *out = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
  return true;
}

bool ParsePolicy(const std::string& text, lb::v1::LbPolicy* policy, std::string* error) {
  std::string upper = absl::AsciiStrToUpper(text);
  std::replace(upper.begin(), upper.end(), '-', '_');
  if (upper != "LB_POLICY_UNSPECIFIED" && lb::v1::LbPolicy_Parse(upper, policy)) return true;
  *error = absl::StrCat("invalid --policy \"", text,
                        "\": want random, round_robin, least_request, ring_hash or maglev");
  return false;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers.

std::string PolicyName(lb::v1::LbPolicy policy) {
  if (policy == lb::v1::LB_POLICY_UNSPECIFIED) return "random";
  return absl::AsciiStrToLower(lb::v1::LbPolicy_Name(policy));
}

std::string StateName(lb::v1::AdminState state) {
  if (state == lb::v1::ADMIN_STATE_UNSPECIFIED) return "ACTIVE";
  return lb::v1::AdminState_Name(state);
}

std::string FormatProtoDuration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(absl::Nanoseconds(TimeUtil::DurationToNanoseconds(d)));
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// Left-aligned columns separated by two spaces; the last column is not padded.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void PrintEndpoints(std::ostream& out,
                    const google::protobuf::RepeatedPtrField<lb::v1::Endpoint>& endpoints) {
  std::vector<std::vector<std::string>> rows = {
      {"ADDRESS", "PORT", "WEIGHT", "ZONE", "STATE", "RESOLVED"}};
  for (const auto& e : endpoints) {
    rows.push_back({e.address(), absl::StrCat(e.port()), absl::StrCat(e.weight()), OrDash(e.zone()),
                    StateName(e.admin_state()),
                    OrDash(absl::StrJoin(e.resolved_addresses(), ","))});
  }
  PrintTable(out, rows);
}

std::string HashText(const lb::v1::HashPolicy& hash) {
  switch (hash.key_case()) {
    case lb::v1::HashPolicy::kHeader:
      return absl::StrCat("header ", hash.header());
    case lb::v1::HashPolicy::kCookie:
      return absl::StrCat("cookie ", hash.cookie());
    case lb::v1::HashPolicy::kSourceIp:
      return "source ip";
    default:
      return "-";
  }
}

std::string HealthCheckText(const lb::v1::HealthCheck& hc) {
  if (hc.path().empty()) return "disabled";
  return absl::StrCat("GET ", hc.path(), " every ", FormatProtoDuration(hc.interval()),
                      ", timeout ", FormatProtoDuration(hc.timeout()), ", healthy after ",
                      hc.healthy_threshold(), ", unhealthy after ", hc.unhealthy_threshold());
}

std::string OutlierText(const lb::v1::OutlierDetection& od) {
  return absl::StrCat(od.consecutive_5xx(), " consecutive 5xx, ", od.consecutive_gateway_failure(),
                      " gateway failures, interval ", FormatProtoDuration(od.interval()),
                      ", base ejection ", FormatProtoDuration(od.base_ejection_time()), ", max ",
                      od.max_ejection_percent(), "% ejected");
}

void PrintCluster(std::ostream& out, const lb::v1::Cluster& c) {
  PrintTable(out, {
                      {"name:", c.name()},
                      {"policy:", PolicyName(c.lb_policy())},
                      {"hash:", HashText(c.hash_policy())},
                      {"health check:", HealthCheckText(c.health_check())},
                      {"outlier detection:", OutlierText(c.outlier_detection())},
                      {"connect timeout:", FormatProtoDuration(c.connect_timeout())},
                      {"retries:", absl::StrCat(c.retries().value())},
                      {"panic threshold:", absl::StrCat(c.healthy_panic_threshold().value(), "%")},
                      {"version:", absl::StrCat(c.version())},
                      {"endpoints:", absl::StrCat(c.endpoints_size())},
                  });
  if (c.endpoints_size() > 0) {
    out << "\n";
    PrintEndpoints(out, c.endpoints());
  }
}

void PrintRoutes(std::ostream& out, const lb::v1::RouteTable& table) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "HOST", "PREFIX", "CLUSTER"}};
  for (const auto& r : table.routes()) {
    rows.push_back({r.name(), OrDash(r.host()), OrDash(r.path_prefix()), r.cluster()});
  }
  PrintTable(out, rows);
}

std::string ChangeText(const lb::v1::Change& change) {
  std::string prefix = absl::StrCat("revision ", change.revision(), ": ");
  switch (change.kind_case()) {
    case lb::v1::Change::kCluster:
      return absl::StrCat(prefix, "cluster ", change.cluster().name(), " (policy ",
                          PolicyName(change.cluster().lb_policy()), ", ",
                          change.cluster().endpoints_size(), " endpoints, version ",
                          change.cluster().version(), ")");
    case lb::v1::Change::kClusterDeleted:
      return absl::StrCat(prefix, "cluster ", change.cluster_deleted(), " deleted");
    case lb::v1::Change::kRouteTable:
      return absl::StrCat(prefix, "route table (", change.route_table().routes_size(),
                          " routes, version ", change.route_table().version(), ")");
    default:
      return absl::StrCat(prefix, "unknown change");
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to the controller.

class Session {
 public:
  Session(Settings settings, const Env& env, std::ostream& out, std::ostream& err)
      : settings_(std::move(settings)), env_(env), out_(out), err_(err) {}

  const Settings& settings() const { return settings_; }
  const Env& env() const { return env_; }
  std::ostream& out() { return out_; }

  lb::v1::LoadBalancer::StubInterface* stub() {
    if (stub_ == nullptr) {
      stub_ = env_.stub_factory ? env_.stub_factory(settings_.controller)
                                : DefaultStubFactory(settings_.controller);
    }
    return stub_.get();
  }

  // Token metadata always; a deadline of --timeout if `deadline`.
  void Prepare(grpc::ClientContext* ctx, bool deadline) const {
    if (deadline) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoNanoseconds(settings_.timeout));
    }
    if (!settings_.token.empty()) {
      ctx->AddMetadata("authorization", absl::StrCat("Bearer ", settings_.token));
    }
  }

  // Prints a failed call's error and returns its exit code.
  int Fail(const grpc::Status& status) {
    const std::string& msg = status.error_message();
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        err_ << "lbctl: cannot reach controller at " << settings_.controller;
        if (!msg.empty()) err_ << ": " << msg;
        err_ << "\n";
        return kExitUnreachable;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        err_ << "lbctl: controller at " << settings_.controller << " did not answer within "
             << absl::FormatDuration(settings_.timeout) << "\n";
        return kExitUnreachable;
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::PERMISSION_DENIED:
        err_ << "lbctl: " << (msg.empty() ? CodeName(status.error_code()) : msg) << "\n";
        if (settings_.token.empty()) {
          err_ << "lbctl: this needs a token: pass --token or --token-file, or set LBCTL_TOKEN\n";
        }
        return kExitAuth;
      default:
        err_ << "lbctl: " << (msg.empty() ? CodeName(status.error_code()) : msg) << "\n";
        return kExitRefused;
    }
  }

  // Prints `message` as JSON (indented unless `one_line`); false and an error on failure.
  bool PrintJson(const google::protobuf::Message& message, bool one_line = false) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    options.add_whitespace = !one_line;
    std::string json;
    auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
    if (!status.ok()) {
      err_ << "lbctl: cannot print JSON: " << status.ToString() << "\n";
      return false;
    }
    while (!json.empty() && json.back() == '\n') json.pop_back();
    out_ << json << "\n";
    return true;
  }

  static std::string CodeName(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::CANCELLED:
        return "CANCELLED";
      case grpc::StatusCode::INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
      case grpc::StatusCode::NOT_FOUND:
        return "NOT_FOUND";
      case grpc::StatusCode::ALREADY_EXISTS:
        return "ALREADY_EXISTS";
      case grpc::StatusCode::PERMISSION_DENIED:
        return "PERMISSION_DENIED";
      case grpc::StatusCode::FAILED_PRECONDITION:
        return "FAILED_PRECONDITION";
      case grpc::StatusCode::ABORTED:
        return "ABORTED";
      case grpc::StatusCode::UNAUTHENTICATED:
        return "UNAUTHENTICATED";
      case grpc::StatusCode::UNIMPLEMENTED:
        return "UNIMPLEMENTED";
      case grpc::StatusCode::INTERNAL:
        return "INTERNAL";
      default:
        return absl::StrCat("gRPC status ", static_cast<int>(code));
    }
  }

 private:
  Settings settings_;
  const Env& env_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<lb::v1::LoadBalancer::StubInterface> stub_;
};

// ---------------------------------------------------------------------------------------------
// Commands. Each returns an exit code, or throws UsageError before contacting the controller.

struct EndpointFlags {
  std::string ip;
  std::string port;
  CLI::Option* port_opt = nullptr;
  std::string cluster = kDefaultCluster;

  // The endpoint named by IP [PORT].
  std::pair<std::string, uint32_t> Parse() const {
    std::pair<std::string, uint32_t> result;
    std::string error;
    if (!ParseEndpointArgs(ip, port, port_opt->count() > 0, &result.first, &result.second,
                           &error)) {
      throw UsageError{error};
    }
    return result;
  }
};

struct AddFlags : EndpointFlags {
  uint32_t weight = 0;
  CLI::Option* weight_opt = nullptr;
  std::string zone;
  std::vector<std::string> labels;
};

int RunAdd(Session& s, const AddFlags& f) {
  auto [address, port] = f.Parse();
  lb::v1::AddEndpointRequest req;
  req.set_cluster(f.cluster);
  lb::v1::Endpoint* e = req.mutable_endpoint();
  e->set_address(address);
  e->set_port(port);
  if (f.weight_opt->count() > 0) {
    if (f.weight == 0) throw UsageError{"invalid --weight 0: must be at least 1"};
    e->set_weight(f.weight);
  }
  e->set_zone(f.zone);
  for (const std::string& label : f.labels) {
    size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError{absl::StrCat("invalid --label \"", label, "\": want KEY=VALUE")};
    }
    (*e->mutable_labels())[label.substr(0, eq)] = label.substr(eq + 1);
  }
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::AddEndpointResponse resp;
  grpc::Status st = s.stub()->AddEndpoint(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "added " << net::JoinHostPort(address, port) << " to cluster " << f.cluster
          << " (version " << resp.cluster().version() << ")\n";
  return kExitOk;
}

int RunDel(Session& s, const EndpointFlags& f) {
  auto [address, port] = f.Parse();
  lb::v1::RemoveEndpointRequest req;
  req.set_cluster(f.cluster);
  req.set_address(address);
  req.set_port(port);
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::RemoveEndpointResponse resp;
  grpc::Status st = s.stub()->RemoveEndpoint(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "removed " << net::JoinHostPort(address, port) << " from cluster " << f.cluster
          << " (version " << resp.cluster().version() << ")\n";
  return kExitOk;
}

int RunSetState(Session& s, const EndpointFlags& f, lb::v1::AdminState state) {
  auto [address, port] = f.Parse();
  lb::v1::SetEndpointStateRequest req;
  req.set_cluster(f.cluster);
  req.set_address(address);
  req.set_port(port);
  req.set_admin_state(state);
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::SetEndpointStateResponse resp;
  grpc::Status st = s.stub()->SetEndpointState(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << (state == lb::v1::DRAINING ? "draining " : "activated ")
          << net::JoinHostPort(address, port) << " in cluster " << f.cluster << " (version "
          << resp.cluster().version() << ")\n";
  return kExitOk;
}

int RunList(Session& s, const std::string& cluster) {
  lb::v1::ListEndpointsRequest req;
  req.set_cluster(cluster);
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::ListEndpointsResponse resp;
  grpc::Status st = s.stub()->ListEndpoints(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  PrintEndpoints(s.out(), resp.endpoints());
  return kExitOk;
}

struct ClusterFlags {
  std::string name;
  std::string policy;
  std::string hash_header;
  std::string hash_cookie;
  bool hash_source_ip = false;
  std::string hc_path;
  std::string hc_interval;
  std::string hc_timeout;
  uint32_t hc_healthy = 0;
  uint32_t hc_unhealthy = 0;
  std::string connect_timeout;
  uint32_t retries = 0;
  uint32_t panic_threshold = 0;
  // Which flags were given.
  CLI::Option* policy_opt = nullptr;
  CLI::Option* hash_header_opt = nullptr;
  CLI::Option* hash_cookie_opt = nullptr;
  CLI::Option* hash_source_ip_opt = nullptr;
  CLI::Option* hc_path_opt = nullptr;
  CLI::Option* hc_interval_opt = nullptr;
  CLI::Option* hc_timeout_opt = nullptr;
  CLI::Option* hc_healthy_opt = nullptr;
  CLI::Option* hc_unhealthy_opt = nullptr;
  CLI::Option* connect_timeout_opt = nullptr;
  CLI::Option* retries_opt = nullptr;
  CLI::Option* panic_threshold_opt = nullptr;

  static bool Given(const CLI::Option* opt) { return opt != nullptr && opt->count() > 0; }

  // Applies the given flags to `c`, leaving the rest as they are.
  void Apply(lb::v1::Cluster* c) const {
    std::string error;
    if (Given(policy_opt)) {
      lb::v1::LbPolicy p;
      if (!ParsePolicy(policy, &p, &error)) throw UsageError{error};
      c->set_lb_policy(p);
    }
    if (Given(hash_header_opt)) c->mutable_hash_policy()->set_header(hash_header);
    if (Given(hash_cookie_opt)) c->mutable_hash_policy()->set_cookie(hash_cookie);
    if (Given(hash_source_ip_opt)) c->mutable_hash_policy()->set_source_ip(true);
    lb::v1::HealthCheck* hc = c->mutable_health_check();
    if (Given(hc_path_opt)) hc->set_path(hc_path);
    if (Given(hc_interval_opt) &&
        !ParseDurationFlag("--hc-interval", hc_interval, hc->mutable_interval(), &error)) {
      throw UsageError{error};
    }
    if (Given(hc_timeout_opt) &&
        !ParseDurationFlag("--hc-timeout", hc_timeout, hc->mutable_timeout(), &error)) {
      throw UsageError{error};
    }
    if (Given(hc_healthy_opt)) {
      if (hc_healthy == 0) throw UsageError{"invalid --hc-healthy 0: must be at least 1"};
      hc->set_healthy_threshold(hc_healthy);
    }
    if (Given(hc_unhealthy_opt)) {
      if (hc_unhealthy == 0) throw UsageError{"invalid --hc-unhealthy 0: must be at least 1"};
      hc->set_unhealthy_threshold(hc_unhealthy);
    }
    if (Given(connect_timeout_opt) && !ParseDurationFlag("--connect-timeout", connect_timeout,
                                                         c->mutable_connect_timeout(), &error)) {
      throw UsageError{error};
    }
    if (Given(retries_opt)) c->mutable_retries()->set_value(retries);
    if (Given(panic_threshold_opt))
      c->mutable_healthy_panic_threshold()->set_value(panic_threshold);
  }
};

int RunClusterList(Session& s) {
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::ListClustersResponse resp;
  grpc::Status st = s.stub()->ListClusters(&ctx, lb::v1::ListClustersRequest(), &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "POLICY", "ENDPOINTS", "HEALTH CHECK", "VERSION"}};
  for (const auto& c : resp.clusters()) {
    rows.push_back({c.name(), PolicyName(c.lb_policy()), absl::StrCat(c.endpoints_size()),
                    c.health_check().path().empty() ? "-" : c.health_check().path(),
                    absl::StrCat(c.version())});
  }
  PrintTable(s.out(), rows);
  return kExitOk;
}

grpc::Status GetCluster(Session& s, const std::string& name, lb::v1::Cluster* c) {
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::GetClusterRequest req;
  req.set_name(name);
  return s.stub()->GetCluster(&ctx, req, c);
}

int RunClusterGet(Session& s, const std::string& name) {
  lb::v1::Cluster c;
  grpc::Status st = GetCluster(s, name, &c);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(c) ? kExitOk : kExitRefused;
  PrintCluster(s.out(), c);
  return kExitOk;
}

int RunClusterCreate(Session& s, const ClusterFlags& f) {
  lb::v1::CreateClusterRequest req;
  req.mutable_cluster()->set_name(f.name);
  f.Apply(req.mutable_cluster());
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::Cluster resp;
  grpc::Status st = s.stub()->CreateCluster(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "created cluster " << resp.name() << " (version " << resp.version() << ")\n";
  return kExitOk;
}

int RunClusterUpdate(Session& s, const ClusterFlags& f) {
  lb::v1::Cluster probe;
  f.Apply(&probe);  // Usage errors before any call.
  lb::v1::UpdateClusterRequest req;
  grpc::Status st = GetCluster(s, f.name, req.mutable_cluster());
  if (!st.ok()) return s.Fail(st);
  req.set_expected_version(req.cluster().version());
  f.Apply(req.mutable_cluster());
  req.mutable_cluster()->clear_endpoints();
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::Cluster resp;
  st = s.stub()->UpdateCluster(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "updated cluster " << resp.name() << " (version " << resp.version() << ")\n";
  return kExitOk;
}

int RunClusterDelete(Session& s, const std::string& name) {
  lb::v1::DeleteClusterRequest req;
  req.set_name(name);
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::DeleteClusterResponse resp;
  grpc::Status st = s.stub()->DeleteCluster(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "deleted cluster " << name << "\n";
  return kExitOk;
}

struct RouteFlags {
  std::string name;
  std::string cluster;
  std::string host;
  std::string prefix;
  CLI::Option* cluster_opt = nullptr;
  CLI::Option* host_opt = nullptr;
  CLI::Option* prefix_opt = nullptr;

  void Apply(lb::v1::Route* r) const {
    if (cluster_opt->count() > 0) r->set_cluster(cluster);
    if (host_opt->count() > 0) r->set_host(host);
    if (prefix_opt->count() > 0) r->set_path_prefix(prefix);
  }
};

grpc::Status ListRoutes(Session& s, lb::v1::RouteTableResponse* resp) {
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  return s.stub()->ListRoutes(&ctx, lb::v1::ListRoutesRequest(), resp);
}

int RunRouteList(Session& s) {
  lb::v1::RouteTableResponse resp;
  grpc::Status st = ListRoutes(s, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  PrintRoutes(s.out(), resp.route_table());
  return kExitOk;
}

const lb::v1::Route* FindRoute(const lb::v1::RouteTable& table, const std::string& name) {
  for (const auto& r : table.routes()) {
    if (r.name() == name) return &r;
  }
  return nullptr;
}

int RunRouteGet(Session& s, const std::string& name) {
  lb::v1::RouteTableResponse resp;
  grpc::Status st = ListRoutes(s, &resp);
  if (!st.ok()) return s.Fail(st);
  const lb::v1::Route* r = FindRoute(resp.route_table(), name);
  if (r == nullptr) {
    return s.Fail(
        grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("route \"", name, "\" not found")));
  }
  if (s.settings().json) return s.PrintJson(*r) ? kExitOk : kExitRefused;
  PrintTable(s.out(), {{"name:", r->name()},
                       {"host:", OrDash(r->host())},
                       {"prefix:", OrDash(r->path_prefix())},
                       {"cluster:", r->cluster()},
                       {"table version:", absl::StrCat(resp.route_table().version())}});
  return kExitOk;
}

int RunRouteCreate(Session& s, const RouteFlags& f) {
  lb::v1::CreateRouteRequest req;
  req.mutable_route()->set_name(f.name);
  f.Apply(req.mutable_route());
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::RouteTableResponse resp;
  grpc::Status st = s.stub()->CreateRoute(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "created route " << f.name << " (route table version " << resp.route_table().version()
          << ")\n";
  return kExitOk;
}

int RunRouteUpdate(Session& s, const RouteFlags& f) {
  lb::v1::RouteTableResponse current;
  grpc::Status st = ListRoutes(s, &current);
  if (!st.ok()) return s.Fail(st);
  const lb::v1::Route* r = FindRoute(current.route_table(), f.name);
  if (r == nullptr) {
    return s.Fail(grpc::Status(grpc::StatusCode::NOT_FOUND,
                               absl::StrCat("route \"", f.name, "\" not found")));
  }
  lb::v1::UpdateRouteRequest req;
  *req.mutable_route() = *r;
  req.set_expected_version(current.route_table().version());
  f.Apply(req.mutable_route());
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::RouteTableResponse resp;
  st = s.stub()->UpdateRoute(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "updated route " << f.name << " (route table version " << resp.route_table().version()
          << ")\n";
  return kExitOk;
}

int RunRouteDelete(Session& s, const std::string& name) {
  lb::v1::DeleteRouteRequest req;
  req.set_name(name);
  grpc::ClientContext ctx;
  s.Prepare(&ctx, true);
  lb::v1::RouteTableResponse resp;
  grpc::Status st = s.stub()->DeleteRoute(&ctx, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  s.out() << "deleted route " << name << " (route table version " << resp.route_table().version()
          << ")\n";
  return kExitOk;
}

// Short form of an xDS type URL for the proxies table.
std::string ShortType(const std::string& type_url) {
  if (absl::EndsWith(type_url, ".Listener")) return "LDS";
  if (absl::EndsWith(type_url, ".RouteConfiguration")) return "RDS";
  if (absl::EndsWith(type_url, ".Cluster")) return "CDS";
  if (absl::EndsWith(type_url, ".ClusterLoadAssignment")) return "EDS";
  return type_url;
}

int RunProxies(Session& s) {
  grpc::ClientContext ctx;
  s.Prepare(&ctx, false);
  lb::v1::ListProxiesResponse resp;
  grpc::Status st = s.stub()->ListProxies(&ctx, lb::v1::ListProxiesRequest(), &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  // One row per stream and resource type: what was sent, what was ACKed, the last NACK.
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "ADDRESS", "PROTOCOL", "TYPE", "SENT", "ACKED", "NACKS", "LAST NACK"}};
  for (const auto& p : resp.proxies()) {
    if (p.resources().empty()) {
      rows.push_back({p.node_id(), p.address(), p.protocol(), "-", "-", "-", "0", "-"});
    }
    for (const auto& r : p.resources()) {
      std::string nack = r.last_nack_error().empty()
                             ? "-"
                             : absl::StrCat(r.nacked_version(), ": ", r.last_nack_error());
      rows.push_back({p.node_id(), p.address(), p.protocol(), ShortType(r.type_url()),
                      r.version_sent(), r.version_acked(), absl::StrCat(r.nacks()), nack});
    }
  }
  PrintTable(s.out(), rows);
  return kExitOk;
}

// Set by the SIGINT/SIGTERM handler `watch` installs when Env::handle_signals.
volatile sig_atomic_t g_signalled = 0;
void OnStopSignal(int) { g_signalled = 1; }

// Installs OnStopSignal for SIGINT and SIGTERM; restores the previous handlers on destruction.
class ScopedStopSignals {
 public:
  ScopedStopSignals() {
    g_signalled = 0;
    struct sigaction sa = {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~ScopedStopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

int RunWatch(Session& s, int64_t count) {
  std::unique_ptr<ScopedStopSignals> signals;
  if (s.env().handle_signals) signals = std::make_unique<ScopedStopSignals>();
  auto interrupted = [&]() {
    return (signals != nullptr && g_signalled != 0) ||
           (s.env().interrupted && s.env().interrupted());
  };
  grpc::ClientContext ctx;
  s.Prepare(&ctx, s.settings().timeout_given);
  std::unique_ptr<grpc::ClientReaderInterface<lb::v1::Change>> reader =
      s.stub()->WatchChanges(&ctx, lb::v1::WatchChangesRequest());
  std::atomic<bool> stopped_by_user{false};
  absl::Notification done;
  std::thread canceller([&]() {
    while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
      if (interrupted()) {
        stopped_by_user = true;
        ctx.TryCancel();
        return;
      }
    }
  });
  lb::v1::Change change;
  int64_t seen = 0;
  bool printed_ok = true;
  while (reader->Read(&change)) {
    if (s.settings().json) {
      printed_ok = s.PrintJson(change, /*one_line=*/true);
    } else {
      s.out() << ChangeText(change) << "\n";
    }
    s.out().flush();
    if (!printed_ok || (count > 0 && ++seen >= count)) {
      stopped_by_user = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  done.Notify();
  canceller.join();
  if (!printed_ok) return kExitRefused;
  if (stopped_by_user || st.ok()) return kExitOk;
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && s.settings().timeout_given) {
    return kExitOk;
  }
  return s.Fail(st);
}

// ---------------------------------------------------------------------------------------------
// Settings from flags and the environment.

std::optional<std::string> GetEnv(const Env& env, const std::string& name) {
  if (!env.getenv) return std::nullopt;
  return env.getenv(name);
}

Settings ResolveSettings(const GlobalFlags& g, const Env& env) {
  Settings s;
  if (g.controller_opt->count() > 0) {
    s.controller = g.controller;
  } else if (std::optional<std::string> v = GetEnv(env, "LBCTL_CONTROLLER"); v && !v->empty()) {
    s.controller = *v;
  } else {
    s.controller = kDefaultController;
  }
  if (s.controller.empty()) throw UsageError{"--controller must not be empty"};

  if (!g.token.empty()) {
    s.token = g.token;
  } else if (!g.token_file.empty()) {
    std::ifstream in(g.token_file);
    if (!in) {
      throw UsageError{
          absl::StrCat("cannot read token file ", g.token_file, ": ", std::strerror(errno))};
    }
    std::stringstream ss;
    ss << in.rdbuf();
    s.token = std::string(absl::StripAsciiWhitespace(ss.str()));
    if (s.token.empty()) throw UsageError{absl::StrCat("token file ", g.token_file, " is empty")};
  } else if (std::optional<std::string> v = GetEnv(env, "LBCTL_TOKEN"); v) {
    s.token = std::string(absl::StripAsciiWhitespace(*v));
  }

  if (g.output == "json") {
    s.json = true;
  } else if (g.output != "table") {
    throw UsageError{absl::StrCat("invalid --output \"", g.output, "\": want table or json")};
  }

  if (!absl::ParseDuration(g.timeout, &s.timeout) || s.timeout <= absl::ZeroDuration() ||
      s.timeout == absl::InfiniteDuration()) {
    throw UsageError{absl::StrCat("invalid --timeout \"", g.timeout,
                                  "\": want a positive duration such as 500ms, 5s or 1m")};
  }
  s.timeout_given = g.timeout_opt->count() > 0;
  return s;
}

// "lbctl cluster create" for the deepest subcommand that was parsed.
std::string CommandPath(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* cur = &app;
  while (true) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    path += " " + cur->get_name();
  }
  return path;
}

// CLI11's message, except for a missing or unknown command, which CLI11 reports alike.
std::string ParseErrorText(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* cur = &app;
  std::string path = app.get_name();
  while (!cur->get_subcommands().empty()) {
    cur = cur->get_subcommands().front();
    path += " " + cur->get_name();
  }
  if (cur->get_require_subcommand_min() == 0 || !cur->get_subcommands().empty()) return e.what();
  std::vector<std::string> names;
  for (const CLI::App* sub : cur->get_subcommands(std::function<bool(const CLI::App*)>())) {
    names.push_back(sub->get_name());
  }
  std::vector<std::string> extra = app.remaining(/*recurse=*/true);
  std::string want = absl::StrCat("; want one of ", absl::StrJoin(names, ", "));
  if (extra.empty()) return absl::StrCat("missing command after \"", path, "\"", want);
  return absl::StrCat("unknown command \"", extra.front(), "\"", want);
}

// Adds IP [PORT] positionals and --cluster.
void AddEndpointArgs(CLI::App* cmd, EndpointFlags* f) {
  cmd->add_option("IP", f->ip, "Endpoint IP address or hostname; or IP:PORT, [IPv6]:PORT")
      ->required();
  f->port_opt = cmd->add_option("PORT", f->port, "Endpoint port (1-65535)");
  cmd->add_option("--cluster", f->cluster, "Cluster of the endpoint")->capture_default_str();
}

void AddClusterFlags(CLI::App* cmd, ClusterFlags* f) {
  cmd->add_option("NAME", f->name, "Cluster name ([a-zA-Z0-9_.-], 1-128 characters)")->required();
  f->policy_opt =
      cmd->add_option("--policy", f->policy,
                      "Balancing policy: random, round_robin, least_request, ring_hash, maglev");
  f->hash_header_opt =
      cmd->add_option("--hash-header", f->hash_header, "ring_hash/maglev: hash this header");
  f->hash_cookie_opt =
      cmd->add_option("--hash-cookie", f->hash_cookie, "ring_hash/maglev: hash this cookie");
  f->hash_source_ip_opt = cmd->add_flag("--hash-source-ip", f->hash_source_ip,
                                        "ring_hash/maglev: hash the client's IP (the default)");
  f->hash_header_opt->excludes(f->hash_cookie_opt)->excludes(f->hash_source_ip_opt);
  f->hash_cookie_opt->excludes(f->hash_source_ip_opt);
  f->hc_path_opt =
      cmd->add_option("--hc-path", f->hc_path, "Health check HTTP path; \"\" disables checks");
  f->hc_interval_opt =
      cmd->add_option("--hc-interval", f->hc_interval, "Health check interval (e.g. 5s)");
  f->hc_timeout_opt =
      cmd->add_option("--hc-timeout", f->hc_timeout, "Health check timeout (e.g. 1s)");
  f->hc_healthy_opt =
      cmd->add_option("--hc-healthy", f->hc_healthy, "Passed checks that mark an endpoint healthy");
  f->hc_unhealthy_opt = cmd->add_option("--hc-unhealthy", f->hc_unhealthy,
                                        "Failed checks that mark an endpoint unhealthy");
  f->connect_timeout_opt = cmd->add_option("--connect-timeout", f->connect_timeout,
                                           "Upstream connect timeout (e.g. 1s)");
  f->retries_opt =
      cmd->add_option("--retries", f->retries, "Extra attempts on other endpoints (0-10)");
  f->panic_threshold_opt =
      cmd->add_option("--panic-threshold", f->panic_threshold,
                      "Healthy percent below which all endpoints are used (0 disables)");
}

void AddRouteFlags(CLI::App* cmd, RouteFlags* f, bool create) {
  cmd->add_option("NAME", f->name, "Route name ([a-zA-Z0-9_.-], 1-128 characters)")->required();
  f->cluster_opt = cmd->add_option("--cluster", f->cluster, "Cluster the route sends to");
  if (create) f->cluster_opt->required();
  f->host_opt = cmd->add_option("--host", f->host,
                                "Host header to match: a name, *.domain, or * for any (default)");
  f->prefix_opt =
      cmd->add_option("--prefix", f->prefix, "Path prefix to match, starting with / (default /)");
}

}  // namespace

std::unique_ptr<lb::v1::LoadBalancer::StubInterface> DefaultStubFactory(
    const std::string& address) {
  return lb::v1::LoadBalancer::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

Env ProcessEnv() {
  Env env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.stub_factory = DefaultStubFactory;
  env.handle_signals = true;
  return env;
}

int RunLbctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
             const Env& env) {
  std::vector<const char*> argv = {"lbctl"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return RunLbctl(static_cast<int>(argv.size()), argv.data(), out, err, env);
}

int RunLbctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
             const Env& env) {
  CLI::App app(kMainDescription, "lbctl");
  app.fallthrough();
  app.require_subcommand(1);

  GlobalFlags g;
  g.controller_opt = app.add_option("--controller", g.controller,
                                    "Controller gRPC address, host:port or [v6]:port (env "
                                    "LBCTL_CONTROLLER; default 127.0.0.1:18000)");
  CLI::Option* token_opt =
      app.add_option("--token", g.token, "Bearer token for mutating calls (env LBCTL_TOKEN)");
  CLI::Option* token_file_opt =
      app.add_option("--token-file", g.token_file, "File holding the bearer token");
  token_opt->excludes(token_file_opt);
  app.add_option("-o,--output", g.output, "Output format: table or json")->capture_default_str();
  g.timeout_opt = app.add_option("--timeout", g.timeout,
                                 "Deadline of each call (e.g. 5s, 500ms); watch: see its --help")
                      ->capture_default_str();

  std::function<int(Session&)> run;

  AddFlags add;
  CLI::App* add_cmd = app.add_subcommand("add", "Add an endpoint to a cluster");
  AddEndpointArgs(add_cmd, &add);
  add.weight_opt = add_cmd->add_option("--weight", add.weight, "Weight, 1-10000 (default 1)");
  add_cmd->add_option("--zone", add.zone, "Zone (locality) of the endpoint");
  add_cmd->add_option("--label", add.labels, "Label KEY=VALUE; repeat for more")
      ->allow_extra_args(false);
  add_cmd->footer(
      "Examples:\n  lbctl add 127.0.0.1 1111\n  lbctl add 10.0.0.7:8080 --weight 3 --zone eu-1 "
      "--label version=v2\n  lbctl add [::1]:9000 --cluster web\n  lbctl add api.internal 443");
  add_cmd->callback([&]() { run = [&](Session& s) { return RunAdd(s, add); }; });

  EndpointFlags del;
  CLI::App* del_cmd = app.add_subcommand("del", "Remove an endpoint from a cluster");
  AddEndpointArgs(del_cmd, &del);
  del_cmd->footer("Examples:\n  lbctl del 127.0.0.1 1111\n  lbctl del 10.0.0.7:8080 --cluster web");
  del_cmd->callback([&]() { run = [&](Session& s) { return RunDel(s, del); }; });

  std::string list_cluster = kDefaultCluster;
  CLI::App* list_cmd = app.add_subcommand("list", "List a cluster's endpoints");
  list_cmd->add_option("--cluster", list_cluster, "Cluster to list")->capture_default_str();
  list_cmd->footer(
      "Columns: ADDRESS PORT WEIGHT ZONE STATE RESOLVED (addresses a hostname resolved to).\n"
      "Examples:\n  lbctl list\n  lbctl list --cluster web -o json");
  list_cmd->callback([&]() { run = [&](Session& s) { return RunList(s, list_cluster); }; });

  EndpointFlags drain;
  CLI::App* drain_cmd =
      app.add_subcommand("drain", "Drain an endpoint: no new requests, in-flight ones finish");
  AddEndpointArgs(drain_cmd, &drain);
  drain_cmd->footer(
      "Examples:\n  lbctl drain 127.0.0.1 1111\n  lbctl drain 10.0.0.7:8080 "
      "--cluster web");
  drain_cmd->callback(
      [&]() { run = [&](Session& s) { return RunSetState(s, drain, lb::v1::DRAINING); }; });

  EndpointFlags undrain;
  CLI::App* undrain_cmd = app.add_subcommand("undrain", "Make a drained endpoint active again");
  AddEndpointArgs(undrain_cmd, &undrain);
  undrain_cmd->footer("Examples:\n  lbctl undrain 127.0.0.1 1111");
  undrain_cmd->callback(
      [&]() { run = [&](Session& s) { return RunSetState(s, undrain, lb::v1::ACTIVE); }; });

  // cluster ...
  CLI::App* cluster_cmd = app.add_subcommand("cluster", "Manage clusters");
  cluster_cmd->require_subcommand(1);
  cluster_cmd->footer(
      "Examples:\n  lbctl cluster list\n  lbctl cluster get backend\n"
      "  lbctl cluster create web --policy ring_hash --hash-header x-user --hc-path /healthz\n"
      "  lbctl cluster update web --retries 3 --hc-interval 2s\n  lbctl cluster delete web");
  CLI::App* cluster_list = cluster_cmd->add_subcommand("list", "List clusters");
  cluster_list->footer("Examples:\n  lbctl cluster list\n  lbctl cluster list -o json");
  cluster_list->callback([&]() { run = [&](Session& s) { return RunClusterList(s); }; });

  std::string cluster_get_name;
  CLI::App* cluster_get =
      cluster_cmd->add_subcommand("get", "Show a cluster's settings and endpoints");
  cluster_get->add_option("NAME", cluster_get_name, "Cluster name")->required();
  cluster_get->footer("Examples:\n  lbctl cluster get backend\n  lbctl cluster get web -o json");
  cluster_get->callback(
      [&]() { run = [&](Session& s) { return RunClusterGet(s, cluster_get_name); }; });

  ClusterFlags cluster_create;
  CLI::App* cluster_create_cmd = cluster_cmd->add_subcommand(
      "create", "Create a cluster; unset settings get the controller's defaults");
  AddClusterFlags(cluster_create_cmd, &cluster_create);
  cluster_create_cmd->footer(
      "Durations are like 500ms, 5s, 1m.\nExamples:\n  lbctl cluster create web\n"
      "  lbctl cluster create web --policy least_request --hc-path /healthz --hc-interval 2s\n"
      "  lbctl cluster create sticky --policy ring_hash --hash-cookie session");
  cluster_create_cmd->callback(
      [&]() { run = [&](Session& s) { return RunClusterCreate(s, cluster_create); }; });

  ClusterFlags cluster_update;
  CLI::App* cluster_update_cmd = cluster_cmd->add_subcommand(
      "update",
      "Change the given settings of a cluster; the others and its endpoints are kept. Fails "
      "(exit 1) if the cluster changed between the read and the write");
  AddClusterFlags(cluster_update_cmd, &cluster_update);
  cluster_update_cmd->footer(
      "Examples:\n  lbctl cluster update web --policy round_robin\n"
      "  lbctl cluster update web --hc-path \"\"   # disable health checks\n"
      "  lbctl cluster update web --retries 0 --panic-threshold 0");
  cluster_update_cmd->callback(
      [&]() { run = [&](Session& s) { return RunClusterUpdate(s, cluster_update); }; });

  std::string cluster_delete_name;
  CLI::App* cluster_delete =
      cluster_cmd->add_subcommand("delete", "Delete a cluster that no route uses");
  cluster_delete->add_option("NAME", cluster_delete_name, "Cluster name")->required();
  cluster_delete->footer("Examples:\n  lbctl cluster delete web");
  cluster_delete->callback(
      [&]() { run = [&](Session& s) { return RunClusterDelete(s, cluster_delete_name); }; });

  // route ...
  CLI::App* route_cmd =
      app.add_subcommand("route", "Manage ingress routes (host/prefix → cluster)");
  route_cmd->require_subcommand(1);
  route_cmd->footer(
      "The most specific host wins, then the longest path prefix.\nExamples:\n  lbctl route list\n"
      "  lbctl route create api --cluster web --host example.com --prefix /api\n"
      "  lbctl route update api --cluster web-v2\n  lbctl route delete api");
  CLI::App* route_list = route_cmd->add_subcommand("list", "List routes in match order");
  route_list->footer("Examples:\n  lbctl route list\n  lbctl route list -o json");
  route_list->callback([&]() { run = [&](Session& s) { return RunRouteList(s); }; });

  std::string route_get_name;
  CLI::App* route_get = route_cmd->add_subcommand("get", "Show one route");
  route_get->add_option("NAME", route_get_name, "Route name")->required();
  route_get->footer("Examples:\n  lbctl route get api");
  route_get->callback([&]() { run = [&](Session& s) { return RunRouteGet(s, route_get_name); }; });

  RouteFlags route_create;
  CLI::App* route_create_cmd =
      route_cmd->add_subcommand("create", "Append a route to the route table");
  AddRouteFlags(route_create_cmd, &route_create, /*create=*/true);
  route_create_cmd->footer(
      "Examples:\n  lbctl route create api --cluster web --prefix /api\n"
      "  lbctl route create shop --cluster shop --host '*.shop.example'");
  route_create_cmd->callback(
      [&]() { run = [&](Session& s) { return RunRouteCreate(s, route_create); }; });

  RouteFlags route_update;
  CLI::App* route_update_cmd = route_cmd->add_subcommand(
      "update",
      "Change the given fields of a route. Fails (exit 1) if the route table changed between "
      "the read and the write");
  AddRouteFlags(route_update_cmd, &route_update, /*create=*/false);
  route_update_cmd->footer("Examples:\n  lbctl route update api --cluster web-v2 --prefix /v2");
  route_update_cmd->callback(
      [&]() { run = [&](Session& s) { return RunRouteUpdate(s, route_update); }; });

  std::string route_delete_name;
  CLI::App* route_delete = route_cmd->add_subcommand("delete", "Delete a route");
  route_delete->add_option("NAME", route_delete_name, "Route name")->required();
  route_delete->footer("Examples:\n  lbctl route delete api");
  route_delete->callback(
      [&]() { run = [&](Session& s) { return RunRouteDelete(s, route_delete_name); }; });

  // watch
  int64_t watch_count = 0;
  CLI::App* watch_cmd = app.add_subcommand(
      "watch",
      "Stream changes: first the current state (every cluster and the route table), then each "
      "change as it commits, one line each (a JSON object per line with -o json)");
  watch_cmd->add_option("--count", watch_count, "Stop after this many changes (0: no limit)")
      ->capture_default_str();
  watch_cmd->footer(
      "Runs until interrupted (Ctrl-C, SIGTERM: exit 0), until --count changes were shown, or,\n"
      "only if --timeout is given explicitly, for that long (then exit 0).\n"
      "Examples:\n  lbctl watch\n  lbctl watch -o json --count 1\n  lbctl watch --timeout 1m");
  watch_cmd->callback([&]() { run = [&](Session& s) { return RunWatch(s, watch_count); }; });

  CLI::App* proxies_cmd = app.add_subcommand(
      "proxies",
      "List the proxies and gRPC clients connected over ADS: per resource type the version "
      "sent, the version ACKed and the last NACK with its error");
  proxies_cmd->footer("Examples:\n  lbctl proxies\n  lbctl proxies -o json");
  proxies_cmd->callback([&]() { run = [&](Session& s) { return RunProxies(s); }; });

  CLI::App* version_cmd = app.add_subcommand("version", "Print lbctl's version");
  version_cmd->callback([&]() {
    run = [&](Session& s) {
      s.out() << "lbctl " << kVersion << " (API lb.v1)\n";
      return kExitOk;
    };
  });

  app.footer(kMainFooter);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    if (argc <= 1) {
      err << app.help();
      return kExitUsage;
    }
    err << "lbctl: " << ParseErrorText(app, e) << "\n"
        << "Run '" << CommandPath(app) << " --help' for usage.\n";
    return kExitUsage;
  }
  try {
    Session session(ResolveSettings(g, env), env, out, err);
    if (!run) {
      err << "lbctl: no command given\n";
      return kExitUsage;
    }
    return run(session);
  } catch (const UsageError& e) {
    err << "lbctl: " << e.message << "\n"
        << "Run '" << CommandPath(app) << " --help' for usage.\n";
    return kExitUsage;
  }
}

}  // namespace lb::cli
