// HTTP/1.0 and 1.1 codecs over a proxy::network::Connection, on the strict zero-copy parser of
// parser.h.
//
// Server side: requests are taken one at a time. After a request's body the codec stops parsing
// (pipelined bytes stay in the connection's read buffer) until the response is complete; then it
// asks its owner to dispatch again (ServerCodecCallbacks are told through the owner-supplied
// `resume` function, run at the end of the current event). Response framing is the codec's:
// Content-Length when the length is known, chunked for HTTP/1.1 clients otherwise, and
// close-delimited for HTTP/1.0 clients (which cannot take chunked). "Connection: close" is sent
// on the answer after which the connection closes. Bodies of answers to HEAD are dropped. An
// Upgrade request answered with 101 turns both directions into a raw byte tunnel.
//
// Client side: one request at a time per connection; 1xx interim answers are dropped (the
// proxy answers Expect: 100-continue itself); a 101 that was not asked for is an error.
// Request bodies of unknown length are sent chunked.
//
// Bodies are moved, never copied, except chunk framing. Chunked bodies are de-chunked on input
// and re-chunked on output; chunk extensions are checked and dropped. Trailer fields (RFC 9112
// 7.1.2) go both ways: a chunked body's trailer section becomes DecodeTrailers (request and
// response), and EncodeTrailers writes one after the last chunk when the body is chunked (a
// request of unknown length; a response to a client that sent "TE: trailers"), else the body
// just ends. Trailer sections have the head limits (bytes and field count; over them: 431 to
// a client, a protocol-error reset from an upstream) and lose the fields that may not be
// trailers (IsForbiddenTrailerField).
//
// Threading: loop thread of the connection only.
#ifndef LB_PROXY_HTTP_HTTP1_CODEC_H_
#define LB_PROXY_HTTP_HTTP1_CODEC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/recycled.h"
#include "proxy/event/buffer.h"
#include "proxy/http/codec.h"
#include "proxy/http/header_map.h"
#include "proxy/http/parser.h"
#include "proxy/network/connection.h"

namespace lb::http {

struct Http1Settings {
  HeadLimits head_limits;
};

// Recycled: an idle keep-alive connection gives its codec back (HttpConnectionManager), so one
// is made per request; the free list makes that cost no allocation.
class Http1ServerCodec final : public ServerCodec,
                               public ResponseEncoder,
                               public Recycled<Http1ServerCodec> {
 public:
  // `resume` is called (from an encoder call) when dispatching can go on with bytes already in
  // the connection's read buffer; the owner should call Dispatch() again once the current event
  // is over. All references must outlive the codec.
  Http1ServerCodec(proxy::network::Connection& connection, ServerCodecCallbacks& callbacks,
                   std::function<void()> resume, const Http1Settings& settings = {});

  // ServerCodec.
  absl::Status Dispatch(proxy::event::Buffer& data, bool end_stream) override;
  CodecError last_error() const override { return error_; }
  void CloseAfterResponse() override { close_after_response_ = true; }
  void AbortRequest() override;
  bool WantsClose() const override { return state_ == State::kClosed; }
  bool stream_active() const override { return stream_open_; }
  bool partial_head() const override { return partial_head_; }
  void OnUnderlyingConnectionAboveWriteBufferHighWatermark() override;
  void OnUnderlyingConnectionBelowWriteBufferLowWatermark() override;
  // Between requests: frees the parser's memory (see HttpConnectionManager's idle state).
  void ReleaseIdleMemory() override {
    if (!stream_open_ && !partial_head_) parser_.ReleaseMemory();
  }

  // ResponseEncoder.
  void SetCallbacks(StreamCallbacks* callbacks) override { stream_callbacks_ = callbacks; }
  void ReadDisable(bool disable) override { connection_.ReadDisable(disable); }
  void ResetStream() override;
  void Encode100Continue() override;
  void EncodeHeaders(const ResponseHeaderMap& headers, bool end_stream) override;
  void EncodeData(proxy::event::Buffer& data, bool end_stream) override;
  // Sent as the chunked body's trailer section when the response is chunked and the request
  // had "TE: trailers"; dropped otherwise.
  void EncodeTrailers(const ResponseHeaderMap& trailers) override;

 private:
  enum class State : uint8_t {
    kHead,         // Waiting for a request head.
    kBody,         // Reading the current request's body.
    kRequestDone,  // Request complete; waiting for its response to finish.
    kTunnel,       // Upgraded: raw bytes both ways.
    kClosed,       // No further input is taken; the connection closes after the response.
  };

  absl::Status DispatchHead(proxy::event::Buffer& data);
  // Moves what belongs to the current body from `data` to the decoder.
  absl::Status DispatchBody(proxy::event::Buffer& data);
  void StartStream();
  void ResponseComplete();
  void Fail(int status, absl::string_view reason);

  proxy::network::Connection& connection_;
  ServerCodecCallbacks& callbacks_;
  const std::function<void()> resume_;
  RequestParser parser_;
  const size_t max_head_;
  const size_t max_trailer_fields_;
  State state_ = State::kHead;
  CodecError error_;
  bool partial_head_ = false;
  bool close_after_response_ = false;
  bool peer_ended_ = false;
  bool tunnel_in_ended_ = false;

  // The current stream.
  bool stream_open_ = false;
  RequestDecoder* decoder_ = nullptr;
  StreamCallbacks* stream_callbacks_ = nullptr;
  bool http10_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool upgrade_requested_ = false;
  bool te_trailers_ = false;  // The request said "TE: trailers".
  BodyFraming body_framing_ = BodyFraming::kNone;
  uint64_t body_remaining_ = 0;
  ChunkedDecoder chunks_;
  // Response.
  bool response_started_ = false;
  bool chunked_out_ = false;
  bool no_body_out_ = false;   // HEAD, or end_stream with the head.
  proxy::event::Buffer body_;  // Scratch for request body bytes on their way to the decoder.
  proxy::event::Buffer out_;   // Scratch for chunk-encoding response bytes.
  std::string head_;           // Scratch for encoding heads; keeps its capacity.
};

class Http1ClientCodec final : public ClientCodec, public RequestEncoder {
 public:
  // All references must outlive the codec.
  Http1ClientCodec(proxy::network::Connection& connection, ClientCodecCallbacks& callbacks,
                   const Http1Settings& settings = {});

