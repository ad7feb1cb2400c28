#include "proxy/accesslog/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lb::proxy::accesslog {
namespace {

constexpr std::pair<ResponseFlag, const char*> kFlagNames[] = {
    {kNoHealthyUpstream, "UH"},
    {kUpstreamConnectionFailure, "UF"},
    {kUpstreamOverflow, "UO"},
    {kNoRoute, "NR"},
    {kUpstreamRetryLimitExceeded, "URX"},
    {kUpstreamRequestTimeout, "UT"},
    {kUpstreamConnectionTermination, "UC"},
    {kDownstreamConnectionTermination, "DC"},
    {kStreamIdleTimeout, "SI"},
    {kUpstreamProtocolError, "UPE"},
    {kDownstreamProtocolError, "DPE"},
    {kNoClusterFound, "NC"},
    {kUpstreamMaxStreamDurationReached, "UMSDR"},
    {kOverloadManager, "OM"},
    {kNoConfig, "NCF"},
};

// `s` as a JSON string, quotes included.
void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out->push_back(static_cast<char>(c));
    } else {
      // Controls, DEL and every byte of non-ASCII input: the output stays valid JSON (and
      // valid UTF-8) whatever a client sent.
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    }
  }
  out->push_back('"');
}

void AppendMillis(absl::Duration d, std::string* out) {
  absl::StrAppendFormat(out, "%.3f", absl::ToDoubleMilliseconds(d));
}

}  // namespace

std::string ResponseFlagsString(uint32_t flags) {
  std::string out;
  for (const auto& [flag, name] : kFlagNames) {
    if ((flags & flag) == 0) continue;
    if (!out.empty()) out.push_back(',');
    out.append(name);
  }
  return out.empty() ? "-" : out;
}

void AppendLogLine(const RequestLine& request, const StreamInfo& info, absl::Duration now,
                   std::string* out) {
  out->append("{\"time\":\"");
  out->append(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", info.start_time, absl::UTCTimeZone()));
  out->append("\",\"client\":");
  AppendJsonString(request.client, out);
  out->append(",\"method\":");
  AppendJsonString(request.method, out);
  out->append(",\"authority\":");
  AppendJsonString(request.authority, out);
  out->append(",\"path\":");
  AppendJsonString(request.path, out);
  absl::StrAppend(out, ",\"status\":", info.status, ",\"bytes_received\":", info.bytes_received,
                  ",\"bytes_sent\":", info.bytes_sent, ",\"upstream_host\":");
  if (info.upstream_host == nullptr) {
    out->append("null");
  } else {
    AppendJsonString(*info.upstream_host, out);
  }
  out->append(",\"upstream_ms\":");
  if (info.upstream_head == absl::InfiniteDuration() ||
      info.upstream_start == absl::InfiniteDuration()) {
    out->append("null");
  } else {
    AppendMillis(info.upstream_head - info.upstream_start, out);
  }
  out->append(",\"duration_ms\":");
  AppendMillis(now - info.start, out);
  absl::StrAppend(out, ",\"attempts\":", info.attempts, ",\"flags\":\"",
                  ResponseFlagsString(info.response_flags), "\",\"details\":");
  AppendJsonString(info.details, out);
  out->append("}\n");
}

namespace {

absl::StatusOr<int> OpenPath(const std::string& path) {
  if (path == "-") return dup(STDOUT_FILENO);
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open access log ", path, ": ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(const AccessLogOptions& options) {
  absl::StatusOr<int> fd = OpenPath(options.path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<AccessLog>(new AccessLog(options, *fd));
}

AccessLog::AccessLog(const AccessLogOptions& options, int fd)
    : options_(options), fd_(fd), writer_([this] { Run(); }) {}

AccessLog::~AccessLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  writer_.join();
  if (fd_ >= 0) close(fd_);
}

void AccessLog::Write(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  if (pending_.size() + line.size() > options_.buffer_bytes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.append(line.data(), line.size());
  lines_.fetch_add(1, std::memory_order_relaxed);
}

void AccessLog::Reopen() {
  absl::MutexLock lock(&mu_);
  reopen_ = true;
}

void AccessLog::Run() {
  std::string batch;
  for (;;) {
    bool stop;
    bool reopen;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stop_ || reopen_ || !pending_.empty();
      };
      // Bounded wait: the condition is also re-checked at least every 100 ms
      // (real time; it decides nothing).
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
      batch.swap(pending_);
      stop = stop_;
      reopen = std::exchange(reopen_, false);
    }
    // Reopen first: what was queued once it was asked for goes to the new file.
    if (reopen && options_.path != "-") {
      absl::StatusOr<int> fd = OpenPath(options_.path);
      if (fd.ok()) {
        if (fd_ >= 0) close(fd_);
        fd_ = *fd;
      } else {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!batch.empty()) WriteOut(batch);
    batch.clear();
    if (stop) return;
  }
}

void AccessLog::WriteOut(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace lb::proxy::accesslog
