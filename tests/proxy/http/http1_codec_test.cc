// The HTTP/1 codecs against a socketless connection: exact bytes out, exact decoder calls in.
#include "proxy/http/http1_codec.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/test_common/proxy/fake_connection.h"

namespace lb::http {
namespace {

using proxy::event::Buffer;
using testing::FakeConnection;

std::string Fields(const HeaderMap& map) {
  std::vector<std::string> out;
  map.ForEach(
      [&out](const HeaderMap::Field& f) { out.push_back(absl::StrCat(f.name, "=", f.value)); });
  return absl::StrJoin(out, ";");
}

// Records what the server codec hands one stream.
class RecordingStream : public RequestDecoder, public StreamCallbacks {
 public:
  explicit RecordingStream(ResponseEncoder& encoder) : encoder(encoder) {
    encoder.SetCallbacks(this);
  }
  void DecodeHeaders(RequestHeaderMapPtr h, bool end_stream) override {
    headers = std::move(h);
    ended = end_stream;
    log.push_back(absl::StrCat("headers", end_stream ? " end" : ""));
  }
  void DecodeData(Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    ended = ended || end_stream;
    log.push_back(absl::StrCat("data ", n, end_stream ? " end" : ""));
  }
  void DecodeTrailers(RequestHeaderMapPtr t) override {
    trailers = std::move(t);
    ended = true;
    log.push_back(absl::StrCat("trailers ", Fields(*trailers)));
  }
  void OnStreamReset(StreamResetReason, absl::string_view details) override {
    log.push_back(absl::StrCat("reset ", details));
  }
  void OnAboveWriteBufferHighWatermark() override { log.push_back("above"); }
  void OnBelowWriteBufferLowWatermark() override { log.push_back("below"); }

  ResponseEncoder& encoder;
  RequestHeaderMapPtr headers;
  RequestHeaderMapPtr trailers;
  std::string body;
  bool ended = false;
  std::vector<std::string> log;
};

class ServerCodecTest : public ::testing::Test, public ServerCodecCallbacks {
 protected:
  ServerCodecTest() : codec_(connection_, *this, [this] { ++resumes_; }) {}

  RequestDecoder& NewStream(ResponseEncoder& encoder) override {
    streams_.push_back(std::make_unique<RecordingStream>(encoder));
    return *streams_.back();
  }

  // Puts `bytes` into the connection's read buffer and dispatches.
  absl::Status Feed(absl::string_view bytes, bool end_stream = false) {
    connection_.read_buffer().Append(bytes);
    return codec_.Dispatch(connection_.read_buffer(), end_stream);
  }
  void Respond(int status, absl::string_view body, bool with_length = true) {
    ResponseHeaderMap h;
    h.status = status;
    h.Add("X-Test", "1");
    if (with_length) h.content_length = body.size();
    codec_.EncodeHeaders(h, false);
    Buffer b;
    b.Append(body);
    codec_.EncodeData(b, true);
  }
  RecordingStream& stream(size_t i = 0) { return *streams_.at(i); }

