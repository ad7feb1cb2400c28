// Test helpers for loopback sockets: deadlines for poll(), connecting, free ports, a listener
// that holds a port.
#ifndef LB_TESTS_TEST_COMMON_NET_H_
#define LB_TESTS_TEST_COMMON_NET_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lb::testing {

// "127.0.0.1:<port>"
std::string LoopbackAddress(int port);

// Milliseconds left until `deadline` as a poll() timeout: 0 once it has passed, at most 60 s.
int RemainingMs(absl::Time deadline);

// Waits until `fd` has one of `events` (POLLIN, POLLOUT, ...). DeadlineExceeded "timed out
// <what>" at `deadline`; EINTR is retried.
absl::Status WaitFor(int fd, short events, absl::Time deadline, absl::string_view what);

// A non-blocking TCP socket connected to 127.0.0.1:`port` by `deadline`; the caller owns (and
// closes) the descriptor. Unavailable for a refused connection, DeadlineExceeded on timeout.
absl::StatusOr<int> ConnectLoopback(int port, absl::Time deadline);

// A loopback TCP port that was free a moment ago; nothing listens on it afterwards, so a
// connection to it is refused (unless something else takes the port meanwhile).
absl::StatusOr<int> PickFreePort();

// A TCP socket listening on 127.0.0.1 on a kernel-chosen port (stored in `*port`) with
// `backlog`; the caller owns the descriptor. -1 on failure.
int ListenLoopback(int backlog, int* port);

// A TCP socket listening on 127.0.0.1 on a kernel-chosen port, to occupy a port. It never
// accepts; connections queue in its backlog. Closed by the destructor.
class ListeningSocket {
 public:
  ListeningSocket();
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;
  ~ListeningSocket();
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Connections to 127.0.0.1:port that send nothing (the kernel completes them whether or not the
// server accepts), to fill a server's connection slots or descriptors. Closed by CloseAll() or
// the destructor.
class IdleClients {
 public:
  IdleClients() = default;
  IdleClients(const IdleClients&) = delete;
  IdleClients& operator=(const IdleClients&) = delete;
  ~IdleClients() { CloseAll(); }

  // Opens `n` more, each connected within 5 s.
  absl::Status Open(int port, int n);
  void CloseAll();
  size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_NET_H_
