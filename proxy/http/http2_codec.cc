#include "proxy/http/http2_codec.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lb::http {
namespace {

using proxy::event::Buffer;

Method ParseMethod(absl::string_view token) {
  for (Method m : {Method::kGet, Method::kHead, Method::kPost, Method::kPut, Method::kDelete,
                   Method::kConnect, Method::kOptions, Method::kTrace, Method::kPatch}) {
    if (token == MethodName(m)) return m;
  }
  return Method::kOther;
}

// The target goes into an HTTP/1 request line: no controls, spaces or DEL (nghttp2 checks
// header values for CR, LF and NUL only).
bool ValidTarget(absl::string_view path) {
  if (path.empty()) return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

absl::string_view View(const uint8_t* p, size_t n) {
  return absl::string_view(reinterpret_cast<const char*>(p), n);
}

}  // namespace

absl::Status ValidateHttp2Settings(const Http2Settings& s) {
  constexpr uint32_t kMaxWindow = NGHTTP2_MAX_WINDOW_SIZE;
  if (s.max_concurrent_streams < 1 || s.max_concurrent_streams > kMaxWindow) {
    return absl::InvalidArgumentError("--http2_max_concurrent_streams: must be 1 to 2147483647");
  }
  if (s.max_header_list_bytes < 1024) {
    return absl::InvalidArgumentError("--http2_max_header_list_bytes: must be at least 1024");
  }
  if (s.initial_stream_window_bytes < 65535 || s.initial_stream_window_bytes > kMaxWindow) {
    return absl::InvalidArgumentError(
        "--http2_initial_stream_window_bytes: must be 65535 to 2147483647");
  }
  if (s.initial_connection_window_bytes < 65535 || s.initial_connection_window_bytes > kMaxWindow) {
    return absl::InvalidArgumentError(
        "--http2_initial_connection_window_bytes: must be 65535 to 2147483647");
  }
  if (s.max_premature_resets_per_second < 1) {
    return absl::InvalidArgumentError(
        "--http2_max_premature_resets_per_second: must be at least 1");
  }
  if (s.max_outbound_control_frames < 1) {
    return absl::InvalidArgumentError("--http2_max_outbound_control_frames: must be at least 1");
  }
  if (s.max_consecutive_empty_frames < 1) {
    return absl::InvalidArgumentError("--http2_max_consecutive_empty_frames: must be at least 1");
  }
  return absl::OkStatus();
}

// One request stream: collects the head while HPACK decodes it, holds request body bytes
// while its reader is paused, and response bytes while the peer's window is shut.
class Http2ServerCodec::Stream final : public ResponseEncoder {
 public:
  Stream(Http2ServerCodec& codec, int32_t id) : codec_(codec), id_(id) {}

