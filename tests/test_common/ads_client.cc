#include "tests/test_common/ads_client.h"

#include <chrono>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace lb::testing::xds {
namespace {

namespace discovery = envoy::service::discovery::v3;

std::chrono::system_clock::time_point ToChrono(absl::Time t) { return absl::ToChronoTime(t); }

std::string StatusText(const grpc::Status& s) {
  return absl::StrCat("gRPC status ", s.error_code(), ": ", s.error_message());
}

template <typename T>
absl::StatusOr<DecodedResource> DecodeAs(const google::protobuf::Any& any,
                                         const std::string& (T::*name)() const) {
  auto message = std::make_shared<T>();
  if (!any.UnpackTo(message.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode ", any.type_url(), " (", any.value().size(), " bytes)"));
  }
  DecodedResource r;
  r.name = ((*message).*name)();
  r.any = any;
  r.message = std::move(message);
  return r;
}

}  // namespace

std::string ShortType(const std::string& type_url) {
  if (type_url == kListenerType) return "lds";
  if (type_url == kRouteType) return "rds";
  if (type_url == kClusterType) return "cds";
  if (type_url == kEndpointType) return "eds";
  return type_url;
}

bool IsFullStateType(const std::string& type_url) {
  return type_url == kListenerType || type_url == kClusterType;
}

absl::StatusOr<DecodedResource> Decode(const google::protobuf::Any& any) {
  if (any.type_url() == kClusterType) {
    return DecodeAs<envoy::config::cluster::v3::Cluster>(
        any, &envoy::config::cluster::v3::Cluster::name);
  }
  if (any.type_url() == kEndpointType) {
    return DecodeAs<envoy::config::endpoint::v3::ClusterLoadAssignment>(
        any, &envoy::config::endpoint::v3::ClusterLoadAssignment::cluster_name);
  }
  if (any.type_url() == kListenerType) {
    return DecodeAs<envoy::config::listener::v3::Listener>(
        any, &envoy::config::listener::v3::Listener::name);
  }
  if (any.type_url() == kRouteType) {
    return DecodeAs<envoy::config::route::v3::RouteConfiguration>(
        any, &envoy::config::route::v3::RouteConfiguration::name);
  }
  return absl::InvalidArgumentError(absl::StrCat("unexpected resource type ", any.type_url()));
}

// ---------------------------------------------------------------------------------------------
// ResourceState

absl::Status ResourceState::ApplySotw(const discovery::DiscoveryResponse& response) {
  TypeMap decoded;
  for (const auto& any : response.resources()) {
    if (any.type_url() != response.type_url()) {
      return absl::InvalidArgumentError(absl::StrCat("resource of type ", any.type_url(),
                                                     " in a response for ", response.type_url()));
    }
    absl::StatusOr<DecodedResource> r = Decode(any);
    if (!r.ok()) return r.status();
    r->version = response.version_info();
    std::string name = r->name;
    if (!decoded.emplace(name, std::move(*r)).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate resource ", name));
    }
  }
  TypeMap& map = types_[response.type_url()];
  if (IsFullStateType(response.type_url())) {
    map = std::move(decoded);
  } else {
    for (auto& [name, r] : decoded) map[name] = std::move(r);
  }
  return absl::OkStatus();
}

absl::Status ResourceState::ApplyDelta(const discovery::DeltaDiscoveryResponse& response) {
  TypeMap decoded;
  for (const auto& resource : response.resources()) {
    absl::StatusOr<DecodedResource> r = Decode(resource.resource());
    if (!r.ok()) return r.status();
    if (resource.resource().type_url() != response.type_url()) {
      return absl::InvalidArgumentError(absl::StrCat("resource of type ",
                                                     resource.resource().type_url(),
                                                     " in a response for ", response.type_url()));
    }
    if (r->name != resource.name()) {
      return absl::InvalidArgumentError(absl::StrCat("Resource.name \"", resource.name(),
                                                     "\" but the resource is \"", r->name, "\""));
    }
    r->version = resource.version();
    decoded[resource.name()] = std::move(*r);
  }
  TypeMap& map = types_[response.type_url()];
  for (auto& [name, r] : decoded) map[name] = std::move(r);
  for (const auto& name : response.removed_resources()) map.erase(name);
  return absl::OkStatus();
}

const ResourceState::TypeMap& ResourceState::Of(const std::string& type_url) const {
  static const TypeMap* empty = new TypeMap;
  auto it = types_.find(type_url);
  return it == types_.end() ? *empty : it->second;
}

const DecodedResource* ResourceState::Find(const std::string& type_url,
                                           const std::string& name) const {
  const TypeMap& map = Of(type_url);
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second;
}

std::set<std::string> ResourceState::Names(const std::string& type_url) const {
  std::set<std::string> out;
  for (const auto& [name, r] : Of(type_url)) out.insert(name);
  return out;
}

std::map<std::string, std::string> ResourceState::Versions(const std::string& type_url) const {
  std::map<std::string, std::string> out;
  for (const auto& [name, r] : Of(type_url)) out[name] = r.version;
  return out;
}

void ResourceState::Retain(const std::string& type_url, const std::set<std::string>& keep) {
  auto it = types_.find(type_url);
  if (it == types_.end()) return;
  for (auto r = it->second.begin(); r != it->second.end();) {
    r = keep.count(r->first) ? std::next(r) : it->second.erase(r);
  }
}

std::string ResourceState::DebugString() const {
  std::string out;
  for (const auto& [type, map] : types_) {
    for (const auto& [name, r] : map) {
      absl::StrAppend(&out, ShortType(type), " ", name, " @", r.version, "\n");
    }
  }
  return out.empty() ? "(empty)\n" : out;
}

// ---------------------------------------------------------------------------------------------
// AdsStream

template <typename Request, typename Response>
absl::Status AdsStream<Request, Response>::Open(absl::Duration timeout) {
  Close();
  grpc::ChannelArguments args;
  // Each Open gets its own subchannel, and a restarted server is found quickly.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  channel_ = grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  if (!channel_->WaitForConnected(ToChrono(absl::Now() + timeout))) {
    return absl::UnavailableError(absl::StrCat("channel to ", target_, " did not connect within ",
                                               absl::FormatDuration(timeout)));
  }
  stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel_);
  context_ = std::make_unique<grpc::ClientContext>();
  context_->set_wait_for_ready(true);
  stream_ = opener_(stub_.get(), context_.get());
  {
    absl::MutexLock lock(&mu_);
    queue_.clear();
    ended_ = false;
    final_status_ = grpc::Status::OK;
  }
  reader_ = std::thread([this] { ReadLoop(); });
  return absl::OkStatus();
}

