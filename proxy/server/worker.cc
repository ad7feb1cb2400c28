// The data path: accept, parse, route, balance, forward, stream back, keep-alive, retry.
//
// Everything here runs on the worker's own thread. Objects that an event callback may destroy
// are deleted through DeferDelete(), never inside their own callback.
#include "proxy/server/worker.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proxy/event/buffer.h"
#include "proxy/event/socket.h"
#include "proxy/http/parser.h"

namespace lb::proxy {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Above this much buffered towards a peer, stop reading from the other side.
constexpr size_t kHighWater = 1024 * 1024;
constexpr size_t kMaxHead = 60 * 1024;

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

const char* Reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
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

// The path of a request-target (absolute-form included).
absl::string_view TargetPath(absl::string_view target) {
  if (!target.empty() && target[0] != '/') {
    size_t scheme = target.find("://");
    if (scheme != absl::string_view::npos) {
      size_t slash = target.find('/', scheme + 3);
      return slash == absl::string_view::npos ? absl::string_view("/") : target.substr(slash);
    }
  }
  return target;
}

// Copies forwarded header lines as they arrived, a run of consecutive kept lines in one append
// instead of rebuilding each "name: value\r\n". Relies on the parser's guarantees: every line of
// a parsed head ends in CRLF, and consecutive header lines are adjacent in the buffer (no
// obs-fold), so a line runs from its name to the LF after its value.
class HeaderLineCopier {
 public:
  explicit HeaderLineCopier(std::string* out) : out_(out) {}
  // Call for every header in order; `keep` says whether this one is forwarded.
  void Line(const http::Header& h, bool keep) {
    if (!keep) {
      Flush();
      return;
    }
    if (run_ == nullptr) run_ = h.name.data();
    const char* end = h.value.data() + h.value.size();
    while (*end != '\n') ++end;  // Trailing whitespace, then CRLF.
    run_end_ = end + 1;
  }
  void Flush() {
    if (run_ != nullptr) out_->append(run_, static_cast<size_t>(run_end_ - run_));
    run_ = nullptr;
  }

 private:
  std::string* const out_;
  const char* run_ = nullptr;
  const char* run_end_ = nullptr;
};

}  // namespace

class ClientConn;

// A snapshot pinned by the worker's requests; counted on the worker thread only.
struct SnapshotRef {
  std::shared_ptr<const Snapshot> snapshot;
  uint32_t users = 0;
};

// A connection to an upstream host: owned by a ClientConn while it carries a request, by the
// pool while idle.
struct UpstreamConn {
  int fd = -1;
  std::shared_ptr<HostState> host;
  // Created once per connection and kept while it moves between a request and the pool, so
  // reuse costs no epoll_ctl; events go to whoever holds the connection now.
  std::unique_ptr<event::FdWatcher> watcher;
  std::function<void(uint32_t)> on_event;
  std::function<void()> on_timer;
  std::unique_ptr<event::Timer> timer;  // Connect timeout, then idle timeout while pooled.
  event::Buffer in;
  event::Buffer out;
  http::ResponseParser parser;
  bool connected = false;

  ~UpstreamConn() {
    watcher.reset();
    if (fd >= 0) close(fd);
  }
  // Writes what it can; false on a write error. Write interest follows the buffer.
  bool Flush(bool want_read) {
    if (!connected) return true;
    if (!out.empty()) {
      ssize_t n = out.WriteTo(fd);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    }
    watcher->SetInterest(want_read, !out.empty());
    return true;
  }
};

class Worker::Impl {
 public:
  Impl(Worker* worker, event::Dispatcher* dispatcher, int listen_fd, const WorkerOptions& options,
       ResultSink sink)
      : worker_(worker),
        dispatcher_(dispatcher),
        listen_fd_(listen_fd),
        options_(options),
        sink_(std::move(sink)),
        rng_seed_(0x9E3779B97F4A7C15ull * (worker->index() + 1)) {}

  ~Impl();

  void Start() {
    dispatcher_->SetTurnEnd([this] { Sweep(); });
    listener_ = dispatcher_->WatchFd(listen_fd_, [this](uint32_t) { AcceptAll(); });
    listener_->SetInterest(true, false);
  }

  // The snapshot new requests use. Requests pin the one they started with through a
  // worker-local count (AcquireSnapshot/ReleaseSnapshot) instead of copying the shared_ptr:
  // that would write the snapshot's shared reference count, a cache line every worker writes,
  // twice per request.
  void SetSnapshot(std::shared_ptr<const Snapshot> s) {
    if (current_ != nullptr && current_->users > 0) retired_.push_back(std::move(current_));
    current_ = std::make_unique<SnapshotRef>();
    current_->snapshot = std::move(s);
  }
  SnapshotRef* AcquireSnapshot() {
    if (current_ == nullptr) return nullptr;
    ++current_->users;
    return current_.get();
  }
  void ReleaseSnapshot(SnapshotRef* ref) {
    if (--ref->users > 0 || ref == current_.get()) return;
    for (size_t i = 0; i < retired_.size(); ++i) {
      if (retired_[i].get() == ref) {
        retired_.erase(retired_.begin() + i);
        return;
      }
    }
  }
  void SetBalancing(ConnectionBalancer* balancer, Worker::HandOff hand_off) {
    balancer_ = balancer;
    hand_off_ = std::move(hand_off);
  }
  void Adopt(int fd, const event::SocketAddress& peer);
  void Drain(std::function<void()> done);

