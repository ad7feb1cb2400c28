#include "controller/xds/xds_server.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/limits/limit_metrics.h"
#include "controller/model/validation.h"
#include "controller/xds/protocol.h"
#include "controller/xds/wire.h"
#include "google/protobuf/util/time_util.h"

namespace lb::xds {
namespace {

// A stream that falls this many responses behind is cut off; it reconnects and gets a fresh
// full answer instead of a backlog.
constexpr size_t kMaxQueuedResponses = 1000;

int TypeIndex(absl::string_view type_url) {
  if (type_url == kListenerType) return 0;
  if (type_url == kRouteType) return 1;
  if (type_url == kClusterType) return 2;
  if (type_url == kEndpointType) return 3;
  if (type_url == kSecretType) return 4;
  return 5;
}

const char* ShortType(absl::string_view type_url) {
  static const char* const kNames[] = {"lds", "rds", "cds", "eds", "sds", "other"};
  return kNames[TypeIndex(type_url)];
}

// Returns *slot, filling it with make() on first use. Registry lookups are idempotent, so two
// threads racing here get the same pointer.
template <typename T, typename Make>
T* Cached(std::atomic<T*>& slot, Make make) {
  T* p = slot.load(std::memory_order_acquire);
  if (p == nullptr) {
    p = make();
    slot.store(p, std::memory_order_release);
  }
  return p;
}

}  // namespace

class XdsServer::StreamMetrics {
 public:
  explicit StreamMetrics(metrics::Registry* registry) : r_(registry) {}

  metrics::Gauge* Streams(int kind, const char* name) {
    return Cached(streams_[kind], [&] {
      return r_->GetGauge("lb_xds_connected_streams", "Open ADS streams.", {{"protocol", name}});
    });
  }
  metrics::Counter* Requests(absl::string_view type_url) {
    int t = TypeIndex(type_url);
    return Cached(requests_[t], [&] {
      return r_->GetCounter("lb_xds_requests_total", "ADS requests by type.",
                            {{"type", ShortType(type_url)}});
    });
  }
  metrics::Counter* Nacks(absl::string_view type_url) {
    int t = TypeIndex(type_url);
    return Cached(nacks_[t], [&] {
      return r_->GetCounter("lb_xds_nacks_total", "NACKs received, by type.",
                            {{"type", ShortType(type_url)}});
    });
  }
  metrics::Counter* Pushes(absl::string_view type_url) {
    int t = TypeIndex(type_url);
    return Cached(pushes_[t], [&] {
      return r_->GetCounter("lb_xds_pushes_total", "ADS responses written, by type.",
                            {{"type", ShortType(type_url)}});
    });
  }
  metrics::Counter* LimitExceeded(const char* limit) {
    return limits::ExceededCounter(r_, limit);  // Rare: not cached.
  }
  metrics::Histogram* PushLatency() {
    return Cached(push_latency_, [&] {
      return r_->GetHistogram(
          "lb_xds_push_latency_seconds",
          "From a snapshot's publication (or a request) to its response written.");
    });
  }

 private:
  metrics::Registry* const r_;
  std::atomic<metrics::Gauge*> streams_[2]{};
  std::atomic<metrics::Counter*> requests_[6]{};
  std::atomic<metrics::Counter*> nacks_[6]{};
  std::atomic<metrics::Counter*> pushes_[6]{};
  std::atomic<metrics::Histogram*> push_latency_{nullptr};
};

namespace {

// One ADS stream: glue between gRPC's raw callback API and a pure protocol class. Requests are
// parsed here; responses stay light (references to shared resources) in the queue and are
// encoded one at a time, when written.
template <typename Protocol>
class AdsReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public StreamHandle {
 public:
  using Request = typename Protocol::Request;
  using Response = typename Protocol::Response;

