// Which protocol a client connection gets: ALPN first, then the h2c preface.
#include "proxy/http/server_codec_factory.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/test_common/proxy/fake_connection.h"

namespace lb::http {
namespace {

using proxy::event::Buffer;

ServerProtocol Detect(absl::string_view alpn, absl::string_view first) {
  Buffer b;
  b.Append(first);
  const ServerProtocol p = DetectServerProtocol(alpn, b);
  EXPECT_EQ(b.size(), first.size());  // Nothing consumed.
  return p;
}

TEST(ServerCodecFactoryTest, Detection) {
  EXPECT_EQ(Detect("h2", ""), ServerProtocol::kHttp2);
  EXPECT_EQ(Detect("h2", "GET / HTTP/1.1\r\n"), ServerProtocol::kHttp2);
  EXPECT_EQ(Detect("http/1.1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ServerProtocol::kHttp1);
  EXPECT_EQ(Detect("", ""), ServerProtocol::kUndecided);
  EXPECT_EQ(Detect("", "G"), ServerProtocol::kHttp1);
  EXPECT_EQ(Detect("", "GET / HTTP/1.1\r\n\r\n"), ServerProtocol::kHttp1);
  EXPECT_EQ(Detect("", "PRI * HT"), ServerProtocol::kUndecided);
  EXPECT_EQ(Detect("", "PRI * HTTP/1.1\r\n"), ServerProtocol::kHttp1);
  EXPECT_EQ(Detect("", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r"), ServerProtocol::kUndecided);
  EXPECT_EQ(Detect("", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ServerProtocol::kHttp2);
  EXPECT_EQ(Detect("", std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04", 28)),
            ServerProtocol::kHttp2);
}

class NoStreams : public ServerCodecCallbacks {
 public:
  RequestDecoder& NewStream(ResponseEncoder&) override { std::abort(); }
};

TEST(ServerCodecFactoryTest, MakesTheCodec) {
  testing::FakeConnection connection;
  NoStreams callbacks;
  ServerCodecSettings settings;
  std::unique_ptr<ServerCodec> h1 = CreateServerCodec(
      ServerProtocol::kHttp1, connection, callbacks, [] {}, [] { return absl::ZeroDuration(); },
      settings, nullptr);
  EXPECT_FALSE(h1->multiplexing());
  EXPECT_TRUE(connection.TakeWritten().empty());
  std::unique_ptr<ServerCodec> h2 = CreateServerCodec(
      ServerProtocol::kHttp2, connection, callbacks, [] {}, [] { return absl::ZeroDuration(); },
      settings, nullptr);
  EXPECT_TRUE(h2->multiplexing());
  // The server's SETTINGS go out at once.
  const std::string out = connection.TakeWritten();
  ASSERT_GE(out.size(), 9u);
  EXPECT_EQ(out[3], 4);  // SETTINGS.
}

}  // namespace
}  // namespace lb::http