template <typename Request, typename Response>
void AdsStream<Request, Response>::Close() {
  if (context_ != nullptr) context_->TryCancel();
  if (reader_.joinable()) reader_.join();
  stream_.reset();
  context_.reset();
  stub_.reset();
  channel_.reset();
  absl::MutexLock lock(&mu_);
  queue_.clear();
  ended_ = true;
}

template <typename Request, typename Response>
void AdsStream<Request, Response>::ReadLoop() {
  while (true) {
    Response response;
    if (!stream_->Read(&response)) break;
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(response));
  }
  grpc::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    status = stream_->Finish();
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
  final_status_ = status;
}

template <typename Request, typename Response>
absl::Status AdsStream<Request, Response>::Write(const Request& request) {
  {
    absl::MutexLock lock(&mu_);
    if (ended_ || stream_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("stream has ended (", StatusText(final_status_), ")"));
    }
  }
  absl::MutexLock lock(&write_mu_);
  if (!stream_->Write(request)) return absl::UnavailableError("write failed: stream is broken");
  return absl::OkStatus();
}

template <typename Request, typename Response>
absl::StatusOr<Response> AdsStream<Request, Response>::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (!queue_.empty()) {
    Response r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }
  if (ended_) {
    return absl::UnavailableError(absl::StrCat("stream ended: ", StatusText(final_status_)));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no response within ", absl::FormatDuration(timeout)));
}

template <typename Request, typename Response>
bool AdsStream<Request, Response>::Ended() {
  absl::MutexLock lock(&mu_);
  return ended_ && queue_.empty();
}

template class AdsStream<discovery::DiscoveryRequest, discovery::DiscoveryResponse>;
template class AdsStream<discovery::DeltaDiscoveryRequest, discovery::DeltaDiscoveryResponse>;

// ---------------------------------------------------------------------------------------------
// Shared helpers of the two clients.

