#include "proxy/event/buffer.h"

#include <event2/buffer.h>

namespace lb::proxy::event {

Buffer::Buffer() : buf_(evbuffer_new()) {}
Buffer::~Buffer() { evbuffer_free(buf_); }

size_t Buffer::size() const { return evbuffer_get_length(buf_); }

ssize_t Buffer::ReadFrom(int fd, size_t max) {
  return evbuffer_read(buf_, fd, static_cast<int>(max));
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
