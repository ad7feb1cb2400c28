// Test helpers around the controller's management APIs: a thin lb.v1 client whose calls return
// absl::Status (each bounded by a deadline), and lookups in ListProxies answers.
#ifndef LB_TESTS_TEST_COMMON_LB_API_H_
#define LB_TESTS_TEST_COMMON_LB_API_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lb/v1/lb.grpc.pb.h"

namespace lb::testing::xds {

class LbApi {
 public:
  // `target`: "127.0.0.1:PORT" of the controller's gRPC listener.
  explicit LbApi(const std::string& target, absl::Duration deadline = absl::Seconds(10));

  absl::Status CreateCluster(const std::string& name);
  absl::Status DeleteCluster(const std::string& name);
  absl::StatusOr<lb::v1::Cluster> GetCluster(const std::string& name);
  absl::Status UpdateCluster(const lb::v1::Cluster& cluster);
  absl::Status AddEndpoint(const std::string& cluster, const std::string& address, int port,
                           int weight = 1, const std::string& zone = "");
  absl::Status RemoveEndpoint(const std::string& cluster, const std::string& address, int port);
  absl::Status SetEndpointState(const std::string& cluster, const std::string& address, int port,
                                lb::v1::AdminState state);
  absl::StatusOr<lb::v1::ListProxiesResponse> ListProxies();

 private:
  void Prepare(grpc::ClientContext* ctx) const;
  std::unique_ptr<lb::v1::LoadBalancer::Stub> stub_;
  const absl::Duration deadline_;
};

// GET /v1/proxies from the REST listener, parsed as lb.v1.ListProxiesResponse JSON.
absl::StatusOr<lb::v1::ListProxiesResponse> RestListProxies(int rest_port);

// The proxy with `node_id` (first of them), or nullptr.
const lb::v1::ProxyStatus* FindProxy(const lb::v1::ListProxiesResponse& proxies,
                                     const std::string& node_id);
// `proxy`'s status for `type_url`, or nullptr.
const lb::v1::ProxyResourceStatus* FindType(const lb::v1::ProxyStatus& proxy,
                                            const std::string& type_url);

// Polls `api->ListProxies()` every 20 ms until the proxy `node_id` exists and satisfies
// `predicate`; returns it, or kDeadlineExceeded (with the last answer) after `timeout`.
absl::StatusOr<lb::v1::ProxyStatus> WaitForProxy(
    LbApi* api, const std::string& node_id,
    const std::function<bool(const lb::v1::ProxyStatus&)>& predicate,
    absl::Duration timeout = absl::Seconds(10));

// True if every listed type's version_acked equals its version_sent, and something was sent
// (a type that was never answered on this stream counts as acknowledged).
bool AllAcked(const lb::v1::ProxyStatus& proxy);

}  // namespace lb::testing::xds

#endif  // LB_TESTS_TEST_COMMON_LB_API_H_
