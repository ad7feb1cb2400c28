#include "proxy/upstream/http1_conn_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "proxy/event/lazy_timer.h"
#include "proxy/network/connection.h"

namespace lb::proxy::upstream {

// One upstream connection: connecting for a waiting stream, busy with one, or idle.
class Http1ConnPool::ActiveClient final : public network::ConnectionCallbacks,
                                          public http::ClientCodecCallbacks,
                                          public PoolHandle,
                                          public event::DeferredDeletable {
 public:
  enum class State : uint8_t { kConnecting, kBusy, kIdle, kClosed };

  // `holds_slots`: took a connection and a pending slot of the cluster's circuit breakers.
  ActiveClient(Http1ConnPool& pool, std::unique_ptr<network::Connection> connection,
               http::ResponseDecoder& decoder, PoolCallbacks& callbacks, bool holds_slots)
      : holds_connection_(holds_slots),
        holds_pending_(holds_slots),
        pool_(pool),
        connection_(std::move(connection)),
        codec_(*connection_, *this, pool.settings_.codec),
        timer_(pool.dispatcher_, [this] { OnTimer(); }),
        pending_decoder_(&decoder),
        pending_callbacks_(&callbacks) {
    connection_->SetCallbacks(this);
    timer_.Arm(pool.settings_.connect_timeout);
  }
  ~ActiveClient() override { ReleaseSlots(); }

  State state() const { return state_; }
  std::list<std::unique_ptr<ActiveClient>>::iterator self;

  // Gives this idle connection to a new stream.
  void Reuse(http::ResponseDecoder& decoder, PoolCallbacks& callbacks) {
    state_ = State::kBusy;
    timer_.Disarm();
    callbacks.OnPoolReady(codec_.NewStream(decoder), /*reused=*/true);
  }

  void MakeIdle(absl::Duration timeout) {
    state_ = State::kIdle;
    // The last stream may have paused reading; an idle connection reads to notice a close.
    connection_->ReadDisable(false);
    timer_.Arm(timeout);
  }

  void Shut() {
    ReleaseSlots();
    state_ = State::kClosed;
    pending_callbacks_ = nullptr;
    timer_.Disarm();
    connection_->SetCallbacks(nullptr);
    connection_->Close(network::Connection::CloseType::kNoFlush);
  }

  // PoolHandle: the stream waiting for this connection gave up.
  void Cancel() override { pool_.Close(this); }

  // network::ConnectionCallbacks.
  void OnEvent(network::ConnectionEvent event) override {
    switch (event) {
      case network::ConnectionEvent::kConnected: {
        state_ = State::kBusy;
        timer_.Disarm();
        ReleasePending();
        PoolCallbacks* callbacks = std::exchange(pending_callbacks_, nullptr);
        callbacks->OnPoolReady(codec_.NewStream(*pending_decoder_), /*reused=*/false);
        return;
      }
      case network::ConnectionEvent::kConnectFailed:
        // A TLS connection also fails here when its handshake (or certificate check) failed.
        Fail(PoolFailureReason::kConnectFailure,
             pool_.transport_ != nullptr && pool_.transport_->secure()
                 ? "upstream connect error or TLS handshake failure"
                 : "upstream connect error");
        return;
      case network::ConnectionEvent::kRemoteClose:
      case network::ConnectionEvent::kLocalClose:
        codec_.OnConnectionClosed("upstream connect error or disconnect before response");
        pool_.Close(this);
        return;
    }
  }

  void OnData(event::Buffer& data, bool end_stream) override {
    absl::Status s = codec_.Dispatch(data, end_stream);
    if (state_ == State::kClosed) return;
    if (!s.ok() || end_stream) pool_.Close(this);
  }

  void OnAboveWriteBufferHighWatermark() override {
    codec_.OnUnderlyingConnectionAboveWriteBufferHighWatermark();
  }
  void OnBelowWriteBufferLowWatermark() override {
    codec_.OnUnderlyingConnectionBelowWriteBufferLowWatermark();
  }

  // http::ClientCodecCallbacks.
  void OnResponseComplete(bool reusable) override {
    if (reusable) {
      pool_.PutIdle(this);
    } else {
      pool_.Close(this);
    }
  }
  void OnLocalReset() override { pool_.Close(this); }

 private:
  void OnTimer() {
    if (state_ == State::kConnecting) {
      Fail(PoolFailureReason::kTimeout, "upstream connect timeout");
    } else if (state_ == State::kIdle) {
      pool_.Close(this);
    }
  }

  void Fail(PoolFailureReason reason, absl::string_view details) {
    pool_.stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    PoolCallbacks* callbacks = std::exchange(pending_callbacks_, nullptr);
    pool_.Close(this);
    if (callbacks != nullptr) callbacks->OnPoolFailure(reason, details);
  }

  // The circuit-breaker slots this connection holds (see the header).
  void ReleasePending() {
    if (holds_pending_) {
      holds_pending_ = false;
      pool_.cluster_->resources().pending_requests.Release();
    }
  }
  void ReleaseSlots() {
    ReleasePending();
    if (holds_connection_) {
      holds_connection_ = false;
      pool_.cluster_->resources().connections.Release();
    }
  }

  bool holds_connection_;
  bool holds_pending_;
  Http1ConnPool& pool_;
  std::unique_ptr<network::Connection> connection_;
  http::Http1ClientCodec codec_;
  event::LazyTimer timer_;  // Connect timeout, then idle timeout (moved per request).
  State state_ = State::kConnecting;
  http::ResponseDecoder* pending_decoder_;
  PoolCallbacks* pending_callbacks_;
};

Http1ConnPool::Http1ConnPool(event::Dispatcher& dispatcher, std::shared_ptr<HostState> host,
                             const Http1PoolSettings& settings, PoolStats& stats,
                             std::shared_ptr<ClusterStats> cluster,
                             std::shared_ptr<const network::TransportSocketFactory> transport)
    : dispatcher_(dispatcher),
      host_(std::move(host)),
      settings_(settings),
      stats_(stats),
      cluster_(std::move(cluster)),
      transport_(std::move(transport)) {}

Http1ConnPool::~Http1ConnPool() {
  for (auto& client : clients_) client->Shut();
}

PoolHandle* Http1ConnPool::NewStream(http::ResponseDecoder& decoder, PoolCallbacks& callbacks) {
  LB_DCHECK(dispatcher_.IsThreadSafe());
  if (!idle_.empty()) {
    ActiveClient* client = idle_.back();
    idle_.pop_back();
    stats_.reuses.fetch_add(1, std::memory_order_relaxed);
    client->Reuse(decoder, callbacks);
    return nullptr;
  }
  if (cluster_ != nullptr) {
    ClusterResources& limits = cluster_->resources();
    // All slots taken: an idle connection of another host of the cluster gives its slot up.
    if (reclaim_idle_ && limits.connections.count() >= limits.connections.max()) reclaim_idle_();
    if (!limits.connections.TryAcquire()) {
      callbacks.OnPoolFailure(PoolFailureReason::kOverflow,
                              absl::StrCat("cluster connection limit reached (max_connections ",
                                           limits.connections.max(), ")"));
      return nullptr;
    }
    if (!limits.pending_requests.TryAcquire()) {
      limits.connections.Release();
      callbacks.OnPoolFailure(
          PoolFailureReason::kOverflow,
          absl::StrCat("cluster pending request limit reached (max_pending_requests ",
                       limits.pending_requests.max(), ")"));
      return nullptr;
    }
  }
  absl::StatusOr<std::unique_ptr<network::Connection>> connection = network::CreateClientConnection(
      dispatcher_, host_->address,
      transport_ != nullptr ? transport_->Create()
                            : std::make_unique<network::RawTransportSocket>());
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
  if (settings_.buffer_limit_bytes > 0) (*connection)->SetBufferLimit(settings_.buffer_limit_bytes);
  auto client = std::make_unique<ActiveClient>(*this, std::move(*connection), decoder, callbacks,
                                               /*holds_slots=*/cluster_ != nullptr);
  ActiveClient* raw = client.get();
  clients_.push_front(std::move(client));
  raw->self = clients_.begin();
  return raw;
}

void Http1ConnPool::PutIdle(ActiveClient* client) {
  if (draining_ || host_->removed.load(std::memory_order_relaxed) ||
      idle_.size() >= settings_.max_idle) {
    Close(client);
    return;
  }
  client->MakeIdle(settings_.idle_timeout);
  idle_.push_back(client);
}

void Http1ConnPool::Close(ActiveClient* client) {
  if (client->state() == ActiveClient::State::kClosed) return;
  if (client->state() == ActiveClient::State::kIdle) {
    idle_.erase(std::find(idle_.begin(), idle_.end(), client));
  }
  client->Shut();
  std::unique_ptr<ActiveClient> owned = std::move(*client->self);
  clients_.erase(client->self);
  dispatcher_.DeferredDelete(std::move(owned));
}

bool Http1ConnPool::CloseOldestIdle() {
  if (idle_.empty()) return false;
  Close(idle_.front());
  return true;
}

void Http1ConnPool::Drain() {
  draining_ = true;
  while (!idle_.empty()) Close(idle_.back());
}

}  // namespace lb::proxy::upstream
