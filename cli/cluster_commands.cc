// lbctl cluster list|get|create|update|delete.
#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/process/flag_file.h"

namespace lb::cli {
namespace {

absl::Status ParsePolicy(const std::string& text, lb::v1::LbPolicy* policy) {
  std::string upper = absl::AsciiStrToUpper(text);
  std::replace(upper.begin(), upper.end(), '-', '_');
  if (upper != "LB_POLICY_UNSPECIFIED" && lb::v1::LbPolicy_Parse(upper, policy)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --policy \"", text,
                   "\": want random, round_robin, least_request, ring_hash or maglev"));
}

absl::Status ParseProtocol(const std::string& text, lb::v1::UpstreamProtocol* protocol) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (upper != "UPSTREAM_PROTOCOL_UNSPECIFIED" && lb::v1::UpstreamProtocol_Parse(upper, protocol)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --protocol \"", text, "\": want http1 or http2"));
}

// "off", or "on (sni S, ca given|system CAs|no verification, client certificate C)".
std::string UpstreamTlsText(const lb::v1::UpstreamTls& tls) {
  if (!tls.enabled()) return "off";
  std::vector<std::string> parts;
  if (!tls.sni().empty()) parts.push_back(absl::StrCat("sni ", tls.sni()));
  parts.push_back(tls.insecure_skip_verify() ? "no verification"
                  : tls.ca_pem().empty()     ? "system CAs"
                                             : "CA bundle given");
  if (!tls.client_certificate().empty()) {
    parts.push_back(absl::StrCat("client certificate ", tls.client_certificate()));
  }
  return absl::StrCat("on (", absl::StrJoin(parts, ", "), ")");
}

void PrintCluster(std::ostream& out, const lb::v1::Cluster& c) {
  std::vector<std::vector<std::string>> rows = {
      {"name:", c.name()},
      {"protocol:", ProtocolName(c.protocol())},
      {"policy:", PolicyName(c.lb_policy())},
      {"hash:", HashText(c.hash_policy())},
      {"health check:", HealthCheckText(c.health_check())},
      {"outlier detection:", OutlierText(c.outlier_detection())},
      {"connect timeout:", FormatProtoDuration(c.connect_timeout())},
      {"retries:", absl::StrCat(c.retries().value())},
      {"panic threshold:", absl::StrCat(c.healthy_panic_threshold().value(), "%")},
      {"circuit breakers:", CircuitBreakersText(c.circuit_breakers())},
  };
  // Only when on: clusters without it read as before.
  if (c.slow_start_window().seconds() != 0 || c.slow_start_window().nanos() != 0)
    rows.push_back({"slow start:", FormatProtoDuration(c.slow_start_window())});
  // Only when on: plaintext clusters read as before.
  if (c.upstream_tls().enabled())
    rows.push_back({"upstream tls:", UpstreamTlsText(c.upstream_tls())});
  rows.push_back({"version:", absl::StrCat(c.version())});
  rows.push_back({"endpoints:", absl::StrCat(c.endpoints_size())});
  PrintTable(out, rows);
  if (c.endpoints_size() > 0) {
    out << "\n";
    PrintEndpoints(out, c.endpoints());
  }
}

// The circuit-breaker flags: --max-connections sets circuit_breakers.max_connections, and so on.
struct LimitFlag {
  const char* field;  // Of lb.v1.CircuitBreakers.
  const char* help;
};
constexpr std::array<LimitFlag, 4> kLimitFlags = {{
    {"max_connections",
     "Circuit breaker: upstream connections open at once, 1-1000000 "
     "(default 1024)"},
    {"max_pending_requests",
     "Circuit breaker: requests waiting for a new upstream connection, "
     "1-1000000 (default 1024)"},
    {"max_requests",
     "Circuit breaker: requests in flight to the cluster, 1-1000000 (default "
     "1024); more get 503"},
    {"max_retries",
     "Circuit breaker: retries in flight after connect timeouts, 0-1000000 "
     "(default 3); 0: none"},
}};