namespace {

envoy::config::core::v3::Node MakeNode(const ConnectOptions& o) {
  envoy::config::core::v3::Node node;
  node.set_id(o.node_id);
  node.set_cluster("ads-test");
  node.set_user_agent_name(o.user_agent);
  node.set_user_agent_version("1.0");
  if (!o.zone.empty()) node.mutable_locality()->set_zone(o.zone);
  return node;
}

template <typename Client>
absl::Status WaitForImpl(Client* client, const StatePredicate& predicate, absl::Duration timeout,
                         std::vector<typename Client::Response>* seen) {
  absl::Time deadline = absl::Now() + timeout;
  std::string log;
  while (!predicate(client->state())) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "condition not met within ", absl::FormatDuration(timeout), "; responses consumed:\n",
          log.empty() ? "(none)\n" : log, "state:\n", client->state().DebugString()));
    }
    absl::StatusOr<typename Client::Response> r = client->Next(left);
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kDeadlineExceeded) continue;
      return absl::Status(r.status().code(), absl::StrCat(r.status().message(), "; state:\n",
                                                          client->state().DebugString()));
    }
    absl::StrAppend(&log, "  ", Summary(*r), "\n");
    if (absl::Status s = client->Apply(*r); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("applying ", Summary(*r), ": ", s.message()));
    }
    if (absl::Status s = client->Ack(*r); !s.ok()) return s;
    if (seen != nullptr) seen->push_back(*std::move(r));
  }
  return absl::OkStatus();
}

template <typename Client>
absl::Status ExpectSilenceImpl(Client* client, absl::Duration window) {
  absl::StatusOr<typename Client::Response> r = client->Next(window);
  if (r.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("unexpected response ", Summary(*r)));
  }
  if (r.status().code() == absl::StatusCode::kDeadlineExceeded) return absl::OkStatus();
  return r.status();
}

void RememberType(const std::string& type_url, std::vector<std::string>* order) {
  for (const auto& t : *order) {
    if (t == type_url) return;
  }
  order->push_back(type_url);
}

}  // namespace

std::string Summary(const discovery::DiscoveryResponse& response) {
  std::vector<std::string> names;
  for (const auto& any : response.resources()) {
    absl::StatusOr<DecodedResource> r = Decode(any);
    names.push_back(r.ok() ? r->name : absl::StrCat("<", r.status().message(), ">"));
  }
  return absl::StrCat(ShortType(response.type_url()), " v=", response.version_info(),
                      " nonce=", response.nonce(), " [", absl::StrJoin(names, ", "), "]");
}

std::string Summary(const discovery::DeltaDiscoveryResponse& response) {
  std::vector<std::string> names;
  for (const auto& r : response.resources())
    names.push_back(absl::StrCat(r.name(), "@", r.version()));
  return absl::StrCat(ShortType(response.type_url()), " sys=", response.system_version_info(),
                      " nonce=", response.nonce(), " [", absl::StrJoin(names, ", "), "] removed [",
                      absl::StrJoin(response.removed_resources(), ", "), "]");
}

// ---------------------------------------------------------------------------------------------
// SotwAdsClient

SotwAdsClient::SotwAdsClient(std::string target, ConnectOptions options)
    : options_(std::move(options)),
      stream_(std::move(target),
              [](discovery::AggregatedDiscoveryService::Stub* stub, grpc::ClientContext* ctx) {
                return stub->StreamAggregatedResources(ctx);
              }) {}

absl::StatusOr<std::unique_ptr<SotwAdsClient>> SotwAdsClient::Connect(const std::string& target,
                                                                      ConnectOptions options) {
  absl::Duration timeout = options.connect_timeout;
  std::unique_ptr<SotwAdsClient> client(new SotwAdsClient(target, std::move(options)));
  if (absl::Status s = client->stream_.Open(timeout); !s.ok()) return s;
  return client;
}

absl::StatusOr<std::unique_ptr<SotwAdsClient>> SotwAdsClient::Connect(
    const std::string& target, const std::string& node_id, const std::string& user_agent) {
  ConnectOptions options;
  options.node_id = node_id;
  options.user_agent = user_agent;
  return Connect(target, std::move(options));
}

absl::Status SotwAdsClient::Send(Request request) {
  if (!node_sent_) {
    *request.mutable_node() = MakeNode(options_);
    node_sent_ = true;
  }
  return stream_.Write(request);
}

