// The HTTP/2 client codec against nghttp2's own server session, in process: the codec writes
// to a fake connection, the test moves the bytes to the server session and back.
#include "proxy/http/http2_client_codec.h"

#include <nghttp2/nghttp2.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/event/buffer.h"
#include "tests/test_common/h2_server.h"
#include "tests/test_common/proxy/fake_connection.h"

namespace lb::http {
namespace {

using lb::testing::H2Fields;
using lb::testing::H2ServerSession;

// Records what the codec feeds one stream.
struct Recorder : public ResponseDecoder, public StreamCallbacks {
  void DecodeHeaders(ResponseHeaderMapPtr h, bool end_stream) override {
    headers = std::move(h);
    ended = ended || end_stream;
  }
  void DecodeData(proxy::event::Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    ended = ended || end_stream;
  }
  void DecodeTrailers(ResponseHeaderMapPtr t) override {
    trailers = std::move(t);
    ended = true;
  }
  void OnStreamReset(StreamResetReason r, absl::string_view d) override {
    reset = true;
    reason = r;
    details = std::string(d);
  }
  void OnAboveWriteBufferHighWatermark() override {}
  void OnBelowWriteBufferLowWatermark() override {}

  std::string Field(absl::string_view name) const {
    if (headers == nullptr) return "";
    auto f = headers->Find(name);
    return f ? std::string(f->value) : "";
  }

  ResponseHeaderMapPtr headers;
  ResponseHeaderMapPtr trailers;
  std::string body;
  bool ended = false;
  bool reset = false;
  StreamResetReason reason = StreamResetReason::kLocalReset;
  std::string details;
};

class Http2ClientCodecTest : public ::testing::Test, public Http2ClientCodecCallbacks {
 protected:
  void OnStreamClosed() override { ++closed_; }
  void OnGoAway() override { ++goaways_; }

  void Init(uint32_t server_max_streams = 0, Http2ClientSettings settings = {}) {
    server_ = std::make_unique<H2ServerSession>(server_max_streams);
    codec_ = std::make_unique<Http2ClientCodec>(connection_, *this, settings);
  }

  // Client -> server, server -> client, until neither has anything to say.
  absl::Status Pump() {
    absl::Status status;
    for (int i = 0; i < 20; ++i) {
      std::string up = connection_.TakeWritten();
      if (!up.empty()) {
        EXPECT_TRUE(server_->Feed(up));
      }
      std::string down = server_->Drain();
      if (up.empty() && down.empty()) break;
      if (!down.empty()) {
        proxy::event::Buffer b;
        b.Append(down);
        status = codec_->Dispatch(b, false);
        if (!status.ok()) return status;
      }
    }
    return status;
  }

  RequestHeaderMapPtr Get(absl::string_view path, absl::string_view host = "example.com") {
    RequestHeaderMapPtr h = NewRequestHeaderMap();
    h->method = Method::kGet;
    h->method_token = "GET";
    h->owned_target = std::string(path);
    h->target = h->owned_target;
    h->host = host;
    h->has_host = true;
    h->Add("Host", host);
    h->Add("User-Agent", "test");
    h->Add("X-Forwarded-For", "192.0.2.1");
    return h;
  }

  RequestEncoder& Start(Recorder& r, const RequestHeaderMap& headers, bool end_stream = true) {
    RequestEncoder& e = codec_->NewStream(r);
    e.SetCallbacks(&r);
    e.EncodeHeaders(headers, end_stream);
    return e;
  }

