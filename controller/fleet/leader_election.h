// Leader election among the controllers sharing a store, for work that must happen once
// (hostname re-resolution). docs/etcd.md, "Leader election".
//
// Each controller holds a lease (Store::GrantLease, TTL --leader_lease_ttl) and keeps it alive
// every TTL/3. The leader is whoever created the key `election/leader` (compare: the key is
// absent) with its lease attached; the value names it. The key goes when the leader's lease
// expires (the leader was killed or cut off from the store) or is revoked (clean shutdown),
// and the others, watching the key, campaign at once: the first create wins.
//
// A leader that cannot renew its lease steps down locally once a TTL has passed since its last
// renewal (the store has expired the lease by then), so two controllers never both believe
// they lead for longer than the store's own clock skew.
//
// Threading: Start()/Stop() from the owner; the rest from any thread. Step() runs the state
// machine once (the election thread calls it; tests call it directly without Start()).
#ifndef LB_CONTROLLER_FLEET_LEADER_ELECTION_H_
#define LB_CONTROLLER_FLEET_LEADER_ELECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/store/store.h"

namespace lb::fleet {

inline constexpr char kLeaderKey[] = "election/leader";

// The value of kLeaderKey: the leader's id, when it was elected and its lease.
struct LeaderRecord {
  std::string id;
  absl::Time since = absl::InfinitePast();
  absl::Duration lease_ttl = absl::ZeroDuration();
  int64_t lease = 0;

  // "id\nsince (unix microseconds)\nttl (seconds)\nlease" (ids have no newline).
  std::string Serialize() const;
  // kInvalidArgument for a value not written by Serialize.
  static absl::StatusOr<LeaderRecord> Parse(const std::string& value);
};

class LeaderElection {
 public:
  struct Options {
    std::string id;  // This controller's, unique (e.g. "host:grpc_port"); no newline.
    absl::Duration lease_ttl = absl::Seconds(10);  // --leader_lease_ttl; at least 1 s.
    // Between two rounds when nothing happens (renewal also happens every lease_ttl / 3).
    absl::Duration retry_interval = absl::Seconds(1);
  };

  // What /v1/leader shows.
  struct View {
    std::string id;  // This controller's.
    bool is_leader = false;
    LeaderRecord leader;  // The current leader as last seen; id empty if none is known.
  };

  // A controller that is always the leader (the SQLite store: one controller). Start/Stop do
  // nothing; the store is not used.
  static std::unique_ptr<LeaderElection> AlwaysLeader(std::string id, Clock* clock);

  // `store` and `clock` outlive the election.
  LeaderElection(store::Store* store, Clock* clock, Options options);
  ~LeaderElection();  // Stop().

  // kInvalidArgument for bad options.
  static absl::Status Validate(const Options& options);

  // Starts the election thread (a first round runs at once).
  void Start();
  // Stops the thread and steps down: revokes the lease, which deletes the leader key if it was
  // ours, so another controller takes over at once. Idempotent.
  void Stop();

  // Called on the election thread (or in Step()) whenever this controller becomes leader
  // (true) or stops being it (false). Set before Start().
  void SetOnChange(std::function<void(bool is_leader)> on_change);

  bool IsLeader() const;
  View view() const;
  int64_t elections_won() const;

  // One round: renew or obtain the lease, then campaign if there is no leader, or check that
  // the key is still ours if we lead.
  void Step();

 private:
  LeaderElection(Clock* clock, Options options, bool always);
  void SetLeader(bool is_leader) ABSL_LOCKS_EXCLUDED(mu_);
  void EnsureWatch();
  void OnKeyChange(const std::vector<store::Event>& events);

  store::Store* const store_;
  Clock* const clock_;
  const Options options_;
  const bool always_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;  // The key changed: run a round now.
  bool is_leader_ ABSL_GUARDED_BY(mu_) = false;
  LeaderRecord leader_ ABSL_GUARDED_BY(mu_);
  int64_t elections_won_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void(bool)> on_change_ ABSL_GUARDED_BY(mu_);

  // Election thread (or the Step() caller) only.
  int64_t lease_ = 0;
  absl::Time renewed_ = absl::InfinitePast();
  std::unique_ptr<store::WatchHandle> watch_;
  std::thread thread_;
};

}  // namespace lb::fleet

#endif  // LB_CONTROLLER_FLEET_LEADER_ELECTION_H_
