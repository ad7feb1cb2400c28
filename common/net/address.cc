#include "common/net/address.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lb::net {

std::optional<uint16_t> ParsePort(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text, &port) || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, bool allow_zero_port) {
  HostPort out;
  absl::string_view port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": expected [IPv6]:port"));
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": expected host:port (IPv6 as [addr]:port)"));
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  std::optional<uint16_t> port = ParsePort(port_text);
  if (out.host.empty() || !port.has_value() || (*port == 0 && !allow_zero_port)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text,
                                                   "\": expected host:port with a port from ",
                                                   allow_zero_port ? 0 : 1, " to 65535"));
  }
  out.port = *port;
  return out;
}

std::string UriHost(absl::string_view host) {
  if (host.find(':') != absl::string_view::npos) return absl::StrCat("[", host, "]");
  return std::string(host);
}

std::string JoinHostPort(absl::string_view host, uint32_t port) {
  return absl::StrCat(UriHost(host), ":", port);
}

}  // namespace lb::net