  // ResponseEncoder.
  void SetCallbacks(StreamCallbacks* callbacks) override {
    if (!detached_) callbacks_ = callbacks;
  }
  void ReadDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable) {
      Deliver();
      codec_.Flush();
    }
  }
  void ResetStream() override {
    if (detached_) return;
    Detach();
    nghttp2_submit_rst_stream(codec_.session_.get(), NGHTTP2_FLAG_NONE, id_,
                              NGHTTP2_INTERNAL_ERROR);
    codec_.Flush();
  }
  void Encode100Continue() override {
    if (detached_ || response_started_) return;
    const nghttp2_nv nv[] = {{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                              const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("100")), 7, 3,
                              NGHTTP2_NV_FLAG_NONE}};
    nghttp2_submit_headers(codec_.session_.get(), NGHTTP2_FLAG_NONE, id_, nullptr, nv, 1, nullptr);
    codec_.Flush();
  }
  void EncodeHeaders(const ResponseHeaderMap& headers, bool end_stream) override {
    if (detached_ || response_started_) return;
    response_started_ = true;
    Nghttp2Headers& nv = codec_.scratch_nv_;
    nv.Clear();
    nv.Add(":status", absl::StrCat(headers.status));
    if (headers.content_length.has_value()) {
      nv.Add("content-length", absl::StrCat(*headers.content_length));
    }
    headers.ForEach([&nv](const HeaderMap::Field& f) {
      if (IsConnectionSpecificField(f.name) || absl::EqualsIgnoreCase(f.name, "content-length")) {
        return;
      }
      nv.Add(f.name, f.value);
    });
    const std::vector<nghttp2_nv>& nva = nv.nva();
    if (end_stream) {
      Detach();
      nghttp2_submit_response(codec_.session_.get(), id_, nva.data(), nva.size(), nullptr);
    } else {
      nghttp2_data_provider provider;
      provider.source.ptr = this;
      provider.read_callback = &Stream::ReadCallback;
      data_provider_ = true;
      nghttp2_submit_response(codec_.session_.get(), id_, nva.data(), nva.size(), &provider);
    }
    codec_.Flush();
  }
  void EncodeData(Buffer& data, bool end_stream) override {
    if (detached_ || !data_provider_) {
      data.Clear();
      return;
    }
    out_.MoveAllFrom(data);
    if (end_stream) {
      local_end_ = true;
      Detach();
    } else if (!stream_above_ && out_.size() > codec_.stream_buffer_limit_) {
      stream_above_ = true;
      RaiseAbove();
    }
    Resume();
    codec_.Flush();
  }
  void EncodeTrailers(const ResponseHeaderMap& trailers) override {
    if (detached_ || !data_provider_) return;
    trailers_.Clear();
    trailers.ForEach([this](const HeaderMap::Field& f) {
      if (!IsConnectionSpecificField(f.name)) trailers_.Add(f.name, f.value);
    });
    local_end_ = true;
    Detach();
    Resume();
    codec_.Flush();
  }

  int32_t id() const { return id_; }
  bool response_started() const { return response_started_; }
  bool detached() const { return detached_; }
  StreamCallbacks* callbacks() const { return callbacks_; }
  size_t unconsumed() const { return in_.size(); }

  // Head collection (request head, then possibly trailers). False: the list is over the
  // limit.
  void BeginTrailers() {
    raw_.clear();
    fields_.clear();
    in_trailers_ = true;
  }
  bool AddHeader(absl::string_view name, absl::string_view value) {
    header_bytes_ += name.size() + value.size() + 32;
    if (header_bytes_ > codec_.settings_.max_header_list_bytes) return false;
    if (!in_trailers_) {
      if (!name.empty() && name[0] == ':') {
        if (name == ":method") method_ = std::string(value);
        if (name == ":path") path_ = std::string(value);
        if (name == ":authority") authority_ = std::string(value);
        return true;  // :scheme is checked by nghttp2; X-Forwarded-Proto says ours.
      }
      if (name == "cookie") {
        if (!cookie_.empty()) cookie_ += "; ";
        cookie_.append(value.data(), value.size());
        return true;
      }
      if (name == "host") {
        host_ = std::string(value);
        has_host_field_ = true;
        return true;
      }
      if (name == "content-length") {
        content_length_ = std::string(value);
        return true;
      }
    }
    AddLine(name, value);
    return true;
  }

  // The pseudo-headers can be forwarded as an HTTP/1 request line.
  bool ValidRequestLine() const {
    return !method_.empty() && (method_ == "CONNECT" || ValidTarget(path_));
  }

  // The request head is complete.
  RequestHeaderMapPtr TakeRequest() {
    const bool has_authority = !authority_.empty();
    if (has_authority || has_host_field_) {
      AddLine("host", has_authority ? authority_ : host_);
      std::rotate(fields_.begin(), fields_.end() - 1, fields_.end());  // Host goes first.
    }
    if (!cookie_.empty()) AddLine("cookie", cookie_);
    const size_t method_at = raw_.size();
    raw_ += method_;
    const size_t path_at = raw_.size();
    raw_ += path_;
    RequestHeaderMapPtr map = NewRequestHeaderMap();
    Fill(*map);
    map->method_token = map->Translate(absl::string_view(raw_.data() + method_at, method_.size()));
    map->method = ParseMethod(method_);
    map->target = map->Translate(absl::string_view(raw_.data() + path_at, path_.size()));
    map->version = Version::kHttp11;
    if (has_authority || has_host_field_) {
      map->has_host = true;
      const Span& h = fields_.front();
      map->host = map->Translate(absl::string_view(raw_.data() + h.value_at, h.value_len));
    }
    uint64_t length = 0;
    if (!content_length_.empty() && absl::SimpleAtoi(content_length_, &length)) {
      map->content_length = length;
    }
    if (std::optional<HeaderMap::Field> expect = map->Find("expect");
        expect.has_value() && absl::EqualsIgnoreCase(expect->value, "100-continue")) {
      map->expect_100_continue = true;
    }
    header_bytes_ = 0;
    return map;
  }

  RequestHeaderMapPtr TakeTrailers() {
    RequestHeaderMapPtr map = NewRequestHeaderMap();
    Fill(*map);
    return map;
  }

  // Request body bytes and its end, in order; handed on while not paused.
  void OnData(const uint8_t* data, size_t len) {
    in_.Append(View(data, len));
    Deliver();
  }
  void OnRemoteEnd(RequestHeaderMapPtr trailers) {
    remote_end_ = true;
    trailers_in_ = std::move(trailers);
    Deliver();
  }

  void SetDecoder(RequestDecoder* decoder) { decoder_ = decoder; }

  // The connection's write buffer crossed a watermark.
  void OnConnectionAbove() {
    if (conn_above_) return;
    conn_above_ = true;
    RaiseAbove();
  }
  void OnConnectionBelow() {
    if (!conn_above_) return;
    conn_above_ = false;
    LowerBelow();
  }
  // The stream's own response buffer drained below half its limit.
  void OnStreamBelow() {
    if (!stream_above_) return;
    stream_above_ = false;
    LowerBelow();
  }

  // No further callbacks or decoder calls; request bytes still arriving are consumed unseen.
  void Detach() {
    detached_ = true;
    callbacks_ = nullptr;
    decoder_ = nullptr;
    Consume(in_.size());
    in_.Clear();
  }

 private:
  struct Span {
    size_t name_at, name_len, value_at, value_len, line_at, line_len;
  };

  static ssize_t ReadCallback(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source* source, void*) {
    return static_cast<Stream*>(source->ptr)->Read(buf, length, flags);
  }

  ssize_t Read(uint8_t* buf, size_t length, uint32_t* flags) {
    if (out_.empty() && !local_end_) {
      deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = 0;
    while (n < length && !out_.empty()) {
      absl::string_view chunk = out_.FirstChunk();
      const size_t take = std::min(chunk.size(), length - n);
      std::memcpy(buf + n, chunk.data(), take);
      out_.Drain(take);
      n += take;
    }
    if (out_.empty() && local_end_) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!trailers_.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        const std::vector<nghttp2_nv>& nva = trailers_.nva();
        nghttp2_submit_trailer(codec_.session_.get(), id_, nva.data(), nva.size());
      }
    }
    if (stream_above_ && out_.size() <= codec_.stream_buffer_limit_ / 2) {
      codec_.below_.push_back(id_);
    }
    return static_cast<ssize_t>(n);
  }

  void Resume() {
    if (deferred_) {
      deferred_ = false;
      nghttp2_session_resume_data(codec_.session_.get(), id_);
    }
  }

  void RaiseAbove() {
    if (above_++ == 0 && callbacks_ != nullptr) callbacks_->OnAboveWriteBufferHighWatermark();
  }
  void LowerBelow() {
    if (above_ > 0 && --above_ == 0 && callbacks_ != nullptr) {
      callbacks_->OnBelowWriteBufferLowWatermark();
    }
  }

  void Deliver() {
    if (delivering_) return;  // The decoder resumed us from inside a delivery.
    delivering_ = true;
    while (decoder_ != nullptr && !read_disabled_ && (!in_.empty() || remote_end_)) {
      const size_t n = in_.size();
      const bool end = remote_end_ && trailers_in_ == nullptr;
      Buffer chunk;
      chunk.MoveAllFrom(in_);
      if (end || trailers_in_ != nullptr) remote_end_ = false;  // Delivered below.
      RequestHeaderMapPtr trailers = std::move(trailers_in_);
      if (n > 0 || end) decoder_->DecodeData(chunk, end);
      Consume(n);
      if (trailers != nullptr && decoder_ != nullptr) decoder_->DecodeTrailers(std::move(trailers));
    }
    delivering_ = false;
  }

  void Consume(size_t n) {
    if (n == 0) return;
    if (nghttp2_session_consume(codec_.session_.get(), id_, n) != 0) {
      nghttp2_session_consume_connection(codec_.session_.get(), n);
    }
  }

  void AddLine(absl::string_view name, absl::string_view value) {
    Span s;
    s.line_at = raw_.size();
    s.name_at = raw_.size();
    s.name_len = name.size();
    raw_.append(name.data(), name.size());
    raw_ += ": ";
    s.value_at = raw_.size();
    s.value_len = value.size();
    raw_.append(value.data(), value.size());
    raw_ += "\r\n";
    s.line_len = raw_.size() - s.line_at;
    fields_.push_back(s);
  }

  void Fill(HeaderMap& map) {
    map.AssignRaw(raw_);
    for (const Span& s : fields_) {
      map.AddRaw(absl::string_view(raw_.data() + s.name_at, s.name_len),
                 absl::string_view(raw_.data() + s.value_at, s.value_len),
                 absl::string_view(raw_.data() + s.line_at, s.line_len));
    }
  }

  Http2ServerCodec& codec_;
  const int32_t id_;
  StreamCallbacks* callbacks_ = nullptr;
  RequestDecoder* decoder_ = nullptr;
  // Head being collected: "name: value\r\n" lines in raw_, pseudo-headers and the fields the
  // codec maps itself aside.
  std::string raw_;
  std::vector<Span> fields_;
  std::string method_, path_, authority_, host_, cookie_, content_length_;
  bool has_host_field_ = false;
  bool in_trailers_ = false;
  size_t header_bytes_ = 0;
  // Request body.
  Buffer in_;
  RequestHeaderMapPtr trailers_in_;
  bool remote_end_ = false;  // Seen and not yet delivered.
  bool read_disabled_ = false;
  bool delivering_ = false;
  // Response.
  Buffer out_;
  Nghttp2Headers trailers_;
  bool response_started_ = false;
  bool data_provider_ = false;
  bool deferred_ = false;
  bool local_end_ = false;
  bool detached_ = false;
  bool stream_above_ = false;
  bool conn_above_ = false;
  int above_ = 0;  // Reasons to pause the producer: stream_above_, conn_above_.
};

