// lbctl's entry point: global flags, settings from flags and the environment, parsing and
// dispatch. The commands live in one file per noun (cli/commands.h).
#include "cli/lbctl.h"

#include <netdb.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/time/duration_text.h"
#include "grpcpp/grpcpp.h"

namespace lb::cli {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr char kApi[] = "lb.v1";
constexpr char kDefaultController[] = "127.0.0.1:18000";

constexpr char kMainDescription[] =
    "lbctl manages the load balancer through its controller's lb.v1 gRPC API.";

constexpr char kMainFooter[] = R"(Environment:
  LBCTL_CONTROLLER  controller address when --controller is not given
  LBCTL_TOKEN       bearer token when neither --token nor --token-file is given
  LBCTL_CA          --ca when not given (PEM CA bundle: TLS to the controller)
  LBCTL_CERT        --cert when not given (PEM client certificate, for mTLS)
  LBCTL_KEY         --key when not given (PEM key of the client certificate)

Exit codes:
  0  success
  1  refused by the current state: not found, already exists, version conflict
     (--if-version), still in use; or another controller error
  2  invalid input: bad flags or arguments (found by lbctl, before any call), or a value
     the controller rejects as invalid (INVALID_ARGUMENT, OUT_OF_RANGE)
  3  controller unreachable, or no answer within --timeout
  4  unauthenticated or permission denied (give a token)

Output: tables and sentences, or with -o json the API's JSON (lb.v1 field names) for every
command. Errors and warnings go to stderr. Durations are written like 500ms, 2s, 1m or 0.500s
and printed in protobuf's form (0.500s, 2s, 60s).

Examples:
  lbctl add 127.0.0.1 1111
  lbctl add 10.0.0.7:8080 --weight 3 --zone eu-1
  lbctl update 10.0.0.7:8080 --weight 5
  lbctl list -o json
  lbctl del 127.0.0.1 1111
  lbctl cluster create web --policy round_robin --hc-path /healthz
  lbctl route create api --cluster web --prefix /api

Run 'lbctl COMMAND --help' for a command's flags.)";

// Global flags, shared by every command.
struct GlobalFlags {
  std::string controller;
  std::string token;
  std::string token_file;
  std::string output = "table";
  std::string timeout = "5s";
  std::string ca;
  std::string cert;
  std::string key;
  CLI::Option* controller_opt = nullptr;
  CLI::Option* timeout_opt = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Settings from flags and the environment.

std::optional<std::string> GetEnv(const Env& env, const std::string& name) {
  if (!env.getenv) return std::nullopt;
  return env.getenv(name);
}

Settings ResolveSettings(const GlobalFlags& g, const Env& env) {
  Settings s;
  if (g.controller_opt->count() > 0) {
    s.controller = g.controller;
  } else if (std::optional<std::string> v = GetEnv(env, "LBCTL_CONTROLLER"); v && !v->empty()) {
    s.controller = *v;
  } else {
    s.controller = kDefaultController;
  }
  if (s.controller.empty()) throw UsageError{"--controller must not be empty"};

  if (!g.token.empty()) {
    s.token = g.token;
  } else if (!g.token_file.empty()) {
    std::ifstream in(g.token_file);
    if (!in) {
      throw UsageError{
          absl::StrCat("cannot read token file ", g.token_file, ": ", std::strerror(errno))};
    }
    std::stringstream ss;
    ss << in.rdbuf();
    s.token = std::string(absl::StripAsciiWhitespace(ss.str()));
    if (s.token.empty()) throw UsageError{absl::StrCat("token file ", g.token_file, " is empty")};
  } else if (std::optional<std::string> v = GetEnv(env, "LBCTL_TOKEN"); v) {
    s.token = std::string(absl::StripAsciiWhitespace(*v));
  }

  if (g.output == "json") {
    s.json = true;
  } else if (g.output != "table") {
    throw UsageError{absl::StrCat("invalid --output \"", g.output, "\": want table or json")};
  }

  absl::StatusOr<absl::Duration> timeout = ParseDurationText(g.timeout);
  if (timeout.ok()) s.timeout = *timeout;
  if (!timeout.ok() || s.timeout <= absl::ZeroDuration()) {
    throw UsageError{absl::StrCat("invalid --timeout \"", g.timeout,
                                  "\": want a positive duration such as 500ms, 5s or 1m")};
  }
  s.timeout_given = g.timeout_opt->count() > 0;
  s.token_in_argv = !g.token.empty();

  // TLS: each file from its flag, else its variable.
  auto pem = [&](const std::string& flag_value, const char* flag, const char* var,
                 std::string* out) {
    std::string path = flag_value;
    if (path.empty()) {
      if (std::optional<std::string> v = GetEnv(env, var); v) path = *v;
    }
    if (path.empty()) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw UsageError{
          absl::StrCat("cannot read ", flag, " file ", path, ": ", std::strerror(errno))};
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().empty()) throw UsageError{absl::StrCat(flag, " file ", path, " is empty")};
    *out = ss.str();
  };
  pem(g.ca, "--ca", "LBCTL_CA", &s.tls_ca);
  pem(g.cert, "--cert", "LBCTL_CERT", &s.tls_cert);
  pem(g.key, "--key", "LBCTL_KEY", &s.tls_key);
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    throw UsageError{"--cert and --key (or LBCTL_CERT and LBCTL_KEY) go together"};
  }
  return s;
}

// "lbctl cluster create" for the deepest subcommand that was parsed.
std::string CommandPath(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* cur = &app;
  while (true) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    path += " " + cur->get_name();
  }
  return path;
}

