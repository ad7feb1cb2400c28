// The HTTP/2 server codec against nghttp2's own client session, in process and without
// sockets (a FakeConnection carries the bytes), and against hand-made frames for the attack
// shapes: exact decoder calls, exact frames and error codes back, counters, bounded buffers.
#include "proxy/http/http2_codec.h"

#include <nghttp2/nghttp2.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/http/http2_common.h"
#include "tests/test_common/http2_frames.h"
#include "tests/test_common/proxy/fake_connection.h"
#include "tests/test_common/proxy/h2_test_client.h"

namespace lb::http {
namespace {

using proxy::event::Buffer;
using testing::FakeConnection;

using testing::H2ClientStart;
using testing::H2Frame;
using testing::H2Frames;
using testing::H2RawFrame;
using testing::H2RstCode;

// --- What the server side sees ------------------------------------------------------------

class ServerStream : public RequestDecoder, public StreamCallbacks {
 public:
  explicit ServerStream(ResponseEncoder& encoder) : encoder(encoder) { encoder.SetCallbacks(this); }
  void DecodeHeaders(RequestHeaderMapPtr h, bool end_stream) override {
    headers = std::move(h);
    ended = end_stream;
    if (pause_on_headers) encoder.ReadDisable(true);
  }
  void DecodeData(Buffer& data, bool end_stream) override {
    const size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    ended = ended || end_stream;
  }
  void DecodeTrailers(RequestHeaderMapPtr t) override {
    trailers = std::move(t);
    ended = true;
  }
  void OnStreamReset(StreamResetReason, absl::string_view d) override { reset = std::string(d); }
  void OnAboveWriteBufferHighWatermark() override { ++above; }
  void OnBelowWriteBufferLowWatermark() override { ++below; }

  ResponseEncoder& encoder;
  RequestHeaderMapPtr headers;
  RequestHeaderMapPtr trailers;
  std::string body;
  std::string reset;
  bool ended = false;
  bool pause_on_headers = false;
  int above = 0;
  int below = 0;
};

using testing::H2TestClient;
using Client = H2TestClient;

class Http2CodecTest : public ::testing::Test, public ServerCodecCallbacks {
 protected:
  void Make(Http2Settings settings = {}) {
    codec_ = std::make_unique<Http2ServerCodec>(connection_, *this, settings, &stats_,
                                                [this] { return now_; });
  }

  RequestDecoder& NewStream(ResponseEncoder& encoder) override {
    streams_.push_back(std::make_unique<ServerStream>(encoder));
    streams_.back()->pause_on_headers = pause_new_streams_;
    return *streams_.back();
  }

  absl::Status Feed(const std::string& bytes) {
    connection_.read_buffer().Append(bytes);
    return codec_->Dispatch(connection_.read_buffer(), false);
  }

  // Moves bytes both ways until neither side has anything to say (bounded).
  absl::Status Pump(Client& client) {
    absl::Status status;
    for (int i = 0; i < 1000; ++i) {
      std::string up = client.Out();
      if (!up.empty()) status.Update(Feed(up));
      std::string down = connection_.TakeWritten();
      if (!down.empty()) client.In(down);
      if (up.empty() && down.empty()) break;
    }
    return status;
  }

  void Respond(ServerStream& s, int status, absl::string_view body,
               const ResponseHeaderMap* trailers = nullptr) {
    ResponseHeaderMap h;
    h.status = status;
    h.Add("X-A", "1");
    h.Add("Connection", "close");
    h.Add("Transfer-Encoding", "chunked");
    h.Add("Keep-Alive", "timeout=5");
    if (trailers == nullptr) h.content_length = body.size();
    s.encoder.EncodeHeaders(h, false);
    Buffer b;
    b.Append(body);
    if (trailers != nullptr) {
      s.encoder.EncodeData(b, false);
      s.encoder.EncodeTrailers(*trailers);
    } else {
      s.encoder.EncodeData(b, true);
    }
  }

