// HTTP/1.x message-head parsers and a chunked-body decoder for the proxy's data path.
//
// Zero-copy: every string_view handed out points into the caller's buffer. Incremental: the
// caller keeps the bytes received so far in one contiguous buffer and calls Parse() again after
// each read; the parser remembers how far it got, so feeding a head byte by byte costs O(n) in
// total. No allocation on the hot path: the header vectors keep their capacity across Reset().
//
// Strict against request smuggling; every refusal comes with the HTTP status the proxy answers
// with (ResponseParser: always 502, since the peer that sent the bad bytes is the upstream).
//
// Threading: a parser object is not synchronized; use one per connection (or per worker).
//
// Decisions worth knowing (all covered by tests/proxy/http/parser_test.cc):
//  - Line endings must be CRLF. A bare LF or a CR not followed by LF anywhere in the head is a
//    400. So is obs-fold (a header line starting with SP/HTAB).
//  - Empty lines (CRLF) before the request line are skipped (RFC 9112 2.2); they count towards
//    the header-section size limit.
//  - An error inside a line is reported once that line's LF has arrived (or the size limit is
//    reached). This makes the outcome independent of how the input was split into reads.
//  - Bytes beyond HeadLimits::max_header_bytes are never looked at: a head that has not ended
//    within that many bytes is a 431, as is one with more than max_headers header lines.
//  - HTTP versions other than HTTP/1.0 and HTTP/1.1 (including HTTP/1.2 and HTTP/2.0) are a
//    505; a malformed version ("HTTP/1.10", "http/1.1") is a 400.
//  - Request Transfer-Encoding: a list whose final coding is not "chunked", "chunked" applied
//    twice, "chunked" with parameters, or any Transfer-Encoding in an HTTP/1.0 request is a 400.
//    A well-formed list ending in chunked that also names another coding ("gzip, chunked") is a
//    501: the proxy does not implement forwarding extra transfer codings. Content-Length together
//    with Transfer-Encoding is a 400.
//  - Header names that would be Content-Length or Transfer-Encoding if '_' were '-'
//    ("Transfer_Encoding") are a 400: some upstreams normalize them, which would be a smuggling
//    channel.
//  - Content-Length: 1*DIGIT, at most 2^63-1; a list ("5, 5") or repeated field is accepted only
//    when every value is the same.
//  - Connection options that name Host or Content-Length are not treated as hop-by-hop (removing
//    them when forwarding would change the message's meaning); more than 32 distinct other
//    options is a 400.
//  - Request-target: visible ASCII only, no '#'. Origin-form ("/..."), absolute-form
//    ("scheme://authority..."), authority-form ("host:port", CONNECT only) and asterisk-form
//    ("*", OPTIONS only); anything else is a 400.
#ifndef LB_PROXY_HTTP_PARSER_H_
#define LB_PROXY_HTTP_PARSER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace lb::http {

// Request methods the proxy treats specially or sees often; anything else is kOther and its
// text is available from RequestParser::method_token().
enum class Method : uint8_t {
  kOther,
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kConnect,
  kOptions,
  kTrace,
  kPatch,
};

// "GET", "HEAD", ...; "" for kOther.
absl::string_view MethodName(Method method);

enum class Version : uint8_t { kHttp10, kHttp11 };

// How the body that follows a parsed head is delimited.
enum class BodyFraming : uint8_t {
  kNone,            // No body (requests without CL/TE, HEAD/1xx/204/304 responses, CL: 0 too).
  kContentLength,   // Exactly content_length() bytes.
  kChunked,         // Chunked coding: feed the bytes after the head to a ChunkedDecoder.
  kCloseDelimited,  // Responses only: body runs until the upstream closes (not reusable).
  kTunnel,          // Responses only: 101 Switching Protocols or 2xx to CONNECT; raw bytes.
};

// One header field line. Both views point into the caller's buffer; `value` has leading and
// trailing OWS (SP/HTAB) removed and may be empty.
struct Header {
  absl::string_view name;
  absl::string_view value;
};

