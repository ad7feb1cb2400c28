#include "proxy/server/http_connection_manager.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/base/recycled.h"
#include "proxy/event/fd_group.h"
#include "proxy/event/socket.h"
#include "proxy/http/grpc.h"
#include "proxy/http/request_target.h"
#include "proxy/http/server_codec_factory.h"
#include "proxy/tls/context.h"

namespace lb::proxy {

// One request and its response. Created when the codec starts a request, destroyed (at the end
// of the loop turn) once the response is complete or the request was abandoned.
class HttpConnectionManager::ActiveStream final : public http::RequestDecoder,
                                                  public http::StreamCallbacks,
                                                  public router::RouterCallbacks,
                                                  public event::DeferredDeletable,
                                                  public Recycled<ActiveStream> {
 public:
  ActiveStream(HttpConnectionManager& manager, http::ResponseEncoder& encoder)
      : manager_(manager),
        encoder_(encoder),
        stats_(manager.context_.connection_manager_stats()),
        started_(manager.context_.dispatcher().MonotonicNow()),
        router_(manager.context_.router_context(), *this) {
    encoder_.SetCallbacks(this);
    info_.start = started_;
    info_.start_time = manager.context_.dispatcher().Now();
    if (manager.multiplexing()) {
      // Streams side by side: each has the timers HTTP/1 keeps on the connection.
      event::Dispatcher& dispatcher = manager.context_.dispatcher();
      idle_timer_ = std::make_unique<event::LazyTimer>(dispatcher, [this] {
        if (done_) return;
        stats_.stream_idle_timeouts.fetch_add(1, std::memory_order_relaxed);
        OnIdleTimeout();
      });
      router_timer_ = std::make_unique<event::LazyTimer>(dispatcher, [this] {
        if (!done_) router_.OnTimeout();
      });
      Activity();
    }
  }

  ~ActiveStream() override {
    if (counted_) stats_.requests_active.fetch_sub(1, std::memory_order_relaxed);
    if (accesslog::AccessLog* log = manager_.context_.access_log();
        log != nullptr && (counted_ || info_.status != 0)) {
      WriteLog(*log);
    }
  }

  bool response_started() const { return response_started_; }

  // The client is gone or the connection closes under the request.
  void Abandon() {
    if (!done_) info_.SetFlag(accesslog::kDownstreamConnectionTermination);
    done_ = true;
    if (idle_timer_ != nullptr) {
      idle_timer_->Disarm();
      router_timer_->Disarm();
    }
    encoder_.SetCallbacks(nullptr);
    router_.OnDownstreamReset();
  }

  // An answer made by the proxy, replacing anything the router was doing.
  // `flags`: accesslog::ResponseFlag bits that say why.
  void LocalReply(int status, absl::string_view message, uint32_t flags = 0) {
    router_.OnDownstreamReset();  // Whatever the router was doing upstream is abandoned.
    info_.response_flags |= flags;
    SendLocalReply(status, message);
  }

  // http::RequestDecoder.
  void DecodeHeaders(http::RequestHeaderMapPtr headers, bool end_stream) override {
    stats_.requests.fetch_add(1, std::memory_order_relaxed);
    stats_.requests_active.fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
    snapshot_.Acquire(manager_.context_.snapshots());
    const ConnectionManagerOptions& options = manager_.context_.connection_manager_options();
    if (options.max_body_bytes > 0 &&
        headers->content_length.value_or(0) > options.max_body_bytes) {
      rejected_ = std::move(headers);
      SendLocalReply(413, "request body too large");
      return;
    }
    if (absl::Status s = http::CanonicalizeRequestTarget(options.path, *headers); !s.ok()) {
      rejected_ = std::move(headers);
      info_.SetFlag(accesslog::kDownstreamProtocolError);
      SendLocalReply(400, s.message());
      return;
    }
    request_complete_ = end_stream;
    router_.StartRequest(snapshot_.get(), std::move(headers), end_stream, manager_.client_ip_,
                         manager_.tls_ ? "https" : "http");
  }

  void DecodeData(event::Buffer& data, bool end_stream) override {
    if (done_) {
      data.Clear();
      return;
    }
    Activity();
    request_complete_ = end_stream;
    body_bytes_ += data.size();
    info_.bytes_received = body_bytes_;
    const uint64_t max_body = manager_.context_.connection_manager_options().max_body_bytes;
    if (max_body > 0 && body_bytes_ > max_body) {
      data.Clear();
      if (response_started_) {
        ResetDownstream();
      } else {
        LocalReply(413, "request body too large");
      }
      return;
    }
    router_.OnRequestData(data, end_stream);
  }
  void DecodeTrailers(http::RequestHeaderMapPtr trailers) override {
    if (done_) return;
    Activity();
    request_complete_ = true;
    router_.OnRequestTrailers(std::move(trailers));
  }

  // http::StreamCallbacks (the client side of this stream).
  void OnStreamReset(http::StreamResetReason, absl::string_view) override {
    stats_.downstream_resets.fetch_add(1, std::memory_order_relaxed);
    Abandon();
    manager_.OnStreamReset(this);
  }
  void OnAboveWriteBufferHighWatermark() override {
    router_.OnDownstreamAboveWriteBufferHighWatermark();
  }
  void OnBelowWriteBufferLowWatermark() override {
    router_.OnDownstreamBelowWriteBufferLowWatermark();
  }

  // router::RouterCallbacks.
  void Encode100Continue() override { encoder_.Encode100Continue(); }

  void EncodeHeaders(http::ResponseHeaderMapPtr headers, bool end_stream) override {
    response_started_ = true;
    info_.status = headers->status;
    CountStatus(headers->status);
    if (headers->status == 101 && !end_stream && idle_timer_ == nullptr) {
      manager_.ArmTimeout(Timeout::kTunnelIdle);
    } else {
      Activity();
    }
    encoder_.EncodeHeaders(*headers, end_stream);
    if (end_stream) Complete();
  }

  void EncodeData(event::Buffer& data, bool end_stream) override {
    Activity();
    info_.bytes_sent += data.size();
    encoder_.EncodeData(data, end_stream);
    if (end_stream) Complete();
  }

  void EncodeTrailers(http::ResponseHeaderMapPtr trailers) override {
    manager_.OnStreamActivity();
    encoder_.EncodeTrailers(*trailers);
    Complete();
  }

  void SendLocalReply(int status, absl::string_view message) override {
    if (done_) return;
    if (response_started_) {
      ResetDownstream();
      return;
    }
    response_started_ = true;
    info_.status = status;
    info_.details = std::string(message);
    stats_.local_replies.fetch_add(1, std::memory_order_relaxed);
    if (const http::RequestHeaderMap* request =
            rejected_ != nullptr ? rejected_.get() : router_.request_headers();
        request != nullptr && http::IsGrpcRequest(*request)) {
      // A gRPC client reads the status from grpc-status, not from an HTML-ish page.
      http::ResponseHeaderMap headers;
      http::MakeGrpcLocalReply(status, message, headers);
      info_.status = headers.status;
      CountStatus(headers.status);
      encoder_.EncodeHeaders(headers, true);
      Complete();
      return;
    }
    CountStatus(status);
    http::ResponseHeaderMap headers;
    headers.status = status;
    headers.Add("Content-Type", "text/plain");
    event::Buffer body;
    body.Append(message);
    body.Append("\n");
    headers.content_length = body.size();
    info_.bytes_sent += body.size();
    encoder_.EncodeHeaders(headers, false);
    encoder_.EncodeData(body, true);
    Complete();
  }

  void ResetDownstream() override {
    if (done_) return;
    done_ = true;
    encoder_.SetCallbacks(nullptr);
    encoder_.ResetStream();
    manager_.OnStreamReset(this);
  }

  void ReadDisableDownstream(bool disable) override { encoder_.ReadDisable(disable); }
  void ArmRouterTimer(absl::Duration after) override {
    (router_timer_ != nullptr ? *router_timer_ : manager_.router_timer_).Arm(after);
  }
  void DisarmRouterTimer() override {
    (router_timer_ != nullptr ? *router_timer_ : manager_.router_timer_).Disarm();
  }
  accesslog::StreamInfo& stream_info() override { return info_; }
  void OnRouterTimeout() { router_.OnTimeout(); }

  // Nothing moved either way for the stream (or tunnel) idle timeout.
  void OnIdleTimeout() {
    info_.SetFlag(accesslog::kStreamIdleTimeout);
    if (response_started_) {
      info_.details = "stream idle timeout";
      ResetDownstream();
    } else if (request_complete_) {
      LocalReply(504, "upstream sent nothing within the stream idle timeout");
    } else {
      LocalReply(408, "request body not received within the stream idle timeout");
    }
  }

 private:
  // Bytes moved either way: the stream idle timeout starts again.
  void Activity() {
    if (idle_timer_ == nullptr) {
      manager_.OnStreamActivity();
      return;
    }
    const absl::Duration after = manager_.context_.connection_manager_options().stream_idle_timeout;
    if (after > absl::ZeroDuration()) idle_timer_->Arm(after);
  }

  void CountStatus(int status) {
    std::atomic<uint64_t>& counter = status >= 500   ? stats_.responses_5xx
                                     : status >= 400 ? stats_.responses_4xx
                                     : status >= 300 ? stats_.responses_3xx
                                                     : stats_.responses_2xx;
    counter.fetch_add(1, std::memory_order_relaxed);
  }

  void WriteLog(accesslog::AccessLog& log) {
    const http::RequestHeaderMap* request =
        rejected_ != nullptr ? rejected_.get() : router_.request_headers();
    accesslog::RequestLine line{manager_.client_ip_, {}, {}, {}};
    if (request != nullptr) {
      line.method = http::MethodName(request->method);
      line.authority = request->host;
      line.path = request->target;
    }
    std::string out;
    accesslog::AppendLogLine(line, info_, manager_.context_.dispatcher().MonotonicNow(), &out);
    log.Write(out);
  }

  void Complete() {
    done_ = true;
    if (idle_timer_ != nullptr) {
      idle_timer_->Disarm();
      router_timer_->Disarm();
    }
    stats_.request_latency.Record(manager_.context_.dispatcher().MonotonicNow() - started_);
    manager_.OnStreamComplete(this);
  }

  HttpConnectionManager& manager_;
  http::ResponseEncoder& encoder_;
  ConnectionManagerStats& stats_;
  const absl::Duration started_;  // Monotonic.
  // Declared before the router: released after it, since the router's hosts live in it.
  SnapshotPins::Pin snapshot_;
  accesslog::StreamInfo info_;  // Before the router, which writes to it until destroyed.
  // HTTP/2 only (null for HTTP/1, whose manager keeps them): stream idle and router timers;
  // before the router, whose RouterCallbacks use them.
  std::unique_ptr<event::LazyTimer> idle_timer_;
  std::unique_ptr<event::LazyTimer> router_timer_;
  router::Router router_;
  http::RequestHeaderMapPtr rejected_;  // A head refused before routing (for the log).
  uint64_t body_bytes_ = 0;
  bool counted_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool done_ = false;
};

HttpConnectionManager::HttpConnectionManager(ConnectionManagerContext& context,
                                             std::unique_ptr<network::Connection> connection,
                                             bool tls, bool resumed)
    : context_(context),
      connection_(std::move(connection)),
      client_ip_(connection_->peer().Ip()),
      tls_(tls),
      timer_(context.dispatcher(), [this] { OnTimeout(); }),
      router_timer_(context.dispatcher(), [this] {
        if (stream_ != nullptr) stream_->OnRouterTimeout();
      }) {
  connection_->SetCallbacks(this);
  if (const size_t limit = context_.connection_manager_options().buffer_limit_bytes; limit > 0) {
    connection_->SetBufferLimit(limit);
  }
  // From accept: a client that sends nothing is cut too. A TLS connection first gets its
  // handshake's own timeout; kConnected (handshake done) starts the header timeout.
  if (resumed) {
    protocol_ = http::ServerProtocol::kHttp1;
    ArmTimeout(Timeout::kRequestHeader);
    return;
  }
  ArmTimeout(tls_ ? Timeout::kHandshake : Timeout::kRequestHeader);
}

HttpConnectionManager::~HttpConnectionManager() {
  context_.dispatcher().CancelEventEnd(this);
  if (stream_ != nullptr) stream_->Abandon();
  for (auto& stream : streams_) stream->Abandon();
  if (connection_ == nullptr) return;  // Parked.
  connection_->SetCallbacks(nullptr);
  connection_->Close(network::Connection::CloseType::kNoFlush);
}

bool HttpConnectionManager::idle() const {
  return stream_ == nullptr && streams_.empty() && connection_->read_buffer().empty() &&
         connection_->write_buffer_size() == 0;
}

void HttpConnectionManager::StartDrain() {
  if (closed_ || closing_) return;
  if (idle() || codec_ == nullptr) {
    Close();
    return;
  }
  codec_->CloseAfterResponse();  // HTTP/2: GOAWAY; the streams in progress finish.
  if (stream_ == nullptr && streams_.empty()) CloseAfterFlush();  // Nothing more to answer.
}

void HttpConnectionManager::Close() {
  if (closed_) return;
  closed_ = true;
  timer_.Disarm();
  if (stream_ != nullptr) {
    stream_->Abandon();
    context_.dispatcher().DeferredDelete(std::move(stream_));
  }
  for (auto& stream : streams_) {
    stream->Abandon();
    context_.dispatcher().DeferredDelete(std::move(stream));
  }
  streams_.clear();
  connection_->Close(network::Connection::CloseType::kNoFlush);
  Finish();
}

void HttpConnectionManager::CloseAfterFlush() {
  if (closed_ || closing_) return;
  closing_ = true;
  connection_->Close(network::Connection::CloseType::kFlushWrite);
  if (connection_->state() == network::Connection::State::kClosed) {
    closed_ = true;
    timer_.Disarm();
    Finish();
    return;
  }
  // A client that never reads must not keep the connection forever.
  ArmTimeout(Timeout::kClosing);
}

void HttpConnectionManager::Finish() {
  context_.dispatcher().CancelEventEnd(this);
  context_.OnConnectionManagerClosed(this);
}

void HttpConnectionManager::OnEvent(network::ConnectionEvent event) {
  switch (event) {
    case network::ConnectionEvent::kLocalClose:  // The flush-then-close finished.
      if (!closed_) {
        closed_ = true;
        timer_.Disarm();
        Finish();
      }
      return;
    case network::ConnectionEvent::kRemoteClose:
      Close();
      return;
    case network::ConnectionEvent::kConnected:
      // The TLS handshake is done; the codec is chosen from ALPN with the first bytes.
      if (timeout_ == Timeout::kHandshake) ArmTimeout(Timeout::kRequestHeader);
      return;
    case network::ConnectionEvent::kConnectFailed:
      return;
  }
}

void HttpConnectionManager::OnData(event::Buffer&, bool end_stream) { Dispatch(end_stream); }

void HttpConnectionManager::OnEventEnd() {
  if (closed_ || closing_) return;
  if (multiplexing()) {
    CheckIdle();  // A stream ended: the codec has written its last frames by now.
    return;
  }
  Dispatch(false);
  if (closed_) return;
  connection_->ReadBufferDrained();
  const ConnectionManagerOptions& options = context_.connection_manager_options();
  if (options.idle_release_after <= absl::ZeroDuration() ||
      context_.connection_managers() > options.idle_release_above) {
    MaybePark();
  }
}

void HttpConnectionManager::MaybePark() {
  if (codec_ == nullptr || closing_ || context_.draining() || multiplexing() ||
      stream_ != nullptr || timeout_ != Timeout::kIdle || !connection_->read_buffer().empty() ||
      codec_->partial_head() || codec_->stream_active() || codec_->WantsClose()) {
    return;
  }
  // Safe at the end of the event: no codec call is on the stack, and the finished stream
  // (deleted at the end of the loop turn) no longer uses its encoder or this manager's timer.
  codec_.reset();
  timer_.Release();  // May be the timer whose callback this is (LazyTimer allows it).
  router_timer_.Release();
  timeout_ = Timeout::kNone;
  closed_ = true;  // Nothing more runs here; the worker destroys it.
  connection_->SetCallbacks(nullptr);
  context_.idle_connections().Park(
      std::move(connection_), tls_,
      idle_since_ + context_.connection_manager_options().idle_timeout);
  context_.OnConnectionManagerParked(this);
}

void HttpConnectionManager::Dispatch(bool end_stream) {
  LB_DCHECK(context_.dispatcher().IsThreadSafe());
  if (closed_ || closing_) {
    connection_->read_buffer().Clear();
    return;
  }
  if (codec_ == nullptr && (connection_->read_buffer().empty() || !ChooseCodec())) {
    if (end_stream) Close();
    return;  // No bytes yet, or too few to tell the protocol.
  }
  dispatching_ = true;
  absl::Status status = codec_->Dispatch(connection_->read_buffer(), end_stream);
  dispatching_ = false;
  if (closed_) return;
  if (multiplexing()) {
    if (!status.ok()) {
      // The session is over (GOAWAY queued, or the input unusable): its streams end with it.
      for (auto& stream : streams_) {
        stream->Abandon();
        context_.dispatcher().DeferredDelete(std::move(stream));
      }
      streams_.clear();
      CloseAfterFlush();
      return;
    }
    if (end_stream) peer_ended_ = true;  // Streams in progress are still answered.
    if (streams_.empty()) CheckIdle();
    return;
  }
  if (!status.ok()) {
    // The request cannot be read: answer it on the stream the codec started for it.
    connection_->read_buffer().Clear();
    if (stream_ != nullptr && !stream_->response_started()) {
      http::CodecError error = codec_->last_error();
      stream_->LocalReply(error.status, error.reason, accesslog::kDownstreamProtocolError);
    } else {
      Close();
    }
    return;
  }
  if (stream_ == nullptr) {
    if (end_stream) {
      Close();  // The client left between requests or in the middle of a head.
      return;
    }
    if (codec_->partial_head() && timeout_ == Timeout::kIdle) {
      ArmTimeout(Timeout::kRequestHeader);  // Idle keep-alive gives way to the header timeout.
    }
  }
}

bool HttpConnectionManager::ChooseCodec() {
  if (protocol_ == http::ServerProtocol::kUndecided) {
    protocol_ =
        http::DetectServerProtocol(connection_->NegotiatedProtocol(), connection_->read_buffer());
    if (protocol_ == http::ServerProtocol::kUndecided) return false;
  }
  const ConnectionManagerOptions& options = context_.connection_manager_options();
  http::ServerCodecSettings settings;
  settings.http1 = options.codec;
  settings.http2 = options.http2;
  event::Dispatcher& dispatcher = context_.dispatcher();
  codec_ = http::CreateServerCodec(
      protocol_, *connection_, *this, [this] { context_.dispatcher().RunAtEventEnd(this); },
      [&dispatcher] { return dispatcher.MonotonicNow(); }, settings,
      &context_.connection_manager_stats().http2);
  return true;
}

void HttpConnectionManager::RemoveStream(ActiveStream* stream) {
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (it->get() != stream) continue;
    context_.dispatcher().DeferredDelete(std::move(*it));
    streams_.erase(it);
    break;
  }
  // Decided once the current event is over: the codec may still be writing this stream's end.
  if (streams_.empty()) context_.dispatcher().RunAtEventEnd(this);
}