// nghttp2's C callbacks, forwarded to the codec.
struct Http2ServerCodec::Callbacks {
  static Http2ServerCodec& Of(void* user_data) {
    return *static_cast<Http2ServerCodec*>(user_data);
  }
  static ssize_t Send(nghttp2_session*, const uint8_t*, size_t, int, void*) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;  // mem_send only.
  }
  static int BeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
    return Of(user_data).OnBeginFrame(*hd);
  }
  static int BeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    return Of(user_data).OnBeginHeaders(*frame);
  }
  static int Header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                    void* user_data) {
    return Of(user_data).OnHeader(*frame, View(name, namelen), View(value, valuelen));
  }
  static int FrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    return Of(user_data).OnFrameRecv(*frame);
  }
  static int DataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                       void* user_data) {
    return Of(user_data).OnDataChunk(id, data, len);
  }
  static int StreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user_data) {
    return Of(user_data).OnStreamClose(id, error_code);
  }
  static int FrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2ServerCodec& codec = Of(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM &&
        frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM && codec.stats_ != nullptr) {
      codec.stats_->refused_streams.fetch_add(1, std::memory_order_relaxed);
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
        nghttp2_session_get_stream_remote_close(codec.session_.get(), frame->hd.stream_id) == 0) {
      // The response is complete before the request: ask the client to stop sending it
      // (RFC 9113 8.1; clients such as curl otherwise wait for the stream to close).
      nghttp2_submit_rst_stream(codec.session_.get(), NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_NO_ERROR);
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      codec.goaway_sent_ = true;
      codec.goaway_code_ = frame->goaway.error_code;
      if (frame->goaway.error_code != NGHTTP2_NO_ERROR && !codec.failed_) {
        // nghttp2 ended the session for a protocol error of the peer.
        codec.failed_ = true;
        codec.error_ = {400, "HTTP/2 protocol error"};
        if (codec.stats_ != nullptr) {
          codec.stats_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    return 0;
  }
};

Http2ServerCodec::Http2ServerCodec(proxy::network::Connection& connection,
                                   ServerCodecCallbacks& callbacks, const Http2Settings& settings,
                                   Http2Stats* stats, std::function<absl::Duration()> now)
    : connection_(connection),
      callbacks_(callbacks),
      settings_(settings),
      stats_(stats),
      now_(std::move(now)),
      stream_buffer_limit_(settings.stream_buffer_bytes > 0
                               ? settings.stream_buffer_bytes
                               : std::max<uint32_t>(settings.initial_stream_window_bytes, 16384)) {
  nghttp2_session_callbacks* raw_callbacks = nullptr;
  nghttp2_session_callbacks_new(&raw_callbacks);
  Nghttp2CallbacksPtr cbs(raw_callbacks);
  nghttp2_session_callbacks_set_send_callback(cbs.get(), &Callbacks::Send);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs.get(), &Callbacks::BeginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), &Callbacks::BeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs.get(), &Callbacks::Header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), &Callbacks::FrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), &Callbacks::DataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), &Callbacks::StreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs.get(), &Callbacks::FrameSend);

  nghttp2_option* raw_option = nullptr;
  nghttp2_option_new(&raw_option);
  Nghttp2OptionPtr option(raw_option);
  // Window updates only for bytes handed on (flow control follows the reader).
  nghttp2_option_set_no_auto_window_update(option.get(), 1);
  nghttp2_option_set_max_outbound_ack(option.get(), settings.max_outbound_control_frames);
  nghttp2_option_set_max_settings(option.get(), 32);
  // Our encoder's dynamic table: 4 KiB (nghttp2's default, said explicitly).
  nghttp2_option_set_max_deflate_dynamic_table_size(option.get(), 4096);
  // A response head we would send larger than the client's limit is not sent.
  nghttp2_option_set_max_send_header_block_length(option.get(), 64 * 1024);
  // Closed streams are not kept for a priority tree (RFC 9218 priorities: none kept).
  nghttp2_option_set_no_closed_streams(option.get(), 1);

  nghttp2_session* raw_session = nullptr;
  nghttp2_session_server_new2(&raw_session, cbs.get(), this, option.get());
  session_.reset(raw_session);

  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings.initial_stream_window_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings.max_header_list_bytes},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, entries,
                          sizeof(entries) / sizeof(entries[0]));
  if (settings.initial_connection_window_bytes > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    nghttp2_session_set_local_window_size(
        session_.get(), NGHTTP2_FLAG_NONE, 0,
        static_cast<int32_t>(
            std::min<uint32_t>(settings.initial_connection_window_bytes, NGHTTP2_MAX_WINDOW_SIZE)));
  }
  if (stats_ != nullptr) stats_->connections.fetch_add(1, std::memory_order_relaxed);
  Flush();
}

