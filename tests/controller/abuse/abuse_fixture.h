// Shared by the controller's abuse tests: the controller binary with extra flags, its metrics
// and process stats, a gRPC channel to it tuned like a hostile client, and a big cluster.
#ifndef LB_TESTS_CONTROLLER_ABUSE_ABUSE_FIXTURE_H_
#define LB_TESTS_CONTROLLER_ABUSE_ABUSE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/proc_stats.h"

namespace lb::testing {

class ControllerAbuseTest : public ::testing::Test {
 protected:
  // Starts the controller with `flags` (added to ControllerProcess's own).
  void StartController(std::vector<std::string> flags = {});

  // A metric series of /metrics ("name" or "name{labels}" as rendered); 0 if absent.
  uint64_t Metric(const std::string& series);
  // lb_controller_limit_exceeded_total{limit="<flag>"}.
  uint64_t Exceeded(const std::string& flag);
  ProcStats Stats();

  // A new channel (its own connection) to the gRPC port. Without BDP probing a stream that is
  // not read takes no more than HTTP/2's initial 64 KiB window, as a simple client would.
  std::shared_ptr<grpc::Channel> NewChannel(grpc::ChannelArguments args = {});
  std::unique_ptr<lb::v1::LoadBalancer::Stub> LbStub();

  // Creates cluster `name` with `endpoints` endpoints (10.<i>:80) in one call.
  absl::Status CreateBigCluster(const std::string& name, int endpoints);
  // Adds endpoint 10.200.<i / 256>.<i % 256>:80 to `cluster` over REST.
  absl::Status AddEndpoint(const std::string& cluster, int i);

  std::optional<ControllerProcess> controller_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_CONTROLLER_ABUSE_ABUSE_FIXTURE_H_
