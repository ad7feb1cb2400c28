// lbctl route list|get|create|update|delete.
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command_common.h"
#include "cli/commands.h"

namespace lb::cli {
namespace {

// "stable=90,canary=10" for a split, else the cluster.
std::string BackendText(const lb::v1::Route& r) {
  if (r.weighted_clusters_size() == 0) return r.cluster();
  std::vector<std::string> parts;
  for (const auto& w : r.weighted_clusters()) {
    parts.push_back(absl::StrCat(w.cluster(), "=", w.weight()));
  }
  return absl::StrJoin(parts, ",");
}

// The path column: "/api" for a prefix, "= /login" for an exact path.
std::string PathText(const lb::v1::Route& r) {
  return r.path_exact().empty() ? OrDash(r.path_prefix()) : absl::StrCat("= ", r.path_exact());
}

// "GET x-canary=1 x-beta^=a !x-bot" or "-".
std::string MatchText(const lb::v1::Route& r) {
  std::vector<std::string> parts;
  if (!r.method().empty()) parts.push_back(r.method());
  for (const auto& h : r.headers()) {
    std::string text = h.invert() ? "!" : "";
    switch (h.match_case()) {
      case lb::v1::HeaderMatch::kExact:
        absl::StrAppend(&text, h.name(), "=", h.exact());
        break;
      case lb::v1::HeaderMatch::kPrefix:
        absl::StrAppend(&text, h.name(), "^=", h.prefix());
        break;
      default:
        absl::StrAppend(&text, h.name());
    }
    parts.push_back(std::move(text));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

void PrintRoutes(std::ostream& out, const lb::v1::RouteTable& table) {
  bool matches = false;  // The MATCH column only when some route has one.
  for (const auto& r : table.routes()) matches |= MatchText(r) != "-";
  std::vector<std::vector<std::string>> rows = {{"NAME", "HOSTS", "PREFIX", "CLUSTER"}};
  if (matches) rows[0].push_back("MATCH");
  for (const auto& r : table.routes()) {
    rows.push_back({r.name(), RouteHostsText(r), PathText(r), BackendText(r)});
    if (matches) rows.back().push_back(MatchText(r));
  }
  PrintTable(out, rows);
}

// "NAME=VALUE" -> (NAME, VALUE); kInvalidArgument naming `flag` without "=".
absl::Status SplitPair(absl::string_view flag, const std::string& text, std::string* name,
                       std::string* value) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", flag, " \"", text, "\": want NAME=VALUE"));
  }
  *name = text.substr(0, eq);
  *value = text.substr(eq + 1);
  return absl::OkStatus();
}

struct RouteFlags {
  std::string name;
  std::string cluster;
  std::vector<std::string> splits;
  std::vector<std::string> hosts;
  std::string prefix;
  std::string path;
  std::string method;
  std::vector<std::string> header_exact;
  std::vector<std::string> header_prefix;
  std::vector<std::string> header_present;
  std::vector<std::string> header_absent;
  std::vector<std::string> header_not;
  bool no_headers = false;
  std::vector<std::string> set_headers;
  std::vector<std::string> add_headers;
  std::vector<std::string> remove_headers;
  bool no_header_changes = false;
  uint32_t priority = 0;
  uint32_t https_redirect = 0;
  int64_t if_version = 0;
  CLI::Option* cluster_opt = nullptr;
  CLI::Option* splits_opt = nullptr;
  CLI::Option* hosts_opt = nullptr;
  CLI::Option* prefix_opt = nullptr;
  CLI::Option* path_opt = nullptr;
  CLI::Option* method_opt = nullptr;
  std::vector<CLI::Option*> header_opts;  // Any of them replaces the route's header matches.
  CLI::Option* no_headers_opt = nullptr;
  std::vector<CLI::Option*> change_opts;  // Any of them replaces the route's header changes.
  CLI::Option* no_header_changes_opt = nullptr;
  CLI::Option* priority_opt = nullptr;
  CLI::Option* https_redirect_opt = nullptr;
  CLI::Option* if_version_opt = nullptr;