void HttpConnectionManager::CheckIdle() {
  if (closed_ || closing_ || !streams_.empty() || codec_ == nullptr) return;
  if ((codec_->WantsClose() || context_.draining() || peer_ended_) && !codec_->stream_active()) {
    CloseAfterFlush();
    return;
  }
  // Otherwise responses may still be leaving the codec (the client's window is shut, or the
  // connection is above its watermark): checked again after the next input and when the
  // connection drains; the idle timeout bounds the wait.
  if (timeout_ != Timeout::kIdle) {
    // From the end of the last stream; frames without streams (PING) do not extend it.
    ArmTimeout(Timeout::kIdle);
    codec_->ReleaseIdleMemory();
    connection_->ReleaseIdleMemory();
  }
}

http::RequestDecoder& HttpConnectionManager::NewStream(http::ResponseEncoder& encoder) {
  if (multiplexing()) {
    ArmTimeout(Timeout::kNone);  // Each stream has its own idle timeout.
    streams_.push_back(std::make_unique<ActiveStream>(*this, encoder));
    return *streams_.back();
  }
  LB_DCHECK(stream_ == nullptr);
  ArmTimeout(Timeout::kStreamIdle);  // Beside the router's own timeouts.
  stream_ = std::make_unique<ActiveStream>(*this, encoder);
  return *stream_;
}

