// Many descriptors watched for readability through one event of a dispatcher: a private epoll
// set, itself watched by the dispatcher. A member costs no user-space record (the kernel keeps
// its own per-descriptor entry, as for any watched socket), where an FdWatcher is an object of
// ~180 bytes with its libevent event. For large numbers of sockets that rarely wake, such as
// parked keep-alive connections. Linux (epoll) only.
//
// Level-triggered: a member that stays readable is reported again on each loop turn until it
// is removed or read. A peer's close or an error counts as readable.
//
// Threading: the dispatcher's loop thread only. The callback may remove or close the member it
// was called for, and add members; it must not remove others (their reports may be pending in
// the same batch).
#ifndef LB_PROXY_EVENT_FD_GROUP_H_
#define LB_PROXY_EVENT_FD_GROUP_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "proxy/event/dispatcher.h"

namespace lb::proxy::event {

class FdGroup {
 public:
  // `on_readable(tag)` for each member found readable; `tag` is what Add() was given.
  // kResourceExhausted when no epoll set can be made (out of descriptors).
  static absl::StatusOr<std::unique_ptr<FdGroup>> Create(
      Dispatcher& dispatcher, std::function<void(void* tag)> on_readable);
  ~FdGroup();

  FdGroup(const FdGroup&) = delete;
  FdGroup& operator=(const FdGroup&) = delete;

  // Watches `fd` (not owned) for readability. An error (e.g. ENOMEM) leaves it out.
  absl::Status Add(int fd, void* tag);
  // Stops watching `fd`; call before closing it.
  void Remove(int fd);

 private:
  FdGroup(int epoll_fd, std::function<void(void* tag)> on_readable);
  void OnReady();

  const int epoll_fd_;
  std::function<void(void* tag)> on_readable_;
  std::unique_ptr<FdWatcher> watcher_;
};

}  // namespace lb::proxy::event

#endif  // LB_PROXY_EVENT_FD_GROUP_H_
