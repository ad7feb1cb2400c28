#include "proxy/network/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"

namespace lb::proxy::network {
namespace {

// Bytes read per readiness event; a bigger burst waits for the next loop turn.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kDefaultBufferLimit = 1024 * 1024;

class ConnectionImpl final : public Connection,
                             public TransportSocketCallbacks,
                             public event::EventEndHook {
 public:
  ConnectionImpl(event::Dispatcher& dispatcher, int fd, const event::SocketAddress& peer,
                 std::unique_ptr<TransportSocket> transport, bool connecting)
      : dispatcher_(dispatcher),
        fd_(fd),
        peer_(peer),
        transport_(std::move(transport)),
        tcp_connecting_(connecting),
        connecting_(connecting) {
    transport_->SetCallbacks(*this);
    watcher_ = dispatcher_.WatchFd(fd_, [this](uint32_t events) { OnFdEvent(events); });
  }

  ~ConnectionImpl() override {
    dispatcher_.CancelEventEnd(this);
    CloseSocket();
  }

  // Accepted sockets are connected; the transport may start its handshake.
  void StartServer() {
    transport_->OnConnected();
    UpdateInterest();
  }
  void StartClient() { UpdateInterest(); }

  void SetCallbacks(ConnectionCallbacks* callbacks) override { callbacks_ = callbacks; }

  void Write(event::Buffer& data, bool end_stream) override {
    LB_DCHECK(dispatcher_.IsThreadSafe());
    if (state_ != State::kOpen || write_ended_) {
      data.Clear();
      return;
    }
    write_buffer_.MoveAllFrom(data);
    write_ended_ = end_stream;
    AfterWrite();
  }

  void Write(absl::string_view data) override {
    LB_DCHECK(dispatcher_.IsThreadSafe());
    if (state_ != State::kOpen || write_ended_) return;
    write_buffer_.Append(data);
    AfterWrite();
  }

  void ReadDisable(bool disable) override {
    if (read_disabled_ == disable) return;
    read_disabled_ = disable;
    UpdateInterest();
  }
  void ReadBufferDrained() override { UpdateInterest(); }
  bool reading() const override { return WantRead(); }

  void Close(CloseType type) override {
    LB_DCHECK(dispatcher_.IsThreadSafe());
    if (state_ == State::kClosed) return;
    if (type == CloseType::kFlushWrite && !write_buffer_.empty() && !connecting_) {
      state_ = State::kClosing;
      UpdateInterest();
      return;
    }
    CloseSocket();
  }

  State state() const override { return state_; }
  bool connecting() const override { return connecting_; }
  void SetBufferLimit(size_t limit) override {
    limit_ = limit == 0 ? kDefaultBufferLimit : limit;
    UpdateInterest();
  }
  size_t write_buffer_size() const override { return write_buffer_.size(); }
  bool above_high_watermark() const override { return above_high_; }
  event::Buffer& read_buffer() override { return read_buffer_; }
  void ReleaseIdleMemory() override {
    read_buffer_.ReleaseIfEmpty();
    if (write_buffer_.empty()) {
      write_buffer_.ReleaseIfEmpty();
    } else {
      release_when_flushed_ = true;
    }
  }
  int ReleaseSocket() override {
    LB_DCHECK(dispatcher_.IsThreadSafe());
    if (state_ != State::kOpen || connecting_ || read_eof_ || write_ended_ ||
        !read_buffer_.empty() || !write_buffer_.empty() || !transport_->stateless()) {
      return -1;
    }
    dispatcher_.CancelEventEnd(this);
    watcher_.reset();
    const int fd = fd_;
    fd_ = -1;
    state_ = State::kClosed;  // CloseSocket() has nothing left to do.
    return fd;
  }
  const event::SocketAddress& peer() const override { return peer_; }
  absl::string_view NegotiatedProtocol() const override { return transport_->NegotiatedProtocol(); }

  // TransportSocketCallbacks.
  int fd() const override { return fd_; }
  void RaiseConnected() override {
    if (connecting_) {
      connecting_ = false;
      if (callbacks_ != nullptr) callbacks_->OnEvent(ConnectionEvent::kConnected);
    } else if (callbacks_ != nullptr && state_ == State::kOpen) {
      // An accepted connection whose transport finished its handshake (a raw one raises this
      // before anyone listens).
      callbacks_->OnEvent(ConnectionEvent::kConnected);
    }
  }

 private:
  // While a transport handshake runs (connecting_ but not tcp_connecting_), reads go on: they
  // drive the handshake.
  bool ReadAllowed() const {
    return state_ == State::kOpen && !tcp_connecting_ && !read_disabled_ && !read_eof_;
  }
  bool WantRead() const { return ReadAllowed() && read_buffer_.size() < limit_; }

  void UpdateInterest() {
    if (watcher_ == nullptr) return;
    UpdateInterest(!write_buffer_.empty());
  }
  // When the caller knows whether bytes wait to be written.
  void UpdateInterest(bool pending) {
    if (watcher_ != nullptr) {
      watcher_->SetInterest(WantRead(), tcp_connecting_ || transport_->WantsWrite(pending));
    }
  }

  void OnFdEvent(uint32_t events) {
    if (tcp_connecting_) {
      int err = event::ConnectResult(fd_);
      if (err != 0) {
        CloseSocket();
        if (callbacks_ != nullptr) callbacks_->OnEvent(ConnectionEvent::kConnectFailed);
        return;
      }
      tcp_connecting_ = false;
      transport_->OnConnected();  // May raise kConnected, whose handler may close us.
      if (state_ == State::kClosed) return;
      Flush();
      if (ReportFailedWrite()) return;
      if (state_ == State::kClosed) return;
      UpdateInterest();
      return;
    }
    if (events & event::FdWatcher::kWrite) {
      Flush();
      if (ReportFailedWrite()) return;
      if (state_ == State::kClosed) return;
    }
    if ((events & event::FdWatcher::kRead) && ReadAllowed()) {
      const size_t buffered = read_buffer_.size();
      if (buffered >= limit_) {
        UpdateInterest();
        return;
      }
      // Never past the limit: at most what is left of it.
      IoResult r = transport_->DoRead(read_buffer_, std::min(kReadChunk, limit_ - buffered));
      if (r.action == IoResult::Action::kClose) {
        CloseAndReport();
        return;
      }
      if (r.end_stream) read_eof_ = true;
      if ((r.bytes > 0 || r.end_stream) && callbacks_ != nullptr) {
        callbacks_->OnData(read_buffer_, r.end_stream);
        if (state_ == State::kClosed) return;
      }
    }
    UpdateInterest();
  }

  void AfterWrite() {
    if (connecting_) return;  // Written once connected.
    if (write_buffer_.size() <= limit_) {
      dispatcher_.RunAtEventEnd(this);
      return;
    }
    Flush();  // Over the limit: try now, and tell the owner if the socket did not take it.
    if (state_ == State::kClosed) {
      if (report_close_) dispatcher_.RunAtEventEnd(this);
      return;
    }
    if (!above_high_ && write_buffer_.size() > limit_) {
      above_high_ = true;
      if (callbacks_ != nullptr) callbacks_->OnAboveWriteBufferHighWatermark();
      if (state_ == State::kClosed) return;
    }
    UpdateInterest();
  }

  // Queued writes go out once the current event callback returns: a response head and body
  // written by separate calls leave in one system call. A failure is reported from here too,
  // never from inside the owner's own Write().
  void OnEventEnd() override {
    if (ReportFailedWrite()) return;
    if (state_ == State::kClosed || connecting_) return;
    const size_t left = Flush();
    if (ReportFailedWrite()) return;
    if (state_ != State::kClosed) UpdateInterest(left > 0);
  }

  // Writes what the socket takes; returns what is left. A failure closes the socket and sets
  // report_close_ (unless the owner was closing anyway).
  size_t Flush() {
    const size_t pending = write_buffer_.size();
    if (pending == 0 && !write_ended_ && !transport_->WantsWrite(false)) {
      if (state_ == State::kClosing) {
        CloseSocket();
        if (callbacks_ != nullptr) callbacks_->OnEvent(ConnectionEvent::kLocalClose);
      }
      return 0;
    }
    IoResult r = transport_->DoWrite(write_buffer_, write_ended_);
    if (r.action == IoResult::Action::kClose) {
      bool was_closing = state_ == State::kClosing;
      CloseSocket();
      if (!was_closing) {
        report_close_ = true;
      } else if (callbacks_ != nullptr) {
        callbacks_->OnEvent(ConnectionEvent::kLocalClose);  // The close it waited for.
      }
      return 0;
    }
    const size_t left = pending - static_cast<size_t>(r.bytes);
    if (above_high_ && left <= limit_ / 2) {
      above_high_ = false;
      if (callbacks_ != nullptr) callbacks_->OnBelowWriteBufferLowWatermark();
      if (state_ == State::kClosed) return 0;
      return write_buffer_.size();  // The owner may have written more.
    }
    if (left == 0 && release_when_flushed_) {
      release_when_flushed_ = false;
      write_buffer_.ReleaseIfEmpty();
    }
    if (state_ == State::kClosing && left == 0) {
      CloseSocket();
      if (callbacks_ != nullptr) callbacks_->OnEvent(ConnectionEvent::kLocalClose);
    }
    return left;
  }

  // After a failed write closed the socket: tells the owner (kRemoteClose, or kConnectFailed
  // when an outgoing connection's handshake failed). True if it did.
  bool ReportFailedWrite() {
    if (!report_close_) return false;
    report_close_ = false;
    if (callbacks_ != nullptr) callbacks_->OnEvent(close_event_);
    return true;
  }

  void CloseAndReport() {
    CloseSocket();
    if (callbacks_ != nullptr) callbacks_->OnEvent(close_event_);
  }

  void CloseSocket() {
    if (state_ == State::kClosed) return;
    // An outgoing connection whose transport handshake failed never connected.
    close_event_ = connecting_ ? ConnectionEvent::kConnectFailed : ConnectionEvent::kRemoteClose;
    state_ = State::kClosed;
    connecting_ = false;
    tcp_connecting_ = false;
    if (fd_ >= 0) transport_->OnClose();
    watcher_.reset();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  event::Dispatcher& dispatcher_;
  int fd_;
  const event::SocketAddress peer_;
  std::unique_ptr<TransportSocket> transport_;
  std::unique_ptr<event::FdWatcher> watcher_;
  ConnectionCallbacks* callbacks_ = nullptr;
  event::Buffer read_buffer_;
  event::Buffer write_buffer_;
  size_t limit_ = kDefaultBufferLimit;
  State state_ = State::kOpen;
  ConnectionEvent close_event_ = ConnectionEvent::kRemoteClose;
  bool tcp_connecting_;  // The TCP connect has not finished.
  bool connecting_;      // Not connected as far as the owner knows (kConnected not raised).
  bool release_when_flushed_ = false;  // ReleaseIdleMemory() waits for the flush.
  bool read_disabled_ = false;
  bool read_eof_ = false;
  bool write_ended_ = false;
  bool above_high_ = false;
  bool report_close_ = false;
};

}  // namespace

std::unique_ptr<Connection> CreateServerConnection(event::Dispatcher& dispatcher, int fd,
                                                   const event::SocketAddress& peer,
                                                   std::unique_ptr<TransportSocket> transport) {
  auto conn = std::make_unique<ConnectionImpl>(dispatcher, fd, peer, std::move(transport),
                                               /*connecting=*/false);
  conn->StartServer();
  return conn;
}

absl::StatusOr<std::unique_ptr<Connection>> CreateClientConnection(
    event::Dispatcher& dispatcher, const event::SocketAddress& to,
    std::unique_ptr<TransportSocket> transport) {
  absl::StatusOr<int> fd = event::StartConnect(to);
  if (!fd.ok()) return fd.status();
  auto conn = std::make_unique<ConnectionImpl>(dispatcher, *fd, to, std::move(transport),
                                               /*connecting=*/true);
  conn->StartClient();
  return conn;
}

}  // namespace lb::proxy::network
