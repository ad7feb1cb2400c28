// What happened to one request, for the access log: the connection manager fills in the client
// side (status, bytes, a client that left), the router the upstream side (host, attempts,
// timings, why it answered itself). One per request, created and destroyed with it.
//
// Threading: the worker's loop thread only.
#ifndef LB_PROXY_ACCESSLOG_STREAM_INFO_H_
#define LB_PROXY_ACCESSLOG_STREAM_INFO_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace lb::proxy::accesslog {

// Why a response is not simply the upstream's answer. Envoy's response flags and letters, plus
// NCF (no configuration received yet). Printed comma-separated in this order.
enum ResponseFlag : uint32_t {
  kNoHealthyUpstream = 1u << 0,                  // UH
  kUpstreamConnectionFailure = 1u << 1,          // UF
  kUpstreamOverflow = 1u << 2,                   // UO: a circuit breaker
  kNoRoute = 1u << 3,                            // NR
  kUpstreamRetryLimitExceeded = 1u << 4,         // URX
  kUpstreamRequestTimeout = 1u << 5,             // UT
  kUpstreamConnectionTermination = 1u << 6,      // UC
  kDownstreamConnectionTermination = 1u << 7,    // DC
  kStreamIdleTimeout = 1u << 8,                  // SI
  kUpstreamProtocolError = 1u << 9,              // UPE
  kDownstreamProtocolError = 1u << 10,           // DPE
  kNoClusterFound = 1u << 11,                    // NC
  kUpstreamMaxStreamDurationReached = 1u << 12,  // UMSDR: --upstream_response_timeout
  kOverloadManager = 1u << 13,                   // OM: out of local descriptors or ports
  kNoConfig = 1u << 14,                          // NCF
};

struct StreamInfo {
  absl::Time start_time;        // Wall clock when the request head arrived.
  absl::Duration start;         // The same instant, monotonic.
  int status = 0;               // Sent to the client (0: none, e.g. the client left first).
  uint32_t response_flags = 0;  // ResponseFlag bits.
  // Why the proxy answered itself or cut the response ("" when the upstream's answer went out
  // whole).
  std::string details;
  // "ip:port" of the last attempt's host (null: none); points into the host, which the
  // stream's snapshot keeps alive.
  const std::string* upstream_host = nullptr;
  uint32_t attempts = 0;                                     // Upstream attempts made.
  absl::Duration upstream_start = absl::InfiniteDuration();  // Last attempt's request sent.
  absl::Duration upstream_head = absl::InfiniteDuration();   // Its response head arrived.
  uint64_t bytes_received = 0;                               // Request body bytes from the client.
  uint64_t bytes_sent = 0;                                   // Response body bytes to the client.

  void SetFlag(ResponseFlag flag) { response_flags |= flag; }
};

}  // namespace lb::proxy::accesslog

#endif  // LB_PROXY_ACCESSLOG_STREAM_INFO_H_