  // --- used by ClientConn ---
  event::Dispatcher* dispatcher() { return dispatcher_; }
  const WorkerOptions& options() const { return options_; }
  WorkerStats& stats() { return worker_->stats_; }
  bool draining() const { return draining_; }
  balancer::Picker::WorkerState& PickerState(const std::string& cluster) {
    auto it = picker_states_.find(cluster);
    if (it == picker_states_.end()) {
      it = picker_states_
               .emplace(cluster, balancer::Picker::WorkerState(rng_seed_ ^
                                                               std::hash<std::string>()(cluster)))
               .first;
    }
    return it->second;
  }
  HostCounters& Counters(HostState* host) { return host->counters(worker_->index()); }
  void Report(HostState* host, UpstreamResult result) {
    if (result == UpstreamResult::kSuccess) {
      // Read before writing: the common case (no streak) then leaves the shared line clean.
      if (host->consecutive_5xx.load(std::memory_order_relaxed) != 0) {
        host->consecutive_5xx.store(0, std::memory_order_relaxed);
      }
      if (host->consecutive_gateway_failures.load(std::memory_order_relaxed) != 0) {
        host->consecutive_gateway_failures.store(0, std::memory_order_relaxed);
      }
      return;
    }
    Counters(host).failures.fetch_add(1, std::memory_order_relaxed);
    (result == UpstreamResult::k5xx ? host->consecutive_5xx : host->consecutive_gateway_failures)
        .fetch_add(1, std::memory_order_relaxed);
    if (sink_) sink_(host->shared_from_this(), result);
  }
  bool RetryAllowed() {
    uint64_t active = stats().requests_active.load(std::memory_order_relaxed);
    return retries_in_flight_ < 3 + options_.retry_budget * active;
  }
  uint32_t& retries_in_flight() { return retries_in_flight_; }

  std::unique_ptr<UpstreamConn> TakeIdle(HostState* host);
  // Stops its events now and frees it at the end of the loop turn.
  void Dispose(std::unique_ptr<UpstreamConn> conn) {
    if (conn == nullptr) return;
    if (conn->watcher != nullptr) conn->watcher->SetInterest(false, false);
    if (conn->timer != nullptr) conn->timer->Disarm();
    dead_upstreams_.push_back(std::move(conn));
  }
  void PutIdle(std::unique_ptr<UpstreamConn> conn);
  void Closed(ClientConn* conn);

 private:
  void AcceptAll();
  // Deletes closed connections: at the end of the loop turn, when no callback of theirs is on
  // the stack (and when the worker goes away).
  void Sweep();
  void AddConn(int fd, const event::SocketAddress& peer);
  void DropIdle(UpstreamConn* conn);
  void MaybeDrained();

  Worker* const worker_;
  event::Dispatcher* const dispatcher_;
  int listen_fd_;
  const WorkerOptions options_;
  ResultSink sink_;
  const uint64_t rng_seed_;
  ConnectionBalancer* balancer_ = nullptr;
  Worker::HandOff hand_off_;
  std::unique_ptr<event::FdWatcher> listener_;
  std::vector<ClientConn*> dead_conns_;
  std::vector<std::unique_ptr<UpstreamConn>> dead_upstreams_;
  std::unique_ptr<SnapshotRef> current_;
  std::vector<std::unique_ptr<SnapshotRef>> retired_;  // Still pinned by requests.
  absl::flat_hash_set<ClientConn*> conns_;
  absl::flat_hash_map<HostState*, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
  absl::flat_hash_map<std::string, balancer::Picker::WorkerState> picker_states_;
  uint32_t retries_in_flight_ = 0;
  bool draining_ = false;
  std::function<void()> drained_;
};

// One client connection and the request on it (one at a time; pipelined requests wait in the
// input buffer).
class ClientConn {
 public:
  ClientConn(Worker::Impl* worker, int fd, const event::SocketAddress& peer)
      : w_(worker), fd_(fd), peer_ip_(peer.Ip()) {
    watcher_ = w_->dispatcher()->WatchFd(fd_, [this](uint32_t ev) { OnEvent(ev); });
    timer_ = w_->dispatcher()->CreateTimer([this] { OnTimeout(); });
    watcher_->SetInterest(true, false);
    timer_->Arm(w_->options().request_header_timeout);
  }

  ~ClientConn() {
    watcher_.reset();
    if (fd_ >= 0) close(fd_);
  }

  // Between requests with nothing left to send.
  bool idle() const {
    return state_ == State::kReadHead && in_.empty() && out_.empty() && !closed_;
  }
  void Close();
  // Draining: close now if idle, else after the current response.
  void StartDrain() {
    if (idle()) Close();
  }

 private:
  enum class State { kReadHead, kProxying, kTunnel, kClosing };
  enum class Failure { kConnect, kReset, kTimeout };

  void OnEvent(uint32_t events);
  void OnTimeout();
  void ReadClient();
  void Drive();
  void BeginRequest(size_t head_len);
  void BuildRequestHead();
  void PickAndAttach();
  void AttachUpstream(std::unique_ptr<UpstreamConn> up);
  void OnUpstreamEvent(uint32_t events);
  void PumpRequestBody();
  void ReadUpstream();
  void DriveResponse();
  void BeginResponse(size_t head_len);
  void FinishResponse();
  void OnUpstreamFailure(Failure failure);
  void LocalReply(int status, absl::string_view message, bool close);
  void NextRequest();
  void FlushClient();
  void ReleaseRequest();
  // Closes the current upstream connection (not reusable). Deferred: we may be inside its
  // own event callback.
  void DropUpstream() { w_->Dispose(std::move(up_)); }
  // The host the request is on now; keeps the host's in-flight count (least request reads
  // it across workers; /config_dump shows it).
  void SetHost(HostState* host) {
    if (host_ != nullptr) w_->Counters(host_).active.fetch_sub(1, std::memory_order_relaxed);
    host_ = host;
    if (host_ != nullptr) w_->Counters(host_).active.fetch_add(1, std::memory_order_relaxed);
  }
  void UpdateInterest();