void HttpConnectionManager::OnStreamComplete(ActiveStream* stream) {
  if (multiplexing()) {
    RemoveStream(stream);
    return;
  }
  LB_DCHECK(stream == stream_.get());
  context_.dispatcher().DeferredDelete(std::move(stream_));
  if (codec_->WantsClose() || context_.draining()) {
    CloseAfterFlush();
    return;
  }
  // Pipelined bytes are dispatched at the end of this event (the codec asked for it).
  if (!connection_->read_buffer().empty()) {
    ArmTimeout(Timeout::kRequestHeader);
    return;
  }
  // Idle keep-alive: nothing of the request stays on the heap (like nginx, which frees a
  // keep-alive connection's buffers): the empty buffers go now, the rest at the end of the
  // event, when the connection is parked (MaybePark; the codec asked for OnEventEnd when the
  // response completed).
  ArmTimeout(Timeout::kIdle);
  connection_->ReleaseIdleMemory();
}

void HttpConnectionManager::OnStreamReset(ActiveStream* stream) {
  if (multiplexing()) {
    RemoveStream(stream);  // One stream ends; the connection goes on.
    return;
  }
  LB_DCHECK(stream == stream_.get());
  Close();
}

void HttpConnectionManager::OnAboveWriteBufferHighWatermark() {
  if (codec_ != nullptr) codec_->OnUnderlyingConnectionAboveWriteBufferHighWatermark();
}

