// Hostname resolution done once for every controller sharing a store: the elected leader
// resolves (a HostnameCache of its own, alive only while it leads) and writes the addresses to
// the store under "dns/<hostname>"; every controller, the leader included, serves what the
// store holds (loaded at Start, then followed by a watch). So proxies on any controller see
// the same addresses, and a new leader simply takes over the resolving.
//
// Value of "dns/<hostname>": the addresses, sorted, comma-separated. The leader writes a name
// once it resolved (a failed resolution keeps the last good addresses), and deletes the keys of
// names no endpoint uses any more at its next publication.
//
// Threading: everything from any thread. The on-change callback runs on the store's watch
// thread (or the caller of RefreshNow/SetLeader).
#ifndef LB_CONTROLLER_DNS_SHARED_HOSTNAMES_H_
#define LB_CONTROLLER_DNS_SHARED_HOSTNAMES_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/dns/hostname_cache.h"
#include "controller/model/model_cache.h"
#include "controller/store/store.h"

namespace lb::dns {

inline constexpr char kDnsPrefix[] = "dns/";

class SharedHostnames final : public model::ModelCache::Observer {
 public:
  // Everything given outlives the object; `metrics` may be null.
  SharedHostnames(store::Store* store, Resolver* resolver, absl::Duration refresh_interval,
                  Clock* clock, HostnameLimits limits, metrics::Registry* metrics);
  ~SharedHostnames() override;  // Stop().

  // Loads what the store holds and starts following it. Errors: the store's.
  absl::Status Start();
  // Stops resolving and following. Idempotent.
  void Stop();

  // Starts (true) or stops (false) resolving and publishing.
  void SetLeader(bool leader);
  // While leading: resolves every name now, waiting, and publishes (start-up, so that the
  // first xDS answer has the addresses). Otherwise nothing.
  void RefreshNow();

  void OnModelChange(const lb::v1::Change& change,
                     const std::shared_ptr<const model::ModelState>& state) override;
  // Called after the served addresses of any name changed.
  void SetOnChange(std::function<void()> on_change);

  // The addresses the store holds for `host`; empty if none.
  std::vector<std::string> Lookup(const std::string& host) const;

 private:
  // Writes what `cache` resolved that the store lacks, deletes names no longer used.
  void Publish(HostnameCache* cache);
  // Applies store events (or a write of ours) to shared_; true if anything changed.
  bool ApplyLocked(const std::vector<store::Event>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(bool changed);

  store::Store* const store_;
  Resolver* const resolver_;
  const absl::Duration refresh_interval_;
  Clock* const clock_;
  const HostnameLimits limits_;
  metrics::Registry* const metrics_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::string>> shared_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> names_ ABSL_GUARDED_BY(mu_);  // The model's hostnames.
  std::function<void()> on_change_ ABSL_GUARDED_BY(mu_);

  // Lock order: local_mu_ before mu_. Publish (on local_'s thread) takes only mu_, so
  // destroying local_ under local_mu_ cannot wait on it.
  absl::Mutex local_mu_;
  std::unique_ptr<HostnameCache> local_ ABSL_GUARDED_BY(local_mu_);

  std::unique_ptr<store::WatchHandle> watch_;  // Owner's thread (Start/Stop).
};

}  // namespace lb::dns

#endif  // LB_CONTROLLER_DNS_SHARED_HOSTNAMES_H_