  Worker::Impl* const w_;
  int fd_;
  std::string peer_ip_;
  std::unique_ptr<event::FdWatcher> watcher_;
  std::unique_ptr<event::Timer> timer_;
  event::Buffer in_;
  event::Buffer out_;
  http::RequestParser parser_;
  State state_ = State::kReadHead;
  bool closed_ = false;
  bool in_drive_ = false;  // Drive() is on the stack: NextRequest() leaves parsing to it.
  bool in_request_ = false;
  bool header_deadline_ = true;  // The timer runs the request-header timeout, not idle.
  bool client_eof_ = false;      // The client half-closed after its request.
  bool client_paused_ = false;   // Client reads stopped for backpressure.
  bool upstream_paused_ = false;

  // The request in progress.
  SnapshotRef* snap_ref_ = nullptr;  // Pins snap_ while the request runs.
  const Snapshot* snap_ = nullptr;
  const ClusterSnapshot* cluster_ = nullptr;
  std::string request_head_;   // As sent upstream; kept for retries.
  std::string response_head_;  // Scratch, kept for its capacity.
  http::Method method_ = http::Method::kGet;
  bool http10_ = false;
  bool keep_alive_ = true;
  bool upgrade_ = false;
  bool expect_100_ = false;
  bool sent_100_ = false;
  http::BodyFraming req_framing_ = http::BodyFraming::kNone;
  uint64_t req_remaining_ = 0;
  uint64_t req_body_bytes_ = 0;
  http::ChunkedDecoder req_chunks_;
  bool req_body_done_ = true;
  bool req_body_sent_ = false;
  uint64_t hash_ = 0;
  uint32_t retries_left_ = 0;
  bool retrying_ = false;
  std::vector<uint32_t> tried_;
  HostState* host_ = nullptr;  // Kept alive by snap_.
  std::unique_ptr<UpstreamConn> up_;
  // The response in progress.
  bool resp_started_ = false;  // Head sent to the client.
  bool resp_any_ = false;      // Any byte received from the upstream.
  http::BodyFraming resp_framing_ = http::BodyFraming::kNone;
  uint64_t resp_remaining_ = 0;
  http::ChunkedDecoder resp_chunks_;
  bool resp_dechunk_ = false;  // HTTP/1.0 client: strip chunked framing.
  int resp_status_ = 0;
};

// ---------------------------------------------------------------------------------------------

Worker::Impl::~Impl() {
  Sweep();
  std::vector<ClientConn*> conns(conns_.begin(), conns_.end());
  for (ClientConn* c : conns) delete c;
  idle_.clear();
  listener_.reset();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void Worker::Impl::AcceptAll() {
  for (int i = 0; i < 64; ++i) {
    event::SocketAddress peer;
    int fd = event::Accept(listen_fd_, &peer);
    if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE...): try again next wakeup.
    stats().connections_accepted.fetch_add(1, std::memory_order_relaxed);
    int self = worker_->index();
    int owner = balancer_ != nullptr ? balancer_->Assign(self) : self;
    if (owner != self) {
      stats().connections_handed_off.fetch_add(1, std::memory_order_relaxed);
      hand_off_(owner, fd, peer);
      continue;
    }
    AddConn(fd, peer);
  }
}

void Worker::Impl::Adopt(int fd, const event::SocketAddress& peer) {
  if (draining_) {
    // Too late: this worker stopped accepting. The client sees the close as a reset listener.
    close(fd);
    if (balancer_ != nullptr) balancer_->Release(worker_->index());
    return;
  }
  AddConn(fd, peer);
}

void Worker::Impl::AddConn(int fd, const event::SocketAddress& peer) {
  stats().connections_active.fetch_add(1, std::memory_order_relaxed);
  conns_.insert(new ClientConn(this, fd, peer));
}

void Worker::Impl::Sweep() {
  std::vector<ClientConn*> conns;
  conns.swap(dead_conns_);
  for (ClientConn* c : conns) delete c;
  dead_upstreams_.clear();
}

void Worker::Impl::Closed(ClientConn* conn) {
  conns_.erase(conn);
  stats().connections_active.fetch_sub(1, std::memory_order_relaxed);
  if (balancer_ != nullptr) balancer_->Release(worker_->index());
  // Deleted at the end of the loop turn: we may be inside one of its callbacks.
  dead_conns_.push_back(conn);
  MaybeDrained();
}

std::unique_ptr<UpstreamConn> Worker::Impl::TakeIdle(HostState* host) {
  auto it = idle_.find(host);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<UpstreamConn> conn = std::move(it->second.back());
  it->second.pop_back();
  conn->timer->Disarm();
  return conn;
}

void Worker::Impl::PutIdle(std::unique_ptr<UpstreamConn> conn) {
  HostState* host = conn->host.get();
  auto& list = idle_[host];
  if (draining_ || host->removed.load(std::memory_order_relaxed) ||
      list.size() >= options_.max_idle_per_host) {
    Dispose(std::move(conn));
    return;
  }
  UpstreamConn* raw = conn.get();
  // While idle, readability means the upstream closed (or sent garbage): drop it.
  raw->on_event = [this, raw](uint32_t) { DropIdle(raw); };
  raw->on_timer = [this, raw] { DropIdle(raw); };
  raw->watcher->SetInterest(true, false);
  raw->timer->Arm(options_.upstream_idle_timeout);
  list.push_back(std::move(conn));
}

void Worker::Impl::DropIdle(UpstreamConn* conn) {
  auto it = idle_.find(conn->host.get());
  if (it == idle_.end()) return;
  auto& list = it->second;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].get() == conn) {
      Dispose(std::move(list[i]));
      list.erase(list.begin() + i);
      break;
    }
  }
  if (list.empty()) idle_.erase(it);
}

void Worker::Impl::Drain(std::function<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  listener_.reset();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
  idle_.clear();
  std::vector<ClientConn*> conns(conns_.begin(), conns_.end());
  for (ClientConn* c : conns) c->StartDrain();
  MaybeDrained();
}

void Worker::Impl::MaybeDrained() {
  if (draining_ && conns_.empty() && drained_) {
    auto done = std::move(drained_);
    drained_ = nullptr;
    done();
  }
}