  FakeConnection connection_;
  Http2Stats stats_;
  absl::Duration now_ = absl::Seconds(100);
  std::unique_ptr<Http2ServerCodec> codec_;
  std::vector<std::unique_ptr<ServerStream>> streams_;
  bool pause_new_streams_ = false;
};

TEST_F(Http2CodecTest, RequestAndResponseTranslated) {
  Make();
  Client client;
  const int32_t id = client.Get(
      "/a?b=1", {{"cookie", "a=1"}, {"cookie", "b=2"}, {"x-y", "z"}, {"te", "trailers"}});
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 1u);
  ServerStream& s = *streams_[0];
  ASSERT_NE(s.headers, nullptr);
  EXPECT_TRUE(s.ended);
  EXPECT_EQ(s.headers->method, Method::kGet);
  EXPECT_EQ(s.headers->target, "/a?b=1");
  EXPECT_EQ(s.headers->host, "example.com");
  EXPECT_TRUE(s.headers->has_host);
  EXPECT_EQ(s.headers->version, Version::kHttp11);
  EXPECT_FALSE(s.headers->content_length.has_value());
  std::string fields;
  s.headers->ForEach(
      [&](const HeaderMap::Field& f) { absl::StrAppend(&fields, f.name, "=", f.value, ";"); });
  // Host first; cookie crumbs joined; TE: trailers is kept (the HTTP/1 encoder's business).
  EXPECT_EQ(fields, "host=example.com;x-y=z;te=trailers;cookie=a=1; b=2;");
  std::string h1;
  s.headers->AppendHttp1(&h1);
  EXPECT_EQ(h1, "host: example.com\r\nx-y: z\r\nte: trailers\r\ncookie: a=1; b=2\r\n");

  Respond(s, 200, "hello");
  ASSERT_TRUE(Pump(client).ok());
  const testing::H2ClientStream& c = client.streams[id];
  EXPECT_EQ(c.headers.at(":status"), "200");
  EXPECT_EQ(c.headers.at("x-a"), "1");
  EXPECT_EQ(c.headers.at("content-length"), "5");
  EXPECT_EQ(c.headers.count("connection"), 0u);
  EXPECT_EQ(c.headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(c.headers.count("keep-alive"), 0u);
  EXPECT_EQ(c.body, "hello");
  EXPECT_TRUE(c.ended);
  EXPECT_EQ(codec_->active_streams(), 0u);
  EXPECT_EQ(stats_.streams.load(), 1u);
  EXPECT_EQ(stats_.connections.load(), 1u);
}

TEST_F(Http2CodecTest, ManyConcurrentStreams) {
  Make();
  Client client;
  std::vector<int32_t> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(client.Get(absl::StrCat("/", i)));
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 100u);
  EXPECT_EQ(codec_->active_streams(), 100u);
  for (size_t i = 0; i < streams_.size(); ++i) {
    EXPECT_EQ(streams_[i]->headers->target, absl::StrCat("/", i));
    Respond(*streams_[i], 200, absl::StrCat("body ", i));
  }
  ASSERT_TRUE(Pump(client).ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(client.streams[ids[i]].body, absl::StrCat("body ", i));
    EXPECT_TRUE(client.streams[ids[i]].ended);
  }
  EXPECT_EQ(codec_->active_streams(), 0u);
}

TEST_F(Http2CodecTest, StreamsOverTheLimitAreRefused) {
  Http2Settings settings;
  settings.max_concurrent_streams = 2;
  Make(settings);
  // Three HEADERS at once, before the client could have seen our SETTINGS.
  std::string bytes = H2ClientStart();
  for (int32_t id : {1, 3, 5}) {
    bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id,
                     testing::H2GetBlock());
  }
  ASSERT_TRUE(Feed(bytes).ok());
  EXPECT_EQ(streams_.size(), 2u);
  EXPECT_EQ(stats_.refused_streams.load(), 1u);
}

// Request body with trailers in, response body with trailers out (gRPC's shape).
TEST_F(Http2CodecTest, TrailersBothWays) {
  Make();
  Client client;
  struct Body {
    std::string data = "12345";
    bool sent = false;
  } body;
  nghttp2_data_provider provider;
  provider.source.ptr = &body;
  provider.read_callback = [](nghttp2_session* session, int32_t id, uint8_t* buf, size_t,
                              uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
    auto* b = static_cast<Body*>(src->ptr);
    memcpy(buf, b->data.data(), b->data.size());
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    Nghttp2Headers t;
    t.Add("x-checksum", "abc");
    const std::vector<nghttp2_nv>& nva = t.nva();
    nghttp2_submit_trailer(session, id, nva.data(), nva.size());
    return static_cast<ssize_t>(b->data.size());
  };
  const int32_t id = client.Get("/svc/Method", {{"content-type", "application/grpc"}}, &provider);
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 1u);
  ServerStream& s = *streams_[0];
  EXPECT_EQ(s.body, "12345");
  ASSERT_NE(s.trailers, nullptr);
  EXPECT_TRUE(s.ended);
  std::optional<HeaderMap::Field> checksum = s.trailers->Find("x-checksum");
  ASSERT_TRUE(checksum.has_value());
  EXPECT_EQ(checksum->value, "abc");

  ResponseHeaderMap trailers;
  trailers.Add("grpc-status", "0");
  trailers.Add("grpc-message", "ok");
  Respond(s, 200, "reply", &trailers);
  ASSERT_TRUE(Pump(client).ok());
  const testing::H2ClientStream& c = client.streams[id];
  EXPECT_EQ(c.body, "reply");
  EXPECT_EQ(c.trailers.at("grpc-status"), "0");
  EXPECT_EQ(c.trailers.at("grpc-message"), "ok");
  EXPECT_TRUE(c.ended);
}

