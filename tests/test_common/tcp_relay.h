// Test helper: a TCP relay on loopback (127.0.0.1, a port the kernel picks) to a target port,
// for tests of network partitions: Freeze() makes it a black hole — connections stay open but
// no byte moves either way and new connections are accepted and then ignored, like a peer
// behind a dropped route.
//
// Thread-safe; one thread of its own, stopped by the destructor.
#ifndef LB_TESTS_TEST_COMMON_TCP_RELAY_H_
#define LB_TESTS_TEST_COMMON_TCP_RELAY_H_

#include <atomic>
#include <thread>

namespace lb::testing {

class TcpRelay {
 public:
  explicit TcpRelay(int target_port);
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;
  ~TcpRelay();

  int port() const { return port_; }
  void Freeze() { frozen_ = true; }

 private:
  void Run();

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_TCP_RELAY_H_