  FakeConnection connection_;
  Http1ServerCodec codec_;
  std::vector<std::unique_ptr<RecordingStream>> streams_;
  int resumes_ = 0;
};

TEST_F(ServerCodecTest, RequestHeadBecomesAMapWithoutConnectionFields) {
  ASSERT_TRUE(Feed("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  spaced \t\r\n"
                   "Connection: keep-alive, x-hop\r\nX-Hop: gone\r\nContent-Length: 0\r\n"
                   "Keep-Alive: 5\r\n\r\n")
                  .ok());
  ASSERT_EQ(streams_.size(), 1u);
  RecordingStream& s = stream();
  EXPECT_EQ(s.log, std::vector<std::string>({"headers end"}));
  const RequestHeaderMap& h = *s.headers;
  EXPECT_EQ(h.method, Method::kGet);
  EXPECT_EQ(h.target, "/a?b=1");
  EXPECT_EQ(h.Path(), "/a?b=1");
  EXPECT_EQ(h.host, "example.com");
  EXPECT_TRUE(h.has_host);
  EXPECT_EQ(h.content_length, std::optional<uint64_t>(0));
  EXPECT_EQ(Fields(h), "Host=example.com;X-A=spaced");
  std::string wire;
  h.AppendHttp1(&wire);
  EXPECT_EQ(wire, "Host: example.com\r\nX-A:  spaced \t\r\n");  // Byte for byte.
  EXPECT_TRUE(codec_.stream_active());
  EXPECT_EQ(connection_.read_buffer().size(), 0u);
}

TEST_F(ServerCodecTest, ResponseWithLengthKeepsTheConnection) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  Respond(200, "hello");
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 200 OK\r\nX-Test: 1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_FALSE(codec_.stream_active());
  EXPECT_FALSE(codec_.WantsClose());
  EXPECT_EQ(resumes_, 1);
}

TEST_F(ServerCodecTest, UnknownLengthIsChunkedForHttp11AndCloseDelimitedForHttp10) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ResponseHeaderMap h;
  codec_.EncodeHeaders(h, false);
  Buffer b;
  b.Append("abc");
  codec_.EncodeData(b, false);
  b.Append("de");
  codec_.EncodeData(b, true);
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n"
            "0\r\n\r\n");
  EXPECT_FALSE(codec_.WantsClose());

  ASSERT_TRUE(Feed("GET / HTTP/1.0\r\n\r\n").ok());
  codec_.EncodeHeaders(h, false);
  b.Append("abc");
  codec_.EncodeData(b, true);
  EXPECT_EQ(connection_.TakeWritten(), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc");
  EXPECT_TRUE(codec_.WantsClose());
}