// The settings flags of `cluster create` and `cluster update`. Each flag given becomes one field of
// the cluster and one path of the update mask, so an update changes exactly the flags given.
struct ClusterFlags {
  std::string name;
  std::string policy;
  std::string hash_header;
  std::string hash_cookie;
  bool hash_source_ip = false;
  bool hash_none = false;
  std::string cookie_ttl;
  std::string cookie_path;
  bool cookie_http_only = true;
  std::string cookie_same_site;
  bool cookie_secure = false;
  bool cookie_generate = true;
  std::string protocol;
  std::string hc_path;
  std::string hc_grpc;
  std::string hc_interval;
  std::string hc_timeout;
  uint32_t hc_healthy = 0;
  uint32_t hc_unhealthy = 0;
  uint32_t od_5xx = 0;
  uint32_t od_gateway = 0;
  std::string connect_timeout;
  std::string slow_start;
  uint32_t retries = 0;
  uint32_t panic_threshold = 0;
  std::array<uint32_t, kLimitFlags.size()> limits{};  // In kLimitFlags order.
  bool upstream_tls = false;
  bool no_upstream_tls = false;
  std::string upstream_ca;
  std::string upstream_sni;
  std::string upstream_client_cert;
  bool upstream_insecure = false;
  int64_t if_version = 0;
  // Which flags were given.
  CLI::Option* policy_opt = nullptr;
  CLI::Option* hash_header_opt = nullptr;
  CLI::Option* hash_cookie_opt = nullptr;
  CLI::Option* hash_source_ip_opt = nullptr;
  CLI::Option* hash_none_opt = nullptr;
  CLI::Option* cookie_ttl_opt = nullptr;
  CLI::Option* cookie_path_opt = nullptr;
  CLI::Option* cookie_http_only_opt = nullptr;
  CLI::Option* cookie_same_site_opt = nullptr;
  CLI::Option* cookie_secure_opt = nullptr;
  CLI::Option* cookie_generate_opt = nullptr;
  CLI::Option* protocol_opt = nullptr;
  CLI::Option* hc_path_opt = nullptr;
  CLI::Option* hc_grpc_opt = nullptr;
  CLI::Option* hc_interval_opt = nullptr;
  CLI::Option* hc_timeout_opt = nullptr;
  CLI::Option* hc_healthy_opt = nullptr;
  CLI::Option* hc_unhealthy_opt = nullptr;
  CLI::Option* od_5xx_opt = nullptr;
  CLI::Option* od_gateway_opt = nullptr;
  CLI::Option* connect_timeout_opt = nullptr;
  CLI::Option* slow_start_opt = nullptr;
  CLI::Option* retries_opt = nullptr;
  CLI::Option* panic_threshold_opt = nullptr;
  std::array<CLI::Option*, kLimitFlags.size()> limit_opts{};
  CLI::Option* upstream_tls_opt = nullptr;
  CLI::Option* no_upstream_tls_opt = nullptr;
  CLI::Option* upstream_ca_opt = nullptr;
  CLI::Option* upstream_sni_opt = nullptr;
  CLI::Option* upstream_client_cert_opt = nullptr;
  CLI::Option* upstream_insecure_opt = nullptr;

  static bool Given(const CLI::Option* opt) { return opt != nullptr && opt->count() > 0; }

