#include "tests/test_common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace lb::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

std::string LoopbackAddress(int port) { return absl::StrCat("127.0.0.1:", port); }

int RemainingMs(absl::Time deadline) {
  int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms < 0) return 0;
  return ms > 60000 ? 60000 : static_cast<int>(ms);
}

absl::Status WaitFor(int fd, short events, absl::Time deadline, absl::string_view what) {
  while (true) {
    pollfd p = {fd, events, 0};
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    // poll() may return early (its timeout is capped); only the deadline ends the wait.
    if (absl::Now() < deadline) continue;
    return absl::DeadlineExceededError(absl::StrCat("timed out ", what));
  }
}

absl::StatusOr<int> ConnectLoopback(int port, absl::Time deadline) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr = Loopback(port);
  int err = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      absl::Status s = WaitFor(fd, POLLOUT, deadline, absl::StrCat("connecting to port ", port));
      if (!s.ok()) {
        close(fd);
        return s;
      }
      socklen_t len = sizeof(err);
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
  }
  if (err != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect to 127.0.0.1:", port, ": ", strerror(err)));
  }
  return fd;
}

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  absl::Status status;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    status = absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
  } else if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    status = absl::InternalError(absl::StrCat("getsockname: ", strerror(errno)));
  }
  close(fd);
  if (!status.ok()) return status;
  return static_cast<int>(ntohs(addr.sin_port));
}

int ListenLoopback(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

ListeningSocket::ListeningSocket() { fd_ = ListenLoopback(4, &port_); }

ListeningSocket::~ListeningSocket() {
  if (fd_ >= 0) close(fd_);
}

absl::Status IdleClients::Open(int port, int n) {
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<int> fd = ConnectLoopback(port, absl::Now() + absl::Seconds(5));
    if (!fd.ok()) return fd.status();
    fds_.push_back(*fd);
  }
  return absl::OkStatus();
}

void IdleClients::CloseAll() {
  for (int fd : fds_) close(fd);
  fds_.clear();
}

}  // namespace lb::testing