  // Holds one of the server's stream slots, released in OnDone.
  AdsReactor(XdsServer* server, grpc::CallbackServerContext* ctx, int kind_index, const char* kind)
      : server_(server),
        metrics_(server->stream_metrics()),
        context_(ctx),
        protocol_(server->control_plane_id(), server->limits().stream),
        kind_index_(kind_index),
        kind_(kind),
        peer_(ctx->peer()),
        connected_(server->clock()->Now()) {
    metrics_.Streams(kind_index_, kind_)->Add(1);
    std::shared_ptr<const Snapshot> start = server_->Register(this);
    {
      // A publication may already have reached this stream; keep whichever is newer.
      absl::MutexLock lock(&mu_);
      if (snapshot_ == nullptr || snapshot_->generation() < start->generation()) {
        snapshot_ = std::move(start);
      }
    }
    this->StartRead(&read_buf_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      FinishOnce(grpc::Status::OK);
      return;
    }
    // Only the single outstanding read touches read_buf_ and request_: parse before locking.
    grpc::Status parsed = grpc::SerializationTraits<Request>::Deserialize(&read_buf_, &request_);
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (!parsed.ok()) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                absl::StrCat("malformed ", kind_, " request")));
      return;
    }
    metrics_.Requests(request_.type_url())->Increment();
    uint64_t nacks_before = protocol_.total_nacks();
    // Answer from the snapshot this stream was last given, never a newer one: a publication in
    // progress reaches this stream phase by phase, in make-before-break order.
    absl::StatusOr<std::vector<Response>> responses = protocol_.OnRequest(request_, *snapshot_);
    if (!responses.ok()) {
      // kInvalidArgument or kResourceExhausted (over the stream's limits); same numbers in gRPC.
      if (protocol_.exceeded() != ExceededLimit::kNone) {
        metrics_
            .LimitExceeded(protocol_.exceeded() == ExceededLimit::kNames
                               ? "xds_max_names_per_stream"
                               : "xds_max_name_bytes_per_stream")
            ->Increment();
        spdlog::warn("xds: {} ({}): {}", protocol_.identity().node().id(), peer_,
                     std::string(responses.status().message()));
      }
      FinishLocked(grpc::Status(static_cast<grpc::StatusCode>(responses.status().code()),
                                std::string(responses.status().message())));
      return;
    }
    if (protocol_.total_nacks() != nacks_before) {
      metrics_.Nacks(request_.type_url())->Increment();
      spdlog::warn("xds: {} ({}) NACKed {}: {}", protocol_.identity().node().id(), peer_,
                   request_.type_url(), request_.error_detail().message());
    }
    if (!responses->empty()) EnqueueLocked(std::move(*responses), server_->clock()->Now());
    this->StartRead(&read_buf_);
  }

  void Deliver(const std::shared_ptr<const Snapshot>& snapshot, const ChangeSet& changes,
               absl::Time published) override {
    absl::MutexLock lock(&mu_);
    snapshot_ = snapshot;
    if (finished_) return;
    std::vector<Response> responses = protocol_.OnSnapshot(*snapshot, changes);
    if (!responses.empty()) EnqueueLocked(std::move(responses), published);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    write_buf_.Clear();      // Drops this response's references to the shared resources.
    if (!ok || finished_) {  // Finished: the queue was dropped.
      FinishLocked(grpc::Status::OK);
      return;
    }
    const Queued& done = queue_.front();
    metrics_.Pushes(done.response.type_url)->Increment();
    metrics_.PushLatency()->Observe(absl::ToDoubleSeconds(server_->clock()->Now() - done.since));
    queued_bytes_ -= done.bytes;
    queue_.pop_front();
    WriteNextLocked();
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    server_->Unregister(this);
    metrics_.Streams(kind_index_, kind_)->Add(-1);
    {
      absl::MutexLock lock(&mu_);
      backstop_.Disarm();
    }
    server_->ReleaseStreamSlot();
    delete this;
  }

  lb::v1::ProxyStatus Status() override {
    absl::MutexLock lock(&mu_);
    lb::v1::ProxyStatus s;
    s.set_node_id(protocol_.identity().node().id());
    s.set_address(peer_);
    *s.mutable_connected_since() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(connected_));
    s.set_protocol(kind_);
    s.set_user_agent(absl::StrCat(protocol_.identity().node().user_agent_name(), " ",
                                  protocol_.identity().node().user_agent_version()));
    s.set_zone(protocol_.identity().node().locality().zone());
    for (const TypeStatus& t : protocol_.Status()) {
      lb::v1::ProxyResourceStatus* r = s.add_resources();
      r->set_type_url(t.type_url);
      r->set_wildcard(t.wildcard);
      r->set_subscribed(t.subscribed);
      r->set_version_sent(t.version_sent);
      r->set_version_acked(t.version_acked);
      r->set_nacked_version(t.nacked_version);
      r->set_last_nack_error(t.last_nack_error);
      r->set_nacks(t.nacks);
      r->set_responses(t.responses);
    }
    return s;
  }

  void Close() override {
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller shutting down"));
  }

 private:
  struct Queued {
    Response response;
    absl::Time since;
    size_t bytes;  // EncodedSize(response).
  };

  void EnqueueLocked(std::vector<Response> responses, absl::Time since)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& r : responses) {
      const size_t bytes = EncodedSize(r);
      queued_bytes_ += bytes;
      queue_.push_back(Queued{std::move(r), since, bytes});
    }
    // One response always fits, however large: the bound is on a backlog.
    const bool over_bytes = queue_.size() > 1 && queued_bytes_ > server_->limits().max_queued_bytes;
    if (queue_.size() > kMaxQueuedResponses || over_bytes) {
      if (over_bytes) metrics_.LimitExceeded("xds_max_queued_bytes_per_stream")->Increment();
      spdlog::warn("xds: {} ({}) is not reading: {} responses, {} bytes queued; cut off",
                   protocol_.identity().node().id(), peer_, queue_.size(), queued_bytes_);
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "client is not reading its responses; reconnect"));
      return;
    }
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || queue_.empty()) return;
    writing_ = true;
    write_buf_ = Encode(queue_.front().response);
    this->StartWrite(&write_buf_);
  }

  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }

  // Drops the backlog; a response being written goes on, and if the client never takes it the
  // backstop cancels the call.
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    this->Finish(status);
    if (writing_) backstop_.Arm(context_);
  }

  XdsServer* const server_;
  XdsServer::StreamMetrics& metrics_;
  grpc::CallbackServerContext* const context_;
  absl::Mutex mu_;
  Protocol protocol_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);  // Last one delivered.
  grpc::ByteBuffer read_buf_;  // Owned by the single outstanding read, like request_.
  Request request_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);  // front() is being written if writing_.
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ByteBuffer write_buf_ ABSL_GUARDED_BY(mu_);  // The response being written.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  limits::CancelBackstop backstop_ ABSL_GUARDED_BY(mu_);
  const int kind_index_;
  const char* const kind_;
  const std::string peer_;
  const absl::Time connected_;
};