void HttpConnectionManager::OnBelowWriteBufferLowWatermark() {
  if (codec_ != nullptr) codec_->OnUnderlyingConnectionBelowWriteBufferLowWatermark();
  // HTTP/2: the codec wrote what it held; a connection waiting to close may be done.
  if (multiplexing() && streams_.empty()) context_.dispatcher().RunAtEventEnd(this);
}

void HttpConnectionManager::ArmTimeout(Timeout which) {
  timeout_ = which;
  const ConnectionManagerOptions& options = context_.connection_manager_options();
  switch (which) {
    case Timeout::kNone:
      timer_.Disarm();
      return;
    case Timeout::kHandshake:
      timer_.Arm(options.tls_handshake_timeout);
      return;
    case Timeout::kRequestHeader:
      timer_.Arm(options.request_header_timeout);
      return;
    case Timeout::kIdle:
      idle_since_ = context_.dispatcher().MonotonicNow();
      // HTTP/1 first wakes to park (OnTimeout); see idle_release_after.
      timer_.Arm(multiplexing() ? options.idle_timeout
                                : std::min(options.idle_release_after, options.idle_timeout));
      return;
    case Timeout::kClosing:
      timer_.Arm(options.idle_timeout);
      return;
    case Timeout::kStreamIdle:
    case Timeout::kTunnelIdle: {
      const absl::Duration after =
          which == Timeout::kStreamIdle ? options.stream_idle_timeout : options.tunnel_idle_timeout;
      if (after > absl::ZeroDuration()) {
        timer_.Arm(after);
      } else {
        timer_.Disarm();
      }
      return;
    }
  }
}

