#include "common/net/address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lb::net {

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
  uint32_t port = 0;
  if (out.host.empty() || !absl::SimpleAtoi(port_text, &port) || port > 65535 ||
      (port == 0 && !allow_zero_port)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text,
                                                   "\": expected host:port with a port from ",
                                                   allow_zero_port ? 0 : 1, " to 65535"));
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

}  // namespace lb::net
