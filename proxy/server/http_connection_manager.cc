#include "proxy/server/http_connection_manager.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/base/recycled.h"
#include "proxy/http/request_target.h"

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
    router_.StartRequest(snapshot_.get(), std::move(headers), end_stream, manager_.client_ip_);
  }

  void DecodeData(event::Buffer& data, bool end_stream) override {
    if (done_) {
      data.Clear();
      return;
    }
    manager_.OnStreamActivity();
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
    if (headers->status == 101 && !end_stream) {
      manager_.ArmTimeout(Timeout::kTunnelIdle);
    } else {
      manager_.OnStreamActivity();
    }
    encoder_.EncodeHeaders(*headers, end_stream);
    if (end_stream) Complete();
  }

  void EncodeData(event::Buffer& data, bool end_stream) override {
    manager_.OnStreamActivity();
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
  void ArmRouterTimer(absl::Duration after) override { manager_.router_timer_.Arm(after); }
  void DisarmRouterTimer() override { manager_.router_timer_.Disarm(); }
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
  router::Router router_;
  http::RequestHeaderMapPtr rejected_;  // A head refused before routing (for the log).
  uint64_t body_bytes_ = 0;
  bool counted_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool done_ = false;
};

HttpConnectionManager::HttpConnectionManager(ConnectionManagerContext& context,
                                             std::unique_ptr<network::Connection> connection)
    : context_(context),
      connection_(std::move(connection)),
      client_ip_(connection_->peer().Ip()),
      timer_(context.dispatcher(), [this] { OnTimeout(); }),
      router_timer_(context.dispatcher(), [this] {
        if (stream_ != nullptr) stream_->OnRouterTimeout();
      }) {
  codec_ = std::make_unique<http::Http1ServerCodec>(
      *connection_, *this, [this] { context_.dispatcher().RunAtEventEnd(this); },
      context_.connection_manager_options().codec);
  connection_->SetCallbacks(this);
  if (const size_t limit = context_.connection_manager_options().buffer_limit_bytes; limit > 0) {
    connection_->SetBufferLimit(limit);
  }
  ArmTimeout(Timeout::kRequestHeader);  // From accept: a client that sends nothing is cut too.
}

HttpConnectionManager::~HttpConnectionManager() {
  context_.dispatcher().CancelEventEnd(this);
  if (stream_ != nullptr) stream_->Abandon();
  connection_->SetCallbacks(nullptr);
  connection_->Close(network::Connection::CloseType::kNoFlush);
}

bool HttpConnectionManager::idle() const {
  return stream_ == nullptr && connection_->read_buffer().empty() &&
         connection_->write_buffer_size() == 0;
}

void HttpConnectionManager::StartDrain() {
  if (closed_ || closing_) return;
  if (idle()) {
    Close();
    return;
  }
  codec_->CloseAfterResponse();
  if (stream_ == nullptr) CloseAfterFlush();  // Nothing more will be answered.
}

void HttpConnectionManager::Close() {
  if (closed_) return;
  closed_ = true;
  timer_.Disarm();
  if (stream_ != nullptr) {
    stream_->Abandon();
    context_.dispatcher().DeferredDelete(std::move(stream_));
  }
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
    case network::ConnectionEvent::kConnectFailed:
      return;
  }
}

void HttpConnectionManager::OnData(event::Buffer&, bool end_stream) { Dispatch(end_stream); }

void HttpConnectionManager::OnEventEnd() {
  if (closed_ || closing_) return;
  Dispatch(false);
  if (!closed_) connection_->ReadBufferDrained();
}

void HttpConnectionManager::Dispatch(bool end_stream) {
  LB_DCHECK(context_.dispatcher().IsThreadSafe());
  if (closed_ || closing_) {
    connection_->read_buffer().Clear();
    return;
  }
  dispatching_ = true;
  absl::Status status = codec_->Dispatch(connection_->read_buffer(), end_stream);
  dispatching_ = false;
  if (closed_) return;
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

http::RequestDecoder& HttpConnectionManager::NewStream(http::ResponseEncoder& encoder) {
  LB_DCHECK(stream_ == nullptr);
  ArmTimeout(Timeout::kStreamIdle);  // Beside the router's own timeouts.
  stream_ = std::make_unique<ActiveStream>(*this, encoder);
  return *stream_;
}

void HttpConnectionManager::OnStreamComplete(ActiveStream* stream) {
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
  // keep-alive connection's buffers): the parser's index and the empty buffers go.
  ArmTimeout(Timeout::kIdle);
  codec_->ReleaseIdleMemory();
  connection_->ReleaseIdleMemory();
}

void HttpConnectionManager::OnStreamReset(ActiveStream* stream) {
  LB_DCHECK(stream == stream_.get());
  Close();
}

void HttpConnectionManager::OnAboveWriteBufferHighWatermark() {
  codec_->OnUnderlyingConnectionAboveWriteBufferHighWatermark();
}

void HttpConnectionManager::OnBelowWriteBufferLowWatermark() {
  codec_->OnUnderlyingConnectionBelowWriteBufferLowWatermark();
}

void HttpConnectionManager::ArmTimeout(Timeout which) {
  timeout_ = which;
  const ConnectionManagerOptions& options = context_.connection_manager_options();
  switch (which) {
    case Timeout::kNone:
      timer_.Disarm();
      return;
    case Timeout::kRequestHeader:
      timer_.Arm(options.request_header_timeout);
      return;
    case Timeout::kIdle:
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
    case Timeout::kRequestHeader:
      stats.request_header_timeouts.fetch_add(1, std::memory_order_relaxed);
      if (connection_->read_buffer().empty() && !codec_->partial_head()) {
        Close();  // Nothing was sent at all.
        return;
      }
      codec_->AbortRequest();  // Starts a stream to answer on.
      if (stream_ != nullptr) {
        stream_->LocalReply(408, "request headers not received in time");
      } else {
        Close();
      }
      return;
    case Timeout::kIdle:
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

}  // namespace lb::proxy
