// The snapshot a worker's new requests use, and the older ones requests still hold.
//
// Requests pin their snapshot through a worker-local count instead of copying the shared_ptr:
// that would write the snapshot's shared reference count, a cache line every worker writes,
// twice per request.
//
// Threading: the worker's loop thread only.
#ifndef LB_PROXY_SERVER_SNAPSHOT_PINS_H_
#define LB_PROXY_SERVER_SNAPSHOT_PINS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/router/snapshot.h"

namespace lb::proxy {

class SnapshotPins {
 public:
  struct Ref {
    std::shared_ptr<const router::Snapshot> snapshot;
    uint32_t users = 0;
  };

  // New requests use `snapshot` from now on; older ones keep theirs until released.
  void Set(std::shared_ptr<const router::Snapshot> snapshot) {
    if (current_ != nullptr && current_->users > 0) retired_.push_back(std::move(current_));
    current_ = std::make_unique<Ref>();
    current_->snapshot = std::move(snapshot);
  }
  // The current snapshot, pinned; nullptr before the first Set().
  Ref* Acquire() {
    if (current_ == nullptr) return nullptr;
    ++current_->users;
    return current_.get();
  }
  void Release(Ref* ref) {
    if (--ref->users > 0 || ref == current_.get()) return;
    for (size_t i = 0; i < retired_.size(); ++i) {
      if (retired_[i].get() == ref) {
        retired_.erase(retired_.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      }
    }
  }
  const router::Snapshot* current() const {
    return current_ == nullptr ? nullptr : current_->snapshot.get();
  }
  size_t retired() const { return retired_.size(); }

 private:
  std::unique_ptr<Ref> current_;
  std::vector<std::unique_ptr<Ref>> retired_;  // Still pinned by requests.
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_SNAPSHOT_PINS_H_
