#include "proxy/network/transport_socket.h"

#include <sys/socket.h>

#include <cerrno>

namespace lb::proxy::network {

IoResult RawTransportSocket::DoRead(event::Buffer& buffer, size_t max) {
  IoResult result;
  ssize_t n = buffer.ReadFrom(callbacks_->fd(), max);
  if (n > 0) {
    result.bytes = static_cast<uint64_t>(n);
  } else if (n == 0) {
    result.end_stream = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    result.action = IoResult::Action::kClose;
    result.error = errno;
  }
  return result;
}

IoResult RawTransportSocket::DoWrite(event::Buffer& buffer, bool end_stream) {
  IoResult result;
  size_t left = buffer.size();
  while (left > 0) {
    ssize_t n = buffer.WriteTo(callbacks_->fd());
    if (n > 0) {
      result.bytes += static_cast<uint64_t>(n);
      left -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      result.action = IoResult::Action::kClose;
      result.error = errno;
    }
    break;
  }
  if (end_stream && left == 0 && !shut_down_) {
    shut_down_ = true;
    shutdown(callbacks_->fd(), SHUT_WR);
  }
  return result;
}

}  // namespace lb::proxy::network