// A paused stream takes no more than its window; the window reopens as the reader resumes.
TEST_F(Http2CodecTest, FlowControlFollowsTheReader) {
  Make();
  pause_new_streams_ = true;
  Client client;
  struct Body {
    size_t left = 200 * 1024;
  } body;
  nghttp2_data_provider provider;
  provider.source.ptr = &body;
  provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                              nghttp2_data_source* src, void*) -> ssize_t {
    auto* b = static_cast<Body*>(src->ptr);
    const size_t n = std::min(len, b->left);
    memset(buf, 'x', n);
    b->left -= n;
    if (b->left == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  };
  client.Get("/upload", {}, &provider);
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 1u);
  ServerStream& s = *streams_[0];
  EXPECT_EQ(s.body.size(), 0u);  // Paused: nothing handed on ...
  // ... and the client could send no more than the stream window (64 KiB).
  EXPECT_EQ(body.left, 200u * 1024 - 64 * 1024);
  for (int i = 0; i < 10 && !s.ended; ++i) {
    s.encoder.ReadDisable(false);
    ASSERT_TRUE(Pump(client).ok());
  }
  EXPECT_TRUE(s.ended);
  EXPECT_EQ(s.body.size(), 200u * 1024);
}

TEST_F(Http2CodecTest, HeaderListOverTheLimitResetsTheStream) {
  Make();
  Client client;
  // 66 KiB decoded in a block under nghttp2's own 64 KiB send limit (Huffman-coded).
  const int32_t id = client.Get(
      "/", {{"x-big1", std::string(33 * 1024, 'v')}, {"x-big2", std::string(33 * 1024, 'v')}});
  ASSERT_TRUE(Pump(client).ok());
  EXPECT_TRUE(streams_.empty());
  EXPECT_EQ(client.streams[id].rst, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(stats_.header_list_too_large.load(), 1u);
  // The connection goes on.
  const int32_t next = client.Get("/ok");
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 1u);
  Respond(*streams_[0], 204, "");
  ASSERT_TRUE(Pump(client).ok());
  EXPECT_EQ(client.streams[next].headers.at(":status"), "204");
}

// One 4 KiB entry in the HPACK table, then a 16 KB HEADERS frame referencing it 16,000 times
// (64 MB decoded): the stream is reset at the header-list limit.
TEST_F(Http2CodecTest, HpackBombResetsTheStream) {
  Make();
  std::string first = testing::H2GetBlock();
  first += std::string("\x40\x01x\x7f\xa1\x1e", 6);  // Literal, indexed: "x", 4000 bytes.
  first += std::string(4000, 'v');
  std::string bomb = testing::H2GetBlock() + std::string(16000, '\xbe');  // Dynamic index 62.
  std::string bytes = H2ClientStart();
  bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, first);
  bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 3, bomb);
  ASSERT_TRUE(Feed(bytes).ok());
  ASSERT_EQ(streams_.size(), 1u);  // Only the first request.
  EXPECT_EQ(stats_.header_list_too_large.load(), 1u);
  EXPECT_EQ(H2RstCode(connection_.TakeWritten(), 3), NGHTTP2_ENHANCE_YOUR_CALM);
}

// HEADERS without END_HEADERS and an endless run of CONTINUATION frames: the connection ends
// after nghttp2's limit (8 CONTINUATION frames) instead of buffering.
TEST_F(Http2CodecTest, ContinuationFloodEndsTheConnection) {
  Make();
  std::string bytes = H2ClientStart();
  bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, testing::H2GetBlock());
  for (int i = 0; i < 1000; ++i) {
    bytes += H2Frame(NGHTTP2_CONTINUATION, 0, 1, std::string("\x40\x01y\x01z", 5));
  }
  EXPECT_FALSE(Feed(bytes).ok());
  EXPECT_TRUE(streams_.empty());
  EXPECT_TRUE(codec_->WantsClose());
  EXPECT_EQ(stats_.protocol_errors.load(), 1u);
  EXPECT_TRUE(connection_.read_buffer().empty());
}

