#include "controller/ui/event_hub.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/limits/limit_metrics.h"
#include "nlohmann/json.hpp"
#include "proto/lb/v1/lb.pb.h"

namespace lb::ui {
namespace {

// How long the hub waits before subscribing again after the feed cut it off.
constexpr absl::Duration kResubscribeDelay = absl::Seconds(1);

std::string Event(absl::string_view name, const nlohmann::json& data) {
  return absl::StrCat("event: ", name, "\ndata: ", data.dump(), "\n\n");
}

http::HttpResponse JsonStatus(int status, absl::string_view code, absl::string_view message) {
  http::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump() + "\n";
  return r;
}

}  // namespace

EventHub::EventHub(Limits limits, api::ChangeFeed* feed, ProxiesDigest proxies,
                   metrics::Registry* metrics, Clock* clock)
    : limits_(limits),
      feed_(feed),
      clock_(clock),
      proxies_(std::move(proxies)),
      clients_gauge_(metrics->GetGauge("lb_controller_ui_stream_clients",
                                       "Web console event streams open (/v1/stream).")),
      events_counter_(metrics->GetCounter("lb_controller_ui_stream_events_total",
                                          "Events sent to web console streams, once per event.")),
      refused_counter_(limits::ExceededCounter(metrics, "ui_stream_max_clients")),
      dropped_counter_(limits::ExceededCounter(metrics, "ui_stream_max_queued_bytes")) {
  limits::ExportLimit(metrics, "ui_stream_max_clients", static_cast<int64_t>(limits.max_clients));
  limits::ExportLimit(metrics, "ui_stream_max_queued_bytes",
                      static_cast<int64_t>(limits.max_queued_bytes));
}

EventHub::~EventHub() { Stop(); }

absl::Status EventHub::Start() {
  if (limits_.max_clients == 0 || limits_.max_queued_bytes == 0 ||
      limits_.tick_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--ui_stream_max_clients, --ui_stream_max_queued_bytes and --ui_stream_tick_interval "
        "must be positive");
  }
  if (absl::Status s = feed_->SubscribeInternal(this); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void EventHub::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  feed_->Unsubscribe(this);  // No Send/End after this (the thread can no longer resubscribe).
  absl::MutexLock lock(&mu_);
  for (const auto& c : clients_) c->Close();
  clients_.clear();
  clients_gauge_->Set(0);
}

size_t EventHub::clients() const {
  absl::MutexLock lock(&mu_);
  return clients_.size();
}

http::HttpResponse EventHub::Open(const http::HttpRequest& request) {
  if (request.method != "GET") {
    http::HttpResponse r =
        JsonStatus(405, "METHOD_NOT_ALLOWED",
                   absl::StrCat("method ", request.method, " not allowed here; allowed: GET"));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  absl::MutexLock lock(&mu_);
  if (stopping_ || !started_) {
    return JsonStatus(503, "UNAVAILABLE", "the event stream is not running");
  }
  if (clients_.size() >= limits_.max_clients) {
    refused_counter_->Increment();
    return JsonStatus(503, "RESOURCE_EXHAUSTED",
                      absl::StrCat(clients_.size(),
                                   " console event streams are open, the limit "
                                   "(--ui_stream_max_clients)"));
  }
  http::HttpResponse r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.stream = std::make_shared<http::ResponseStream>(limits_.max_queued_bytes);
  r.stream->Write(absl::StrCat(
      "retry: 3000\n\n",
      Event("hello", {{"tick_ms", absl::ToInt64Milliseconds(limits_.tick_interval)}})));
  clients_.push_back(r.stream);
  clients_gauge_->Set(static_cast<int64_t>(clients_.size()));
  return r;
}

void EventHub::Send(const api::ChangeFeed::Bytes& change) {
  absl::MutexLock lock(&mu_);
  pending_ = change;
}

void EventHub::End(const absl::Status&) {
  absl::MutexLock lock(&mu_);
  feed_ended_ = true;
}

std::string EventHub::Describe(const std::string& bytes) {
  lb::v1::Change change;
  if (!change.ParseFromString(bytes)) return "";
  switch (change.kind_case()) {
    case lb::v1::Change::kCluster:
      return Event("cluster", {{"name", change.cluster().name()},
                               {"version", change.cluster().version()},
                               {"endpoints", change.cluster().endpoints_size()}});
    case lb::v1::Change::kClusterDeleted:
      return Event("cluster", {{"name", change.cluster_deleted()}, {"deleted", true}});
    case lb::v1::Change::kRouteTable:
      return Event("routes", {{"version", change.route_table().version()}});
    default:
      return "";
  }
}

void EventHub::Broadcast(const std::string& event) {
  absl::MutexLock lock(&mu_);
  size_t kept = 0;
  for (auto& c : clients_) {
    if (c->Write(event)) {
      clients_[kept++] = std::move(c);
    } else if (c->overflowed()) {
      dropped_counter_->Increment();
    }
  }
  clients_.resize(kept);
  clients_gauge_->Set(static_cast<int64_t>(kept));
  events_counter_->Increment();
}

void EventHub::Run() {
  // The feed first sends the current state: the console reads that itself, so it is skipped
  // up to the end marker. After a resubscription its end means "refetch everything".
  bool in_initial_state = true;
  bool resubscribed = false;
  absl::Time next_tick = clock_->Now() + limits_.tick_interval;
  for (;;) {
    api::ChangeFeed::Bytes change;
    bool ended = false;
    bool tick = false;
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || pending_ != nullptr || feed_ended_;
      };
      clock_->AwaitWithDeadline(&mu_, absl::Condition(&woken), next_tick);
      if (stopping_) return;
      change = std::move(pending_);
      pending_ = nullptr;
      ended = feed_ended_;
      feed_ended_ = false;
      tick = clock_->Now() >= next_tick && !clients_.empty();
    }
    if (change != nullptr) {
      lb::v1::Change parsed;
      const bool end_marker = parsed.ParseFromString(*change) && parsed.initial_state_end();
      if (end_marker) {
        if (resubscribed) Broadcast(Event("resync", nlohmann::json::object()));
        in_initial_state = false;
      } else if (!in_initial_state) {
        if (std::string event = Describe(*change); !event.empty()) Broadcast(event);
      }
      feed_->Written(this);
    }
    if (ended) {
      // Cut off (this thread fell too far behind): start over from the current state.
      {
        absl::MutexLock lock(&mu_);
        clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping_), kResubscribeDelay);
        if (stopping_) return;
      }
      in_initial_state = true;
      resubscribed = true;
      if (!feed_->SubscribeInternal(this).ok()) {
        absl::MutexLock lock(&mu_);
        feed_ended_ = true;  // Try again after the delay.
      }
    }
    if (const absl::Time now = clock_->Now(); now >= next_tick) {
      next_tick = now + limits_.tick_interval;
      if (tick) Broadcast(Event("tick", {{"proxies", proxies_()}}));
    }
  }
}

}  // namespace lb::ui
