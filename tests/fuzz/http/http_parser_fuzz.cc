// Fuzz target for proxy/http/parser.h: RequestParser, ResponseParser and ChunkedDecoder.
//
// Every input is fed to all three, whole and split into reads at points derived from the input
// (each read in its own exactly-sized heap buffer at a new address, so ASan sees any read past
// the bytes given and the parsers must cope with the buffer moving), and byte by byte for small
// inputs. The outcomes must be identical; views must lie inside the bytes consumed; consumed is
// never more than what was given. Requests that parse are followed through their body
// (Content-Length or chunked) into the next pipelined request.
//
// Runs as an ordinary test through tests/fuzz/http/http_parser_fuzz_test.cc (the corpus in
// tests/fuzz/corpus/http_parser plus deterministic mutations). To fuzz for real with libFuzzer:
//   clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined
//     -fno-sanitize-recover=undefined -I. tests/fuzz/http/http_parser_fuzz.cc
//     proxy/http/parser.cc -labsl_strings -labsl_throw_delegate -o /tmp/http_parser_fuzz
//   mkdir -p /tmp/hp_corpus && cp tests/fuzz/corpus/http_parser/* /tmp/hp_corpus/
//   /tmp/http_parser_fuzz -dict=tests/fuzz/http/http_parser_fuzz.dict -max_len=4096 /tmp/hp_corpus
// A crash writes crash-<sha1>; once fixed, add it to the corpus as a regression input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http/parser.h"