// Replaces `map[name]` with `r` (or erases it when null); records the name if its version
// changed.
void Put(ResourceMap& map, const std::string& name, ResourcePtr r,
         absl::flat_hash_set<std::string>* changed) {
  auto it = map.find(name);
  if (r == nullptr) {
    if (it != map.end()) {
      map.erase(it);
      changed->insert(name);
    }
    return;
  }
  if (it != map.end() && it->second->version == r->version) return;
  map[name] = std::move(r);
  changed->insert(name);
}

}  // namespace

XdsServer::XdsServer(HostLookup lookup, metrics::Registry* metrics, std::string control_plane_id,
                     Clock* clock, XdsLimits limits)
    : lookup_(std::move(lookup)),
      metrics_(metrics),
      stream_metrics_(std::make_unique<StreamMetrics>(metrics)),
      control_plane_id_(std::move(control_plane_id)),
      clock_(clock),
      limits_(limits),
      stream_slots_(limits.max_streams),
      model_(model::ModelState::Empty()),
      snapshot_(std::make_shared<const Snapshot>()) {
  publisher_ = std::thread([this] { PublisherLoop(); });
}

XdsServer::~XdsServer() { Shutdown(); }

void XdsServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (publisher_.joinable()) publisher_.join();
  absl::MutexLock lock(&streams_mu_);
  for (StreamHandle* s : streams_) s->Close();
}

