// nghttp2 helpers shared by the HTTP/2 codecs (server side: http2_codec.h): owning pointers for
// the C objects, name/value pairs built from header maps, and the HTTP/1.1 <-> HTTP/2 field
// rules (RFC 9113 8.2.2: connection-specific fields do not exist in HTTP/2).
//
// Threading: none of its own; the objects belong to the codec's loop thread.
#ifndef LB_PROXY_HTTP_HTTP2_COMMON_H_
#define LB_PROXY_HTTP_HTTP2_COMMON_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lb::http {

struct Nghttp2SessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
struct Nghttp2OptionDeleter {
  void operator()(nghttp2_option* o) const { nghttp2_option_del(o); }
};
struct Nghttp2CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};
using Nghttp2SessionPtr = std::unique_ptr<nghttp2_session, Nghttp2SessionDeleter>;
using Nghttp2OptionPtr = std::unique_ptr<nghttp2_option, Nghttp2OptionDeleter>;
using Nghttp2CallbacksPtr = std::unique_ptr<nghttp2_session_callbacks, Nghttp2CallbacksDeleter>;

// The client connection preface (RFC 9113 3.4), which starts every h2c prior-knowledge
// connection.
inline constexpr absl::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Fields that are HTTP/1.1 connection management and must not be sent in HTTP/2 (names
// compared ASCII case-insensitively): Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade. TE is connection-specific too, but HTTP/2 allows "trailers".
bool IsConnectionSpecificField(absl::string_view name);

// Name/value pairs for nghttp2_submit_*: names are lowercased copies, values are copied too,
// so the list stays valid after the map it was built from is gone. nghttp2 copies them again
// on submit, so a list may be reused once the submit call returned.
class Nghttp2Headers {
 public:
  void Clear() {
    storage_.clear();
    spans_.clear();
  }
  // Appends `name` (lowercased) and `value`.
  void Add(absl::string_view name, absl::string_view value);
  // The pairs; valid until the next Add() or Clear().
  const std::vector<nghttp2_nv>& nva();
  bool empty() const { return spans_.empty(); }

 private:
  struct Span {
    size_t name_at, name_len, value_at, value_len;
  };
  std::string storage_;
  std::vector<Span> spans_;
  std::vector<nghttp2_nv> nva_;
};

// nghttp2's name of an HTTP/2 error code ("ENHANCE_YOUR_CALM"), for logs and details.
absl::string_view Http2ErrorName(uint32_t code);

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_HTTP2_COMMON_H_
