// The HTTP/2 server codec (RFC 9113) on nghttp2: the client's bytes go in through
// nghttp2_session_mem_recv, the frames nghttp2 makes go out through nghttp2_session_mem_send
// into the connection's write buffer; the codec never touches a socket.
//
// Each HTTP/2 request stream becomes a ServerCodecCallbacks::NewStream() stream with the same
// decoder and encoder interfaces as HTTP/1, so the connection manager, the router and the
// HTTP/1.1 upstream pool are unchanged. Translation to the protocol-neutral maps:
//   request   :method/:path become the method and target; :authority becomes a "host" field
//             (a Host field next to it is dropped); cookie crumbs are joined with "; "; the
//             version is HTTP/1.1 (what the upstream gets); content-length goes to the typed
//             field. nghttp2's HTTP messaging checks refuse what HTTP/2 forbids
//             (connection-specific fields, TE other than "trailers", missing pseudo-headers,
//             a body longer or shorter than content-length) with RST_STREAM PROTOCOL_ERROR.
//             CONNECT is answered 501 by the codec itself.
//   response  names lowercased; Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding and
//             Upgrade dropped; the reason phrase is lost (HTTP/2 has none).
//   trailers  both ways (DecodeTrailers / EncodeTrailers).
//
// Flow control: a stream's request body is handed to its decoder while the stream is not
// ReadDisable()d, and the window is given back (nghttp2_session_consume) only for bytes handed
// on, so a paused stream buffers at most its window. A stream's response bytes wait in the
// stream while the peer's window is shut; past `stream_buffer_bytes` the stream's callbacks hear
// OnAboveWriteBufferHighWatermark (and, below half, OnBelow...). While the connection's write
// buffer is above its high watermark nothing more is serialized (nghttp2 keeps the frames) and
// every stream hears "above".
//
// Limits (Http2Settings): SETTINGS_MAX_CONCURRENT_STREAMS; a header list above
// `max_header_list_bytes` (name + value + 32 per field, RFC 9113's measure, checked while
// HPACK decodes, so also against HPACK bombs and CONTINUATION floods) resets the stream with
// ENHANCE_YOUR_CALM; more than `max_premature_resets_per_second` streams reset by the client
// before their response began ends the connection with GOAWAY ENHANCE_YOUR_CALM (rapid reset,
// CVE-2023-44487); more than `max_consecutive_empty_frames` DATA/HEADERS/CONTINUATION frames
// without payload in a row ends it the same way; more than `max_outbound_control_frames`
// queued PING/SETTINGS acknowledgements (a peer that floods and does not read) ends it at once
// (nghttp2's max_outbound_ack). nghttp2 1.52 as patched by Debian also limits CONTINUATION
// frames per header block (8) and RST_STREAM frames (1000 burst, 33/s); both are left on.
//
// Lifetime: a stream's callbacks and decoder are not called any more once its response is
// complete (end_stream given to the encoder), once ResetStream() was called, or once
// OnStreamReset() was delivered. The encoder object stays valid until the next Dispatch() or
// the codec's destruction.
//
// Threading: loop thread of the connection only.
#ifndef LB_PROXY_HTTP_HTTP2_CODEC_H_
#define LB_PROXY_HTTP_HTTP2_CODEC_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "proxy/event/buffer.h"
#include "proxy/http/codec.h"
#include "proxy/http/header_map.h"
#include "proxy/http/http2_common.h"
#include "proxy/network/connection.h"

namespace lb::http {

struct Http2Settings {
  uint32_t max_concurrent_streams = 100;
  uint32_t max_header_list_bytes = 64 * 1024;
  uint32_t initial_stream_window_bytes = 64 * 1024;
  uint32_t initial_connection_window_bytes = 1024 * 1024;
  uint32_t max_premature_resets_per_second = 100;
  uint32_t max_outbound_control_frames = 1000;
  uint32_t max_consecutive_empty_frames = 1;
  // Response bytes a stream holds before its producer is paused (0: the stream window).
  uint32_t stream_buffer_bytes = 0;
};

// Per worker; read by the admin thread (relaxed).
struct Http2Stats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> streams{0};
  // Streams the client reset (RST_STREAM) before their response began.
  std::atomic<uint64_t> premature_resets{0};
  // Each limit hit: streams reset or connections ended (GOAWAY) because of it.
  std::atomic<uint64_t> header_list_too_large{0};
  std::atomic<uint64_t> rapid_reset{0};
  std::atomic<uint64_t> empty_frames{0};
  std::atomic<uint64_t> control_flood{0};
  // Connections ended for other protocol errors (nghttp2 sent GOAWAY, or the preface was bad).
  std::atomic<uint64_t> protocol_errors{0};
  // GOAWAY NO_ERROR sent on drain.
  std::atomic<uint64_t> graceful_goaways{0};
  // Streams over max_concurrent_streams (RST_STREAM REFUSED_STREAM).
  std::atomic<uint64_t> refused_streams{0};
};

