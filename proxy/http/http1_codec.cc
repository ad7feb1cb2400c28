#include "proxy/http/http1_codec.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/http/reason_phrase.h"

namespace lb::http {
namespace {

// Copies a parsed head into `map`, leaving out the hop-by-hop fields and Content-Length (the
// codecs own framing). Returns the Upgrade field's value, as a view into the map.
template <typename Parser>
absl::string_view FillFields(const Parser& p, absl::string_view head, HeaderMap& map) {
  map.AssignRaw(head);
  const std::vector<Header>& headers = p.headers();
  const std::vector<uint16_t>& hop = p.hop_by_hop();  // Ascending.
  size_t next_hop = 0;
  absl::string_view upgrade;
  // The parser guarantees adjacent CRLF-terminated lines (no obs-fold): a field's line ends
  // where the next one's name starts, the last one's before the head's final CRLF.
  const char* head_end = head.data() + head.size() - 2;
  for (size_t i = 0; i < headers.size(); ++i) {
    const Header& h = headers[i];
    if (next_hop < hop.size() && hop[next_hop] == i) {
      ++next_hop;
      if (EqualsIgnoreCase(h.name, "upgrade")) upgrade = h.value;
      continue;
    }
    if (h.name.size() == 14 && EqualsIgnoreCase(h.name, "content-length")) continue;
    const char* end = i + 1 < headers.size() ? headers[i + 1].name.data() : head_end;
    map.AddRaw(h.name, h.value,
               absl::string_view(h.name.data(), static_cast<size_t>(end - h.name.data())));
  }
  return map.Translate(upgrade);
}

// "HTTP/1.1 SSS reason\r\n" (status 100-999).
void AppendStatusLine(int status, absl::string_view reason, std::string* out) {
  char line[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', 0, 0, 0, ' '};
  line[9] = static_cast<char>('0' + status / 100 % 10);
  line[10] = static_cast<char>('0' + status / 10 % 10);
  line[11] = static_cast<char>('0' + status % 10);
  out->append(line, sizeof(line));
  out->append(reason.data(), reason.size());
  out->append("\r\n", 2);
}

// Moves the payload of chunked bytes at the front of `in` to `out`, as far as they go.
// Returns the decoder's last result (kDone: the body ended; kError: bad framing).
ChunkedDecoder::Status Dechunk(ChunkedDecoder& decoder, proxy::event::Buffer& in,
                               proxy::event::Buffer& out) {
  while (!in.empty()) {
    absl::string_view chunk = in.FirstChunk();
    ChunkedDecoder::Result r = decoder.Decode(chunk.data(), chunk.size());
    switch (r.status) {
      case ChunkedDecoder::Status::kError:
        return r.status;
      case ChunkedDecoder::Status::kNeedMore:
        in.Drain(r.consumed);
        break;
      case ChunkedDecoder::Status::kData:
        in.Drain(r.consumed - r.payload.size());
        out.MoveFrom(in, r.payload.size());
        break;
      case ChunkedDecoder::Status::kDone:
        in.Drain(r.consumed);
        return r.status;
    }
  }
  return ChunkedDecoder::Status::kNeedMore;
}

// Trailer sections get the limits of heads (bytes; fields are counted by the codecs).
ChunkedDecoder::Limits ChunkLimits(const HeadLimits& head) {
  ChunkedDecoder::Limits limits;
  limits.max_trailer_bytes = head.max_header_bytes;
  return limits;
}

// Appends `data` (moved) to `out` as one chunk.
void AppendChunk(proxy::event::Buffer& data, proxy::event::Buffer& out) {
  if (data.empty()) return;
  out.Append(absl::StrCat(absl::Hex(data.size()), "\r\n"));
  out.MoveAllFrom(data);
  out.Append("\r\n");
}

}  // namespace

// --- Server ---------------------------------------------------------------------------------

Http1ServerCodec::Http1ServerCodec(proxy::network::Connection& connection,
                                   ServerCodecCallbacks& callbacks, std::function<void()> resume,
                                   const Http1Settings& settings)
    : connection_(connection),
      callbacks_(callbacks),
      resume_(std::move(resume)),
      parser_(settings.head_limits),
      max_head_(settings.head_limits.max_header_bytes),
      max_trailer_fields_(settings.head_limits.max_headers),
      chunks_(ChunkLimits(settings.head_limits)) {}

absl::Status Http1ServerCodec::Dispatch(proxy::event::Buffer& data, bool end_stream) {
  if (end_stream && !peer_ended_) {
    peer_ended_ = true;
    keep_alive_ = false;  // Answer what is in progress, then close.
  }
  while (true) {
    switch (state_) {
      case State::kHead: {
        if (data.empty()) return absl::OkStatus();
        absl::Status s = DispatchHead(data);
        if (!s.ok() || partial_head_) return s;
        break;  // Go on with the body, or the next pipelined request.
      }
      case State::kBody: {
        absl::Status s = DispatchBody(data);
        if (!s.ok() || state_ == State::kBody) return s;  // Error, or waiting for bytes.
        break;
      }
      case State::kTunnel:
        if (!data.empty() || (peer_ended_ && !tunnel_in_ended_)) {
          body_.MoveAllFrom(data);
          tunnel_in_ended_ = peer_ended_;
          decoder_->DecodeData(body_, tunnel_in_ended_);
        }
        return absl::OkStatus();
      case State::kRequestDone:
        // The client closed while its answer is in progress: like nginx and Envoy, an HTTP/1
        // half-close is taken as the client leaving, and the stream is reset (the upstream
        // request with it) instead of waiting on an upstream for nobody.
        if (peer_ended_ && stream_open_) {
          stream_open_ = false;
          state_ = State::kClosed;
          if (stream_callbacks_ != nullptr) {
            stream_callbacks_->OnStreamReset(StreamResetReason::kConnectionTermination,
                                             "client closed the connection");
          }
        }
        return absl::OkStatus();
      case State::kClosed:
        return absl::OkStatus();
    }
  }
}

absl::Status Http1ServerCodec::DispatchHead(proxy::event::Buffer& data) {
  size_t len = std::min(data.size(), max_head_ + 1);
  const char* bytes = data.Linearize(len);
  ParseResult r = parser_.Parse(bytes, len);
  if (r.incomplete()) {
    partial_head_ = true;
    return absl::OkStatus();
  }
  partial_head_ = false;
  if (r.error()) {
    StartStream();  // The error is answered on a stream of its own.
    Fail(r.error_status, r.error_reason);
    return absl::InvalidArgumentError(r.error_reason);
  }
  RequestHeaderMapPtr headers = NewRequestHeaderMap();
  absl::string_view head(bytes, r.consumed);
  absl::string_view upgrade = FillFields(parser_, head, *headers);
  headers->method = parser_.method();
  headers->method_token = headers->Translate(parser_.method_token());
  headers->target = headers->Translate(parser_.target());
  headers->host = headers->Translate(parser_.host());
  headers->has_host = parser_.has_host();
  headers->version = parser_.version();
  headers->expect_100_continue = parser_.expect_100_continue();
  // "Upgrade: h2c" is not offered (h2c is taken with prior knowledge only, as Envoy does by
  // default): the request is answered as plain HTTP/1.1, the Upgrade dropped as hop-by-hop.
  const bool tunnel = parser_.upgrade() && !EqualsIgnoreCase(upgrade, "h2c");
  if (tunnel) headers->upgrade = upgrade;
  body_framing_ = parser_.body_framing();
  if (body_framing_ != BodyFraming::kChunked) headers->content_length = parser_.content_length();
  body_remaining_ =
      body_framing_ == BodyFraming::kContentLength ? parser_.content_length().value_or(0) : 0;
  if (body_framing_ == BodyFraming::kChunked) chunks_.Reset();
  http10_ = parser_.version() == Version::kHttp10;
  keep_alive_ = parser_.keep_alive() && !peer_ended_;
  head_request_ = parser_.method() == Method::kHead;
  upgrade_requested_ = tunnel;
  // RFC 9110 10.1.4: trailer fields go to a client only if it said it takes them.
  const Header* te = parser_.FindHeader("te");
  te_trailers_ = te != nullptr && ListHasToken(te->value, "trailers");
  data.Drain(r.consumed);  // `head` and the parser's views are gone from here on.

  StartStream();
  bool end = body_framing_ == BodyFraming::kNone ||
             (body_framing_ == BodyFraming::kContentLength && body_remaining_ == 0);
  state_ = end ? State::kRequestDone : State::kBody;
  decoder_->DecodeHeaders(std::move(headers), end);
  return absl::OkStatus();
}

absl::Status Http1ServerCodec::DispatchBody(proxy::event::Buffer& data) {
  bool done = false;
  if (body_framing_ == BodyFraming::kContentLength) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(body_remaining_, data.size()));
    body_.MoveFrom(data, n);
    body_remaining_ -= n;
    done = body_remaining_ == 0;
  } else {
    ChunkedDecoder::Status s = Dechunk(chunks_, data, body_);
    if (s == ChunkedDecoder::Status::kError) {
      body_.Clear();
      Fail(chunks_.error_status(), chunks_.error_reason());
      return absl::InvalidArgumentError(chunks_.error_reason());
    }
    done = s == ChunkedDecoder::Status::kDone;
  }
  if (!done && peer_ended_ && data.empty()) {
    // The client half-closed in the middle of its body: the request can never complete.
    body_.Clear();
    state_ = State::kClosed;
    stream_open_ = false;
    if (stream_callbacks_ != nullptr) {
      stream_callbacks_->OnStreamReset(StreamResetReason::kConnectionTermination,
                                       "client closed before the request body ended");
    }
    return absl::OkStatus();
  }
  if (body_.empty() && !done) return absl::OkStatus();
  RequestHeaderMapPtr trailers;
  if (done && !chunks_.trailer_section().empty()) {
    trailers = NewRequestHeaderMap();
    if (!ParseTrailerSection(chunks_.trailer_section(), max_trailer_fields_, *trailers)) {
      body_.Clear();
      Fail(431, "too many trailer fields");
      return absl::InvalidArgumentError("too many trailer fields");
    }
    if (trailers->size() == 0) trailers.reset();  // All dropped: a plain end.
  }
  if (done) state_ = State::kRequestDone;
  if (trailers == nullptr) {
    decoder_->DecodeData(body_, done);
    return absl::OkStatus();
  }
  if (!body_.empty()) {
    decoder_->DecodeData(body_, false);
    if (!stream_open_) return absl::OkStatus();  // Answered or reset from inside.
  }
  decoder_->DecodeTrailers(std::move(trailers));
  return absl::OkStatus();
}

