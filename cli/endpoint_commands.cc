// lbctl add, update, del, list, drain, undrain.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/net/address.h"

namespace lb::cli {
namespace {

constexpr uint32_t kMaxWeight = 10000;

// "abc" → error; 1-65535 only.
absl::Status ParsePort(absl::string_view text, uint32_t* port) {
  std::optional<uint16_t> value = net::ParsePort(text);
  if (!value.has_value() || *value == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid PORT \"", text, "\": must be a number from 1 to 65535"));
  }
  *port = *value;
  return absl::OkStatus();
}

// IP PORT, IP:PORT, [IPv6]:PORT, or [IPv6] PORT. IP may be a hostname.
absl::Status ParseEndpointArgs(const std::string& ip, const std::string& port_arg, bool port_given,
                               std::string* address, uint32_t* port) {
  constexpr char kMissingPort[] = "missing PORT: give IP PORT, IP:PORT or [IPv6]:PORT";
  absl::string_view host = ip;
  absl::string_view port_text = port_arg;
  if (!port_given) {
    if (absl::StartsWith(host, "[")) {
      size_t close = host.find(']');
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid address \"", ip, "\": missing \"]\""));
      }
      absl::string_view rest = host.substr(close + 1);
      if (!absl::StartsWith(rest, ":")) return absl::InvalidArgumentError(kMissingPort);
      port_text = rest.substr(1);
      host = host.substr(1, close - 1);
    } else {
      size_t colon = host.find(':');
      if (colon == absl::string_view::npos) return absl::InvalidArgumentError(kMissingPort);
      if (host.find(':', colon + 1) != absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("ambiguous \"", ip,
                         "\": write an IPv6 address as [IPv6]:PORT or give PORT separately"));
      }
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  } else if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return absl::InvalidArgumentError("missing IP: give IP PORT, IP:PORT or [IPv6]:PORT");
  }
  if (absl::Status s = ParsePort(port_text, port); !s.ok()) return s;
  *address = std::string(host);
  return absl::OkStatus();
}

// The flags of every command that names one endpoint (and, for writes, --if-version).
struct EndpointFlags {
  std::string ip;
  std::string port;
  CLI::Option* port_opt = nullptr;
  std::string cluster = kDefaultCluster;
  int64_t if_version = 0;

  // The endpoint named by IP [PORT].
  absl::Status Parse(std::string* address, uint32_t* port_out) const {
    return ParseEndpointArgs(ip, port, port_opt->count() > 0, address, port_out);
  }
};

// --weight, --zone and --label of `add` and `update`.
struct EndpointValueFlags : EndpointFlags {
  uint32_t weight = 0;
  CLI::Option* weight_opt = nullptr;
  std::string zone;
  CLI::Option* zone_opt = nullptr;
  std::vector<std::string> labels;
  CLI::Option* labels_opt = nullptr;

  // Sets the flags given in `e`, naming each in `mask` (if not null).
  absl::Status Apply(lb::v1::Endpoint* e, google::protobuf::FieldMask* mask) const {
    if (weight_opt->count() > 0) {
      if (weight == 0 || weight > kMaxWeight) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid --weight ", weight, ": must be from 1 to ", kMaxWeight));
      }
      e->set_weight(weight);
      if (mask != nullptr) mask->add_paths("weight");
    }
    if (zone_opt->count() > 0) {
      e->set_zone(zone);
      if (mask != nullptr) mask->add_paths("zone");
    }
    if (labels_opt->count() > 0) {
      if (absl::Status s = ParseLabels(labels, e->mutable_labels()); !s.ok()) return s;
      if (mask != nullptr) mask->add_paths("labels");
    }
    return absl::OkStatus();
  }
};

struct UpdateFlags : EndpointValueFlags {
  bool clear_labels = false;
  std::string admin_state;
  CLI::Option* admin_state_opt = nullptr;
};

// Warns when `address` (a hostname) does not resolve from here: the endpoint is stored, but
// proxies get no address for it until the controller can resolve it.
void WarnIfUnresolvable(Session& s, const std::string& address) {
  if (!s.env().resolve) return;
  absl::Status st = s.env().resolve(address);
  if (st.ok()) return;
  s.Warn(absl::StrCat("hostname \"", address, "\" does not resolve here (", st.message(),
                      "); proxies get no address for it until the controller resolves it"));
}

int RunAdd(Session& s, const EndpointValueFlags& f) {
  lb::v1::AddEndpointRequest req;
  req.set_cluster(f.cluster);
  req.set_expected_version(f.if_version);
  lb::v1::Endpoint* e = req.mutable_endpoint();
  std::string address;
  uint32_t port = 0;
  absl::Status parsed = f.Parse(&address, &port);
  if (parsed.ok()) parsed = f.Apply(e, nullptr);
  if (!parsed.ok()) return s.Usage(parsed.message());
  e->set_address(address);
  e->set_port(port);
  lb::v1::AddEndpointResponse resp;
  grpc::Status st = s.Call(&Stub::AddEndpoint, req, &resp);
  if (!st.ok()) return s.Fail(st);
  WarnIfUnresolvable(s, address);
  return s.Done(resp, absl::StrCat("added ", net::JoinHostPort(address, port), " to cluster ",
                                   f.cluster, " (version ", resp.cluster().version(), ")\n"));
}

