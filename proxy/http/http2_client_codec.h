// The HTTP/2 client codec (RFC 9113) on nghttp2: many request streams multiplexed over one
// upstream connection. The codec owns no socket: it reads what Dispatch() is given and writes
// through network::Connection::Write(), so it runs the same over plaintext (h2c with prior
// knowledge) and over a TLS transport socket that negotiated "h2".
//
// Translation of a request head (HeaderMap, usually from an HTTP/1.1 client) into HTTP/2:
//   :method, :scheme (Http2ClientSettings::scheme), :authority from Host, :path from the
//   target (absolute-form reduced to its path); field names lowercased; Host and the
//   connection-specific fields (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
//   Upgrade, TE) dropped, except that a gRPC request (content-type application/grpc...) gets
//   "te: trailers"; a known body length becomes content-length. Upgrade and CONNECT requests
//   cannot be carried: their stream is reset (kProtocolError) at once.
// A response head becomes a ResponseHeaderMap: :status, content-length parsed into
// content_length (and not kept as a field), 1xx interim heads dropped. Trailers (a HEADERS
// frame after DATA) go to ResponseDecoder::DecodeTrailers. Request trailers
// (RequestEncoder::EncodeTrailers) follow the body as a HEADERS frame with END_STREAM.
//
// Flow control: incoming DATA is acknowledged (WINDOW_UPDATE) only once it was handed to the
// stream's decoder, so a stream whose reader paused (ReadDisable) stops its sender after the
// window (Http2ClientSettings::stream_window_bytes). Request bodies wait in the stream until
// the peer's window takes them; a stream holding more than `stream_buffer_limit` raises its
// high watermark.
//
// Lifetime: streams belong to the codec. A stream stays valid until its decoder got end_stream
// (or trailers) or its callbacks got OnStreamReset, or until the caller reset it; it is freed
// later, never under a callback of its own.
//
// Threading: loop thread of the connection only.
#ifndef LB_PROXY_HTTP_HTTP2_CLIENT_CODEC_H_
#define LB_PROXY_HTTP_HTTP2_CLIENT_CODEC_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proxy/event/buffer.h"
#include "proxy/http/codec.h"
#include "proxy/http/header_map.h"
#include "proxy/network/connection.h"

struct nghttp2_session;

namespace lb::http {

struct Http2ClientSettings {
  // Streams this side opens at once on the connection, whatever the peer allows.
  uint32_t max_concurrent_streams = 100;
  // Receive windows: per stream, and for the whole connection.
  uint32_t stream_window_bytes = 256 * 1024;
  uint32_t connection_window_bytes = 1024 * 1024;
  // A response head (or trailers) larger than this, or with more fields, resets its stream.
  uint32_t max_header_list_bytes = 60 * 1024;
  uint32_t max_headers = 100;
  // Request body bytes a stream holds before raising its high watermark.
  uint32_t stream_buffer_limit = 1024 * 1024;
  std::string scheme = "http";
};

// What the codec tells the owner of its connection (the HTTP/2 pool).
class Http2ClientCodecCallbacks {
 public:
  virtual ~Http2ClientCodecCallbacks() = default;
  // A stream ended (complete or reset, either side): its slot is free. Called after the
  // stream's own decoder or reset callback.
  virtual void OnStreamClosed() = 0;
  // The peer sent GOAWAY: no new stream may start on this connection; streams it did not
  // process have been (or are being) reset with kRemoteRefusedStream.
  virtual void OnGoAway() = 0;
  // The peer's SETTINGS arrived or changed (max_concurrent_streams may differ).
  virtual void OnSettings() {}
};

class Http2ClientCodec final : public ClientCodec {
 public:
  // Queues the connection preface and SETTINGS (written at once). References must outlive the
  // codec.
  Http2ClientCodec(proxy::network::Connection& connection, Http2ClientCodecCallbacks& callbacks,
                   const Http2ClientSettings& settings = {});
  ~Http2ClientCodec() override;
  Http2ClientCodec(const Http2ClientCodec&) = delete;
  Http2ClientCodec& operator=(const Http2ClientCodec&) = delete;

  // ClientCodec. NewStream only while CanOpenStream(); its request starts with EncodeHeaders.
  RequestEncoder& NewStream(ResponseDecoder& decoder) override;
  // An error means the connection is unusable: every open stream was reset already.
  absl::Status Dispatch(proxy::event::Buffer& data, bool end_stream) override;
  void OnConnectionClosed(absl::string_view details) override;
  bool stream_active() const override { return active_streams_ > 0; }
  void OnUnderlyingConnectionAboveWriteBufferHighWatermark() override;
  void OnUnderlyingConnectionBelowWriteBufferLowWatermark() override;

  // Streams open now (started and not yet ended).
  uint32_t active_streams() const { return active_streams_; }
  // The most streams this connection may carry at once: the peer's SETTINGS and our cap.
  uint32_t max_concurrent_streams() const;
  bool goaway_received() const { return goaway_; }
  // Neither side is done with the connection (no GOAWAY, no error) and it has a free slot.
  bool CanOpenStream() const;
  // Streams started over the connection's life.
  uint64_t total_streams() const { return total_streams_; }
  // Sends GOAWAY (NO_ERROR): open streams finish, no new one starts.
  void Shutdown();

 private:
  class ClientStream;
  struct Callbacks;  // The nghttp2 callbacks (http2_client_codec.cc).

  // Writes whatever nghttp2 has queued to the connection (not while inside nghttp2: the
  // outermost call writes).
  void Flush();
  void SubmitRequest(ClientStream& stream, const RequestHeaderMap& headers, bool end_stream);
  // The caller abandoned `stream` (RequestEncoder::ResetStream).
  void ResetFromCaller(ClientStream& stream);
  // Hands the stream's received body (and end, and trailers) to its decoder unless paused.
  void DeliverIn(ClientStream& stream);
  // Its decoder got the end of the response.
  void ResponseEnded(ClientStream& stream);
  // The stream no longer counts against the connection's streams.
  void SlotFreed(ClientStream& stream);
  // Moves a stream that is done on both sides to closed_.
  void MaybeRelease(ClientStream& stream);
  // Ends `stream` with a reset reported to its callbacks (unless it ended already).
  void ResetStreamFromCodec(ClientStream& stream, StreamResetReason reason,
                            absl::string_view details);
  void ResetAll(StreamResetReason reason, absl::string_view details);
  // Frees the streams that ended (not under their callbacks).
  void FreeClosedStreams();

  proxy::network::Connection& connection_;
  Http2ClientCodecCallbacks& callbacks_;
  const Http2ClientSettings settings_;
  nghttp2_session* session_ = nullptr;
  std::list<std::unique_ptr<ClientStream>> streams_;
  std::vector<std::unique_ptr<ClientStream>> closed_;
  uint32_t active_streams_ = 0;
  uint64_t total_streams_ = 0;
  bool goaway_ = false;
  bool failed_ = false;  // Protocol error or connection closed.
  bool shutdown_ = false;
  bool in_nghttp2_ = false;  // Inside nghttp2_session_mem_recv/mem_send.
  int dispatch_depth_ = 0;
};

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_HTTP2_CLIENT_CODEC_H_
