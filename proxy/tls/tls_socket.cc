#include "proxy/tls/tls_socket.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "proxy/tls/context.h"
#include "spdlog/spdlog.h"

namespace lb::proxy::tls {
namespace {

constexpr size_t kRecord = 16 * 1024;  // Largest TLS record payload.

std::string DrainErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {  // NOLINT(runtime/int): OpenSSL's type.
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// A socket BIO that never raises SIGPIPE (send with MSG_NOSIGNAL), so the library does not
// depend on the process ignoring the signal.
int FdOf(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

bool Retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

int BioWrite(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  ssize_t n = send(FdOf(bio), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && Retryable(errno)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int BioRead(BIO* bio, char* data, int len) {
  BIO_clear_retry_flags(bio);
  ssize_t n = recv(FdOf(bio), data, static_cast<size_t>(len), 0);
  if (n < 0 && Retryable(errno)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

long BioCtrl(BIO*, int cmd, long, void*) {  // NOLINT(runtime/int): OpenSSL's signature.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* SocketMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lb-socket");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    return m;
  }();
  return method;
}

}  // namespace

TlsSocket::TlsSocket(std::shared_ptr<const void> context, SSL* ssl, bool server)
    : context_(std::move(context)), ssl_(ssl), server_(server) {}

TlsSocket::~TlsSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

void TlsSocket::SetCallbacks(network::TransportSocketCallbacks& callbacks) {
  callbacks_ = &callbacks;
}

void TlsSocket::OnConnected() {
  BIO* bio = ssl_ == nullptr ? nullptr : BIO_new(SocketMethod());
  if (bio == nullptr) {
    state_ = State::kFailed;
    return;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(callbacks_->fd())));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // One reference, taken by the SSL.
  state_ = State::kHandshake;
  if (server_) {
    SSL_set_accept_state(ssl_);  // The ClientHello comes with the first read event.
  } else {
    SSL_set_connect_state(ssl_);
    Handshake();  // Sends the ClientHello now; a failure shows on the next read or write.
  }
}

bool TlsSocket::Handshake() {
  if (state_ == State::kDone) return true;
  if (state_ != State::kHandshake) return false;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    state_ = State::kDone;
    handshake_wants_write_ = false;
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &proto, &len);
    alpn_.assign(reinterpret_cast<const char*>(proto), len);
    TlsStats& stats = Stats();
    stats.handshakes.fetch_add(1, std::memory_order_relaxed);
    if (SSL_session_reused(ssl_)) stats.resumed.fetch_add(1, std::memory_order_relaxed);
    // May close the connection (then OnClose() ran and state_ is kClosed: the caller sees a
    // state other than kDone and does nothing more; the owner already knows).
    callbacks_->RaiseConnected();
    return true;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      handshake_wants_write_ = false;
      return true;
    case SSL_ERROR_WANT_WRITE:
      handshake_wants_write_ = true;
      return true;
    default: {
      state_ = State::kFailed;
      TlsStats& stats = Stats();
      stats.handshake_errors.fetch_add(1, std::memory_order_relaxed);
      if (!server_ && SSL_get_verify_result(ssl_) != X509_V_OK) {
        stats.verify_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("tls: upstream certificate rejected: {}",
                      X509_verify_cert_error_string(SSL_get_verify_result(ssl_)));
      }
      const std::string errors = DrainErrors();
      spdlog::debug("tls: {} handshake failed: {}", server_ ? "server" : "client", errors);
      return false;
    }
  }
}

network::IoResult TlsSocket::DoRead(event::Buffer& buffer, size_t max) {
  network::IoResult result;
  if (state_ != State::kDone) {
    if (!Handshake()) {
      result.action = network::IoResult::Action::kClose;
      return result;
    }
    if (state_ != State::kDone) return result;
  }
  char chunk[kRecord];
  // Contexts read ahead (one recv takes what the kernel has, up to OpenSSL's buffer): read
  // until OpenSSL holds nothing more, which may go past `max` by what it buffered (about one
  // buffer, 16 KiB). Bytes still in the kernel raise the next (level-triggered) read event.
  while (result.bytes < max || SSL_has_pending(ssl_)) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, chunk, sizeof(chunk));
    if (n > 0) {
      buffer.Append(absl::string_view(chunk, static_cast<size_t>(n)));
      result.bytes += static_cast<uint64_t>(n);
      // Nothing buffered: stop rather than pay a recv() that says EAGAIN.
      if (!SSL_has_pending(ssl_)) break;
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      result.end_stream = true;
      break;
    }
    if (err == SSL_ERROR_SYSCALL && errno != 0 && errno != EAGAIN) {
      result.error = errno;
    } else {
      Stats().connection_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("tls: read failed: {}", DrainErrors());
    }
    result.action = network::IoResult::Action::kClose;
    break;
  }
  return result;
}

network::IoResult TlsSocket::DoWrite(event::Buffer& buffer, bool end_stream) {
  network::IoResult result;
  if (state_ != State::kDone) {
    if (!Handshake()) {
      result.action = network::IoResult::Action::kClose;
      return result;
    }
    if (state_ != State::kDone) return result;  // Application bytes wait for the handshake.
  }
  while (!buffer.empty()) {
    // The same front bytes are offered again after WANT_WRITE, as OpenSSL requires.
    const size_t len = std::min(buffer.size(), kRecord);
    const char* data = buffer.Linearize(len);
    ERR_clear_error();
    const int n = SSL_write(ssl_, data, static_cast<int>(len));
    if (n > 0) {
      buffer.Drain(static_cast<size_t>(n));
      result.bytes += static_cast<uint64_t>(n);
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
      result.error = errno;
    } else {
      Stats().connection_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("tls: write failed: {}", DrainErrors());
    }
    result.action = network::IoResult::Action::kClose;
    return result;
  }
  if (end_stream && buffer.empty() && !shutdown_sent_) {
    shutdown_sent_ = true;
    SSL_shutdown(ssl_);  // close_notify; the peer's is not waited for.
    shutdown(callbacks_->fd(), SHUT_WR);
  }
  return result;
}

bool TlsSocket::WantsWrite(bool pending) const {
  if (state_ == State::kDone) return pending;
  return state_ == State::kHandshake && handshake_wants_write_;
}

void TlsSocket::OnClose() {
  if (state_ == State::kDone && !shutdown_sent_) {
    shutdown_sent_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_);  // Best effort: a full socket buffer loses it.
    ERR_clear_error();
  }
  state_ = State::kClosed;
}

absl::string_view TlsSocket::server_name() const {
  const char* name =
      ssl_ == nullptr ? nullptr : SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? absl::string_view() : absl::string_view(name);
}

bool TlsSocket::session_reused() const { return ssl_ != nullptr && SSL_session_reused(ssl_); }

}  // namespace lb::proxy::tls