// CLI11's message, except for a missing or unknown command, which CLI11 reports alike.
std::string ParseErrorText(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* cur = &app;
  std::string path = app.get_name();
  while (!cur->get_subcommands().empty()) {
    cur = cur->get_subcommands().front();
    path += " " + cur->get_name();
  }
  if (cur->get_require_subcommand_min() == 0 || !cur->get_subcommands().empty()) return e.what();
  std::vector<std::string> names;
  for (const CLI::App* sub : cur->get_subcommands(std::function<bool(const CLI::App*)>())) {
    names.push_back(sub->get_name());
  }
  std::vector<std::string> extra = app.remaining(/*recurse=*/true);
  std::string want = absl::StrCat("; want one of ", absl::StrJoin(names, ", "));
  if (extra.empty()) return absl::StrCat("missing command after \"", path, "\"", want);
  return absl::StrCat("unknown command \"", extra.front(), "\"", want);
}

}  // namespace

std::unique_ptr<lb::v1::LoadBalancer::StubInterface> DefaultStubFactory(
    const std::string& address) {
  return lb::v1::LoadBalancer::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<lb::v1::LoadBalancer::StubInterface> TlsStub(const std::string& address,
                                                             const std::string& ca_pem,
                                                             const std::string& cert_pem,
                                                             const std::string& key_pem) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem;
  options.pem_cert_chain = cert_pem;
  options.pem_private_key = key_pem;
  return lb::v1::LoadBalancer::NewStub(grpc::CreateChannel(address, grpc::SslCredentials(options)));
}

Env ProcessEnv() {
  Env env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.stub_factory = DefaultStubFactory;
  env.handle_signals = true;
  env.resolve = [](const std::string& hostname) -> absl::Status {
    addrinfo hints = {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    int rc = getaddrinfo(hostname.c_str(), nullptr, &hints, &result);
    if (rc != 0) return absl::NotFoundError(gai_strerror(rc));
    freeaddrinfo(result);
    return absl::OkStatus();
  };
  return env;
}

int RunLbctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
             const Env& env) {
  std::vector<const char*> argv = {"lbctl"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return RunLbctl(static_cast<int>(argv.size()), argv.data(), out, err, env);
}

int RunLbctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
             const Env& env) {
  CLI::App app(kMainDescription, "lbctl");
  app.fallthrough();
  app.require_subcommand(1);

  GlobalFlags g;
  g.controller_opt = app.add_option("--controller", g.controller,
                                    "Controller gRPC address, host:port or [v6]:port (env "
                                    "LBCTL_CONTROLLER; default 127.0.0.1:18000)");
  CLI::Option* token_opt =
      app.add_option("--token", g.token, "Bearer token for mutating calls (env LBCTL_TOKEN)");
  CLI::Option* token_file_opt =
      app.add_option("--token-file", g.token_file, "File holding the bearer token");
  token_opt->excludes(token_file_opt);
  app.add_option("-o,--output", g.output, "Output format: table or json")->capture_default_str();
  app.add_option("--ca", g.ca,
                 "PEM CA bundle the controller's certificate must chain to: TLS to the "
                 "controller (env LBCTL_CA)");
  app.add_option("--cert", g.cert,
                 "PEM client certificate for a controller that requires one (env LBCTL_CERT)");
  app.add_option("--key", g.key, "PEM private key of --cert (env LBCTL_KEY)");
  g.timeout_opt = app.add_option("--timeout", g.timeout,
                                 "Deadline of each call (e.g. 5s, 500ms); watch: see its --help")
                      ->capture_default_str();

  Runner run;
  // In the order `lbctl --help` lists them.
  std::unique_ptr<CommandGroup> endpoint_commands = AddEndpointCommands(&app, &run);
  std::unique_ptr<CommandGroup> cluster_commands = AddClusterCommands(&app, &run);
  std::unique_ptr<CommandGroup> route_commands = AddRouteCommands(&app, &run);
  std::unique_ptr<CommandGroup> cert_commands = AddCertCommands(&app, &run);
  std::unique_ptr<CommandGroup> watch_command = AddWatchCommand(&app, &run);
  std::unique_ptr<CommandGroup> proxies_command = AddProxiesCommand(&app, &run);
  std::unique_ptr<CommandGroup> history_command = AddHistoryCommand(&app, &run);

  CLI::App* version_cmd = app.add_subcommand("version", "Print lbctl's version and API");
  version_cmd->footer(
      "Examples:\n  lbctl version\n  lbctl version -o json   # {\"version\": \"0.1.0\", \"api\": "
      "\"lb.v1\"}");
  version_cmd->callback([&]() {
    run = [&](Session& s) {
      if (s.settings().json) {
        s.out() << "{\n \"version\": \"" << kVersion << "\",\n \"api\": \"" << kApi << "\"\n}\n";
      } else {
        s.out() << "lbctl " << kVersion << " (API " << kApi << ")\n";
      }
      return kExitOk;
    };
  });

  app.footer(kMainFooter);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    if (argc <= 1) {
      err << app.help();
      return kExitUsage;
    }
    err << "lbctl: " << ParseErrorText(app, e) << "\n"
        << "Run '" << CommandPath(app) << " --help' for usage.\n";
    return kExitUsage;
  }
  try {
    Settings settings = ResolveSettings(g, env);
    settings.command = CommandPath(app);
    Session session(std::move(settings), env, out, err);
    if (session.settings().token_in_argv) {
      session.Warn(
          "--token is visible to other users of this machine (ps); prefer --token-file or "
          "LBCTL_TOKEN");
    }
    if (!run) {
      err << "lbctl: no command given\n";
      return kExitUsage;
    }
    return run(session);
  } catch (const UsageError& e) {
    err << "lbctl: " << e.message << "\n"
        << "Run '" << CommandPath(app) << " --help' for usage.\n";
    return kExitUsage;
  }
}

}  // namespace lb::cli