// Changes only the flags given (update_mask), in place: the endpoint stays in rotation.
int RunUpdate(Session& s, const UpdateFlags& f) {
  lb::v1::UpdateEndpointRequest req;
  req.set_cluster(f.cluster);
  req.set_expected_version(f.if_version);
  std::string address;
  uint32_t port = 0;
  absl::Status parsed = f.Parse(&address, &port);
  if (parsed.ok()) parsed = f.Apply(req.mutable_endpoint(), req.mutable_update_mask());
  if (!parsed.ok()) return s.Usage(parsed.message());
  if (f.clear_labels) req.mutable_update_mask()->add_paths("labels");
  if (f.admin_state_opt->count() > 0) {
    lb::v1::AdminState state = lb::v1::ADMIN_STATE_UNSPECIFIED;
    std::string upper = absl::AsciiStrToUpper(f.admin_state);
    if (upper == "ADMIN_STATE_UNSPECIFIED" || !lb::v1::AdminState_Parse(upper, &state)) {
      return s.Usage(
          absl::StrCat("invalid --admin-state \"", f.admin_state, "\": want active or draining"));
    }
    req.mutable_endpoint()->set_admin_state(state);
    req.mutable_update_mask()->add_paths("admin_state");
  }
  if (req.update_mask().paths_size() == 0) {
    return s.Usage(
        "nothing to change: give --weight, --zone, --label, --clear-labels or --admin-state");
  }
  req.set_address(address);
  req.set_port(port);
  lb::v1::UpdateEndpointResponse resp;
  grpc::Status st = s.Call(&Stub::UpdateEndpoint, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("updated ", net::JoinHostPort(address, port), " in cluster ",
                                   f.cluster, " (version ", resp.cluster().version(), ")\n"));
}

int RunDel(Session& s, const EndpointFlags& f) {
  lb::v1::RemoveEndpointRequest req;
  std::string address;
  uint32_t port = 0;
  if (absl::Status parsed = f.Parse(&address, &port); !parsed.ok()) {
    return s.Usage(parsed.message());
  }
  req.set_cluster(f.cluster);
  req.set_address(address);
  req.set_port(port);
  req.set_expected_version(f.if_version);
  lb::v1::RemoveEndpointResponse resp;
  grpc::Status st = s.Call(&Stub::RemoveEndpoint, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("removed ", net::JoinHostPort(address, port), " from cluster ",
                                   f.cluster, " (version ", resp.cluster().version(), ")\n"));
}

int RunSetState(Session& s, const EndpointFlags& f, lb::v1::AdminState state) {
  lb::v1::SetEndpointStateRequest req;
  std::string address;
  uint32_t port = 0;
  if (absl::Status parsed = f.Parse(&address, &port); !parsed.ok()) {
    return s.Usage(parsed.message());
  }
  req.set_cluster(f.cluster);
  req.set_address(address);
  req.set_port(port);
  req.set_admin_state(state);
  req.set_expected_version(f.if_version);
  lb::v1::SetEndpointStateResponse resp;
  grpc::Status st = s.Call(&Stub::SetEndpointState, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat((state == lb::v1::DRAINING ? "draining " : "activated "),
                                   net::JoinHostPort(address, port), " in cluster ", f.cluster,
                                   " (version ", resp.cluster().version(), ")\n"));
}

int RunList(Session& s, const std::string& cluster) {
  lb::v1::ListEndpointsRequest req;
  req.set_cluster(cluster);
  lb::v1::ListEndpointsResponse resp;
  grpc::Status st = s.Call(&Stub::ListEndpoints, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  PrintEndpoints(s.out(), resp.endpoints(), /*with_status=*/true);
  return kExitOk;
}

// Adds IP [PORT] positionals, --cluster and --if-version.
void AddEndpointArgs(CLI::App* cmd, EndpointFlags* f) {
  cmd->add_option("IP", f->ip, "Endpoint IP address or hostname; or IP:PORT, [IPv6]:PORT")
      ->required();
  f->port_opt = cmd->add_option("PORT", f->port, "Endpoint port (1-65535)");
  cmd->add_option("--cluster", f->cluster, "Cluster of the endpoint")->capture_default_str();
  AddIfVersionFlag(cmd, &f->if_version, "cluster");
}

void AddValueFlags(CLI::App* cmd, EndpointValueFlags* f, bool update) {
  f->weight_opt = cmd->add_option("--weight", f->weight,
                                  update ? "New weight, 1-10000" : "Weight, 1-10000 (default 1)");
  f->zone_opt =
      cmd->add_option("--zone", f->zone, update ? "New zone (\"\" clears it)" : "Zone (locality)");
  f->labels_opt = cmd->add_option("--label", f->labels,
                                  update ? "Label KEY=VALUE; repeat for more; the labels given "
                                           "replace all the endpoint's labels"
                                         : "Label KEY=VALUE; repeat for more")
                      ->allow_extra_args(false);
}

struct EndpointCommands : CommandGroup {
  EndpointValueFlags add;
  UpdateFlags update;
  EndpointFlags del;
  std::string list_cluster = kDefaultCluster;
  EndpointFlags drain;
  EndpointFlags undrain;
};

}  // namespace

