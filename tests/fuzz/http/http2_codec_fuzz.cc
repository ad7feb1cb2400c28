// Fuzz target for proxy/http/http2_codec.h (the HTTP/2 server codec on nghttp2).
//
// Input: byte 0 picks how the server side behaves (bit 0: answer each request at once with a
// body, bit 1: pause every stream's body, bit 2: end answers with trailers, bit 3: feed the
// input in 7-byte pieces, bit 4: the connection's write buffer is above its watermark); the
// rest follows the HTTP/2 client preface (prepended unless the input starts with "PRI").
// Invariants, for every input:
//  - no more streams are open than the concurrency limit (8 here);
//  - every request handed on can be written as HTTP/1: the target has no control, space or
//    DEL byte, field names and values no CR, LF or NUL, and each field is one CRLF line;
//  - what the codec writes is a sequence of whole HTTP/2 frames;
//  - once Dispatch() failed, it keeps failing and nothing more is handed on.
// Runs as an ordinary test through http2_codec_fuzz_test.cc. For a real libFuzzer run:
//   clang++ -std=c++17 -fsanitize=fuzzer,address -I. tests/fuzz/http/http2_codec_fuzz.cc
//     proxy/http/{http2_codec,http2_common,header_map,parser}.cc proxy/event/buffer.cc
//     -labsl_strings -lnghttp2 -levent   (one command line)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/http/http2_codec.h"
#include "proxy/http/http2_common.h"
#include "tests/test_common/proxy/fake_connection.h"

namespace {

using lb::http::HeaderMap;
using lb::proxy::event::Buffer;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http2_codec_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool Http1Safe(absl::string_view s, bool allow_space) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\0') return false;
    if (!allow_space && (u <= 0x20 || u == 0x7f)) return false;
  }
  return true;
}

void CheckMap(const HeaderMap& map) {
  map.ForEach([](const HeaderMap::Field& f) {
    Check(!f.name.empty() && Http1Safe(f.name, false), "field name");
    Check(Http1Safe(f.value, true), "field value");
  });
  std::string lines;
  map.AppendHttp1(&lines);
  size_t crlf = 0;
  for (size_t at = lines.find("\r\n"); at != std::string::npos; at = lines.find("\r\n", at + 2)) {
    ++crlf;
  }
  Check(crlf == map.size(), "one line per field");
}

class Server : public lb::http::ServerCodecCallbacks {
 public:
  class Stream : public lb::http::RequestDecoder, public lb::http::StreamCallbacks {
   public:
    Stream(Server& server, lb::http::ResponseEncoder& encoder)
        : server_(server), encoder_(encoder) {
      encoder.SetCallbacks(this);
    }
    void DecodeHeaders(lb::http::RequestHeaderMapPtr headers, bool) override {
      Check(!server_.failed, "request after failure");
      Check(Http1Safe(headers->target, false) || headers->method == lb::http::Method::kConnect,
            "target");
      Check(headers->method != lb::http::Method::kConnect, "CONNECT handed on");
      CheckMap(*headers);
      if (server_.options & 2) encoder_.ReadDisable(true);
      if (server_.options & 1) Answer();
    }
    void DecodeData(Buffer& data, bool) override { data.Clear(); }
    void DecodeTrailers(lb::http::RequestHeaderMapPtr trailers) override { CheckMap(*trailers); }
    void OnStreamReset(lb::http::StreamResetReason, absl::string_view) override { done_ = true; }
    void OnAboveWriteBufferHighWatermark() override {}
    void OnBelowWriteBufferLowWatermark() override {}

   private:
    void Answer() {
      if (done_) return;
      done_ = true;
      lb::http::ResponseHeaderMap head;
      head.status = 200;
      head.Add("X-Fuzz", "1");
      encoder_.EncodeHeaders(head, false);
      Buffer body;
      body.Append(std::string(100, 'b'));
      if (server_.options & 4) {
        encoder_.EncodeData(body, false);
        lb::http::ResponseHeaderMap trailers;
        trailers.Add("grpc-status", "0");
        encoder_.EncodeTrailers(trailers);
      } else {
        encoder_.EncodeData(body, true);
      }
    }

    Server& server_;
    lb::http::ResponseEncoder& encoder_;
    bool done_ = false;
  };

  lb::http::RequestDecoder& NewStream(lb::http::ResponseEncoder& encoder) override {
    streams.push_back(std::make_unique<Stream>(*this, encoder));
    return *streams.back();
  }

  uint8_t options = 0;
  bool failed = false;
  std::vector<std::unique_ptr<Stream>> streams;
};

void CheckFrames(const std::string& out) {
  size_t at = 0;
  while (at + 9 <= out.size()) {
    const size_t len = (static_cast<size_t>(static_cast<uint8_t>(out[at])) << 16) |
                       (static_cast<size_t>(static_cast<uint8_t>(out[at + 1])) << 8) |
                       static_cast<uint8_t>(out[at + 2]);
    at += 9 + len;
  }
  Check(at == out.size(), "whole frames out");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Server server;
  server.options = data[0];
  lb::testing::FakeConnection connection;
  lb::http::Http2Settings settings;
  settings.max_concurrent_streams = 8;
  settings.max_header_list_bytes = 4096;
  lb::http::Http2Stats stats;
  int64_t now = 0;
  lb::http::Http2ServerCodec codec(connection, server, settings, &stats,
                                   [&now] { return absl::Seconds(now++); });
  if (server.options & 16) codec.OnUnderlyingConnectionAboveWriteBufferHighWatermark();
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (input.compare(0, 3, "PRI") != 0) input = std::string(lb::http::kHttp2Preface) + input;
  const size_t piece = (server.options & 8) ? 7 : input.size();
  for (size_t at = 0; at < input.size(); at += piece) {
    connection.read_buffer().Append(absl::string_view(input).substr(at, piece));
    const bool ok = codec.Dispatch(connection.read_buffer(), false).ok();
    Check(!server.failed || !ok, "failure is final");
    if (!ok) server.failed = true;
    Check(codec.active_streams() <= settings.max_concurrent_streams, "stream limit");
  }
  if (server.options & 16) codec.OnUnderlyingConnectionBelowWriteBufferLowWatermark();
  CheckFrames(connection.TakeWritten());
  return 0;
}
