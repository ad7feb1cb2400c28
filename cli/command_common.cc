#include "cli/command_common.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/time/duration_text.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace lb::cli {

using google::protobuf::util::TimeUtil;

std::string StateName(lb::v1::AdminState state) {
  if (state == lb::v1::ADMIN_STATE_UNSPECIFIED) return "ACTIVE";
  return lb::v1::AdminState_Name(state);
}

Stub* Session::stub() {
  if (stub_ == nullptr) {
    if (!settings_.tls_ca.empty() || !settings_.tls_cert.empty()) {
      stub_ =
          TlsStub(settings_.controller, settings_.tls_ca, settings_.tls_cert, settings_.tls_key);
    } else {
      stub_ = env_.stub_factory ? env_.stub_factory(settings_.controller)
                                : DefaultStubFactory(settings_.controller);
    }
  }
  return stub_.get();
}

void Session::Prepare(grpc::ClientContext* ctx, bool deadline) const {
  if (deadline) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(settings_.timeout));
  }
  if (!settings_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", settings_.token));
  }
}

namespace {
// Set by the handler StopSignals installs.
volatile sig_atomic_t g_signalled = 0;
void OnStopSignal(int) { g_signalled = 1; }
}  // namespace

StopSignals::StopSignals(const Env& env) : env_(env) {
  if (!env.handle_signals) return;
  installed_ = true;
  g_signalled = 0;
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  if (!installed_) return;
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

bool StopSignals::stopped() const {
  return (installed_ && g_signalled != 0) || (env_.interrupted && env_.interrupted());
}

int Session::Fail(const grpc::Status& status) {
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
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      err_ << "lbctl: " << (msg.empty() ? CodeName(status.error_code()) : msg) << "\n";
      return kExitUsage;
    default:
      err_ << "lbctl: " << (msg.empty() ? CodeName(status.error_code()) : msg) << "\n";
      return kExitRefused;
  }
}

int Session::Usage(absl::string_view message) {
  err_ << "lbctl: " << message << "\n"
       << "Run '" << settings_.command << " --help' for usage.\n";
  return kExitUsage;
}

int Session::Done(const google::protobuf::Message& response, absl::string_view text) {
  if (settings_.json) return PrintJson(response) ? kExitOk : kExitRefused;
  out_ << text;
  return kExitOk;
}

void Session::Warn(absl::string_view message) { err_ << "lbctl: warning: " << message << "\n"; }

bool Session::PrintJson(const google::protobuf::Message& message, bool one_line) {
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

std::string Session::CodeName(grpc::StatusCode code) {
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

void AddIfVersionFlag(CLI::App* cmd, int64_t* version, absl::string_view what) {
  cmd->add_option("--if-version", *version,
                  absl::StrCat("Write only if the ", what,
                               " is still at this version (from a read); otherwise exit 1 "
                               "naming the current one"));
}

std::string PolicyName(lb::v1::LbPolicy policy) {
  if (policy == lb::v1::LB_POLICY_UNSPECIFIED) return "random";
  return absl::AsciiStrToLower(lb::v1::LbPolicy_Name(policy));
}

std::string ProtocolName(lb::v1::UpstreamProtocol protocol) {
  return protocol == lb::v1::HTTP2 ? "http2" : "http1";
}

std::string FormatProtoDuration(const google::protobuf::Duration& d) {
  return FormatDurationText(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()));
}

absl::Status ParseDurationFlag(absl::string_view flag, const std::string& text,
                               google::protobuf::Duration* out) {
  absl::StatusOr<absl::Duration> d = ParseDurationText(text);
  if (!d.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", flag, ": ", d.status().message()));
  }
  *out = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(*d));
  return absl::OkStatus();
}

absl::Status ParseLabels(const std::vector<std::string>& flags,
                         google::protobuf::Map<std::string, std::string>* labels) {
  for (const std::string& label : flags) {
    size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --label \"", label, "\": want KEY=VALUE"));
    }
    (*labels)[label.substr(0, eq)] = label.substr(eq + 1);
  }
  return absl::OkStatus();
}

