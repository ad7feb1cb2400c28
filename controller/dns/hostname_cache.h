// Resolution of hostname endpoints. The controller resolves every hostname used by an endpoint
// and re-resolves it periodically; proxies and gRPC clients only ever see IP literals.
#ifndef LB_CONTROLLER_DNS_HOSTNAME_CACHE_H_
#define LB_CONTROLLER_DNS_HOSTNAME_CACHE_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/model/model_cache.h"

namespace lb::dns {

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Addresses of `host` (IPv4 and IPv6, canonical text, sorted, no duplicates).
  // kNotFound if the name does not exist, kUnavailable on a temporary failure.
  virtual absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) = 0;
};

// getaddrinfo(3). Blocking and thread-safe; called from the cache's resolver threads.
std::unique_ptr<Resolver> NewSystemResolver();

// Every endpoint address of `state` that is not an IP literal.
absl::flat_hash_set<std::string> HostnamesOf(const model::ModelState& state);

// Whether `change` can change the set of hostnames (route tables and secrets name no endpoint).
bool MayChangeHostnames(const lb::v1::Change& change);

// Bounds of hostname resolution (flags --dns_parallelism, --dns_timeout,
// --dns_max_addresses_per_host).
struct HostnameLimits {
  // Resolutions running at once, each on a thread of the cache's own.
  int parallelism = 8;
  // A round of resolutions waits this long for each name at most; a name not answered by then
  // keeps its last good addresses (its late answer is dropped, and it is not asked again while
  // that call runs).
  absl::Duration timeout = absl::Seconds(5);
  // Addresses kept per name (the first ones in sorted order). They also count against the
  // cluster's endpoint limit when its endpoints are built (controller/xds/resources.h).
  size_t max_addresses_per_host = 64;
};

// Thread-safe. A failed resolution keeps the last good addresses. As an observer of the model
// cache it resolves exactly the hostnames the model's endpoints use.
class HostnameCache final : public model::ModelCache::Observer {
 public:
  using Limits = HostnameLimits;

  // `resolver`, `clock` and `metrics` (optional) must outlive the cache; the refresh interval is
  // measured on `clock`, the resolution timeout in real time. Nothing is resolved until
  // Start() or RefreshNow().
  HostnameCache(Resolver* resolver, absl::Duration refresh_interval, Clock* clock = Clock::Real(),
                Limits limits = {}, metrics::Registry* metrics = nullptr);
  ~HostnameCache() override;

  // Starts the refresh thread: new names are resolved at once, all names every interval.
  void Start();

  // The names to keep resolved; names no longer listed are forgotten.
  void SetHostnames(absl::flat_hash_set<std::string> hostnames);

  // Sets the names to every endpoint address of `state` that is not an IP literal (route table
  // changes are skipped: they name no endpoint).
  void OnModelChange(const lb::v1::Change& change,
                     const std::shared_ptr<const model::ModelState>& state) override;

  // Called (on the refresh thread) after any name's addresses changed.
  void SetOnChange(std::function<void()> on_change);

  // Last good addresses of `host`; empty if unknown or never resolved.
  std::vector<std::string> Lookup(const std::string& host) const;

  // Resolves every name now, waiting on the calling thread. For tests and start-up.
  void RefreshNow();

 private:
  class Pool;  // The resolver threads.

  // Resolves `names` in parallel, each within the timeout; returns true if anything changed.
  bool Refresh(const std::vector<std::string>& names);

  const absl::Duration interval_;
  Clock* const clock_;
  const Limits limits_;
  metrics::Counter* const timeouts_;   // Null without metrics.
  metrics::Counter* const truncated_;  // Names that resolved to more than the cap.
  const std::unique_ptr<Pool> pool_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> names_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> pending_ ABSL_GUARDED_BY(mu_);  // Not yet resolved.
  absl::flat_hash_map<std::string, std::vector<std::string>> addresses_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_change_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lb::dns

#endif  // LB_CONTROLLER_DNS_HOSTNAME_CACHE_H_