enum class ParseStatus : uint8_t { kIncomplete, kDone, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  // kDone: length of the head in bytes (leading empty lines, start line, header lines and the
  // final CRLF). The body, or the next pipelined message, starts at data + consumed.
  size_t consumed = 0;
  // kError: the status code to answer with (400, 431, 501, 505; 502 from ResponseParser).
  int error_status = 0;
  // kError: a short static description, suitable for logs and error bodies.
  absl::string_view error_reason;

  bool done() const { return status == ParseStatus::kDone; }
  bool error() const { return status == ParseStatus::kError; }
  bool incomplete() const { return status == ParseStatus::kIncomplete; }
};

struct HeadLimits {
  // Head larger than this: 431. Envoy's default (60 KiB).
  uint32_t max_header_bytes = 60 * 1024;
  // More header lines than this: 431. At most 65535.
  uint32_t max_headers = 100;
};

// ASCII case-insensitive equality (header names, tokens).
bool EqualsIgnoreCase(absl::string_view a, absl::string_view b);

// First header whose name equals `name` case-insensitively, or nullptr.
const Header* FindHeader(absl::Span<const Header> headers, absl::string_view name);

// True if the comma-separated list `list` (e.g. a Connection value) has an element equal to
// `token` case-insensitively. Empty elements and OWS around elements are ignored.
bool ListHasToken(absl::string_view list, absl::string_view token);

namespace internal {

// State and machinery shared by RequestParser and ResponseParser. Not for direct use.
class HeadParserBase {
 public:
  HeadParserBase(const HeadParserBase&) = delete;
  HeadParserBase& operator=(const HeadParserBase&) = delete;

  // All accessors below are meaningful once Parse() returned kDone, and the views stay valid
  // while the caller's buffer holds the bytes given to the last Parse() call.
  Version version() const { return version_; }
  const std::vector<Header>& headers() const { return headers_; }
  const Header* FindHeader(absl::string_view name) const;
  // Frees the header index (an idle keep-alive connection keeps no heap); the next Parse()
  // allocates it again. Only between messages (after a reset).
  void ReleaseMemory() {
    std::vector<Header>().swap(headers_);
    std::vector<uint16_t>().swap(hop_by_hop_);
  }
  // The Content-Length value if the head had one (for responses also when the framing ignores
  // it, e.g. HEAD or 304, so the proxy can forward it).
  std::optional<uint64_t> content_length() const {
    return has_content_length_ ? std::optional<uint64_t>(content_length_) : std::nullopt;
  }
  bool chunked() const { return framing_ == BodyFraming::kChunked; }
  BodyFraming body_framing() const { return framing_; }
  // Whether the connection may carry another message after this one.
  bool keep_alive() const { return keep_alive_; }
  // Indexes into headers(), ascending, of the fields a proxy must not forward: Connection,
  // Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and every field
  // named as a Connection option (except Host and Content-Length).
  const std::vector<uint16_t>& hop_by_hop() const { return hop_by_hop_; }
  bool IsHopByHop(size_t index) const;

 protected:
  enum class State : uint8_t { kStartLine, kHeaders, kDone, kError };
  enum class Line : uint8_t { kOk, kEndOfHead, kIncomplete, kError };

  explicit HeadParserBase(const HeadLimits& limits);
  ~HeadParserBase() = default;

  void ResetBase();
  // Before parsing: the header index is there (ReleaseMemory() may have freed it).
  void Reserve() {
    if (headers_.capacity() == 0) headers_.reserve(std::min<uint32_t>(limits_.max_headers, 32));
  }
  // Moves the stored views when the caller's buffer moved; returns the shift to apply to the
  // derived class's own views.
  uintptr_t Rebase(const char* data);
  static void Shift(absl::string_view* view, uintptr_t delta);

  // Returns true if parsing can go on from pos_; false if the line being resumed still has no
  // LF (the result is then in result_).
  bool Resume(const char* data, size_t len, size_t end);
  // Parses header lines from pos_ up to the end of the head.
  Line ParseHeaderLines(const char* data, size_t end);
  // Records the head's end after the final CRLF.
  void SetDone(size_t consumed);
  // Records an error found at `at`; if no LF follows within [at, end) the line is not complete
  // yet and the error is deferred (kIncomplete). Returns kError or kIncomplete.
  Line LineError(const char* data, size_t at, size_t end, int status, const char* reason);
  Line Incomplete(size_t end);
  void Fail(int status, const char* reason);
  // Turns an incomplete outcome into the final result for this call (431 at the size limit).
  const ParseResult& IncompleteResult(size_t len);
  // Fills hop_by_hop_ with the fields named by Connection options.
  bool AddConnectionNominated();