// ---------------------------------------------------------------------------------------------

void ClientConn::Close() {
  if (closed_) return;
  closed_ = true;
  if (up_ != nullptr) DropUpstream();  // Mid-request: the upstream connection is not reusable.
  ReleaseRequest();
  timer_->Disarm();
  watcher_.reset();
  close(fd_);
  fd_ = -1;
  w_->Closed(this);
}

void ClientConn::ReleaseRequest() {
  if (retrying_) {
    --w_->retries_in_flight();
    retrying_ = false;
  }
  if (in_request_) {
    w_->stats().requests_active.fetch_sub(1, std::memory_order_relaxed);
    in_request_ = false;
  }
  SetHost(nullptr);  // Before the snapshot that keeps the host alive is let go.
  cluster_ = nullptr;
  snap_ = nullptr;
  if (snap_ref_ != nullptr) w_->ReleaseSnapshot(snap_ref_);
  snap_ref_ = nullptr;
}

void ClientConn::OnEvent(uint32_t events) {
  if (events & event::FdWatcher::kWrite) {
    FlushClient();
    if (closed_) return;
  }
  if (events & event::FdWatcher::kRead) ReadClient();
}

void ClientConn::OnTimeout() {
  switch (state_) {
    case State::kReadHead:
      if (in_.empty()) {
        Close();  // Idle keep-alive connection.
      } else {
        LocalReply(408, "request headers not received in time", true);
      }
      return;
    case State::kProxying:
      if (!resp_started_) {
        w_->stats().upstream_timeouts.fetch_add(1, std::memory_order_relaxed);
        OnUpstreamFailure(Failure::kTimeout);
      } else {
        Close();
      }
      return;
    default:
      Close();
  }
}

void ClientConn::ReadClient() {
  ssize_t n = in_.ReadFrom(fd_, kReadChunk);
  if (n == 0 && state_ == State::kProxying && req_body_done_) {
    // Half-close after a complete request: answer it, then close.
    client_eof_ = true;
    keep_alive_ = false;
    UpdateInterest();
    return;
  }
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    Close();  // The client went away; nothing more can be answered.
    return;
  }
  if (n < 0) return;
  Drive();
}

void ClientConn::Drive() {
  switch (state_) {
    case State::kReadHead: {
      // Pipelined requests are handled in this loop, not by recursion.
      in_drive_ = true;
      while (!closed_ && state_ == State::kReadHead && !in_.empty()) {
        size_t len = std::min(in_.size(), kMaxHead + 1);
        const char* data = in_.Linearize(len);
        http::ParseResult r = parser_.Parse(data, len);
        if (r.incomplete()) {
          if (!header_deadline_) {
            // The idle keep-alive timer gives way to the header timeout (408).
            header_deadline_ = true;
            timer_->Arm(w_->options().request_header_timeout);
          }
          break;
        }
        if (r.error()) {
          LocalReply(r.error_status, r.error_reason, true);
          break;
        }
        BeginRequest(r.consumed);
      }
      in_drive_ = false;
      return;
    }
    case State::kProxying:
      PumpRequestBody();
      return;
    case State::kTunnel:
      if (up_ != nullptr) {
        up_->out.MoveAllFrom(in_);
        if (!up_->Flush(!upstream_paused_)) Close();
      }
      return;
    case State::kClosing:
      in_.Clear();
      return;
  }
}

void ClientConn::BeginRequest(size_t head_len) {
  timer_->Disarm();
  w_->stats().requests.fetch_add(1, std::memory_order_relaxed);
  method_ = parser_.method();
  http10_ = parser_.version() == http::Version::kHttp10;
  keep_alive_ = parser_.keep_alive() && !w_->draining();
  upgrade_ = parser_.upgrade();
  expect_100_ = parser_.expect_100_continue();
  sent_100_ = false;
  req_framing_ = parser_.body_framing();
  req_body_done_ = req_framing_ == http::BodyFraming::kNone;
  req_body_sent_ = false;
  req_body_bytes_ = 0;
  req_remaining_ = 0;
  if (req_framing_ == http::BodyFraming::kContentLength) {
    req_remaining_ = parser_.content_length().value_or(0);
    req_body_done_ = req_remaining_ == 0;
  }
  if (req_framing_ == http::BodyFraming::kChunked) req_chunks_.Reset();
  resp_started_ = resp_any_ = false;
  resp_status_ = 0;
  tried_.clear();
  if (snap_ref_ != nullptr) w_->ReleaseSnapshot(snap_ref_);
  snap_ref_ = w_->AcquireSnapshot();
  snap_ = snap_ref_ != nullptr ? snap_ref_->snapshot.get() : nullptr;
  in_request_ = true;
  w_->stats().requests_active.fetch_add(1, std::memory_order_relaxed);
  state_ = State::kProxying;

  uint64_t max_body = w_->options().max_body_bytes;
  if (max_body > 0 && req_framing_ == http::BodyFraming::kContentLength &&
      req_remaining_ > max_body) {
    in_.Drain(head_len);
    LocalReply(413, "request body too large", true);
    return;
  }
  const RouteConfig* route = nullptr;
  if (snap_ != nullptr) route = snap_->Match(parser_.host(), TargetPath(parser_.target()));
  if (route != nullptr) {
    cluster_ = snap_->FindCluster(route->cluster);
    retries_left_ = route->retries;
    hash_ = 0;
    if (route->has_hash_policy ||
        (cluster_ != nullptr && (cluster_->config.policy == LbPolicy::kRingHash ||
                                 cluster_->config.policy == LbPolicy::kMaglev))) {
      absl::string_view key = peer_ip_;
      if (route->has_hash_policy && route->hash_policy.kind == HashPolicy::Kind::kHeader) {
        const http::Header* h = parser_.FindHeader(route->hash_policy.name);
        if (h != nullptr) key = h->value;
      } else if (route->has_hash_policy && route->hash_policy.kind == HashPolicy::Kind::kCookie) {
        const http::Header* h = parser_.FindHeader("cookie");
        if (h != nullptr) {
          absl::string_view v = CookieValue(h->value, route->hash_policy.name);
          if (!v.empty()) key = v;
        }
      }
      hash_ = balancer::HashKey(key);
    }
  }
  BuildRequestHead();
  in_.Drain(head_len);

  if (snap_ == nullptr) {
    // Retryable, like the admin /ready: a 404 would tell clients the resource does not exist.
    LocalReply(503, "no configuration received from the controller yet", !req_body_done_);
    return;
  }
  if (route == nullptr) {
    LocalReply(404, "no route matches this host and path", !req_body_done_);
    return;
  }
  if (cluster_ == nullptr) {
    LocalReply(503, absl::StrCat("cluster \"", route->cluster, "\" is not available"),
               !req_body_done_);
    return;
  }
  PickAndAttach();
}

