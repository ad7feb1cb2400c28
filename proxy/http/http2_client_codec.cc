#include "proxy/http/http2_client_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lb::http {
namespace {

// Fields HTTP/2 forbids (RFC 9113 8.2.2); "te" is allowed only as "te: trailers".
bool IsConnectionSpecific(absl::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "te" || lower_name == "host" ||
         lower_name == "content-length";
}

nghttp2_nv Nv(absl::string_view name, absl::string_view value) {
  nghttp2_nv nv;
  nv.name = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data()));
  nv.namelen = name.size();
  nv.value = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data()));
  nv.valuelen = value.size();
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

absl::string_view View(const uint8_t* p, size_t n) {
  return absl::string_view(reinterpret_cast<const char*>(p), n);
}

}  // namespace

class Http2ClientCodec::ClientStream final : public RequestEncoder {
 public:
  ClientStream(Http2ClientCodec& codec, ResponseDecoder& decoder)
      : codec_(codec), decoder_(&decoder) {}

  // Stream.
  void SetCallbacks(StreamCallbacks* callbacks) override { callbacks_ = callbacks; }
  void ReadDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable) {
      codec_.DeliverIn(*this);
      codec_.Flush();
    }
  }
  void ResetStream() override { codec_.ResetFromCaller(*this); }

  // RequestEncoder.
  void EncodeHeaders(const RequestHeaderMap& headers, bool end_stream) override {
    codec_.SubmitRequest(*this, headers, end_stream);
  }
  void EncodeData(proxy::event::Buffer& data, bool end_stream) override {
    if (done_ || nghttp2_closed_) {
      data.Clear();
      return;
    }
    out_.MoveAllFrom(data);
    local_end_ = local_end_ || end_stream;
    if (id_ <= 0) return;  // EncodeHeaders has not run: it picks the body up.
    if (deferred_) {
      deferred_ = false;
      nghttp2_session_resume_data(codec_.session_, id_);
    }
    codec_.Flush();
    if (!above_high_ && out_.size() > codec_.settings_.stream_buffer_limit && !done_) {
      above_high_ = true;
      if (callbacks_ != nullptr) callbacks_->OnAboveWriteBufferHighWatermark();
    }
  }
  // The trailers go out as a HEADERS frame with END_STREAM once the body is sent (ReadBody);
  // names are lowercased, connection-specific and pseudo fields left out.
  void EncodeTrailers(const RequestHeaderMap& trailers) override {
    if (done_ || nghttp2_closed_ || local_end_) return;
    trailers.ForEach([this](const HeaderMap::Field& f) {
      std::string name = absl::AsciiStrToLower(f.name);
      if (name.empty() || name[0] == ':' || IsConnectionSpecific(name)) return;
      trailers_out_.emplace_back(std::move(name), std::string(f.value));
    });
    has_trailers_ = !trailers_out_.empty();
    proxy::event::Buffer none;
    EncodeData(none, /*end_stream=*/true);
  }

  Http2ClientCodec& codec_;
  ResponseDecoder* decoder_;
  StreamCallbacks* callbacks_ = nullptr;
  int32_t id_ = 0;               // 0 until submitted.
  bool done_ = false;            // Its decoder got the end, or a reset was reported or asked for.
  bool nghttp2_closed_ = false;  // Closed in nghttp2 (or never opened there): slot is free.
  bool counted_ = true;          // Holds one of active_streams_.
  bool local_end_ = false;       // The request's end was given.
  bool has_trailers_ = false;    // The end is trailers_out_, after the body.
  std::vector<std::pair<std::string, std::string>> trailers_out_;
  bool deferred_ = false;  // The data source said "deferred": resume on new data.
  bool above_high_ = false;
  bool read_disabled_ = false;
  bool headers_received_ = false;  // The final response head.
  bool in_end_ = false;            // END_STREAM arrived after what `in_` holds.
  bool refused_ = false;           // nghttp2 could not send its HEADERS.
  bool too_large_ = false;         // Its response head broke the limits.
  bool released_ = false;          // Moved to closed_.
  proxy::event::Buffer out_;       // Request body nghttp2 has not taken yet.
  proxy::event::Buffer in_;        // Response body not yet handed to the decoder.
  ResponseHeaderMapPtr headers_;   // Being received (a head or trailers).
  ResponseHeaderMapPtr trailers_;  // Received, waiting for the body before them.
  size_t header_bytes_ = 0;
  uint32_t header_count_ = 0;
  std::list<std::unique_ptr<ClientStream>>::iterator self_;
};

