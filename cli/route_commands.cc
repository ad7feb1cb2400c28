// lbctl route list|get|create|update|delete.
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/command_common.h"
#include "cli/commands.h"

namespace lb::cli {
namespace {

void PrintRoutes(std::ostream& out, const lb::v1::RouteTable& table) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "HOSTS", "PREFIX", "CLUSTER"}};
  for (const auto& r : table.routes()) {
    rows.push_back({r.name(), RouteHostsText(r), OrDash(r.path_prefix()), r.cluster()});
  }
  PrintTable(out, rows);
}

struct RouteFlags {
  std::string name;
  std::string cluster;
  std::vector<std::string> hosts;
  std::string prefix;
  uint32_t https_redirect = 0;
  int64_t if_version = 0;
  CLI::Option* cluster_opt = nullptr;
  CLI::Option* hosts_opt = nullptr;
  CLI::Option* prefix_opt = nullptr;
  CLI::Option* https_redirect_opt = nullptr;
  CLI::Option* if_version_opt = nullptr;

  // Sets the flags given in `r`; --host replaces every host of the route.
  void Apply(lb::v1::Route* r) const {
    if (cluster_opt->count() > 0) r->set_cluster(cluster);
    if (hosts_opt->count() > 0) {
      r->clear_host();
      r->clear_hosts();
      for (const std::string& h : hosts) r->add_hosts(h);
    }
    if (prefix_opt->count() > 0) r->set_path_prefix(prefix);
    if (https_redirect_opt->count() > 0) r->set_https_redirect(https_redirect);
  }
};

grpc::Status ListRoutes(Session& s, lb::v1::RouteTableResponse* resp) {
  return s.Call(&Stub::ListRoutes, lb::v1::ListRoutesRequest(), resp);
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
  std::vector<std::vector<std::string>> rows = {{"name:", r->name()},
                                                {"hosts:", RouteHostsText(*r)},
                                                {"prefix:", OrDash(r->path_prefix())},
                                                {"cluster:", r->cluster()}};
  if (r->https_redirect() != 0) {
    rows.push_back({"https redirect:", absl::StrCat(r->https_redirect())});
  }
  rows.push_back({"table version:", absl::StrCat(resp.route_table().version())});
  PrintTable(s.out(), rows);
  return kExitOk;
}

int RunRouteCreate(Session& s, const RouteFlags& f) {
  lb::v1::CreateRouteRequest req;
  req.mutable_route()->set_name(f.name);
  req.set_expected_version(f.if_version);
  f.Apply(req.mutable_route());
  lb::v1::RouteTableResponse resp;
  grpc::Status st = s.Call(&Stub::CreateRoute, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("created route ", f.name, " (route table version ",
                                   resp.route_table().version(), ")\n"));
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
  // The table as read, unless the caller names the version it read itself.
  req.set_expected_version(f.if_version_opt->count() > 0 ? f.if_version
                                                         : current.route_table().version());
  f.Apply(req.mutable_route());
  lb::v1::RouteTableResponse resp;
  st = s.Call(&Stub::UpdateRoute, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("updated route ", f.name, " (route table version ",
                                   resp.route_table().version(), ")\n"));
}

int RunRouteDelete(Session& s, const std::string& name, int64_t if_version) {
  lb::v1::DeleteRouteRequest req;
  req.set_name(name);
  req.set_expected_version(if_version);
  lb::v1::RouteTableResponse resp;
  grpc::Status st = s.Call(&Stub::DeleteRoute, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("deleted route ", name, " (route table version ",
                                   resp.route_table().version(), ")\n"));
}