void HttpConnectionManager::OnTimeout() {
  ConnectionManagerStats& stats = context_.connection_manager_stats();
  switch (timeout_) {
    case Timeout::kNone:
      return;
    case Timeout::kHandshake:
      tls::Stats().handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
      Close();
      return;
    case Timeout::kRequestHeader:
      stats.request_header_timeouts.fetch_add(1, std::memory_order_relaxed);
      if (codec_ == nullptr || multiplexing() ||
          (connection_->read_buffer().empty() && !codec_->partial_head())) {
        Close();  // Nothing was sent at all (or not even a whole HTTP/2 preface).
        return;
      }
      codec_->AbortRequest();  // Starts a stream to answer on.
      if (stream_ != nullptr) {
        stream_->LocalReply(408, "request headers not received in time");
      } else {
        Close();
      }
      return;
    case Timeout::kIdle: {
      const absl::Duration idle_for = context_.dispatcher().MonotonicNow() - idle_since_;
      const absl::Duration timeout = context_.connection_manager_options().idle_timeout;
      if (!multiplexing() && idle_for < timeout) {
        MaybePark();
        if (closed_) return;             // Parked.
        timer_.Arm(timeout - idle_for);  // Not now (draining, bytes waiting): the timeout stands.
        return;
      }
      stats.idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      Close();
      return;
    }
    case Timeout::kClosing:
      stats.idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      Close();
      return;
    case Timeout::kStreamIdle:
    case Timeout::kTunnelIdle:
      (timeout_ == Timeout::kStreamIdle ? stats.stream_idle_timeouts : stats.tunnel_idle_timeouts)
          .fetch_add(1, std::memory_order_relaxed);
      timeout_ = Timeout::kNone;
      if (stream_ != nullptr) {
        stream_->OnIdleTimeout();
      } else {
        Close();
      }
      return;
  }
}

