// lbctl add, del, list, drain, undrain.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/net/address.h"

namespace lb::cli {
namespace {

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

// Adds IP [PORT] positionals and --cluster.
void AddEndpointArgs(CLI::App* cmd, EndpointFlags* f) {
  cmd->add_option("IP", f->ip, "Endpoint IP address or hostname; or IP:PORT, [IPv6]:PORT")
      ->required();
  f->port_opt = cmd->add_option("PORT", f->port, "Endpoint port (1-65535)");
  cmd->add_option("--cluster", f->cluster, "Cluster of the endpoint")->capture_default_str();
}

struct EndpointCommands : CommandGroup {
  AddFlags add;
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
  c->add.weight_opt = add_cmd->add_option("--weight", c->add.weight, "Weight, 1-10000 (default 1)");
  add_cmd->add_option("--zone", c->add.zone, "Zone (locality) of the endpoint");
  add_cmd->add_option("--label", c->add.labels, "Label KEY=VALUE; repeat for more")
      ->allow_extra_args(false);
  add_cmd->footer(
      "Examples:\n  lbctl add 127.0.0.1 1111\n  lbctl add 10.0.0.7:8080 --weight 3 --zone eu-1 "
      "--label version=v2\n  lbctl add [::1]:9000 --cluster web\n  lbctl add api.internal 443");
  add_cmd->callback([c, run]() { *run = [c](Session& s) { return RunAdd(s, c->add); }; });

  CLI::App* del_cmd = app->add_subcommand("del", "Remove an endpoint from a cluster");
  AddEndpointArgs(del_cmd, &c->del);
  del_cmd->footer("Examples:\n  lbctl del 127.0.0.1 1111\n  lbctl del 10.0.0.7:8080 --cluster web");
  del_cmd->callback([c, run]() { *run = [c](Session& s) { return RunDel(s, c->del); }; });

  CLI::App* list_cmd = app->add_subcommand("list", "List a cluster's endpoints");
  list_cmd->add_option("--cluster", c->list_cluster, "Cluster to list")->capture_default_str();
  list_cmd->footer(
      "Columns: ADDRESS PORT WEIGHT ZONE STATE RESOLVED (addresses a hostname resolved to).\n"
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
