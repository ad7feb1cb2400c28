// A response body written over time (Server-Sent Events): a handler returns an HttpResponse
// whose `stream` is set; the server sends the status and headers at once, then every chunk
// written to the stream, until the producer closes it or the client goes away.
//
// Thread-safe: the producer writes from any thread; the server takes chunks on its own thread.
// Bounded: at most `max_queued_bytes` wait in the stream; a write beyond that closes the stream
// (the client is too slow) and reports it with overflowed().
#ifndef LB_COMMON_HTTP_RESPONSE_STREAM_H_
#define LB_COMMON_HTTP_RESPONSE_STREAM_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace lb::http {

class ResponseStream {
 public:
  explicit ResponseStream(size_t max_queued_bytes) : max_queued_bytes_(max_queued_bytes) {}

  // Queues `chunk`. False if the stream is closed, or if the chunk would put more than
  // max_queued_bytes in the queue: then the stream is closed as overflowed (what was queued is
  // still sent).
  bool Write(const std::string& chunk);
  // The server ends the response after the queued chunks. Idempotent.
  void Close();
  bool closed() const;
  bool overflowed() const;
  size_t queued_bytes() const;
  size_t max_queued_bytes() const { return max_queued_bytes_; }

  // Server side. `wake` is called (under the stream's lock: it must only schedule work) after
  // each Write or Close; replaces any earlier one.
  void SetWakeup(std::function<void()> wake);
  // Moves the queued bytes into `out`; true when the stream is closed (nothing more will come).
  bool Take(std::string* out);
  // The client went away or the server stops: closes the stream and drops the wakeup.
  void Disconnect();

 private:
  const size_t max_queued_bytes_;
  mutable absl::Mutex mu_;
  std::string queued_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::http

#endif  // LB_COMMON_HTTP_RESPONSE_STREAM_H_
