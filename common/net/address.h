// "host:port" addresses: parsing (listen/connect flags) and formatting (endpoint keys, messages).
#ifndef LB_COMMON_NET_ADDRESS_H_
#define LB_COMMON_NET_ADDRESS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::net {

struct HostPort {
  std::string host;  // Without brackets for IPv6.
  uint16_t port = 0;
};

// A port written in decimal digits only ("80", "0080"), 0 to 65535. Unlike absl::SimpleAtoi
// there is no sign and no surrounding space: "+80" and " 80" are not ports.
std::optional<uint16_t> ParsePort(absl::string_view text);

// Accepts "127.0.0.1:80", "[::1]:80", "name:80"; port 0 only if `allow_zero_port`.
// kInvalidArgument naming the problem otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, bool allow_zero_port = true);

// `host` as written before ":port" in an address or a Host header: a host containing ':' (an
// IPv6 literal, given without brackets) in brackets, any other as is. "::1" -> "[::1]".
std::string UriHost(absl::string_view host);

// The inverse of ParseHostPort: "10.0.0.1:80", "[::1]:80", "web.internal:8080".
std::string JoinHostPort(absl::string_view host, uint32_t port);

}  // namespace lb::net

#endif  // LB_COMMON_NET_ADDRESS_H_