bool XdsServer::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return stop_;
}

void XdsServer::OnModelChange(const lb::v1::Change& change,
                              const std::shared_ptr<const model::ModelState>& state) {
  absl::MutexLock lock(&mu_);
  model_ = state;
  if (change.has_cluster()) {
    touched_.insert(change.cluster().name());
  } else if (change.kind_case() == lb::v1::Change::kClusterDeleted) {
    touched_.insert(change.cluster_deleted());
  } else if (change.has_route_table()) {
    routes_dirty_ = true;
  } else if (change.has_certificate()) {
    certificates_touched_.insert(change.certificate().name());
  } else if (change.kind_case() == lb::v1::Change::kCertificateDeleted) {
    certificates_touched_.insert(change.certificate_deleted());
  } else if (change.has_session_ticket_keys()) {
    ticket_keys_dirty_ = true;
  }
  ++queued_;
}

void XdsServer::OnDnsChange() {
  absl::MutexLock lock(&mu_);
  dns_dirty_ = true;
  ++queued_;
}

void XdsServer::Flush() {
  absl::MutexLock lock(&mu_);
  uint64_t target = queued_;
  auto done = [this, target]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return published_ >= target || stop_; };
  mu_.Await(absl::Condition(&done));
}

std::shared_ptr<const Snapshot> XdsServer::Current() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

std::shared_ptr<const Snapshot> XdsServer::Register(StreamHandle* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.insert(stream);
  // Under streams_mu_: any later publication is delivered to this stream too.
  return Current();
}