  // Sets the given flags in `c` and names each in `mask`. A hash key flag (or --hash-none)
  // replaces the whole hash policy; cookie flags alone change those options only. Returns the
  // first bad value.
  absl::Status Apply(lb::v1::Cluster* c, google::protobuf::FieldMask* mask) const {
    absl::Status error;
    auto keep_first = [&error](absl::Status st) {
      if (error.ok()) error = std::move(st);
    };
    auto duration = [&](absl::string_view flag, const std::string& text,
                        google::protobuf::Duration* out) {
      keep_first(ParseDurationFlag(flag, text, out));
    };
    auto set = [mask](absl::string_view path) { mask->add_paths(std::string(path)); };
    if (Given(policy_opt)) {
      lb::v1::LbPolicy p = lb::v1::LB_POLICY_UNSPECIFIED;
      keep_first(ParsePolicy(policy, &p));
      c->set_lb_policy(p);
      set("lb_policy");
    }
    lb::v1::HashPolicy* hash = c->mutable_hash_policy();
    const bool key_given = Given(hash_header_opt) || Given(hash_cookie_opt) ||
                           Given(hash_source_ip_opt) || Given(hash_none_opt);
    if (Given(hash_header_opt)) hash->set_header(hash_header);
    if (Given(hash_cookie_opt)) hash->set_cookie(hash_cookie);
    if (Given(hash_source_ip_opt)) hash->set_source_ip(true);
    if (key_given) set("hash_policy");
    lb::v1::CookieOptions* cookie = hash->mutable_cookie_options();
    auto cookie_set = [&](const char* field) {
      if (!key_given) mask->add_paths(absl::StrCat("hash_policy.cookie_options.", field));
    };
    if (Given(cookie_generate_opt)) {
      cookie->mutable_generate()->set_value(cookie_generate);
      cookie_set("generate");
    }
    if (Given(cookie_ttl_opt)) {
      duration("--cookie-ttl", cookie_ttl, cookie->mutable_ttl());
      cookie_set("ttl");
    }
    if (Given(cookie_path_opt)) {
      cookie->set_path(cookie_path);
      cookie_set("path");
    }
    if (Given(cookie_http_only_opt)) {
      cookie->mutable_http_only()->set_value(cookie_http_only);
      cookie_set("http_only");
    }
    if (Given(cookie_same_site_opt)) {
      std::string upper = absl::AsciiStrToUpper(cookie_same_site);
      lb::v1::CookieOptions::SameSite same_site = lb::v1::CookieOptions::SAME_SITE_UNSPECIFIED;
      if (upper == "SAME_SITE_UNSPECIFIED" ||
          !lb::v1::CookieOptions::SameSite_Parse(upper, &same_site)) {
        keep_first(absl::InvalidArgumentError(absl::StrCat(
            "invalid --cookie-same-site \"", cookie_same_site, "\": want strict, lax or none")));
      }
      cookie->set_same_site(same_site);
      cookie_set("same_site");
    }
    if (Given(cookie_secure_opt)) {
      cookie->set_secure(cookie_secure);
      cookie_set("secure");
    }
    if (cookie->ByteSizeLong() == 0) hash->clear_cookie_options();
    if (hash->ByteSizeLong() == 0) c->clear_hash_policy();

    if (Given(protocol_opt)) {
      lb::v1::UpstreamProtocol p = lb::v1::UPSTREAM_PROTOCOL_UNSPECIFIED;
      keep_first(ParseProtocol(protocol, &p));
      c->set_protocol(p);
      set("protocol");
    }
    lb::v1::HealthCheck* hc = c->mutable_health_check();
    // A check is HTTP or gRPC: each flag turns the other kind off.
    if (Given(hc_path_opt)) {
      hc->set_path(hc_path);
      set("health_check.path");
      set("health_check.grpc_service_name");
    }
    if (Given(hc_grpc_opt)) {
      hc->set_grpc_service_name(hc_grpc);
      set("health_check.grpc_service_name");
      set("health_check.path");
    }
    if (Given(hc_interval_opt)) {
      duration("--hc-interval", hc_interval, hc->mutable_interval());
      set("health_check.interval");
    }
    if (Given(hc_timeout_opt)) {
      duration("--hc-timeout", hc_timeout, hc->mutable_timeout());
      set("health_check.timeout");
    }
    if (Given(hc_healthy_opt)) {
      hc->set_healthy_threshold(hc_healthy);
      set("health_check.healthy_threshold");
    }
    if (Given(hc_unhealthy_opt)) {
      hc->set_unhealthy_threshold(hc_unhealthy);
      set("health_check.unhealthy_threshold");
    }
    if (hc->ByteSizeLong() == 0) c->clear_health_check();
    lb::v1::OutlierDetection* od = c->mutable_outlier_detection();
    if (Given(od_5xx_opt)) {
      od->set_consecutive_5xx(od_5xx);
      set("outlier_detection.consecutive_5xx");
    }
    if (Given(od_gateway_opt)) {
      od->set_consecutive_gateway_failure(od_gateway);
      set("outlier_detection.consecutive_gateway_failure");
    }
    if (!Given(od_5xx_opt) && !Given(od_gateway_opt)) c->clear_outlier_detection();
    if (Given(connect_timeout_opt)) {
      duration("--connect-timeout", connect_timeout, c->mutable_connect_timeout());
      set("connect_timeout");
    }
    if (Given(slow_start_opt)) {
      duration("--slow-start", slow_start, c->mutable_slow_start_window());
      set("slow_start_window");
    }
    if (Given(retries_opt)) {
      c->mutable_retries()->set_value(retries);
      set("retries");
    }
    if (Given(panic_threshold_opt)) {
      c->mutable_healthy_panic_threshold()->set_value(panic_threshold);
      set("healthy_panic_threshold");
    }
    lb::v1::CircuitBreakers* cb = c->mutable_circuit_breakers();
    for (size_t i = 0; i < kLimitFlags.size(); ++i) {
      if (!Given(limit_opts[i])) continue;
      cb->GetReflection()->SetUInt32(cb, cb->GetDescriptor()->FindFieldByName(kLimitFlags[i].field),
                                     limits[i]);
      set(absl::StrCat("circuit_breakers.", kLimitFlags[i].field));
    }
    if (cb->ByteSizeLong() == 0) c->clear_circuit_breakers();
    // Any upstream TLS flag replaces the cluster's whole upstream_tls (and turns it on).
    if (Given(no_upstream_tls_opt)) {
      set("upstream_tls");
    } else if (Given(upstream_tls_opt) || Given(upstream_ca_opt) || Given(upstream_sni_opt) ||
               Given(upstream_client_cert_opt) || Given(upstream_insecure_opt)) {
      lb::v1::UpstreamTls* tls = c->mutable_upstream_tls();
      tls->set_enabled(true);
      if (Given(upstream_ca_opt)) {
        absl::StatusOr<std::string> ca = process::ReadFlagFile("upstream-ca", upstream_ca);
        if (ca.ok()) {
          tls->set_ca_pem(*ca);
        } else {
          keep_first(ca.status());
        }
      }
      tls->set_sni(upstream_sni);
      tls->set_client_certificate(upstream_client_cert);
      tls->set_insecure_skip_verify(upstream_insecure);
      set("upstream_tls");
    }
    return error;
  }
};