void ClientConn::BuildRequestHead() {
  const auto& headers = parser_.headers();
  std::string& out = request_head_;
  out.clear();
  absl::string_view method = parser_.method() == http::Method::kOther
                                 ? parser_.method_token()
                                 : http::MethodName(parser_.method());
  absl::StrAppend(&out, method, " ", parser_.target(), " HTTP/1.1\r\n");
  std::string xff;
  absl::string_view upgrade_value;
  HeaderLineCopier copier(&out);
  for (size_t i = 0; i < headers.size(); ++i) {
    const http::Header& h = headers[i];
    bool keep = false;
    if (parser_.IsHopByHop(i)) {
      if (upgrade_ && http::EqualsIgnoreCase(h.name, "upgrade")) upgrade_value = h.value;
    } else if (http::EqualsIgnoreCase(h.name, "x-forwarded-for")) {
      absl::StrAppend(&xff, xff.empty() ? "" : ", ", h.value);
    } else {
      // X-Forwarded-Proto is ours to set, Content-Length is re-added once below.
      keep = !http::EqualsIgnoreCase(h.name, "x-forwarded-proto") &&
             !http::EqualsIgnoreCase(h.name, "content-length") &&
             !(expect_100_ && http::EqualsIgnoreCase(h.name, "expect"));
    }
    copier.Line(h, keep);
  }
  copier.Flush();
  if (!parser_.has_host()) absl::StrAppend(&out, "Host: ", "localhost", "\r\n");
  absl::StrAppend(&out, "X-Forwarded-For: ", xff, xff.empty() ? "" : ", ", peer_ip_,
                  "\r\nX-Forwarded-Proto: http\r\n");
  if (req_framing_ == http::BodyFraming::kChunked) out += "Transfer-Encoding: chunked\r\n";
  if (req_framing_ == http::BodyFraming::kContentLength) {
    absl::StrAppend(&out, "Content-Length: ", parser_.content_length().value_or(0), "\r\n");
  }
  if (upgrade_) absl::StrAppend(&out, "Connection: upgrade\r\nUpgrade: ", upgrade_value, "\r\n");
  out += "\r\n";
}

void ClientConn::PickAndAttach() {
  const balancer::Picker* picker = cluster_->picker.get();
  int64_t idx = -1;
  if (picker != nullptr) {
    balancer::Picker::Input input;
    input.hash = hash_;
    input.tried = tried_.data();
    input.tried_count = tried_.size();
    if (cluster_->config.policy == LbPolicy::kLeastRequest) {
      // Every worker's requests on the host, across snapshots (hosts outlive them).
      input.active_requests = [](const void* cluster, uint32_t host) {
        return static_cast<const ClusterSnapshot*>(cluster)->hosts[host]->active();
      };
      input.active_context = cluster_;
    }
    idx = picker->Pick(w_->PickerState(cluster_->config.name), input);
  }
  if (idx < 0) {
    if (tried_.empty()) {
      LocalReply(503, "no healthy upstream", !req_body_done_);
    } else {
      LocalReply(502, "upstream connect error or disconnect before response", !req_body_done_);
    }
    return;
  }
  tried_.push_back(static_cast<uint32_t>(idx));
  SetHost(cluster_->hosts[idx].get());
  w_->Counters(host_).requests.fetch_add(1, std::memory_order_relaxed);

  std::unique_ptr<UpstreamConn> up = w_->TakeIdle(host_);
  if (up != nullptr) {
    w_->stats().upstream_reuses.fetch_add(1, std::memory_order_relaxed);
    AttachUpstream(std::move(up));
    return;
  }
  absl::StatusOr<int> fd = event::StartConnect(host_->address);
  if (!fd.ok()) {
    OnUpstreamFailure(Failure::kConnect);
    return;
  }
  w_->stats().upstream_connects.fetch_add(1, std::memory_order_relaxed);
  up = std::make_unique<UpstreamConn>();
  up->fd = *fd;
  up->host = cluster_->hosts[idx];
  AttachUpstream(std::move(up));
}

void ClientConn::AttachUpstream(std::unique_ptr<UpstreamConn> up) {
  up_ = std::move(up);
  UpstreamConn* raw = up_.get();
  if (raw->watcher == nullptr) {
    raw->watcher = w_->dispatcher()->WatchFd(raw->fd, [raw](uint32_t ev) { raw->on_event(ev); });
    raw->timer = w_->dispatcher()->CreateTimer([raw] { raw->on_timer(); });
  }
  raw->on_event = [this](uint32_t ev) { OnUpstreamEvent(ev); };
  raw->on_timer = [] {};
  raw->timer->Disarm();
  raw->in.Clear();
  raw->out.Clear();
  raw->parser.Reset(method_);
  raw->out.Append(request_head_);
  upstream_paused_ = false;
  timer_->Arm(!raw->connected  ? cluster_->config.connect_timeout
              : req_body_done_ ? w_->options().upstream_timeout
                               : w_->options().idle_timeout);
  if (!raw->connected) {
    raw->watcher->SetInterest(false, true);  // Writable = connected (or failed).
    return;
  }
  if (expect_100_ && !req_body_done_ && !sent_100_) {
    out_.Append("HTTP/1.1 100 Continue\r\n\r\n");
    sent_100_ = true;
    FlushClient();
    if (closed_) return;
  }
  PumpRequestBody();
}