// The nghttp2 callbacks, as static functions with access to the codec.
struct Http2ClientCodec::Callbacks {
  static Http2ClientCodec& Codec(void* user_data) {
    return *static_cast<Http2ClientCodec*>(user_data);
  }
  static ClientStream* StreamOf(nghttp2_session* session, int32_t id) {
    return static_cast<ClientStream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void*) {
    ClientStream* s = StreamOf(session, frame->hd.stream_id);
    if (s == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    s->headers_ = NewResponseHeaderMap();
    s->headers_->status = 0;
    s->header_bytes_ = 0;
    s->header_count_ = 0;
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data) {
    ClientStream* s = StreamOf(session, frame->hd.stream_id);
    if (s == nullptr || s->done_ || s->headers_ == nullptr) return 0;
    const Http2ClientSettings& settings = Codec(user_data).settings_;
    // RFC 9113 6.5.2's accounting: name + value + 32 per field.
    s->header_bytes_ += namelen + valuelen + 32;
    if (s->header_bytes_ > settings.max_header_list_bytes ||
        ++s->header_count_ > settings.max_headers) {
      s->too_large_ = true;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // Resets the stream.
    }
    absl::string_view n = View(name, namelen);
    absl::string_view v = View(value, valuelen);
    if (!n.empty() && n[0] == ':') {
      int status = 0;
      if (n == ":status" && absl::SimpleAtoi(v, &status)) s->headers_->status = status;
      return 0;  // nghttp2 has checked the pseudo-fields.
    }
    if (n == "content-length" && !s->headers_received_) {
      uint64_t length = 0;
      if (absl::SimpleAtoi(v, &length)) s->headers_->content_length = length;
      return 0;
    }
    s->headers_->Add(n, v);
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    Http2ClientCodec& codec = Codec(user_data);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        ClientStream* s = StreamOf(session, frame->hd.stream_id);
        if (s == nullptr || s->done_ || s->headers_ == nullptr) return 0;
        const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (!s->headers_received_) {
          if (s->headers_->status >= 100 && s->headers_->status < 200) {
            s->headers_.reset();  // Interim: the proxy answers 100-continue itself.
            return 0;
          }
          s->headers_received_ = true;
          if (end) s->done_ = true;
          s->decoder_->DecodeHeaders(std::move(s->headers_), end);
          if (end) codec.ResponseEnded(*s);
        } else {
          s->trailers_ = std::move(s->headers_);
          s->in_end_ = true;
          codec.DeliverIn(*s);
        }
        return 0;
      }
      case NGHTTP2_DATA: {
        ClientStream* s = StreamOf(session, frame->hd.stream_id);
        if (s == nullptr || s->done_) return 0;
        if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) s->in_end_ = true;
        codec.DeliverIn(*s);
        return 0;
      }
      case NGHTTP2_GOAWAY:
        codec.goaway_ = true;
        codec.callbacks_.OnGoAway();
        return 0;
      case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) codec.callbacks_.OnSettings();
        return 0;
      default:
        return 0;
    }
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void*) {
    ClientStream* s = StreamOf(session, stream_id);
    if (s == nullptr || s->done_) {
      // Nobody reads it: give the window back at once.
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    s->in_.Append(View(data, len));
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    Http2ClientCodec& codec = Codec(user_data);
    ClientStream* s = StreamOf(session, stream_id);
    if (s == nullptr) return 0;
    s->nghttp2_closed_ = true;
    // A complete response its reader has not taken yet stays for it.
    const bool complete_pending = !s->done_ && s->in_end_ && error_code == NGHTTP2_NO_ERROR;
    if (!s->in_.empty() && !complete_pending) {
      nghttp2_session_consume_connection(session, s->in_.size());
      s->in_.Clear();
    }
    if (!s->done_ && !complete_pending) {
      if (s->too_large_) {
        codec.ResetStreamFromCodec(*s, StreamResetReason::kProtocolError,
                                   "upstream response headers too large");
      } else if (s->refused_ || error_code == NGHTTP2_REFUSED_STREAM) {
        codec.ResetStreamFromCodec(*s, StreamResetReason::kRemoteRefusedStream,
                                   "upstream refused the stream (not processed)");
      } else if (error_code == NGHTTP2_PROTOCOL_ERROR) {
        codec.ResetStreamFromCodec(*s, StreamResetReason::kProtocolError,
                                   "upstream HTTP/2 protocol error on the stream");
      } else {
        codec.ResetStreamFromCodec(
            *s, StreamResetReason::kConnectionTermination,
            absl::StrCat("upstream reset the stream (", nghttp2_http2_strerror(error_code), ")"));
      }
    }
    codec.SlotFreed(*s);
    return 0;
  }

  static int OnFrameNotSend(nghttp2_session* session, const nghttp2_frame* frame, int,
                            void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    ClientStream* s = StreamOf(session, frame->hd.stream_id);
    if (s == nullptr || s->headers_received_) return 0;
    // After a GOAWAY, or out of stream ids: the peer never saw it.
    s->refused_ = true;
    if (!s->done_) {
      Codec(user_data).ResetStreamFromCodec(*s, StreamResetReason::kRemoteRefusedStream,
                                            "upstream connection going away (stream not sent)");
    }
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void*) {
    ClientStream* s = static_cast<ClientStream*>(source->ptr);
    const size_t n = std::min(length, s->out_.size());
    if (n > 0) {
      std::memcpy(buf, s->out_.Linearize(n), n);
      s->out_.Drain(n);
    }
    if (s->out_.empty()) {
      if (s->local_end_) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->has_trailers_) {
          // nghttp2 documents submitting the trailers from here, with NO_END_STREAM.
          std::vector<nghttp2_nv> nva;
          nva.reserve(s->trailers_out_.size());
          for (const auto& [name, value] : s->trailers_out_) nva.push_back(Nv(name, value));
          if (nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size()) == 0) {
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
          }
          s->has_trailers_ = false;
          s->trailers_out_.clear();
        }
      } else if (n == 0) {
        s->deferred_ = true;
        return NGHTTP2_ERR_DEFERRED;
      }
    }
    return static_cast<ssize_t>(n);
  }
};

