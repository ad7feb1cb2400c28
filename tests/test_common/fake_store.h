// A test-only Store that wraps a real one and injects failures: CAS conflicts (kAborted),
// storage errors (kUnavailable, ...) and a hook that runs a competing write just before a Txn,
// so retry and error paths of callers can be tested deterministically.
#ifndef LB_TESTS_TEST_COMMON_FAKE_STORE_H_
#define LB_TESTS_TEST_COMMON_FAKE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"

namespace lb::testing {

// Thread-safe. `inner` must outlive it. Without injected faults it behaves exactly like `inner`.
class FakeStore final : public store::Store {
 public:
  explicit FakeStore(store::Store* inner) : inner_(inner) {}

  // The next `n` Txn calls fail with kAborted and write nothing.
  void AbortNextTxns(int n) {
    absl::MutexLock lock(&mu_);
    abort_txns_ = n;
  }
  // Every call of that method fails with `status` until set back to OkStatus().
  void FailTxn(absl::Status status) { Set(&txn_error_, std::move(status)); }
  void FailGet(absl::Status status) { Set(&get_error_, std::move(status)); }
  void FailList(absl::Status status) { Set(&list_error_, std::move(status)); }
  void FailCurrentRevision(absl::Status status) { Set(&revision_error_, std::move(status)); }
  void FailWatch(absl::Status status) { Set(&watch_error_, std::move(status)); }
  // GrantLease, KeepAliveLease and RevokeLease.
  void FailLease(absl::Status status) { Set(&lease_error_, std::move(status)); }
  // Ends `lease` as its TTL running out would: its keys are deleted, keepalives answer
  // kNotFound.
  absl::Status ExpireLease(int64_t lease) { return inner_->RevokeLease(lease); }
  // Runs `hook` (once) at the start of the next Txn, before it reaches the inner store; the hook
  // may write to the inner store to make the Txn's compares fail for real.
  void BeforeNextTxn(std::function<void()> hook) {
    absl::MutexLock lock(&mu_);
    before_txn_ = std::move(hook);
  }

  int txn_calls() const {
    absl::MutexLock lock(&mu_);
    return txn_calls_;
  }
  int get_calls() const {
    absl::MutexLock lock(&mu_);
    return get_calls_;
  }

  absl::StatusOr<std::optional<store::KeyValue>> Get(std::string_view key) override {
    {
      absl::MutexLock lock(&mu_);
      ++get_calls_;
      if (!get_error_.ok()) return get_error_;
    }
    return inner_->Get(key);
  }

  absl::StatusOr<std::vector<store::KeyValue>> List(std::string_view prefix) override {
    {
      absl::MutexLock lock(&mu_);
      if (!list_error_.ok()) return list_error_;
    }
    return inner_->List(prefix);
  }

  absl::StatusOr<int64_t> Txn(const std::vector<store::Compare>& compares,
                              const std::vector<store::Op>& ops) override {
    std::function<void()> hook;
    {
      absl::MutexLock lock(&mu_);
      ++txn_calls_;
      if (abort_txns_ > 0) {
        --abort_txns_;
        return absl::AbortedError("injected conflict");
      }
      if (!txn_error_.ok()) return txn_error_;
      hook = std::move(before_txn_);
      before_txn_ = nullptr;
    }
    if (hook) hook();
    return inner_->Txn(compares, ops);
  }

  absl::StatusOr<int64_t> CurrentRevision() override {
    {
      absl::MutexLock lock(&mu_);
      if (!revision_error_.ok()) return revision_error_;
    }
    return inner_->CurrentRevision();
  }

  absl::StatusOr<int64_t> Count(std::string_view prefix) override {
    {
      absl::MutexLock lock(&mu_);
      if (!list_error_.ok()) return list_error_;
    }
    return inner_->Count(prefix);
  }

  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override {
    if (absl::Status s = LeaseError(); !s.ok()) return s;
    return inner_->GrantLease(ttl);
  }
  absl::Status KeepAliveLease(int64_t lease) override {
    if (absl::Status s = LeaseError(); !s.ok()) return s;
    return inner_->KeepAliveLease(lease);
  }
  absl::Status RevokeLease(int64_t lease) override {
    if (absl::Status s = LeaseError(); !s.ok()) return s;
    return inner_->RevokeLease(lease);
  }

  absl::StatusOr<std::unique_ptr<store::WatchHandle>> Watch(
      std::string_view prefix, int64_t after_revision, store::WatchCallback callback) override {
    {
      absl::MutexLock lock(&mu_);
      if (!watch_error_.ok()) return watch_error_;
    }
    return inner_->Watch(prefix, after_revision, std::move(callback));
  }

 private:
  absl::Status LeaseError() {
    absl::MutexLock lock(&mu_);
    return lease_error_;
  }
  void Set(absl::Status* slot, absl::Status status) {
    absl::MutexLock lock(&mu_);
    *slot = std::move(status);
  }

  store::Store* const inner_;
  mutable absl::Mutex mu_;
  int abort_txns_ ABSL_GUARDED_BY(mu_) = 0;
  int txn_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int get_calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status txn_error_ ABSL_GUARDED_BY(mu_);
  absl::Status get_error_ ABSL_GUARDED_BY(mu_);
  absl::Status list_error_ ABSL_GUARDED_BY(mu_);
  absl::Status revision_error_ ABSL_GUARDED_BY(mu_);
  absl::Status watch_error_ ABSL_GUARDED_BY(mu_);
  absl::Status lease_error_ ABSL_GUARDED_BY(mu_);
  std::function<void()> before_txn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_FAKE_STORE_H_