void Http1ServerCodec::StartStream() {
  stream_open_ = true;
  tunnel_in_ended_ = false;
  response_started_ = false;
  chunked_out_ = false;
  no_body_out_ = false;
  stream_callbacks_ = nullptr;
  decoder_ = &callbacks_.NewStream(*this);
}

void Http1ServerCodec::Fail(int status, absl::string_view reason) {
  error_ = {status, reason};
  state_ = State::kClosed;
}

void Http1ServerCodec::AbortRequest() {
  partial_head_ = false;
  StartStream();
  Fail(408, "request headers not received in time");
}

void Http1ServerCodec::ResetStream() {
  stream_open_ = false;
  stream_callbacks_ = nullptr;
  state_ = State::kClosed;
}

void Http1ServerCodec::Encode100Continue() {
  if (http10_ || response_started_) return;
  connection_.Write("HTTP/1.1 100 Continue\r\n\r\n");
}

void Http1ServerCodec::EncodeHeaders(const ResponseHeaderMap& headers, bool end_stream) {
  response_started_ = true;
  const bool tunnel = headers.status == 101 && upgrade_requested_ && !headers.upgrade.empty();
  // The connection ends after this answer when asked to, after a tunnel, when the input is
  // unusable, and when the request's body has not been read to its end.
  if (close_after_response_ || tunnel || state_ == State::kClosed || state_ == State::kBody) {
    keep_alive_ = false;
  }
  no_body_out_ = head_request_ || end_stream;
  std::string& head = head_;
  head.clear();
  absl::string_view reason = headers.reason.empty() ? ReasonPhrase(headers.status) : headers.reason;
  AppendStatusLine(headers.status, reason, &head);
  headers.AppendHttp1(&head);
  if (tunnel) {
    absl::StrAppend(&head, "Connection: Upgrade\r\nUpgrade: ", headers.upgrade, "\r\n\r\n");
    connection_.Write(head);
    state_ = State::kTunnel;
    if (resume_) resume_();  // Bytes the client sent after its request now go through.
    if (end_stream) ResponseComplete();
    return;
  }
  if (headers.content_length.has_value()) {
    absl::StrAppend(&head, "Content-Length: ", *headers.content_length, "\r\n");
  } else if (!end_stream) {
    if (http10_) {
      keep_alive_ = false;  // The end of the body is the end of the connection.
    } else {
      chunked_out_ = true;
      head += "Transfer-Encoding: chunked\r\n";
    }
  }
  if (!keep_alive_) {
    head += "Connection: close\r\n";
  } else if (http10_) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  connection_.Write(head);
  if (end_stream) ResponseComplete();
}