void ClientConn::OnUpstreamEvent(uint32_t events) {
  UpstreamConn* up = up_.get();
  if (up == nullptr) return;
  if (!up->connected) {
    int err = event::ConnectResult(up->fd);
    if (err != 0) {
      w_->stats().upstream_connect_failures.fetch_add(1, std::memory_order_relaxed);
      OnUpstreamFailure(Failure::kConnect);
      return;
    }
    up->connected = true;
    // While the body uploads only a stall limit applies; the upstream timeout starts once the
    // whole request is sent (PumpRequestBody).
    timer_->Arm(req_body_done_ ? w_->options().upstream_timeout : w_->options().idle_timeout);
    if (expect_100_ && !req_body_done_ && !sent_100_) {
      out_.Append("HTTP/1.1 100 Continue\r\n\r\n");
      sent_100_ = true;
      FlushClient();
      if (closed_) return;
    }
    PumpRequestBody();
    return;
  }
  if (events & event::FdWatcher::kWrite) {
    if (!up->Flush(!upstream_paused_)) {
      OnUpstreamFailure(Failure::kReset);
      return;
    }
    if (client_paused_ && up->out.size() < kHighWater / 2) {
      client_paused_ = false;
      UpdateInterest();
      Drive();
      if (closed_ || up_.get() != up) return;
    }
  }
  if (events & event::FdWatcher::kRead) ReadUpstream();
}

void ClientConn::PumpRequestBody() {
  UpstreamConn* up = up_.get();
  if (up == nullptr || !up->connected) return;
  bool was_done = req_body_done_;
  uint64_t max_body = w_->options().max_body_bytes;
  while (!req_body_done_ && !in_.empty()) {
    if (req_framing_ == http::BodyFraming::kContentLength) {
      size_t n = std::min<uint64_t>(req_remaining_, in_.size());
      up->out.MoveFrom(in_, n);
      req_remaining_ -= n;
      req_body_sent_ = true;
      req_body_done_ = req_remaining_ == 0;
      break;
    }
    absl::string_view chunk = in_.FirstChunk();
    http::ChunkedDecoder::Result r = req_chunks_.Decode(chunk.data(), chunk.size());
    if (r.status == http::ChunkedDecoder::Status::kError) {
      if (!resp_started_) {
        DropUpstream();
        LocalReply(req_chunks_.error_status(), req_chunks_.error_reason(), true);
      } else {
        Close();
      }
      return;
    }
    req_body_bytes_ += r.payload.size();
    if (max_body > 0 && req_body_bytes_ > max_body) {
      if (!resp_started_) {
        DropUpstream();
        LocalReply(413, "request body too large", true);
      } else {
        Close();
      }
      return;
    }
    up->out.MoveFrom(in_, r.consumed);
    req_body_sent_ = true;
    if (r.status == http::ChunkedDecoder::Status::kDone) req_body_done_ = true;
  }
  if (!was_done && !resp_started_) {
    timer_->Arm(req_body_done_ ? w_->options().upstream_timeout : w_->options().idle_timeout);
  }
  if (!up->Flush(!upstream_paused_)) {
    OnUpstreamFailure(Failure::kReset);
    return;
  }
  bool pause = up->out.size() > kHighWater;
  if (pause != client_paused_) {
    client_paused_ = pause;
    UpdateInterest();
  }
}

void ClientConn::ReadUpstream() {
  UpstreamConn* up = up_.get();
  ssize_t n = up->in.ReadFrom(up->fd, kReadChunk);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    // EOF or reset from the upstream.
    if (!resp_started_) {
      if (!resp_any_) {
        OnUpstreamFailure(Failure::kReset);
      } else {
        DropUpstream();
        w_->Report(host_, UpstreamResult::kGatewayFailure);
        LocalReply(502, "upstream sent an incomplete response", true);
      }
      return;
    }
    if (resp_framing_ == http::BodyFraming::kCloseDelimited) {
      DriveResponse();  // Forward what is left, then finish.
      if (closed_ || up_ == nullptr) return;
      keep_alive_ = false;
      DropUpstream();
      FinishResponse();
      return;
    }
    if (state_ == State::kTunnel) {
      DriveResponse();
      if (!closed_) {
        state_ = State::kClosing;
        DropUpstream();
        FlushClient();
      }
      return;
    }
    Close();  // Truncated body: the client must not take it as complete.
    return;
  }
  resp_any_ = true;
  DriveResponse();
}

