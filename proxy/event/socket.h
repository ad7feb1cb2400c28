// Non-blocking socket helpers for the proxy (plain POSIX; no libevent).
#ifndef LB_PROXY_EVENT_SOCKET_H_
#define LB_PROXY_EVENT_SOCKET_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace lb::proxy::event {

// IPv4 or IPv6 (the proxy speaks nothing else): 28 bytes where sockaddr_storage takes 128,
// and every connection keeps its peer's.
struct SocketAddress {
  union Storage {
    sockaddr any;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage{};
  socklen_t len = 0;
  // "10.0.0.1" / "::1" (no port).
  std::string Ip() const;
  uint16_t Port() const;
};

// Parses an IP literal and port. kInvalidArgument if `ip` is not one.
absl::StatusOr<SocketAddress> MakeAddress(const std::string& ip, uint16_t port);

// A non-blocking listening socket; SO_REUSEPORT so every worker can own one.
absl::StatusOr<int> Listen(const std::string& host, uint16_t port, bool reuse_port,
                           int backlog = 4096);
// kAlreadyExists when some other socket listens on host:port (port != 0), whatever its
// SO_REUSEPORT: binding there with SO_REUSEPORT would silently share the port with another
// process. Checked by binding (and closing) a socket without SO_REUSEPORT.
absl::Status CheckPortFree(const std::string& host, uint16_t port);

// The bound port of a socket.
uint16_t LocalPort(int fd);

// Accepts one connection (non-blocking, close-on-exec, TCP_NODELAY). -1 with errno if none.
int Accept(int listen_fd, SocketAddress* peer);

// Starts a non-blocking connect. Returns the fd (connect may still be in progress: wait for
// writability, then check ConnectResult) or an error for immediate failures: kResourceExhausted
// when the failure is local (out of descriptors, buffers or ephemeral ports), kUnavailable
// otherwise.
absl::StatusOr<int> StartConnect(const SocketAddress& to);
// 0 if the connect on `fd` succeeded, else the errno.
int ConnectResult(int fd);

// The peer of a connected socket (getpeername). An error once the peer is gone.
absl::StatusOr<SocketAddress> PeerOf(int fd);

// What waits on a connected socket, looked at without taking it: bytes, the peer's end (a
// close, or an error such as a reset), or nothing yet.
enum class Pending : uint8_t { kBytes, kEnd, kNothing };
Pending PeekPending(int fd);

}  // namespace lb::proxy::event

#endif  // LB_PROXY_EVENT_SOCKET_H_