int RunClusterList(Session& s) {
  lb::v1::ListClustersResponse resp;
  grpc::Status st = s.Call(&Stub::ListClusters, lb::v1::ListClustersRequest(), &resp);
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

int RunClusterGet(Session& s, const std::string& name) {
  lb::v1::GetClusterRequest req;
  req.set_name(name);
  lb::v1::Cluster c;
  grpc::Status st = s.Call(&Stub::GetCluster, req, &c);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(c) ? kExitOk : kExitRefused;
  PrintCluster(s.out(), c);
  return kExitOk;
}

int RunClusterCreate(Session& s, const ClusterFlags& f) {
  lb::v1::CreateClusterRequest req;
  req.mutable_cluster()->set_name(f.name);
  google::protobuf::FieldMask unused;
  if (absl::Status st = f.Apply(req.mutable_cluster(), &unused); !st.ok()) {
    return s.Usage(st.message());
  }
  lb::v1::Cluster resp;
  grpc::Status st = s.Call(&Stub::CreateCluster, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp,
                absl::StrCat("created cluster ", resp.name(), " (version ", resp.version(), ")\n"));
}

// Sends only the flags given (update_mask): no read, nothing else can change.
int RunClusterUpdate(Session& s, const ClusterFlags& f) {
  lb::v1::UpdateClusterRequest req;
  req.mutable_cluster()->set_name(f.name);
  if (absl::Status st = f.Apply(req.mutable_cluster(), req.mutable_update_mask()); !st.ok()) {
    return s.Usage(st.message());
  }
  if (req.update_mask().paths_size() == 0) {
    return s.Usage("nothing to change: give at least one setting flag");
  }
  req.set_expected_version(f.if_version);
  lb::v1::Cluster resp;
  grpc::Status st = s.Call(&Stub::UpdateCluster, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp,
                absl::StrCat("updated cluster ", resp.name(), " (version ", resp.version(), ")\n"));
}

int RunClusterDelete(Session& s, const std::string& name, int64_t if_version) {
  lb::v1::DeleteClusterRequest req;
  req.set_name(name);
  req.set_expected_version(if_version);
  lb::v1::DeleteClusterResponse resp;
  grpc::Status st = s.Call(&Stub::DeleteCluster, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("deleted cluster ", name, "\n"));
}

void AddClusterFlags(CLI::App* cmd, ClusterFlags* f, bool update) {
  cmd->add_option("NAME", f->name, "Cluster name ([a-zA-Z0-9_.-], 1-128 characters)")->required();
  f->policy_opt =
      cmd->add_option("--policy", f->policy,
                      "Balancing policy: random, round_robin, least_request, ring_hash, maglev");
  f->hash_header_opt =
      cmd->add_option("--hash-header", f->hash_header, "ring_hash/maglev: hash this header");
  f->hash_cookie_opt = cmd->add_option(
      "--hash-cookie", f->hash_cookie,
      "ring_hash/maglev: hash this cookie; the proxy sets it when a request has none");
  f->hash_source_ip_opt = cmd->add_flag("--hash-source-ip", f->hash_source_ip,
                                        "ring_hash/maglev: hash the client's IP (the default)");
  f->hash_header_opt->excludes(f->hash_cookie_opt)->excludes(f->hash_source_ip_opt);
  f->hash_cookie_opt->excludes(f->hash_source_ip_opt);
  if (update) {
    f->hash_none_opt =
        cmd->add_flag("--hash-none", f->hash_none,
                      "Remove the hash policy (needed to switch to a policy that does not hash)");
    f->hash_none_opt->excludes(f->hash_header_opt)
        ->excludes(f->hash_cookie_opt)
        ->excludes(f->hash_source_ip_opt);
  }
  f->cookie_ttl_opt = cmd->add_option("--cookie-ttl", f->cookie_ttl,
                                      "Affinity cookie lifetime (e.g. 1h); 0s: a session cookie");
  f->cookie_path_opt =
      cmd->add_option("--cookie-path", f->cookie_path, "Affinity cookie Path (default /)");
  f->cookie_http_only_opt = cmd->add_option("--cookie-http-only", f->cookie_http_only,
                                            "Affinity cookie HttpOnly: true (default) or false");
  f->cookie_same_site_opt = cmd->add_option("--cookie-same-site", f->cookie_same_site,
                                            "Affinity cookie SameSite: strict, lax or none");
  f->cookie_secure_opt = cmd->add_option("--cookie-secure", f->cookie_secure,
                                         "Affinity cookie Secure: true or false (default)");
  f->cookie_generate_opt = cmd->add_option(
      "--cookie-generate", f->cookie_generate,
      "false: the application sets the cookie, the proxy only reads it (default true)");
  f->protocol_opt = cmd->add_option(
      "--protocol", f->protocol,
      "HTTP version to the endpoints: http1 (default) or http2 (h2c; gRPC services need it)");
  f->hc_path_opt =
      cmd->add_option("--hc-path", f->hc_path, "Health check HTTP path; \"\" disables checks");
  f->hc_grpc_opt = cmd->add_option("--hc-grpc", f->hc_grpc,
                                   "gRPC health check (grpc.health.v1.Health/Check) of SERVICE "
                                   "(default \"\": the whole server); http2 clusters only")
                       ->expected(0, 1)
                       ->excludes(f->hc_path_opt);
  f->hc_interval_opt = cmd->add_option("--hc-interval", f->hc_interval,
                                       "Health check interval, 100ms-1h (default 5s)");
  f->hc_timeout_opt =
      cmd->add_option("--hc-timeout", f->hc_timeout, "Health check timeout, 10ms-1m (default 1s)");
  f->hc_healthy_opt = cmd->add_option("--hc-healthy", f->hc_healthy,
                                      "Passed checks that mark an endpoint healthy, 1-100");
  f->hc_unhealthy_opt = cmd->add_option("--hc-unhealthy", f->hc_unhealthy,
                                        "Failed checks that mark an endpoint unhealthy, 1-100");
  f->od_5xx_opt = cmd->add_option("--od-5xx", f->od_5xx,
                                  "Consecutive 5xx answers that eject an endpoint; 0: off");
  f->od_gateway_opt =
      cmd->add_option("--od-gateway-failures", f->od_gateway,
                      "Consecutive connect failures/resets that eject an endpoint; 0: off");
  f->connect_timeout_opt = cmd->add_option("--connect-timeout", f->connect_timeout,
                                           "Upstream connect timeout, 1ms-1m (default 1s)");
  f->slow_start_opt = cmd->add_option(
      "--slow-start", f->slow_start,
      "Slow start window, 1s-1h: a new or recovered endpoint's share ramps up over it; 0s: off "
      "(RANDOM, ROUND_ROBIN and LEAST_REQUEST only)");
  f->retries_opt =
      cmd->add_option("--retries", f->retries, "Extra attempts on other endpoints (0-10)");
  f->panic_threshold_opt =
      cmd->add_option("--panic-threshold", f->panic_threshold,
                      "Healthy percent below which all endpoints are used (0 disables)");
  for (size_t i = 0; i < kLimitFlags.size(); ++i) {
    std::string flag = absl::StrCat("--", kLimitFlags[i].field);
    std::replace(flag.begin(), flag.end(), '_', '-');
    f->limit_opts[i] = cmd->add_option(flag, f->limits[i], kLimitFlags[i].help);
  }
  f->upstream_tls_opt =
      cmd->add_flag("--upstream-tls", f->upstream_tls,
                    "TLS to the endpoints, verified against the proxies' system CAs unless "
                    "--upstream-ca or --upstream-insecure; any --upstream-* flag replaces the "
                    "whole upstream TLS setting");
  f->upstream_ca_opt = cmd->add_option("--upstream-ca", f->upstream_ca,
                                       "PEM file of the CAs the endpoints' certificates chain to");
  f->upstream_sni_opt =
      cmd->add_option("--upstream-sni", f->upstream_sni, "Server name sent to the endpoints");
  f->upstream_client_cert_opt =
      cmd->add_option("--upstream-client-cert", f->upstream_client_cert,
                      "Certificate (lbctl cert add) the proxies present to the endpoints");
  f->upstream_insecure_opt = cmd->add_flag(
      "--upstream-insecure", f->upstream_insecure,
      "Do not verify the endpoints' certificates (testing only; not with --upstream-ca)");
  if (update) {
    f->no_upstream_tls_opt =
        cmd->add_flag("--no-upstream-tls", f->no_upstream_tls, "Plaintext to the endpoints");
    f->no_upstream_tls_opt->excludes(f->upstream_tls_opt)
        ->excludes(f->upstream_ca_opt)
        ->excludes(f->upstream_sni_opt)
        ->excludes(f->upstream_client_cert_opt)
        ->excludes(f->upstream_insecure_opt);
    AddIfVersionFlag(cmd, &f->if_version, "cluster");
  }
}

struct ClusterCommands : CommandGroup {
  std::string get_name;
  ClusterFlags create;
  ClusterFlags update;
  std::string delete_name;
  int64_t delete_if_version = 0;
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
  AddClusterFlags(cluster_create_cmd, &c->create, /*update=*/false);
  cluster_create_cmd->footer(
      "Durations are like 500ms, 2s, 1m, 1h or 0.500s; they print as 0.500s, 2s, 60s.\n"
      "Examples:\n  lbctl cluster create web\n"
      "  lbctl cluster create web --policy least_request --hc-path /healthz --hc-interval 2s\n"
      "  lbctl cluster create slow --max-requests 100 --max-pending-requests 20\n"
      "  lbctl cluster create greeter --protocol http2 --hc-grpc helloworld.Greeter\n"
      "  lbctl cluster create sticky --policy ring_hash --hash-cookie lb --cookie-ttl 1h "
      "--cookie-same-site lax");
  cluster_create_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunClusterCreate(s, c->create); }; });

  CLI::App* cluster_update_cmd = cluster_cmd->add_subcommand(
      "update",
      "Change only the settings given by flags; the others and the endpoints keep their "
      "values");
  AddClusterFlags(cluster_update_cmd, &c->update, /*update=*/true);
  cluster_update_cmd->footer(
      "Examples:\n  lbctl cluster update web --policy round_robin\n"
      "  lbctl cluster update web --hc-path \"\"   # disable health checks\n"
      "  lbctl cluster update web --retries 0 --panic-threshold 0\n"
      "  lbctl cluster update web --max-requests 200   # other limits keep their values\n"
      "  lbctl cluster update web --policy round_robin --hash-none\n"
      "  lbctl cluster update web --hc-interval 2s --if-version 12");
  cluster_update_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunClusterUpdate(s, c->update); }; });

  CLI::App* cluster_delete =
      cluster_cmd->add_subcommand("delete", "Delete a cluster that no route uses");
  cluster_delete->add_option("NAME", c->delete_name, "Cluster name")->required();
  AddIfVersionFlag(cluster_delete, &c->delete_if_version, "cluster");
  cluster_delete->footer(
      "Examples:\n  lbctl cluster delete web\n  lbctl cluster delete web --if-version 12");
  cluster_delete->callback([c, run]() {
    *run = [c](Session& s) { return RunClusterDelete(s, c->delete_name, c->delete_if_version); };
  });
  return commands;
}

}  // namespace lb::cli
