// The proxy's LRS client: reports load and health to the controller its ADS client is
// connected to, over an LRS stream on the same connection (XdsStream::OpenLrs), at the interval
// the controller asks for (docs/lrs.md). The protocol is LoadReporter (pure); this class owns
// the threads.
//
// Threads: one thread writes reports; each stream has a reader thread for the controller's
// answers. Attach() and Stop() may be called from any thread; `view` is called on the writer
// thread and must be thread-safe.
#ifndef LB_PROXY_XDS_LRS_CLIENT_H_
#define LB_PROXY_XDS_LRS_CLIENT_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/time/clock.h"
#include "proxy/xds/load_reporter.h"
#include "proxy/xds/xds_transport.h"

namespace lb::proxy::xds {

class LrsClient {
 public:
  using ViewSource = std::function<LoadView()>;
  // `clock` must outlive the client.
  LrsClient(LoadReporter::Node node, ViewSource view, Clock* clock = Clock::Real());
  ~LrsClient();  // Stop()s.

  // Starts the writer thread. Call once.
  void Start();
  // Reports on `stream` from now on; the previous stream (if any) is cancelled.
  void Attach(std::unique_ptr<LrsStream> stream);
  // Cancels the stream and joins the threads. Idempotent.
  void Stop();

  // Reports written so far (for tests and /stats).
  uint64_t reports_sent() const;

 private:
  void Run();

  const ViewSource view_;
  Clock* const clock_;
  LoadReporter reporter_;  // Writer thread only.

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<LrsStream> pending_ ABSL_GUARDED_BY(mu_);  // Attached, not yet taken.
  LrsStream* current_ ABSL_GUARDED_BY(mu_) = nullptr;        // For Cancel from Stop/Attach.
  // Answers read by the current stream's reader, not yet taken by the writer.
  std::deque<envoy::service::load_stats::v3::LoadStatsResponse> answers_ ABSL_GUARDED_BY(mu_);
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t reports_sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_LRS_CLIENT_H_
