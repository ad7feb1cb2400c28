// The commands of lbctl, one file per noun; each Add*Commands registers its subcommands on the
// top-level app (their order there is the order `lbctl --help` lists them) and, when one is
// chosen during parsing, sets *run. Internal to //cli:lbctl_lib.
#ifndef LB_CLI_COMMANDS_H_
#define LB_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/command_common.h"

namespace lb::cli {

// add, del, list, drain, undrain (endpoint_commands.cc).
std::unique_ptr<CommandGroup> AddEndpointCommands(CLI::App* app, Runner* run);
// cluster list|get|create|update|delete (cluster_commands.cc).
std::unique_ptr<CommandGroup> AddClusterCommands(CLI::App* app, Runner* run);
// route list|get|create|update|delete (route_commands.cc).
std::unique_ptr<CommandGroup> AddRouteCommands(CLI::App* app, Runner* run);
// cert add|update|list|get|delete (cert_commands.cc).
std::unique_ptr<CommandGroup> AddCertCommands(CLI::App* app, Runner* run);
// watch (watch_command.cc).
std::unique_ptr<CommandGroup> AddWatchCommand(CLI::App* app, Runner* run);
// history (history_command.cc).
std::unique_ptr<CommandGroup> AddHistoryCommand(CLI::App* app, Runner* run);
// What an audit event changed, for history's CHANGE column (exposed for tests).
std::string EventSummary(const lb::v1::Event& event);
// proxies (proxies_command.cc).
std::unique_ptr<CommandGroup> AddProxiesCommand(CLI::App* app, Runner* run);

}  // namespace lb::cli

#endif  // LB_CLI_COMMANDS_H_
