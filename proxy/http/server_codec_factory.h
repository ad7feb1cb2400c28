// The one place that decides which protocol a client connection speaks, and makes its codec.
//
//   ALPN "h2" (TLS)                -> HTTP/2
//   another ALPN protocol          -> HTTP/1.x
//   no ALPN (plaintext --listen)   -> HTTP/2 when the first bytes are the HTTP/2 client preface
//                                     ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", h2c with prior
//                                     knowledge), HTTP/1.x as soon as they cannot be.
// HTTP/1.1's "Upgrade: h2c" is not offered: such a request is answered as plain HTTP/1.1 (the
// Upgrade is an ordinary hop-by-hop field the upstream never sees), as Envoy does by default.
//
// Threading: loop thread of the connection only.
#ifndef LB_PROXY_HTTP_SERVER_CODEC_FACTORY_H_
#define LB_PROXY_HTTP_SERVER_CODEC_FACTORY_H_

#include <functional>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/event/buffer.h"
#include "proxy/http/codec.h"
#include "proxy/http/http1_codec.h"
#include "proxy/http/http2_codec.h"
#include "proxy/network/connection.h"

namespace lb::http {

enum class ServerProtocol : uint8_t {
  kUndecided,  // Too few bytes yet: call again when more arrive.
  kHttp1,
  kHttp2,
};

// `alpn`: the connection's NegotiatedProtocol(); `first_bytes`: what the client sent so far
// (not consumed).
ServerProtocol DetectServerProtocol(absl::string_view alpn, proxy::event::Buffer& first_bytes);

struct ServerCodecSettings {
  Http1Settings http1;
  Http2Settings http2;
};

// Makes the codec for `protocol` (kHttp1 or kHttp2). `resume` is HTTP/1's (see
// Http1ServerCodec); `now` and `http2_stats` (may be null) HTTP/2's. References must outlive
// the codec.
std::unique_ptr<ServerCodec> CreateServerCodec(ServerProtocol protocol,
                                               proxy::network::Connection& connection,
                                               ServerCodecCallbacks& callbacks,
                                               std::function<void()> resume,
                                               std::function<absl::Duration()> now,
                                               const ServerCodecSettings& settings,
                                               Http2Stats* http2_stats);

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_SERVER_CODEC_FACTORY_H_