void AddRouteFlags(CLI::App* cmd, RouteFlags* f, bool create) {
  cmd->add_option("NAME", f->name, "Route name ([a-zA-Z0-9_.-], 1-128 characters)")->required();
  f->cluster_opt = cmd->add_option("--cluster", f->cluster, "Cluster the route sends to");
  if (create) f->cluster_opt->required();
  f->hosts_opt =
      cmd->add_option("--host", f->hosts,
                      create ? "Host header to match: a name, *.domain, or * for any (default); "
                               "repeat for more"
                             : "Host header to match; repeat for more; replaces the route's hosts")
          ->allow_extra_args(false);
  f->prefix_opt =
      cmd->add_option("--prefix", f->prefix, "Path prefix to match, starting with / (default /)");
  f->https_redirect_opt =
      cmd->add_option("--https-redirect", f->https_redirect,
                      "Redirect plaintext requests to https with this status: 301 or 308; 0: off")
          ->check(CLI::IsMember({0, 301, 308}));
  f->if_version_opt = cmd->add_option(
      "--if-version", f->if_version,
      create ? "Write only if the route table is still at this version; otherwise exit 1"
             : "Write only if the route table is still at this version (default: the version "
               "this command reads first); otherwise exit 1");
}

struct RouteCommands : CommandGroup {
  std::string get_name;
  RouteFlags create;
  RouteFlags update;
  std::string delete_name;
  int64_t delete_if_version = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddRouteCommands(CLI::App* app, Runner* run) {
  auto commands = std::make_unique<RouteCommands>();
  RouteCommands* c = commands.get();

  CLI::App* route_cmd =
      app->add_subcommand("route", "Manage ingress routes (host/prefix → cluster)");
  route_cmd->require_subcommand(1);
  route_cmd->footer(
      "A request takes the route of its most specific matching host (exact, then the longest\n"
      "*.domain, then *), and among those the longest matching path prefix; table order only\n"
      "breaks ties. A host and prefix pair belongs to one route.\nExamples:\n  lbctl route list\n"
      "  lbctl route create api --cluster web --host example.com --host www.example.com "
      "--prefix /api\n"
      "  lbctl route update api --cluster web-v2\n  lbctl route delete api");
  CLI::App* route_list = route_cmd->add_subcommand(
      "list",
      "List routes in table order (creation order). That is not match order: the most specific "
      "host, then the longest prefix, wins; table order only breaks ties");
  route_list->footer("Examples:\n  lbctl route list\n  lbctl route list -o json");
  route_list->callback([run]() { *run = [](Session& s) { return RunRouteList(s); }; });

  CLI::App* route_get = route_cmd->add_subcommand("get", "Show one route");
  route_get->add_option("NAME", c->get_name, "Route name")->required();
  route_get->footer("Examples:\n  lbctl route get api");
  route_get->callback(
      [c, run]() { *run = [c](Session& s) { return RunRouteGet(s, c->get_name); }; });

  CLI::App* route_create_cmd =
      route_cmd->add_subcommand("create", "Append a route to the route table (alias: add)");
  route_create_cmd->alias("add");
  AddRouteFlags(route_create_cmd, &c->create, /*create=*/true);
  route_create_cmd->footer(
      "Examples:\n  lbctl route create api --cluster web --prefix /api\n"
      "  lbctl route create shop --cluster shop --host '*.shop.example'\n"
      "  lbctl route create www --cluster web --host example.com --host www.example.com\n"
      "A host and prefix another route has already is refused (exit 1) naming that route.");
  route_create_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunRouteCreate(s, c->create); }; });

  CLI::App* route_update_cmd = route_cmd->add_subcommand(
      "update",
      "Change the given fields of a route (a read, then a write). Fails (exit 1) if the route "
      "table changed in between");
  AddRouteFlags(route_update_cmd, &c->update, /*create=*/false);
  route_update_cmd->footer("Examples:\n  lbctl route update api --cluster web-v2 --prefix /v2");
  route_update_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunRouteUpdate(s, c->update); }; });

  CLI::App* route_delete = route_cmd->add_subcommand("delete", "Delete a route");
  route_delete->add_option("NAME", c->delete_name, "Route name")->required();
  AddIfVersionFlag(route_delete, &c->delete_if_version, "route table");
  route_delete->footer(
      "Examples:\n  lbctl route delete api\n  lbctl route delete api --if-version 9");
  route_delete->callback([c, run]() {
    *run = [c](Session& s) { return RunRouteDelete(s, c->delete_name, c->delete_if_version); };
  });
  return commands;
}

}  // namespace lb::cli