std::unique_ptr<CommandGroup> AddEndpointCommands(CLI::App* app, Runner* run) {
  auto commands = std::make_unique<EndpointCommands>();
  EndpointCommands* c = commands.get();

  CLI::App* add_cmd = app->add_subcommand("add", "Add an endpoint to a cluster");
  AddEndpointArgs(add_cmd, &c->add);
  AddValueFlags(add_cmd, &c->add, /*update=*/false);
  add_cmd->footer(
      "A hostname that does not resolve from here is added with a warning on stderr.\n"
      "Examples:\n  lbctl add 127.0.0.1 1111\n  lbctl add 10.0.0.7:8080 --weight 3 --zone eu-1 "
      "--label version=v2\n  lbctl add [::1]:9000 --cluster web\n  lbctl add api.internal 443");
  add_cmd->callback([c, run]() { *run = [c](Session& s) { return RunAdd(s, c->add); }; });

  CLI::App* update_cmd = app->add_subcommand(
      "update", "Change an endpoint in place (it stays in rotation): only the flags given change");
  AddEndpointArgs(update_cmd, &c->update);
  AddValueFlags(update_cmd, &c->update, /*update=*/true);
  CLI::Option* clear =
      update_cmd->add_flag("--clear-labels", c->update.clear_labels, "Remove every label");
  clear->excludes(c->update.labels_opt);
  c->update.admin_state_opt = update_cmd->add_option("--admin-state", c->update.admin_state,
                                                     "active or draining (as undrain/drain)");
  update_cmd->footer(
      "Examples:\n  lbctl update 127.0.0.1 1111 --weight 5\n"
      "  lbctl update 10.0.0.7:8080 --cluster web --zone eu-2 --label version=v3\n"
      "  lbctl update 10.0.0.7:8080 --weight 2 --if-version 12");
  update_cmd->callback([c, run]() { *run = [c](Session& s) { return RunUpdate(s, c->update); }; });

  CLI::App* del_cmd = app->add_subcommand("del", "Remove an endpoint from a cluster");
  AddEndpointArgs(del_cmd, &c->del);
  del_cmd->footer("Examples:\n  lbctl del 127.0.0.1 1111\n  lbctl del 10.0.0.7:8080 --cluster web");
  del_cmd->callback([c, run]() { *run = [c](Session& s) { return RunDel(s, c->del); }; });

  CLI::App* list_cmd = app->add_subcommand("list", "List a cluster's endpoints");
  list_cmd->add_option("--cluster", c->list_cluster, "Cluster to list")->capture_default_str();
  list_cmd->footer(
      "Columns: ADDRESS PORT WEIGHT ZONE STATE HEALTHY REQ/S ERR% P99 RESOLVED.\n"
      "HEALTHY: N/M, N of the M proxies reporting on the endpoint see it healthy; REQ/S, ERR%\n"
      "(errors per request completed) and P99 (latency): over the controller's --lrs_window,\n"
      "summed over proxies and gRPC clients (docs/lrs.md). RESOLVED: addresses a hostname\n"
      "resolved to.\n"
      "Examples:\n  lbctl list\n  lbctl list --cluster web -o json");
  list_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunList(s, c->list_cluster); }; });

  CLI::App* drain_cmd =
      app->add_subcommand("drain", "Drain an endpoint: no new requests, in-flight ones finish");
  AddEndpointArgs(drain_cmd, &c->drain);
  drain_cmd->footer(
      "Examples:\n  lbctl drain 127.0.0.1 1111\n  lbctl drain 10.0.0.7:8080 "
      "--cluster web");
  drain_cmd->callback([c, run]() {
    *run = [c](Session& s) { return RunSetState(s, c->drain, lb::v1::DRAINING); };
  });

  CLI::App* undrain_cmd = app->add_subcommand("undrain", "Make a drained endpoint active again");
  AddEndpointArgs(undrain_cmd, &c->undrain);
  undrain_cmd->footer("Examples:\n  lbctl undrain 127.0.0.1 1111");
  undrain_cmd->callback([c, run]() {
    *run = [c](Session& s) { return RunSetState(s, c->undrain, lb::v1::ACTIVE); };
  });
  return commands;
}

}  // namespace lb::cli
