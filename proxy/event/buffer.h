// A byte queue for sockets: chained storage, zero-copy moves between buffers, recv/sendmsg.
// Wraps libevent's evbuffer so the proxy logic never sees libevent. The evbuffer is made on
// first use, so an unused Buffer member costs no allocation. Not thread-safe.
#ifndef LB_PROXY_EVENT_BUFFER_H_
#define LB_PROXY_EVENT_BUFFER_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/strings/string_view.h"

struct evbuffer;

namespace lb::proxy::event {

class Buffer {
 public:
  Buffer();
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  size_t size() const;
  bool empty() const { return buf_ == nullptr || size() == 0; }

  // Reads at most `max` (> 0) bytes from socket `fd`: bytes read, 0 at EOF, -1 with errno set.
  ssize_t ReadFrom(int fd, size_t max);
  // Writes as much as socket `fd` takes: bytes written (removed from the buffer), 0 if empty,
  // or -1/errno (EPIPE rather than SIGPIPE for a closed peer).
  ssize_t WriteTo(int fd);

  // If empty, frees the storage (made again on next use): for connections that sit idle.
  void ReleaseIfEmpty();

  void Append(absl::string_view data);
  // Moves the first `n` bytes of `from` to the end of this buffer without copying payload.
  void MoveFrom(Buffer& from, size_t n);
  void MoveAllFrom(Buffer& from);

  // The first `n` bytes (n <= size()) made contiguous; valid until the next mutation.
  const char* Linearize(size_t n);
  // The first contiguous chunk (possibly shorter than size()).
  absl::string_view FirstChunk() const;
  void Drain(size_t n);
  void Clear() {
    if (buf_ != nullptr) Drain(size());
  }

 private:
  evbuffer* Get();

  evbuffer* buf_ = nullptr;
};

}  // namespace lb::proxy::event

#endif  // LB_PROXY_EVENT_BUFFER_H_