// A parked connection: it hears its client (new bytes resume it, a close ends it) until its
// idle deadline. A plaintext one keeps only its socket, in the list's FdGroup; one whose
// transport has state (TLS) keeps its whole connection.
//
// Deleted at once by the list (its callbacks return right after); a kept connection, whose
// callback may be on the stack, at the end of the loop turn.
class IdleConnections::Parked final : public network::ConnectionCallbacks {
 public:
  Parked(IdleConnections& list, std::unique_ptr<network::Connection> connection, bool tls)
      : list_(list), connection_(std::move(connection)), tls_(tls) {
    connection_->SetCallbacks(this);
  }
  ~Parked() override {
    if (fd_ >= 0) {
      list_.sockets_->Remove(fd_);
      close(fd_);
    }
    if (connection_ == nullptr) return;  // Resumed, closed by the list, or a socket alone.
    connection_->SetCallbacks(nullptr);
    connection_->Close(network::Connection::CloseType::kNoFlush);
  }

  // These may delete `this`: nothing follows the list's calls.
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kRemoteClose) list_.Close(this);
  }
  void OnData(event::Buffer& data, bool end_stream) override {
    if (!data.empty()) {
      list_.Resume(this, end_stream);
    } else if (end_stream) {
      list_.Close(this);  // The client left between requests.
    }
  }
  void OnSocketReadable() {
    switch (event::PeekPending(fd_)) {
      case event::Pending::kBytes:
        list_.Resume(this, /*end_stream=*/false);
        return;
      case event::Pending::kEnd:
        list_.Close(this);
        return;
      case event::Pending::kNothing:
        return;
    }
  }

 private:
  friend class IdleConnections;
  // Kept small: one per idle connection (56 bytes).
  IdleConnections& list_;
  std::unique_ptr<network::Connection> connection_;  // Null once resumed, or a socket alone.
  Parked* prev_ = nullptr;
  Parked* next_ = nullptr;
  int64_t deadline_ns_ = 0;  // Monotonic.
  int fd_ = -1;              // A socket alone (in sockets_); -1 once resumed.
  const bool tls_;
};

