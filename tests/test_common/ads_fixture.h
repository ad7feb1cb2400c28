// Shared pieces of the in-process ADS tests: a gtest fixture running the Controller on loopback
// ports chosen by the kernel with a fresh data directory, one that also opens ADS streams of
// either variant, and readable views of xDS resources.
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

// Requests `names` of `type_url` the way the stream's variant does: Subscribe (SotW) or
// SubscribeDelta (delta).
absl::Status SubscribeTo(SotwAdsClient& client, const std::string& type_url,
                         const std::vector<std::string>& names);
absl::Status SubscribeTo(DeltaAdsClient& client, const std::string& type_url,
                         const std::vector<std::string>& names);

// An InProcessControllerTest whose tests open ADS streams of one variant: `Client` is
// SotwAdsClient or DeltaAdsClient.
template <typename Client>
class AdsStreamTest : public InProcessControllerTest {
 protected:
  // How long ConnectAll waits for the initial state.
  static constexpr absl::Duration kInitialStateWait = absl::Seconds(10);

  // A stream to the controller; nullptr (and a test failure) if it does not connect.
  std::unique_ptr<Client> Connect(ConnectOptions options) {
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(target(), std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<Client> Connect(const std::string& node_id,
                                  const std::string& user_agent = "lb-ads-test-client") {
    ConnectOptions options;
    options.node_id = node_id;
    options.user_agent = user_agent;
    return Connect(std::move(options));
  }

  // Connect, then subscribe to all four types in push order (CDS wildcard, EDS `eds_names`, LDS
  // wildcard, RDS "default") and wait for the initial state. nullptr (and a test failure) if a
  // step fails.
  std::unique_ptr<Client> ConnectAll(ConnectOptions options,
                                     const std::vector<std::string>& eds_names) {
    std::unique_ptr<Client> c = Connect(std::move(options));
    if (c == nullptr) return nullptr;
    const std::vector<std::pair<std::string, std::vector<std::string>>> subscriptions = {
        {kClusterType, {"*"}},
        {kEndpointType, eds_names},
        {kListenerType, {"*"}},
        {kRouteType, {"default"}},
    };
    for (const auto& [type_url, names] : subscriptions) {
      absl::Status s = SubscribeTo(*c, type_url, names);
      if (!s.ok()) {
        ADD_FAILURE() << "subscribing to " << ShortType(type_url) << ": " << s;
        return nullptr;
      }
    }
    absl::Status s = c->WaitFor(
        [&](const ResourceState& st) {
          for (const auto& n : eds_names) {
            if (st.Endpoints(n) == nullptr) return false;
          }
          return st.Cluster("backend") != nullptr && st.Listener("backend") != nullptr &&
                 st.Route("default") != nullptr;
        },
        kInitialStateWait);
    if (!s.ok()) {
      ADD_FAILURE() << s;
      return nullptr;
    }
    return c;
  }
  std::unique_ptr<Client> ConnectAll(const std::string& node_id,
                                     const std::vector<std::string>& eds_names) {
    ConnectOptions options;
    options.node_id = node_id;
    return ConnectAll(std::move(options), eds_names);
  }
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

#endif  // LB_TESTS_TEST_COMMON_ADS_FIXTURE_H_
