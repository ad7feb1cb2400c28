// The codec layer: protocol-neutral streams over a byte connection. A server codec turns the
// bytes a client sends into request streams and writes their responses; a client codec writes
// requests to an upstream and turns its bytes into responses. HTTP/1.x implements both today
// (http1_codec.h); HTTP/2 implements the server side (http2_codec.h).
//
// Ownership and re-entrancy: codecs call decoders synchronously from Dispatch(). Encoder calls
// write to the connection at once and never call back into the caller's decoder or stream
// callbacks from inside the encoder call, except where a method says so.
//
// Threading: loop thread of the connection only.
#ifndef LB_PROXY_HTTP_CODEC_H_
#define LB_PROXY_HTTP_CODEC_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proxy/event/buffer.h"
#include "proxy/http/header_map.h"

namespace lb::http {

enum class StreamResetReason : uint8_t {
  // The connection closed or was reset before the message was complete.
  kConnectionTermination,
  // The peer sent bytes that are not valid HTTP (or an incomplete message head before
  // closing).
  kProtocolError,
  // Our side gave up on the stream (timeout, the other side went away).
  kLocalReset,
  // The peer did not process the stream (HTTP/2 REFUSED_STREAM, or a GOAWAY whose
  // last_stream_id is below it): safe to retry whatever the request.
  kRemoteRefusedStream,
};

// Flow control and resets of one stream, for whoever drives it.
class StreamCallbacks {
 public:
  virtual ~StreamCallbacks() = default;
  // The stream ended before completion; no other call on it follows. `details` names the cause
  // for logs and local replies.
  virtual void OnStreamReset(StreamResetReason reason, absl::string_view details) = 0;
  // The stream's send side buffers more than its limit: stop producing for it until ...
  virtual void OnAboveWriteBufferHighWatermark() = 0;
  // ... it has drained below half of the limit.
  virtual void OnBelowWriteBufferLowWatermark() = 0;
};

// What both directions of a stream offer.
class Stream {
 public:
  virtual ~Stream() = default;
  // At most one set of callbacks; nullptr detaches.
  virtual void SetCallbacks(StreamCallbacks* callbacks) = 0;
  // Stops (true) or resumes (false) delivering this stream's incoming bytes.
  virtual void ReadDisable(bool disable) = 0;
  // Abandons the stream (HTTP/1: its connection is closed). No callback follows.
  virtual void ResetStream() = 0;
};

// --- Server side (client-facing) ------------------------------------------------------------

// How a stream sends its response.
class ResponseEncoder : public Stream {
 public:
  virtual void Encode100Continue() = 0;
  virtual void EncodeHeaders(const ResponseHeaderMap& headers, bool end_stream) = 0;
  // Moves `data` out; `end_stream` ends the response.
  virtual void EncodeData(proxy::event::Buffer& data, bool end_stream) = 0;
  // Ends the response with trailer fields (after EncodeHeaders without end_stream). HTTP/1
  // cannot carry them on every response (only chunked, to a client that sent "TE: trailers")
  // and drops them otherwise: the default ends the body.
  virtual void EncodeTrailers(const ResponseHeaderMap& trailers) {
    (void)trailers;
    proxy::event::Buffer none;
    EncodeData(none, true);
  }
};

// What a server codec feeds a stream.
class RequestDecoder {
 public:
  virtual ~RequestDecoder() = default;
  virtual void DecodeHeaders(RequestHeaderMapPtr headers, bool end_stream) = 0;
  // Takes all of `data`; `end_stream` ends the request.
  virtual void DecodeData(proxy::event::Buffer& data, bool end_stream) = 0;
  // The request ends with trailer fields (HTTP/2, or a chunked HTTP/1.1 body). The default
  // drops them and ends the body.
  virtual void DecodeTrailers(RequestHeaderMapPtr trailers) {
    trailers.reset();
    proxy::event::Buffer none;
    DecodeData(none, true);
  }
};

class ServerCodecCallbacks {
 public:
  virtual ~ServerCodecCallbacks() = default;
  // A request begins; its response goes to `encoder`. Also called for a request that fails to
  // parse (Dispatch then returns the error and no DecodeHeaders follows), so the error can be
  // answered on a stream.
  virtual RequestDecoder& NewStream(ResponseEncoder& encoder) = 0;
};

// A request the codec could not take, and the status to answer it with.
struct CodecError {
  int status = 400;
  absl::string_view reason;  // Static text.
};

class ServerCodec {
 public:
  virtual ~ServerCodec() = default;
  // Parses what it can of `data` (draining what it used) and calls the stream decoders.
  // `end_stream`: the client half-closed. Returns the error that ends the connection, if any;
  // the stream it belongs to (see NewStream) should answer it.
  virtual absl::Status Dispatch(proxy::event::Buffer& data, bool end_stream) = 0;
  // The status and reason of the last error returned by Dispatch().
  virtual CodecError last_error() const = 0;
  // Answers to come announce that the connection closes after the current one (drain, or an
  // error that leaves the input unusable).
  virtual void CloseAfterResponse() = 0;
  // Gives up on the request being received (its head took too long): NewStream() is called
  // for a stream to answer on, as for a parse error, and no further input is taken.
  virtual void AbortRequest() = 0;
  // True once the connection must close: no further request will be taken (the client asked,
  // a response ended it, or CloseAfterResponse()). Read after the stream completed.
  virtual bool WantsClose() const = 0;
  // A request is in progress: its head arrived and its response is not complete.
  virtual bool stream_active() const = 0;
  // Bytes of a request head are buffered but the head is not complete yet.
  virtual bool partial_head() const = 0;
  // The connection's write buffer crossed its high / low watermark: passed on to the streams.
  virtual void OnUnderlyingConnectionAboveWriteBufferHighWatermark() = 0;
  virtual void OnUnderlyingConnectionBelowWriteBufferLowWatermark() = 0;
  // Several requests at once (HTTP/2): NewStream() is called while other streams are active,
  // each stream ends on its own (a reset ends one stream, not the connection), and
  // CloseAfterResponse() lets the active streams finish (GOAWAY). The connection-level
  // request-header timeout and partial_head()/AbortRequest() do not apply.
  virtual bool multiplexing() const { return false; }
  // Between requests: frees what the codec keeps only while a request is in progress.
  virtual void ReleaseIdleMemory() {}
};

// --- Client side (upstream-facing) ----------------------------------------------------------

// How a stream sends its request upstream.
class RequestEncoder : public Stream {
 public:
  virtual void EncodeHeaders(const RequestHeaderMap& headers, bool end_stream) = 0;
  virtual void EncodeData(proxy::event::Buffer& data, bool end_stream) = 0;
  // Ends the request with trailer fields. HTTP/1 sends them after a chunked body only (a
  // request of unknown length) and drops them otherwise; the default ends the body.
  virtual void EncodeTrailers(const RequestHeaderMap& trailers) {
    (void)trailers;
    proxy::event::Buffer none;
    EncodeData(none, true);
  }
};

// What a client codec feeds the stream that waits for a response.
class ResponseDecoder {
 public:
  virtual ~ResponseDecoder() = default;
  virtual void DecodeHeaders(ResponseHeaderMapPtr headers, bool end_stream) = 0;
  virtual void DecodeData(proxy::event::Buffer& data, bool end_stream) = 0;
  // The response ends with trailer fields. The default drops them and ends the body.
  virtual void DecodeTrailers(ResponseHeaderMapPtr trailers) {
    trailers.reset();
    proxy::event::Buffer none;
    DecodeData(none, true);
  }
};

// What a client codec tells the owner of its connection (the connection pool).
class ClientCodecCallbacks {
 public:
  virtual ~ClientCodecCallbacks() = default;
  // The active stream's response is complete (after its decoder got end_stream).
  // `reusable`: the connection may carry another request.
  virtual void OnResponseComplete(bool reusable) = 0;
  // The active stream was reset by our side (RequestEncoder::ResetStream): the connection must
  // be closed.
  virtual void OnLocalReset() = 0;
};

class ClientCodec {
 public:
  virtual ~ClientCodec() = default;
  // Starts a request whose response goes to `decoder`. HTTP/1: at most one at a time.
  virtual RequestEncoder& NewStream(ResponseDecoder& decoder) = 0;
  // Parses what it can of the upstream's bytes (draining them); `end_stream`: the upstream
  // closed. An error means the connection is unusable (the active stream, if any, has been
  // reset through its callbacks already).
  virtual absl::Status Dispatch(proxy::event::Buffer& data, bool end_stream) = 0;
  // The connection closed or failed under an active stream: resets it.
  virtual void OnConnectionClosed(absl::string_view details) = 0;
  virtual bool stream_active() const = 0;
  virtual void OnUnderlyingConnectionAboveWriteBufferHighWatermark() = 0;
  virtual void OnUnderlyingConnectionBelowWriteBufferLowWatermark() = 0;
};

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_CODEC_H_