TEST_F(Http2CodecTest, RapidResetEndsTheConnection) {
  Make();  // 100 premature resets a second.
  std::string bytes = H2ClientStart();
  for (int32_t i = 0; i < 101; ++i) {
    const int32_t id = 1 + 2 * i;
    bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id,
                     testing::H2GetBlock());
    bytes += H2Frame(NGHTTP2_RST_STREAM, 0, id, std::string("\0\0\0\x08", 4));  // CANCEL.
  }
  EXPECT_FALSE(Feed(bytes).ok());
  EXPECT_EQ(stats_.premature_resets.load(), 101u);
  EXPECT_EQ(stats_.rapid_reset.load(), 1u);
  EXPECT_EQ(codec_->goaway_code(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  Client reader;
  reader.In(connection_.TakeWritten());
  EXPECT_EQ(reader.goaway, NGHTTP2_ENHANCE_YOUR_CALM);
  // Every stream before the last saw its reset (the last ends with the connection).
  int resets = 0;
  for (const auto& s : streams_) resets += s->reset.empty() ? 0 : 1;
  EXPECT_EQ(resets, 100);
}

TEST_F(Http2CodecTest, ResetsSpreadOverTimeAreAllowed) {
  Make();
  ASSERT_TRUE(Feed(H2ClientStart()).ok());
  for (int32_t i = 0; i < 300; ++i) {
    const int32_t id = 1 + 2 * i;
    if (i % 50 == 0) now_ += absl::Seconds(1);
    std::string bytes = H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM,
                                id, testing::H2GetBlock());
    bytes += H2Frame(NGHTTP2_RST_STREAM, 0, id, std::string("\0\0\0\x08", 4));
    ASSERT_TRUE(Feed(bytes).ok()) << i;
  }
  EXPECT_EQ(stats_.premature_resets.load(), 300u);
  EXPECT_EQ(stats_.rapid_reset.load(), 0u);
}

TEST_F(Http2CodecTest, PingFloodFromAClientThatDoesNotRead) {
  Make();
  codec_->OnUnderlyingConnectionAboveWriteBufferHighWatermark();  // The client reads nothing.
  ASSERT_TRUE(Feed(H2ClientStart()).ok());
  absl::Status status;
  int sent = 0;
  for (; sent < 5000 && status.ok(); ++sent) {
    status = Feed(H2Frame(NGHTTP2_PING, 0, 0, std::string(8, 'p')));
  }
  EXPECT_FALSE(status.ok());
  EXPECT_LE(sent, 1002);
  EXPECT_EQ(stats_.control_flood.load(), 1u);
  EXPECT_TRUE(codec_->WantsClose());
}

TEST_F(Http2CodecTest, SettingsFloodInOneRead) {
  Make();
  std::string bytes = H2ClientStart();
  for (int i = 0; i < 2000; ++i) bytes += H2Frame(NGHTTP2_SETTINGS, 0, 0, "");
  EXPECT_FALSE(Feed(bytes).ok());
  EXPECT_EQ(stats_.control_flood.load(), 1u);
}

