// A reflector keeps one kind of Kubernetes object (Services, EndpointSlices, ...) in an
// ObjectStore: it lists the kind (in pages, limit/continue), then watches from the list's
// resourceVersion with bookmarks, resumes from the last seen resourceVersion when a watch ends
// or is cut, relists when the server answers 410 Gone/Expired, and backs off exponentially with
// jitter after errors. An optional kind (the Gateway API) that answers 404 is marked absent and
// listed again every `absent_recheck`.
//
// Threading: each Reflector runs on its own thread between Start and Stop (Stop joins it,
// cancelling a watch within a second). The ObjectStore is shared by all reflectors and the sync.
#ifndef LB_CONTROLLER_KUBERNETES_REFLECTOR_H_
#define LB_CONTROLLER_KUBERNETES_REFLECTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/kubernetes/transport.h"

namespace lb::kubernetes {

// A watched kind: its name in paths ("services") and its collection path for all namespaces.
struct ResourceKind {
  std::string resource;   // "services", "endpointslices", ...
  std::string path;       // "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices", ...
  bool optional = false;  // 404 on the list: the kind is absent (its CRD is not installed).
};

// The kinds the sync follows, in ObjectSnapshot order.
std::vector<ResourceKind> SyncedKinds();

// Objects of every kind, keyed by kind then "NAMESPACE/NAME", plus per-kind presence. Thread-safe.
// Caps the total number of objects (--kubernetes_max_objects).
class ObjectStore {
 public:
  using Objects = std::map<std::string, nlohmann::json>;

  explicit ObjectStore(size_t max_objects) : max_objects_(max_objects) {}

  // Called (without the store's lock, on the writer's thread) after every change.
  void SetOnChange(std::function<void()> on_change) { on_change_ = std::move(on_change); }

  // Replaces a kind's objects (a relist: objects no longer listed are deleted) and marks it
  // present. kResourceExhausted (nothing changed) when the total would exceed the cap.
  absl::Status Replace(const std::string& kind, Objects objects);
  // kResourceExhausted (nothing changed) for a new object beyond the cap.
  absl::Status Upsert(const std::string& kind, const std::string& key, nlohmann::json object);
  void Delete(const std::string& kind, const std::string& key);
  // An optional kind whose list answered 404: no objects, not present.
  void MarkAbsent(const std::string& kind);

  Objects Get(const std::string& kind) const;
  bool Present(const std::string& kind) const;
  size_t Count(const std::string& kind) const;
  size_t Total() const;
  // Bumped by every change; lets the sync skip work when nothing changed.
  uint64_t Generation() const;

 private:
  void Changed();

  const size_t max_objects_;
  std::function<void()> on_change_;
  mutable absl::Mutex mu_;
  std::map<std::string, Objects> kinds_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> present_ ABSL_GUARDED_BY(mu_);
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

struct ReflectorOptions {
  absl::Duration backoff_initial = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(30);  // --kubernetes_resync_backoff_max
  absl::Duration absent_recheck = absl::Seconds(60);
  int page_limit = 500;
  // Asked of the server for each watch (timeoutSeconds); it then ends the watch and the
  // reflector resumes from the last resourceVersion.
  int watch_timeout_seconds = 300;
  uint64_t seed = 0;  // Jitter; 0: random.
  // Backoffs and rechecks wait on it (the Sync's debounce, resync and audit times too).
  Clock* clock = Clock::Real();
};

// Counters of one reflector (read for /metrics).
struct ReflectorStats {
  std::atomic<uint64_t> lists{0};           // Successful (re)lists.
  std::atomic<uint64_t> relists_gone{0};    // Relists forced by 410 Gone/Expired.
  std::atomic<uint64_t> watch_restarts{0};  // Watches started after the first one of a list.
  std::atomic<uint64_t> errors{0};          // Failed lists/watches (each followed by a backoff).
  std::atomic<uint64_t> events{0};          // Watch events applied (bookmarks excluded).
  std::atomic<uint64_t> over_cap{0};        // Objects refused by --kubernetes_max_objects.
};

// The wait before retry `attempt` (0-based): min(max, initial * 2^attempt), scaled by a uniform
// factor in [0.5, 1] (jitter).
absl::Duration Backoff(int attempt, absl::Duration initial, absl::Duration max,
                       std::mt19937_64& rng);

class Reflector {
 public:
  // `transport` and `store` must outlive the reflector.
  Reflector(ResourceKind kind, Transport* transport, ObjectStore* store, ReflectorOptions options);
  ~Reflector();  // Stops.
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void Start();
  // Idempotent; joins the thread.
  void Stop();

  const ResourceKind& kind() const { return kind_; }
  const ReflectorStats& stats() const { return stats_; }
  // True once the kind was listed (or found absent) at least once.
  bool Synced() const { return synced_.load(); }
  // The last error, for logs and tests ("" when the last attempt worked).
  std::string LastError() const;

 private:
  enum class Outcome { kOk, kGone, kAbsent, kError };
  void Run();
  // Lists every page into a new map; sets resource_version_.
  Outcome List();
  // One watch from resource_version_, until it ends.
  Outcome WatchOnce();
  Outcome Fail(std::string error);
  // Waits `d` or until Stop; false when stopping.
  bool Sleep(absl::Duration d);

  const ResourceKind kind_;
  Transport* const transport_;
  ObjectStore* const store_;
  const ReflectorOptions options_;
  ReflectorStats stats_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  std::mt19937_64 rng_;
  std::string resource_version_;  // Reflector thread only.
  mutable absl::Mutex mu_;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace lb::kubernetes

#endif  // LB_CONTROLLER_KUBERNETES_REFLECTOR_H_
