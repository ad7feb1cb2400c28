// Shared pieces of the in-process ADS tests: a gtest fixture running the Controller on loopback
// ports chosen by the kernel with a fresh data directory, fixtures that also open ADS streams
// of either variant (also as TEST_P over both), and readable views of xDS resources.
#ifndef LB_TESTS_TEST_COMMON_ADS_FIXTURE_H_
#define LB_TESTS_TEST_COMMON_ADS_FIXTURE_H_

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/server/controller.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "gtest/gtest.h"
#include "tests/test_common/ads_client.h"
#include "tests/test_common/lb_api.h"

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

// An InProcessControllerTest whose tests open ADS streams of either variant.
class AdsTestBase : public InProcessControllerTest {
 protected:
  // How long ConnectAll waits for the initial state.
  static constexpr absl::Duration kInitialStateWait = absl::Seconds(10);

  // A stream to the controller; nullptr (and a test failure) if it does not connect.
  std::unique_ptr<AnyAdsClient> Connect(AdsVariant variant, ConnectOptions options);
  std::unique_ptr<AnyAdsClient> Connect(AdsVariant variant, const std::string& node_id,
                                        const std::string& user_agent = "lb-ads-test-client");

  // Connect, then subscribe to all four types in push order (CDS wildcard, EDS `eds_names`, LDS
  // wildcard, RDS "default") and wait for the initial state. nullptr (and a test failure) if a
  // step fails.
  std::unique_ptr<AnyAdsClient> ConnectAll(AdsVariant variant, ConnectOptions options,
                                           const std::vector<std::string>& eds_names);
  std::unique_ptr<AnyAdsClient> ConnectAll(AdsVariant variant, const std::string& node_id,
                                           const std::vector<std::string>& eds_names);
};

// AdsTestBase for TEST_P over both variants: Connect and ConnectAll without a variant use
// GetParam().
class AdsVariantTest : public AdsTestBase, public ::testing::WithParamInterface<AdsVariant> {
 protected:
  bool delta() const { return GetParam() == AdsVariant::kDelta; }

  using AdsTestBase::Connect;
  using AdsTestBase::ConnectAll;
  std::unique_ptr<AnyAdsClient> Connect(ConnectOptions options) {
    return Connect(GetParam(), std::move(options));
  }
  std::unique_ptr<AnyAdsClient> Connect(const std::string& node_id,
                                        const std::string& user_agent = "lb-ads-test-client") {
    return Connect(GetParam(), node_id, user_agent);
  }
  std::unique_ptr<AnyAdsClient> ConnectAll(ConnectOptions options,
                                           const std::vector<std::string>& eds_names) {
    return ConnectAll(GetParam(), std::move(options), eds_names);
  }
  std::unique_ptr<AnyAdsClient> ConnectAll(const std::string& node_id,
                                           const std::vector<std::string>& eds_names) {
    return ConnectAll(GetParam(), node_id, eds_names);
  }
};

// Test name suffix for INSTANTIATE_TEST_SUITE_P over AdsVariant: "Sotw" or "Delta".
std::string VariantTestName(const ::testing::TestParamInfo<AdsVariant>& info);

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

#endif  // LB_TESTS_TEST_COMMON_ADS_FIXTURE_H_
