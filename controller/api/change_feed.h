// The fan-out behind WatchChanges: every change of the model, serialized once as an lb.v1.Change,
// goes into one log that all watchers read from, each at its own position. A watcher costs a
// position, not a copy: nothing is copied per watcher, and nothing under the store's lock (the
// feed observes the model cache, on the store's watch thread).
//
// Bounds (flags --watch_max_streams, --watch_max_queued_bytes): at most `max_watchers`
// WatchChanges streams at once (more are refused with kResourceExhausted), plus at most
// kMaxInternalWatchers in-process subscribers (SubscribeInternal: the web console's event hub),
// which never take a client's slot; the log keeps the changes not yet sent to some
// watcher, up to `max_queued_bytes`; a watcher that falls further behind is cut off with
// kResourceExhausted. So the feed holds at most that many bytes of changes beyond the current
// state, however many watchers there are and however slowly they read.
//
// Pure: no gRPC, no threads. Thread-safe; Sink calls are made under the feed's lock.
#ifndef LB_CONTROLLER_API_CHANGE_FEED_H_
#define LB_CONTROLLER_API_CHANGE_FEED_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/metrics.h"
#include "controller/model/model_cache.h"

namespace lb::api {

class ChangeFeed final : public model::ModelCache::Observer {
 public:
  // One serialized lb.v1.Change, shared by every watcher it is sent to.
  using Bytes = std::shared_ptr<const std::string>;

  struct Limits {
    size_t max_watchers = 1024;  // WatchChanges streams (Subscribe).
    size_t max_queued_bytes = 32 << 20;
  };

  // In-process subscribers (SubscribeInternal) at once: the controller has one (the event hub);
  // a fixed bound, not a flag, as nothing outside the process can add one.
  static constexpr size_t kMaxInternalWatchers = 4;

  // A watcher's stream. Called under the feed's lock: must not block or call into the feed.
  class Sink {
   public:
    virtual ~Sink() = default;
    // Write `change`, then call ChangeFeed::Written(). At most one change is outstanding.
    virtual void Send(const Bytes& change) = 0;
    // End the stream with `status`; the feed has forgotten this sink (no more calls).
    virtual void End(const absl::Status& status) = 0;
  };

  // Counts refusals (of Subscribe) and cut-offs in lb_controller_limit_exceeded_total, and
  // exports lb_controller_watch_streams (Subscribe's watchers only) and
  // lb_controller_watch_queued_bytes, in `metrics` if not null (it must outlive the feed).
  explicit ChangeFeed(Limits limits, metrics::Registry* metrics = nullptr);

  // Adds a watcher for a WatchChanges stream. Its stream is the current state (every cluster by
  // name, the route table, then a Change with initial_state_end), then every change applied
  // after this call; the first is sent before Subscribe returns. kResourceExhausted at
  // max_watchers, kUnavailable after Shutdown.
  absl::Status Subscribe(Sink* sink);
  // Subscribe for an in-process watcher: the same stream and the same max_queued_bytes cut-off,
  // but counted apart from max_watchers (and from the refusals and the streams gauge).
  // kResourceExhausted at kMaxInternalWatchers, kUnavailable after Shutdown.
  absl::Status SubscribeInternal(Sink* sink);
  // The last change sent to `sink` was written: sends the next, if there is one, now or when it
  // comes. A no-op for a sink the feed does not know.
  void Written(Sink* sink);
  // After it returns, `sink` is not called again. Idempotent.
  void Unsubscribe(Sink* sink);
  // Ends every watcher with kUnavailable and refuses new ones.
  void Shutdown();

  void OnModelChange(const lb::v1::Change& change,
                     const std::shared_ptr<const model::ModelState>& state) override;

  size_t watchers() const;           // Subscribe's (WatchChanges streams).
  size_t internal_watchers() const;  // SubscribeInternal's.
  // Bytes of the log (changes not yet sent to every watcher).
  size_t queued_bytes() const;
  uint64_t refused() const;  // Subscribe over max_watchers.
  uint64_t cut_off() const;  // Watchers that fell more than max_queued_bytes behind.

 private:
  struct Watcher {
    // The state at Subscribe, shared with other watchers that subscribed to the same state.
    std::shared_ptr<const std::vector<Bytes>> initial;
    size_t initial_next = 0;
    uint64_t next_seq = 0;  // The next log entry to send once `initial` is done.
    bool in_flight = false;
    bool internal = false;  // Added by SubscribeInternal.
  };
  struct Entry {
    uint64_t seq;
    Bytes bytes;
  };

  // Adds `sink` as a watcher of the current state and sends it its first change.
  void AddLocked(Sink* sink, bool internal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the watcher at `it`, keeping the counts.
  void EraseLocked(absl::flat_hash_map<Sink*, Watcher>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the watcher's next change unless one is in flight or it has none.
  void SendNextLocked(Sink* sink, Watcher& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops log entries every watcher has passed, then, while over max_queued_bytes, the oldest,
  // ending the watchers that had not passed them.
  void TrimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const std::vector<Bytes>> InitialLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Updates the gauges, if any.
  void ExportLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Limits limits_;
  metrics::Counter* const refused_counter_;
  metrics::Counter* const cut_off_counter_;
  metrics::Gauge* const watchers_gauge_;
  metrics::Gauge* const queued_gauge_;
  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // The current state as the changes that produced it.
  std::map<std::string, Bytes> clusters_ ABSL_GUARDED_BY(mu_);
  Bytes routes_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  // clusters_, routes_ and the end marker as one list; rebuilt on the first Subscribe after a
  // change.
  std::shared_ptr<const std::vector<Bytes>> initial_ ABSL_GUARDED_BY(mu_);
  std::deque<Entry> log_ ABSL_GUARDED_BY(mu_);
  uint64_t end_seq_ ABSL_GUARDED_BY(mu_) = 0;  // Seq of the next entry appended.
  size_t log_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<Sink*, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  size_t internal_count_ ABSL_GUARDED_BY(mu_) = 0;  // Watchers with `internal` set.
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t cut_off_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace lb::api

#endif  // LB_CONTROLLER_API_CHANGE_FEED_H_