void Http1ServerCodec::EncodeData(proxy::event::Buffer& data, bool end_stream) {
  if (no_body_out_) {
    data.Clear();
  } else if (state_ == State::kTunnel || !chunked_out_) {
    connection_.Write(data, false);
  } else {
    AppendChunk(data, out_);
    if (end_stream) out_.Append("0\r\n\r\n");
    connection_.Write(out_, false);
  }
  if (end_stream) ResponseComplete();
}

void Http1ServerCodec::EncodeTrailers(const ResponseHeaderMap& trailers) {
  if (no_body_out_ || state_ == State::kTunnel || !chunked_out_ || !te_trailers_) {
    proxy::event::Buffer empty;
    EncodeData(empty, true);  // Dropped: only a chunked body can carry them.
    return;
  }
  head_.assign("0\r\n");
  AppendHttp1Trailers(trailers, &head_);
  head_.append("\r\n");
  connection_.Write(head_);
  ResponseComplete();
}

void Http1ServerCodec::ResponseComplete() {
  stream_open_ = false;
  stream_callbacks_ = nullptr;
  // A request whose body has not ended (the answer came first) leaves the input unusable.
  if (state_ != State::kRequestDone || !keep_alive_ || close_after_response_) {
    state_ = State::kClosed;
    return;
  }
  // Ready for the next request, which may already be buffered.
  state_ = State::kHead;
  parser_.Reset();
  if (resume_) resume_();
}