  lb::testing::FakeConnection connection_;
  std::unique_ptr<H2ServerSession> server_;
  std::unique_ptr<Http2ClientCodec> codec_;
  int closed_ = 0;
  int goaways_ = 0;
};

TEST_F(Http2ClientCodecTest, TranslatesAnHttp1RequestAndDecodesTheResponse) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/a?b=1");
  Start(r, *h);
  ASSERT_TRUE(Pump().ok());
  ASSERT_EQ(server_->requests().size(), 1u);
  const lb::testing::H2Request& req = server_->requests().begin()->second;
  EXPECT_EQ(req.Get(":method"), "GET");
  EXPECT_EQ(req.Get(":scheme"), "http");
  EXPECT_EQ(req.Get(":authority"), "example.com");
  EXPECT_EQ(req.Get(":path"), "/a?b=1");
  EXPECT_EQ(req.Get("user-agent"), "test");  // Lowercased.
  EXPECT_EQ(req.Get("x-forwarded-for"), "192.0.2.1");
  EXPECT_EQ(req.Get("host"), "");  // Carried as :authority.
  EXPECT_TRUE(req.ended);

  server_->Respond(req.stream_id, 200, {{"content-length", "5"}, {"x-up", "1"}}, "hello");
  ASSERT_TRUE(Pump().ok());
  ASSERT_NE(r.headers, nullptr);
  EXPECT_EQ(r.headers->status, 200);
  EXPECT_EQ(r.headers->content_length, 5u);
  EXPECT_EQ(r.Field("content-length"), "");  // Typed, not a field.
  EXPECT_EQ(r.Field("x-up"), "1");
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(codec_->active_streams(), 0u);
  EXPECT_EQ(closed_, 1);
}

TEST_F(Http2ClientCodecTest, MultiplexesStreamsAnsweredOutOfOrder) {
  Init();
  Recorder r[3];
  std::vector<RequestHeaderMapPtr> heads;
  for (int i = 0; i < 3; ++i) {
    heads.push_back(Get(absl::StrCat("/", i)));
    Start(r[i], *heads.back());
  }
  EXPECT_EQ(codec_->active_streams(), 3u);
  ASSERT_TRUE(Pump().ok());
  ASSERT_EQ(server_->requests().size(), 3u);
  std::vector<int32_t> ids;
  for (const auto& [id, req] : server_->requests()) ids.push_back(id);
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    const lb::testing::H2Request& req = server_->requests().at(*it);
    server_->Respond(*it, 200, {}, "body" + req.Get(":path"));
  }
  ASSERT_TRUE(Pump().ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i].body, absl::StrCat("body/", i));
    EXPECT_TRUE(r[i].ended);
  }
  EXPECT_EQ(codec_->total_streams(), 3u);
}

TEST_F(Http2ClientCodecTest, PassesTrailersOn) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/grpc");
  Start(r, *h);
  ASSERT_TRUE(Pump().ok());
  server_->Respond(server_->requests().begin()->first, 200, {{"content-type", "application/grpc"}},
                   "payload", {{"grpc-status", "7"}, {"grpc-message", "denied"}});
  ASSERT_TRUE(Pump().ok());
  EXPECT_EQ(r.body, "payload");
  ASSERT_NE(r.trailers, nullptr);
  EXPECT_EQ(r.trailers->Find("grpc-status")->value, "7");
  EXPECT_EQ(r.trailers->Find("grpc-message")->value, "denied");
  EXPECT_TRUE(r.ended);
}

TEST_F(Http2ClientCodecTest, SendsBodiesAndGrpcTe) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/upload");
  h->method = Method::kPost;
  h->method_token = "POST";
  h->content_length = 11;
  h->Add("Content-Type", "application/grpc");
  RequestEncoder& e = Start(r, *h, /*end_stream=*/false);
  proxy::event::Buffer body;
  body.Append("hello ");
  e.EncodeData(body, false);
  body.Append("world");
  e.EncodeData(body, true);
  ASSERT_TRUE(Pump().ok());
  const lb::testing::H2Request& req = server_->requests().begin()->second;
  EXPECT_EQ(req.body, "hello world");
  EXPECT_EQ(req.Get("content-length"), "11");
  EXPECT_EQ(req.Get("te"), "trailers");
  EXPECT_TRUE(req.ended);
}

