// The proxy's xDS client: one state-of-the-world ADS stream at a time to one of the
// controllers, feeding an AdsSubscription (the protocol, ads_subscription.h) and publishing
// every new ProxyConfig.
//
// Reconnects with exponential backoff (initial_backoff doubling up to max_backoff, each delay
// randomized by +-jitter) and moves to the next controller of the list on every stream end or
// failed attempt; a stream that got at least one response resets the backoff. The transport is
// a seam (xds_transport.h): gRPC in production, in-memory in tests; so is the clock.
//
// Threads: Start() spawns one thread that owns the stream and the subscription; on_config is
// called on it, never concurrently, and must not call Stop(). GetStatus() and config() may be
// called from any thread.
#ifndef LB_PROXY_XDS_ADS_CLIENT_H_
#define LB_PROXY_XDS_ADS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "proxy/config/config.h"
#include "proxy/xds/ads_status.h"
#include "proxy/xds/ads_subscription.h"
#include "proxy/xds/xds_transport.h"

namespace lb::proxy::xds {

struct AdsClientOptions {
  std::vector<std::string> controllers;  // host:port, tried in turn. At least one.
  std::string node_id;                   // Required.
  std::string zone;
  bool tls_listener = false;  // Subscribe to the TLS listener and its Secrets (--tls_listen).
  std::string user_agent = "lb-proxy";
  std::string user_agent_version = "1";
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  double jitter = 0.25;  // Each delay is multiplied by a uniform factor in [1-jitter, 1+jitter].
  // Null: gRPC (GrpcXdsTransportFactory with these keepalive settings).
  std::shared_ptr<XdsTransportFactory> transport;
  absl::Duration keepalive_time = absl::Seconds(10);
  absl::Duration keepalive_timeout = absl::Seconds(5);
  Clock* clock = Clock::Real();
  // Called on the client thread once each stream has its first response, with an LRS stream to
  // the same controller over the same connection (the LrsClient's Attach); null: no LRS.
  std::function<void(std::unique_ptr<LrsStream>)> on_lrs_stream;
};

class AdsClient {
 public:
  using ConfigCallback = std::function<void(std::shared_ptr<const ProxyConfig>)>;

  // `on_config` receives each new config (never null); the first once something has been
  // accepted. See the threading contract above.
  AdsClient(AdsClientOptions options, ConfigCallback on_config);
  ~AdsClient();  // Stop()s.

  AdsClient(const AdsClient&) = delete;
  AdsClient& operator=(const AdsClient&) = delete;

  // Starts the client thread. kInvalidArgument for options without controllers or node_id;
  // kFailedPrecondition if already started.
  absl::Status Start();
  // Cancels the stream and joins the thread. Idempotent; any thread but the client's own.
  void Stop();

  AdsClientStatus GetStatus() const;
  // The last config passed to on_config, or null before the first.
  std::shared_ptr<const ProxyConfig> config() const;

 private:
  void Run();
  // Runs one stream to `target` until it ends. Returns true if it delivered a response.
  bool RunStream(const std::string& target);
  // Waits up to `d` (on the clock) unless stopped. Returns false if stopped.
  bool Sleep(absl::Duration d);
  void Publish(std::shared_ptr<const ProxyConfig> config);

  AdsClientOptions options_;
  const ConfigCallback on_config_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  XdsStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // The current stream, for Stop().
  AdsClientStatus status_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ProxyConfig> config_ ABSL_GUARDED_BY(mu_);

  AdsSubscription subscription_;  // Client thread only.
  std::thread thread_;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_ADS_CLIENT_H_