Http2ServerCodec::~Http2ServerCodec() {
  for (auto& [id, stream] : streams_) stream->Detach();
  session_.reset();  // Calls no stream callbacks.
}

absl::Status Http2ServerCodec::Dispatch(Buffer& data, bool end_stream) {
  (void)end_stream;  // The owner decides what a half-close means; nghttp2 needs no signal.
  closed_.clear();
  if (failed_) {
    data.Clear();
    return absl::InvalidArgumentError(error_.reason);
  }
  dispatching_ = true;
  ssize_t rv = 0;
  while (!data.empty()) {
    absl::string_view chunk = data.FirstChunk();
    rv = nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const uint8_t*>(chunk.data()),
                                  chunk.size());
    if (rv < 0) break;
    data.Drain(chunk.size());
  }
  dispatching_ = false;
  if (rv < 0) {
    data.Clear();
    if (!failed_) {
      failed_ = true;
      if (rv == NGHTTP2_ERR_FLOODED) {
        error_ = {400, "HTTP/2 control frame flood"};
        if (stats_ != nullptr) stats_->control_flood.fetch_add(1, std::memory_order_relaxed);
      } else {
        error_ = {400, rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? "bad HTTP/2 connection preface"
                                                          : "HTTP/2 protocol error"};
        if (stats_ != nullptr) stats_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
        // What nghttp2 queued (GOAWAY) still goes out.
      }
    }
  }
  Flush();
  if (!failed_ && nghttp2_session_want_read(session_.get()) == 0 &&
      nghttp2_session_want_write(session_.get()) == 0 && !goaway_sent_) {
    failed_ = true;
    error_ = {400, "HTTP/2 session ended"};
  }
  if (failed_) return absl::InvalidArgumentError(error_.reason);
  return absl::OkStatus();
}