  static bool Given(const CLI::Option* opt) { return opt != nullptr && opt->count() > 0; }
  static bool AnyGiven(const std::vector<CLI::Option*>& opts) {
    for (const CLI::Option* o : opts) {
      if (Given(o)) return true;
    }
    return false;
  }

  // Sets the flags given in `r`; --host replaces every host of the route, --split the whole
  // split (and --cluster a split), --path a prefix and --prefix an exact path; any header flag
  // replaces all header matches, any of --set-header/--add-header/--remove-header all header
  // changes. Returns the first bad value.
  absl::Status Apply(lb::v1::Route* r) const {
    if (Given(cluster_opt)) {
      r->set_cluster(cluster);
      r->clear_weighted_clusters();
    }
    if (Given(splits_opt)) {
      r->clear_cluster();
      r->clear_weighted_clusters();
      for (const std::string& text : splits) {
        std::string name, weight;
        if (absl::Status st = SplitPair("--split", text, &name, &weight); !st.ok()) return st;
        uint32_t w = 0;
        if (!absl::SimpleAtoi(weight, &w)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "invalid --split \"", text, "\": want CLUSTER=WEIGHT, WEIGHT 0-1000000"));
        }
        lb::v1::WeightedCluster* out = r->add_weighted_clusters();
        out->set_cluster(name);
        out->set_weight(w);
      }
    }
    if (Given(hosts_opt)) {
      r->clear_host();
      r->clear_hosts();
      for (const std::string& h : hosts) r->add_hosts(h);
    }
    if (Given(prefix_opt)) {
      r->set_path_prefix(prefix);
      r->clear_path_exact();
    }
    if (Given(path_opt)) {
      r->set_path_exact(path);
      r->clear_path_prefix();
    }
    if (Given(method_opt)) r->set_method(method);
    if (AnyGiven(header_opts) || Given(no_headers_opt)) {
      r->clear_headers();
      auto add = [r](const std::string& name, bool invert) {
        lb::v1::HeaderMatch* h = r->add_headers();
        h->set_name(name);
        h->set_invert(invert);
        return h;
      };
      std::string name, value;
      for (const std::string& text : header_exact) {
        if (absl::Status st = SplitPair("--header", text, &name, &value); !st.ok()) return st;
        add(name, false)->set_exact(value);
      }
      for (const std::string& text : header_not) {
        if (absl::Status st = SplitPair("--header-not", text, &name, &value); !st.ok()) return st;
        add(name, true)->set_exact(value);
      }
      for (const std::string& text : header_prefix) {
        if (absl::Status st = SplitPair("--header-prefix", text, &name, &value); !st.ok()) {
          return st;
        }
        add(name, false)->set_prefix(value);
      }
      for (const std::string& n : header_present) add(n, false)->set_present(true);
      for (const std::string& n : header_absent) add(n, true)->set_present(true);
    }
    if (AnyGiven(change_opts) || Given(no_header_changes_opt)) {
      r->clear_request_headers_to_add();
      r->clear_request_headers_to_remove();
      std::string name, value;
      for (const std::string& text : set_headers) {
        if (absl::Status st = SplitPair("--set-header", text, &name, &value); !st.ok()) return st;
        lb::v1::HeaderValue* h = r->add_request_headers_to_add();
        h->set_name(name);
        h->set_value(value);
      }
      for (const std::string& text : add_headers) {
        if (absl::Status st = SplitPair("--add-header", text, &name, &value); !st.ok()) return st;
        lb::v1::HeaderValue* h = r->add_request_headers_to_add();
        h->set_name(name);
        h->set_value(value);
        h->set_append(true);
      }
      for (const std::string& n : remove_headers) r->add_request_headers_to_remove(n);
    }
    if (Given(priority_opt)) r->set_priority(priority);
    if (Given(https_redirect_opt)) r->set_https_redirect(https_redirect);
    return absl::OkStatus();
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
                                                {"hosts:", RouteHostsText(*r)}};
  if (r->path_exact().empty()) {
    rows.push_back({"prefix:", OrDash(r->path_prefix())});
  } else {
    rows.push_back({"path:", r->path_exact()});
  }
  if (r->weighted_clusters_size() == 0) {
    rows.push_back({"cluster:", r->cluster()});
  } else {
    rows.push_back({"split:", BackendText(*r)});
  }
  // Only when set: plain routes read as before.
  if (MatchText(*r) != "-") rows.push_back({"match:", MatchText(*r)});
  if (r->request_headers_to_add_size() > 0 || r->request_headers_to_remove_size() > 0) {
    std::vector<std::string> parts;
    for (const auto& h : r->request_headers_to_remove()) parts.push_back("-" + h);
    for (const auto& h : r->request_headers_to_add()) {
      parts.push_back(absl::StrCat(h.append() ? "+" : "", h.name(), "=", h.value()));
    }
    rows.push_back({"request headers:", absl::StrJoin(parts, " ")});
  }
  if (r->priority() != 0) rows.push_back({"priority:", absl::StrCat(r->priority())});
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
  if (absl::Status bad = f.Apply(req.mutable_route()); !bad.ok()) return s.Usage(bad.message());
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
  if (absl::Status bad = f.Apply(req.mutable_route()); !bad.ok()) return s.Usage(bad.message());
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
  f->splits_opt =
      cmd->add_option("--split", f->splits,
                      "CLUSTER=WEIGHT of a weighted split instead of --cluster; repeat for each "
                      "cluster (1-16; weights 0-1000000)")
          ->allow_extra_args(false);
  if (create) f->cluster_opt->excludes(f->splits_opt);
  f->hosts_opt =
      cmd->add_option("--host", f->hosts,
                      create ? "Host header to match: a name, *.domain, or * for any (default); "
                               "repeat for more"
                             : "Host header to match; repeat for more; replaces the route's hosts")
          ->allow_extra_args(false);
  f->prefix_opt =
      cmd->add_option("--prefix", f->prefix, "Path prefix to match, starting with / (default /)");
  f->path_opt =
      cmd->add_option("--path", f->path, "Exact path to match (query ignored) instead of --prefix");
  f->path_opt->excludes(f->prefix_opt);
  f->method_opt =
      cmd->add_option("--method", f->method, "HTTP method to match, e.g. GET; \"\": any");
  auto repeated = [cmd](const char* flag, std::vector<std::string>* out, const char* help) {
    return cmd->add_option(flag, *out, help)->allow_extra_args(false);
  };
  f->header_opts = {
      repeated("--header", &f->header_exact, "NAME=VALUE the request must carry; repeat"),
      repeated("--header-prefix", &f->header_prefix, "NAME=PREFIX the header must start with"),
      repeated("--header-present", &f->header_present, "Header NAME must be present"),
      repeated("--header-absent", &f->header_absent, "Header NAME must be absent"),
      repeated("--header-not", &f->header_not,
               "NAME=VALUE the header must not be (a missing header matches)")};
  f->no_headers_opt =
      cmd->add_flag("--no-headers", f->no_headers, "Remove every header match of the route");
  f->change_opts = {
      repeated("--set-header", &f->set_headers,
               "NAME=VALUE set on the request before it goes upstream (replaces the client's)"),
      repeated("--add-header", &f->add_headers, "NAME=VALUE added to the request's values"),
      repeated("--remove-header", &f->remove_headers, "Header NAME removed from the request")};
  f->no_header_changes_opt = cmd->add_flag("--no-header-changes", f->no_header_changes,
                                           "Remove every request header change of the route");
  f->priority_opt =
      cmd->add_option("--priority", f->priority,
                      "Tie-breaker between routes of equal precedence: lower first (default 0)");
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
      "*.domain, then *); among those an exact --path first, then the longest prefix, then a\n"
      "route with --method, then the one with the most header matches, then the lower\n"
      "--priority; table order breaks what is left. A host and match pair belongs to one\n"
      "route.\nExamples:\n  lbctl route list\n"
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
      "  lbctl route create canary --split web=90 --split web-v2=10 --prefix /\n"
      "  lbctl route create beta --cluster web-v2 --header x-beta=1 --method GET\n"
      "  lbctl route create login --cluster auth --path /login --set-header x-env=prod\n"
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
