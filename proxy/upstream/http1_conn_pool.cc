#include "proxy/upstream/http1_conn_pool.h"

#include <algorithm>
#include <utility>

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

  ActiveClient(Http1ConnPool& pool, std::unique_ptr<network::Connection> connection,
               http::ResponseDecoder& decoder, PoolCallbacks& callbacks)
      : pool_(pool),
        connection_(std::move(connection)),
        codec_(*connection_, *this, pool.settings_.codec),
        timer_(pool.dispatcher_, [this] { OnTimer(); }),
        pending_decoder_(&decoder),
        pending_callbacks_(&callbacks) {
    connection_->SetCallbacks(this);
    timer_.Arm(pool.settings_.connect_timeout);
  }

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
        PoolCallbacks* callbacks = std::exchange(pending_callbacks_, nullptr);
        callbacks->OnPoolReady(codec_.NewStream(*pending_decoder_), /*reused=*/false);
        return;
      }
      case network::ConnectionEvent::kConnectFailed:
        Fail(PoolFailureReason::kConnectFailure, "upstream connect error");
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

  Http1ConnPool& pool_;
  std::unique_ptr<network::Connection> connection_;
  http::Http1ClientCodec codec_;
  event::LazyTimer timer_;  // Connect timeout, then idle timeout (moved per request).
  State state_ = State::kConnecting;
  http::ResponseDecoder* pending_decoder_;
  PoolCallbacks* pending_callbacks_;
};

Http1ConnPool::Http1ConnPool(event::Dispatcher& dispatcher, std::shared_ptr<HostState> host,
                             const Http1PoolSettings& settings, PoolStats& stats)
    : dispatcher_(dispatcher), host_(std::move(host)), settings_(settings), stats_(stats) {}

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
  absl::StatusOr<std::unique_ptr<network::Connection>> connection = network::CreateClientConnection(
      dispatcher_, host_->address, std::make_unique<network::RawTransportSocket>());
  if (!connection.ok()) {
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
  auto client = std::make_unique<ActiveClient>(*this, std::move(*connection), decoder, callbacks);
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

void Http1ConnPool::Drain() {
  draining_ = true;
  while (!idle_.empty()) Close(idle_.back());
}

}  // namespace lb::proxy::upstream