TEST_F(ServerCodecTest, Http10KeepAliveIsAnnounced) {
  ASSERT_TRUE(Feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").ok());
  Respond(204, "", true);
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 204 No Content\r\nX-Test: 1\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_FALSE(codec_.WantsClose());
}

TEST_F(ServerCodecTest, PipelinedRequestWaitsForTheResponseBeforeIt) {
  ASSERT_TRUE(Feed("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ASSERT_EQ(streams_.size(), 1u);  // The second head stays in the buffer.
  EXPECT_GT(connection_.read_buffer().size(), 0u);
  EXPECT_EQ(resumes_, 0);
  Respond(200, "1");
  EXPECT_EQ(resumes_, 1);  // The owner dispatches again.
  ASSERT_TRUE(codec_.Dispatch(connection_.read_buffer(), false).ok());
  ASSERT_EQ(streams_.size(), 2u);
  EXPECT_EQ(stream(1).headers->target, "/2");
}

TEST_F(ServerCodecTest, ResponseFinishedInsideDispatchGoesOnWithTheNextRequest) {
  // A stream that answers at once (as a local reply does) lets one Dispatch take both.
  class Answering : public ServerCodecCallbacks, public RequestDecoder {
   public:
    RequestDecoder& NewStream(ResponseEncoder& e) override {
      encoder = &e;
      return *this;
    }
    void DecodeHeaders(RequestHeaderMapPtr, bool) override {
      ++requests;
      ResponseHeaderMap h;
      h.status = 404;
      h.content_length = 0;
      encoder->EncodeHeaders(h, true);
    }
    void DecodeData(Buffer& d, bool) override { d.Clear(); }
    ResponseEncoder* encoder = nullptr;
    int requests = 0;
  } answering;
  FakeConnection connection;
  Http1ServerCodec codec(connection, answering, nullptr);
  connection.read_buffer().Append(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(codec.Dispatch(connection.read_buffer(), false).ok());
  EXPECT_EQ(answering.requests, 2);
  EXPECT_EQ(connection.read_buffer().size(), 0u);
}

TEST_F(ServerCodecTest, ContentLengthBodyArrivesInPieces) {
  ASSERT_TRUE(Feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123").ok());
  ASSERT_TRUE(Feed("45").ok());
  ASSERT_TRUE(Feed("6789GET").ok());  // The next request's bytes stay.
  RecordingStream& s = stream();
  EXPECT_EQ(s.log, std::vector<std::string>({"headers", "data 4", "data 2", "data 4 end"}));
  EXPECT_EQ(s.body, "0123456789");
  EXPECT_EQ(s.headers->content_length, std::optional<uint64_t>(10));
  EXPECT_EQ(connection_.read_buffer().size(), 3u);
}

TEST_F(ServerCodecTest, ChunkedBodyIsDechunkedAndTrailersFollowIt) {
  ASSERT_TRUE(Feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: t \r\n"
                   "Content-Length: 5\r\nHost: evil\r\nTransfer-Encoding: chunked\r\n"
                   "X-Sum:abc\r\n\r\n")
                  .ok());
  RecordingStream& s = stream();
  EXPECT_EQ(s.body, "helloabc");
  EXPECT_TRUE(s.ended);
  EXPECT_FALSE(s.headers->content_length.has_value());  // Length unknown up front.
  EXPECT_EQ(Fields(*s.headers), "Host=x");
  // Framing and routing fields are not trailers: dropped; the rest follow the body.
  EXPECT_EQ(s.log,
            std::vector<std::string>({"headers", "data 8", "trailers X-Trailer=t;X-Sum=abc"}));
  Respond(200, "ok");
  EXPECT_EQ(resumes_, 1);  // The connection goes on with the next request.
}

TEST_F(ServerCodecTest, TrailersThatAreAllForbiddenJustEndTheBody) {
  ASSERT_TRUE(Feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n0\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
                  .ok());
  EXPECT_EQ(stream().log, std::vector<std::string>({"headers", "data 3 end"}));
  EXPECT_EQ(stream().trailers, nullptr);
}

TEST_F(ServerCodecTest, TrailerSectionsHaveTheHeadLimits) {
  HeadLimits limits;
  limits.max_headers = 2;
  limits.max_header_bytes = 64;
  FakeConnection connection;
  Http1ServerCodec codec(connection, *this, nullptr, Http1Settings{limits});
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  connection.read_buffer().Append(head + "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  EXPECT_FALSE(codec.Dispatch(connection.read_buffer(), false).ok());
  EXPECT_EQ(codec.last_error().status, 431);
  EXPECT_EQ(codec.last_error().reason, "too many trailer fields");
  EXPECT_TRUE(codec.WantsClose());

  FakeConnection connection2;
  Http1ServerCodec codec2(connection2, *this, nullptr, Http1Settings{limits});
  connection2.read_buffer().Append(head + "0\r\nA: " + std::string(70, 'a') + "\r\n\r\n");
  EXPECT_FALSE(codec2.Dispatch(connection2.read_buffer(), false).ok());
  EXPECT_EQ(codec2.last_error().status, 431);
  EXPECT_EQ(codec2.last_error().reason, "trailer section too large");
}

TEST_F(ServerCodecTest, ResponseTrailersLoseForbiddenFields) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n").ok());
  ResponseHeaderMap h;
  codec_.EncodeHeaders(h, false);
  Buffer b;
  b.Append("abc");
  codec_.EncodeData(b, false);
  ResponseHeaderMap t;
  t.Add("grpc-status", "0");
  t.Add("content-length", "3");
  t.Add("Transfer-Encoding", "chunked");
  codec_.EncodeTrailers(t);
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
            "0\r\ngrpc-status: 0\r\n\r\n");
}

TEST_F(ServerCodecTest, BadRequestHeadIsAnsweredOnAStreamOfItsOwn) {
  absl::Status s =
      Feed("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(streams_.size(), 1u);
  EXPECT_TRUE(stream().log.empty());  // No headers: the request could not be read.
  EXPECT_EQ(codec_.last_error().status, 400);
  EXPECT_TRUE(codec_.WantsClose());
  Respond(400, "bad\n");
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 400 Bad Request\r\nX-Test: 1\r\nContent-Length: 4\r\nConnection: close\r\n"
            "\r\nbad\n");
}

TEST_F(ServerCodecTest, BadChunkIsAnErrorOfTheStream) {
  absl::Status s =
      Feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(codec_.last_error().status, 400);
  EXPECT_TRUE(codec_.WantsClose());
}

TEST_F(ServerCodecTest, ClientClosingMidBodyResetsTheStream) {
  ASSERT_TRUE(Feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123").ok());
  ASSERT_TRUE(Feed("", /*end_stream=*/true).ok());
  EXPECT_EQ(stream().log.back(), "reset client closed before the request body ended");
  EXPECT_TRUE(codec_.WantsClose());
  EXPECT_FALSE(codec_.stream_active());
}

// As nginx and Envoy do: a client's half-close while its answer is pending means it left.
TEST_F(ServerCodecTest, HalfCloseAfterACompleteRequestResetsTheStream) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ASSERT_TRUE(Feed("", /*end_stream=*/true).ok());
  EXPECT_EQ(stream().log,
            std::vector<std::string>({"headers end", "reset client closed the connection"}));
  EXPECT_TRUE(codec_.WantsClose());
  EXPECT_FALSE(codec_.stream_active());
}

TEST_F(ServerCodecTest, HalfCloseAfterTheAnswerClosesAfterIt) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  Respond(200, "ok");
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 200 OK\r\nX-Test: 1\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(Feed("", /*end_stream=*/true).ok());
  EXPECT_FALSE(codec_.stream_active());
}

TEST_F(ServerCodecTest, AnswerBeforeTheBodyEndedClosesTheConnection) {
  ASSERT_TRUE(Feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01").ok());
  Respond(413, "");
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 413 Payload Too Large\r\nX-Test: 1\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_TRUE(codec_.WantsClose());
  ASSERT_TRUE(Feed("23456789").ok());  // Ignored: the input is unusable.
  EXPECT_EQ(stream().body, "01");
}

TEST_F(ServerCodecTest, HeadAnswersCarryNoBody) {
  ASSERT_TRUE(Feed("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  Respond(200, "would-be body");
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 200 OK\r\nX-Test: 1\r\nContent-Length: 13\r\n\r\n");
  EXPECT_FALSE(codec_.WantsClose());
}

TEST_F(ServerCodecTest, UpgradeTurnsIntoATunnelBothWays) {
  ASSERT_TRUE(Feed("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   "\r\nearly")
                  .ok());
  EXPECT_EQ(stream().headers->upgrade, "websocket");
  EXPECT_EQ(Fields(*stream().headers), "Host=x");
  ResponseHeaderMap h;
  h.status = 101;
  h.upgrade = "websocket";
  codec_.EncodeHeaders(h, false);
  EXPECT_EQ(
      connection_.TakeWritten(),
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(resumes_, 1);  // Bytes sent before the 101 now go through.
  ASSERT_TRUE(codec_.Dispatch(connection_.read_buffer(), false).ok());
  ASSERT_TRUE(Feed("more", true).ok());
  EXPECT_EQ(stream().body, "earlymore");
  EXPECT_TRUE(stream().ended);
  Buffer b;
  b.Append("from upstream");
  codec_.EncodeData(b, true);
  EXPECT_EQ(connection_.TakeWritten(), "from upstream");
  EXPECT_TRUE(codec_.WantsClose());
}

TEST_F(ServerCodecTest, CloseAfterResponseAnnouncesIt) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  codec_.CloseAfterResponse();
  Respond(200, "");
  EXPECT_EQ(connection_.TakeWritten(),
            "HTTP/1.1 200 OK\r\nX-Test: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(codec_.WantsClose());
}

TEST_F(ServerCodecTest, AbortedRequestGetsAStreamToAnswerOn) {
  ASSERT_TRUE(Feed("GET / HT").ok());
  EXPECT_TRUE(codec_.partial_head());
  EXPECT_TRUE(streams_.empty());
  codec_.AbortRequest();
  ASSERT_EQ(streams_.size(), 1u);
  EXPECT_EQ(codec_.last_error().status, 408);
  EXPECT_TRUE(codec_.WantsClose());
  EXPECT_FALSE(codec_.partial_head());
}

TEST_F(ServerCodecTest, ContinueIsSentOnceAndNotToHttp10) {
  ASSERT_TRUE(
      Feed("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n").ok());
  EXPECT_TRUE(stream().headers->expect_100_continue);
  codec_.Encode100Continue();
  EXPECT_EQ(connection_.TakeWritten(), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_F(ServerCodecTest, ReadDisableAndWatermarksReachTheConnectionAndTheStream) {
  ASSERT_TRUE(Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  codec_.ReadDisable(true);
  EXPECT_TRUE(connection_.read_disabled());
  codec_.ReadDisable(false);
  EXPECT_FALSE(connection_.read_disabled());
  codec_.OnUnderlyingConnectionAboveWriteBufferHighWatermark();
  codec_.OnUnderlyingConnectionBelowWriteBufferLowWatermark();
  EXPECT_EQ(stream().log, std::vector<std::string>({"headers end", "above", "below"}));
}

// --- Client ---------------------------------------------------------------------------------

class RecordingResponse : public ResponseDecoder, public StreamCallbacks {
 public:
  void DecodeHeaders(ResponseHeaderMapPtr h, bool end_stream) override {
    headers = std::move(h);
    log.push_back(absl::StrCat("headers ", headers->status, end_stream ? " end" : ""));
  }
  void DecodeData(Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    log.push_back(absl::StrCat("data ", n, end_stream ? " end" : ""));
  }
  void DecodeTrailers(ResponseHeaderMapPtr t) override {
    trailers = std::move(t);
    log.push_back(absl::StrCat("trailers ", Fields(*trailers)));
  }
  void OnStreamReset(StreamResetReason reason, absl::string_view details) override {
    log.push_back(absl::StrCat("reset ", static_cast<int>(reason), " ", details));
  }
  void OnAboveWriteBufferHighWatermark() override {}
  void OnBelowWriteBufferLowWatermark() override {}

  ResponseHeaderMapPtr headers;
  ResponseHeaderMapPtr trailers;
  std::string body;
  std::vector<std::string> log;
};

class ClientCodecTest : public ::testing::Test, public ClientCodecCallbacks {
 protected:
  ClientCodecTest() : codec_(connection_, *this) {}

  void OnResponseComplete(bool reusable) override {
    events_.push_back(reusable ? "complete reusable" : "complete");
  }
  void OnLocalReset() override { events_.push_back("local reset"); }

  RequestEncoder& Start(Method method = Method::kGet, bool end_stream = true,
                        std::optional<uint64_t> length = std::nullopt) {
    RequestEncoder& e = codec_.NewStream(response_);
    e.SetCallbacks(&response_);
    RequestHeaderMapPtr h = NewRequestHeaderMap();
    h->method = method;
    h->target = "/x";
    h->content_length = length;
    h->Add("Host", "up");
    e.EncodeHeaders(*h, end_stream);
    return e;
  }
  absl::Status Feed(absl::string_view bytes, bool end_stream = false) {
    connection_.read_buffer().Append(bytes);
    return codec_.Dispatch(connection_.read_buffer(), end_stream);
  }

  FakeConnection connection_;
  Http1ClientCodec codec_;
  RecordingResponse response_;
  std::vector<std::string> events_;
};

TEST_F(ClientCodecTest, RequestFramingFollowsTheKnownLength) {
  Start(Method::kGet, true);
  EXPECT_EQ(connection_.TakeWritten(), "GET /x HTTP/1.1\r\nHost: up\r\n\r\n");
  ASSERT_TRUE(Feed("HTTP/1.1 204 No Content\r\n\r\n").ok());

  RequestEncoder& e = Start(Method::kPost, false, 3);
  Buffer b;
  b.Append("abc");
  e.EncodeData(b, true);
  EXPECT_EQ(connection_.TakeWritten(),
            "POST /x HTTP/1.1\r\nHost: up\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(Feed("HTTP/1.1 204 No Content\r\n\r\n").ok());

  RequestEncoder& chunked = Start(Method::kPut, false);
  b.Append("hello");
  chunked.EncodeData(b, false);
  chunked.EncodeData(b, true);
  EXPECT_EQ(connection_.TakeWritten(),
            "PUT /x HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
            "0\r\n\r\n");
}

TEST_F(ClientCodecTest, LengthDelimitedResponseCompletesAndIsReusable) {
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-B: b\r\n\r\nhel").ok());
  ASSERT_TRUE(Feed("lo").ok());
  EXPECT_EQ(response_.log, std::vector<std::string>({"headers 200", "data 3", "data 2 end"}));
  EXPECT_EQ(response_.body, "hello");
  EXPECT_EQ(response_.headers->content_length, std::optional<uint64_t>(5));
  EXPECT_EQ(Fields(*response_.headers), "X-B=b");
  EXPECT_EQ(events_, std::vector<std::string>({"complete reusable"}));
  EXPECT_FALSE(codec_.stream_active());
}

TEST_F(ClientCodecTest, ConnectionCloseOrExtraBytesMeanNoReuse) {
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok());
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA").ok());
  EXPECT_EQ(events_, std::vector<std::string>({"complete", "complete"}));
}

TEST_F(ClientCodecTest, ChunkedResponseIsDechunked) {
  Start();
  ASSERT_TRUE(
      Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").ok());
  EXPECT_EQ(response_.body, "abc");
  EXPECT_FALSE(response_.headers->content_length.has_value());
  EXPECT_EQ(events_, std::vector<std::string>({"complete reusable"}));
}

TEST_F(ClientCodecTest, ChunkedResponseTrailersFollowTheBody) {
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                   "grpc-status: 0\r\nContent-Type: text/html\r\nX-T:\t v \r\n\r\n")
                  .ok());
  EXPECT_EQ(response_.log,
            std::vector<std::string>({"headers 200", "data 3", "trailers grpc-status=0;X-T=v"}));
  EXPECT_EQ(events_, std::vector<std::string>({"complete reusable"}));
  // Trailers alone (no payload) and a section of forbidden fields only.
  response_.log.clear();
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n\r\n").ok());
  Start();
  ASSERT_TRUE(
      Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: h\r\n\r\n").ok());
  EXPECT_EQ(response_.log,
            std::vector<std::string>({"headers 200", "trailers A=1", "headers 200", "data 0 end"}));
}

TEST_F(ClientCodecTest, TooManyResponseTrailersResetTheStream) {
  HeadLimits limits;
  limits.max_headers = 1;
  FakeConnection connection;
  Http1ClientCodec codec(connection, *this, Http1Settings{limits});
  RequestEncoder& e = codec.NewStream(response_);
  e.SetCallbacks(&response_);
  RequestHeaderMapPtr h = NewRequestHeaderMap();
  h->target = "/x";
  e.EncodeHeaders(*h, true);
  connection.read_buffer().Append(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n");
  EXPECT_FALSE(codec.Dispatch(connection.read_buffer(), false).ok());
  EXPECT_EQ(response_.log, std::vector<std::string>(
                               {"headers 200", "reset 1 upstream sent too many trailer fields"}));
  EXPECT_TRUE(events_.empty());
}

TEST_F(ClientCodecTest, RequestTrailersFollowAChunkedBodyOnly) {
  RequestEncoder& chunked = Start(Method::kPost, false);
  Buffer b;
  b.Append("hello");
  chunked.EncodeData(b, false);
  RequestHeaderMapPtr t = NewRequestHeaderMap();
  t->Add("x-checksum", "abc");
  t->Add("content-length", "5");
  t->Add("host", "evil");
  t->Add("X-Two", "2");
  chunked.EncodeTrailers(*t);
  EXPECT_EQ(connection_.TakeWritten(),
            "POST /x HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
            "0\r\nx-checksum: abc\r\nX-Two: 2\r\n\r\n");
  ASSERT_TRUE(Feed("HTTP/1.1 204 No Content\r\n\r\n").ok());
  EXPECT_EQ(events_, std::vector<std::string>({"complete reusable"}));

  // A known length: no chunked body, so no trailers; the body just ends.
  RequestEncoder& sized = Start(Method::kPost, false, 5);
  b.Append("hello");
  sized.EncodeData(b, false);
  sized.EncodeTrailers(*t);
  EXPECT_EQ(connection_.TakeWritten(),
            "POST /x HTTP/1.1\r\nHost: up\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(Feed("HTTP/1.1 204 No Content\r\n\r\n").ok());
  EXPECT_EQ(events_, std::vector<std::string>({"complete reusable", "complete reusable"}));
}

TEST_F(ClientCodecTest, CloseDelimitedResponseEndsWithTheConnection) {
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\n\r\nsome").ok());
  ASSERT_TRUE(Feed(" more", /*end_stream=*/true).ok());
  EXPECT_EQ(response_.body, "some more");
  EXPECT_EQ(response_.log.back(), "data 5 end");
  EXPECT_EQ(events_, std::vector<std::string>({"complete"}));
}

TEST_F(ClientCodecTest, HeadResponseHasNoBodyButKeepsItsLength) {
  Start(Method::kHead);
  ASSERT_TRUE(Feed("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n").ok());
  EXPECT_EQ(response_.log, std::vector<std::string>({"headers 200 end"}));
  EXPECT_EQ(response_.headers->content_length, std::optional<uint64_t>(42));
  EXPECT_EQ(events_, std::vector<std::string>({"complete reusable"}));
}

TEST_F(ClientCodecTest, InterimAnswersAreDropped) {
  Start();
  ASSERT_TRUE(Feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                  .ok());
  EXPECT_EQ(response_.log, std::vector<std::string>({"headers 200 end"}));
}

TEST_F(ClientCodecTest, CloseBeforeAnyByteIsAConnectionTermination) {
  Start();
  EXPECT_FALSE(Feed("", true).ok());
  EXPECT_EQ(response_.log, std::vector<std::string>(
                               {"reset 0 upstream connect error or disconnect before response"}));
  EXPECT_FALSE(codec_.stream_active());
}

TEST_F(ClientCodecTest, IncompleteHeadThenCloseIsAProtocolError) {
  Start();
  EXPECT_FALSE(Feed("HTTP/1.1 200 O", true).ok());
  EXPECT_EQ(response_.log,
            std::vector<std::string>({"reset 1 upstream sent an incomplete response"}));
}

TEST_F(ClientCodecTest, InvalidResponseIsAProtocolError) {
  Start();
  EXPECT_FALSE(Feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").ok());
  EXPECT_EQ(response_.log, std::vector<std::string>({"reset 1 upstream sent an invalid response"}));
}

TEST_F(ClientCodecTest, UnaskedSwitchIsRefused) {
  Start();
  EXPECT_FALSE(
      Feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n").ok());
  EXPECT_EQ(response_.log,
            std::vector<std::string>({"reset 1 upstream switched protocols without being asked"}));
}

TEST_F(ClientCodecTest, TruncatedBodyResetsAfterForwardingWhatCame) {
  Start();
  EXPECT_FALSE(Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true).ok());
  EXPECT_EQ(response_.log, std::vector<std::string>(
                               {"headers 200", "data 3",
                                "reset 0 upstream closed in the middle of the response body"}));
}

TEST_F(ClientCodecTest, BytesOrCloseWhileIdleEndTheConnection) {
  EXPECT_EQ(Feed("junk").code(), absl::StatusCode::kFailedPrecondition);
  connection_.read_buffer().Clear();
  EXPECT_EQ(Feed("", true).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(response_.log.empty());
}

TEST_F(ClientCodecTest, ResetStreamAndConnectionClose) {
  RequestEncoder& e = Start();
  e.ResetStream();
  EXPECT_EQ(events_, std::vector<std::string>({"local reset"}));
  EXPECT_TRUE(response_.log.empty());  // Our own reset is not reported back.
  Start();
  codec_.OnConnectionClosed("gone");
  EXPECT_EQ(response_.log, std::vector<std::string>({"reset 0 gone"}));
}

TEST_F(ClientCodecTest, UpgradeTunnelCarriesRawBytes) {
  RequestEncoder& e = codec_.NewStream(response_);
  RequestHeaderMapPtr h = NewRequestHeaderMap();
  h->target = "/ws";
  h->upgrade = "websocket";
  e.EncodeHeaders(*h, false);
  EXPECT_EQ(connection_.TakeWritten(),
            "GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_TRUE(Feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: upgrade\r\n\r\nraw")
                  .ok());
  EXPECT_EQ(response_.headers->upgrade, "websocket");
  EXPECT_EQ(response_.body, "raw");
  Buffer b;
  b.Append("up");
  e.EncodeData(b, true);
  EXPECT_EQ(connection_.TakeWritten(), "up");
  EXPECT_TRUE(connection_.write_ended());  // The tunnel's end is a half-close.
  ASSERT_TRUE(Feed("", true).ok());
  EXPECT_EQ(events_, std::vector<std::string>({"complete"}));  // Never reused.
}

}  // namespace
}  // namespace lb::http
