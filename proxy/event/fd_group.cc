#include "proxy/event/fd_group.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lb::proxy::event {
namespace {

// Reports taken per wake-up; more wait for the next loop turn (the set stays readable).
constexpr int kBatch = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<FdGroup>> FdGroup::Create(
    Dispatcher& dispatcher, std::function<void(void* tag)> on_readable) {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return absl::ResourceExhaustedError(absl::StrCat("epoll_create1: ", strerror(errno)));
  }
  std::unique_ptr<FdGroup> group(new FdGroup(epoll_fd, std::move(on_readable)));
  FdGroup* raw = group.get();
  group->watcher_ = dispatcher.WatchFd(epoll_fd, [raw](uint32_t) { raw->OnReady(); });
  group->watcher_->SetInterest(/*read=*/true, /*write=*/false);
  return group;
}

FdGroup::FdGroup(int epoll_fd, std::function<void(void* tag)> on_readable)
    : epoll_fd_(epoll_fd), on_readable_(std::move(on_readable)) {}

FdGroup::~FdGroup() {
  watcher_.reset();
  close(epoll_fd_);
}

absl::Status FdGroup::Add(int fd, void* tag) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = tag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("epoll_ctl(ADD): ", strerror(errno)));
  }
  return absl::OkStatus();
}

void FdGroup::Remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void FdGroup::OnReady() {
  epoll_event events[kBatch];
  const int n = epoll_wait(epoll_fd_, events, kBatch, 0);
  for (int i = 0; i < n; ++i) on_readable_(events[i].data.ptr);
}

}  // namespace lb::proxy::event
