// GET /v1/stream: Server-Sent Events that tell the web console what changed, so it refetches
// only that (docs/console.md "Live updates"):
//   event: hello    data: {"tick_ms":T}                 once, on connect
//   event: cluster  data: {"name":N,"version":V,"endpoints":E} or {"name":N,"deleted":true}
//   event: routes   data: {"version":V}
//   event: resync   data: {}   the hub lost changes (it fell behind the feed): refetch all
//   event: tick     data: {"proxies":D}  every tick_interval; D changes when /v1/proxies does.
//                   Also the heartbeat that finds clients that went away.
// Fed by the change feed (api::ChangeFeed) as one watcher for all clients: a change is
// described once and the same bytes go to every client.
//
// Bounds (flags): at most max_clients streams (--ui_stream_max_clients; more get 503), each with
// at most max_queued_bytes not yet taken by its client (--ui_stream_max_queued_bytes; a slower
// client is dropped and reconnects by itself); both counted in
// lb_controller_limit_exceeded_total, clients in lb_controller_ui_stream_clients.
//
// Thread-safe. One thread of its own describes changes and sends ticks (on the hub's clock).
#ifndef LB_CONTROLLER_UI_EVENT_HUB_H_
#define LB_CONTROLLER_UI_EVENT_HUB_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/http/http_types.h"
#include "common/http/response_stream.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/api/change_feed.h"

namespace lb::ui {

class EventHub final : public api::ChangeFeed::Sink {
 public:
  struct Limits {
    size_t max_clients = 64;
    size_t max_queued_bytes = 256 << 10;
    absl::Duration tick_interval = absl::Seconds(2);
  };
  // A short digest of what /v1/proxies shows now; called on the hub's thread once per tick
  // while clients are connected.
  using ProxiesDigest = std::function<std::string()>;

  // `feed`, `metrics` and `clock` must outlive the hub.
  EventHub(Limits limits, api::ChangeFeed* feed, ProxiesDigest proxies, metrics::Registry* metrics,
           Clock* clock = Clock::Real());
  ~EventHub() override;

  // Subscribes to the feed (as an in-process watcher: it takes no WatchChanges slot) and starts
  // the thread. kInvalidArgument for a zero limit; the feed's
  // error if it refuses the subscription.
  absl::Status Start();
  // Unsubscribes, ends every client's stream and joins the thread. Idempotent.
  void Stop();

  // Answers GET /v1/stream: a stream (or 503 at max_clients, 405 for another method).
  http::HttpResponse Open(const http::HttpRequest& request);

  size_t clients() const;

  // api::ChangeFeed::Sink (called under the feed's lock: hands the change to the thread).
  void Send(const api::ChangeFeed::Bytes& change) override;
  void End(const absl::Status& status) override;

  // The SSE event (with its blank line) for one serialized lb.v1.Change; "" for changes the
  // console does not show (certificates, ticket keys, the initial state's end).
  static std::string Describe(const std::string& change);

 private:
  void Run();
  // Writes `event` to every client; drops the ones that went away or overflowed.
  void Broadcast(const std::string& event);

  const Limits limits_;
  api::ChangeFeed* const feed_;
  Clock* const clock_;
  const ProxiesDigest proxies_;
  metrics::Gauge* const clients_gauge_;
  metrics::Counter* const events_counter_;
  metrics::Counter* const refused_counter_;
  metrics::Counter* const dropped_counter_;

  // The thread waits on the clock for a change, the feed's end, Stop or the next tick.
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<http::ResponseStream>> clients_ ABSL_GUARDED_BY(mu_);
  // The change the feed handed over and the thread has not described yet (at most one: the feed
  // waits for Written).
  api::ChangeFeed::Bytes pending_ ABSL_GUARDED_BY(mu_);
  bool feed_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lb::ui

#endif  // LB_CONTROLLER_UI_EVENT_HUB_H_