absl::Status SotwAdsClient::Subscribe(const std::string& type_url, std::vector<std::string> names) {
  RememberType(type_url, &type_order_);
  TypeState& ts = types_[type_url];
  ts.names = std::move(names);
  bool wildcard = ts.names.empty() || (ts.names.size() == 1 && ts.names[0] == "*");
  if (!wildcard && !IsFullStateType(type_url)) {
    state_.Retain(type_url, std::set<std::string>(ts.names.begin(), ts.names.end()));
  }
  Request request;
  request.set_type_url(type_url);
  request.set_version_info(ts.acked_version);
  request.set_response_nonce(ts.last_nonce);
  for (const auto& n : ts.names) request.add_resource_names(n);
  return Send(std::move(request));
}

absl::StatusOr<SotwAdsClient::Response> SotwAdsClient::Next(absl::Duration timeout) {
  absl::StatusOr<Response> r = stream_.Next(timeout);
  if (r.ok()) types_[r->type_url()].last_nonce = r->nonce();
  return r;
}

absl::Status SotwAdsClient::Ack(const Response& response) {
  TypeState& ts = types_[response.type_url()];
  ts.acked_version = response.version_info();
  Request request;
  request.set_type_url(response.type_url());
  request.set_version_info(response.version_info());
  request.set_response_nonce(response.nonce());
  for (const auto& n : ts.names) request.add_resource_names(n);
  return Send(std::move(request));
}

absl::Status SotwAdsClient::Nack(const Response& response, const std::string& message) {
  TypeState& ts = types_[response.type_url()];
  Request request;
  request.set_type_url(response.type_url());
  request.set_version_info(ts.acked_version);
  request.set_response_nonce(response.nonce());
  for (const auto& n : ts.names) request.add_resource_names(n);
  request.mutable_error_detail()->set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  request.mutable_error_detail()->set_message(message);
  return Send(std::move(request));
}

absl::Status SotwAdsClient::WaitFor(const StatePredicate& predicate, absl::Duration timeout,
                                    std::vector<Response>* seen) {
  return WaitForImpl(this, predicate, timeout, seen);
}

absl::Status SotwAdsClient::ExpectSilence(absl::Duration window) {
  return ExpectSilenceImpl(this, window);
}

