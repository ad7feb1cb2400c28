// Shared pieces of the in-process ADS tests: a gtest fixture running the Controller on loopback
// ports chosen by the kernel with a fresh data directory, and readable views of xDS resources.
#ifndef LB_TESTS_XDS_FIXTURE_H_
#define LB_TESTS_XDS_FIXTURE_H_

#include <memory>
#include <set>
#include <string>

#include "controller/server/controller.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "gtest/gtest.h"
#include "tests/xds/ads_client.h"
#include "tests/xds/lb_api.h"

namespace lb::testing::xds {

// For EXPECT_TRUE(IsOk(...)): prints the status on failure.
inline ::testing::AssertionResult IsOk(const absl::Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s;
}
template <typename T>
::testing::AssertionResult IsOk(const absl::StatusOr<T>& s) {
  return IsOk(s.status());
}

class InProcessControllerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // "127.0.0.1:PORT" of the gRPC listener (lb.v1 and ADS).
  std::string target() const;
  int rest_port() const { return controller_->rest_port(); }

  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<LbApi> api_;
};

// Every endpoint of a ClusterLoadAssignment as
// "ADDRESS:PORT w=WEIGHT zone=ZONE HEALTH" (HEALTH: UNKNOWN, DRAINING, ...).
std::set<std::string> EndpointSet(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla);

// The endpoint set of `name` in `state`, empty if it has no ClusterLoadAssignment.
std::set<std::string> EndpointSetOf(const ResourceState& state, const std::string& name);

// Checks that `listener` is an api_listener whose inline route sends everything to `cluster`
// and whose last HTTP filter is the router. Returns "" or a description of what is wrong.
std::string CheckApiListener(const envoy::config::listener::v3::Listener& listener,
                             const std::string& cluster);

}  // namespace lb::testing::xds

#endif  // LB_TESTS_XDS_FIXTURE_H_
