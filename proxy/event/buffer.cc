#include "proxy/event/buffer.h"

#include <event2/buffer.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace lb::proxy::event {

Buffer::Buffer() = default;
Buffer::~Buffer() {
  if (buf_ != nullptr) evbuffer_free(buf_);
}

void Buffer::ReleaseIfEmpty() {
  if (buf_ != nullptr && evbuffer_get_length(buf_) == 0) {
    evbuffer_free(buf_);
    buf_ = nullptr;
  }
}

evbuffer* Buffer::Get() {
  if (buf_ == nullptr) buf_ = evbuffer_new();
  return buf_;
}

size_t Buffer::size() const { return buf_ == nullptr ? 0 : evbuffer_get_length(buf_); }

// Sockets only: recv()/sendmsg() go straight to the socket layer, skipping the VFS read/write
// path (and its per-call checks) that readv()/writev() take.
ssize_t Buffer::ReadFrom(int fd, size_t max) {
  // evbuffer_read() would also ask the kernel how much is pending (ioctl FIONREAD) before every
  // read. One contiguous reservation of `max` bytes lets a single recv() fill it.
  evbuffer_iovec vec;
  if (max == 0 || evbuffer_reserve_space(Get(), static_cast<ssize_t>(max), &vec, 1) != 1) {
    errno = max == 0 ? EINVAL : ENOMEM;
    return -1;
  }
  ssize_t r = recv(fd, vec.iov_base, std::min(max, vec.iov_len), 0);
  if (r <= 0) {
    int saved = errno;
    evbuffer_commit_space(buf_, &vec, 0);
    errno = saved;
    return r;
  }
  vec.iov_len = static_cast<size_t>(r);
  evbuffer_commit_space(buf_, &vec, 1);
  return r;
}

ssize_t Buffer::WriteTo(int fd) {
  // Up to kMaxIov chunks per call, like evbuffer_write(); MSG_NOSIGNAL: a closed peer is an
  // EPIPE error, never a SIGPIPE.
  constexpr int kMaxIov = 64;
  if (buf_ == nullptr) return 0;
  evbuffer_iovec vec[kMaxIov];
  int n = evbuffer_peek(buf_, -1, nullptr, vec, kMaxIov);
  if (n <= 0) return 0;
  ssize_t r;
  if (n == 1) {
    r = send(fd, vec[0].iov_base, vec[0].iov_len, MSG_NOSIGNAL);
  } else {
    iovec iov[kMaxIov];
    for (int i = 0; i < n; ++i) iov[i] = {vec[i].iov_base, vec[i].iov_len};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    r = sendmsg(fd, &msg, MSG_NOSIGNAL);
  }
  if (r > 0) evbuffer_drain(buf_, static_cast<size_t>(r));
  return r;
}

void Buffer::Append(absl::string_view data) { evbuffer_add(Get(), data.data(), data.size()); }

void Buffer::MoveFrom(Buffer& from, size_t n) {
  if (from.empty() || n == 0) return;
  evbuffer_remove_buffer(from.buf_, Get(), n);
}

void Buffer::MoveAllFrom(Buffer& from) {
  if (from.empty()) return;
  evbuffer_add_buffer(Get(), from.buf_);
}

const char* Buffer::Linearize(size_t n) {
  return reinterpret_cast<const char*>(evbuffer_pullup(Get(), static_cast<ssize_t>(n)));
}

absl::string_view Buffer::FirstChunk() const {
  if (buf_ == nullptr) return {};
  evbuffer_iovec v;
  if (evbuffer_peek(buf_, -1, nullptr, &v, 1) < 1) return {};
  return absl::string_view(static_cast<const char*>(v.iov_base), v.iov_len);
}

void Buffer::Drain(size_t n) {
  if (buf_ != nullptr) evbuffer_drain(buf_, n);
}

}  // namespace lb::proxy::event
