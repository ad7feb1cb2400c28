// Health bookkeeping for upstream hosts, free of I/O and clocks: active health-check state per
// host, passive outlier detection per cluster, and the choice of hosts that may take traffic
// (with panic mode). Time is always passed in, so everything here is deterministic and tested
// with fake time.
//
// Threading: nothing here is thread-safe. The proxy's main thread owns these objects (it runs
// the health checks and receives the workers' outlier reports) and publishes their outcome to
// the workers in immutable snapshots.
#ifndef LB_PROXY_HEALTH_HEALTH_STATE_H_
#define LB_PROXY_HEALTH_HEALTH_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/config/config.h"

namespace lb::proxy::health {

// ---------------------------------------------------------------------------------------------
// Active health checks
// ---------------------------------------------------------------------------------------------

// What active health checking currently says about one host.
enum class ActiveStatus {
  kUnknown,    // No result yet. Counted healthy (see ActiveHealthState).
  kHealthy,    // Confirmed by checks.
  kUnhealthy,  // Taken out by checks.
};

// The active-check verdict for one host, driven by consecutive results.
//
// Start-up decision. Envoy starts every new host as unhealthy until its first check passes,
// so an endpoint added by EDS takes no traffic for up to one interval. We want new endpoints to
// take traffic at once, yet not keep a dead one for unhealthy_threshold intervals. So:
//   * a new host is kUnknown and counted healthy (eligible immediately);
//   * its first result decides on its own: a pass confirms it (kHealthy), a failure takes it
//     out at once (kUnhealthy) — exactly where Envoy would have left it;
//   * from then on the usual hysteresis applies: a healthy host goes out after
//     unhealthy_threshold consecutive failures, an unhealthy one comes back after
//     healthy_threshold consecutive successes.
// Timeouts and connect errors are failures like any non-2xx answer; the caller reports them.
class ActiveHealthState {
 public:
  // Thresholds of 0 are treated as 1.
  ActiveHealthState(uint32_t healthy_threshold, uint32_t unhealthy_threshold);

  // Takes effect from the next result; the current verdict and counters are kept.
  void SetThresholds(uint32_t healthy_threshold, uint32_t unhealthy_threshold);

  // Records one check result. Returns true if healthy() changed.
  bool Record(bool success);

  ActiveStatus status() const { return status_; }
  // Whether active checking lets the host take traffic (kUnknown counts as healthy).
  bool healthy() const { return status_ != ActiveStatus::kUnhealthy; }
  uint32_t consecutive_successes() const { return successes_; }
  uint32_t consecutive_failures() const { return failures_; }

 private:
  uint32_t healthy_threshold_;
  uint32_t unhealthy_threshold_;
  ActiveStatus status_ = ActiveStatus::kUnknown;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Outlier detection (passive)
// ---------------------------------------------------------------------------------------------

// Outlier ejection for the hosts of one cluster, after Envoy's consecutive-5xx and
// consecutive-gateway-failure detectors.
//
// Results are classified by the caller (the request path):
//   kGatewayFailure: 502, 503, 504, and locally originated failures (connect failure or timeout,
//                    reset, upstream timeout). Counts towards both detectors.
//   k5xx:            any other 5xx. Counts towards consecutive_5xx and resets the gateway
//                    counter (as Envoy does).
//   kSuccess:        everything else, 4xx included. Resets both counters.
//
// Ejection: when a counter reaches its threshold (0 disables that detector) the host is ejected
// for base_ejection_time × its back-off multiplier, which grows by one per ejection and is
// capped so the ejection never exceeds max_ejection_time (default 300 s, Envoy's default; never
// below base_ejection_time). The counter is reset whether or not the host was ejected, so a host
// that keeps failing is reconsidered after another full run of failures.
//
// Max ejection percent follows current Envoy: an ejection happens only if afterwards
// ejected/total ≤ max_ejection_percent. With the default 50% a two-host cluster can lose one
// host, a one-host cluster none; 0 disables ejection. There is no "always eject one" override:
// in a small cluster the only protection left is panic mode, and ejecting the last host of a
// one-host cluster would help nobody.
//
// Un-ejection and decay happen in Tick(now): a host is un-ejected once its ejection time has
// passed, and for every full `interval` a host stays un-ejected its multiplier drops by one
// (Envoy decrements it once per interval timer), so an occasional outlier returns to short
// ejections while a flapping one keeps long ones. Call Tick at least every `interval`; calling
// it more often only makes un-ejection more punctual.
//
// Reports about a host that is ejected are ignored: they describe requests sent before the
// ejection. Reports about unknown hosts are ignored too (endpoints may have changed while the
// request was in flight).
class OutlierDetector {
 public:
  enum class Result { kSuccess, k5xx, kGatewayFailure };
  // Which streak ejected a host.
  enum class Trigger { kNone, kConsecutive5xx, kConsecutiveGatewayFailure };

