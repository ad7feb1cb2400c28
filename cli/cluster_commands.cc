// lbctl cluster list|get|create|update|delete.
#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "google/protobuf/util/time_util.h"

namespace lb::cli {
namespace {

using google::protobuf::util::TimeUtil;

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

struct ClusterCommands : CommandGroup {
  std::string get_name;
  ClusterFlags create;
  ClusterFlags update;
  std::string delete_name;
};

}  // namespace

std::unique_ptr<CommandGroup> AddClusterCommands(CLI::App* app, Runner* run) {
  auto commands = std::make_unique<ClusterCommands>();
  ClusterCommands* c = commands.get();

  CLI::App* cluster_cmd = app->add_subcommand("cluster", "Manage clusters");
  cluster_cmd->require_subcommand(1);
  cluster_cmd->footer(
      "Examples:\n  lbctl cluster list\n  lbctl cluster get backend\n"
      "  lbctl cluster create web --policy ring_hash --hash-header x-user --hc-path /healthz\n"
      "  lbctl cluster update web --retries 3 --hc-interval 2s\n  lbctl cluster delete web");
  CLI::App* cluster_list = cluster_cmd->add_subcommand("list", "List clusters");
  cluster_list->footer("Examples:\n  lbctl cluster list\n  lbctl cluster list -o json");
  cluster_list->callback([run]() { *run = [](Session& s) { return RunClusterList(s); }; });

  CLI::App* cluster_get =
      cluster_cmd->add_subcommand("get", "Show a cluster's settings and endpoints");
  cluster_get->add_option("NAME", c->get_name, "Cluster name")->required();
  cluster_get->footer("Examples:\n  lbctl cluster get backend\n  lbctl cluster get web -o json");
  cluster_get->callback(
      [c, run]() { *run = [c](Session& s) { return RunClusterGet(s, c->get_name); }; });

  CLI::App* cluster_create_cmd = cluster_cmd->add_subcommand(
      "create", "Create a cluster; unset settings get the controller's defaults");
  AddClusterFlags(cluster_create_cmd, &c->create);
  cluster_create_cmd->footer(
      "Durations are like 500ms, 5s, 1m.\nExamples:\n  lbctl cluster create web\n"
      "  lbctl cluster create web --policy least_request --hc-path /healthz --hc-interval 2s\n"
      "  lbctl cluster create sticky --policy ring_hash --hash-cookie session");
  cluster_create_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunClusterCreate(s, c->create); }; });

  CLI::App* cluster_update_cmd = cluster_cmd->add_subcommand(
      "update",
      "Change the given settings of a cluster; the others and its endpoints are kept. Fails "
      "(exit 1) if the cluster changed between the read and the write");
  AddClusterFlags(cluster_update_cmd, &c->update);
  cluster_update_cmd->footer(
      "Examples:\n  lbctl cluster update web --policy round_robin\n"
      "  lbctl cluster update web --hc-path \"\"   # disable health checks\n"
      "  lbctl cluster update web --retries 0 --panic-threshold 0");
  cluster_update_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunClusterUpdate(s, c->update); }; });

  CLI::App* cluster_delete =
      cluster_cmd->add_subcommand("delete", "Delete a cluster that no route uses");
  cluster_delete->add_option("NAME", c->delete_name, "Cluster name")->required();
  cluster_delete->footer("Examples:\n  lbctl cluster delete web");
  cluster_delete->callback(
      [c, run]() { *run = [c](Session& s) { return RunClusterDelete(s, c->delete_name); }; });
  return commands;
}

}  // namespace lb::cli