void Http2ServerCodec::Flush() {
  if (dispatching_) return;  // Dispatch() flushes once nghttp2 is done with the input.
  if (flushing_) {
    flush_again_ = true;
    return;
  }
  if (connection_above_) return;  // Frames wait in nghttp2 until the client reads.
  flushing_ = true;
  do {
    flush_again_ = false;
    const uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_.get(), &data)) > 0) {
      out_.Append(absl::string_view(reinterpret_cast<const char*>(data), n));
    }
    if (n < 0 && !failed_) {
      failed_ = true;
      error_ = {400, "HTTP/2 send failed"};
      if (n == NGHTTP2_ERR_FLOODED && stats_ != nullptr) {
        stats_->control_flood.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!out_.empty()) connection_.Write(out_, false);
  } while (flush_again_ && !connection_above_);
  flushing_ = false;
  if (!below_.empty()) {
    std::vector<int32_t> below;
    below.swap(below_);
    for (int32_t id : below) {
      if (Stream* s = FindStream(id)) s->OnStreamBelow();
    }
  }
}

void Http2ServerCodec::Fail(uint32_t code, absl::string_view reason) {
  if (failed_) return;
  failed_ = true;
  error_ = {400, reason};
  goaway_code_ = code;
  nghttp2_session_terminate_session(session_.get(), code);
}