std::string HashText(const lb::v1::HashPolicy& hash) {
  switch (hash.key_case()) {
    case lb::v1::HashPolicy::kHeader:
      return absl::StrCat("header ", hash.header());
    case lb::v1::HashPolicy::kCookie: {
      const lb::v1::CookieOptions& o = hash.cookie_options();
      if (o.has_generate() && !o.generate().value()) {
        return absl::StrCat("cookie ", hash.cookie(), " (set by the application)");
      }
      std::string text = absl::StrCat("cookie ", hash.cookie(), " (set by the proxy: ",
                                      o.ttl().seconds() == 0 && o.ttl().nanos() == 0
                                          ? "session"
                                          : absl::StrCat("ttl ", FormatProtoDuration(o.ttl())),
                                      ", path ", o.path().empty() ? "/" : o.path());
      if (!o.has_http_only() || o.http_only().value()) text += ", HttpOnly";
      if (o.same_site() != lb::v1::CookieOptions::SAME_SITE_UNSPECIFIED) {
        std::string same_site = lb::v1::CookieOptions::SameSite_Name(o.same_site());
        absl::AsciiStrToLower(&same_site);
        absl::StrAppend(&text, ", SameSite ", same_site);
      }
      if (o.secure()) text += ", Secure";
      return text + ")";
    }
    case lb::v1::HashPolicy::kSourceIp:
      return "source ip";
    default:
      return "-";
  }
}

std::string HealthCheckText(const lb::v1::HealthCheck& hc) {
  if (hc.path().empty() && !hc.has_grpc_service_name()) return "disabled";
  std::string what = hc.has_grpc_service_name()
                         ? absl::StrCat("gRPC Health/Check \"", hc.grpc_service_name(), "\"")
                         : absl::StrCat("GET ", hc.path());
  return absl::StrCat(what, " every ", FormatProtoDuration(hc.interval()), ", timeout ",
                      FormatProtoDuration(hc.timeout()), ", healthy after ", hc.healthy_threshold(),
                      ", unhealthy after ", hc.unhealthy_threshold());
}

std::string OutlierText(const lb::v1::OutlierDetection& od) {
  if (od.consecutive_5xx() == 0 && od.consecutive_gateway_failure() == 0) return "off";
  return absl::StrCat(od.consecutive_5xx(), " consecutive 5xx, ", od.consecutive_gateway_failure(),
                      " gateway failures, interval ", FormatProtoDuration(od.interval()),
                      ", base ejection ", FormatProtoDuration(od.base_ejection_time()), ", max ",
                      od.max_ejection_percent(), "% ejected");
}

std::string CircuitBreakersText(const lb::v1::CircuitBreakers& cb) {
  auto limit = [](absl::string_view what, bool has, uint32_t value) {
    return absl::StrCat("max ", what, " ", has ? absl::StrCat(value) : "default");
  };
  return absl::StrCat(
      limit("connections", cb.has_max_connections(), cb.max_connections()), ", ",
      limit("pending requests", cb.has_max_pending_requests(), cb.max_pending_requests()), ", ",
      limit("requests", cb.has_max_requests(), cb.max_requests()), ", ",
      limit("retries", cb.has_max_retries(), cb.max_retries()));
}

std::string RouteHostsText(const lb::v1::Route& r) {
  if (r.hosts_size() > 0) return absl::StrJoin(r.hosts(), ",");
  return r.host().empty() ? "*" : r.host();
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

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
                    const google::protobuf::RepeatedPtrField<lb::v1::Endpoint>& endpoints,
                    bool with_status) {
  std::vector<std::vector<std::string>> rows = {{"ADDRESS", "PORT", "WEIGHT", "ZONE", "STATE"}};
  if (with_status) rows[0].insert(rows[0].end(), {"HEALTHY", "REQ/S", "ERR%", "P99"});
  rows[0].push_back("RESOLVED");
  for (const auto& e : endpoints) {
    std::vector<std::string> row = {e.address(), absl::StrCat(e.port()), absl::StrCat(e.weight()),
                                    OrDash(e.zone()), StateName(e.admin_state())};
    if (with_status) {
      if (e.has_status()) {
        const lb::v1::EndpointStatus& s = e.status();
        row.push_back(absl::StrCat(s.proxies_healthy(), "/", s.proxies_total()));
        row.push_back(absl::StrFormat("%.1f", s.rps()));
        row.push_back(absl::StrFormat("%.1f", 100 * s.error_rate()));
        row.push_back(s.p99_ms() > 0 ? absl::StrFormat("%.1fms", s.p99_ms()) : "-");
      } else {
        row.insert(row.end(), {"-", "-", "-", "-"});
      }
    }
    row.push_back(OrDash(absl::StrJoin(e.resolved_addresses(), ",")));
    rows.push_back(std::move(row));
  }
  PrintTable(out, rows);
}

}  // namespace lb::cli
