// The router: forwards one request to its cluster and its answer back.
//
//   route     the snapshot's most specific virtual host, then its first matching route (path,
//             method, headers; snapshot.h); no snapshot 503, no route 404, an unknown cluster
//             503; a weighted split picks its cluster by weight, by the request's hash when the
//             route has a hash policy, else at random; the route's header removals and
//             additions are applied before the proxy's own rewrite;
//   pick      the cluster's picker over its eligible hosts (hash policies use a header, a
//             cookie or the client address; a hash cookie the request lacks is generated
//             when the policy says so: a random value picks the host and goes back in a
//             Set-Cookie on the upstream's response), never a host already tried for this request;
//             none left: 503 "no healthy upstream" (502 after failed attempts);
//   forward   a stream from the host's connection pool; the request head (rewritten once, see
//             header_rewriter.h) and body go up, the response comes back through the
//             RouterCallbacks; 100 Continue is answered once the upstream stream is ready;
//   retry     on another host, within the route's retry count, when nothing of the request
//             can have been acted on twice: a failed connect, or a connection closed or reset
//             before any response byte of an idempotent request whose body was not sent, or
//             a stream the HTTP/2 upstream did not process (any method). Only
//             retries after a connect timeout take a slot of the worker's retry budget and of
//             the cluster's max_retries: the host may still be working on the SYN, so the retry
//             adds load. After a refusal or a reset the first attempt holds nothing upstream any
//             more; its retry costs the other hosts what the request would have cost them
//             anyway, and refusing it would turn one backend's crash into client errors;
//   limits    the cluster's max_requests (503, flag UO) and, in its pool, max_connections and
//             max_pending_requests (503, UO);
//   timeouts  a stalled body upload (`body_idle_timeout`) and no response head within
//             `upstream_timeout` of the request's end: 504, not retried; the whole response
//             within `response_timeout` (off by default): 504, or a reset once the head is out;
//             a gRPC request's grpc-timeout (capped by response_timeout and max_grpc_timeout
//             when they are set, the header rewritten upstream when capped) replaces
//             upstream_timeout and limits the whole call: a Trailers-Only DEADLINE_EXCEEDED
//             before the head, trailers with grpc-status 4 after it;
//   outlier   every attempt's outcome goes to RouterContext::ReportResult;
//   log       host, attempts, timings, response flags and why it answered itself go to the
//             stream's accesslog::StreamInfo.
// Flow control: a full upstream write buffer pauses reading the client; a full client write
// buffer pauses reading the upstream (RouterCallbacks / the upstream stream's ReadDisable).
//
// Threading: the worker's loop thread only. Lifetime: owned by the downstream stream; the
// destructor abandons whatever is in flight upstream.
#ifndef LB_PROXY_ROUTER_ROUTER_H_
#define LB_PROXY_ROUTER_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/accesslog/stream_info.h"
#include "proxy/balancer/balancer.h"
#include "proxy/event/buffer.h"
#include "proxy/event/dispatcher.h"
#include "proxy/http/codec.h"
#include "proxy/http/header_map.h"
#include "proxy/router/snapshot.h"
#include "proxy/upstream/cluster_stats.h"
#include "proxy/upstream/conn_pool.h"
#include "proxy/upstream/host.h"