IdleConnections::IdleConnections(ConnectionManagerContext& context)
    : context_(context),
      timer_(context.dispatcher(), [this] { OnTimer(); }),
      demote_timer_(context.dispatcher(), [this] { OnDemoteTimer(); }) {}

IdleConnections::~IdleConnections() {
  // Not through Unlink(): the context may be going away too (it owns the list).
  while (head_ != nullptr) {
    Parked* parked = head_;
    head_ = parked->next_;
    delete parked;
  }
}

void IdleConnections::CloseAll() {
  while (head_ != nullptr) Close(head_);  // Bounded: each call takes one out.
}

void IdleConnections::Park(std::unique_ptr<network::Connection> connection, bool tls,
                           absl::Duration deadline) {
  auto* parked = new Parked(*this, std::move(connection), tls);
  parked->deadline_ns_ = absl::ToInt64Nanoseconds(deadline);
  parked->prev_ = tail_;
  if (tail_ != nullptr) {
    tail_->next_ = parked;
  } else {
    head_ = parked;
    timer_.Arm(std::max(deadline - context_.dispatcher().MonotonicNow(), absl::ZeroDuration()));
  }
  tail_ = parked;
  ++size_;
  if (tls) return;
  AddWarm(1);
  const absl::Duration now = context_.dispatcher().MonotonicNow();
  const uint64_t warm =
      context_.connection_manager_stats().idle_warm.load(std::memory_order_relaxed);
  if (SocketAloneAt(parked) <= now || warm > context_.connection_manager_options().idle_warm_max) {
    ToSocketAlone(parked);
  } else if (demote_next_ == nullptr) {
    demote_next_ = parked;
    demote_timer_.Arm(SocketAloneAt(parked) - now);
  }
}

void IdleConnections::AddWarm(int delta) {
  context_.connection_manager_stats().idle_warm.fetch_add(static_cast<uint64_t>(delta),
                                                          std::memory_order_relaxed);
}

absl::Duration IdleConnections::SocketAloneAt(const Parked* parked) const {
  const ConnectionManagerOptions& options = context_.connection_manager_options();
  // The deadline is the idle start plus the idle timeout.
  return absl::Nanoseconds(parked->deadline_ns_) - options.idle_timeout +
         std::max(options.idle_release_after, absl::ZeroDuration());
}

