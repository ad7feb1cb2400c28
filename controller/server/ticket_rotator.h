// Rotates the session ticket keys every proxy shares (docs/tls.md "Session tickets"): at start
// and whenever the newest key is `period` old, the registry stores a new key first and keeps
// the previous ones (registry::kTicketKeysKept in all). The keys live in the store, so every
// controller replica and every restart shares them; the compare-and-set in the registry makes
// one replica rotate when several are due at once.
//
// One thread of its own, waiting on `clock`. Thread-safe.
#ifndef LB_CONTROLLER_SERVER_TICKET_ROTATOR_H_
#define LB_CONTROLLER_SERVER_TICKET_ROTATOR_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/registry/registry.h"

namespace lb::controller {

class TicketRotator {
 public:
  // `registry` and `clock` must outlive the rotator.
  TicketRotator(registry::Registry* registry, Clock* clock, absl::Duration period);
  ~TicketRotator();  // Stops the thread.

  // Rotates now if due (or makes the first keys), then starts the thread. The error of that
  // first rotation, if any (the thread retries).
  absl::Status Start();

 private:
  // Rotates if due; returns when to look again.
  absl::Time RotateOnce();

  registry::Registry* const registry_;
  Clock* const clock_;
  const absl::Duration period_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_ ABSL_GUARDED_BY(mu_);
  absl::Status first_;
  std::thread thread_;
};

}  // namespace lb::controller

#endif  // LB_CONTROLLER_SERVER_TICKET_ROTATOR_H_