  struct Options {
    absl::Duration max_ejection_time = absl::Seconds(300);
  };

  // A copy of one host's state, for tests and the admin page.
  struct HostInfo {
    bool ejected = false;
    absl::Time ejected_until = absl::InfinitePast();  // Meaningful while ejected.
    uint32_t multiplier = 0;                          // Back-off: ejections not yet decayed.
    uint32_t consecutive_5xx = 0;
    uint32_t consecutive_gateway_failure = 0;
    // The streak behind the latest ejection (a gateway failure counts towards both streaks;
    // when both trip at once, as in Envoy, the gateway one is named).
    Trigger last_trigger = Trigger::kNone;
  };

  OutlierDetector(const OutlierConfig& config, const std::vector<std::string>& host_keys,
                  Options options);
  OutlierDetector(const OutlierConfig& config, const std::vector<std::string>& host_keys)
      : OutlierDetector(config, host_keys, Options()) {}

  // New settings apply to future reports and ejections; current ejections keep their end time.
  void SetConfig(const OutlierConfig& config);

  // Replaces the host set (keys are EndpointConfig::Key()). Hosts that remain keep their
  // counters, ejection and multiplier; new hosts start clean; removed hosts are forgotten.
  // Ejections are not revisited if the set shrinks below the percentage: they expire normally.
  void Update(const std::vector<std::string>& host_keys);

  // Records one response. Returns true if this report ejected the host.
  bool Report(absl::string_view host_key, Result result, absl::Time now);

  // Un-ejects hosts whose ejection has expired and decays multipliers. Returns the keys of the
  // hosts it un-ejected (so the caller republishes a snapshot only when something changed).
  std::vector<std::string> Tick(absl::Time now);

  bool IsEjected(absl::string_view host_key) const;
  // Null if the host is unknown.
  const HostInfo* Info(absl::string_view host_key) const;

  size_t host_count() const { return hosts_.size(); }
  size_t ejected_count() const { return ejected_; }
  uint64_t total_ejections() const { return total_ejections_; }
  // Ejections a detector asked for but max_ejection_percent refused.
  uint64_t overflow_count() const { return overflow_; }

 private:
  struct Host {
    HostInfo info;
    // Start of the current decay period: the un-ejection, or the last decrement.
    absl::Time decay_since = absl::InfinitePast();
  };

  // Ejects `host` if the percentage allows. Returns true if it did.
  bool MaybeEject(Host& host, absl::Time now);
  absl::Duration MaxEjectionTime() const;

  OutlierConfig config_;
  Options options_;
  absl::flat_hash_map<std::string, Host> hosts_;
  size_t ejected_ = 0;
  uint64_t total_ejections_ = 0;
  uint64_t overflow_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Host selection with panic mode
// ---------------------------------------------------------------------------------------------

// What the balancer knows about one endpoint when building a snapshot.
struct HostHealth {
  bool draining = false;       // No new requests, ever (not even in panic mode).
  bool active_healthy = true;  // ActiveHealthState::healthy(), or true without active checks.
  bool ejected = false;        // OutlierDetector::IsEjected().
  uint32_t weight = 1;
};

struct Eligibility {
  std::vector<size_t> hosts;  // Indices into the input, in input order.
  bool panic = false;         // True if `hosts` ignores health (shown on the admin page).
};

// The hosts that may take new requests:
//   * normally, the non-draining hosts that are active-healthy, not ejected and have weight > 0;
//   * if those hold less than `healthy_panic_threshold` percent of the non-draining hosts'
//     weight, panic mode: every non-draining host with weight > 0, whatever its health —
//     spreading load over all hosts beats overloading the few healthy ones (Envoy's
//     healthy_panic_threshold, default 50%). A threshold of 0 disables panic mode (the result
//     may then be empty: answer 503).
// The share is by weight, which is Envoy's host-count share when weights are equal (the usual
// case) and a better measure of remaining capacity when they are not. Draining hosts are never
// returned and do not count: they are leaving whatever their health.
Eligibility EligibleHosts(const std::vector<HostHealth>& hosts, uint32_t healthy_panic_threshold);

}  // namespace lb::proxy::health

#endif  // LB_PROXY_HEALTH_HEALTH_STATE_H_
