// lbctl watch.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/net/address.h"
#include "google/protobuf/util/message_differencer.h"

namespace lb::cli {
namespace {

// "a=1,b=2" (sorted), or "-".
std::string LabelsText(const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

std::string EndpointKey(const lb::v1::Endpoint& e) {
  return net::JoinHostPort(e.address(), e.port());
}

std::string ClusterSummary(const lb::v1::Cluster& c) {
  return absl::StrCat("(policy ", PolicyName(c.lb_policy()), ", ", c.endpoints_size(),
                      " endpoints, version ", c.version(), ")");
}

std::string RouteSummary(const lb::v1::Route& r) {
  return absl::StrCat("hosts ", RouteHostsText(r), ", prefix ", OrDash(r.path_prefix()),
                      ", cluster ", r.cluster());
}

bool SameMessage(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// Appends "WHAT OLD -> NEW" to `items` when the texts differ.
void AddIfChanged(std::vector<std::string>* items, absl::string_view what, const std::string& old,
                  const std::string& now) {
  if (old != now) items->push_back(absl::StrCat(what, " ", old, " -> ", now));
}

// What changed from `old` to `now`, one item per difference, endpoints first.
std::vector<std::string> ClusterDiff(const lb::v1::Cluster& old, const lb::v1::Cluster& now) {
  std::vector<std::string> items;
  std::map<std::string, const lb::v1::Endpoint*> before;
  for (const auto& e : old.endpoints()) before[EndpointKey(e)] = &e;
  std::set<std::string> present;
  for (const auto& e : now.endpoints()) {
    const std::string key = EndpointKey(e);
    present.insert(key);
    auto it = before.find(key);
    if (it == before.end()) {
      std::string text = absl::StrCat("added endpoint ", key, " (weight ", e.weight());
      if (!e.zone().empty()) absl::StrAppend(&text, ", zone ", e.zone());
      if (e.admin_state() == lb::v1::DRAINING) text += ", draining";
      items.push_back(text + ")");
      continue;
    }
    const lb::v1::Endpoint& was = *it->second;
    if (StateName(was.admin_state()) != StateName(e.admin_state())) {
      items.push_back(absl::StrCat(e.admin_state() == lb::v1::DRAINING ? "drained" : "activated",
                                   " endpoint ", key));
    }
    const std::string prefix = absl::StrCat("endpoint ", key);
    AddIfChanged(&items, absl::StrCat(prefix, " weight"), absl::StrCat(was.weight()),
                 absl::StrCat(e.weight()));
    AddIfChanged(&items, absl::StrCat(prefix, " zone"), OrDash(was.zone()), OrDash(e.zone()));
    AddIfChanged(&items, absl::StrCat(prefix, " labels"), LabelsText(was.labels()),
                 LabelsText(e.labels()));
  }
  for (const auto& e : old.endpoints()) {
    const std::string key = EndpointKey(e);
    if (present.count(key) == 0) items.push_back(absl::StrCat("removed endpoint ", key));
  }
  AddIfChanged(&items, "policy", PolicyName(old.lb_policy()), PolicyName(now.lb_policy()));
  AddIfChanged(&items, "hash", HashText(old.hash_policy()), HashText(now.hash_policy()));
  AddIfChanged(&items, "health check", HealthCheckText(old.health_check()),
               HealthCheckText(now.health_check()));
  AddIfChanged(&items, "outlier detection", OutlierText(old.outlier_detection()),
               OutlierText(now.outlier_detection()));
  AddIfChanged(&items, "connect timeout", FormatProtoDuration(old.connect_timeout()),
               FormatProtoDuration(now.connect_timeout()));
  AddIfChanged(&items, "retries", absl::StrCat(old.retries().value()),
               absl::StrCat(now.retries().value()));
  AddIfChanged(&items, "panic threshold", absl::StrCat(old.healthy_panic_threshold().value(), "%"),
               absl::StrCat(now.healthy_panic_threshold().value(), "%"));
  AddIfChanged(&items, "protocol", ProtocolName(old.protocol()), ProtocolName(now.protocol()));
  AddIfChanged(&items, "circuit breakers", CircuitBreakersText(old.circuit_breakers()),
               CircuitBreakersText(now.circuit_breakers()));
  return items;
}

std::vector<std::string> RouteTableDiff(const lb::v1::RouteTable& old,
                                        const lb::v1::RouteTable& now) {
  std::vector<std::string> items;
  std::map<std::string, const lb::v1::Route*> before;
  for (const auto& r : old.routes()) before[r.name()] = &r;
  std::set<std::string> present;
  for (const auto& r : now.routes()) {
    present.insert(r.name());
    auto it = before.find(r.name());
    if (it == before.end()) {
      items.push_back(absl::StrCat("added route ", r.name(), " (", RouteSummary(r), ")"));
      continue;
    }
    std::vector<std::string> changed;
    AddIfChanged(&changed, "hosts", RouteHostsText(*it->second), RouteHostsText(r));
    AddIfChanged(&changed, "prefix", OrDash(it->second->path_prefix()), OrDash(r.path_prefix()));
    AddIfChanged(&changed, "cluster", it->second->cluster(), r.cluster());
    if (!changed.empty()) {
      items.push_back(absl::StrCat("route ", r.name(), " ", absl::StrJoin(changed, ", ")));
    }
  }
  for (const auto& r : old.routes()) {
    if (present.count(r.name()) == 0) items.push_back(absl::StrCat("removed route ", r.name()));
  }
  return items;
}

// The state a watch has seen, so that each change can say what it changed. Not thread-safe.
class WatchState {
 public:
  // Records `change` and returns its line, or nullopt if it repeats what was already seen (the
  // controller may send a change again around the end of the initial state).
  std::optional<std::string> Apply(const lb::v1::Change& change) {
    const std::string prefix = absl::StrCat("revision ", change.revision(), ": ");
    switch (change.kind_case()) {
      case lb::v1::Change::kInitialStateEnd:
        initial_ = false;
        return absl::StrCat(prefix, "end of the initial state; changes follow");
      case lb::v1::Change::kCluster: {
        lb::v1::Cluster now = change.cluster();
        for (auto& e : *now.mutable_endpoints()) e.clear_resolved_addresses();
        auto it = clusters_.find(now.name());
        if (it == clusters_.end()) {
          std::string text = absl::StrCat(prefix, "cluster ", now.name(),
                                          initial_ ? "" : " created", " ", ClusterSummary(now));
          clusters_.emplace(now.name(), std::move(now));
          return text;
        }
        if (SameMessage(it->second, now)) return std::nullopt;
        std::vector<std::string> items = ClusterDiff(it->second, now);
        std::string text =
            absl::StrCat(prefix, "cluster ", now.name(), " (version ", now.version(),
                         "): ", items.empty() ? "no visible change" : absl::StrJoin(items, "; "));
        it->second = std::move(now);
        return text;
      }
      case lb::v1::Change::kClusterDeleted:
        if (clusters_.erase(change.cluster_deleted()) == 0 && !initial_) return std::nullopt;
        return absl::StrCat(prefix, "cluster ", change.cluster_deleted(), " deleted");
      case lb::v1::Change::kRouteTable: {
        const lb::v1::RouteTable& now = change.route_table();
        std::string text;
        if (!routes_.has_value()) {
          text = absl::StrCat(prefix, "route table (", now.routes_size(), " routes, version ",
                              now.version(), ")");
        } else if (SameMessage(*routes_, now)) {
          return std::nullopt;
        } else {
          std::vector<std::string> items = RouteTableDiff(*routes_, now);
          text =
              absl::StrCat(prefix, "route table (version ", now.version(),
                           "): ", items.empty() ? "no visible change" : absl::StrJoin(items, "; "));
        }
        routes_ = now;
        return text;
      }
      default:
        return absl::StrCat(prefix, "unknown change");
    }
  }

  // True until the end of the initial state was seen.
  bool initial() const { return initial_; }

 private:
  bool initial_ = true;
  std::map<std::string, lb::v1::Cluster> clusters_;
  std::optional<lb::v1::RouteTable> routes_;
};

int RunWatch(Session& s, int64_t count) {
  StopSignals stop(s.env());
  auto interrupted = [&]() { return stop.stopped(); };
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
  WatchState state;
  int64_t changes = 0;  // After the initial state.
  bool printed_ok = true;
  while (reader->Read(&change)) {
    const bool was_initial = state.initial();
    std::optional<std::string> text = state.Apply(change);
    if (!text.has_value()) continue;
    if (s.settings().json) {
      printed_ok = s.PrintJson(change, /*one_line=*/true);
    } else {
      s.out() << *text << "\n";
    }
    s.out().flush();
    if (!was_initial) ++changes;
    if (!printed_ok || (count > 0 && changes >= count)) {
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

struct WatchCommand : CommandGroup {
  int64_t count = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddWatchCommand(CLI::App* app, Runner* run) {
  auto command = std::make_unique<WatchCommand>();
  WatchCommand* c = command.get();
  CLI::App* watch_cmd = app->add_subcommand(
      "watch",
      "Stream changes: first the current state (every cluster and the route table), then a "
      "marker line, then each change as it commits, one line each saying what changed (a JSON "
      "lb.v1.Change per line with -o json)");
  watch_cmd
      ->add_option("--count", c->count,
                   "Stop after this many changes after the marker (0: no limit); the initial "
                   "state and the marker do not count")
      ->capture_default_str();
  watch_cmd->footer(
      "Lines: \"revision R: cluster NAME (...)\" and \"revision R: route table (...)\" for the\n"
      "initial state; \"revision R: end of the initial state; changes follow\" (JSON:\n"
      "{\"initial_state_end\":true}); then per change \"revision R: cluster NAME (version V): \"\n"
      "and what changed, separated by \"; \": added/removed/drained/activated endpoint A, "
      "endpoint\n"
      "A weight OLD -> NEW (zone, labels), policy, hash, health check, outlier detection,\n"
      "connect timeout, retries, panic threshold, circuit breakers OLD -> NEW; \"cluster NAME\n"
      "created (...)\", \"cluster NAME deleted\"; \"route table (version V): \" with\n"
      "added/removed route NAME and route NAME hosts/prefix/cluster OLD -> NEW. A change the\n"
      "controller sends again is not shown twice.\n"
      "Runs until interrupted (Ctrl-C, SIGTERM: exit 0), until --count changes were shown, or,\n"
      "only if --timeout is given explicitly, for that long (then exit 0).\n"
      "Examples:\n  lbctl watch\n  lbctl watch -o json --count 1\n  lbctl watch --timeout 1m");
  watch_cmd->callback([c, run]() { *run = [c](Session& s) { return RunWatch(s, c->count); }; });
  return command;
}

}  // namespace lb::cli