void Http1ServerCodec::OnUnderlyingConnectionAboveWriteBufferHighWatermark() {
  if (stream_callbacks_ != nullptr) stream_callbacks_->OnAboveWriteBufferHighWatermark();
}

void Http1ServerCodec::OnUnderlyingConnectionBelowWriteBufferLowWatermark() {
  if (stream_callbacks_ != nullptr) stream_callbacks_->OnBelowWriteBufferLowWatermark();
}

// --- Client ---------------------------------------------------------------------------------

Http1ClientCodec::Http1ClientCodec(proxy::network::Connection& connection,
                                   ClientCodecCallbacks& callbacks, const Http1Settings& settings)
    : connection_(connection),
      callbacks_(callbacks),
      parser_(settings.head_limits),
      max_head_(settings.head_limits.max_header_bytes),
      max_trailer_fields_(settings.head_limits.max_headers),
      chunks_(ChunkLimits(settings.head_limits)) {}

RequestEncoder& Http1ClientCodec::NewStream(ResponseDecoder& decoder) {
  decoder_ = &decoder;
  stream_callbacks_ = nullptr;
  request_complete_ = false;
  chunked_out_ = false;
  tunnel_out_ = false;
  state_ = State::kHead;
  any_bytes_ = false;
  return *this;
}

void Http1ClientCodec::EncodeHeaders(const RequestHeaderMap& headers, bool end_stream) {
  method_ = headers.method;
  upgrade_requested_ = !headers.upgrade.empty();
  parser_.Reset(method_);
  std::string& head = head_;
  head.clear();
  absl::string_view method =
      headers.method == Method::kOther ? headers.method_token : MethodName(headers.method);
  absl::StrAppend(&head, method, " ", headers.target, " HTTP/1.1\r\n");
  headers.AppendHttp1(&head);
  if (headers.content_length.has_value()) {
    absl::StrAppend(&head, "Content-Length: ", *headers.content_length, "\r\n");
  } else if (!end_stream && !upgrade_requested_) {
    // (An upgrade request has no body of its own; what follows it is the tunnel's.)
    chunked_out_ = true;
    head += "Transfer-Encoding: chunked\r\n";
  }
  if (upgrade_requested_) {
    absl::StrAppend(&head, "Connection: upgrade\r\nUpgrade: ", headers.upgrade, "\r\n");
  }
  head += "\r\n";
  connection_.Write(head);
  request_complete_ = end_stream;
}

