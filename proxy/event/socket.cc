#include "proxy/event/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/net/address.h"

namespace lb::proxy::event {

std::string SocketAddress::Ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.any.sa_family == AF_INET) {
    inet_ntop(AF_INET, &storage.v4.sin_addr, text, sizeof(text));
  } else if (storage.any.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &storage.v6.sin6_addr, text, sizeof(text));
  }
  return text;
}

uint16_t SocketAddress::Port() const {
  if (storage.any.sa_family == AF_INET) return ntohs(storage.v4.sin_port);
  if (storage.any.sa_family == AF_INET6) return ntohs(storage.v6.sin6_port);
  return 0;
}

absl::StatusOr<SocketAddress> MakeAddress(const std::string& ip, uint16_t port) {
  SocketAddress a;
  sockaddr_in* v4 = &a.storage.v4;
  sockaddr_in6* v6 = &a.storage.v6;
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", ip, "\" is not an IP address"));
}

absl::StatusOr<int> Listen(const std::string& host, uint16_t port, bool reuse_port, int backlog) {
  absl::StatusOr<SocketAddress> addr = MakeAddress(host, port);
  if (!addr.ok()) return addr.status();
  int fd = socket(addr->storage.any.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, &addr->storage.any, addr->len) != 0 || listen(fd, backlog) != 0) {
    std::string err = strerror(errno);
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", net::JoinHostPort(host, port), ": ", err));
  }
  return fd;
}

absl::Status CheckPortFree(const std::string& host, uint16_t port) {
  if (port == 0) return absl::OkStatus();
  absl::StatusOr<SocketAddress> addr = MakeAddress(host, port);
  if (!addr.ok()) return addr.status();
  int fd = socket(addr->storage.any.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT does not count.
  int rc = bind(fd, &addr->storage.any, addr->len);
  int err = errno;
  close(fd);
  if (rc == 0) return absl::OkStatus();
  if (err == EADDRINUSE) {
    return absl::AlreadyExistsError(
        absl::StrCat(net::JoinHostPort(host, port), " is already in use by another socket"));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot bind ", net::JoinHostPort(host, port), ": ", strerror(err)));
}

uint16_t LocalPort(int fd) {
  SocketAddress a;
  a.len = sizeof(a.storage);
  if (getsockname(fd, &a.storage.any, &a.len) != 0) return 0;
  return a.Port();
}

int Accept(int listen_fd, SocketAddress* peer) {
  peer->len = sizeof(peer->storage);
  int fd = accept4(listen_fd, &peer->storage.any, &peer->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

namespace {

// Failures that say this process or host is out of something, not that the peer failed.
bool IsLocalExhaustion(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
         err == EADDRNOTAVAIL || err == EAGAIN;
}

}  // namespace

absl::StatusOr<int> StartConnect(const SocketAddress& to) {
  int fd = socket(to.storage.any.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    std::string message = absl::StrCat("socket: ", strerror(err));
    if (IsLocalExhaustion(err)) return absl::ResourceExhaustedError(message);
    return absl::UnavailableError(message);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, &to.storage.any, to.len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    std::string message = absl::StrCat("connect: ", strerror(err));
    if (IsLocalExhaustion(err)) return absl::ResourceExhaustedError(message);
    return absl::UnavailableError(message);
  }
  return fd;
}

int ConnectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

absl::StatusOr<SocketAddress> PeerOf(int fd) {
  SocketAddress peer;
  peer.len = sizeof(peer.storage);
  if (getpeername(fd, &peer.storage.any, &peer.len) != 0) {
    return absl::UnavailableError(absl::StrCat("getpeername: ", strerror(errno)));
  }
  return peer;
}

Pending PeekPending(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Pending::kBytes;
  if (n == 0) return Pending::kEnd;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Pending::kNothing
                                                                   : Pending::kEnd;
}

}  // namespace lb::proxy::event