namespace lb::proxy::router {

struct RouterOptions {
  absl::Duration upstream_timeout = absl::Seconds(15);   // Request sent, no response head: 504.
  absl::Duration body_idle_timeout = absl::Seconds(60);  // Request body upload stalled: 504.
  // The whole response, from the request's start to its last byte (0: off): 504 before the
  // head, a reset after it. Tunnels are exempt once switched.
  absl::Duration response_timeout = absl::ZeroDuration();
  // The longest grpc-timeout honoured (0: no cap but response_timeout); Envoy's
  // max_grpc_timeout.
  absl::Duration max_grpc_timeout = absl::ZeroDuration();
  // Request body held while no upstream stream takes it; above it the client is paused.
  size_t buffer_limit_bytes = 1024 * 1024;
  // HTTP/2 clusters: request body bytes kept after they went upstream, so that a stream the
  // upstream did not process (GOAWAY, REFUSED_STREAM) can be replayed on another endpoint. A
  // larger body is not kept: such a request is answered 502 instead of being retried.
  size_t replay_buffer_bytes = 64 * 1024;
  // Retries that take a slot (see above) in flight may not exceed this share of active
  // requests (plus a floor of 3).
  double retry_budget = 0.2;
  uint16_t https_port = 443;  // Of https redirects' Location (left out when 443).
};

// What an attempt's outcome says about the host (for outlier detection).
enum class UpstreamResult : uint8_t { kSuccess, k5xx, kGatewayFailure };

struct RouterStats {
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> retries_refused{0};             // By the worker's retry budget.
  std::atomic<uint64_t> upstream_timeouts{0};           // No head in time (504).
  std::atomic<uint64_t> upstream_response_timeouts{0};  // RouterOptions::response_timeout.
  std::atomic<uint64_t> grpc_timeouts{0};               // A gRPC call's grpc-timeout expired.
  // Refused HTTP/2 streams not retried: their body was over replay_buffer_bytes.
  std::atomic<uint64_t> refused_not_replayed{0};
};

// Retries in flight on one worker, against its active requests.
class RetryBudget {
 public:
  explicit RetryBudget(double share) : share_(share) {}
  // Takes a slot if fewer than 3 + share * active retries are in flight.
  bool TryAcquire(uint64_t active_requests) {
    if (in_flight_ >= 3 + share_ * static_cast<double>(active_requests)) return false;
    ++in_flight_;
    return true;
  }
  // For a request that already holds a slot: may it go on retrying?
  bool Allows(uint64_t active_requests) const {
    return in_flight_ < 3 + share_ * static_cast<double>(active_requests);
  }
  void Release() { --in_flight_; }
  uint32_t in_flight() const { return in_flight_; }