  // ClientCodec.
  RequestEncoder& NewStream(ResponseDecoder& decoder) override;
  absl::Status Dispatch(proxy::event::Buffer& data, bool end_stream) override;
  void OnConnectionClosed(absl::string_view details) override;
  bool stream_active() const override { return decoder_ != nullptr; }
  void OnUnderlyingConnectionAboveWriteBufferHighWatermark() override;
  void OnUnderlyingConnectionBelowWriteBufferLowWatermark() override;

  // RequestEncoder.
  void SetCallbacks(StreamCallbacks* callbacks) override { stream_callbacks_ = callbacks; }
  void ReadDisable(bool disable) override { connection_.ReadDisable(disable); }
  void ResetStream() override;
  void EncodeHeaders(const RequestHeaderMap& headers, bool end_stream) override;
  void EncodeData(proxy::event::Buffer& data, bool end_stream) override;
  // Written as the chunked body's trailer section when the request is chunked (no length was
  // known); dropped otherwise (the body just ends).
  void EncodeTrailers(const RequestHeaderMap& trailers) override;

 private:
  enum class State : uint8_t { kHead, kBody, kTunnel };

  absl::Status DispatchBody(proxy::event::Buffer& data, bool end_stream);
  // Ends the active stream with a reset reported to its callbacks; returns the error for
  // Dispatch().
  absl::Status ResetActive(StreamResetReason reason, absl::string_view details);
  // The response ended; `rest` is what the upstream sent after it.
  void Complete(const proxy::event::Buffer& rest);

  proxy::network::Connection& connection_;
  ClientCodecCallbacks& callbacks_;
  ResponseParser parser_;
  const size_t max_head_;
  const size_t max_trailer_fields_;

  ResponseDecoder* decoder_ = nullptr;
  StreamCallbacks* stream_callbacks_ = nullptr;
  Method method_ = Method::kGet;
  bool upgrade_requested_ = false;
  bool request_complete_ = false;
  bool chunked_out_ = false;
  bool tunnel_out_ = false;
  State state_ = State::kHead;
  bool any_bytes_ = false;  // Of the current response.
  bool keep_alive_ = true;
  BodyFraming body_framing_ = BodyFraming::kNone;
  uint64_t body_remaining_ = 0;
  ChunkedDecoder chunks_;
  proxy::event::Buffer body_;
  proxy::event::Buffer out_;
  std::string head_;
};

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_HTTP1_CODEC_H_
