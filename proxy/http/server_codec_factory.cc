#include "proxy/http/server_codec_factory.h"

#include <algorithm>
#include <utility>

#include "proxy/http/http2_common.h"

namespace lb::http {

ServerProtocol DetectServerProtocol(absl::string_view alpn, proxy::event::Buffer& first_bytes) {
  if (alpn == "h2") return ServerProtocol::kHttp2;
  if (!alpn.empty()) return ServerProtocol::kHttp1;
  const size_t n = std::min(first_bytes.size(), kHttp2Preface.size());
  if (n == 0) return ServerProtocol::kUndecided;
  const absl::string_view head(first_bytes.Linearize(n), n);
  if (head != kHttp2Preface.substr(0, n)) return ServerProtocol::kHttp1;
  return n == kHttp2Preface.size() ? ServerProtocol::kHttp2 : ServerProtocol::kUndecided;
}

std::unique_ptr<ServerCodec> CreateServerCodec(ServerProtocol protocol,
                                               proxy::network::Connection& connection,
                                               ServerCodecCallbacks& callbacks,
                                               std::function<void()> resume,
                                               std::function<absl::Duration()> now,
                                               const ServerCodecSettings& settings,
                                               Http2Stats* http2_stats) {
  if (protocol == ServerProtocol::kHttp2) {
    return std::make_unique<Http2ServerCodec>(connection, callbacks, settings.http2, http2_stats,
                                              std::move(now));
  }
  return std::make_unique<Http1ServerCodec>(connection, callbacks, std::move(resume),
                                            settings.http1);
}

}  // namespace lb::http
