// network::Connection over real sockets (a socketpair, or loopback TCP for connects), with the
// connection on a loop thread and the peer a plain blocking socket in the test.
#include "proxy/network/connection.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/event/socket.h"
#include "tests/test_common/event/loop_thread.h"

namespace lb::proxy::network {
namespace {

using testing::LoopThread;
using testing::WaitFor;

// Records every callback; read on the loop thread (through LoopThread::Run).
class Recorder : public ConnectionCallbacks {
 public:
  void OnEvent(ConnectionEvent event) override { events.push_back(static_cast<int>(event)); }
  void OnData(event::Buffer& data, bool end_stream) override {
    if (consume) {
      size_t n = data.size();
      if (n > 0) received.append(data.Linearize(n), n);
      data.Clear();
    }
    if (end_stream) eof = true;
  }
  void OnAboveWriteBufferHighWatermark() override { events.push_back(100); }
  void OnBelowWriteBufferLowWatermark() override { events.push_back(101); }

  bool consume = true;
  std::vector<int> events;
  std::string received;
  bool eof = false;
};

constexpr int kConnected = static_cast<int>(ConnectionEvent::kConnected);
constexpr int kConnectFailed = static_cast<int>(ConnectionEvent::kConnectFailed);
constexpr int kRemoteClose = static_cast<int>(ConnectionEvent::kRemoteClose);
constexpr int kLocalClose = static_cast<int>(ConnectionEvent::kLocalClose);

class ConnectionTest : public ::testing::Test {
 protected:
  // A server connection on one end of a socketpair; the test keeps the other (blocking).
  void MakeServerPair() {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    peer_ = fds[1];
    timeval tv{10, 0};
    setsockopt(peer_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    loop_.Run([&] {
      event::SocketAddress none;
      conn_ = CreateServerConnection(loop_.dispatcher(), fds[0], none,
                                     std::make_unique<RawTransportSocket>());
      conn_->SetCallbacks(&rec_);
    });
  }
  ~ConnectionTest() override {
    loop_.Run([&] { conn_.reset(); });
    if (peer_ >= 0) close(peer_);
  }
  template <typename T>
  T OnLoop(std::function<T()> fn) {
    T value{};
    loop_.Run([&] { value = fn(); });
    return value;
  }
  std::string Received() {
    return OnLoop<std::string>([&] { return rec_.received; });
  }
  std::vector<int> Events() {
    return OnLoop<std::vector<int>>([&] { return rec_.events; });
  }
  std::string PeerRead(size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      ssize_t r = recv(peer_, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }

  LoopThread loop_;
  Recorder rec_;
  std::unique_ptr<Connection> conn_;
  int peer_ = -1;
};

TEST_F(ConnectionTest, BytesBothWaysAndHalfCloseFromThePeer) {
  MakeServerPair();
  ASSERT_EQ(send(peer_, "ping", 4, 0), 4);
  ASSERT_TRUE(WaitFor([&] { return Received() == "ping"; }));
  loop_.Run([&] { conn_->Write("pong"); });
  EXPECT_EQ(PeerRead(4), "pong");
  shutdown(peer_, SHUT_WR);
  ASSERT_TRUE(WaitFor([&] { return OnLoop<bool>([&] { return rec_.eof; }); }));
  // Half-closed by the peer: our side may still write.
  loop_.Run([&] { conn_->Write("after"); });
  EXPECT_EQ(PeerRead(5), "after");
  EXPECT_TRUE(Events().empty());
}

TEST_F(ConnectionTest, WritesOfOneCallbackLeaveTogetherAtItsEnd) {
  MakeServerPair();
  loop_.Run([&] {
    conn_->Write("head ");
    event::Buffer body;
    body.Append("body");
    conn_->Write(body, /*end_stream=*/true);
    EXPECT_EQ(conn_->write_buffer_size(), 9u);  // Queued until the callback returns.
  });
  EXPECT_EQ(PeerRead(100), "head body");  // Then the write side is shut: EOF follows.
}

TEST_F(ConnectionTest, FlushWriteCloseWaitsForTheBytes) {
  MakeServerPair();
  loop_.Run([&] {
    conn_->Write(std::string(100000, 'x'));
    conn_->Close(Connection::CloseType::kFlushWrite);
    EXPECT_EQ(conn_->state(), Connection::State::kClosing);
  });
  EXPECT_EQ(PeerRead(200000).size(), 100000u);
  ASSERT_TRUE(WaitFor([&] { return Events() == std::vector<int>({kLocalClose}); }))
      << Events().size();
  EXPECT_EQ(OnLoop<int>([&] { return static_cast<int>(conn_->state()); }),
            static_cast<int>(Connection::State::kClosed));
}

TEST_F(ConnectionTest, WatermarksAroundAPeerThatDoesNotRead) {
  MakeServerPair();
  loop_.Run([&] { conn_->SetBufferLimit(64 * 1024); });
  // Write until the socket's own buffers are full and our buffer passes the limit.
  for (int i = 0; i < 200 && Events().empty(); ++i) {
    loop_.Run([&] { conn_->Write(std::string(64 * 1024, 'w')); });
  }
  ASSERT_EQ(Events(), std::vector<int>({100}));
  EXPECT_TRUE(OnLoop<bool>([&] { return conn_->above_high_watermark(); }));
  // The peer reads everything: the buffer drains below half the limit.
  std::thread reader([&] {
    char buf[65536];
    while (recv(peer_, buf, sizeof(buf), 0) > 0) {
    }
  });
  ASSERT_TRUE(WaitFor([&] { return Events() == std::vector<int>({100, 101}); }));
  shutdown(peer_, SHUT_RD);
  loop_.Run([&] { conn_->Close(Connection::CloseType::kNoFlush); });
  shutdown(peer_, SHUT_RDWR);
  reader.join();
}

TEST_F(ConnectionTest, ReadingStopsAtTheLimitUntilTheOwnerTakesTheBytes) {
  MakeServerPair();
  loop_.Run([&] {
    rec_.consume = false;  // The owner leaves what it cannot use yet.
    conn_->SetBufferLimit(1000);
  });
  std::string data(5000, 'r');
  ASSERT_EQ(send(peer_, data.data(), data.size(), 0), 5000);
  ASSERT_TRUE(WaitFor([&] { return OnLoop<bool>([&] { return !conn_->reading(); }); }));
  size_t held = OnLoop<size_t>([&] { return conn_->read_buffer().size(); });
  EXPECT_EQ(held, 1000u);  // Reads stop at the limit exactly.
  loop_.Run([&] {
    rec_.consume = true;
    conn_->read_buffer().Clear();
    conn_->ReadBufferDrained();
  });
  ASSERT_TRUE(WaitFor([&] { return Received().size() == 5000 - held; }));
}

// An idle plaintext connection gives its socket up: the socket stays open, no event follows,
// and a new connection on it carries on. Refused (nothing changes) with bytes held either way.
TEST_F(ConnectionTest, AnIdleConnectionReleasesItsSocket) {
  MakeServerPair();
  loop_.Run([&] { rec_.consume = false; });
  ASSERT_EQ(send(peer_, "x", 1, 0), 1);
  ASSERT_TRUE(WaitFor([&] { return OnLoop<size_t>([&] { return conn_->read_buffer().size(); }); }));
  EXPECT_EQ(OnLoop<int>([&] { return conn_->ReleaseSocket(); }), -1);  // A byte is unread.
  loop_.Run([&] {
    conn_->read_buffer().Clear();
    conn_->Write("y");                      // Queued until the end of this callback...
    EXPECT_EQ(conn_->ReleaseSocket(), -1);  // ... so not idle yet.
  });
  EXPECT_EQ(PeerRead(1), "y");
  const int fd = OnLoop<int>([&] { return conn_->ReleaseSocket(); });
  ASSERT_GE(fd, 0);
  EXPECT_EQ(OnLoop<int>([&] { return static_cast<int>(conn_->state()); }),
            static_cast<int>(Connection::State::kClosed));
  ASSERT_EQ(send(peer_, "z", 1, 0), 1);    // Nobody reads it now...
  absl::SleepFor(absl::Milliseconds(50));  // Real time for real I/O that must not happen.
  EXPECT_EQ(event::PeekPending(fd), event::Pending::kBytes);  // ...it waits in the socket.
  EXPECT_TRUE(Events().empty());
  loop_.Run([&] { conn_.reset(); });  // Does not close the released socket.
  loop_.Run([&] {
    rec_.consume = true;
    event::SocketAddress none;
    conn_ = CreateServerConnection(loop_.dispatcher(), fd, none,
                                   std::make_unique<RawTransportSocket>());
    conn_->SetCallbacks(&rec_);
  });
  ASSERT_TRUE(WaitFor([&] { return Received() == "z"; }));
  shutdown(peer_, SHUT_WR);
  ASSERT_TRUE(WaitFor([&] { return OnLoop<bool>([&] { return rec_.eof; }); }));
  // Half-closed by the peer: no longer idle.
  EXPECT_EQ(OnLoop<int>([&] { return conn_->ReleaseSocket(); }), -1);
  EXPECT_EQ(event::PeekPending(fd), event::Pending::kEnd);
}

TEST_F(ConnectionTest, ReadDisableStopsDelivery) {
  MakeServerPair();
  loop_.Run([&] { conn_->ReadDisable(true); });
  ASSERT_EQ(send(peer_, "abc", 3, 0), 3);
  absl::SleepFor(absl::Milliseconds(50));  // Real time for real I/O that must not happen.
  EXPECT_EQ(Received(), "");
  loop_.Run([&] { conn_->ReadDisable(false); });
  ASSERT_TRUE(WaitFor([&] { return Received() == "abc"; }));
}

TEST_F(ConnectionTest, PeerResetIsReportedNeverFromInsideWrite) {
  MakeServerPair();
  close(peer_);
  peer_ = -1;
  ASSERT_TRUE(WaitFor([&] { return OnLoop<bool>([&] { return rec_.eof; }); }));
  loop_.Run([&] {
    conn_->Write(std::string(4 * 1024 * 1024, 'z'));  // Over the limit: written at once.
    EXPECT_TRUE(rec_.events.empty());                 // Not inside the owner's own call...
  });
  // ... but right after it.
  ASSERT_TRUE(WaitFor([&] { return Events() == std::vector<int>({kRemoteClose}); }));
}

TEST_F(ConnectionTest, ClientConnectsAndFailsAsItShould) {
  absl::StatusOr<int> lfd = event::Listen("127.0.0.1", 0, false);
  ASSERT_TRUE(lfd.ok());
  uint16_t port = event::LocalPort(*lfd);
  loop_.Run([&] {
    absl::StatusOr<std::unique_ptr<Connection>> c =
        CreateClientConnection(loop_.dispatcher(), *event::MakeAddress("127.0.0.1", port),
                               std::make_unique<RawTransportSocket>());
    ASSERT_TRUE(c.ok()) << c.status();
    conn_ = std::move(*c);
    conn_->SetCallbacks(&rec_);
    conn_->Write("queued before connect");
    EXPECT_TRUE(conn_->connecting());
  });
  ASSERT_TRUE(WaitFor([&] { return Events() == std::vector<int>({kConnected}); }));
  event::SocketAddress peer;
  int accepted = -1;
  ASSERT_TRUE(WaitFor([&] { return (accepted = event::Accept(*lfd, &peer)) >= 0; }));
  std::string got;
  ASSERT_TRUE(WaitFor([&] {
    char buf[100];
    ssize_t n = recv(accepted, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    return got == "queued before connect";
  }));
  close(accepted);
  close(*lfd);  // Nothing listens on the port any more.

  Recorder failed;
  std::unique_ptr<Connection> refused;
  loop_.Run([&] {
    absl::StatusOr<std::unique_ptr<Connection>> c =
        CreateClientConnection(loop_.dispatcher(), *event::MakeAddress("127.0.0.1", port),
                               std::make_unique<RawTransportSocket>());
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
      failed.events.push_back(kConnectFailed);  // Refused at once: the same outcome.
      return;
    }
    refused = std::move(*c);
    refused->SetCallbacks(&failed);
  });
  ASSERT_TRUE(WaitFor([&] {
    return OnLoop<bool>([&] { return failed.events == std::vector<int>({kConnectFailed}); });
  }));
  loop_.Run([&] { refused.reset(); });
}

}  // namespace
}  // namespace lb::proxy::network
