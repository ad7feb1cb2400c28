// TLS as a network::TransportSocket: OpenSSL over the connection's non-blocking fd.
//
//  - The handshake runs inside DoRead/DoWrite (the connection calls DoWrite with an empty
//    buffer when WantsWrite says the handshake waits for the socket); once it is done the
//    connection hears RaiseConnected(): an outgoing connection reports kConnected only then,
//    and a failed handshake is its kConnectFailed.
//  - DoRead never leaves bytes inside OpenSSL (contexts read ahead): it reads until OpenSSL
//    holds nothing, even past `max` (by at most its buffer, about 16 KiB), so no read event is
//    ever needed for bytes that are no longer in the kernel; and it stops as soon as that is
//    so, without a recv() that would only say EAGAIN.
//  - end_stream on DoWrite and OnClose() send close_notify; a peer's close_notify (or a plain
//    EOF, which clients commonly send) is end_stream.
//  - Errors are counted in Stats() (tls/context.h).
//
// Threading: the owning connection's loop thread only.
#ifndef LB_PROXY_TLS_TLS_SOCKET_H_
#define LB_PROXY_TLS_TLS_SOCKET_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/network/transport_socket.h"

typedef struct ssl_st SSL;

namespace lb::proxy::tls {

class TlsSocket final : public network::TransportSocket {
 public:
  // Takes `ssl` (may be null: every call then fails the connection). `context` keeps the
  // SSL_CTXs `ssl` uses alive.
  TlsSocket(std::shared_ptr<const void> context, SSL* ssl, bool server);
  ~TlsSocket() override;

  void SetCallbacks(network::TransportSocketCallbacks& callbacks) override;
  void OnConnected() override;
  network::IoResult DoRead(event::Buffer& buffer, size_t max) override;
  network::IoResult DoWrite(event::Buffer& buffer, bool end_stream) override;
  absl::string_view NegotiatedProtocol() const override { return alpn_; }
  bool WantsWrite(bool pending) const override;
  void OnClose() override;

  bool handshake_done() const { return state_ == State::kDone; }
  // For tests and logs: the SNI name the client sent (server side), "" if none.
  absl::string_view server_name() const;
  bool session_reused() const;

 private:
  enum class State : uint8_t { kNew, kHandshake, kDone, kFailed, kClosed };

  // Advances the handshake. False if it failed (the connection must close).
  bool Handshake();

  std::shared_ptr<const void> context_;
  SSL* ssl_;
  const bool server_;
  network::TransportSocketCallbacks* callbacks_ = nullptr;
  State state_ = State::kNew;
  bool handshake_wants_write_ = false;
  bool shutdown_sent_ = false;
  std::string alpn_;
};

}  // namespace lb::proxy::tls

#endif  // LB_PROXY_TLS_TLS_SOCKET_H_
