#include "proxy/router/router.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/check.h"
#include "proxy/http/grpc.h"
#include "proxy/router/header_rewriter.h"

namespace lb::proxy::router {
namespace {

bool IsIdempotent(http::Method m) {
  switch (m) {
    case http::Method::kGet:
    case http::Method::kHead:
    case http::Method::kOptions:
    case http::Method::kTrace:
    case http::Method::kPut:
    case http::Method::kDelete:
      return true;
    default:
      return false;
  }
}

// Value of cookie `name` in a Cookie header, or "".
absl::string_view CookieValue(absl::string_view cookies, absl::string_view name) {
  while (!cookies.empty()) {
    size_t semi = cookies.find(';');
    absl::string_view pair = absl::StripAsciiWhitespace(cookies.substr(0, semi));
    size_t eq = pair.find('=');
    if (eq != absl::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (semi == absl::string_view::npos) break;
    cookies.remove_prefix(semi + 1);
  }
  return {};
}

}  // namespace

Router::Router(RouterContext& context, RouterCallbacks& callbacks)
    : context_(context), callbacks_(callbacks) {}

Router::~Router() {
  ResetUpstream();
  ReleaseSlots();
  SetHost(nullptr);
}

void Router::StartRequest(const Snapshot* snapshot, http::RequestHeaderMapPtr headers,
                          bool end_stream, absl::string_view client_ip, absl::string_view scheme) {
  snapshot_ = snapshot;
  headers_ = std::move(headers);
  request_complete_ = end_stream;
  if (snapshot_ == nullptr) {
    // Retryable, like the admin /ready: a 404 would tell clients the resource does not exist.
    LocalReply(503, "no configuration received from the controller yet", accesslog::kNoConfig);
    return;
  }
  RouteRequest request;
  request.host = headers_->host;
  request.path = headers_->Path();
  request.scheme = scheme;
  request.method =
      headers_->method_token.empty() ? http::MethodName(headers_->method) : headers_->method_token;
  request.headers = headers_.get();
  const RouteConfig* route = snapshot_->Match(request);
  if (route == nullptr) {
    LocalReply(404, "no route matches this host and path", accesslog::kNoRoute);
    return;
  }
  if (route->redirect.has_value()) {
    Redirect(*route->redirect);
    return;
  }
  const std::string* cluster_name = &route->cluster;
  bool hashed = false;
  if (!route->weighted_clusters.empty()) {
    // A split: by the request's hash when the route has a hash policy (a client keeps its
    // cluster), else at random; both by weight.
    uint64_t position;
    if (route->has_hash_policy) {
      hash_ = RouteHash(*route, client_ip);
      hashed = true;
      position = WeightedPosition(hash_, route->total_weight);
    } else {
      thread_local absl::InsecureBitGen rng;
      position = absl::Uniform<uint64_t>(rng, 0, route->total_weight);
    }
    cluster_name = &route->weighted_clusters[PickWeightedCluster(*route, position)].name;
  }
  cluster_ = snapshot_->FindCluster(*cluster_name);
  if (cluster_ == nullptr) {
    LocalReply(503, absl::StrCat("cluster \"", *cluster_name, "\" is not available"),
               accesslog::kNoClusterFound);
    return;
  }
  if (cluster_->stats != nullptr) {
    upstream::ResourceLimit& requests = cluster_->stats->resources().requests;
    if (!requests.TryAcquire()) {
      LocalReply(503,
                 absl::StrCat("upstream overflow: cluster \"", *cluster_name,
                              "\" has its max_requests (", requests.max(), ") in flight"),
                 accesslog::kUpstreamOverflow);
      return;
    }
    holds_request_ = true;
  }
  retries_left_ = route->retries;
  started_ = context_.dispatcher().MonotonicNow();
  if (const absl::Duration limit = context_.router_options().response_timeout;
      limit > absl::ZeroDuration()) {
    response_deadline_ = started_ + limit;
  }
  ApplyGrpcTimeout();
  if (response_deadline_ != absl::InfiniteDuration()) {
    ArmTimer(absl::InfiniteDuration());  // Connecting counts too.
  }
  if (!hashed) hash_ = HashKey(*route, client_ip);
  for (const std::string& name : route->headers_to_remove) headers_->Remove(name);
  for (const HeaderChangeConfig& h : route->headers_to_add) {
    if (!h.append) headers_->Remove(h.name);
    headers_->Add(h.name, h.value);
  }
  RewriteRequest({client_ip, scheme}, *headers_);
  PickAndStart();
}

void Router::ApplyGrpcTimeout() {
  if (!http::IsGrpcRequest(*headers_)) return;
  std::optional<http::HeaderMap::Field> header = headers_->Find("grpc-timeout");
  if (!header.has_value()) return;
  std::optional<absl::Duration> timeout = http::ParseGrpcTimeout(header->value);
  if (!timeout.has_value()) return;  // Malformed: ignored, as gRPC servers do.
  absl::Duration limit = *timeout;
  const RouterOptions& options = context_.router_options();
  if (options.response_timeout > absl::ZeroDuration()) {
    limit = std::min(limit, options.response_timeout);
  }
  if (options.max_grpc_timeout > absl::ZeroDuration()) {
    limit = std::min(limit, options.max_grpc_timeout);
  }
  if (limit < *timeout) {
    // The upstream learns the deadline the proxy enforces (Envoy does the same).
    headers_->Remove("grpc-timeout");
    headers_->Add("grpc-timeout", http::FormatGrpcTimeout(limit));
  }
  response_deadline_ = started_ + limit;
  grpc_deadline_ = true;
}

uint64_t Router::HashKey(const RouteConfig& route, absl::string_view client_ip) {
  const LbPolicy policy = cluster_->config.policy;
  if (!route.has_hash_policy && policy != LbPolicy::kRingHash && policy != LbPolicy::kMaglev) {
    return 0;
  }
  return RouteHash(route, client_ip);
}

uint64_t Router::RouteHash(const RouteConfig& route, absl::string_view client_ip) {
  absl::string_view key = client_ip;
  const HashPolicy& hp = route.hash_policy;
  if (route.has_hash_policy && hp.kind == HashPolicy::Kind::kHeader) {
    if (auto h = headers_->Find(hp.name)) key = h->value;
  } else if (route.has_hash_policy && hp.kind == HashPolicy::Kind::kCookie) {
    absl::string_view v;
    if (auto h = headers_->Find("cookie")) v = CookieValue(h->value, hp.name);
    if (!v.empty()) {
      key = v;
    } else if (hp.generate_cookie) {
      // A new client: a random value picks its endpoint, and the cookie carrying it makes the
      // next requests hash to the same one (clients behind one address are told apart).
      thread_local absl::InsecureBitGen rng;
      const std::string value = absl::StrFormat("%016x", absl::Uniform<uint64_t>(rng));
      set_cookie_ = absl::StrCat(hp.name, "=", value);
      if (hp.cookie_ttl > absl::ZeroDuration()) {
        absl::StrAppend(&set_cookie_, "; Max-Age=", absl::ToInt64Seconds(hp.cookie_ttl));
      }
      if (!hp.cookie_path.empty()) absl::StrAppend(&set_cookie_, "; Path=", hp.cookie_path);
      for (const auto& [name, attr] : hp.cookie_attributes) {
        absl::StrAppend(&set_cookie_, "; ", name, attr.empty() ? "" : "=", attr);
      }
      return balancer::HashKey(value);
    }
  }
  return balancer::HashKey(key);
}

void Router::PickAndStart() {
  const balancer::Picker* picker = cluster_->picker.get();
  int64_t index = -1;
  if (picker != nullptr) {
    balancer::Picker::Input input;
    input.hash = hash_;
    input.tried = tried_.data();
    input.tried_count = tried_.size();
    if (cluster_->config.policy == LbPolicy::kLeastRequest) {
      // Every worker's requests on the host, across snapshots (hosts outlive them).
      input.active_requests = [](const void* cluster, uint32_t host) {
        return static_cast<const upstream::ClusterSnapshot*>(cluster)->hosts[host]->active();
      };
      input.active_context = cluster_;
    }
    index = picker->Pick(context_.PickerState(cluster_->config.name), input);
  }
  if (index < 0) {
    if (tried_.empty()) {
      LocalReply(503, "no healthy upstream", accesslog::kNoHealthyUpstream);
    } else {
      LocalReply(502, "upstream connect error or disconnect before response (no other endpoint)",
                 accesslog::kNoHealthyUpstream);
    }
    return;
  }
  tried_.push_back(static_cast<uint32_t>(index));
  const std::shared_ptr<upstream::HostState>& host = cluster_->hosts[index];
  SetHost(host.get());
  accesslog::StreamInfo& info = callbacks_.stream_info();
  info.attempts = attempts();
  info.upstream_host = &host->key;
  info.upstream_start = absl::InfiniteDuration();
  context_.Counters(*host).requests.fetch_add(1, std::memory_order_relaxed);
  upstream::ConnPool& pool = context_.PoolFor(host, *cluster_);
  // May call OnPoolReady or OnPoolFailure (and so retry) before it returns: a handle from a
  // nested attempt must not be overwritten by this call's nullptr.
  upstream::PoolHandle* handle = pool.NewStream(*this, *this);
  if (handle != nullptr) pool_handle_ = handle;
}

void Router::OnPoolReady(http::RequestEncoder& encoder, bool /*reused*/) {
  pool_handle_ = nullptr;
  upstream_ = &encoder;
  encoder.SetCallbacks(this);
  callbacks_.stream_info().upstream_start = context_.dispatcher().MonotonicNow();
  upstream_end_sent_ = request_complete_ && body_.empty() && request_trailers_ == nullptr;
  encoder.EncodeHeaders(*headers_, upstream_end_sent_);
  if (upstream_ == nullptr) return;
  if (headers_->expect_100_continue && !request_complete_ && !sent_100_) {
    sent_100_ = true;
    callbacks_.Encode100Continue();
  }
  SendBody();
}

void Router::OnPoolFailure(upstream::PoolFailureReason reason, absl::string_view details) {
  pool_handle_ = nullptr;
  switch (reason) {
    case upstream::PoolFailureReason::kLocalResource:
      // Not the host's fault: no outlier report, no retry on another host.
      LocalReply(503, absl::StrCat("upstream connection not possible: ", details),
                 accesslog::kOverloadManager);
      return;
    case upstream::PoolFailureReason::kOverflow:
      LocalReply(503, absl::StrCat("upstream overflow: ", details), accesslog::kUpstreamOverflow);
      return;
    case upstream::PoolFailureReason::kConnectFailure:
      OnAttemptFailure(Failure::kConnect, details);
      return;
    case upstream::PoolFailureReason::kTimeout:
      OnAttemptFailure(Failure::kConnectTimeout, details);
      return;
  }
}

void Router::OnRequestData(event::Buffer& data, bool end_stream) {
  if (done_) {
    data.Clear();
    return;
  }
  request_complete_ = end_stream;
  body_.MoveAllFrom(data);
  if (upstream_ != nullptr) {
    SendBody();
  } else if (body_.size() > context_.router_options().buffer_limit_bytes && !downstream_paused_) {
    downstream_paused_ = true;  // Resumed once the upstream takes the body.
    callbacks_.ReadDisableDownstream(true);
  }
}

void Router::OnRequestTrailers(http::RequestHeaderMapPtr trailers) {
  if (done_) return;
  request_complete_ = true;
  request_trailers_ = std::move(trailers);
  if (upstream_ != nullptr) SendBody();
}

void Router::SendBody() {
  if (!body_.empty() || (request_complete_ && !upstream_end_sent_)) {
    if (!body_.empty()) {
      if (replay_ok_ && cluster_->config.protocol == UpstreamProtocol::kHttp2) {
        const size_t n = body_.size();
        if (replay_.size() + n <= context_.router_options().replay_buffer_bytes) {
          replay_.Append(absl::string_view(body_.Linearize(n), n));
        } else {
          replay_ok_ = false;
          replay_.Clear();
        }
      }
      body_sent_ = true;
    }
    upstream_end_sent_ = request_complete_;
    if (request_trailers_ != nullptr) {
      if (!body_.empty()) upstream_->EncodeData(body_, /*end_stream=*/false);
      if (upstream_ == nullptr) return;
      upstream_->EncodeTrailers(*request_trailers_);
    } else {
      upstream_->EncodeData(body_, request_complete_);
    }
    if (upstream_ == nullptr) return;
  }
  if (downstream_paused_ && !upstream_above_high_) {
    downstream_paused_ = false;
    callbacks_.ReadDisableDownstream(false);
  }
  if (!response_started_) {
    // While the body uploads only a stall limit applies; the response timeout starts once the
    // whole request is sent.
    // A gRPC call's own deadline replaces upstream_timeout (a long call may answer late).
    ArmTimer(!request_complete_ ? context_.router_options().body_idle_timeout
             : grpc_deadline_   ? absl::InfiniteDuration()
                                : context_.router_options().upstream_timeout);
  }
}

void Router::DecodeHeaders(http::ResponseHeaderMapPtr headers, bool end_stream) {
  DisarmTimer();
  callbacks_.stream_info().upstream_head = context_.dispatcher().MonotonicNow();
  if (headers->status == 101) {
    response_deadline_ = absl::InfiniteDuration();  // A tunnel has its own idle limit.
  } else if (response_deadline_ != absl::InfiniteDuration() && !end_stream) {
    ArmTimer(absl::InfiniteDuration());
  }
  response_started_ = true;
  int status = headers->status;
  if (!set_cookie_.empty()) headers->Add("Set-Cookie", set_cookie_);
  CountResponse(status);
  if (status >= 500) {
    bool gateway = status == 502 || status == 503 || status == 504;
    ReportAttempt(gateway ? UpstreamResult::kGatewayFailure : UpstreamResult::k5xx);
  } else {
    ReportAttempt(UpstreamResult::kSuccess);
  }
  if (end_stream) Finish(/*answered=*/true);
  callbacks_.EncodeHeaders(std::move(headers), end_stream);
}

void Router::DecodeData(event::Buffer& data, bool end_stream) {
  if (end_stream) Finish(/*answered=*/true);
  callbacks_.EncodeData(data, end_stream);
}

void Router::DecodeTrailers(http::ResponseHeaderMapPtr trailers) {
  Finish(/*answered=*/true);
  callbacks_.EncodeTrailers(std::move(trailers));
}

void Router::OnStreamReset(http::StreamResetReason reason, absl::string_view details) {
  upstream_ = nullptr;
  if (done_) return;
  if (response_started_) {
    // The head is out: all that is left is to cut the response.
    ReportAttempt(UpstreamResult::kGatewayFailure);
    done_ = true;
    accesslog::StreamInfo& info = callbacks_.stream_info();
    info.SetFlag(reason == http::StreamResetReason::kProtocolError
                     ? accesslog::kUpstreamProtocolError
                     : accesslog::kUpstreamConnectionTermination);
    info.details = absl::StrCat("upstream response cut after its head: ", details);
    callbacks_.ResetDownstream();
    return;
  }
  switch (reason) {
    case http::StreamResetReason::kConnectionTermination:
      OnAttemptFailure(Failure::kReset, details);
      return;
    case http::StreamResetReason::kProtocolError:
      ReportAttempt(UpstreamResult::kGatewayFailure);
      LocalReply(502, details, accesslog::kUpstreamProtocolError);
      return;
    case http::StreamResetReason::kRemoteRefusedStream:
      OnAttemptFailure(Failure::kRefused, details);
      return;
    case http::StreamResetReason::kLocalReset:
      return;
  }
}

void Router::OnAboveWriteBufferHighWatermark() {
  upstream_above_high_ = true;
  if (!downstream_paused_) {
    downstream_paused_ = true;
    callbacks_.ReadDisableDownstream(true);
  }
}

void Router::OnBelowWriteBufferLowWatermark() {
  upstream_above_high_ = false;
  if (downstream_paused_) {
    downstream_paused_ = false;
    callbacks_.ReadDisableDownstream(false);
  }
}

void Router::OnDownstreamAboveWriteBufferHighWatermark() {
  if (upstream_ != nullptr && !upstream_paused_) {
    upstream_paused_ = true;
    upstream_->ReadDisable(true);
  }
}

void Router::OnDownstreamBelowWriteBufferLowWatermark() {
  if (upstream_ != nullptr && upstream_paused_) {
    upstream_paused_ = false;
    upstream_->ReadDisable(false);
  }
}

void Router::OnDownstreamReset() {
  ResetUpstream();
  Finish(/*answered=*/false);
}

void Router::OnTimeout() {
  timer_armed_ = false;
  if (done_) return;
  if (context_.dispatcher().MonotonicNow() >= response_deadline_ && grpc_deadline_) {
    // The client's own deadline: no fault of the host (not reported to outlier detection).
    context_.router_stats().grpc_timeouts.fetch_add(1, std::memory_order_relaxed);
    accesslog::StreamInfo& info = callbacks_.stream_info();
    info.SetFlag(accesslog::kUpstreamRequestTimeout);
    ResetUpstream();
    if (response_started_) {
      // The head is out: end the call with its status in trailers rather than a reset.
      Finish(/*answered=*/true);
      info.details = "grpc-timeout expired (response cut)";
      http::ResponseHeaderMapPtr trailers = http::NewResponseHeaderMap();
      trailers->Add("grpc-status",
                    absl::StrCat(static_cast<int>(http::GrpcCode::kDeadlineExceeded)));
      trailers->Add("grpc-message", "grpc-timeout expired");
      callbacks_.EncodeTrailers(std::move(trailers));
      return;
    }
    LocalReply(504, "grpc-timeout expired");
    return;
  }
  if (context_.dispatcher().MonotonicNow() >= response_deadline_) {
    context_.router_stats().upstream_response_timeouts.fetch_add(1, std::memory_order_relaxed);
    accesslog::StreamInfo& info = callbacks_.stream_info();
    info.SetFlag(accesslog::kUpstreamMaxStreamDurationReached);
    if (response_started_) {
      ReportAttempt(UpstreamResult::kGatewayFailure);
      ResetUpstream();
      done_ = true;
      info.details = "upstream response timeout (response cut)";
      callbacks_.ResetDownstream();
      return;
    }
  } else if (response_started_) {
    return;
  } else {
    context_.router_stats().upstream_timeouts.fetch_add(1, std::memory_order_relaxed);
    callbacks_.stream_info().SetFlag(accesslog::kUpstreamRequestTimeout);
  }
  if (host_ != nullptr) ReportAttempt(UpstreamResult::kGatewayFailure);
  ResetUpstream();
  LocalReply(504, "upstream request timeout");
}

void Router::OnAttemptFailure(Failure failure, absl::string_view details) {
  upstream_ = nullptr;
  if (host_ != nullptr && failure != Failure::kRefused) {
    ReportAttempt(UpstreamResult::kGatewayFailure);
  }
  // Retry on another endpoint only when nothing of the request can have been acted on twice: a
  // failed connect, or a reset before any response byte of an idempotent request whose body
  // (if any) is still here.
  bool replayable = !body_sent_ && (failure != Failure::kReset || IsIdempotent(headers_->method));
  if (failure == Failure::kRefused) {
    // Not processed upstream: whatever the method, it may go again, with the body it sent.
    if (body_sent_ && replay_ok_) {
      event::Buffer unsent;
      unsent.MoveAllFrom(body_);
      body_.MoveAllFrom(replay_);
      body_.MoveAllFrom(unsent);
      body_sent_ = false;
    } else if (body_sent_) {
      context_.router_stats().refused_not_replayed.fetch_add(1, std::memory_order_relaxed);
    }
    replayable = !body_sent_;
  }
  const char* why = nullptr;
  if (!replayable) {
    why = "not retried: the request may have been acted on";
  } else if (retries_left_ == 0) {
    why = "retries exhausted";
  } else if (!TakeRetrySlot(failure)) {
    why = "retry limit of the worker or cluster reached";
  } else {
    --retries_left_;
    context_.router_stats().retries.fetch_add(1, std::memory_order_relaxed);
    PickAndStart();
    return;
  }
  uint32_t flags = failure == Failure::kReset || failure == Failure::kRefused
                       ? accesslog::kUpstreamConnectionTermination
                       : accesslog::kUpstreamConnectionFailure;
  if (replayable && attempts() > 1) flags |= accesslog::kUpstreamRetryLimitExceeded;
  if (failure == Failure::kConnectTimeout) {
    LocalReply(504, absl::StrCat(details, " (", why, ")"), flags);
  } else {
    // A failed upstream TLS handshake says so; everything else keeps the generic text.
    LocalReply(502,
               absl::StrCat(absl::StrContains(details, "TLS")
                                ? details
                                : "upstream connect error or disconnect before response",
                            " (", why, ")"),
               flags);
  }
}

bool Router::TakeRetrySlot(Failure failure) {
  if (failure != Failure::kConnectTimeout) return true;  // See router.h: no load added.
  if (!holds_retry_) {
    if (!context_.retry_budget().TryAcquire(context_.active_requests())) {
      context_.router_stats().retries_refused.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    holds_retry_ = true;
  } else if (!context_.retry_budget().Allows(context_.active_requests())) {
    context_.router_stats().retries_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!holds_cluster_retry_ && cluster_->stats != nullptr) {
    if (!cluster_->stats->resources().retries.TryAcquire()) return false;  // Counted there.
    holds_cluster_retry_ = true;
  }
  return true;
}

void Router::ReleaseSlots() {
  if (holds_retry_) {
    holds_retry_ = false;
    context_.retry_budget().Release();
  }
  if (holds_cluster_retry_) {
    holds_cluster_retry_ = false;
    cluster_->stats->resources().retries.Release();
  }
  if (holds_request_) {
    holds_request_ = false;
    cluster_->stats->resources().requests.Release();
  }
}

void Router::LocalReply(int status, absl::string_view message, uint32_t flags) {
  ResetUpstream();
  callbacks_.stream_info().response_flags |= flags;
  if (response_started_) {
    done_ = true;
    callbacks_.stream_info().details = std::string(message);
    callbacks_.ResetDownstream();
    return;
  }
  CountResponse(status);
  Finish(/*answered=*/true);
  callbacks_.SendLocalReply(status, message);
}

void Router::Redirect(const RedirectConfig& redirect) {
  // https://HOST[:PORT]/path?query: the request's host without its port, the proxy's https port
  // (left out when it is 443), the request target as received.
  absl::string_view host = headers_->host;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(0, std::min(host.size(), host.find(']') + 1));
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty()) host = "localhost";
  const uint16_t port = context_.router_options().https_port;
  std::string location = absl::StrCat(redirect.https ? "https://" : "http://", host);
  if (port != 443) absl::StrAppend(&location, ":", port);
  const absl::string_view path = headers_->Path();
  absl::StrAppend(&location, path.empty() ? "/" : path);
  http::ResponseHeaderMapPtr response = http::NewResponseHeaderMap();
  response->status = redirect.status;
  response->Add("Location", location);
  response->content_length = 0;
  callbacks_.stream_info().details = "https redirect";
  Finish(/*answered=*/true);
  callbacks_.EncodeHeaders(std::move(response), /*end_stream=*/true);
}

void Router::CountResponse(int status) {
  if (cluster_ == nullptr) return;
  if (upstream::ClusterWorkerCounters* c = context_.ClusterCounters(*cluster_)) {
    c->CountResponse(status);
  }
}

void Router::SetHost(upstream::HostState* host) {
  if (host_ != nullptr) {
    // The attempt on host_ is over, whatever ended it.
    upstream::HostCounters& c = context_.Counters(*host_);
    c.active.fetch_sub(1, std::memory_order_relaxed);
    c.completed.fetch_add(1, std::memory_order_relaxed);
    if (attempt_failed_) c.errors.fetch_add(1, std::memory_order_relaxed);
    c.latency.Record(context_.dispatcher().MonotonicNow() - attempt_started_);
  }
  host_ = host;
  attempt_failed_ = false;
  if (host_ != nullptr) {
    context_.Counters(*host_).active.fetch_add(1, std::memory_order_relaxed);
    attempt_started_ = context_.dispatcher().MonotonicNow();
  }
}

void Router::ReportAttempt(UpstreamResult result) {
  if (result != UpstreamResult::kSuccess) attempt_failed_ = true;
  context_.ReportResult(*host_, result);
}

void Router::ArmTimer(absl::Duration phase) {
  absl::Duration after = phase;
  if (response_deadline_ != absl::InfiniteDuration()) {
    after = std::min(after, response_deadline_ - context_.dispatcher().MonotonicNow());
    after = std::max(after, absl::ZeroDuration());
  }
  timer_armed_ = true;
  callbacks_.ArmRouterTimer(after);
}

void Router::DisarmTimer() {
  if (!timer_armed_) return;
  timer_armed_ = false;
  callbacks_.DisarmRouterTimer();
}

void Router::ResetUpstream() {
  DisarmTimer();
  if (pool_handle_ != nullptr) std::exchange(pool_handle_, nullptr)->Cancel();
  if (upstream_ != nullptr) {
    http::RequestEncoder* upstream = std::exchange(upstream_, nullptr);
    upstream->SetCallbacks(nullptr);
    upstream->ResetStream();
  }
}

void Router::Finish(bool answered) {
  if (answered && !done_ && cluster_ != nullptr) {
    if (upstream::ClusterWorkerCounters* c = context_.ClusterCounters(*cluster_)) {
      c->latency.Record(context_.dispatcher().MonotonicNow() - started_);
    }
  }
  done_ = true;
  upstream_ = nullptr;  // A completed stream goes back to its pool by itself.
  DisarmTimer();
  ReleaseSlots();
  SetHost(nullptr);
}

}  // namespace lb::proxy::router
