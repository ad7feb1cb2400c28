#include "proxy/event/buffer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gtest/gtest.h"

namespace lb::proxy::event {
namespace {

std::string Contents(Buffer& b) {
  if (b.empty()) return "";
  return std::string(b.Linearize(b.size()), b.size());
}

TEST(BufferTest, AppendDrainLinearize) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  b.Append("hello ");
  b.Append("world");
  EXPECT_EQ(b.size(), 11u);
  EXPECT_EQ(Contents(b), "hello world");
  b.Drain(6);
  EXPECT_EQ(Contents(b), "world");
  b.Clear();
  EXPECT_TRUE(b.empty());
  EXPECT_TRUE(b.FirstChunk().empty());
}

TEST(BufferTest, MoveFromTakesPrefixAndMoveAllTakesRest) {
  Buffer a, b;
  a.Append("0123456789");
  b.Append(">");
  b.MoveFrom(a, 4);
  EXPECT_EQ(Contents(b), ">0123");
  EXPECT_EQ(Contents(a), "456789");
  b.MoveAllFrom(a);
  EXPECT_EQ(Contents(b), ">0123456789");
  EXPECT_TRUE(a.empty());
}

TEST(BufferTest, ReadFromAndWriteToASocket) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Buffer out;
  out.Append("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(out.WriteTo(sv[0]), 18);
  EXPECT_TRUE(out.empty());

  Buffer in;
  EXPECT_EQ(in.ReadFrom(sv[1], 5), 5);  // At most `max`.
  EXPECT_EQ(Contents(in), "GET /");
  EXPECT_EQ(in.ReadFrom(sv[1], 1 << 16), 13);
  EXPECT_EQ(Contents(in), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(in.FirstChunk().substr(0, 3), "GET");

  errno = 0;
  EXPECT_EQ(in.ReadFrom(sv[1], 1 << 16), -1);  // Nothing pending.
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
  EXPECT_EQ(in.size(), 18u);  // A failed read leaves the buffer as it was.

  close(sv[0]);
  EXPECT_EQ(in.ReadFrom(sv[1], 1 << 16), 0);  // EOF.
  close(sv[1]);
}

TEST(BufferTest, EdgeCases) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Buffer b;
  EXPECT_EQ(b.WriteTo(sv[0]), 0);  // Nothing to write.
  errno = 0;
  EXPECT_EQ(b.ReadFrom(sv[1], 0), -1);
  EXPECT_EQ(errno, EINVAL);

  // Many chunks go out in one call, in order.
  Buffer parts;
  std::string want;
  for (int i = 0; i < 10; ++i) {
    Buffer piece;
    piece.Append(std::string(1 + i, static_cast<char>('a' + i)));
    want += std::string(1 + i, static_cast<char>('a' + i));
    parts.MoveAllFrom(piece);
  }
  EXPECT_EQ(parts.WriteTo(sv[0]), static_cast<ssize_t>(want.size()));
  Buffer in;
  EXPECT_EQ(in.ReadFrom(sv[1], 1 << 16), static_cast<ssize_t>(want.size()));
  EXPECT_EQ(Contents(in), want);

  // A closed peer: EPIPE, and no SIGPIPE kills the test.
  close(sv[1]);
  b.Append("x");
  errno = 0;
  EXPECT_EQ(b.WriteTo(sv[0]), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(b.size(), 1u);  // Nothing was taken.
  close(sv[0]);
}

TEST(BufferTest, LargeReadSpansChunks) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  std::string big(100000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  Buffer out;
  out.Append(big);
  Buffer in;
  // Bounded: every turn moves bytes one way or the other.
  for (int turn = 0; turn < 1000 && in.size() < big.size(); ++turn) {
    if (!out.empty()) out.WriteTo(sv[0]);
    in.ReadFrom(sv[1], 64 * 1024);
  }
  EXPECT_EQ(Contents(in), big);
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
}  // namespace lb::proxy::event
