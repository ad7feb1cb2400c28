// Worker on loopback without a controller: connections another worker hands over (Adopt).
#include "proxy/server/worker.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "proxy/event/socket.h"

namespace lb::proxy {
namespace {

// A connected loopback TCP pair: `client` is ours, `server` is what a listener accepted.
struct Pair {
  int client = -1;
  int server = -1;
  event::SocketAddress peer;
};

Pair Connect() {
  Pair p;
  absl::StatusOr<int> lfd = event::Listen("127.0.0.1", 0, /*reuse_port=*/false);
  if (!lfd.ok()) {
    ADD_FAILURE() << lfd.status();
    return p;
  }
  p.client = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(event::LocalPort(*lfd));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(p.client, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  for (int i = 0; i < 500 && p.server < 0; ++i) {  // Non-blocking listener: bounded poll.
    p.server = event::Accept(*lfd, &p.peer);
    if (p.server < 0) usleep(2000);
  }
  EXPECT_GE(p.server, 0);
  close(*lfd);
  timeval tv{5, 0};
  setsockopt(p.client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return p;
}

// Reads until EOF or 4 KiB; "" on timeout or error.
std::string ReadAll(int fd) {
  std::string got;
  char buf[512];
  while (got.size() < 4096) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) return "";
    if (n == 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::unique_ptr<Worker> MakeWorker() {
  absl::StatusOr<int> lfd = event::Listen("127.0.0.1", 0, /*reuse_port=*/false);
  EXPECT_TRUE(lfd.ok()) << lfd.status();
  return std::make_unique<Worker>(
      0, lfd.ok() ? *lfd : -1, WorkerOptions{},
      [](const std::shared_ptr<upstream::HostState>&, router::UpstreamResult) {});
}

TEST(WorkerTest, AdoptedConnectionIsServed) {
  std::unique_ptr<Worker> w = MakeWorker();
  w->Start();
  Pair p = Connect();
  w->Adopt(p.server, p.peer);
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(p.client, req, sizeof(req) - 1), static_cast<ssize_t>(sizeof(req) - 1));
  std::string got = ReadAll(p.client);
  // No snapshot yet: the worker answers itself, then closes as asked.
  EXPECT_EQ(got.substr(0, got.find("\r\n")), "HTTP/1.1 503 Service Unavailable");
  EXPECT_NE(got.find("no configuration received from the controller yet"), std::string::npos);
  w.reset();
  close(p.client);
}

TEST(WorkerTest, ConnectionHandedToAStoppedWorkerIsClosed) {
  std::unique_ptr<Worker> w = MakeWorker();
  w->Start();
  w->Stop();
  Pair p = Connect();
  w->Adopt(p.server, p.peer);  // The loop no longer runs: never adopted.
  w.reset();
  // The fd was closed, not leaked: the client sees EOF, with nothing written.
  char c;
  EXPECT_EQ(read(p.client, &c, 1), 0);
  close(p.client);
}

}  // namespace
}  // namespace lb::proxy