  HeadLimits limits_;
  bool request_ = false;  // Request-only checks (Host, Expect) apply.
  State state_ = State::kStartLine;
  Version version_ = Version::kHttp11;
  BodyFraming framing_ = BodyFraming::kNone;
  bool keep_alive_ = false;

  // Per-head facts collected while the header lines are parsed.
  bool has_content_length_ = false;
  bool te_present_ = false;
  bool te_last_chunked_ = false;
  bool te_other_coding_ = false;
  uint8_t te_chunked_count_ = 0;
  bool conn_close_ = false;
  bool conn_keep_alive_ = false;
  bool conn_upgrade_ = false;
  bool conn_other_ = false;
  bool expect_continue_ = false;
  bool upgrade_header_ = false;
  uint8_t host_count_ = 0;
  uint64_t content_length_ = 0;
  absl::string_view host_;

  const char* base_ = nullptr;  // Buffer given to the last Parse() call.
  uint32_t pos_ = 0;            // Start of the first line not parsed yet.
  uint32_t scan_ = 0;           // Known to hold no LF in [pos_, scan_) when scan_ > pos_.
  ParseResult result_;
  std::vector<Header> headers_;
  std::vector<uint16_t> hop_by_hop_;

 private:
  Line ParseHeaderLine(const char* data, size_t end);
  // Applies the meaning of the header just added; false (with result_ set) on a bad value.
  bool OnHeader();
};

}  // namespace internal

// Parses a request head (request line and header section).
//
// Usage: keep the bytes read from the client in one contiguous buffer; after each read call
// Parse(buffer, bytes_so_far). The buffer may move between calls (e.g. grow by reallocation) as
// long as it holds the same bytes at the same offsets. kIncomplete: read more and call again.
// kDone: the head ends at result.consumed; handle the body per body_framing(), then Reset() and
// parse the next pipelined request from the bytes after it. kError: answer result.error_status
// and close; further Parse() calls return the same error.
class RequestParser : public internal::HeadParserBase {
 public:
  explicit RequestParser(const HeadLimits& limits = HeadLimits());

  ParseResult Parse(const char* data, size_t len);
  ParseResult Parse(absl::string_view data) { return Parse(data.data(), data.size()); }

  // Forgets the current request; keeps the limits and the vectors' capacity.
  void Reset();

  Method method() const { return method_; }
  absl::string_view method_token() const { return method_token_; }
  absl::string_view target() const { return target_; }
  // The Host field's value ("" when absent; HTTP/1.1 requires it, HTTP/1.0 does not). For an
  // absolute-form target the authority in target() is the one to use (RFC 9112 3.2.2).
  absl::string_view host() const { return host_; }
  bool has_host() const { return host_count_ != 0; }
  // HTTP/1.1 request with "Expect: 100-continue" (ignored for HTTP/1.0, per RFC 9110 10.1.1).
  bool expect_100_continue() const { return expect_100_continue_; }
  // HTTP/1.1 request with an Upgrade field and the "upgrade" Connection option.
  bool upgrade() const { return upgrade_; }

 private:
  Line ParseRequestLine(const char* data, size_t end);
  bool Finish();

  Method method_ = Method::kOther;
  bool expect_100_continue_ = false;
  bool upgrade_ = false;
  absl::string_view method_token_;
  absl::string_view target_;
};

// Parses an upstream response head (status line and header section), with the same usage and
// strictness as RequestParser; every error has error_status 502.
//
// After an interim response (interim() is true: 100 Continue, 102, 103) the final response
// follows at data + consumed: Reset() with the same request method and parse on.
class ResponseParser : public internal::HeadParserBase {
 public:
  explicit ResponseParser(const HeadLimits& limits = HeadLimits());

  ParseResult Parse(const char* data, size_t len);
  ParseResult Parse(absl::string_view data) { return Parse(data.data(), data.size()); }

  // Starts over for the response to a request with `request_method` (HEAD responses have no
  // body; 2xx answers to CONNECT are tunnels).
  void Reset(Method request_method = Method::kGet);

