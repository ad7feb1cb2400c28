#include "common/http/response_stream.h"

#include <utility>

namespace lb::http {

bool ResponseStream::Write(const std::string& chunk) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  if (queued_.size() + chunk.size() > max_queued_bytes_) {
    closed_ = true;
    overflowed_ = true;
  } else {
    queued_ += chunk;
  }
  if (wake_) wake_();
  return !overflowed_;
}

void ResponseStream::Close() {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  if (wake_) wake_();
}

bool ResponseStream::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

bool ResponseStream::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

size_t ResponseStream::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return queued_.size();
}

void ResponseStream::SetWakeup(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  wake_ = std::move(wake);
}

bool ResponseStream::Take(std::string* out) {
  absl::MutexLock lock(&mu_);
  out->swap(queued_);
  queued_.clear();
  return closed_;
}

void ResponseStream::Disconnect() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  queued_.clear();
  wake_ = nullptr;
}

}  // namespace lb::http
