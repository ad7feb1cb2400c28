// lbctl proxies.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/xds/type_urls.h"

namespace lb::cli {
namespace {

// Short form of an xDS type URL for the proxies table.
std::string ShortType(const std::string& type_url) {
  if (type_url == xds::kListenerType) return "LDS";
  if (type_url == xds::kRouteType) return "RDS";
  if (type_url == xds::kClusterType) return "CDS";
  if (type_url == xds::kEndpointType) return "EDS";
  if (type_url == xds::kSecretType) return "SDS";
  return type_url;
}

int RunProxies(Session& s) {
  grpc::ClientContext ctx;
  s.Prepare(&ctx, false);
  lb::v1::ListProxiesResponse resp;
  grpc::Status st = s.stub()->ListProxies(&ctx, lb::v1::ListProxiesRequest(), &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  // The elected controller (docs/etcd.md), if the controller says.
  const auto& metadata = ctx.GetServerInitialMetadata();
  if (auto it = metadata.find("lb-leader"); it != metadata.end()) {
    s.out() << "LEADER: " << std::string(it->second.data(), it->second.size()) << "\n\n";
  }
  // One row per stream and resource type: what was sent, what was ACKed, the last NACK.
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "ADDRESS", "PROTOCOL", "TYPE", "SENT", "ACKED", "NACKS", "LAST NACK"}};
  for (const auto& p : resp.proxies()) {
    if (p.resources().empty()) {
      rows.push_back({p.node_id(), p.address(), p.protocol(), "-", "-", "-", "0", "-"});
    }
    for (const auto& r : p.resources()) {
      std::string nack = r.last_nack_error().empty()
                             ? "-"
                             : absl::StrCat(r.nacked_version(), ": ", r.last_nack_error());
      rows.push_back({p.node_id(), p.address(), p.protocol(), ShortType(r.type_url()),
                      r.version_sent(), r.version_acked(), absl::StrCat(r.nacks()), nack});
    }
  }
  PrintTable(s.out(), rows);
  return kExitOk;
}

}  // namespace

std::unique_ptr<CommandGroup> AddProxiesCommand(CLI::App* app, Runner* run) {
  CLI::App* proxies_cmd = app->add_subcommand(
      "proxies",
      "List the proxies and gRPC clients connected over ADS: per resource type the version "
      "sent, the version ACKed and the last NACK with its error");
  proxies_cmd->footer("Examples:\n  lbctl proxies\n  lbctl proxies -o json");
  proxies_cmd->callback([run]() { *run = [](Session& s) { return RunProxies(s); }; });
  return std::make_unique<CommandGroup>();
}

}  // namespace lb::cli
