// Parsing of "host:port" listen/connect addresses.
#ifndef LB_COMMON_NET_ADDRESS_H_
#define LB_COMMON_NET_ADDRESS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::net {

struct HostPort {
  std::string host;  // Without brackets for IPv6.
  uint16_t port = 0;
};

// Accepts "127.0.0.1:80", "[::1]:80", "name:80"; port 0 only if `allow_zero_port`.
// kInvalidArgument naming the problem otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, bool allow_zero_port = true);

}  // namespace lb::net

#endif  // LB_COMMON_NET_ADDRESS_H_
