// A Store::Watch callback for tests that records what each delivered batch said, and waits (with
// a timeout) for batches to arrive.
#ifndef LB_TESTS_CONTROLLER_STORE_WATCH_RECORDER_H_
#define LB_TESTS_CONTROLLER_STORE_WATCH_RECORDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/store/store.h"

namespace lb::store {

// Thread-safe: the store's dispatcher calls the callback while the test reads and waits. The
// recorder must outlive the watch its Callback() was given to.
class WatchRecorder {
 public:
  // How an event is described: "put k=v" / "del k", or with revisions "put k=v c3 m5" /
  // "del k m6" (c: create_revision, m: mod_revision).
  enum class Detail { kKeyValue, kWithRevisions };

  // WaitForBatches waits up to `wait`. Events on keys starting with a non-empty
  // `ignore_prefix` (e.g. a test's sentinel writes) are not recorded, and a batch of only such
  // events is dropped.
  explicit WatchRecorder(absl::Duration wait, Detail detail = Detail::kKeyValue,
                         std::string ignore_prefix = "");

  WatchCallback Callback();

  // Waits until at least `n` batches were recorded; false on timeout.
  bool WaitForBatches(size_t n);

  std::vector<std::vector<std::string>> Batches();
  // The mod_revision of every recorded event, in delivery order.
  std::vector<int64_t> Revisions();

 private:
  void Record(const std::vector<Event>& events);

  const absl::Duration wait_;
  const Detail detail_;
  const std::string ignore_prefix_;
  absl::Mutex mu_;
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> revisions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::store

#endif  // LB_TESTS_CONTROLLER_STORE_WATCH_RECORDER_H_
