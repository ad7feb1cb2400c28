// The controller's ADS server: keeps xDS resources in step with the model and streams them,
// state-of-the-world and incremental, to proxies and to gRPC's own xDS clients.
//
// Threads: model changes arrive on the store's watch thread (the server observes the model
// cache) and DNS changes on the resolver thread; both only queue work. One publisher thread turns
// queued work into a new immutable Snapshot (resources serialized once) and hands it to every
// stream; a burst that arrives while it is publishing is coalesced into the next snapshot, and a
// lone change is published at once. Streams run on gRPC's callback threads; each serializes its
// protocol state with its own mutex.
#ifndef LB_CONTROLLER_XDS_XDS_SERVER_H_
#define LB_CONTROLLER_XDS_XDS_SERVER_H_

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/limits/call_limits.h"
#include "controller/model/model_cache.h"
#include "controller/xds/protocol.h"
#include "controller/xds/resources.h"
#include "controller/xds/snapshot.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "lb/v1/lb.pb.h"

namespace lb::xds {

// A connected stream, as the server sees it.
class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
  // Called by the publisher, in publication order.
  virtual void Deliver(const std::shared_ptr<const Snapshot>& snapshot, const ChangeSet& changes,
                       absl::Time published) = 0;
  virtual lb::v1::ProxyStatus Status() = 0;
  // Ends the stream with UNAVAILABLE (controller shutting down).
  virtual void Close() = 0;
};

// Bounds of the ADS server; each is a flag (controller/main.cc) counted in
// lb_controller_limit_exceeded_total (docs/architecture.md, "Limits").
struct XdsLimits {
  // Concurrent ADS streams, both variants (--xds_max_streams). Over it a stream is refused
  // with RESOURCE_EXHAUSTED at once.
  size_t max_streams = 4096;
  // Names one stream may subscribe to (--xds_max_names_per_stream,
  // --xds_max_name_bytes_per_stream); over them the stream ends with RESOURCE_EXHAUSTED.
  StreamLimits stream;
  // Bytes of responses queued for one stream and not yet written
  // (--xds_max_queued_bytes_per_stream); over it (with more than one response queued) the stream
  // ends with RESOURCE_EXHAUSTED.
  size_t max_queued_bytes = 64 << 20;
};

// The two ADS methods use gRPC's raw callback API (ByteBuffer in and out): requests are parsed
// by the stream, and responses are encoded from slices that share each resource's serialized
// bytes (controller/xds/wire.h) instead of copying them into a message per stream.
using AdsRawService = envoy::service::discovery::v3::AggregatedDiscoveryService::
    WithRawCallbackMethod_StreamAggregatedResources<
        envoy::service::discovery::v3::AggregatedDiscoveryService::
            WithRawCallbackMethod_DeltaAggregatedResources<
                envoy::service::discovery::v3::AggregatedDiscoveryService::Service>>;

class XdsServer final : public AdsRawService, public model::ModelCache::Observer {
 public:
  // `lookup` resolves hostname endpoints. `metrics` and `clock` must outlive the server; stream
  // connection times and push latencies are read from `clock`.
  XdsServer(HostLookup lookup, metrics::Registry* metrics, std::string control_plane_id,
            Clock* clock = Clock::Real(), XdsLimits limits = {});
  ~XdsServer() override;

  // Feed of the model: queues the touched cluster (or the route table) for publication from
  // `state`, or from whatever newer state has arrived by then. Any thread.
  void OnModelChange(const lb::v1::Change& change,
                     const std::shared_ptr<const model::ModelState>& state) override;
  // Hostname resolutions changed. Any thread.
  void OnDnsChange();

  // Whether gRPC clients' Clusters name this controller as their LRS server. Call before the
  // first publication (Flush).
  void set_lrs_in_cds(bool on) { lrs_in_cds_ = on; }

  // Blocks until everything queued so far is published (for tests and start-up).
  void Flush();
  std::shared_ptr<const Snapshot> Current() const;
  lb::v1::ListProxiesResponse ListProxies();

  // Ends all streams with UNAVAILABLE and stops the publisher; clients reconnect elsewhere.
  void Shutdown();

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamAggregatedResources(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DeltaAggregatedResources(
      grpc::CallbackServerContext* context) override;

  // For the stream reactors. Returns the snapshot the stream starts from.
  std::shared_ptr<const Snapshot> Register(StreamHandle* stream);
  void Unregister(StreamHandle* stream);
  const std::string& control_plane_id() const { return control_plane_id_; }
  const XdsLimits& limits() const { return limits_; }
  // Each stream holds one of --xds_max_streams slots from its method call to its OnDone.
  void ReleaseStreamSlot() { stream_slots_.Release(); }
  metrics::Registry* metrics() const { return metrics_; }
  Clock* clock() const { return clock_; }
  // The streams' metrics, looked up once (the registry takes a mutex per lookup).
  class StreamMetrics;
  StreamMetrics& stream_metrics() const { return *stream_metrics_; }
  bool shutting_down() const;

 private:
  // A reactor that ends the call with RESOURCE_EXHAUSTED (no slot left); counted.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Refuse(
      grpc::CallbackServerContext* context);
  void PublisherLoop();
  // Publishes `state` for the clusters in `touched` (upserted if in `state`, else deleted), the
  // route table if `routes_changed`, and every hostname cluster if `dns_changed`, in
  // make-before-break phases.
  void Publish(const model::ModelState& state, const absl::flat_hash_set<std::string>& touched,
               bool routes_changed, bool dns_changed);
  // Certificates whose Secret (and the TLS listener) must be rebuilt, and whether the ticket
  // keys changed.
  struct TlsWork {
    absl::flat_hash_set<std::string> certificates;
    bool ticket_keys = false;
  };
  // Publishes the Secrets and the TLS listener `work` names, from `state`: new and changed
  // Secrets, then the listener, then removals of deleted Secrets.
  void PublishTls(const model::ModelState& state, const TlsWork& work);
  // Publishes `next` and delivers `changes` to every stream.
  void Deliver(std::shared_ptr<const Snapshot> next, const ChangeSet& changes, absl::Time start);

  const HostLookup lookup_;
  metrics::Registry* const metrics_;
  const std::unique_ptr<StreamMetrics> stream_metrics_;
  const std::string control_plane_id_;
  Clock* const clock_;
  const XdsLimits limits_;
  limits::CallSlots stream_slots_;
  bool lrs_in_cds_ = false;  // Set before publishing starts; read by the publisher thread.

  mutable absl::Mutex mu_;
  std::shared_ptr<const model::ModelState> model_ ABSL_GUARDED_BY(mu_);  // Latest seen.
  absl::flat_hash_set<std::string> touched_ ABSL_GUARDED_BY(mu_);  // Clusters not yet published.
  bool routes_dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool dns_dirty_ ABSL_GUARDED_BY(mu_) = false;
  // Certificates not yet published, and whether the ticket keys are.
  absl::flat_hash_set<std::string> certificates_touched_ ABSL_GUARDED_BY(mu_);
  bool ticket_keys_dirty_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;     // Work items queued so far.
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;  // Work items published so far.
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);

  // Lock order: streams_mu_ before any stream's own mutex.
  absl::Mutex streams_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::flat_hash_set<StreamHandle*> streams_ ABSL_GUARDED_BY(streams_mu_);
  absl::CondVar streams_empty_;

  std::thread publisher_;
};

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_XDS_SERVER_H_