void XdsServer::Unregister(StreamHandle* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

lb::v1::ListProxiesResponse XdsServer::ListProxies() {
  lb::v1::ListProxiesResponse out;
  absl::MutexLock lock(&streams_mu_);
  for (StreamHandle* s : streams_) *out.add_proxies() = s->Status();
  std::sort(out.mutable_proxies()->begin(), out.mutable_proxies()->end(),
            [](const lb::v1::ProxyStatus& a, const lb::v1::ProxyStatus& b) {
              return std::tie(a.node_id(), a.address()) < std::tie(b.node_id(), b.address());
            });
  return out;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* XdsServer::StreamAggregatedResources(
    grpc::CallbackServerContext* context) {
  if (!stream_slots_.TryAcquire()) return Refuse(context);
  return new AdsReactor<SotwProtocol>(this, context, 0, "sotw");
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* XdsServer::DeltaAggregatedResources(
    grpc::CallbackServerContext* context) {
  if (!stream_slots_.TryAcquire()) return Refuse(context);
  return new AdsReactor<DeltaProtocol>(this, context, 1, "delta");
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* XdsServer::Refuse(
    grpc::CallbackServerContext* context) {
  stream_metrics_->LimitExceeded("xds_max_streams")->Increment();
  spdlog::warn("xds: refused a stream from {}: {} streams open (--xds_max_streams)",
               context->peer(), stream_slots_.in_use());
  return new limits::RefusedCall<grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>>(
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                   absl::StrCat("too many ADS streams: this controller serves at most ",
                                limits_.max_streams, "; try another controller or later")));
}

void XdsServer::PublisherLoop() {
  while (true) {
    std::shared_ptr<const model::ModelState> model;
    absl::flat_hash_set<std::string> touched;
    bool routes = false;
    bool dns = false;
    TlsWork tls;
    uint64_t taken = 0;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || published_ != queued_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      model = model_;
      touched.swap(touched_);
      routes = routes_dirty_;
      routes_dirty_ = false;
      dns = dns_dirty_;
      dns_dirty_ = false;
      tls.certificates.swap(certificates_touched_);
      tls.ticket_keys = ticket_keys_dirty_;
      ticket_keys_dirty_ = false;
      taken = queued_;
    }
    PublishTls(*model, tls);
    Publish(*model, touched, routes, dns);
    absl::MutexLock lock(&mu_);
    published_ = taken;
  }
}

void XdsServer::Publish(const model::ModelState& state,
                        const absl::flat_hash_set<std::string>& touched, bool routes_changed,
                        bool dns_changed) {
  absl::Time start = clock_->Now();
  absl::flat_hash_set<std::string> upserted, deleted;
  for (const std::string& name : touched) {
    (state.clusters.count(name) != 0 ? upserted : deleted).insert(name);
  }
  if (dns_changed) {
    for (const auto& [name, c] : state.clusters) {
      for (const auto& e : c->endpoints()) {
        if (!model::IsIpLiteral(e.address())) {
          upserted.insert(name);
          break;
        }
      }
    }
  }

  std::shared_ptr<const Snapshot> current = Current();
  // Phase 1: new and changed resources, pushed CDS -> EDS -> LDS -> RDS.
  ResourceMap cds_envoy = current->Get(kClusterType, ClientFlavor::kEnvoy);
  ResourceMap cds_grpc = current->Get(kClusterType, ClientFlavor::kGrpc);
  ResourceMap eds = current->Get(kEndpointType, ClientFlavor::kEnvoy);
  ResourceMap lds = current->Get(kListenerType, ClientFlavor::kEnvoy);
  ResourceMap rds = current->Get(kRouteType, ClientFlavor::kEnvoy);
  absl::flat_hash_set<std::string> cds_changed, eds_changed, lds_changed, rds_changed;
  absl::flat_hash_set<std::string> grpc_cds_changed;
  for (const auto& name : upserted) {
    const lb::v1::Cluster& c = *state.clusters.at(name);
    Put(cds_envoy, name, MakeResource(name, BuildCluster(c, ClientFlavor::kEnvoy)), &cds_changed);
    Put(cds_grpc, name, MakeResource(name, BuildCluster(c, ClientFlavor::kGrpc, lrs_in_cds_)),
        &cds_changed);
    size_t over_limit = 0;
    Put(eds, name, MakeResource(name, BuildLoadAssignment(c, lookup_, &over_limit)), &eds_changed);
    if (over_limit > 0) {
      // Resolved addresses past the cluster's endpoint limit, each time it is built.
      stream_metrics_->LimitExceeded("max_endpoints_per_cluster")->Increment(over_limit);
      spdlog::warn("xds: cluster {}: {} resolved addresses left out (at most {} endpoints)", name,
                   over_limit, model::kMaxEndpointsPerCluster);
    }
    Put(lds, name, MakeResource(name, BuildApiListener(c)), &lds_changed);
  }
  if (routes_changed || !upserted.empty() || !deleted.empty()) {
    absl::flat_hash_map<std::string, lb::v1::Cluster> by_name;
    for (const auto& [name, c] : state.clusters) by_name.emplace(name, *c);
    Put(rds, kIngressRouteConfig,
        MakeResource(kIngressRouteConfig, BuildIngressRoutes(*state.routes, by_name)),
        &rds_changed);
  }
  std::shared_ptr<const Snapshot> next = current;
  if (!cds_changed.empty()) {
    next = next->With(kClusterType, ClientFlavor::kEnvoy, cds_envoy)
               ->With(kClusterType, ClientFlavor::kGrpc, cds_grpc);
  }
  if (!eds_changed.empty()) next = next->WithBoth(kEndpointType, eds);
  if (!lds_changed.empty()) next = next->WithBoth(kListenerType, lds);
  if (!rds_changed.empty()) next = next->WithBoth(kRouteType, rds);
  ChangeSet phase1;
  if (!cds_changed.empty()) phase1.emplace_back(kClusterType, cds_changed);
  if (!eds_changed.empty()) phase1.emplace_back(kEndpointType, eds_changed);
  if (!lds_changed.empty()) phase1.emplace_back(kListenerType, lds_changed);
  if (!rds_changed.empty()) phase1.emplace_back(kRouteType, rds_changed);
  if (!phase1.empty()) Deliver(next, phase1, start);
  if (deleted.empty()) return;

  // Phase 2: listeners of deleted clusters go first ...
  absl::flat_hash_set<std::string> lds_deleted;
  for (const auto& name : deleted) Put(lds, name, nullptr, &lds_deleted);
  if (!lds_deleted.empty()) {
    next = next->WithBoth(kListenerType, lds);
    Deliver(next, {{kListenerType, lds_deleted}}, start);
  }
  // Phase 3: ... then their clusters and endpoints.
  absl::flat_hash_set<std::string> cds_deleted, eds_deleted;
  for (const auto& name : deleted) {
    Put(cds_envoy, name, nullptr, &cds_deleted);
    Put(cds_grpc, name, nullptr, &cds_deleted);
    Put(eds, name, nullptr, &eds_deleted);
  }
  next = next->With(kClusterType, ClientFlavor::kEnvoy, cds_envoy)
             ->With(kClusterType, ClientFlavor::kGrpc, cds_grpc)
             ->WithBoth(kEndpointType, eds);
  Deliver(next, {{kClusterType, cds_deleted}, {kEndpointType, eds_deleted}}, start);
}

void XdsServer::PublishTls(const model::ModelState& state, const TlsWork& work) {
  if (work.certificates.empty() && !work.ticket_keys) return;
  absl::Time start = clock_->Now();
  std::shared_ptr<const Snapshot> current = Current();
  ResourceMap sds = current->Get(kSecretType, ClientFlavor::kEnvoy);
  ResourceMap lds = current->Get(kListenerType, ClientFlavor::kEnvoy);
  absl::flat_hash_set<std::string> sds_changed, sds_deleted, lds_changed;
  absl::flat_hash_set<std::string> deleted;
  for (const std::string& name : work.certificates) {
    auto it = state.certificates.find(name);
    if (it == state.certificates.end()) {
      deleted.insert(name);
    } else {
      Put(sds, name, MakeResource(name, BuildCertificateSecret(*it->second)), &sds_changed);
    }
  }
  if (work.ticket_keys && state.ticket_keys != nullptr) {
    Put(sds, kSessionTicketKeysSecretName,
        MakeResource(kSessionTicketKeysSecretName, BuildTicketKeysSecret(*state.ticket_keys)),
        &sds_changed);
  }
  if (!work.certificates.empty()) {
    std::optional<envoy::config::listener::v3::Listener> listener =
        BuildTlsListener(state.certificates);
    Put(lds, kIngressTlsListenerName,
        listener ? MakeResource(kIngressTlsListenerName, *listener) : nullptr, &lds_changed);
  }
  // New secrets before the listener that references them; deleted ones after it.
  std::shared_ptr<const Snapshot> next = current;
  ChangeSet phase1;
  if (!sds_changed.empty()) {
    next = next->WithBoth(kSecretType, sds);
    phase1.emplace_back(kSecretType, sds_changed);
  }
  if (!lds_changed.empty()) {
    next = next->WithBoth(kListenerType, lds);
    phase1.emplace_back(kListenerType, lds_changed);
  }
  if (!phase1.empty()) Deliver(next, phase1, start);
  for (const std::string& name : deleted) Put(sds, name, nullptr, &sds_deleted);
  if (!sds_deleted.empty()) {
    next = next->WithBoth(kSecretType, sds);
    Deliver(next, {{kSecretType, sds_deleted}}, start);
  }
}

void XdsServer::Deliver(std::shared_ptr<const Snapshot> next, const ChangeSet& changes,
                        absl::Time start) {
  {
    absl::MutexLock lock(&mu_);
    snapshot_ = next;
  }
  absl::MutexLock lock(&streams_mu_);
  for (StreamHandle* s : streams_) s->Deliver(next, changes, start);
}

}  // namespace lb::xds
