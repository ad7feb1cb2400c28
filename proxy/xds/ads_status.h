// What the proxy's ADS client is doing, for the admin API (/config_dump) and logs. A plain
// value: copied out of the client under its lock.
#ifndef LB_PROXY_XDS_ADS_STATUS_H_
#define LB_PROXY_XDS_ADS_STATUS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace lb::proxy::xds {

struct AdsClientStatus {
  std::string controller;  // The controller of the current stream; "" if none.
  bool connected = false;  // The current stream has delivered at least one response.
  absl::Time connected_since = absl::InfinitePast();
  // The last stream failure or NACK that still holds; cleared once a later stream delivers a
  // response and every type's last response was accepted.
  std::string last_error;
  absl::Time last_error_time = absl::InfinitePast();
  std::map<std::string, std::string> versions;  // Type URL -> last accepted version_info.
  std::map<std::string, std::string> nacks;     // Type URL -> error of its last NACK.
  uint64_t streams = 0;                         // Streams started (connection attempts).
  uint64_t acks = 0;
  uint64_t nack_count = 0;
  std::vector<std::string> warming_clusters;  // Accepted, waiting for their endpoints.
  std::vector<std::string> warnings;          // E.g. routes to unknown clusters.
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_ADS_STATUS_H_