Http2ClientCodec::Http2ClientCodec(proxy::network::Connection& connection,
                                   Http2ClientCodecCallbacks& callbacks,
                                   const Http2ClientSettings& settings)
    : connection_(connection), callbacks_(callbacks), settings_(settings) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, &Callbacks::OnFrameNotSend);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // Windows are given back as decoders take the bytes (flow control follows the reader).
  nghttp2_option_set_no_auto_window_update(option, 1);
  // Until the peer's SETTINGS say otherwise.
  nghttp2_option_set_peer_max_concurrent_streams(option, settings_.max_concurrent_streams);
  const int rv = nghttp2_session_client_new2(&session_, cbs, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    session_ = nullptr;
    failed_ = true;
    return;
  }
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.stream_window_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_bytes},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries,
                          sizeof(entries) / sizeof(entries[0]));
  if (settings_.connection_window_bytes > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(settings_.connection_window_bytes));
  }
  Flush();
}

Http2ClientCodec::~Http2ClientCodec() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

uint32_t Http2ClientCodec::max_concurrent_streams() const {
  if (session_ == nullptr) return 0;
  return std::min(
      settings_.max_concurrent_streams,
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
}

bool Http2ClientCodec::CanOpenStream() const {
  return !failed_ && !goaway_ && !shutdown_ && session_ != nullptr &&
         active_streams_ < max_concurrent_streams() &&
         nghttp2_session_check_request_allowed(session_) != 0;
}

RequestEncoder& Http2ClientCodec::NewStream(ResponseDecoder& decoder) {
  auto stream = std::make_unique<ClientStream>(*this, decoder);
  ClientStream* raw = stream.get();
  streams_.push_front(std::move(stream));
  raw->self_ = streams_.begin();
  ++active_streams_;
  ++total_streams_;
  return *raw;
}

void Http2ClientCodec::SubmitRequest(ClientStream& s, const RequestHeaderMap& headers,
                                     bool end_stream) {
  if (s.done_ || s.id_ != 0) return;
  s.local_end_ = s.local_end_ || end_stream;
  if (failed_ || session_ == nullptr) {
    ResetStreamFromCodec(s, StreamResetReason::kConnectionTermination,
                         "upstream connection closed before the request");
    SlotFreed(s);
    return;
  }
  if (!headers.upgrade.empty() || headers.method == Method::kConnect) {
    ResetStreamFromCodec(s, StreamResetReason::kProtocolError,
                         "upgrade and CONNECT requests cannot go to an HTTP/2 upstream");
    SlotFreed(s);
    return;
  }
  // Names are lowercased into one string; `nva` points into it (reserved up front, so it
  // does not move).
  size_t bytes = 0;
  headers.ForEach([&bytes](const HeaderMap::Field& f) { bytes += f.name.size(); });
  std::string lower;
  lower.reserve(bytes + 2);
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size() + 6);
  absl::string_view method =
      headers.method_token.empty() ? MethodName(headers.method) : headers.method_token;
  nva.push_back(Nv(":method", method));
  nva.push_back(Nv(":scheme", settings_.scheme));
  if (headers.has_host && !headers.host.empty()) nva.push_back(Nv(":authority", headers.host));
  absl::string_view path = headers.Path();
  if (path.empty()) path = "/";
  nva.push_back(Nv(":path", path));
  bool grpc = false;
  headers.ForEach([&](const HeaderMap::Field& f) {
    const size_t start = lower.size();
    for (char c : f.name) lower.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    absl::string_view name(lower.data() + start, f.name.size());
    if (IsConnectionSpecific(name)) return;
    if (name == "content-type" && absl::StartsWith(f.value, "application/grpc")) grpc = true;
    nva.push_back(Nv(name, f.value));
  });
  std::string length;
  if (headers.content_length.has_value()) {
    length = absl::StrCat(*headers.content_length);
    nva.push_back(Nv("content-length", length));
  }
  if (grpc) nva.push_back(Nv("te", "trailers"));

  nghttp2_data_provider provider;
  provider.source.ptr = &s;
  provider.read_callback = &Callbacks::ReadBody;
  const bool body = !(s.local_end_ && s.out_.empty()) || s.has_trailers_;
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                            body ? &provider : nullptr, &s);
  if (id < 0) {
    ResetStreamFromCodec(s,
                         id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE
                             ? StreamResetReason::kRemoteRefusedStream
                             : StreamResetReason::kConnectionTermination,
                         absl::StrCat("cannot start an HTTP/2 stream: ", nghttp2_strerror(id)));
    SlotFreed(s);
    return;
  }
  s.id_ = id;
  Flush();
}

