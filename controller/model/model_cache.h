// The controller's one in-memory copy of the model (every cluster and the route table), fed by
// Registry::Watch. The xDS server, hostname resolution and the model metrics observe it instead
// of each keeping a copy of their own.
#ifndef LB_CONTROLLER_MODEL_MODEL_CACHE_H_
#define LB_CONTROLLER_MODEL_MODEL_CACHE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lb/v1/lb.pb.h"

namespace lb::model {

// One state of the model. Immutable once published; a state shares every cluster that did not
// change with the state before it, so a change costs a copy of the name index, not of the model.
struct ModelState {
  // Every cluster by name, as the last change of it carried it (with version and endpoints).
  std::map<std::string, std::shared_ptr<const lb::v1::Cluster>> clusters;
  std::shared_ptr<const lb::v1::RouteTable> routes;  // Never null; empty until the first change.
  // Every certificate by name, with its private key (for SDS only; never for a client).
  std::map<std::string, std::shared_ptr<const lb::v1::Certificate>> certificates;
  std::shared_ptr<const lb::v1::SessionTicketKeys> ticket_keys;  // Null until stored.
  int64_t revision = 0;   // Highest store revision applied (0: none yet).
  int64_t endpoints = 0;  // Endpoints of all clusters.

  // The cluster named `name`, or null.
  const lb::v1::Cluster* FindCluster(const std::string& name) const;

  // The state before any change: no clusters, an empty route table.
  static std::shared_ptr<const ModelState> Empty();
};

class ModelCache {
 public:
  class Observer {
   public:
    virtual ~Observer() = default;
    // `change` was just applied and `state` is what it produced. Called on the thread that
    // called Apply (the store's watch thread), one change at a time, in order; must return
    // quickly and must not call back into the cache's Apply or AddObserver.
    virtual void OnModelChange(const lb::v1::Change& change,
                               const std::shared_ptr<const ModelState>& state) = 0;
  };

  ModelCache();

  // From the next Apply on, `observer` is told of every change, after the observers added
  // before it. It must stay valid until removed or until Apply is no longer called. Observers
  // that need the whole model are added before the feed starts (Registry::Watch replays it).
  void AddObserver(Observer* observer);
  // After it returns, `observer` is not being called and will not be.
  void RemoveObserver(Observer* observer);

  // Applies one change of Registry::Watch and tells every observer: a cluster replaces the one
  // of its name, cluster_deleted removes it (a no-op if missing), a route table replaces the
  // table, initial_state_end only advances the revision. A change without a kind is ignored. Any
  // thread; applies are serialized. A change delivered twice (the registry may, around its switch
  // from snapshot to live) is applied twice, with the same result.
  void Apply(const lb::v1::Change& change);

  // The latest state. Any thread.
  std::shared_ptr<const ModelState> Current() const;

 private:
  // Serializes Apply and observer calls. Lock order: apply_mu_ before mu_.
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::vector<Observer*> observers_ ABSL_GUARDED_BY(apply_mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const ModelState> state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::model

#endif  // LB_CONTROLLER_MODEL_MODEL_CACHE_H_
