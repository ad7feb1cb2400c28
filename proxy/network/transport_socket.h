// The layer between a connection and its socket: plaintext (RawTransportSocket) or TLS
// (proxy/tls/tls_socket.h). A transport socket moves bytes between the kernel socket and the
// connection's buffers and may add its own handshake; the connection above it never touches the
// fd's bytes itself.
//
// Threading: loop thread of the owning connection only.
#ifndef LB_PROXY_NETWORK_TRANSPORT_SOCKET_H_
#define LB_PROXY_NETWORK_TRANSPORT_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "proxy/event/buffer.h"

namespace lb::proxy::network {

enum class ConnectionEvent : uint8_t {
  kConnected,      // An outgoing connection (and its transport handshake) is up.
  kConnectFailed,  // An outgoing connection could not be made.
  kRemoteClose,    // The peer reset it, or a read or write failed.
  kLocalClose,     // A Close(kFlushWrite) finished writing and closed the connection.
};

struct IoResult {
  enum class Action : uint8_t { kKeepOpen, kClose };
  Action action = Action::kKeepOpen;
  uint64_t bytes = 0;       // Moved into (read) or out of (write) the buffer.
  bool end_stream = false;  // Read: the peer half-closed; nothing more will arrive.
  int error = 0;            // errno of the failure that made action kClose, if any.
};

// What a transport socket may ask of its connection.
class TransportSocketCallbacks {
 public:
  virtual ~TransportSocketCallbacks() = default;
  virtual int fd() const = 0;
  // The transport finished its handshake (or needs none): the connection is usable.
  virtual void RaiseConnected() = 0;
};

class TransportSocket {
 public:
  virtual ~TransportSocket() = default;

  // Called once, before any other call.
  virtual void SetCallbacks(TransportSocketCallbacks& callbacks) = 0;
  // The TCP connection is established (outgoing: connect finished; incoming: accepted). A
  // transport without a handshake calls RaiseConnected() from here.
  virtual void OnConnected() = 0;
  // Appends at most `max` (> 0) bytes read from the socket to `buffer`.
  virtual IoResult DoRead(event::Buffer& buffer, size_t max) = 0;
  // Writes what the socket takes from the front of `buffer` (draining it); `end_stream` once
  // the buffer holds the last bytes: the transport half-closes after them.
  virtual IoResult DoWrite(event::Buffer& buffer, bool end_stream) = 0;
  // The application protocol agreed with the peer (ALPN), "" when none.
  virtual absl::string_view NegotiatedProtocol() const { return {}; }
  // Whether the connection should wait for the socket to become writable, given whether its
  // write buffer holds bytes (`pending`). A transport in the middle of a handshake wants write
  // events only when the handshake itself waits for the socket, never for application bytes it
  // cannot send yet; when this is true with nothing pending, DoWrite() is still called on
  // writability (with an empty buffer) so the handshake can go on.
  virtual bool WantsWrite(bool pending) const { return pending; }
  // The connection is about to close its socket (any close, any reason): last chance to send a
  // goodbye (TLS close_notify), best effort and without blocking. No call follows.
  virtual void OnClose() {}
  // True when the transport keeps no state between calls (raw): its connection may hand the
  // socket over (Connection::ReleaseSocket) and a new transport of the same kind can take it up.
  virtual bool stateless() const { return false; }
};

// Makes the transport of each new connection (e.g. a cluster's upstream TLS settings). Immutable
// once built; shared by workers, so Create() may be called from any thread.
class TransportSocketFactory {
 public:
  virtual ~TransportSocketFactory() = default;
  virtual std::unique_ptr<TransportSocket> Create() const = 0;
  // True for TLS: such connections never share a pool with plaintext ones.
  virtual bool secure() const = 0;
};

// Bytes as they are, straight to and from the kernel.
class RawTransportSocket final : public TransportSocket {
 public:
  void SetCallbacks(TransportSocketCallbacks& callbacks) override { callbacks_ = &callbacks; }
  void OnConnected() override { callbacks_->RaiseConnected(); }
  IoResult DoRead(event::Buffer& buffer, size_t max) override;
  IoResult DoWrite(event::Buffer& buffer, bool end_stream) override;
  // Only its half-close is state, and a released socket has not half-closed.
  bool stateless() const override { return true; }

 private:
  TransportSocketCallbacks* callbacks_ = nullptr;
  bool shut_down_ = false;
};

}  // namespace lb::proxy::network

#endif  // LB_PROXY_NETWORK_TRANSPORT_SOCKET_H_
