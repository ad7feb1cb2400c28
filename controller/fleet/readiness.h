// Readiness of a controller on a shared store (/readyz; docs/etcd.md, "Readiness"): ready
// while the store answers a cheap probe and this controller's view of it is not behind by
// more than --ready_max_lag. Checked every --ready_check_interval on a thread of its own.
//
// "Behind": the probe returns the newest revision the store has under this controller's prefix;
// a watch of the monitor's own over the whole prefix (the same client and watch code as the
// model's) records the newest revision delivered. Once a probe sees a revision not yet
// delivered, the lag is the time since then, until the watch delivers it. (Deletes leave no
// live key; they are not measured.)
//
// While not ready, ReadyGatedStore refuses writes at once with kUnavailable and the reason,
// instead of letting them wait out the store's timeout; reads go on (the owner may make them
// serve the last local state, as EtcdStore::SetSerializableReads does).
//
// Threading: everything from any thread; callbacks run on the monitor's thread.
#ifndef LB_CONTROLLER_FLEET_READINESS_H_
#define LB_CONTROLLER_FLEET_READINESS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/store/store.h"

namespace lb::fleet {

class Readiness {
 public:
  struct Options {
    absl::Duration max_lag = absl::Seconds(5);         // --ready_max_lag
    absl::Duration check_interval = absl::Seconds(1);  // --ready_check_interval
  };
  // The newest revision the controller's view must reach; an error means the store is
  // unreachable. Bounded in time by the store's own request timeout.
  using Probe = std::function<absl::StatusOr<int64_t>()>;

  // `store` and `clock` outlive the monitor.
  Readiness(store::Store* store, Probe probe, Clock* clock, Options options);
  ~Readiness();  // Stop().

  // kInvalidArgument naming the flag.
  static absl::Status Validate(const Options& options);

  // Runs a first check, then starts the thread. Ready before the first check.
  void Start();
  void Stop();  // Idempotent.

  // Called (on the monitor's thread) when readiness changes. Set before Start().
  void SetOnChange(std::function<void(bool ready)> on_change);

  // OkStatus when ready, else kUnavailable saying why.
  absl::Status Check() const;
  bool ready() const;
  // Times readiness changed (either way).
  int64_t transitions() const;

  // One check (the thread's; tests call it directly).
  void CheckOnce();

 private:
  void EnsureWatch();

  store::Store* const store_;
  const Probe probe_;
  Clock* const clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = true;
  std::string reason_ ABSL_GUARDED_BY(mu_);
  int64_t transitions_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t applied_ ABSL_GUARDED_BY(mu_) = 0;  // Newest revision the watch delivered.
  int64_t target_ ABSL_GUARDED_BY(mu_) = 0;   // Newest revision a probe saw.
  // When a probe first saw target_ > applied_; InfinitePast when caught up.
  absl::Time behind_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::function<void(bool)> on_change_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<store::WatchHandle> watch_;  // Monitor thread (or CheckOnce caller) only.
  std::thread thread_;
};

// The store the model writes through: every call is forwarded, except that a Txn while
// `readiness` says not ready fails at once with kUnavailable ("controller not ready: ...").
class ReadyGatedStore final : public store::Store {
 public:
  // Both outlive it.
  ReadyGatedStore(store::Store* inner, const Readiness* readiness)
      : inner_(inner), readiness_(readiness) {}

  absl::StatusOr<std::optional<store::KeyValue>> Get(std::string_view key) override {
    return inner_->Get(key);
  }
  absl::StatusOr<std::vector<store::KeyValue>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  absl::StatusOr<int64_t> Txn(const std::vector<store::Compare>& compares,
                              const std::vector<store::Op>& ops) override;
  absl::StatusOr<int64_t> CurrentRevision() override { return inner_->CurrentRevision(); }
  absl::StatusOr<int64_t> Count(std::string_view prefix) override { return inner_->Count(prefix); }
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override {
    return inner_->GrantLease(ttl);
  }
  absl::Status KeepAliveLease(int64_t lease) override { return inner_->KeepAliveLease(lease); }
  absl::Status RevokeLease(int64_t lease) override { return inner_->RevokeLease(lease); }
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> Watch(
      std::string_view prefix, int64_t after_revision, store::WatchCallback callback) override {
    return inner_->Watch(prefix, after_revision, std::move(callback));
  }

 private:
  store::Store* const inner_;
  const Readiness* const readiness_;
};

}  // namespace lb::fleet

#endif  // LB_CONTROLLER_FLEET_READINESS_H_
