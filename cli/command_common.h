// The part of lbctl every command shares: settings, the session with the controller (client,
// errors, JSON output), usage errors, and table output. Internal to //cli:lbctl_lib.
#ifndef LB_CLI_COMMAND_COMMON_H_
#define LB_CLI_COMMAND_COMMON_H_

#include <signal.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/lbctl.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "lb/v1/lb.pb.h"

namespace lb::cli {

inline constexpr char kDefaultCluster[] = "backend";

using Stub = lb::v1::LoadBalancer::StubInterface;

// The validated global settings a command runs with.
struct Settings {
  std::string controller;
  std::string token;
  bool json = false;
  absl::Duration timeout;
  bool timeout_given = false;
  std::string command;         // "lbctl cluster update": the command being run, for usage hints.
  bool token_in_argv = false;  // --token was given (visible in the process list).
  // TLS to the controller (PEM contents): with a CA or a client certificate the channel is TLS.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

// A command's local failure: bad usage (exit 2). Thrown by the settings code only; commands
// return Session::Usage(...) instead.
struct UsageError {
  std::string message;
};

// The session of one lbctl command: its settings, the stub to the controller (made on first
// use), and how results and errors are printed. Not thread-safe.
class Session {
 public:
  Session(Settings settings, const Env& env, std::ostream& out, std::ostream& err)
      : settings_(std::move(settings)), env_(env), out_(out), err_(err) {}

  const Settings& settings() const { return settings_; }
  const Env& env() const { return env_; }
  std::ostream& out() { return out_; }

  Stub* stub();

  // Token metadata always; a deadline of --timeout if `deadline`.
  void Prepare(grpc::ClientContext* ctx, bool deadline) const;

  // One unary call with the token and the --timeout deadline.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext ctx;
    Prepare(&ctx, true);
    return (stub()->*method)(&ctx, request, response);
  }

  // Prints a failed call's error and returns its exit code.
  int Fail(const grpc::Status& status);

  // A command's success: `response` as JSON with -o json, else `text`; returns the exit code.
  int Done(const google::protobuf::Message& response, absl::string_view text);

  // Prints a usage error (and where to find the usage) and returns kExitUsage.
  int Usage(absl::string_view message);

  // Prints "lbctl: warning: <message>" on stderr.
  void Warn(absl::string_view message);

  // Prints `message` as JSON (indented unless `one_line`); false and an error on failure.
  bool PrintJson(const google::protobuf::Message& message, bool one_line = false);

  static std::string CodeName(grpc::StatusCode code);

 private:
  Settings settings_;
  const Env& env_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<lb::v1::LoadBalancer::StubInterface> stub_;
};

// While alive, with Env::handle_signals, SIGINT and SIGTERM set a flag instead of ending the
// process (the previous handlers come back on destruction). For commands that run until
// stopped (watch, history -f). One at a time.
class StopSignals {
 public:
  explicit StopSignals(const Env& env);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // A signal arrived, or Env::interrupted says so.
  bool stopped() const;

 private:
  const Env& env_;
  bool installed_ = false;
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

// What the command chosen on the command line runs; set by its subcommand's callback during
// parsing. Returns an exit code (Session::Usage for bad arguments, before any call).
using Runner = std::function<int(Session&)>;

// Owns the flag storage of a group of commands, which must outlive parsing and running.
class CommandGroup {
 public:
  virtual ~CommandGroup() = default;
};

// ---------------------------------------------------------------------------------------------
// Output helpers.

// Adds --if-version to a write command: the expected version of the `what` ("cluster" or
// "route table") it changes; 0 (default) writes unconditionally.
void AddIfVersionFlag(CLI::App* cmd, int64_t* version, absl::string_view what);

// "random" for an unset policy, else the policy's name in lowercase.
// "http1" (also for UNSPECIFIED) or "http2".
std::string ProtocolName(lb::v1::UpstreamProtocol protocol);
std::string PolicyName(lb::v1::LbPolicy policy);

// The API's canonical form (common/time/duration_text.h): "5s", "0.500s", "60s".
std::string FormatProtoDuration(const google::protobuf::Duration& d);

// A duration flag in the API's syntax ("500ms", "2s", "1m", "1h", "0.500s"); kInvalidArgument
// naming `flag` otherwise.
absl::Status ParseDurationFlag(absl::string_view flag, const std::string& text,
                               google::protobuf::Duration* out);

// KEY=VALUE flags (--label) into `labels`; kInvalidArgument naming the bad one.
absl::Status ParseLabels(const std::vector<std::string>& flags,
                         google::protobuf::Map<std::string, std::string>* labels);

// One-line descriptions of cluster settings, shared by `cluster get` and `watch`.
std::string HashText(const lb::v1::HashPolicy& hash);
std::string HealthCheckText(const lb::v1::HealthCheck& hc);
std::string OutlierText(const lb::v1::OutlierDetection& od);
// "max connections 1024, max pending requests 1024, max requests 1024, max retries 3"; a limit
// the controller did not send shows as "default".
std::string CircuitBreakersText(const lb::v1::CircuitBreakers& cb);

// "ACTIVE" or "DRAINING" (unset is ACTIVE).
std::string StateName(lb::v1::AdminState state);

// A route's hosts, comma-separated: "a.example,*.b.example"; "*" for a route without hosts.
std::string RouteHostsText(const lb::v1::Route& r);

// `s`, or "-" if it is empty.
std::string OrDash(const std::string& s);

// Left-aligned columns separated by two spaces; the last column is not padded.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

// ADDRESS PORT WEIGHT ZONE STATE RESOLVED, one row per endpoint; `with_status` adds HEALTHY
// (N/M proxies), REQ/S, ERR% and P99 from each endpoint's status ("-" without one) before
// RESOLVED.
void PrintEndpoints(std::ostream& out,
                    const google::protobuf::RepeatedPtrField<lb::v1::Endpoint>& endpoints,
                    bool with_status = false);

}  // namespace lb::cli

#endif  // LB_CLI_COMMAND_COMMON_H_
