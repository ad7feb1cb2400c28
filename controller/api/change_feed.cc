#include "controller/api/change_feed.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/limits/limit_metrics.h"

namespace lb::api {
namespace {

ChangeFeed::Bytes Serialize(const lb::v1::Change& change) {
  return std::make_shared<const std::string>(change.SerializeAsString());
}

}  // namespace

ChangeFeed::ChangeFeed(Limits limits, metrics::Registry* metrics)
    : limits_(limits),
      refused_counter_(metrics ? limits::ExceededCounter(metrics, "watch_max_streams") : nullptr),
      cut_off_counter_(metrics ? limits::ExceededCounter(metrics, "watch_max_queued_bytes")
                               : nullptr),
      watchers_gauge_(
          metrics ? metrics->GetGauge("lb_controller_watch_streams", "Open WatchChanges streams.")
                  : nullptr),
      queued_gauge_(
          metrics ? metrics->GetGauge("lb_controller_watch_queued_bytes",
                                      "Bytes of changes not yet sent to every WatchChanges stream.")
                  : nullptr) {}

absl::Status ChangeFeed::Subscribe(Sink* sink) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return absl::UnavailableError("controller is shutting down");
  if (watchers_.size() - internal_count_ >= limits_.max_watchers) {
    ++refused_;
    if (refused_counter_ != nullptr) refused_counter_->Increment();
    return absl::ResourceExhaustedError(
        absl::StrCat("too many WatchChanges streams: this controller serves at most ",
                     limits_.max_watchers, "; try again later"));
  }
  AddLocked(sink, /*internal=*/false);
  return absl::OkStatus();
}

absl::Status ChangeFeed::SubscribeInternal(Sink* sink) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return absl::UnavailableError("controller is shutting down");
  if (internal_count_ >= kMaxInternalWatchers) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many in-process watchers of the change feed: at most ", kMaxInternalWatchers));
  }
  AddLocked(sink, /*internal=*/true);
  return absl::OkStatus();
}

void ChangeFeed::AddLocked(Sink* sink, bool internal) {
  Watcher& w = watchers_[sink];
  if (w.internal) --internal_count_;  // `sink` was a watcher already.
  w.internal = internal;
  if (internal) ++internal_count_;
  w.initial = InitialLocked();
  w.next_seq = end_seq_;
  SendNextLocked(sink, w);
  ExportLocked();
}

void ChangeFeed::EraseLocked(absl::flat_hash_map<Sink*, Watcher>::iterator it) {
  if (it->second.internal) --internal_count_;
  watchers_.erase(it);
}

void ChangeFeed::Written(Sink* sink) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(sink);
  if (it == watchers_.end()) return;
  it->second.in_flight = false;
  SendNextLocked(sink, it->second);
}

void ChangeFeed::Unsubscribe(Sink* sink) {
  absl::MutexLock lock(&mu_);
  if (auto it = watchers_.find(sink); it != watchers_.end()) EraseLocked(it);
  ExportLocked();
}

void ChangeFeed::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [sink, w] : watchers_)
    sink->End(absl::UnavailableError("controller is shutting down"));
  watchers_.clear();
  internal_count_ = 0;
  log_.clear();
  log_bytes_ = 0;
  ExportLocked();
}

void ChangeFeed::OnModelChange(const lb::v1::Change& change,
                               const std::shared_ptr<const model::ModelState>& state) {
  // Serialized once, before taking the lock; every watcher shares these bytes.
  Bytes bytes;
  if (change.kind_case() != lb::v1::Change::kInitialStateEnd) bytes = Serialize(change);
  absl::MutexLock lock(&mu_);
  revision_ = state->revision;
  initial_.reset();
  switch (change.kind_case()) {
    case lb::v1::Change::kCluster:
      clusters_[change.cluster().name()] = bytes;
      break;
    case lb::v1::Change::kClusterDeleted:
      clusters_.erase(change.cluster_deleted());
      break;
    case lb::v1::Change::kRouteTable:
      routes_ = bytes;
      break;
    default:
      return;  // The registry's own end of its initial state: watchers get theirs.
  }
  if (watchers_.empty() || shut_down_) return;
  log_.push_back(Entry{end_seq_++, bytes});
  log_bytes_ += bytes->size();
  for (auto& [sink, w] : watchers_) SendNextLocked(sink, w);
  TrimLocked();
  ExportLocked();
}

void ChangeFeed::SendNextLocked(Sink* sink, Watcher& w) {
  if (w.in_flight) return;
  Bytes next;
  if (w.initial != nullptr) {
    next = (*w.initial)[w.initial_next++];
    if (w.initial_next == w.initial->size()) w.initial.reset();
  } else if (w.next_seq < end_seq_) {
    next = log_[w.next_seq - log_.front().seq].bytes;
    ++w.next_seq;
  } else {
    return;
  }
  w.in_flight = true;
  sink->Send(next);
}

void ChangeFeed::TrimLocked() {
  uint64_t oldest_needed = end_seq_;
  for (const auto& [sink, w] : watchers_) oldest_needed = std::min(oldest_needed, w.next_seq);
  auto pop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    log_bytes_ -= log_.front().bytes->size();
    log_.pop_front();
  };
  while (!log_.empty() && log_.front().seq < oldest_needed) pop();
  // The newest change always stays: the bound is on a backlog, not on one change.
  while (log_bytes_ > limits_.max_queued_bytes && log_.size() > 1) pop();
  if (log_.empty() || log_.front().seq <= oldest_needed) return;
  const uint64_t first = log_.front().seq;
  std::vector<Sink*> behind;
  for (const auto& [sink, w] : watchers_) {
    if (w.next_seq < first) behind.push_back(sink);
  }
  for (Sink* sink : behind) {
    EraseLocked(watchers_.find(sink));
    ++cut_off_;
    if (cut_off_counter_ != nullptr) cut_off_counter_->Increment();
    sink->End(absl::ResourceExhaustedError(absl::StrCat("this watcher fell more than ",
                                                        limits_.max_queued_bytes,
                                                        " bytes of changes behind; watch again")));
  }
}

std::shared_ptr<const std::vector<ChangeFeed::Bytes>> ChangeFeed::InitialLocked() {
  if (initial_ != nullptr) return initial_;
  auto initial = std::make_shared<std::vector<Bytes>>();
  initial->reserve(clusters_.size() + 2);
  for (const auto& [name, bytes] : clusters_) initial->push_back(bytes);
  if (routes_ != nullptr) {
    initial->push_back(routes_);
  } else {
    lb::v1::Change empty;
    empty.mutable_route_table();
    initial->push_back(Serialize(empty));
  }
  lb::v1::Change end;
  end.set_revision(revision_);
  end.set_initial_state_end(true);
  initial->push_back(Serialize(end));
  initial_ = std::move(initial);
  return initial_;
}

void ChangeFeed::ExportLocked() {
  if (watchers_gauge_ != nullptr) {
    watchers_gauge_->Set(static_cast<int64_t>(watchers_.size() - internal_count_));
  }
  if (queued_gauge_ != nullptr) queued_gauge_->Set(static_cast<int64_t>(log_bytes_));
}

size_t ChangeFeed::watchers() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size() - internal_count_;
}

size_t ChangeFeed::internal_watchers() const {
  absl::MutexLock lock(&mu_);
  return internal_count_;
}

size_t ChangeFeed::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return log_bytes_;
}

uint64_t ChangeFeed::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

uint64_t ChangeFeed::cut_off() const {
  absl::MutexLock lock(&mu_);
  return cut_off_;
}

}  // namespace lb::api