TEST_F(Http2ClientCodecTest, SendsRequestTrailersAfterTheBody) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/upload");
  h->method = Method::kPost;
  h->method_token = "POST";
  RequestEncoder& e = Start(r, *h, /*end_stream=*/false);
  proxy::event::Buffer body;
  body.Append("payload");
  e.EncodeData(body, false);
  ASSERT_TRUE(Pump().ok());
  EXPECT_FALSE(server_->requests().begin()->second.ended);
  RequestHeaderMapPtr trailers = NewRequestHeaderMap();
  trailers->Add("X-Checksum", "abc");
  trailers->Add("Connection", "close");  // Connection-specific: never in HTTP/2.
  e.EncodeTrailers(*trailers);
  ASSERT_TRUE(Pump().ok());
  const lb::testing::H2Request& req = server_->requests().begin()->second;
  EXPECT_EQ(req.body, "payload");
  EXPECT_EQ(req.Get("x-checksum"), "abc");
  EXPECT_EQ(req.Get("connection"), "");
  EXPECT_TRUE(req.ended);
  EXPECT_EQ(req.headers.back(), (std::pair<std::string, std::string>("x-checksum", "abc")));
}

TEST_F(Http2ClientCodecTest, RequestTrailersWithoutABody) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/t");
  RequestEncoder& e = Start(r, *h, /*end_stream=*/false);
  RequestHeaderMapPtr trailers = NewRequestHeaderMap();
  trailers->Add("x-only", "1");
  e.EncodeTrailers(*trailers);
  ASSERT_TRUE(Pump().ok());
  const lb::testing::H2Request& req = server_->requests().begin()->second;
  EXPECT_EQ(req.body, "");
  EXPECT_EQ(req.Get("x-only"), "1");
  EXPECT_TRUE(req.ended);
}

TEST_F(Http2ClientCodecTest, HonoursThePeersMaxConcurrentStreams) {
  Init(/*server_max_streams=*/2);
  ASSERT_TRUE(Pump().ok());  // SETTINGS exchanged.
  EXPECT_EQ(codec_->max_concurrent_streams(), 2u);
  Recorder r[2];
  RequestHeaderMapPtr h = Get("/");
  EXPECT_TRUE(codec_->CanOpenStream());
  Start(r[0], *h);
  Start(r[1], *h);
  EXPECT_FALSE(codec_->CanOpenStream());
}

TEST_F(Http2ClientCodecTest, OurCapLimitsStreamsToo) {
  Http2ClientSettings settings;
  settings.max_concurrent_streams = 1;
  Init(0, settings);
  ASSERT_TRUE(Pump().ok());
  Recorder r;
  RequestHeaderMapPtr h = Get("/");
  Start(r, *h);
  EXPECT_FALSE(codec_->CanOpenStream());
}

TEST_F(Http2ClientCodecTest, GoAwayRefusesUnprocessedStreamsAndFinishesTheOthers) {
  Init();
  Recorder r[2];
  RequestHeaderMapPtr h = Get("/");
  Start(r[0], *h);
  Start(r[1], *h);
  ASSERT_TRUE(Pump().ok());
  ASSERT_EQ(server_->requests().size(), 2u);
  const int32_t first = server_->requests().begin()->first;
  server_->GoAway(first);
  server_->Respond(first, 200, {}, "done");
  // Not ok: with GOAWAY and no stream left the connection is finished.
  EXPECT_FALSE(Pump().ok());
  EXPECT_EQ(goaways_, 1);
  EXPECT_TRUE(codec_->goaway_received());
  EXPECT_FALSE(codec_->CanOpenStream());
  EXPECT_EQ(r[0].body, "done");
  EXPECT_TRUE(r[0].ended);
  EXPECT_TRUE(r[1].reset);
  EXPECT_EQ(r[1].reason, StreamResetReason::kRemoteRefusedStream) << r[1].details;
  EXPECT_EQ(codec_->active_streams(), 0u);
}

