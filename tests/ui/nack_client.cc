// An xDS client that rejects what it is sent, for the console's browser test: it subscribes to
// one cluster's endpoints (EDS) over ADS and NACKs every response with a fixed message, the way
// a proxy reports a config it cannot apply, so /v1/proxies shows a NACK with its error.
//   nack_client --controller=127.0.0.1:PORT --cluster=NAME --node_id=ID [--max_seconds=N]
// Runs until SIGTERM, or --max_seconds (bounded, as every wait in the tests).
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/test_common/ads_client.h"

ABSL_FLAG(std::string, controller, "", "The controller's gRPC address (host:port)");
ABSL_FLAG(std::string, cluster, "backend", "Cluster whose endpoints are requested and NACKed");
ABSL_FLAG(std::string, node_id, "ui-nack-client", "Node id sent to the controller");
ABSL_FLAG(int, max_seconds, 300, "Exit after this long");

namespace {
volatile sig_atomic_t stop = 0;
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGTERM, [](int) { stop = 1; });
  signal(SIGINT, [](int) { stop = 1; });
  lb::testing::xds::ConnectOptions options;
  options.node_id = absl::GetFlag(FLAGS_node_id);
  auto client = lb::testing::xds::SotwAdsClient::Connect(absl::GetFlag(FLAGS_controller), options);
  if (!client.ok()) {
    std::fprintf(stderr, "nack_client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  if (absl::Status s =
          (*client)->Subscribe(lb::testing::xds::kEndpointType, {absl::GetFlag(FLAGS_cluster)});
      !s.ok()) {
    std::fprintf(stderr, "nack_client: subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_max_seconds));
  while (!stop && absl::Now() < deadline) {
    auto response = (*client)->Next(absl::Milliseconds(200));
    if (!response.ok()) continue;
    const std::string error =
        absl::StrCat("nack_client: endpoints of ", absl::GetFlag(FLAGS_cluster), " version ",
                     response->version_info(), " rejected by the test");
    if (absl::Status s = (*client)->Nack(*response, error); !s.ok()) {
      std::fprintf(stderr, "nack_client: nack: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("NACKed version %s\n", response->version_info().c_str());
    std::fflush(stdout);
  }
  return 0;
}