void Http2ClientCodec::ResetFromCaller(ClientStream& s) {
  s.callbacks_ = nullptr;
  const bool was_done = s.done_;
  s.done_ = true;
  if (s.id_ == 0) {
    if (!was_done) SlotFreed(s);
    return;
  }
  if (!s.nghttp2_closed_ && session_ != nullptr && !failed_) {
    if (!s.in_.empty()) nghttp2_session_consume(session_, s.id_, s.in_.size());
    s.in_.Clear();
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id_, NGHTTP2_CANCEL);
    Flush();
  }
  MaybeRelease(s);
}

void Http2ClientCodec::ResponseEnded(ClientStream& s) {
  // The request may still be uploading: the upstream answered early, so stop sending it.
  if (!s.nghttp2_closed_ && (!s.local_end_ || !s.out_.empty() || s.has_trailers_) &&
      session_ != nullptr) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id_, NGHTTP2_CANCEL);
  }
  MaybeRelease(s);
}

void Http2ClientCodec::DeliverIn(ClientStream& s) {
  if (s.done_ || s.read_disabled_) return;
  const size_t n = s.in_.size();
  const bool end = s.in_end_ && s.trailers_ == nullptr;
  if (n > 0 || end) {
    if (n > 0 && session_ != nullptr) {
      if (s.nghttp2_closed_) {
        nghttp2_session_consume_connection(session_, n);
      } else {
        nghttp2_session_consume(session_, s.id_, n);
      }
    }
    if (end) s.done_ = true;
    s.decoder_->DecodeData(s.in_, end);
    s.in_.Clear();
    if (end) {
      ResponseEnded(s);
      return;
    }
  }
  if (s.trailers_ != nullptr && !s.read_disabled_ && !s.done_) {
    s.done_ = true;
    s.decoder_->DecodeTrailers(std::move(s.trailers_));
    ResponseEnded(s);
  }
}