 private:
  const double share_;
  uint32_t in_flight_ = 0;
};

// The worker's services, as the router sees them (faked in tests).
class RouterContext {
 public:
  virtual ~RouterContext() = default;
  virtual event::Dispatcher& dispatcher() = 0;
  virtual const RouterOptions& router_options() const = 0;
  // The pool for `host` of `cluster`, created on first use.
  virtual upstream::ConnPool& PoolFor(const std::shared_ptr<upstream::HostState>& host,
                                      const upstream::ClusterSnapshot& cluster) = 0;
  virtual balancer::Picker::WorkerState& PickerState(const std::string& cluster) = 0;
  // This worker's counters of `host`, and of a cluster.
  virtual upstream::HostCounters& Counters(upstream::HostState& host) = 0;
  virtual upstream::ClusterWorkerCounters* ClusterCounters(
      const upstream::ClusterSnapshot& cluster) = 0;
  virtual void ReportResult(upstream::HostState& host, UpstreamResult result) = 0;
  virtual RetryBudget& retry_budget() = 0;
  virtual uint64_t active_requests() const = 0;
  virtual RouterStats& router_stats() = 0;
};

// The downstream side of the request, as the router sees it.
class RouterCallbacks {
 public:
  virtual ~RouterCallbacks() = default;
  virtual void Encode100Continue() = 0;
  virtual void EncodeHeaders(http::ResponseHeaderMapPtr headers, bool end_stream) = 0;
  virtual void EncodeData(event::Buffer& data, bool end_stream) = 0;
  // Trailer fields, which end the response.
  virtual void EncodeTrailers(http::ResponseHeaderMapPtr trailers) {
    (void)trailers;
    event::Buffer empty;
    EncodeData(empty, true);
  }
  // An answer the proxy makes itself (a router error), when no response head went out yet.
  virtual void SendLocalReply(int status, absl::string_view message) = 0;
  // The response cannot be completed (it was cut upstream after its head went out).
  virtual void ResetDownstream() = 0;
  // Pause (true) or resume (false) reading the client's request body.
  virtual void ReadDisableDownstream(bool disable) = 0;
  // The stream's timer for the router: Router::OnTimeout() runs `after` from now unless
  // re-armed or disarmed first. (Kept by the stream's owner across requests: cheap to move.)
  virtual void ArmRouterTimer(absl::Duration after) = 0;
  virtual void DisarmRouterTimer() = 0;
  // The request's record for the access log (lives as long as the router).
  virtual accesslog::StreamInfo& stream_info() = 0;
};

class Router final : public http::ResponseDecoder,
                     public http::StreamCallbacks,
                     public upstream::PoolCallbacks {
 public:
  // Both must outlive the router.
  Router(RouterContext& context, RouterCallbacks& callbacks);
  ~Router() override;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // The request head. `snapshot` (may be null: no config yet) must stay alive as long as the
  // router; `client_ip` is copied. `scheme`: "https" on the TLS listener, else "http" (route
  // matchers on ":scheme", X-Forwarded-Proto).
  void StartRequest(const Snapshot* snapshot, http::RequestHeaderMapPtr headers, bool end_stream,
                    absl::string_view client_ip, absl::string_view scheme = "http");
  // Request body bytes (all taken).
  void OnRequestData(event::Buffer& data, bool end_stream);
  // The request ends with trailer fields (an HTTP/2 or chunked HTTP/1.1 client). They follow
  // the body to an HTTP/2 upstream, and to an HTTP/1.1 one as chunked trailers when the request
  // went chunked (no content-length); otherwise the codec drops them and ends the body.
  void OnRequestTrailers(http::RequestHeaderMapPtr trailers);
  // The client went away or the request was abandoned: stop everything upstream.
  void OnDownstreamReset();
  // The client's write buffer crossed its high / low watermark.
  void OnDownstreamAboveWriteBufferHighWatermark();
  void OnDownstreamBelowWriteBufferLowWatermark();
  // The router timer (RouterCallbacks::ArmRouterTimer) expired.
  void OnTimeout();

  // The host the request is on now (nullptr before the first pick).
  const upstream::HostState* host() const { return host_; }
  uint32_t attempts() const { return static_cast<uint32_t>(tried_.size()); }
  // The request as routed (null before StartRequest).
  const http::RequestHeaderMap* request_headers() const { return headers_.get(); }

  // http::ResponseDecoder (the upstream's answer).
  void DecodeHeaders(http::ResponseHeaderMapPtr headers, bool end_stream) override;
  void DecodeData(event::Buffer& data, bool end_stream) override;
  void DecodeTrailers(http::ResponseHeaderMapPtr trailers) override;
  // http::StreamCallbacks (the upstream stream).
  void OnStreamReset(http::StreamResetReason reason, absl::string_view details) override;
  void OnAboveWriteBufferHighWatermark() override;
  void OnBelowWriteBufferLowWatermark() override;
  // upstream::PoolCallbacks.
  void OnPoolReady(http::RequestEncoder& encoder, bool reused) override;
  void OnPoolFailure(upstream::PoolFailureReason reason, absl::string_view details) override;

 private:
  // kRefused: the upstream did not process the request (HTTP/2 REFUSED_STREAM or GOAWAY).
  enum class Failure : uint8_t { kConnect, kConnectTimeout, kReset, kRefused };

  // The request's hash for cluster_'s picker (0 when it uses none); see RouteHash.
  uint64_t HashKey(const RouteConfig& route, absl::string_view client_ip);
  // The hash of the route's hash policy (the client address without one); may decide on an
  // affinity cookie to set (set_cookie_).
  uint64_t RouteHash(const RouteConfig& route, absl::string_view client_ip);
  // Picks a host not tried yet and asks its pool for a stream.
  void PickAndStart();
  // Sends what is buffered of the body; arms the timers that apply.
  void SendBody();
  void OnAttemptFailure(Failure failure, absl::string_view details);
  // May a retry start now? Takes the slots it needs.
  bool TakeRetrySlot(Failure failure);
  void ReleaseSlots();
  void LocalReply(int status, absl::string_view message, uint32_t flags = 0);
  // Answers a route's redirect (no upstream).
  void Redirect(const RedirectConfig& redirect);
  void SetHost(upstream::HostState* host);
  void DisarmTimer();
  // Arms the router timer for `phase` (a phase's own limit), or sooner when the whole-response
  // deadline comes first.
  void ArmTimer(absl::Duration phase);
  // Sets response_deadline_ from the request's grpc-timeout, if it is a gRPC call with one.
  void ApplyGrpcTimeout();
  // A response head (upstream or local) for the request's cluster.
  void CountResponse(int status);
  // Detaches from the upstream stream and abandons it.
  void ResetUpstream();
  // The request is over; `answered`: its response is complete (counted in the latency).
  void Finish(bool answered);

  RouterContext& context_;
  RouterCallbacks& callbacks_;
  bool timer_armed_ = false;

  const Snapshot* snapshot_ = nullptr;
  const upstream::ClusterSnapshot* cluster_ = nullptr;
  http::RequestHeaderMapPtr headers_;           // As sent upstream; kept for retries.
  http::RequestHeaderMapPtr request_trailers_;  // The request's trailers; kept for retries.
  bool request_complete_ = false;               // The client sent all of the request.
  event::Buffer body_;                          // Request body not sent upstream yet.
  // HTTP/2: a copy of the body sent on this attempt, while replay_ok_ (within
  // RouterOptions::replay_buffer_bytes).
  event::Buffer replay_;
  bool replay_ok_ = true;
  bool body_sent_ = false;          // Part of the body went upstream: no replay.
  bool upstream_end_sent_ = false;  // The upstream stream got end_stream.
  bool sent_100_ = false;
  uint64_t hash_ = 0;
  std::string set_cookie_;  // A Set-Cookie value for the response (generated affinity cookie).
  uint32_t retries_left_ = 0;
  bool holds_retry_ = false;          // A slot of the worker's retry budget.
  bool holds_cluster_retry_ = false;  // A slot of the cluster's max_retries.
  bool holds_request_ = false;        // A slot of the cluster's max_requests.
  absl::InlinedVector<uint32_t, 4> tried_;
  // Reports the current attempt's outcome (host_ must be set) to the context, and remembers a
  // failure for the attempt's count.
  void ReportAttempt(UpstreamResult result);
  upstream::HostState* host_ = nullptr;  // Kept alive by the snapshot.
  absl::Duration attempt_started_;       // Monotonic time host_ was picked.
  bool attempt_failed_ = false;          // A failure of host_'s attempt was reported.

  upstream::PoolHandle* pool_handle_ = nullptr;
  http::RequestEncoder* upstream_ = nullptr;
  bool upstream_paused_ = false;      // We stopped reading the upstream (client full).
  bool downstream_paused_ = false;    // We stopped reading the client (upstream full).
  bool upstream_above_high_ = false;  // The upstream connection's write buffer is full.
  bool response_started_ = false;     // A head went to the client.
  absl::Duration started_;            // Monotonic time the request was routed.
  // Monotonic deadline of RouterOptions::response_timeout or of grpc-timeout;
  // InfiniteDuration when off.
  absl::Duration response_deadline_ = absl::InfiniteDuration();
  bool grpc_deadline_ = false;  // response_deadline_ is the gRPC call's.
  bool done_ = false;           // The response is complete or was answered locally.
};

}  // namespace lb::proxy::router

#endif  // LB_PROXY_ROUTER_ROUTER_H_