Http2ServerCodec::Stream* Http2ServerCodec::FindStream(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2ServerCodec::CloseAfterResponse() {
  if (goaway_sent_ || failed_) return;
  goaway_sent_ = true;
  goaway_code_ = NGHTTP2_NO_ERROR;
  if (stats_ != nullptr) stats_->graceful_goaways.fetch_add(1, std::memory_order_relaxed);
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  Flush();
}

bool Http2ServerCodec::WantsClose() const { return failed_ || goaway_sent_; }

void Http2ServerCodec::OnUnderlyingConnectionAboveWriteBufferHighWatermark() {
  connection_above_ = true;
  for (auto& [id, stream] : streams_) stream->OnConnectionAbove();
}

void Http2ServerCodec::OnUnderlyingConnectionBelowWriteBufferLowWatermark() {
  connection_above_ = false;
  Flush();
  std::vector<int32_t> ids;
  ids.reserve(streams_.size());
  for (auto& [id, stream] : streams_) ids.push_back(id);
  for (int32_t id : ids) {
    if (Stream* s = FindStream(id)) s->OnConnectionBelow();
  }
}

void Http2ServerCodec::ReleaseIdleMemory() {
  if (streams_.empty()) {
    closed_.clear();
    closed_.shrink_to_fit();
  }
}

void Http2ServerCodec::CountPrematureReset() {
  if (stats_ != nullptr) stats_->premature_resets.fetch_add(1, std::memory_order_relaxed);
  const absl::Duration now = now_();
  if (now - reset_window_start_ >= absl::Seconds(1)) {
    reset_window_start_ = now;
    resets_in_window_ = 0;
  }
  if (++resets_in_window_ > settings_.max_premature_resets_per_second) {
    if (stats_ != nullptr) stats_->rapid_reset.fetch_add(1, std::memory_order_relaxed);
    Fail(NGHTTP2_ENHANCE_YOUR_CALM, "too many streams reset by the client (rapid reset)");
  }
}

int Http2ServerCodec::OnBeginFrame(const nghttp2_frame_hd& hd) {
  if (hd.type != NGHTTP2_DATA && hd.type != NGHTTP2_HEADERS && hd.type != NGHTTP2_CONTINUATION) {
    return 0;
  }
  if (hd.length > 0 || (hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    consecutive_empty_ = 0;
    return 0;
  }
  if (++consecutive_empty_ > settings_.max_consecutive_empty_frames) {
    if (stats_ != nullptr) stats_->empty_frames.fetch_add(1, std::memory_order_relaxed);
    Fail(NGHTTP2_ENHANCE_YOUR_CALM, "too many consecutive frames without payload");
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Http2ServerCodec::OnBeginHeaders(const nghttp2_frame& frame) {
  if (frame.hd.type != NGHTTP2_HEADERS) return 0;
  const int32_t id = frame.hd.stream_id;
  if (frame.headers.cat == NGHTTP2_HCAT_REQUEST) {
    streams_[id] = std::make_unique<Stream>(*this, id);
    if (connection_above_) streams_[id]->OnConnectionAbove();
    if (stats_ != nullptr) stats_->streams.fetch_add(1, std::memory_order_relaxed);
  } else if (Stream* s = FindStream(id)) {
    s->BeginTrailers();
  }
  return 0;
}

int Http2ServerCodec::OnHeader(const nghttp2_frame& frame, absl::string_view name,
                               absl::string_view value) {
  Stream* s = FindStream(frame.hd.stream_id);
  if (s == nullptr) return 0;
  if (!s->AddHeader(name, value)) {
    if (stats_ != nullptr) stats_->header_list_too_large.fetch_add(1, std::memory_order_relaxed);
    if (StreamCallbacks* cb = s->callbacks()) {
      s->Detach();
      cb->OnStreamReset(StreamResetReason::kProtocolError, "HTTP/2 header list too large");
    } else {
      s->Detach();
    }
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, frame.hd.stream_id,
                              NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return 0;
}

int Http2ServerCodec::OnFrameRecv(const nghttp2_frame& frame) {
  const int32_t id = frame.hd.stream_id;
  const bool end = (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame.hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* s = FindStream(id);
      if (s == nullptr || s->detached()) return 0;
      if (frame.headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (!s->ValidRequestLine()) {
          s->Detach();
          nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
          return 0;
        }
        RequestHeaderMapPtr request = s->TakeRequest();
        if (request->method == Method::kConnect) {
          // No tunnels over HTTP/2 (extended CONNECT is not offered either).
          ResponseHeaderMap reply;
          reply.status = 501;
          s->EncodeHeaders(reply, true);
          return 0;
        }
        RequestDecoder& decoder = callbacks_.NewStream(*s);
        if (s->detached()) return 0;
        s->SetDecoder(&decoder);
        decoder.DecodeHeaders(std::move(request), end);
      } else if (end) {
        s->OnRemoteEnd(s->TakeTrailers());
      }
      return 0;
    }
    case NGHTTP2_DATA:
      if (end) {
        if (Stream* s = FindStream(id)) s->OnRemoteEnd(nullptr);
      }
      return 0;
    case NGHTTP2_RST_STREAM:
      if (Stream* s = FindStream(id); s != nullptr && !s->response_started()) {
        CountPrematureReset();
        if (failed_) return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      return 0;
    default:
      return 0;
  }
}

int Http2ServerCodec::OnDataChunk(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = FindStream(id);
  if (s == nullptr || s->detached()) {
    if (nghttp2_session_consume(session_.get(), id, len) != 0) {
      nghttp2_session_consume_connection(session_.get(), len);
    }
    return 0;
  }
  s->OnData(data, len);
  return 0;
}

int Http2ServerCodec::OnStreamClose(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  std::unique_ptr<Stream> stream = std::move(it->second);
  streams_.erase(it);
  StreamCallbacks* cb = stream->callbacks();
  const bool incomplete = !stream->detached();
  stream->Detach();  // Gives back the window of unread body bytes.
  if (incomplete && cb != nullptr) {
    cb->OnStreamReset(
        StreamResetReason::kConnectionTermination,
        absl::StrCat("HTTP/2 stream reset by the client: ", Http2ErrorName(error_code)));
  }
  closed_.push_back(std::move(stream));
  return 0;
}

}  // namespace lb::http
