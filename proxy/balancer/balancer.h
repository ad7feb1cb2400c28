// Load-balancing policies for the proxy's workers.
//
// Threading: a Picker is immutable once built. The main thread builds a new one whenever the
// eligible host set (health, draining, panic mode) or the weights change and publishes it with
// the cluster snapshot; every worker may call Pick() on the same Picker concurrently with no
// locks. All mutable per-pick state lives in Picker::WorkerState, which is owned by one worker.
//
// Cost: Pick() never allocates or locks. Random, round robin, least request and maglev are O(1);
// ring hash is O(log ring). A retry (non-empty `tried`) adds O(tried_count) per examined host.
#ifndef LB_PROXY_BALANCER_BALANCER_H_
#define LB_PROXY_BALANCER_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/config/config.h"

namespace lb::proxy::balancer {

struct Candidate {
  uint32_t host;    // Index into the cluster's host table.
  uint32_t weight;  // Relative weight; 0 means "no traffic" (the candidate is dropped).
};

// Tuning knobs; the defaults match Envoy's.
struct PickerOptions {
  // Ring hash: the ring has at least min_ring_size entries (unless capped by max_ring_size).
  size_t min_ring_size = 1024;
  size_t max_ring_size = size_t{1} << 20;
  // Maglev: lookup table size; must be prime (else the default is used). With more hosts than
  // slots some hosts get none; Maglev balances well up to about size / 100 hosts.
  uint32_t maglev_table_size = 65537;
};

class Picker {
 public:
  // host_keys[i] is "ip:port" of host i: the hash identity for ring hash and maglev, so a host
  // keeps its ring points / table slots across rebuilds even if host indices or the order of
  // `candidates` change. Only hash policies read it; a missing key is replaced by "#<index>".
  // Duplicate hosts in `candidates` are merged (weights added); zero weights are dropped.
  static std::shared_ptr<const Picker> Create(LbPolicy policy, std::vector<Candidate> candidates,
                                              const std::vector<std::string>& host_keys,
                                              const PickerOptions& options = {});

  // Per-worker mutable state. Keep one per (worker, cluster) next to the worker's pointer to the
  // cluster's current Picker, and keep it across Picker rebuilds: sharing one between clusters
  // would make round robin skip hosts (each cluster would see every other cursor value).
  struct WorkerState {
    // Seed with e.g. the worker's index: workers then start round robin at different offsets
    // and draw different random streams.
    explicit WorkerState(uint64_t seed = 0);

    uint64_t rr_cursor;  // Position in the round-robin schedule.
    uint64_t rng;        // SplitMix64 state.

    uint64_t NextRandom();
  };

  struct Input {
    uint64_t hash = 0;  // Ring hash / maglev request hash (e.g. HashKey of the source IP).
    // Hosts already tried by this request: a retry must pick another host.
    const uint32_t* tried = nullptr;
    size_t tried_count = 0;
    // Least request: outstanding requests of a host index (indexed like host_keys), read for
    // the two sampled candidates only. Null = all 0.
    uint64_t (*active_requests)(const void* context, uint32_t host) = nullptr;
    const void* active_context = nullptr;  // Passed to active_requests.
  };

  // Returns a host index, or -1 if there is no candidate or every candidate was tried.
  // Never returns a host listed in `in.tried`.
  int64_t Pick(WorkerState& state, const Input& in) const;

  size_t size() const { return hosts_.size(); }  // Number of (distinct) candidates.
  LbPolicy policy() const { return policy_; }
  // Entries in the policy's lookup structure: ring points, maglev slots or the weighted
  // round-robin schedule length; 0 when the policy needs none (or there are < 2 candidates).
  size_t table_size() const;

  Picker(const Picker&) = delete;
  Picker& operator=(const Picker&) = delete;

 private:
  struct AliasEntry {
    uint32_t threshold;  // Keep this candidate if the 32-bit coin is below the threshold...
    uint32_t alias;      // ...otherwise take this one (== self when the bucket is full).
  };

  explicit Picker(LbPolicy policy) : policy_(policy) {}

  void BuildAlias();
  void BuildRoundRobin();
  void BuildRing(const std::vector<std::string>& keys, const PickerOptions& options);
  void BuildMaglev(const std::vector<std::string>& keys, const PickerOptions& options);

  size_t Draw(uint64_t random) const;  // Weighted (or uniform) candidate index.
  int64_t PickRandom(WorkerState& state, const Input& in) const;
  int64_t PickRoundRobin(WorkerState& state, const Input& in) const;
  int64_t PickLeastRequest(WorkerState& state, const Input& in) const;
  int64_t PickRing(const Input& in) const;
  int64_t PickMaglev(const Input& in) const;
  // First untried candidate at or after candidate index `start` (wrapping), or -1.
  int64_t FirstUntried(const Input& in, size_t start) const;

  LbPolicy policy_;
  bool weighted_ = false;        // Weights are not all equal.
  std::vector<uint32_t> hosts_;  // Candidate hosts (hash policies: sorted by key).
  std::vector<uint32_t> weights_;
  std::vector<AliasEntry> alias_;      // Random / least request, when weighted_.
  std::vector<uint32_t> rr_schedule_;  // Round robin, when weighted_: host indices.
  std::vector<uint64_t> ring_hashes_;  // Ring hash: sorted points...
  std::vector<uint32_t> ring_hosts_;   // ...and their host indices.
  std::vector<uint32_t> maglev_;       // Maglev: host index per slot.
};

// Slow start (Envoy's SlowStartConfig; config.h ClusterConfig): how much of its weight a host
// gets `elapsed` after it started (joined the cluster or became eligible again).
struct SlowStart {
  absl::Duration window;    // 0: off.
  double aggression = 1.0;  // > 0; 1 is linear.
  double min_weight = 0.1;  // The floor, a fraction of the weight.
};

// Weights of a cluster with slow start are scaled by this, so a host's fraction of its weight
// survives rounding to an integer (weight 1 at the 10% floor is 100, not 0).
inline constexpr uint32_t kSlowStartScale = 1000;

// weight * kSlowStartScale * max(min_weight, (elapsed / window) ^ (1 / aggression)) while
// elapsed < window, else weight * kSlowStartScale; at least 1.
uint32_t SlowStartWeight(uint32_t weight, absl::Duration elapsed, const SlowStart& slow);

// When each host's slow start began, across picker rebuilds. A host starts its ramp when it is
// first reported eligible, and again each time it becomes eligible after not being so (healthy
// again, back from ejection, undrained).
//
// Threading: one thread (the proxy's main thread).
class SlowStartTracker {
 public:
  // A rebuild at `now` (monotonic): hosts not reported until the next Begin() are forgotten.
  void Begin(absl::Duration now);
  // Host `id` (unique across clusters, e.g. "cluster|ip:port") at this rebuild. Returns
  // SlowStartWeight(weight, time since its ramp began, slow) when eligible, else 0.
  uint32_t Report(const std::string& id, bool eligible, uint32_t weight, const SlowStart& slow);
  // Some host reported since Begin() is eligible and within its window.
  bool ramping() const { return ramping_; }

 private:
  struct State {
    bool eligible = false;
    absl::Duration since;
  };
  absl::Duration now_;
  bool ramping_ = false;
  std::map<std::string, State> previous_;
  std::map<std::string, State> current_;
};

// Stable 64-bit hash (XXH64, seed 0): the same on every process, machine and run, unlike
// absl::Hash. Use it for request hashes (source IP, header, cookie) and host keys.
uint64_t HashKey(absl::string_view key);

}  // namespace lb::proxy::balancer

#endif  // LB_PROXY_BALANCER_BALANCER_H_