  int status_code() const { return status_code_; }
  absl::string_view reason() const { return reason_; }
  // 1xx other than 101: another response head follows.
  bool interim() const { return status_code_ >= 100 && status_code_ < 200 && status_code_ != 101; }
  // 101 Switching Protocols, or 2xx to CONNECT: the connection becomes a tunnel.
  bool upgrade() const { return framing_ == BodyFraming::kTunnel; }

 private:
  Line ParseStatusLine(const char* data, size_t end);
  bool Finish();

  Method request_method_ = Method::kGet;
  int status_code_ = 0;
  absl::string_view reason_;
};

// Decodes a chunked message body incrementally without copying it.
//
// Feed it the bytes that follow the head, in order, as they arrive. Each Decode() call looks at
// data[0, len) and returns one of:
//   kData:     data[0, consumed) holds framing and then the payload bytes `payload` (which end at
//              data + consumed). Call again with the rest of the input.
//   kNeedMore: all len bytes were framing (or part of a chunk-size line, a trailer, ...) and are
//              consumed; call again when more bytes arrive.
//   kDone:     the message ends at data + consumed (after the last chunk, trailers and the final
//              CRLF); anything after belongs to the next message.
//   kError:    data[consumed] is the offending byte; error_status()/error_reason() say why.
// To forward as-is, send data[0, consumed) after every call; to re-chunk, send each payload.
// The decoder validates chunk-size lines (hex digits only, no sign, no whitespace, strict CRLF,
// no overflow past 2^63-1, at most max_chunk_line bytes including extensions), extensions
// (visible characters, SP and HTAB after ';'), the CRLF after chunk data, and the trailer
// section (header-line syntax, at most max_trailer_bytes). The trailer section is kept (a copy
// of at most max_trailer_bytes, only when the body has one) for trailer_section().
class ChunkedDecoder {
 public:
  struct Limits {
    uint32_t max_chunk_line = 4096;
    uint32_t max_trailer_bytes = 16 * 1024;
  };
  enum class Status : uint8_t { kNeedMore, kData, kDone, kError };
  struct Result {
    Status status = Status::kNeedMore;
    size_t consumed = 0;
    absl::string_view payload;  // kData only; never empty then.
  };

  ChunkedDecoder() : ChunkedDecoder(Limits()) {}
  explicit ChunkedDecoder(const Limits& limits) : limits_(limits) {}

  Result Decode(const char* data, size_t len);
  Result Decode(absl::string_view data) { return Decode(data.data(), data.size()); }

  // Starts a new body; keeps the limits.
  void Reset();

  bool done() const { return state_ == State::kDone; }
  // Payload bytes delivered so far.
  uint64_t payload_bytes() const { return payload_bytes_; }
  // Chunks seen so far, not counting the last (zero-size) chunk.
  uint64_t chunks() const { return chunks_; }
  // After kDone: the trailer field lines as received, each with its CRLF (syntax checked
  // above; "" when there were none). Valid until the next Reset() or Decode().
  absl::string_view trailer_section() const { return trailers_; }
  // After kError: the status to answer (400; 431 for oversized trailers) and why.
  int error_status() const { return error_status_; }
  absl::string_view error_reason() const { return error_reason_; }

 private:
  enum class State : uint8_t {
    kSizeStart,
    kSize,
    kExtension,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailerName,
    kTrailerValue,
    kTrailerLf,
    kFinalLf,
    kDone,
    kError,
  };
  Result Fail(size_t at, int status, const char* reason);
  bool InTrailers() const {
    return state_ == State::kTrailerStart || state_ == State::kTrailerName ||
           state_ == State::kTrailerValue || state_ == State::kTrailerLf;
  }

  Limits limits_;
  State state_ = State::kSizeStart;
  uint32_t line_bytes_ = 0;
  uint32_t trailer_bytes_ = 0;
  uint64_t size_ = 0;
  uint64_t remaining_ = 0;
  uint64_t payload_bytes_ = 0;
  uint64_t chunks_ = 0;
  int error_status_ = 0;
  absl::string_view error_reason_;
  std::string trailers_;  // The trailer section so far; keeps its capacity across Reset().
};

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_PARSER_H_
