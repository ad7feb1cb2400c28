// lbctl, the operator CLI of the lb.v1 controller API, as a library so tests can drive it.
#ifndef LB_CLI_LBCTL_H_
#define LB_CLI_LBCTL_H_

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lb/v1/lb.grpc.pb.h"

namespace lb::cli {

// Process exit codes; also listed in `lbctl --help`. An invalid value is exit 2 whether lbctl or
// the controller finds it; exit 1 is a valid request the current state does not allow.
enum ExitCode : int {
  kExitOk = 0,
  // Refused by the state: not found, already exists, version conflict (--if-version), in use.
  kExitRefused = 1,
  // Invalid: bad command line, or a value the controller rejects (INVALID_ARGUMENT).
  kExitUsage = 2,
  kExitUnreachable = 3,  // Controller unreachable or no answer within --timeout.
  kExitAuth = 4,         // Unauthenticated or permission denied.
};

// Makes the stub lbctl calls for a --controller address ("host:port", "[v6]:port").
using StubFactory =
    std::function<std::unique_ptr<lb::v1::LoadBalancer::StubInterface>(const std::string&)>;

// What lbctl takes from its surroundings.
struct Env {
  // Environment variable lookup; nullopt when unset. Unset member: no variables.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Unset member: an insecure gRPC channel to the address (DefaultStubFactory).
  StubFactory stub_factory;
  // Polled while `watch` streams; returning true ends the watch with exit 0.
  std::function<bool()> interrupted;
  // If true, `watch` also ends (exit 0) on SIGINT/SIGTERM, handling them while it runs.
  bool handle_signals = false;
  // Resolves a hostname `add` was given, to warn when it does not resolve: OK, or why not.
  // Unset member: no check.
  std::function<absl::Status(const std::string& hostname)> resolve;
};

// An lb.v1 stub on an insecure gRPC channel to `address`.
std::unique_ptr<lb::v1::LoadBalancer::StubInterface> DefaultStubFactory(const std::string& address);

// An lb.v1 stub over TLS to `address`: the server's certificate must chain to `ca_pem` (empty:
// gRPC's default roots); with `cert_pem` and `key_pem`, lbctl presents that client certificate.
std::unique_ptr<lb::v1::LoadBalancer::StubInterface> TlsStub(const std::string& address,
                                                             const std::string& ca_pem,
                                                             const std::string& cert_pem,
                                                             const std::string& key_pem);

// getenv(3), DefaultStubFactory, handle_signals and getaddrinfo(3); `interrupted` is left unset.
Env ProcessEnv();

// Runs one lbctl command line (argv[0] is the program name). Writes results to `out`,
// errors as "lbctl: <message>" lines to `err`; returns an ExitCode.
int RunLbctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
             const Env& env);
// Same, with the arguments after the program name.
int RunLbctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
             const Env& env);

}  // namespace lb::cli

#endif  // LB_CLI_LBCTL_H_