namespace {

using lb::http::BodyFraming;
using lb::http::ChunkedDecoder;
using lb::http::HeadLimits;
using lb::http::Method;
using lb::http::ParseResult;
using lb::http::ParseStatus;
using lb::http::RequestParser;
using lb::http::ResponseParser;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_parser_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

uint64_t Hash(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}

// A copy of the first n bytes in a heap block of exactly n bytes.
std::unique_ptr<char[]> Copy(const char* data, size_t n) {
  std::unique_ptr<char[]> buf(new char[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(buf.get(), data, n);
  return buf;
}

bool Within(absl::string_view v, const char* buf, size_t n) {
  if (v.empty()) return true;
  return v.data() >= buf && v.data() + v.size() <= buf + n;
}

// Everything observable about a parsed head, as owned strings (comparable across buffers).
struct HeadOutcome {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  int error_status = 0;
  std::string error_reason;
  std::string start_line;  // method/target or status/reason
  int version = -1;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<uint64_t> content_length;
  int framing = -1;
  bool keep_alive = false;
  bool flag1 = false, flag2 = false;
  std::string host;
  std::vector<uint16_t> hop_by_hop;

  bool operator==(const HeadOutcome& o) const {
    return status == o.status && consumed == o.consumed && error_status == o.error_status &&
           error_reason == o.error_reason && start_line == o.start_line && version == o.version &&
           headers == o.headers && content_length == o.content_length && framing == o.framing &&
           keep_alive == o.keep_alive && flag1 == o.flag1 && flag2 == o.flag2 && host == o.host &&
           hop_by_hop == o.hop_by_hop;
  }
};

void CheckResult(const ParseResult& r, size_t len) {
  Check(r.consumed <= len, "head consumed <= len");
  if (r.status == ParseStatus::kDone) Check(r.consumed > 0, "done consumes something");
  if (r.status == ParseStatus::kError) {
    Check(r.error_status >= 400 && r.error_status <= 505, "error status is 4xx/5xx");
    Check(!r.error_reason.empty(), "error has a reason");
  }
}

template <typename P>
void CaptureCommon(const P& p, const ParseResult& r, const char* buf, HeadOutcome* o) {
  o->status = r.status;
  o->consumed = r.consumed;
  o->error_status = r.error_status;
  o->error_reason = std::string(r.error_reason);
  if (r.status != ParseStatus::kDone) return;
  o->version = static_cast<int>(p.version());
  for (const auto& h : p.headers()) {
    Check(Within(h.name, buf, r.consumed) && Within(h.value, buf, r.consumed),
          "header views inside the head");
    Check(!h.name.empty(), "header name not empty");
    if (!h.value.empty()) {
      Check(h.value.front() != ' ' && h.value.front() != '\t' && h.value.back() != ' ' &&
                h.value.back() != '\t',
            "header value trimmed");
    }
    o->headers.emplace_back(std::string(h.name), std::string(h.value));
  }
  o->content_length = p.content_length();
  o->framing = static_cast<int>(p.body_framing());
  o->keep_alive = p.keep_alive();
  o->hop_by_hop = p.hop_by_hop();
  for (size_t i = 0; i < o->hop_by_hop.size(); ++i) {
    Check(o->hop_by_hop[i] < o->headers.size(), "hop-by-hop index in range");
    if (i > 0) Check(o->hop_by_hop[i - 1] < o->hop_by_hop[i], "hop-by-hop ascending");
  }
  if (p.body_framing() == BodyFraming::kContentLength) {
    Check(p.content_length().has_value(), "CL framing has a length");
  }
}

HeadOutcome CaptureRequest(const RequestParser& p, const ParseResult& r, const char* buf,
                           size_t len) {
  CheckResult(r, len);
  HeadOutcome o;
  CaptureCommon(p, r, buf, &o);
  if (r.status != ParseStatus::kDone) return o;
  Check(Within(p.method_token(), buf, r.consumed) && Within(p.target(), buf, r.consumed),
        "request-line views inside the head");
  Check(!p.method_token().empty() && !p.target().empty(), "method and target not empty");
  Check(
      p.body_framing() != BodyFraming::kCloseDelimited && p.body_framing() != BodyFraming::kTunnel,
      "requests are never close-delimited");
  if (p.chunked()) Check(!p.content_length().has_value(), "request has CL or TE, not both");
  if (p.version() == lb::http::Version::kHttp11) Check(p.has_host(), "HTTP/1.1 has Host");
  o.start_line = std::string(p.method_token()) + " " + std::string(p.target()) + " " +
                 std::to_string(static_cast<int>(p.method()));
  o.flag1 = p.expect_100_continue();
  o.flag2 = p.upgrade();
  o.host = std::string(p.host());
  return o;
}

HeadOutcome CaptureResponse(const ResponseParser& p, const ParseResult& r, const char* buf,
                            size_t len) {
  CheckResult(r, len);
  if (r.status == ParseStatus::kError) Check(r.error_status == 502, "response errors are 502");
  HeadOutcome o;
  CaptureCommon(p, r, buf, &o);
  if (r.status != ParseStatus::kDone) return o;
  Check(Within(p.reason(), buf, r.consumed), "reason view inside the head");
  Check(p.status_code() >= 100 && p.status_code() <= 999, "status code has 3 digits");
  if (p.body_framing() == BodyFraming::kCloseDelimited) {
    Check(!p.keep_alive(), "close-delimited is not reusable");
  }
  o.start_line = std::to_string(p.status_code()) + " " + std::string(p.reason());
  o.flag1 = p.interim();
  o.flag2 = p.upgrade();
  return o;
}

// Feeds growing prefixes ending at each cut (ascending, last == len), each in a fresh buffer.
template <typename P, typename Capture>
HeadOutcome FeedHead(P* parser, const char* data, size_t len, const std::vector<size_t>& cuts,
                     Capture capture) {
  HeadOutcome last;
  for (size_t cut : cuts) {
    auto buf = Copy(data, cut);
    const ParseResult r = parser->Parse(buf.get(), cut);
    last = capture(*parser, r, buf.get(), cut);
    if (r.status != ParseStatus::kIncomplete) {
      // A finished parser keeps answering the same; ask again with the whole input.
      auto whole = Copy(data, len);
      const ParseResult again = parser->Parse(whole.get(), len);
      Check(capture(*parser, again, whole.get(), len) == last, "finished parser is stable");
      return last;
    }
  }
  return last;
}

// Feeds every prefix in one buffer (byte-by-byte arrival).
template <typename P, typename Capture>
HeadOutcome FeedBytewise(P* parser, const char* data, size_t len, Capture capture) {
  auto buf = Copy(data, len);
  HeadOutcome last;
  for (size_t n = 0; n <= len; ++n) {
    const ParseResult r = parser->Parse(buf.get(), n);
    last = capture(*parser, r, buf.get(), n);
    if (r.status != ParseStatus::kIncomplete) break;
  }
  return last;
}

std::vector<size_t> Cuts(size_t len, uint64_t h, int pieces) {
  std::vector<size_t> cuts;
  if (len == 0) return {0};
  for (int i = 0; i < pieces - 1; ++i) {
    cuts.push_back(static_cast<size_t>(h % (len + 1)));
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
  }
  cuts.push_back(len);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

struct BodyOutcome {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  size_t position = 0;  // total consumed (kDone) or offset of the bad byte (kError)
  std::string payload;
  int error_status = 0;
  std::string error_reason;
  std::string trailers;  // trailer_section() after kDone
  bool operator==(const BodyOutcome& o) const {
    return status == o.status && position == o.position && payload == o.payload &&
           error_status == o.error_status && error_reason == o.error_reason &&
           trailers == o.trailers;
  }
};

// A kept trailer section is within the limit and made of "name:value\r\n" lines.
void CheckTrailerSection(absl::string_view t, const ChunkedDecoder::Limits& limits) {
  Check(t.size() <= limits.max_trailer_bytes, "trailer section within max_trailer_bytes");
  while (!t.empty()) {
    const size_t eol = t.find("\r\n");
    Check(eol != absl::string_view::npos, "trailer lines end with CRLF");
    const absl::string_view line = t.substr(0, eol);
    const size_t colon = line.find(':');
    Check(colon != absl::string_view::npos && colon > 0, "trailer line has a name and a colon");
    Check(line.find('\n') == absl::string_view::npos, "no bare LF in a trailer line");
    t.remove_prefix(eol + 2);
  }
}

// Decodes data[0, len) delivered as pieces ending at each cut, each piece in its own buffer.
BodyOutcome DecodeChunked(const ChunkedDecoder::Limits& limits, const char* data, size_t len,
                          const std::vector<size_t>& cuts) {
  ChunkedDecoder d(limits);
  BodyOutcome o;
  size_t offset = 0;
  for (size_t cut : cuts) {
    Check(cut <= len, "cuts lie within the input");
    if (cut < offset) continue;
    auto piece = Copy(data + offset, cut - offset);
    const char* p = piece.get();
    size_t n = cut - offset;
    while (true) {
      const ChunkedDecoder::Result r = d.Decode(p, n);
      Check(r.consumed <= n, "decoder consumed <= len");
      if (r.status == ChunkedDecoder::Status::kData) {
        Check(!r.payload.empty(), "payload not empty");
        Check(r.payload.data() >= p && r.payload.data() + r.payload.size() == p + r.consumed,
              "payload ends at consumed");
        o.payload.append(r.payload.data(), r.payload.size());
        p += r.consumed;
        n -= r.consumed;
        offset += r.consumed;
        continue;
      }
      if (r.status == ChunkedDecoder::Status::kNeedMore) {
        Check(r.consumed == n, "need-more consumes everything");
        offset += n;
        break;
      }
      o.status = r.status;
      o.position = offset + r.consumed;
      if (r.status == ChunkedDecoder::Status::kError) {
        o.error_status = d.error_status();
        o.error_reason = std::string(d.error_reason());
        Check(o.error_status == 400 || o.error_status == 431, "chunked error status");
      } else {
        Check(d.done(), "done() after kDone");
        o.trailers = std::string(d.trailer_section());
        CheckTrailerSection(o.trailers, limits);
      }
      Check(d.payload_bytes() == o.payload.size(), "payload_bytes counts the payload");
      return o;
    }
  }
  Check(d.payload_bytes() == o.payload.size(), "payload_bytes counts the payload");
  return o;
}

void FuzzChunked(const char* data, size_t len, uint64_t h) {
  ChunkedDecoder::Limits limits;
  if (h & 1) {
    limits.max_chunk_line = 1 + static_cast<uint32_t>((h >> 8) % 24);
    limits.max_trailer_bytes = 1 + static_cast<uint32_t>((h >> 16) % 96);
  }
  const BodyOutcome whole = DecodeChunked(limits, data, len, {len});
  Check(DecodeChunked(limits, data, len, Cuts(len, h, 2)) == whole, "chunked: whole == split");
  Check(DecodeChunked(limits, data, len, Cuts(len, h >> 7, 4)) == whole,
        "chunked: whole == 4 pieces");
  if (len <= 4096) {
    std::vector<size_t> every;
    for (size_t i = 1; i <= len; ++i) every.push_back(i);
    if (every.empty()) every.push_back(0);
    Check(DecodeChunked(limits, data, len, every) == whole, "chunked: whole == bytewise");
  }
}

HeadOutcome FuzzRequestHead(const HeadLimits& limits, const char* data, size_t len, uint64_t h) {
  RequestParser whole_parser(limits);
  const HeadOutcome whole = FeedHead(&whole_parser, data, len, {len}, CaptureRequest);
  RequestParser p(limits);
  Check(FeedHead(&p, data, len, Cuts(len, h, 2), CaptureRequest) == whole,
        "request: whole == split");
  p.Reset();
  Check(FeedHead(&p, data, len, Cuts(len, h >> 5, 5), CaptureRequest) == whole,
        "request: whole == 5 pieces");
  if (len <= 8192) {
    p.Reset();
    Check(FeedBytewise(&p, data, len, CaptureRequest) == whole, "request: whole == bytewise");
  }
  return whole;
}

// Parses pipelined requests with their bodies.
void FuzzRequests(const HeadLimits& limits, const char* data, size_t len, uint64_t h) {
  size_t offset = 0;
  for (int i = 0; i < 8 && offset < len; ++i) {
    RequestParser p(limits);
    const HeadOutcome head = FuzzRequestHead(limits, data + offset, len - offset, h + i);
    if (head.status != ParseStatus::kDone) return;
    offset += head.consumed;
    if (head.framing == static_cast<int>(BodyFraming::kContentLength)) {
      if (*head.content_length > len - offset) return;
      offset += static_cast<size_t>(*head.content_length);
    } else if (head.framing == static_cast<int>(BodyFraming::kChunked)) {
      const BodyOutcome body = DecodeChunked({}, data + offset, len - offset, {len - offset});
      if (body.status != ChunkedDecoder::Status::kDone) return;
      offset += body.position;
    }
  }
}

void FuzzResponse(const HeadLimits& limits, const char* data, size_t len, uint64_t h) {
  static constexpr Method kMethods[] = {Method::kGet, Method::kHead, Method::kConnect,
                                        Method::kPost};
  const Method method = kMethods[(h >> 3) % 4];
  ResponseParser whole_parser(limits);
  whole_parser.Reset(method);
  const HeadOutcome whole = FeedHead(&whole_parser, data, len, {len}, CaptureResponse);
  ResponseParser p(limits);
  p.Reset(method);
  Check(FeedHead(&p, data, len, Cuts(len, h, 3), CaptureResponse) == whole,
        "response: whole == split");
  if (len <= 8192) {
    p.Reset(method);
    Check(FeedBytewise(&p, data, len, CaptureResponse) == whole, "response: whole == bytewise");
  }
  // An interim response is followed by another head.
  if (whole.status == ParseStatus::kDone && whole.flag1 && whole.consumed < len) {
    FuzzResponse(limits, data + whole.consumed, len - whole.consumed, h + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size > 256 * 1024) return 0;
  const char* data = reinterpret_cast<const char*>(bytes);
  const uint64_t h = Hash(bytes, size);
  const HeadLimits defaults;
  HeadLimits small;
  small.max_header_bytes = 16 + static_cast<uint32_t>(h % 300);
  small.max_headers = static_cast<uint32_t>((h >> 12) % 6);

  FuzzRequests(defaults, data, size, h);
  FuzzRequestHead(small, data, size, h >> 1);
  FuzzResponse(defaults, data, size, h);
  FuzzResponse(small, data, size, h >> 2);
  FuzzChunked(data, size, h);
  return 0;
}
