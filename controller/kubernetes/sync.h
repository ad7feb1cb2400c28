// The Kubernetes sync: reflectors keep the watched objects (SyncedKinds) in an ObjectStore; after
// a change (debounced), the sync builds an ObjectSnapshot, calls Translate, and applies the
// DesiredState to the registry as a diff through its normal write path, as writer "kubernetes"
// (Registry::SetWriter): only what changed is written; endpoints are added and updated before
// any is removed, one by one, so a rolling update never leaves a cluster without its live
// endpoints; owned objects no longer desired are deleted (routes before the clusters they use);
// manual objects are never touched. Then it makes the status writes that changed (merge-patch of
// .../status). docs/kubernetes.md, "Running with --kubernetes".
//
// Threading: Start runs the reflectors' threads and one sync thread; Stop joins them all.
// SyncOnce may also be called directly (tests) when not started.
#ifndef LB_CONTROLLER_KUBERNETES_SYNC_H_
#define LB_CONTROLLER_KUBERNETES_SYNC_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "controller/kubernetes/reflector.h"
#include "controller/kubernetes/translate.h"
#include "controller/kubernetes/transport.h"
#include "controller/registry/registry.h"
#include "controller/store/store.h"

namespace lb::kubernetes {

struct SyncOptions {
  TranslateOptions translate;
  ReflectorOptions reflector;
  size_t max_objects = 100000;  // --kubernetes_max_objects
  // Quiet time after a change before applying (changes arriving meanwhile are batched).
  absl::Duration debounce = absl::Milliseconds(100);
  // Applied again this often even without changes (repairs a failed apply).
  absl::Duration resync = absl::Seconds(60);
  // The translation; tests substitute their own. Default: Translate.
  std::function<DesiredState(const ObjectSnapshot&, const TranslateOptions&)> translate_fn;
};

// What one SyncOnce did.
struct ApplyStats {
  int writes = 0;         // Registry writes that were made.
  int errors = 0;         // Registry writes or status patches that failed.
  int status_writes = 0;  // Status patches made.
};

class Sync {
 public:
  // `transport`, `store` and `metrics` (may be null) must outlive the sync.
  Sync(Transport* transport, store::Store* store, metrics::Registry* metrics, SyncOptions options);
  ~Sync();
  Sync(const Sync&) = delete;
  Sync& operator=(const Sync&) = delete;

  void Start();
  // Idempotent.
  void Stop();

  // Translates the current objects and applies them. Does nothing (returns kUnavailable) until
  // every reflector has listed its kind once, so a start never deletes owned objects for want
  // of a list.
  absl::StatusOr<ApplyStats> SyncOnce();

  ObjectStore& objects() { return objects_; }
  const std::vector<std::unique_ptr<Reflector>>& reflectors() const { return reflectors_; }
  // True when every reflector has listed its kind (or found it absent) once.
  bool Synced() const;
  uint64_t applies() const { return applies_.load(); }

 private:
  void Run();
  void Collect(metrics::SampleSink& sink) const;
  ObjectSnapshot Snapshot() const;
  void ApplyClusters(const DesiredState& desired, ApplyStats* stats);
  void ApplyEndpoints(const lb::v1::Cluster& desired, const lb::v1::Cluster& current,
                      ApplyStats* stats);
  void ApplyCertificates(const DesiredState& desired, ApplyStats* stats);
  void ApplyRoutes(const DesiredState& desired, ApplyStats* stats);
  void DeleteUnwanted(const DesiredState& desired, ApplyStats* stats);
  void WriteStatuses(const DesiredState& desired, ApplyStats* stats);
  // Counts a failed write and logs it.
  void Failed(absl::string_view what, const absl::Status& status, ApplyStats* stats);

  Transport* const transport_;
  const SyncOptions options_;
  Clock* const clock_;           // options_.reflector.clock.
  registry::Registry registry_;  // Writer kOwner.
  ObjectStore objects_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;

  absl::Mutex mu_;
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  bool started_ = false;

  // Sync thread (or the SyncOnce caller) only: the last status patch made per object.
  std::map<std::string, std::string> written_status_;

  std::atomic<uint64_t> applies_{0}, apply_errors_{0}, writes_{0}, status_writes_{0};
  std::atomic<int64_t> last_sync_unix_ms_{0};
};

}  // namespace lb::kubernetes

#endif  // LB_CONTROLLER_KUBERNETES_SYNC_H_
