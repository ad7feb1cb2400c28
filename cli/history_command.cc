// lbctl history: the audit trail (docs/audit.md).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"

namespace lb::cli {
namespace {

// How often -f asks for new events, and how many it asks for at once.
constexpr absl::Duration kFollowInterval = absl::Seconds(1);
constexpr uint32_t kFollowBatch = 1000;
// A CHANGE cell longer than this is cut (the JSON has it all).
constexpr size_t kMaxSummary = 80;

nlohmann::json ParseOrNull(const std::string& text) {
  if (text.empty()) return nlohmann::json();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string ValueText(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "\"\"" : v.get<std::string>();
  return v.dump();
}

}  // namespace

// What an update changed: "weight 1→5, admin_state ACTIVE→DRAINING"; "created"/"deleted".
std::string EventSummary(const lb::v1::Event& e) {
  if (e.action() == "create") return "created";
  if (e.action() == "delete") return "deleted";
  const nlohmann::json before = ParseOrNull(e.before_json());
  const nlohmann::json after = ParseOrNull(e.after_json());
  if (!before.is_object() || !after.is_object()) return "-";
  std::vector<std::string> items;
  for (auto it = after.begin(); it != after.end(); ++it) {
    auto was = before.find(it.key());
    const nlohmann::json old = was == before.end() ? nlohmann::json() : *was;
    if (old == it.value()) continue;
    if (it.value().is_structured() || old.is_structured()) {
      items.push_back(absl::StrCat(it.key(), " changed"));
    } else {
      items.push_back(absl::StrCat(it.key(), " ", ValueText(old), "→", ValueText(it.value())));
    }
  }
  for (auto it = before.begin(); it != before.end(); ++it) {
    if (!after.contains(it.key())) items.push_back(absl::StrCat(it.key(), " removed"));
  }
  std::string text = items.empty() ? "-" : absl::StrJoin(items, ", ");
  if (text.size() > kMaxSummary) text = text.substr(0, kMaxSummary - 3) + "...";
  return text;
}

namespace {

std::vector<std::string> Row(const lb::v1::Event& e) {
  const absl::Time t = absl::FromUnixSeconds(e.time().seconds());
  return {absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()),
          e.api(),
          e.caller(),
          e.action(),
          e.kind(),
          e.name(),
          EventSummary(e)};
}

const std::vector<std::string> kHeader = {"TIME", "API",  "CALLER", "ACTION",
                                          "KIND", "NAME", "CHANGE"};

struct HistoryCommand : CommandGroup {
  std::string cluster;
  bool follow = false;
  uint32_t limit = 100;
  int64_t count = 0;
};

int RunHistory(Session& s, const HistoryCommand& c) {
  if (c.limit < 1 || c.limit > 1000) return s.Usage("--limit must be 1 to 1000");
  if (c.count < 0) return s.Usage("--count must be >= 0");
  lb::v1::ListEventsRequest req;
  req.set_cluster(c.cluster);
  req.set_limit(c.limit);
  lb::v1::ListEventsResponse resp;
  grpc::Status st = s.Call(&Stub::ListEvents, req, &resp);
  if (!st.ok()) return s.Fail(st);
  if (!c.follow) {
    if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
    std::vector<std::vector<std::string>> rows = {kHeader};
    for (const lb::v1::Event& e : resp.events()) rows.push_back(Row(e));
    PrintTable(s.out(), rows);
    return kExitOk;
  }
  // Follow: what exists now, then each new event as it is recorded, one line each.
  StopSignals stop(s.env());
  int64_t since = 0;
  int64_t shown = 0;
  bool header = !s.settings().json;
  auto print = [&](const lb::v1::Event& e) -> bool {
    since = std::max(since, e.revision());
    if (s.settings().json) {
      if (!s.PrintJson(e, /*one_line=*/true)) return false;
    } else {
      if (header) {
        s.out() << absl::StrJoin(kHeader, "  ") << "\n";
        header = false;
      }
      s.out() << absl::StrJoin(Row(e), "  ") << "\n";
    }
    s.out().flush();
    return static_cast<bool>(s.out());
  };
  for (const lb::v1::Event& e : resp.events()) {
    if (!print(e)) return kExitRefused;
  }
  if (header) {
    s.out() << absl::StrJoin(kHeader, "  ") << "\n";
    s.out().flush();
    header = false;
  }
  const absl::Time deadline = absl::Now() + s.settings().timeout;
  while (!stop.stopped()) {
    if (s.settings().timeout_given && absl::Now() >= deadline) return kExitOk;
    // Sleep in short steps so a signal is seen at once.
    for (absl::Time wake = absl::Now() + kFollowInterval; absl::Now() < wake && !stop.stopped();) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (stop.stopped()) break;
    req.set_since(since);
    req.set_limit(kFollowBatch);
    resp.Clear();
    st = s.Call(&Stub::ListEvents, req, &resp);
    if (!st.ok()) return s.Fail(st);
    for (const lb::v1::Event& e : resp.events()) {
      if (!print(e)) return kExitRefused;
      if (c.count > 0 && ++shown >= c.count) return kExitOk;
    }
  }
  return kExitOk;
}

}  // namespace

std::unique_ptr<CommandGroup> AddHistoryCommand(CLI::App* app, Runner* run) {
  auto command = std::make_unique<HistoryCommand>();
  HistoryCommand* c = command.get();
  CLI::App* cmd = app->add_subcommand(
      "history", "Show the audit trail: who changed what, when, through which API (oldest first)");
  cmd->add_option("--cluster", c->cluster, "Only this cluster and its endpoints");
  cmd->add_flag("-f,--follow", c->follow,
                "Keep running and show each new event as it is recorded (until Ctrl-C)");
  cmd->add_option("--limit", c->limit, "How many of the newest events to show (1-1000)")
      ->capture_default_str();
  cmd->add_option("--count", c->count, "With -f: stop after this many new events (0: no limit)")
      ->capture_default_str();
  cmd->footer(
      "Columns: TIME (UTC), API (rest_config, rest_v1, grpc, kubernetes, internal), CALLER\n"
      "(token name, client certificate subject, or anonymous), ACTION (create, update, delete),\n"
      "KIND (cluster, endpoint, route, certificate), NAME (endpoints: CLUSTER/ADDRESS:PORT) and\n"
      "CHANGE (\"weight 1→5\"). -o json: the lb.v1.ListEventsResponse; with -f one lb.v1.Event\n"
      "per line. -f polls every second; it ends on Ctrl-C/SIGTERM (exit 0), after --count new\n"
      "events, or, only if --timeout is given explicitly, after that long.\n"
      "Examples:\n  lbctl history\n  lbctl history --cluster web -o json\n  lbctl history -f");
  cmd->callback([c, run]() { *run = [c](Session& s) { return RunHistory(s, *c); }; });
  return command;
}

}  // namespace lb::cli
