// The proxies connected to every controller sharing a store: each controller publishes the
// list of its own ADS streams under "fleet/proxies/<controller id>" and reads the others'.
// For /v1/proxies and lbctl proxies with several controllers on etcd.
//
// Entries carry the time they were written; one older than `stale_after` (its controller was
// killed or cut off) is not listed, and one older than `delete_after` is deleted by whichever
// controller sees it. A controller that stops cleanly deletes its own entry.
//
// Threading: List() from any thread; Start()/Stop() from the owner. The publishing thread only
// reads through `local` and writes to the store.
#ifndef LB_CONTROLLER_FLEET_PROXY_DIRECTORY_H_
#define LB_CONTROLLER_FLEET_PROXY_DIRECTORY_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/store/store.h"
#include "lb/v1/lb.pb.h"

namespace lb::fleet {

inline constexpr char kProxiesPrefix[] = "fleet/proxies/";

class ProxyDirectory {
 public:
  struct Options {
    std::string controller_id;  // Unique among the controllers, e.g. "host:18000".
    absl::Duration publish_interval = absl::Seconds(5);
    absl::Duration stale_after = absl::Seconds(20);
    absl::Duration delete_after = absl::Minutes(10);
  };
  using LocalSource = std::function<lb::v1::ListProxiesResponse()>;

  // `store` and `clock` must outlive the directory.
  ProxyDirectory(store::Store* store, Clock* clock, LocalSource local, Options options);
  ~ProxyDirectory();  // Stop().

  // Starts publishing (at once, then every publish_interval).
  void Start();
  // Stops publishing and deletes this controller's entry. Idempotent.
  void Stop();

  // This controller's proxies, then the other controllers' fresh ones; each with `controller`
  // set. Entries that cannot be read are skipped (the store being down must not fail a read of
  // the local list).
  lb::v1::ListProxiesResponse List();

  // One publication (tests drive it without the thread).
  void PublishOnce();

 private:
  lb::v1::ListProxiesResponse Local();

  store::Store* const store_;
  Clock* const clock_;
  const LocalSource local_;
  const Options options_;
  const std::string key_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lb::fleet

#endif  // LB_CONTROLLER_FLEET_PROXY_DIRECTORY_H_