absl::Status SotwAdsClient::Reconnect(absl::Duration timeout) {
  if (absl::Status s = stream_.Open(timeout); !s.ok()) return s;
  node_sent_ = false;
  for (const auto& type : type_order_) {
    TypeState& ts = types_[type];
    ts.last_nonce.clear();  // Nonces do not survive the stream.
    Request request;
    request.set_type_url(type);
    request.set_version_info(ts.acked_version);
    for (const auto& n : ts.names) request.add_resource_names(n);
    if (absl::Status s = Send(std::move(request)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string SotwAdsClient::AckedVersion(const std::string& type_url) const {
  auto it = types_.find(type_url);
  return it == types_.end() ? "" : it->second.acked_version;
}

// ---------------------------------------------------------------------------------------------
// DeltaAdsClient

DeltaAdsClient::DeltaAdsClient(std::string target, ConnectOptions options)
    : options_(std::move(options)),
      stream_(std::move(target),
              [](discovery::AggregatedDiscoveryService::Stub* stub, grpc::ClientContext* ctx) {
                return stub->DeltaAggregatedResources(ctx);
              }) {}

absl::StatusOr<std::unique_ptr<DeltaAdsClient>> DeltaAdsClient::Connect(const std::string& target,
                                                                        ConnectOptions options) {
  absl::Duration timeout = options.connect_timeout;
  std::unique_ptr<DeltaAdsClient> client(new DeltaAdsClient(target, std::move(options)));
  if (absl::Status s = client->stream_.Open(timeout); !s.ok()) return s;
  return client;
}

absl::StatusOr<std::unique_ptr<DeltaAdsClient>> DeltaAdsClient::Connect(
    const std::string& target, const std::string& node_id, const std::string& user_agent) {
  ConnectOptions options;
  options.node_id = node_id;
  options.user_agent = user_agent;
  return Connect(target, std::move(options));
}

absl::Status DeltaAdsClient::Send(Request request) {
  if (!node_sent_) {
    *request.mutable_node() = MakeNode(options_);
    node_sent_ = true;
  }
  return stream_.Write(request);
}

absl::Status DeltaAdsClient::SubscribeDelta(
    const std::string& type_url, const std::vector<std::string>& subscribe,
    const std::vector<std::string>& unsubscribe,
    const std::map<std::string, std::string>& initial_versions) {
  RememberType(type_url, &type_order_);
  std::set<std::string>& names = subscriptions_[type_url];
  Request request;
  request.set_type_url(type_url);
  for (const auto& n : subscribe) {
    names.insert(n);
    request.add_resource_names_subscribe(n);
  }
  for (const auto& n : unsubscribe) {
    names.erase(n);
    request.add_resource_names_unsubscribe(n);
  }
  for (const auto& [name, version] : initial_versions) {
    (*request.mutable_initial_resource_versions())[name] = version;
  }
  if (!names.count("*")) state_.Retain(type_url, names);
  return Send(std::move(request));
}

absl::StatusOr<DeltaAdsClient::Response> DeltaAdsClient::Next(absl::Duration timeout) {
  return stream_.Next(timeout);
}

absl::Status DeltaAdsClient::Ack(const Response& response) {
  acked_versions_[response.type_url()] = response.system_version_info();
  Request request;
  request.set_type_url(response.type_url());
  request.set_response_nonce(response.nonce());
  return Send(std::move(request));
}

absl::Status DeltaAdsClient::Nack(const Response& response, const std::string& message) {
  Request request;
  request.set_type_url(response.type_url());
  request.set_response_nonce(response.nonce());
  request.mutable_error_detail()->set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  request.mutable_error_detail()->set_message(message);
  return Send(std::move(request));
}

absl::Status DeltaAdsClient::WaitFor(const StatePredicate& predicate, absl::Duration timeout,
                                     std::vector<Response>* seen) {
  return WaitForImpl(this, predicate, timeout, seen);
}

absl::Status DeltaAdsClient::ExpectSilence(absl::Duration window) {
  return ExpectSilenceImpl(this, window);
}

absl::Status DeltaAdsClient::Reconnect(absl::Duration timeout) {
  if (absl::Status s = stream_.Open(timeout); !s.ok()) return s;
  node_sent_ = false;
  for (const auto& type : type_order_) {
    Request request;
    request.set_type_url(type);
    for (const auto& n : subscriptions_[type]) request.add_resource_names_subscribe(n);
    for (const auto& [name, version] : state_.Versions(type)) {
      (*request.mutable_initial_resource_versions())[name] = version;
    }
    if (absl::Status s = Send(std::move(request)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string DeltaAdsClient::AckedVersion(const std::string& type_url) const {
  auto it = acked_versions_.find(type_url);
  return it == acked_versions_.end() ? "" : it->second;
}

std::set<std::string> DeltaAdsClient::Subscriptions(const std::string& type_url) const {
  auto it = subscriptions_.find(type_url);
  return it == subscriptions_.end() ? std::set<std::string>() : it->second;
}

// ---------------------------------------------------------------------------------------------
// AnyAdsClient

std::string VariantName(AdsVariant variant) {
  return variant == AdsVariant::kSotw ? "sotw" : "delta";
}

std::string Summary(const AnyAdsResponse& response) {
  return std::visit([](const auto& r) { return Summary(r); }, response.raw);
}

namespace {

AnyAdsResponse Wrap(discovery::DiscoveryResponse r) {
  AnyAdsResponse out;
  out.type_url = r.type_url();
  out.version = r.version_info();
  out.nonce = r.nonce();
  out.control_plane = r.control_plane().identifier();
  for (const auto& any : r.resources()) {
    absl::StatusOr<DecodedResource> d = Decode(any);
    out.names.push_back(d.ok() ? d->name : absl::StrCat("<", d.status().message(), ">"));
  }
  out.raw = std::move(r);
  return out;
}

AnyAdsResponse Wrap(discovery::DeltaDiscoveryResponse r) {
  AnyAdsResponse out;
  out.type_url = r.type_url();
  out.version = r.system_version_info();
  out.nonce = r.nonce();
  out.control_plane = r.control_plane().identifier();
  for (const auto& res : r.resources()) out.names.push_back(res.name());
  out.removed.insert(r.removed_resources().begin(), r.removed_resources().end());
  out.raw = std::move(r);
  return out;
}

// AnyAdsClient over SotwAdsClient or DeltaAdsClient.
template <typename Client>
class AnyAdsClientImpl : public AnyAdsClient {
 public:
  using Response = typename Client::Response;
  static constexpr bool kDelta = std::is_same_v<Client, DeltaAdsClient>;

  explicit AnyAdsClientImpl(std::unique_ptr<Client> client) : client_(std::move(client)) {}

  AdsVariant variant() const override { return kDelta ? AdsVariant::kDelta : AdsVariant::kSotw; }

  absl::Status Subscribe(const std::string& type_url,
                         const std::vector<std::string>& names) override {
    if constexpr (kDelta) {
      const std::set<std::string> current = client_->Subscriptions(type_url);
      const std::set<std::string> wanted(names.begin(), names.end());
      std::vector<std::string> subscribe, unsubscribe;
      for (const auto& n : names) {
        if (current.count(n) == 0) subscribe.push_back(n);
      }
      for (const auto& n : current) {
        if (wanted.count(n) == 0) unsubscribe.push_back(n);
      }
      return client_->SubscribeDelta(type_url, subscribe, unsubscribe);
    } else {
      return client_->Subscribe(type_url, names);
    }
  }

  absl::Status SendWithoutTypeUrl() override { return client_->Send(typename Client::Request()); }

  absl::StatusOr<AnyAdsResponse> Next(absl::Duration timeout) override {
    absl::StatusOr<Response> r = client_->Next(timeout);
    if (!r.ok()) return r.status();
    return Wrap(*std::move(r));
  }

  absl::Status Apply(const AnyAdsResponse& response) override {
    absl::StatusOr<const Response*> r = Raw(response);
    return r.ok() ? client_->Apply(**r) : r.status();
  }
  absl::Status Ack(const AnyAdsResponse& response) override {
    absl::StatusOr<const Response*> r = Raw(response);
    return r.ok() ? client_->Ack(**r) : r.status();
  }
  absl::Status Nack(const AnyAdsResponse& response, const std::string& message) override {
    absl::StatusOr<const Response*> r = Raw(response);
    return r.ok() ? client_->Nack(**r, message) : r.status();
  }

  absl::Status WaitFor(const StatePredicate& predicate, absl::Duration timeout,
                       std::vector<AnyAdsResponse>* seen) override {
    std::vector<Response> typed;
    absl::Status s = client_->WaitFor(predicate, timeout, seen != nullptr ? &typed : nullptr);
    for (Response& r : typed) seen->push_back(Wrap(std::move(r)));
    return s;
  }

  absl::Status ExpectSilence(absl::Duration window) override {
    return client_->ExpectSilence(window);
  }
  const ResourceState& state() const override { return client_->state(); }
  std::string AckedVersion(const std::string& type_url) const override {
    return client_->AckedVersion(type_url);
  }

  SotwAdsClient* sotw() override {
    if constexpr (kDelta) {
      return nullptr;
    } else {
      return client_.get();
    }
  }
  DeltaAdsClient* delta() override {
    if constexpr (kDelta) {
      return client_.get();
    } else {
      return nullptr;
    }
  }

 private:
  static absl::StatusOr<const Response*> Raw(const AnyAdsResponse& response) {
    const Response* r = std::get_if<Response>(&response.raw);
    if (r == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("a response of the other ADS variant: ", Summary(response)));
    }
    return r;
  }

  std::unique_ptr<Client> client_;
};

template <typename Client>
absl::StatusOr<std::unique_ptr<AnyAdsClient>> ConnectAs(const std::string& target,
                                                        ConnectOptions options) {
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(target, std::move(options));
  if (!c.ok()) return c.status();
  return std::unique_ptr<AnyAdsClient>(new AnyAdsClientImpl<Client>(*std::move(c)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AnyAdsClient>> AnyAdsClient::Connect(AdsVariant variant,
                                                                    const std::string& target,
                                                                    ConnectOptions options) {
  if (variant == AdsVariant::kSotw) return ConnectAs<SotwAdsClient>(target, std::move(options));
  return ConnectAs<DeltaAdsClient>(target, std::move(options));
}

}  // namespace lb::testing::xds
