// A byte-stream connection on a dispatcher: a socket, its transport (raw or TLS), a read and a
// write buffer with limits, half-close, and events for its one owner.
//
// Flow control: reading stops while the read buffer holds `buffer_limit` bytes or more (the
// owner consumes, then calls ResumeReading-style ReadDisable(false) or simply consumes from
// OnData); writes are never refused, but the owner hears OnAboveWriteBufferHighWatermark() once
// the write buffer passes the limit and OnBelowWriteBufferLowWatermark() once it drained below
// half of it, and must stop producing in between.
//
// Lifetime: the owner destroys a connection through Dispatcher::DeferredDelete (or directly,
// when no callback of it can be on the stack). Close(kNoFlush) stops every event at once: no
// callback runs after it. Close(kFlushWrite) stops reading; the connection closes once its
// buffered bytes are written (kLocalClose), or at once if there are none (no event then).
//
// Threading: loop thread only.
#ifndef LB_PROXY_NETWORK_CONNECTION_H_
#define LB_PROXY_NETWORK_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/event/buffer.h"
#include "proxy/event/dispatcher.h"
#include "proxy/event/socket.h"
#include "proxy/network/transport_socket.h"

namespace lb::proxy::network {

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // kConnected, kConnectFailed, kRemoteClose, or kLocalClose once a Close(kFlushWrite) that had
  // to wait for its bytes to go out is done. After any but kConnected the connection is closed.
  // Outgoing connections: kConnected once TCP and the transport's handshake are done; a failed
  // handshake is kConnectFailed. Accepted connections: kConnected once a transport with a
  // handshake (TLS) finished it; never for a raw one.
  virtual void OnEvent(ConnectionEvent event) = 0;
  // Bytes arrived: `data` is the connection's read buffer; take what can be used now and leave
  // the rest for the next call. `end_stream`: the peer half-closed (nothing more will arrive;
  // the connection stays open for writing until the owner closes it).
  virtual void OnData(event::Buffer& data, bool end_stream) = 0;
  virtual void OnAboveWriteBufferHighWatermark() {}
  virtual void OnBelowWriteBufferLowWatermark() {}
};

class Connection : public event::DeferredDeletable {
 public:
  enum class State : uint8_t { kOpen, kClosing, kClosed };
  enum class CloseType : uint8_t {
    kFlushWrite,  // Write out what is buffered, then close.
    kNoFlush,     // Close now; buffered bytes are dropped.
  };

  // The owner of events; may be changed (e.g. when a pooled connection moves to a request).
  virtual void SetCallbacks(ConnectionCallbacks* callbacks) = 0;
  // Moves `data` to the write buffer and writes what the socket takes now. `end_stream`: no
  // more writes follow; the write side is shut down once everything is out.
  virtual void Write(event::Buffer& data, bool end_stream) = 0;
  virtual void Write(absl::string_view data) = 0;
  // Stops (true) or resumes (false) reading. Not counted: the last call wins.
  virtual void ReadDisable(bool disable) = 0;
  // The owner took bytes from read_buffer() outside OnData(): reading resumes if it had
  // stopped at the buffer limit.
  virtual void ReadBufferDrained() = 0;
  virtual bool reading() const = 0;
  virtual void Close(CloseType type) = 0;
  virtual State state() const = 0;
  // An outgoing connection that is not connected yet.
  virtual bool connecting() const = 0;
  // Read-buffer size at which reading stops, and write-buffer high watermark (low: half).
  virtual void SetBufferLimit(size_t limit) = 0;
  virtual size_t write_buffer_size() const = 0;
  virtual bool above_high_watermark() const = 0;
  virtual event::Buffer& read_buffer() = 0;
  // The owner has nothing in progress: the read buffer is freed if empty, the write buffer
  // once it has been flushed.
  virtual void ReleaseIdleMemory() = 0;
  // Gives the socket up, for a connection with nothing in progress: open both ways, nothing
  // buffered either way, and a stateless transport (raw). Returns the descriptor, now the
  // caller's; the connection is closed without touching it (no event follows). -1 when the
  // connection does not qualify; nothing changes then.
  virtual int ReleaseSocket() = 0;
  virtual const event::SocketAddress& peer() const = 0;
  virtual absl::string_view NegotiatedProtocol() const = 0;
};

// Wraps an accepted socket (takes ownership of `fd`); reading starts at once.
std::unique_ptr<Connection> CreateServerConnection(event::Dispatcher& dispatcher, int fd,
                                                   const event::SocketAddress& peer,
                                                   std::unique_ptr<TransportSocket> transport);

// Starts a non-blocking connect to `to`; kConnected or kConnectFailed follows. Errors now:
// kResourceExhausted when this process or the system is out of descriptors or buffers (a local
// problem, not the peer's), kUnavailable when the connect failed at once.
absl::StatusOr<std::unique_ptr<Connection>> CreateClientConnection(
    event::Dispatcher& dispatcher, const event::SocketAddress& to,
    std::unique_ptr<TransportSocket> transport);

}  // namespace lb::proxy::network

#endif  // LB_PROXY_NETWORK_CONNECTION_H_
