#include "tests/controller/store/watch_recorder.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lb::store {

WatchRecorder::WatchRecorder(absl::Duration wait, Detail detail, std::string ignore_prefix)
    : wait_(wait), detail_(detail), ignore_prefix_(std::move(ignore_prefix)) {}

WatchCallback WatchRecorder::Callback() {
  return [this](const std::vector<Event>& events) { Record(events); };
}

void WatchRecorder::Record(const std::vector<Event>& events) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> batch;
  for (const Event& e : events) {
    if (!ignore_prefix_.empty() && absl::StartsWith(e.kv.key, ignore_prefix_)) continue;
    const bool del = e.type == Event::Type::kDelete;
    std::string line =
        del ? absl::StrCat("del ", e.kv.key) : absl::StrCat("put ", e.kv.key, "=", e.kv.value);
    if (detail_ == Detail::kWithRevisions) {
      if (!del) absl::StrAppend(&line, " c", e.kv.create_revision);
      absl::StrAppend(&line, " m", e.kv.mod_revision);
    }
    batch.push_back(std::move(line));
    revisions_.push_back(e.kv.mod_revision);
  }
  if (ignore_prefix_.empty() || !batch.empty()) batches_.push_back(std::move(batch));
}

bool WatchRecorder::WaitForBatches(size_t n) {
  absl::MutexLock lock(&mu_);
  auto ready = [this, n]() {
    mu_.AssertHeld();
    return batches_.size() >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), wait_);
}

std::vector<std::vector<std::string>> WatchRecorder::Batches() {
  absl::MutexLock lock(&mu_);
  return batches_;
}

std::vector<int64_t> WatchRecorder::Revisions() {
  absl::MutexLock lock(&mu_);
  return revisions_;
}

}  // namespace lb::store
