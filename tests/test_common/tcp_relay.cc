#include "tests/test_common/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "tests/test_common/net.h"

namespace lb::testing {
namespace {

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpRelay::TcpRelay(int target_port) : target_port_(target_port) {
  listen_fd_ = ListenLoopback(64, &port_);
  thread_ = std::thread([this] { Run(); });
}

TcpRelay::~TcpRelay() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void TcpRelay::Run() {
  // Pairs of (client, upstream) descriptors; -1 once closed.
  std::vector<std::pair<int, int>> pairs;
  std::vector<int> held;  // Accepted while frozen: kept open, never served.
  char buf[16384];
  while (!stop_) {
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
    if (!frozen_) {
      for (const auto& [a, b] : pairs) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
    }
    if (poll(fds.data(), fds.size(), 50) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        if (frozen_) {
          held.push_back(client);
        } else if (int upstream = ConnectTo(target_port_); upstream >= 0) {
          pairs.emplace_back(client, upstream);
        } else {
          close(client);
        }
      }
    }
    if (frozen_) continue;
    for (size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      auto& pair = pairs[(i - 1) / 2];
      if (pair.first < 0) continue;
      const bool from_client = (i - 1) % 2 == 0;
      const int from = from_client ? pair.first : pair.second;
      const int to = from_client ? pair.second : pair.first;
      ssize_t n = read(from, buf, sizeof(buf));
      if (n <= 0 || write(to, buf, static_cast<size_t>(n)) != n) {
        // Either side closing closes both (a relay, not a half-close-preserving proxy).
        close(pair.first);
        close(pair.second);
        pair = {-1, -1};
      }
    }
    pairs.erase(
        std::remove_if(pairs.begin(), pairs.end(), [](const auto& p) { return p.first < 0; }),
        pairs.end());
  }
  for (const auto& [a, b] : pairs) {
    close(a);
    close(b);
  }
  for (int fd : held) close(fd);
}

}  // namespace lb::testing