void IdleConnections::ToSocketAlone(Parked* parked) {
  if (sockets_ == nullptr) {
    // Fails only out of descriptors; connections stay whole until a later try succeeds.
    absl::StatusOr<std::unique_ptr<event::FdGroup>> group =
        event::FdGroup::Create(context_.dispatcher(), [](void* tag) {
          static_cast<Parked*>(tag)->OnSocketReadable();  // May delete it.
        });
    if (!group.ok()) return;
    sockets_ = std::move(*group);
  }
  const int fd = parked->connection_->ReleaseSocket();
  if (fd < 0) return;  // Not idle after all (bytes arrived): its next event resumes it.
  if (!sockets_->Add(fd, parked).ok()) {
    // The kernel refused the entry (out of memory): whole again, on a new connection.
    const event::SocketAddress peer = parked->connection_->peer();
    context_.dispatcher().DeferredDelete(std::move(parked->connection_));
    parked->connection_ = PlaintextConnection(fd, peer);
    parked->connection_->SetCallbacks(parked);
    return;
  }
  parked->fd_ = fd;
  AddWarm(-1);
  // Closed, its socket gone; a callback of it may be on the stack.
  context_.dispatcher().DeferredDelete(std::move(parked->connection_));
}

std::unique_ptr<network::Connection> IdleConnections::PlaintextConnection(
    int fd, const event::SocketAddress& peer) {
  return network::CreateServerConnection(context_.dispatcher(), fd, peer,
                                         std::make_unique<network::RawTransportSocket>());
}

void IdleConnections::OnDemoteTimer() {
  const absl::Duration now = context_.dispatcher().MonotonicNow();
  // Bounded by the list's length: the cursor only moves forward.
  while (demote_next_ != nullptr) {
    Parked* parked = demote_next_;
    if (parked->connection_ != nullptr && !parked->tls_) {
      if (SocketAloneAt(parked) > now) break;
      ToSocketAlone(parked);
    }
    demote_next_ = parked->next_;
  }
  if (demote_next_ != nullptr) demote_timer_.Arm(SocketAloneAt(demote_next_) - now);
}

void IdleConnections::Unlink(Parked* parked) {
  if (demote_next_ == parked) demote_next_ = parked->next_;
  if (parked->connection_ != nullptr && !parked->tls_) AddWarm(-1);
  (parked->prev_ != nullptr ? parked->prev_->next_ : head_) = parked->next_;
  (parked->next_ != nullptr ? parked->next_->prev_ : tail_) = parked->prev_;
  parked->prev_ = parked->next_ = nullptr;
  --size_;
  // An earlier wake-up than needed is harmless: OnTimer() arms for the new head.
  if (head_ == nullptr) {
    timer_.Disarm();
    demote_timer_.Disarm();
  }
}

void IdleConnections::Close(Parked* parked) {
  Unlink(parked);
  std::unique_ptr<network::Connection> connection = std::move(parked->connection_);
  delete parked;  // Closes the socket of a socket-only one.
  if (connection != nullptr) {
    connection->SetCallbacks(nullptr);
    connection->Close(network::Connection::CloseType::kNoFlush);
    // Deferred: this may run inside the connection's own callback.
    context_.dispatcher().DeferredDelete(std::move(connection));
  }
  context_.OnParkedConnectionClosed();
}

void IdleConnections::Resume(Parked* parked, bool end_stream) {
  Unlink(parked);
  std::unique_ptr<network::Connection> connection = std::move(parked->connection_);
  const bool tls = parked->tls_;
  if (connection == nullptr) {
    // A socket alone: a new plaintext connection takes it up and reads the request's bytes
    // when its watcher fires (level-triggered: the next loop turn).
    const int fd = std::exchange(parked->fd_, -1);
    sockets_->Remove(fd);
    delete parked;
    absl::StatusOr<event::SocketAddress> peer = event::PeerOf(fd);
    if (!peer.ok()) {  // Gone already (reset).
      close(fd);
      context_.OnParkedConnectionClosed();
      return;
    }
    context_.ResumeConnection(PlaintextConnection(fd, *peer), /*tls=*/false);
    return;
  }
  delete parked;
  network::Connection* raw = connection.get();
  HttpConnectionManager& manager = context_.ResumeConnection(std::move(connection), tls);
  manager.OnData(raw->read_buffer(), end_stream);
}

void IdleConnections::OnTimer() {
  const absl::Duration now = context_.dispatcher().MonotonicNow();
  // Bounded by the list's length; each expired connection leaves it.
  while (head_ != nullptr && absl::Nanoseconds(head_->deadline_ns_) <= now) {
    context_.connection_manager_stats().idle_timeouts.fetch_add(1, std::memory_order_relaxed);
    Close(head_);
  }
  if (head_ != nullptr) timer_.Arm(absl::Nanoseconds(head_->deadline_ns_) - now);
}

}  // namespace lb::proxy
