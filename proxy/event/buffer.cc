#include "proxy/event/buffer.h"

#include <event2/buffer.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace lb::proxy::event {

Buffer::Buffer() : buf_(evbuffer_new()) {}
Buffer::~Buffer() { evbuffer_free(buf_); }

size_t Buffer::size() const { return evbuffer_get_length(buf_); }

ssize_t Buffer::ReadFrom(int fd, size_t max) {
  // evbuffer_read() asks the kernel how much is pending (ioctl FIONREAD) before every read;
  // reserving space and calling readv() directly saves that syscall.
  evbuffer_iovec vec[2];
  int n = evbuffer_reserve_space(buf_, static_cast<ssize_t>(max), vec, 2);
  if (n <= 0) {
    errno = ENOMEM;
    return -1;
  }
  // The reservation may be larger than asked; never read past `max`.
  iovec iov[2];
  size_t room = max;
  int iovs = 0;
  for (int i = 0; i < n && room > 0; ++i, ++iovs) {
    iov[i] = {vec[i].iov_base, std::min(room, vec[i].iov_len)};
    room -= iov[i].iov_len;
  }
  ssize_t r = readv(fd, iov, iovs);
  if (r <= 0) {
    int saved = errno;
    evbuffer_commit_space(buf_, vec, 0);
    errno = saved;
    return r;
  }
  size_t left = static_cast<size_t>(r);
  int used = 0;
  for (int i = 0; i < n && left > 0; ++i, ++used) {
    vec[i].iov_len = std::min(left, vec[i].iov_len);
    left -= vec[i].iov_len;
  }
  evbuffer_commit_space(buf_, vec, used);
  return r;
}

ssize_t Buffer::WriteTo(int fd) { return evbuffer_write(buf_, fd); }

void Buffer::Append(absl::string_view data) { evbuffer_add(buf_, data.data(), data.size()); }

void Buffer::MoveFrom(Buffer& from, size_t n) { evbuffer_remove_buffer(from.buf_, buf_, n); }

void Buffer::MoveAllFrom(Buffer& from) { evbuffer_add_buffer(buf_, from.buf_); }

const char* Buffer::Linearize(size_t n) {
  return reinterpret_cast<const char*>(evbuffer_pullup(buf_, static_cast<ssize_t>(n)));
}

absl::string_view Buffer::FirstChunk() const {
  evbuffer_iovec v;
  if (evbuffer_peek(buf_, -1, nullptr, &v, 1) < 1) return {};
  return absl::string_view(static_cast<const char*>(v.iov_base), v.iov_len);
}

void Buffer::Drain(size_t n) { evbuffer_drain(buf_, n); }

}  // namespace lb::proxy::event