void Http1ClientCodec::EncodeData(proxy::event::Buffer& data, bool end_stream) {
  if (tunnel_out_) {
    connection_.Write(data, end_stream);  // A tunnel's end is a half-close.
    return;
  }
  if (chunked_out_) {
    AppendChunk(data, out_);
    if (end_stream) out_.Append("0\r\n\r\n");
    connection_.Write(out_, false);
  } else {
    connection_.Write(data, false);
  }
  if (end_stream) request_complete_ = true;
}

void Http1ClientCodec::EncodeTrailers(const RequestHeaderMap& trailers) {
  if (!chunked_out_ || tunnel_out_ || request_complete_) {
    proxy::event::Buffer none;
    EncodeData(none, true);  // Dropped: only a chunked body can carry them.
    return;
  }
  head_.assign("0\r\n");
  AppendHttp1Trailers(trailers, &head_);
  head_.append("\r\n");
  connection_.Write(head_);
  request_complete_ = true;
}

void Http1ClientCodec::ResetStream() {
  decoder_ = nullptr;
  stream_callbacks_ = nullptr;
  callbacks_.OnLocalReset();
}

absl::Status Http1ClientCodec::ResetActive(StreamResetReason reason, absl::string_view details) {
  StreamCallbacks* callbacks = stream_callbacks_;
  decoder_ = nullptr;
  stream_callbacks_ = nullptr;
  if (callbacks != nullptr) callbacks->OnStreamReset(reason, details);
  return absl::UnavailableError(details);
}

void Http1ClientCodec::OnConnectionClosed(absl::string_view details) {
  if (decoder_ == nullptr) return;
  if (state_ == State::kHead && any_bytes_) {
    (void)ResetActive(StreamResetReason::kProtocolError, "upstream sent an incomplete response");
    return;
  }
  (void)ResetActive(StreamResetReason::kConnectionTermination, details);
}

absl::Status Http1ClientCodec::Dispatch(proxy::event::Buffer& data, bool end_stream) {
  if (decoder_ == nullptr) {
    // Bytes while no request is out, or a close while idle: the connection is done.
    if (!data.empty()) return absl::FailedPreconditionError("upstream sent bytes unasked");
    if (end_stream) return absl::UnavailableError("upstream closed the connection");
    return absl::OkStatus();
  }
  if (!data.empty()) any_bytes_ = true;
  while (state_ == State::kHead) {
    if (data.empty()) {
      if (!end_stream) return absl::OkStatus();
      return ResetActive(any_bytes_ ? StreamResetReason::kProtocolError
                                    : StreamResetReason::kConnectionTermination,
                         any_bytes_ ? "upstream sent an incomplete response"
                                    : "upstream connect error or disconnect before response");
    }
    size_t len = std::min(data.size(), max_head_ + 1);
    const char* bytes = data.Linearize(len);
    ParseResult r = parser_.Parse(bytes, len);
    if (r.incomplete()) {
      if (!end_stream) return absl::OkStatus();
      return ResetActive(StreamResetReason::kProtocolError, "upstream sent an incomplete response");
    }
    if (r.error()) {
      return ResetActive(StreamResetReason::kProtocolError, "upstream sent an invalid response");
    }
    if (parser_.interim()) {
      // The proxy answers Expect: 100-continue itself; interim answers are dropped.
      data.Drain(r.consumed);
      parser_.Reset(method_);
      continue;
    }
    if (parser_.upgrade() && !(upgrade_requested_ && parser_.status_code() == 101)) {
      return ResetActive(StreamResetReason::kProtocolError,
                         "upstream switched protocols without being asked");
    }
    ResponseHeaderMapPtr headers = NewResponseHeaderMap();
    absl::string_view upgrade = FillFields(parser_, absl::string_view(bytes, r.consumed), *headers);
    headers->status = parser_.status_code();
    headers->reason = headers->Translate(parser_.reason());
    body_framing_ = parser_.body_framing();
    if (body_framing_ != BodyFraming::kChunked && body_framing_ != BodyFraming::kTunnel &&
        body_framing_ != BodyFraming::kCloseDelimited) {
      headers->content_length = parser_.content_length();
    }
    if (body_framing_ == BodyFraming::kTunnel) headers->upgrade = upgrade;
    body_remaining_ =
        body_framing_ == BodyFraming::kContentLength ? parser_.content_length().value_or(0) : 0;
    if (body_framing_ == BodyFraming::kChunked) chunks_.Reset();
    keep_alive_ = parser_.keep_alive() && body_framing_ != BodyFraming::kCloseDelimited;
    data.Drain(r.consumed);
    bool end = body_framing_ == BodyFraming::kNone ||
               (body_framing_ == BodyFraming::kContentLength && body_remaining_ == 0);
    state_ = body_framing_ == BodyFraming::kTunnel ? State::kTunnel : State::kBody;
    if (state_ == State::kTunnel) tunnel_out_ = true;
    decoder_->DecodeHeaders(std::move(headers), end);
    if (decoder_ == nullptr) return absl::OkStatus();  // Reset from inside the decoder.
    if (end) {
      Complete(data);
      return absl::OkStatus();
    }
  }
  return DispatchBody(data, end_stream);
}