TEST_F(Http2CodecTest, EmptyDataFramesEndTheConnection) {
  Make();
  std::string bytes = H2ClientStart();
  bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, testing::H2GetBlock());
  bytes += H2Frame(NGHTTP2_DATA, 0, 1, "");  // One is allowed ...
  bytes += H2Frame(NGHTTP2_DATA, 0, 1, "x");
  bytes += H2Frame(NGHTTP2_DATA, 0, 1, "");
  ASSERT_TRUE(Feed(bytes).ok());
  EXPECT_FALSE(Feed(H2Frame(NGHTTP2_DATA, 0, 1, "")).ok());  // ... two in a row are not.
  EXPECT_EQ(stats_.empty_frames.load(), 1u);
  EXPECT_EQ(codec_->goaway_code(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  Client reader;
  reader.In(connection_.TakeWritten());
  EXPECT_EQ(reader.goaway, NGHTTP2_ENHANCE_YOUR_CALM);
}

// A client that never opens its window: the response waits in the stream, whose producer is
// paused once the stream holds its limit (the stream idle timeout of the connection manager
// ends it later).
TEST_F(Http2CodecTest, ZeroWindowPausesTheProducer) {
  Make();
  Client client({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
  const int32_t id = client.Get("/big");
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 1u);
  ServerStream& s = *streams_[0];
  ResponseHeaderMap h;
  h.status = 200;
  s.encoder.EncodeHeaders(h, false);
  for (int i = 0; i < 8 && s.above == 0; ++i) {
    Buffer chunk;
    chunk.Append(std::string(16 * 1024, 'b'));
    s.encoder.EncodeData(chunk, false);
  }
  ASSERT_TRUE(Pump(client).ok());
  EXPECT_EQ(s.above, 1);
  EXPECT_EQ(client.streams[id].headers.at(":status"), "200");
  EXPECT_EQ(client.streams[id].body.size(), 0u);  // Nothing could be sent.
  // The window opens: the bytes flow and the producer resumes.
  nghttp2_submit_window_update(client.session_, NGHTTP2_FLAG_NONE, id, 1 << 20);
  ASSERT_TRUE(Pump(client).ok());
  EXPECT_EQ(s.below, 1);
  EXPECT_EQ(client.streams[id].body.size(), 80u * 1024);
}

TEST_F(Http2CodecTest, GracefulGoawayLetsStreamsFinish) {
  Make();
  Client client;
  const int32_t id = client.Get("/slow");
  ASSERT_TRUE(Pump(client).ok());
  codec_->CloseAfterResponse();
  ASSERT_TRUE(Pump(client).ok());
  EXPECT_EQ(client.goaway, NGHTTP2_NO_ERROR);
  EXPECT_EQ(client.goaway_last_stream, id);
  EXPECT_TRUE(codec_->WantsClose());
  Respond(*streams_[0], 200, "done");
  ASSERT_TRUE(Pump(client).ok());
  EXPECT_EQ(client.streams[id].body, "done");
  EXPECT_EQ(stats_.graceful_goaways.load(), 1u);
}

TEST_F(Http2CodecTest, ClientResetReachesTheStream) {
  Make();
  Client client;
  const int32_t id = client.Get("/x");
  ASSERT_TRUE(Pump(client).ok());
  nghttp2_submit_rst_stream(client.session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  ASSERT_TRUE(Pump(client).ok());
  ASSERT_EQ(streams_.size(), 1u);
  EXPECT_EQ(streams_[0]->reset, "HTTP/2 stream reset by the client: CANCEL");
  EXPECT_EQ(stats_.premature_resets.load(), 1u);
}

// A response complete before its request: RST_STREAM NO_ERROR tells the client to stop
// uploading (RFC 9113 8.1).
TEST_F(Http2CodecTest, EarlyResponseEndsTheUpload) {
  Make();
  std::string bytes = H2ClientStart();
  bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, testing::H2GetBlock());
  ASSERT_TRUE(Feed(bytes).ok());
  ASSERT_EQ(streams_.size(), 1u);
  ResponseHeaderMap h;
  h.status = 413;
  streams_[0]->encoder.EncodeHeaders(h, true);
  EXPECT_EQ(H2RstCode(connection_.TakeWritten(), 1), NGHTTP2_NO_ERROR);
  // The client's late body is taken and dropped.
  EXPECT_TRUE(Feed(H2Frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "late")).ok());
  EXPECT_EQ(streams_[0]->body, "");
}

TEST_F(Http2CodecTest, ConnectIsRefused) {
  Make();
  std::string bytes = H2ClientStart();
  // :method CONNECT (literal, indexed name 2), :authority a:1.
  bytes += H2Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1,
                   std::string("\x02\x07"
                               "CONNECT\x01\x03"
                               "a:1",
                               14));
  ASSERT_TRUE(Feed(bytes).ok());
  EXPECT_TRUE(streams_.empty());
  bool answered = false;
  for (const H2RawFrame& f : H2Frames(connection_.TakeWritten())) {
    // (The status itself is Huffman-coded; the codec's 501 path is the only one that answers
    // without a stream of the owner.)
    answered = answered ||
               (f.type == NGHTTP2_HEADERS && f.stream == 1 && (f.flags & NGHTTP2_FLAG_END_STREAM));
  }
  EXPECT_TRUE(answered);
}

TEST_F(Http2CodecTest, BadPrefaceIsAnError) {
  Make();
  EXPECT_FALSE(Feed("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n").ok());
  EXPECT_EQ(stats_.protocol_errors.load(), 1u);
}

}  // namespace
}  // namespace lb::http
