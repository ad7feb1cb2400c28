// Active HTTP and gRPC health checks, run on the main thread's dispatcher.
//
// gRPC (HealthCheckConfig::grpc, HTTP/2 clusters): each check opens a fresh h2c connection and
// makes the unary call grpc.health.v1.Health/Check{service: grpc_service_name} with
// :authority grpc_authority (or the endpoint's hostname or IP). A pass is :status 200,
// grpc-status 0 and the answer SERVING; anything else (NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, a
// non-OK grpc-status, a reset, an answer over 1 KiB, no answer within `timeout`) is a failure.
//
// HTTP: for every cluster whose HealthCheckConfig has a path, every endpoint gets its own cycle:
// open a fresh TCP connection, send
//     GET <path> HTTP/1.1\r\nHost: <hostname or IP>\r\nUser-Agent: lb-health/1\r\n
//     Connection: close\r\n\r\n
// and read the response head (http::ResponseParser, as strict as for proxied answers). 2xx is a
// pass; any other status, a malformed head, a connection closed early, a connect error, or no
// complete head within `timeout` (which covers connect, send and receive together) is a
// failure. A check that cannot start because this process is out of descriptors is not a
// result at all: it is tried again after the interval, and the host is not blamed. Results feed an
// ActiveHealthState per host (see health_state.h for the thresholds and the start-up rule); when a
// host's verdict flips, on_change(cluster, host_key, healthy) is called.
//
// Scheduling: a host's next check starts `interval` plus a random 0–10% jitter after the
// previous one finished (as Envoy does), so checks of one host never overlap even when
// timeout > interval, and the jitter spreads many hosts' checks over time. A newly added host
// is first checked after a random 0–10% of the interval, so a new endpoint's verdict arrives
// almost at once.
//
// Threading: single-threaded. The constructor, Update(), the queries and the destructor must
// run on the dispatcher's thread (or while its loop is not running); on_change runs there too.
// Other threads reach the checker by posting to that dispatcher.
#ifndef LB_PROXY_HEALTH_ACTIVE_CHECKER_H_
#define LB_PROXY_HEALTH_ACTIVE_CHECKER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/random/random.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/health/health_state.h"
#include "proxy/network/transport_socket.h"

namespace lb::proxy::health {

// Process-wide counters of every checker (relaxed atomics, readable from any thread; exported
// in /stats).
struct CheckerStats {
  // Checks not started for lack of local resources (descriptors, ports): no verdict.
  std::atomic<uint64_t> skipped{0};
  // Checks that ended with a verdict on the host.
  std::atomic<uint64_t> passed{0};
  std::atomic<uint64_t> failed{0};
};
CheckerStats& Stats();

class ActiveChecker {
 public:
  // Called on the loop thread when a host's ActiveHealthState::healthy() flips. It may call
  // Update() (even removing this host) but must not destroy the checker.
  using OnChange =
      std::function<void(const std::string& cluster, const std::string& host_key, bool healthy)>;

  // `dispatcher` must outlive the checker. No checks run until Update().
  ActiveChecker(event::Dispatcher& dispatcher, OnChange on_change);
  // Cancels every timer and in-flight check and closes their sockets. No callbacks after this.
  ~ActiveChecker();
  ActiveChecker(const ActiveChecker&) = delete;
  ActiveChecker& operator=(const ActiveChecker&) = delete;

  // Reconciles the checks with `config`:
  //   * hosts of clusters with a health-check path are checked (draining ones too: their
  //     verdict is current if they are brought back);
  //   * a host that stays (same cluster, same EndpointConfig::Key()) keeps its verdict and
  //     counters even if the check settings change; new thresholds apply from the next result,
  //     a new path/Host header from the next check, and a changed interval reschedules a
  //     waiting check;
  //   * a host that disappears, or whose cluster loses its path, stops being checked at once
  //     (an in-flight check is aborted) and forgets its state.
  // Update() itself never calls on_change: after an Update the caller reads the verdicts anew.
  void Update(const ProxyConfig& config);
  // The transport of a cluster's checks (its upstream TLS), or null for plaintext; asked at
  // each check's start, on the loop thread. Unset: plaintext.
  using TransportFor = std::function<std::shared_ptr<const network::TransportSocketFactory>(
      const std::string& cluster)>;
  void SetTransports(TransportFor transport_for) { transport_for_ = std::move(transport_for); }

  // kUnknown also for hosts that are not checked at all.
  ActiveStatus Status(const std::string& cluster, const std::string& host_key) const;
  // True unless checks have taken the host out (unchecked and unknown hosts are healthy).
  bool Healthy(const std::string& cluster, const std::string& host_key) const {
    return Status(cluster, host_key) != ActiveStatus::kUnhealthy;
  }
  // Whether the host is being checked.
  bool Checked(const std::string& cluster, const std::string& host_key) const;
  size_t checked_hosts() const { return hosts_.size(); }
  // Checks completed since construction, all hosts together (for tests and stats).
  uint64_t checks_completed() const { return checks_completed_; }
  // Checks running now (connected or connecting, waiting for an answer).
  size_t checks_in_flight() const { return checks_in_flight_; }
  // Checks that could not start for lack of local resources (descriptors, ports).
  uint64_t checks_skipped() const { return checks_skipped_; }

 private:
  class HostCheck;
  using Key = std::pair<std::string, std::string>;  // Cluster name, host key.

  // Called by a HostCheck when a check finished. May run on_change.
  void OnResult(HostCheck* check, bool success);
  absl::Duration Jitter(absl::Duration interval);

  event::Dispatcher& dispatcher_;
  OnChange on_change_;
  TransportFor transport_for_;
  std::map<Key, std::unique_ptr<HostCheck>> hosts_;
  absl::BitGen rng_;
  uint64_t checks_completed_ = 0;
  uint64_t checks_skipped_ = 0;
  size_t checks_in_flight_ = 0;
};

}  // namespace lb::proxy::health

#endif  // LB_PROXY_HEALTH_ACTIVE_CHECKER_H_
