// The controller binary: parses flags, starts the Controller, waits for SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "common/process/stop_signals.h"
#include "common/process/usage.h"
#include "controller/server/controller.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:18000",
          "lb.v1 API, xDS (ADS), health and reflection; host:port, [v6]:port");
ABSL_FLAG(std::string, rest_listen, "127.0.0.1:9091",
          "REST: the seed's /config API, /v1 resources, /healthz, /readyz, /metrics");
ABSL_FLAG(std::string, data_dir, "lb-data", "Directory of the embedded store (created if missing)");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token that every mutating call must present");
ABSL_FLAG(std::string, ready_file, "",
          "Written with {\"grpc_port\",\"rest_port\",\"pid\"} once serving (for scripts/tests)");
ABSL_FLAG(absl::Duration, dns_refresh, absl::Seconds(30),
          "How often hostname endpoints are re-resolved");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");

int main(int argc, char** argv) {
  lb::process::SetProgramUsage(
      "The load balancer's controller.\n  controller [--grpc_listen=127.0.0.1:18000] "
      "[--rest_listen=127.0.0.1:9091] [--data_dir=lb-data] [--auth_token_file=FILE]",
      "controller/");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil checks every mutex acquisition for lock-order cycles; that costs a few
  // percent on gRPC's and our hot locks. Tests still run with the default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  // Before any thread starts; main waits for the stop signal below.
  lb::process::StopSignals stop;

  lb::controller::ControllerOptions options;
  options.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  options.rest_listen = absl::GetFlag(FLAGS_rest_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  options.ready_file = absl::GetFlag(FLAGS_ready_file);
  options.dns_refresh_interval = absl::GetFlag(FLAGS_dns_refresh);
  absl::StatusOr<std::unique_ptr<lb::controller::Controller>> controller =
      lb::controller::Controller::Start(options);
  if (!controller.ok()) {
    std::fprintf(stderr, "controller: %s\n", std::string(controller.status().ToString()).c_str());
    return 1;
  }
  int signo = stop.Wait();
  spdlog::info("controller: signal {}, shutting down", signo);
  (*controller)->Shutdown();
  return 0;
}