absl::Status Http1ClientCodec::DispatchBody(proxy::event::Buffer& data, bool end_stream) {
  bool done = false;
  switch (body_framing_) {
    case BodyFraming::kContentLength: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(body_remaining_, data.size()));
      body_.MoveFrom(data, n);
      body_remaining_ -= n;
      done = body_remaining_ == 0;
      break;
    }
    case BodyFraming::kChunked: {
      ChunkedDecoder::Status s = Dechunk(chunks_, data, body_);
      if (s == ChunkedDecoder::Status::kError) {
        body_.Clear();
        return ResetActive(StreamResetReason::kProtocolError, "upstream sent a bad chunked body");
      }
      done = s == ChunkedDecoder::Status::kDone;
      break;
    }
    case BodyFraming::kCloseDelimited:
    case BodyFraming::kTunnel:
      body_.MoveAllFrom(data);
      done = end_stream;
      break;
    case BodyFraming::kNone:
      done = true;
      break;
  }
  if (!done && end_stream) {
    // Forward what arrived, then tell the stream the body was cut short.
    if (!body_.empty()) decoder_->DecodeData(body_, false);
    if (decoder_ == nullptr) return absl::UnavailableError("stream reset");
    return ResetActive(StreamResetReason::kConnectionTermination,
                       "upstream closed in the middle of the response body");
  }
  if (body_.empty() && !done) return absl::OkStatus();
  ResponseHeaderMapPtr trailers;
  if (done && body_framing_ == BodyFraming::kChunked && !chunks_.trailer_section().empty()) {
    trailers = NewResponseHeaderMap();
    if (!ParseTrailerSection(chunks_.trailer_section(), max_trailer_fields_, *trailers)) {
      body_.Clear();
      return ResetActive(StreamResetReason::kProtocolError,
                         "upstream sent too many trailer fields");
    }
    if (trailers->size() == 0) trailers.reset();  // All dropped: a plain end.
  }
  if (trailers == nullptr) {
    decoder_->DecodeData(body_, done);
  } else {
    if (!body_.empty()) decoder_->DecodeData(body_, false);
    if (decoder_ == nullptr) return absl::OkStatus();  // Reset from inside the decoder.
    decoder_->DecodeTrailers(std::move(trailers));
  }
  if (done && decoder_ != nullptr) Complete(data);
  return absl::OkStatus();
}

void Http1ClientCodec::Complete(const proxy::event::Buffer& rest) {
  // Bytes past the end of the response are not trustworthy: the connection is not reused.
  bool reusable = keep_alive_ && request_complete_ && !tunnel_out_ && rest.empty();
  decoder_ = nullptr;
  stream_callbacks_ = nullptr;
  callbacks_.OnResponseComplete(reusable);
}

void Http1ClientCodec::OnUnderlyingConnectionAboveWriteBufferHighWatermark() {
  if (stream_callbacks_ != nullptr) stream_callbacks_->OnAboveWriteBufferHighWatermark();
}

void Http1ClientCodec::OnUnderlyingConnectionBelowWriteBufferLowWatermark() {
  if (stream_callbacks_ != nullptr) stream_callbacks_->OnBelowWriteBufferLowWatermark();
}

}  // namespace lb::http
