// lbctl watch.
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"

namespace lb::cli {
namespace {

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

struct WatchCommand : CommandGroup {
  int64_t count = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddWatchCommand(CLI::App* app, Runner* run) {
  auto command = std::make_unique<WatchCommand>();
  WatchCommand* c = command.get();
  CLI::App* watch_cmd = app->add_subcommand(
      "watch",
      "Stream changes: first the current state (every cluster and the route table), then each "
      "change as it commits, one line each (a JSON object per line with -o json)");
  watch_cmd->add_option("--count", c->count, "Stop after this many changes (0: no limit)")
      ->capture_default_str();
  watch_cmd->footer(
      "Runs until interrupted (Ctrl-C, SIGTERM: exit 0), until --count changes were shown, or,\n"
      "only if --timeout is given explicitly, for that long (then exit 0).\n"
      "Examples:\n  lbctl watch\n  lbctl watch -o json --count 1\n  lbctl watch --timeout 1m");
  watch_cmd->callback([c, run]() { *run = [c](Session& s) { return RunWatch(s, c->count); }; });
  return command;
}

}  // namespace lb::cli
