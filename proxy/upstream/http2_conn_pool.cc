#include "proxy/upstream/http2_conn_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "proxy/event/lazy_timer.h"
#include "proxy/network/connection.h"

namespace lb::proxy::upstream {

// A stream waiting for its connection to come up.
class Http2ConnPool::PendingStream final : public PoolHandle {
 public:
  PendingStream(ActiveClient& client, http::ResponseDecoder& decoder, PoolCallbacks& callbacks,
                bool holds_slot)
      : client(client), decoder(decoder), callbacks(callbacks), holds_slot(holds_slot) {}
  void Cancel() override;

  ActiveClient& client;
  http::ResponseDecoder& decoder;
  PoolCallbacks& callbacks;
  bool holds_slot;  // A pending_requests slot of the cluster.
  std::list<std::unique_ptr<PendingStream>>::iterator self;
};

// One upstream connection and its codec: connecting (with streams waiting), open, or going
// away (GOAWAY received, or the pool drains: no new streams).
class Http2ConnPool::ActiveClient final : public network::ConnectionCallbacks,
                                          public http::Http2ClientCodecCallbacks,
                                          public event::DeferredDeletable {
 public:
  enum class State : uint8_t { kConnecting, kOpen, kClosed };

  ActiveClient(Http2ConnPool& pool, std::unique_ptr<network::Connection> connection,
               bool holds_connection_slot, uint32_t stream_cap)
      : pool_(pool),
        connection_(std::move(connection)),
        holds_connection_(holds_connection_slot),
        stream_cap_(stream_cap),
        timer_(pool.dispatcher_, [this] { OnTimer(); }) {
    connection_->SetCallbacks(this);
    timer_.Arm(pool.settings_.connect_timeout);
  }
  ~ActiveClient() override { ReleaseSlots(); }

  State state() const { return state_; }
  std::list<std::unique_ptr<ActiveClient>>::iterator self;

  // Open, not going away, with a free stream slot.
  bool CanTakeStream() const {
    return state_ == State::kOpen && !going_away_ && codec_ != nullptr && codec_->CanOpenStream();
  }
  // Connecting and not yet holding as many waiting streams as it will take at first.
  bool CanQueue() const { return state_ == State::kConnecting && pending_.size() < stream_cap_; }
  bool idle() const {
    return state_ == State::kOpen && codec_ != nullptr && !codec_->stream_active();
  }

  void Attach(http::ResponseDecoder& decoder, PoolCallbacks& callbacks, bool reused) {
    timer_.Disarm();  // Not idle any more.
    callbacks.OnPoolReady(codec_->NewStream(decoder), reused);
  }

  PoolHandle* Queue(http::ResponseDecoder& decoder, PoolCallbacks& callbacks, bool holds_slot) {
    auto pending = std::make_unique<PendingStream>(*this, decoder, callbacks, holds_slot);
    PendingStream* raw = pending.get();
    pending_.push_back(std::move(pending));
    raw->self = std::prev(pending_.end());
    return raw;
  }

  void CancelPending(PendingStream* pending) {
    ReleasePendingSlot(*pending);
    pending_.erase(pending->self);
  }

  // No more streams; closes once the last one ended.
  void GoingAway() {
    going_away_ = true;
    if (codec_ != nullptr) codec_->Shutdown();
    CheckIdle();
  }

  void Shut() {
    state_ = State::kClosed;
    timer_.Disarm();
    for (auto& pending : pending_) ReleasePendingSlot(*pending);
    pending_.clear();
    if (codec_ != nullptr && codec_->stream_active()) {
      codec_->OnConnectionClosed("upstream connection closed by the proxy");
    }
    ReleaseSlots();
    connection_->SetCallbacks(nullptr);
    connection_->Close(network::Connection::CloseType::kNoFlush);
  }

  // network::ConnectionCallbacks.
  void OnEvent(network::ConnectionEvent event) override {
    switch (event) {
      case network::ConnectionEvent::kConnected:
        OnConnected();
        return;
      case network::ConnectionEvent::kConnectFailed:
        Fail(PoolFailureReason::kConnectFailure, "upstream connect error");
        return;
      case network::ConnectionEvent::kRemoteClose:
      case network::ConnectionEvent::kLocalClose:
        if (state_ == State::kConnecting) {
          Fail(PoolFailureReason::kConnectFailure, "upstream connect error");
          return;
        }
        if (codec_ != nullptr) {
          codec_->OnConnectionClosed("upstream connect error or disconnect before response");
        }
        pool_.Close(this);
        return;
    }
  }

  void OnData(event::Buffer& data, bool end_stream) override {
    if (codec_ == nullptr) {
      data.Clear();
      return;
    }
    absl::Status s = codec_->Dispatch(data, end_stream);
    if (state_ == State::kClosed) return;
    if (!s.ok()) {
      pool_.Close(this);
      return;
    }
    CheckIdle();
  }

  void OnAboveWriteBufferHighWatermark() override {
    if (codec_ != nullptr) codec_->OnUnderlyingConnectionAboveWriteBufferHighWatermark();
  }
  void OnBelowWriteBufferLowWatermark() override {
    if (codec_ != nullptr) codec_->OnUnderlyingConnectionBelowWriteBufferLowWatermark();
  }

  // http::Http2ClientCodecCallbacks. Never closes from here: the codec is on the stack.
  void OnStreamClosed() override { CheckIdle(); }
  void OnGoAway() override {
    pool_.stats_.http2_goaways.fetch_add(1, std::memory_order_relaxed);
    going_away_ = true;
    CheckIdle();
  }

 private:
  void OnConnected() {
    state_ = State::kOpen;
    timer_.Disarm();
    http::Http2ClientSettings settings = pool_.settings_.codec;
    settings.max_concurrent_streams = stream_cap_;
    codec_ = std::make_unique<http::Http2ClientCodec>(*connection_, *this, settings);
    // Until the peer's SETTINGS arrive the codec assumes our cap, which is what was queued.
    std::list<std::unique_ptr<PendingStream>> waiting;
    waiting.swap(pending_);
    for (auto& pending : waiting) {
      ReleasePendingSlot(*pending);
      if (state_ != State::kOpen) break;  // Closed under an earlier stream's callbacks.
      if (!codec_->CanOpenStream()) {
        pending->callbacks.OnPoolFailure(PoolFailureReason::kConnectFailure,
                                         "upstream connection refused new streams");
        continue;
      }
      Attach(pending->decoder, pending->callbacks, /*reused=*/false);
    }
    CheckIdle();
  }

  void OnTimer() {
    if (state_ == State::kConnecting) {
      Fail(PoolFailureReason::kTimeout, "upstream connect timeout");
    } else if (state_ == State::kOpen && (codec_ == nullptr || !codec_->stream_active())) {
      pool_.Close(this);
    }
  }

  // With no stream left: close soon (going away, draining, host removed) or after the idle
  // timeout. The close runs from the timer, never under the codec's callbacks.
  void CheckIdle() {
    if (state_ != State::kOpen || codec_ == nullptr || codec_->stream_active()) return;
    const bool close_now = going_away_ || codec_->goaway_received() || pool_.draining_ ||
                           pool_.host_->removed.load(std::memory_order_relaxed);
    timer_.Arm(close_now ? absl::ZeroDuration() : pool_.settings_.idle_timeout);
  }

  void Fail(PoolFailureReason reason, absl::string_view details) {
    pool_.stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    std::list<std::unique_ptr<PendingStream>> waiting;
    waiting.swap(pending_);
    for (auto& pending : waiting) ReleasePendingSlot(*pending);
    pool_.Close(this);  // Deferred delete: this object lives until the loop turn ends.
    for (auto& pending : waiting) pending->callbacks.OnPoolFailure(reason, details);
  }

  void ReleasePendingSlot(PendingStream& pending) {
    if (pending.holds_slot) {
      pending.holds_slot = false;
      pool_.cluster_->resources().pending_requests.Release();
    }
  }
  void ReleaseSlots() {
    if (holds_connection_) {
      holds_connection_ = false;
      pool_.cluster_->resources().connections.Release();
    }
  }

  Http2ConnPool& pool_;
  std::unique_ptr<network::Connection> connection_;
  bool holds_connection_;
  const uint32_t stream_cap_;
  event::LazyTimer timer_;  // Connect timeout, then idle timeout or the close check.
  State state_ = State::kConnecting;
  bool going_away_ = false;
  std::unique_ptr<http::Http2ClientCodec> codec_;  // Made once connected.
  std::list<std::unique_ptr<PendingStream>> pending_;
};

void Http2ConnPool::PendingStream::Cancel() { client.CancelPending(this); }

Http2ConnPool::Http2ConnPool(event::Dispatcher& dispatcher, std::shared_ptr<HostState> host,
                             const Http2PoolSettings& settings, PoolStats& stats,
                             std::shared_ptr<ClusterStats> cluster)
    : dispatcher_(dispatcher),
      host_(std::move(host)),
      settings_(settings),
      process_max_streams_(std::max<uint32_t>(1, settings.codec.max_concurrent_streams)),
      stats_(stats),
      cluster_(std::move(cluster)) {
  settings_.codec.max_concurrent_streams = process_max_streams_;
}

Http2ConnPool::~Http2ConnPool() {
  for (auto& client : clients_) client->Shut();
}

void Http2ConnPool::set_cluster_max_concurrent_streams(uint32_t max_streams) {
  settings_.codec.max_concurrent_streams =
      max_streams == 0 ? process_max_streams_ : std::min(max_streams, process_max_streams_);
}

uint32_t Http2ConnPool::StreamCap() const { return settings_.codec.max_concurrent_streams; }

size_t Http2ConnPool::idle_connections() const {
  size_t n = 0;
  for (const auto& client : clients_) n += client->idle() ? 1 : 0;
  return n;
}

PoolHandle* Http2ConnPool::NewStream(http::ResponseDecoder& decoder, PoolCallbacks& callbacks) {
  LB_DCHECK(dispatcher_.IsThreadSafe());
  bool any_open = false;
  for (auto& client : clients_) {
    if (client->CanTakeStream()) {
      stats_.reuses.fetch_add(1, std::memory_order_relaxed);
      client->Attach(decoder, callbacks, /*reused=*/true);
      return nullptr;
    }
    any_open = any_open || client->state() == ActiveClient::State::kOpen;
  }
  bool holds_pending = false;
  if (cluster_ != nullptr) {
    ClusterResources& limits = cluster_->resources();
    if (!limits.pending_requests.TryAcquire()) {
      callbacks.OnPoolFailure(
          PoolFailureReason::kOverflow,
          absl::StrCat("cluster pending request limit reached (max_pending_requests ",
                       limits.pending_requests.max(), ")"));
      return nullptr;
    }
    holds_pending = true;
  }
  for (auto& client : clients_) {
    if (client->CanQueue()) return client->Queue(decoder, callbacks, holds_pending);
  }
  if (cluster_ != nullptr && !cluster_->resources().connections.TryAcquire()) {
    cluster_->resources().pending_requests.Release();
    callbacks.OnPoolFailure(PoolFailureReason::kOverflow,
                            absl::StrCat("cluster connection limit reached (max_connections ",
                                         cluster_->resources().connections.max(), ")"));
    return nullptr;
  }
  std::unique_ptr<network::TransportSocket> transport =
      settings_.transport_socket_factory ? settings_.transport_socket_factory()
                                         : std::make_unique<network::RawTransportSocket>();
  absl::StatusOr<std::unique_ptr<network::Connection>> connection =
      network::CreateClientConnection(dispatcher_, host_->address, std::move(transport));
  if (!connection.ok()) {
    if (cluster_ != nullptr) {
      cluster_->resources().connections.Release();
      cluster_->resources().pending_requests.Release();
    }
    bool local = connection.status().code() == absl::StatusCode::kResourceExhausted;
    (local ? stats_.local_failures : stats_.connect_failures)
        .fetch_add(1, std::memory_order_relaxed);
    callbacks.OnPoolFailure(
        local ? PoolFailureReason::kLocalResource : PoolFailureReason::kConnectFailure,
        connection.status().message());
    return nullptr;
  }
  stats_.connects.fetch_add(1, std::memory_order_relaxed);
  if (any_open) stats_.http2_connections_full.fetch_add(1, std::memory_order_relaxed);
  if (settings_.buffer_limit_bytes > 0) (*connection)->SetBufferLimit(settings_.buffer_limit_bytes);
  auto client =
      std::make_unique<ActiveClient>(*this, std::move(*connection),
                                     /*holds_connection_slot=*/cluster_ != nullptr, StreamCap());
  ActiveClient* raw = client.get();
  clients_.push_front(std::move(client));
  raw->self = clients_.begin();
  return raw->Queue(decoder, callbacks, holds_pending);
}

void Http2ConnPool::Close(ActiveClient* client) {
  if (client->state() == ActiveClient::State::kClosed) return;
  client->Shut();
  std::unique_ptr<ActiveClient> owned = std::move(*client->self);
  clients_.erase(client->self);
  dispatcher_.DeferredDelete(std::move(owned));
}

void Http2ConnPool::Drain() {
  draining_ = true;
  std::vector<ActiveClient*> all;
  for (auto& client : clients_) all.push_back(client.get());
  for (ActiveClient* client : all) {
    if (client->idle()) {
      Close(client);
    } else {
      client->GoingAway();
    }
  }
}

}  // namespace lb::proxy::upstream