// Each limit in range, or InvalidArgument naming the flag (--http2_...): windows from 65,535
// (HTTP/2's initial size: the proxy never shrinks one) to 2^31-1, header list at least 1 KiB,
// the counts at least 1 (streams at most 2^31-1).
absl::Status ValidateHttp2Settings(const Http2Settings& settings);

class Http2ServerCodec final : public ServerCodec {
 public:
  // `now` is the loop's monotonic clock (for the reset-rate window). `stats` may be null. All
  // references must outlive the codec. The server's SETTINGS go out at once.
  Http2ServerCodec(proxy::network::Connection& connection, ServerCodecCallbacks& callbacks,
                   const Http2Settings& settings, Http2Stats* stats,
                   std::function<absl::Duration()> now);
  ~Http2ServerCodec() override;

  // ServerCodec.
  absl::Status Dispatch(proxy::event::Buffer& data, bool end_stream) override;
  CodecError last_error() const override { return error_; }
  // GOAWAY NO_ERROR naming the last stream taken; those streams finish.
  void CloseAfterResponse() override;
  void AbortRequest() override {}
  bool WantsClose() const override;
  bool stream_active() const override { return !streams_.empty(); }
  bool partial_head() const override { return false; }
  void OnUnderlyingConnectionAboveWriteBufferHighWatermark() override;
  void OnUnderlyingConnectionBelowWriteBufferLowWatermark() override;
  bool multiplexing() const override { return true; }
  void ReleaseIdleMemory() override;

  size_t active_streams() const { return streams_.size(); }
  // The error code of the GOAWAY this codec sent (or asked nghttp2 to send), if any.
  bool goaway_sent() const { return goaway_sent_; }
  uint32_t goaway_code() const { return goaway_code_; }

 private:
  class Stream;
  friend class Stream;
  struct Callbacks;

  // Serializes what nghttp2 has queued into the connection (not while dispatching: then at
  // the end of Dispatch()).
  void Flush();
  // Ends the session with GOAWAY `code`; Dispatch() then returns an error.
  void Fail(uint32_t code, absl::string_view reason);
  Stream* FindStream(int32_t id);
  void CountPrematureReset();

  // nghttp2 callbacks (Callbacks forwards to these).
  int OnBeginFrame(const nghttp2_frame_hd& hd);
  int OnBeginHeaders(const nghttp2_frame& frame);
  int OnHeader(const nghttp2_frame& frame, absl::string_view name, absl::string_view value);
  int OnFrameRecv(const nghttp2_frame& frame);
  int OnDataChunk(int32_t id, const uint8_t* data, size_t len);
  int OnStreamClose(int32_t id, uint32_t error_code);

  proxy::network::Connection& connection_;
  ServerCodecCallbacks& callbacks_;
  const Http2Settings settings_;
  Http2Stats* const stats_;
  const std::function<absl::Duration()> now_;
  const uint32_t stream_buffer_limit_;
  Nghttp2SessionPtr session_;
  Nghttp2Headers scratch_nv_;  // For encoding heads; keeps its capacity.
  absl::flat_hash_map<int32_t, std::unique_ptr<Stream>> streams_;
  // Closed streams, kept until no call on them can be on the stack (see Lifetime above).
  std::vector<std::unique_ptr<Stream>> closed_;
  proxy::event::Buffer out_;
  // Streams whose buffered response fell below half their limit during a flush.
  std::vector<int32_t> below_;
  CodecError error_;
  bool dispatching_ = false;
  bool flushing_ = false;
  bool flush_again_ = false;
  bool connection_above_ = false;
  bool failed_ = false;
  bool goaway_sent_ = false;
  uint32_t goaway_code_ = 0;
  uint32_t consecutive_empty_ = 0;
  absl::Duration reset_window_start_ = absl::ZeroDuration();
  uint32_t resets_in_window_ = 0;
};

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_HTTP2_CODEC_H_