absl::Status Http2ClientCodec::Dispatch(proxy::event::Buffer& data, bool end_stream) {
  if (dispatch_depth_ == 0) FreeClosedStreams();
  ++dispatch_depth_;
  while (!data.empty() && !failed_ && session_ != nullptr) {
    absl::string_view chunk = data.FirstChunk();
    in_nghttp2_ = true;
    const ssize_t rv = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size());
    in_nghttp2_ = false;
    if (rv < 0) {
      failed_ = true;
      data.Clear();
      // nghttp2 queued a GOAWAY naming the problem: send it before the connection goes.
      Flush();
      ResetAll(
          StreamResetReason::kProtocolError,
          absl::StrCat("upstream HTTP/2 protocol error: ", nghttp2_strerror(static_cast<int>(rv))));
      break;
    }
    data.Drain(static_cast<size_t>(rv));
  }
  Flush();
  if (end_stream && !failed_) {
    failed_ = true;
    ResetAll(StreamResetReason::kConnectionTermination, "upstream closed the connection");
  }
  --dispatch_depth_;
  if (failed_) return absl::UnavailableError("upstream HTTP/2 connection unusable");
  if (session_ != nullptr && nghttp2_session_want_read(session_) == 0 &&
      nghttp2_session_want_write(session_) == 0) {
    // nghttp2 ended the session: after a GOAWAY once every stream is done, or after a
    // connection error it answered with its own GOAWAY (streams still open were cut).
    failed_ = true;
    ResetAll(
        goaway_ ? StreamResetReason::kConnectionTermination : StreamResetReason::kProtocolError,
        goaway_ ? "upstream connection went away" : "upstream HTTP/2 protocol error");
    return absl::UnavailableError("upstream HTTP/2 connection finished");
  }
  return absl::OkStatus();
}

void Http2ClientCodec::OnConnectionClosed(absl::string_view details) {
  failed_ = true;
  ResetAll(StreamResetReason::kConnectionTermination, details);
}

void Http2ClientCodec::Shutdown() {
  if (shutdown_ || failed_ || session_ == nullptr) return;
  shutdown_ = true;
  nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  Flush();
}

void Http2ClientCodec::Flush() {
  if (in_nghttp2_ || session_ == nullptr) return;
  in_nghttp2_ = true;
  for (int i = 0; i < 1 << 20; ++i) {  // Bounded: each round moves a frame's bytes.
    const uint8_t* bytes = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &bytes);
    if (n <= 0) break;
    connection_.Write(View(bytes, static_cast<size_t>(n)));
  }
  in_nghttp2_ = false;
  // Streams whose queued body drained: producers may go on.
  for (const std::unique_ptr<ClientStream>& s : streams_) {
    if (s->above_high_ && s->out_.size() <= settings_.stream_buffer_limit / 2) {
      s->above_high_ = false;
      if (s->callbacks_ != nullptr && !s->done_) s->callbacks_->OnBelowWriteBufferLowWatermark();
    }
  }
}

void Http2ClientCodec::ResetStreamFromCodec(ClientStream& s, StreamResetReason reason,
                                            absl::string_view details) {
  if (s.done_) return;
  s.done_ = true;
  if (StreamCallbacks* callbacks = std::exchange(s.callbacks_, nullptr)) {
    callbacks->OnStreamReset(reason, details);
  }
}

void Http2ClientCodec::ResetAll(StreamResetReason reason, absl::string_view details) {
  std::vector<ClientStream*> open;
  for (const std::unique_ptr<ClientStream>& s : streams_) open.push_back(s.get());
  for (ClientStream* s : open) ResetStreamFromCodec(*s, reason, details);
  for (ClientStream* s : open) {
    if (!s->nghttp2_closed_) SlotFreed(*s);
  }
}

void Http2ClientCodec::SlotFreed(ClientStream& s) {
  s.nghttp2_closed_ = true;
  if (s.counted_) {
    s.counted_ = false;
    --active_streams_;
  }
  MaybeRelease(s);
  callbacks_.OnStreamClosed();
}

void Http2ClientCodec::MaybeRelease(ClientStream& s) {
  if (!s.done_ || !s.nghttp2_closed_ || s.released_) return;
  s.released_ = true;
  if (s.id_ > 0 && session_ != nullptr) {
    nghttp2_session_set_stream_user_data(session_, s.id_, nullptr);
  }
  closed_.push_back(std::move(*s.self_));
  streams_.erase(s.self_);
}

void Http2ClientCodec::FreeClosedStreams() { closed_.clear(); }

void Http2ClientCodec::OnUnderlyingConnectionAboveWriteBufferHighWatermark() {
  for (const std::unique_ptr<ClientStream>& s : streams_) {
    if (s->callbacks_ != nullptr && !s->done_) s->callbacks_->OnAboveWriteBufferHighWatermark();
  }
}

void Http2ClientCodec::OnUnderlyingConnectionBelowWriteBufferLowWatermark() {
  for (const std::unique_ptr<ClientStream>& s : streams_) {
    if (s->callbacks_ != nullptr && !s->done_) s->callbacks_->OnBelowWriteBufferLowWatermark();
  }
}

}  // namespace lb::http