TEST_F(Http2ClientCodecTest, StreamResetsMapToReasons) {
  Init();
  Recorder r[2];
  RequestHeaderMapPtr h = Get("/");
  Start(r[0], *h);
  Start(r[1], *h);
  ASSERT_TRUE(Pump().ok());
  auto it = server_->requests().begin();
  server_->ResetStream(it->first, NGHTTP2_INTERNAL_ERROR);
  server_->ResetStream(std::next(it)->first, NGHTTP2_REFUSED_STREAM);
  ASSERT_TRUE(Pump().ok());
  EXPECT_EQ(r[0].reason, StreamResetReason::kConnectionTermination);
  EXPECT_NE(r[0].details.find("INTERNAL_ERROR"), std::string::npos) << r[0].details;
  EXPECT_EQ(r[1].reason, StreamResetReason::kRemoteRefusedStream);
  EXPECT_TRUE(codec_->CanOpenStream());  // The connection stays usable.
}

TEST_F(Http2ClientCodecTest, ResetByTheCallerCancelsTheStreamOnly) {
  Init();
  Recorder r[2];
  RequestHeaderMapPtr h = Get("/");
  RequestEncoder& e = Start(r[0], *h);
  Start(r[1], *h);
  ASSERT_TRUE(Pump().ok());
  e.ResetStream();
  ASSERT_TRUE(Pump().ok());
  EXPECT_FALSE(r[0].reset);  // No callback for the caller's own reset.
  EXPECT_TRUE(server_->requests().begin()->second.reset);
  server_->Respond(std::next(server_->requests().begin())->first, 204, {}, "");
  ASSERT_TRUE(Pump().ok());
  EXPECT_EQ(r[1].headers->status, 204);
  EXPECT_EQ(codec_->active_streams(), 0u);
}

TEST_F(Http2ClientCodecTest, OversizedResponseHeadResetsItsStream) {
  Http2ClientSettings settings;
  settings.max_headers = 3;
  Init(0, settings);
  Recorder r;
  RequestHeaderMapPtr h = Get("/");
  Start(r, *h);
  ASSERT_TRUE(Pump().ok());
  server_->Respond(server_->requests().begin()->first, 200,
                   {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}, "x");
  ASSERT_TRUE(Pump().ok());
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reason, StreamResetReason::kProtocolError);
}

TEST_F(Http2ClientCodecTest, GarbageIsAProtocolErrorThatResetsEveryStream) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/");
  Start(r, *h);
  proxy::event::Buffer b;
  b.Append("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_FALSE(codec_->Dispatch(b, false).ok());
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reason, StreamResetReason::kProtocolError);
  EXPECT_FALSE(codec_->CanOpenStream());
}

TEST_F(Http2ClientCodecTest, ConnectionCloseResetsOpenStreams) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/");
  Start(r, *h);
  ASSERT_TRUE(Pump().ok());
  codec_->OnConnectionClosed("gone");
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reason, StreamResetReason::kConnectionTermination);
  EXPECT_EQ(codec_->active_streams(), 0u);
}

TEST_F(Http2ClientCodecTest, UpgradeCannotGoOverHttp2) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/ws");
  h->upgrade = "websocket";
  Start(r, *h);
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reason, StreamResetReason::kProtocolError);
  EXPECT_EQ(codec_->active_streams(), 0u);
}

TEST_F(Http2ClientCodecTest, PausedReaderGetsTheBodyWhenResumed) {
  Init();
  Recorder r;
  RequestHeaderMapPtr h = Get("/");
  RequestEncoder& e = Start(r, *h);
  ASSERT_TRUE(Pump().ok());
  e.ReadDisable(true);
  server_->Respond(server_->requests().begin()->first, 200, {}, "later", {{"grpc-status", "0"}});
  ASSERT_TRUE(Pump().ok());
  EXPECT_NE(r.headers, nullptr);
  EXPECT_EQ(r.body, "");
  EXPECT_FALSE(r.ended);
  e.ReadDisable(false);
  EXPECT_EQ(r.body, "later");
  ASSERT_NE(r.trailers, nullptr);
  EXPECT_TRUE(r.ended);
}

}  // namespace
}  // namespace lb::http
