#include "proxy/http/http2_common.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace lb::http {

bool IsConnectionSpecificField(absl::string_view name) {
  for (absl::string_view f :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    if (absl::EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

void Nghttp2Headers::Add(absl::string_view name, absl::string_view value) {
  Span s;
  s.name_at = storage_.size();
  s.name_len = name.size();
  for (char c : name) storage_.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  s.value_at = storage_.size();
  s.value_len = value.size();
  storage_.append(value.data(), value.size());
  spans_.push_back(s);
}

const std::vector<nghttp2_nv>& Nghttp2Headers::nva() {
  nva_.clear();
  auto* base = reinterpret_cast<uint8_t*>(storage_.data());
  for (const Span& s : spans_) {
    nva_.push_back(
        {base + s.name_at, base + s.value_at, s.name_len, s.value_len, NGHTTP2_NV_FLAG_NONE});
  }
  return nva_;
}

absl::string_view Http2ErrorName(uint32_t code) {
  switch (code) {
    case NGHTTP2_NO_ERROR:
      return "NO_ERROR";
    case NGHTTP2_PROTOCOL_ERROR:
      return "PROTOCOL_ERROR";
    case NGHTTP2_INTERNAL_ERROR:
      return "INTERNAL_ERROR";
    case NGHTTP2_FLOW_CONTROL_ERROR:
      return "FLOW_CONTROL_ERROR";
    case NGHTTP2_SETTINGS_TIMEOUT:
      return "SETTINGS_TIMEOUT";
    case NGHTTP2_STREAM_CLOSED:
      return "STREAM_CLOSED";
    case NGHTTP2_FRAME_SIZE_ERROR:
      return "FRAME_SIZE_ERROR";
    case NGHTTP2_REFUSED_STREAM:
      return "REFUSED_STREAM";
    case NGHTTP2_CANCEL:
      return "CANCEL";
    case NGHTTP2_COMPRESSION_ERROR:
      return "COMPRESSION_ERROR";
    case NGHTTP2_CONNECT_ERROR:
      return "CONNECT_ERROR";
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return "ENHANCE_YOUR_CALM";
    case NGHTTP2_INADEQUATE_SECURITY:
      return "INADEQUATE_SECURITY";
    case NGHTTP2_HTTP_1_1_REQUIRED:
      return "HTTP_1_1_REQUIRED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace lb::http