void ClientConn::DriveResponse() {
  UpstreamConn* up = up_.get();
  while (up != nullptr && !resp_started_ && !up->in.empty()) {
    size_t len = std::min(up->in.size(), kMaxHead + 1);
    const char* data = up->in.Linearize(len);
    http::ParseResult r = up->parser.Parse(data, len);
    if (r.incomplete()) return;
    if (r.error()) {
      DropUpstream();
      w_->Report(host_, UpstreamResult::kGatewayFailure);
      LocalReply(502, "upstream sent an invalid response", true);
      return;
    }
    if (up->parser.interim()) {
      // We answer Expect: 100-continue ourselves; interim responses are dropped.
      up->in.Drain(r.consumed);
      up->parser.Reset(method_);
      continue;
    }
    BeginResponse(r.consumed);
    if (closed_ || up_ == nullptr) return;
  }
  if (up == nullptr || !resp_started_) return;
  if (state_ == State::kTunnel) {
    out_.MoveAllFrom(up->in);
    FlushClient();
    return;
  }
  while (!up->in.empty()) {
    if (resp_framing_ == http::BodyFraming::kContentLength) {
      size_t n = std::min<uint64_t>(resp_remaining_, up->in.size());
      out_.MoveFrom(up->in, n);
      resp_remaining_ -= n;
      if (resp_remaining_ == 0) break;
      continue;
    }
    if (resp_framing_ == http::BodyFraming::kCloseDelimited) {
      out_.MoveAllFrom(up->in);
      break;
    }
    if (resp_framing_ != http::BodyFraming::kChunked) break;
    absl::string_view chunk = up->in.FirstChunk();
    http::ChunkedDecoder::Result r = resp_chunks_.Decode(chunk.data(), chunk.size());
    if (r.status == http::ChunkedDecoder::Status::kError) {
      Close();  // The head is already out; all we can do is cut the response.
      return;
    }
    if (resp_dechunk_) {
      if (!r.payload.empty()) out_.Append(r.payload);
      up->in.Drain(r.consumed);
    } else {
      out_.MoveFrom(up->in, r.consumed);
    }
    if (r.status == http::ChunkedDecoder::Status::kDone) break;
  }
  bool complete = (resp_framing_ == http::BodyFraming::kContentLength && resp_remaining_ == 0) ||
                  (resp_framing_ == http::BodyFraming::kChunked && resp_chunks_.done()) ||
                  resp_framing_ == http::BodyFraming::kNone;
  if (complete) {
    FinishResponse();
    return;
  }
  FlushClient();
  if (closed_) return;
  bool pause = out_.size() > kHighWater;
  if (pause != upstream_paused_ && up_ != nullptr) {
    upstream_paused_ = pause;
    up_->watcher->SetInterest(!pause, !up_->out.empty());
  }
}

void ClientConn::BeginResponse(size_t head_len) {
  UpstreamConn* up = up_.get();
  const http::ResponseParser& p = up->parser;
  resp_status_ = p.status_code();
  resp_framing_ = p.body_framing();
  resp_remaining_ =
      resp_framing_ == http::BodyFraming::kContentLength ? p.content_length().value_or(0) : 0;
  resp_dechunk_ = resp_framing_ == http::BodyFraming::kChunked && http10_;
  if (resp_framing_ == http::BodyFraming::kChunked) resp_chunks_.Reset();
  bool tunnel = p.upgrade() && upgrade_;
  if (w_->draining()) keep_alive_ = false;  // Tell the client this connection is ending.
  if (p.upgrade() && !tunnel) {
    DropUpstream();
    w_->Report(host_, UpstreamResult::kGatewayFailure);
    LocalReply(502, "upstream switched protocols without being asked", true);
    return;
  }
  if (resp_framing_ == http::BodyFraming::kCloseDelimited || resp_dechunk_) keep_alive_ = false;
  if (tunnel) keep_alive_ = false;

  std::string& head = response_head_;
  head.clear();
  absl::StrAppend(&head, "HTTP/1.1 ", resp_status_, " ", p.reason(), "\r\n");
  absl::string_view upgrade_value;
  const auto& headers = p.headers();
  HeaderLineCopier copier(&head);
  for (size_t i = 0; i < headers.size(); ++i) {
    if (p.IsHopByHop(i)) {
      if (tunnel && http::EqualsIgnoreCase(headers[i].name, "upgrade")) {
        upgrade_value = headers[i].value;
      }
      copier.Line(headers[i], false);
      continue;
    }
    // Framing is ours to state: one Content-Length at most, never beside chunked (a response
    // carrying both would let a later hop read it differently).
    copier.Line(headers[i], !http::EqualsIgnoreCase(headers[i].name, "content-length"));
  }
  copier.Flush();
  // HEAD and 304 answers carry the length the body would have had.
  if (p.content_length().has_value() && resp_framing_ != http::BodyFraming::kChunked &&
      resp_framing_ != http::BodyFraming::kTunnel && !resp_dechunk_ &&
      resp_framing_ != http::BodyFraming::kCloseDelimited) {
    absl::StrAppend(&head, "Content-Length: ", *p.content_length(), "\r\n");
  }
  if (tunnel) {
    absl::StrAppend(&head, "Connection: Upgrade\r\nUpgrade: ", upgrade_value, "\r\n");
  } else {
    if (resp_framing_ == http::BodyFraming::kChunked && !resp_dechunk_) {
      head += "Transfer-Encoding: chunked\r\n";
    }
    if (!keep_alive_) {
      head += "Connection: close\r\n";
    } else if (http10_) {
      head += "Connection: keep-alive\r\n";
    }
  }
  head += "\r\n";
  out_.Append(head);
  up->in.Drain(head_len);
  resp_started_ = true;
  timer_->Disarm();  // The upstream timeout covers the wait for the head, not the body.

  WorkerStats& stats = w_->stats();
  if (resp_status_ >= 500) {
    stats.responses_5xx.fetch_add(1, std::memory_order_relaxed);
    bool gateway = resp_status_ == 502 || resp_status_ == 503 || resp_status_ == 504;
    w_->Report(host_, gateway ? UpstreamResult::kGatewayFailure : UpstreamResult::k5xx);
  } else {
    if (resp_status_ >= 400) {
      stats.responses_4xx.fetch_add(1, std::memory_order_relaxed);
    } else if (resp_status_ >= 300) {
      stats.responses_3xx.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats.responses_2xx.fetch_add(1, std::memory_order_relaxed);
    }
    w_->Report(host_, UpstreamResult::kSuccess);
  }
  if (tunnel) {
    timer_->Disarm();
    state_ = State::kTunnel;
    up->out.MoveAllFrom(in_);
    if (!up->Flush(true)) {
      Close();
      return;
    }
  }
}

void ClientConn::FinishResponse() {
  timer_->Disarm();
  if (up_ != nullptr) {
    bool reusable = up_->parser.keep_alive() && req_body_done_ && up_->in.empty() &&
                    up_->out.empty() && !upstream_paused_;
    if (reusable) w_->PutIdle(std::move(up_));
    DropUpstream();
  }
  if (!req_body_done_) keep_alive_ = false;  // Unread body bytes would be parsed as a request.
  ReleaseRequest();
  NextRequest();
}

