// The per-request access log (--access_log): one JSON object per line, fields in this order:
//   {"time":"2026-12-03T16:05:12.345Z","client":"10.0.0.9","method":"GET",
//    "authority":"shop.example","path":"/cart","status":502,"bytes_received":0,
//    "bytes_sent":64,"upstream_host":"10.0.0.1:8080","upstream_ms":1.204,
//    "duration_ms":1.530,"attempts":3,"flags":"UC,URX",
//    "details":"upstream connect error or disconnect before response (retries exhausted)"}
// "time" is when the request head arrived; "upstream_ms" from the last attempt's request to its
// response head (null: no head came); "duration_ms" to the end of the response (or the moment
// it was abandoned); "flags" see stream_info.h; "upstream_host" null when no host was picked.
// Strings are JSON-escaped; bytes outside ASCII are written as \u00XX (one per byte), so any
// input yields valid JSON.
//
// Workers hand finished lines to AccessLog::Write, which only appends to a bounded buffer; a
// thread of the log writes it out. A full buffer (a slow disk, a stalled pipe) drops lines and
// counts them: the data path never waits on the log.
#ifndef LB_PROXY_ACCESSLOG_ACCESS_LOG_H_
#define LB_PROXY_ACCESSLOG_ACCESS_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proxy/accesslog/stream_info.h"

namespace lb::proxy::accesslog {

// Response flags as Envoy prints them: "UF,URX"; "-" when none.
std::string ResponseFlagsString(uint32_t flags);

// The request as the log shows it.
struct RequestLine {
  absl::string_view client;  // Client IP.
  absl::string_view method;  // "" if the head could not be read.
  absl::string_view authority;
  absl::string_view path;
};

// Appends one log line (with its newline) to `out`. `now` is the monotonic time of the end.
void AppendLogLine(const RequestLine& request, const StreamInfo& info, absl::Duration now,
                   std::string* out);

struct AccessLogOptions {
  std::string path;               // A file (appended to, created 0644) or "-" for stdout.
  size_t buffer_bytes = 4 << 20;  // Lines waiting for the writer; above it lines are dropped.
};

// Thread-safe.
class AccessLog {
 public:
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(const AccessLogOptions& options);
  // Writes what is buffered, then stops the writer.
  ~AccessLog();

  // Queues `line` (which ends in '\n'), or drops it when the buffer is full. Never blocks on
  // I/O.
  void Write(absl::string_view line);
  // The file is opened again before the next write (after logrotate moved it; SIGUSR1).
  void Reopen();

  uint64_t lines() const { return lines_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }

 private:
  explicit AccessLog(const AccessLogOptions& options, int fd);
  void Run();
  void WriteOut(const std::string& data);

  const AccessLogOptions options_;
  int fd_;  // Writer thread only (after construction).
  std::atomic<uint64_t> lines_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> write_errors_{0};

  absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  bool reopen_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace lb::proxy::accesslog

#endif  // LB_PROXY_ACCESSLOG_ACCESS_LOG_H_