void ClientConn::NextRequest() {
  if (!keep_alive_ || w_->draining()) {
    state_ = State::kClosing;
    FlushClient();
    return;
  }
  state_ = State::kReadHead;
  parser_.Reset();
  resp_started_ = resp_any_ = false;
  header_deadline_ = !in_.empty();
  upstream_paused_ = false;
  if (client_paused_) {
    client_paused_ = false;
  }
  timer_->Arm(in_.empty() ? w_->options().idle_timeout : w_->options().request_header_timeout);
  FlushClient();
  if (closed_) return;
  UpdateInterest();
  if (!in_.empty() && !in_drive_) Drive();  // A pipelined request is already here.
}

void ClientConn::OnUpstreamFailure(Failure failure) {
  DropUpstream();
  if (host_ != nullptr) w_->Report(host_, UpstreamResult::kGatewayFailure);
  // Retry on another endpoint when nothing of the request could have been acted on twice: a
  // connect failure, or a reset before any response byte of an idempotent request whose body
  // (if any) is still here.
  bool replayable = !req_body_sent_ && (failure == Failure::kConnect || IsIdempotent(method_));
  if (failure != Failure::kTimeout && replayable && !resp_any_ && retries_left_ > 0 &&
      w_->RetryAllowed()) {
    --retries_left_;
    w_->stats().retries.fetch_add(1, std::memory_order_relaxed);
    if (!retrying_) {
      retrying_ = true;
      ++w_->retries_in_flight();
    }
    PickAndAttach();
    return;
  }
  if (failure == Failure::kTimeout) {
    LocalReply(504, "upstream request timeout", true);
  } else {
    LocalReply(502, "upstream connect error or disconnect before response", true);
  }
}

void ClientConn::LocalReply(int status, absl::string_view message, bool close) {
  DropUpstream();
  if (resp_started_) {
    Close();
    return;
  }
  WorkerStats& stats = w_->stats();
  stats.local_replies.fetch_add(1, std::memory_order_relaxed);
  (status >= 500 ? stats.responses_5xx : stats.responses_4xx)
      .fetch_add(1, std::memory_order_relaxed);
  if (close || !req_body_done_) keep_alive_ = false;
  std::string body = absl::StrCat(message, "\n");
  out_.Append(absl::StrCat(
      "HTTP/1.1 ", status, " ", Reason(status),
      "\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
      keep_alive_ ? (http10_ ? "\r\nConnection: keep-alive" : "") : "\r\nConnection: close",
      "\r\n\r\n", method_ == http::Method::kHead ? "" : body));
  resp_started_ = true;
  ReleaseRequest();
  timer_->Disarm();
  if (!keep_alive_) in_.Clear();
  NextRequest();
}

void ClientConn::FlushClient() {
  if (closed_) return;
  if (!out_.empty()) {
    ssize_t n = out_.WriteTo(fd_);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      Close();
      return;
    }
  }
  // Closing, or draining and this was the last answer the connection owed (a short write kept
  // it from closing when the drain began).
  if (out_.empty() && (state_ == State::kClosing || (w_->draining() && idle()))) {
    Close();
    return;
  }
  if (upstream_paused_ && out_.size() < kHighWater / 2 && up_ != nullptr) {
    upstream_paused_ = false;
    up_->watcher->SetInterest(true, !up_->out.empty());
  }
  UpdateInterest();
}

void ClientConn::UpdateInterest() {
  if (closed_ || watcher_ == nullptr) return;
  bool read = !client_paused_ && !client_eof_ && state_ != State::kClosing;
  // While a request is in flight keep reading (to notice a client that goes away and to take
  // pipelined requests), but stop once a lot is buffered.
  if (state_ == State::kProxying && req_body_done_ && in_.size() > kHighWater) read = false;
  watcher_->SetInterest(read, !out_.empty());
}

// ---------------------------------------------------------------------------------------------

Worker::Worker(int index, int listen_fd, const WorkerOptions& options, ResultSink sink)
    : index_(index) {
  absl::StatusOr<std::unique_ptr<event::Dispatcher>> d = event::Dispatcher::Create();
  if (d.ok()) dispatcher_ = std::move(*d);
  impl_ = std::make_unique<Impl>(this, dispatcher_.get(), listen_fd, options, std::move(sink));
}

Worker::~Worker() { Stop(); }

void Worker::SetBalancing(ConnectionBalancer* balancer, HandOff hand_off) {
  impl_->SetBalancing(balancer, std::move(hand_off));
}

void Worker::Adopt(int fd, const event::SocketAddress& peer) {
  // The closure owns the fd until it runs: if the loop stopped first, destroying the unrun
  // closure (with the dispatcher) closes it.
  std::shared_ptr<int> owned(new int(fd), [](int* p) {
    if (*p >= 0) close(*p);
    delete p;
  });
  dispatcher_->Post([this, owned, peer] { impl_->Adopt(std::exchange(*owned, -1), peer); });
}

void Worker::Start() {
  thread_ = std::thread([this] {
    impl_->Start();
    dispatcher_->Run();
    impl_.reset();  // Connections close on the worker's own thread.
  });
}

void Worker::SetSnapshot(std::shared_ptr<const Snapshot> snapshot, std::function<void()> applied) {
  dispatcher_->Post([this, s = std::move(snapshot), applied = std::move(applied)]() mutable {
    impl_->SetSnapshot(std::move(s));
    if (applied) applied();
  });
}

void Worker::Drain(std::function<void()> done) {
  dispatcher_->Post([this, done = std::move(done)]() mutable { impl_->Drain(std::move(done)); });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  dispatcher_->Exit();
  thread_.join();
}

}  // namespace lb::proxy
