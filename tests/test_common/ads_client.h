// A small synchronous ADS client for tests: speaks both variants of Envoy's Aggregated
// Discovery Service over a real gRPC channel, the way a proxy does, so tests can drive the
// controller's xDS server request by request.
//
//  - SotwAdsClient: StreamAggregatedResources (state of the world).
//  - DeltaAdsClient: DeltaAggregatedResources (incremental).
//
// Both read responses on their own reader thread into a queue, so every wait is bounded:
// Next(timeout) returns the next response or kDeadlineExceeded. Requests are written from the
// calling thread. Each client also keeps a ResourceState (type -> name -> decoded resource)
// that WaitFor() updates as it consumes and ACKs responses; Next() alone never touches it, so a
// test can inspect each response and decide to ACK, NACK or Apply() it.
//
// Threads: a client object is used by one test thread at a time (its reader thread is
// internal). The node is sent on the first request of each stream only, as Envoy does.
#ifndef LB_TESTS_TEST_COMMON_ADS_CLIENT_H_
#define LB_TESTS_TEST_COMMON_ADS_CLIENT_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "google/protobuf/any.pb.h"
#include "grpcpp/grpcpp.h"

namespace lb::testing::xds {

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kListenerType;
using ::lb::xds::kRouteType;

// "cds", "eds", "lds", "rds" or the type URL itself, for messages.
std::string ShortType(const std::string& type_url);

// True for the types whose SotW responses carry the full set (LDS, CDS).
bool IsFullStateType(const std::string& type_url);

// One decoded xDS resource.
struct DecodedResource {
  std::string name;
  // Delta: Resource.version. SotW: the version_info of the response that carried it.
  std::string version;
  google::protobuf::Any any;
  std::shared_ptr<const google::protobuf::Message> message;  // One of the four types.

  // The message as T, or nullptr if it is another type.
  template <typename T>
  const T* As() const {
    return dynamic_cast<const T*>(message.get());
  }
};

// Decodes a Listener, RouteConfiguration, Cluster or ClusterLoadAssignment. kInvalidArgument
// for other types or bytes that do not parse. `name` is the resource's own name (Listener,
// RouteConfiguration, Cluster: name; ClusterLoadAssignment: cluster_name).
absl::StatusOr<DecodedResource> Decode(const google::protobuf::Any& any);

// What a client holds: type URL -> name -> resource.
class ResourceState {
 public:
  using TypeMap = std::map<std::string, DecodedResource>;

  // SotW: LDS/CDS responses replace the type's whole map; RDS/EDS responses upsert. Errors
  // (undecodable resources) leave the state unchanged.
  absl::Status ApplySotw(const envoy::service::discovery::v3::DiscoveryResponse& response);
  // Delta: upserts `resources`, erases `removed_resources`.
  absl::Status ApplyDelta(const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);

  const TypeMap& Of(const std::string& type_url) const;
  const DecodedResource* Find(const std::string& type_url, const std::string& name) const;
  template <typename T>
  const T* Get(const std::string& type_url, const std::string& name) const {
    const DecodedResource* r = Find(type_url, name);
    return r == nullptr ? nullptr : r->As<T>();
  }
  std::set<std::string> Names(const std::string& type_url) const;
  // Name -> version (delta's initial_resource_versions).
  std::map<std::string, std::string> Versions(const std::string& type_url) const;
  // Drops resources of `type_url` whose names are not in `keep`.
  void Retain(const std::string& type_url, const std::set<std::string>& keep);
  void Clear() { types_.clear(); }

  // Convenience accessors.
  const envoy::config::cluster::v3::Cluster* Cluster(const std::string& name) const {
    return Get<envoy::config::cluster::v3::Cluster>(kClusterType, name);
  }
  const envoy::config::endpoint::v3::ClusterLoadAssignment* Endpoints(
      const std::string& name) const {
    return Get<envoy::config::endpoint::v3::ClusterLoadAssignment>(kEndpointType, name);
  }
  const envoy::config::listener::v3::Listener* Listener(const std::string& name) const {
    return Get<envoy::config::listener::v3::Listener>(kListenerType, name);
  }
  const envoy::config::route::v3::RouteConfiguration* Route(const std::string& name) const {
    return Get<envoy::config::route::v3::RouteConfiguration>(kRouteType, name);
  }

  // One line per resource ("cds backend @v"), for failure messages.
  std::string DebugString() const;

 private:
  std::map<std::string, TypeMap> types_;
};

using StatePredicate = std::function<bool(const ResourceState&)>;

struct ConnectOptions {
  std::string node_id = "ads-test-client";
  std::string user_agent = "lb-ads-test-client";  // "gRPC..." gets the gRPC flavour.
  std::string zone;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// The gRPC stream machinery both variants share: channel, one stream at a time, the reader
// thread and its queue.
template <typename Request, typename Response>
class AdsStream {
 public:
  using Opener = std::function<std::unique_ptr<grpc::ClientReaderWriter<Request, Response>>(
      envoy::service::discovery::v3::AggregatedDiscoveryService::Stub*, grpc::ClientContext*)>;

  AdsStream(std::string target, Opener opener) : target_(std::move(target)), opener_(opener) {}
  ~AdsStream() { Close(); }

  // Opens a new channel (so no reconnect backoff carries over) and a stream on it. Fails with
  // kUnavailable if the channel does not connect within `timeout`.
  absl::Status Open(absl::Duration timeout);
  // Cancels the stream and joins the reader. Queued responses are dropped. Idempotent.
  void Close();
  absl::Status Write(const Request& request);
  // The next response; kDeadlineExceeded after `timeout`; once the stream has ended and the
  // queue is drained, kUnavailable carrying the stream's final gRPC status.
  absl::StatusOr<Response> Next(absl::Duration timeout);
  // True once the server ended the stream (or the channel broke).
  bool Ended();

 private:
  void ReadLoop();

  const std::string target_;
  const Opener opener_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  std::thread reader_;

  absl::Mutex write_mu_;  // Serializes writes against the reader's Finish().
  absl::Mutex mu_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

// State-of-the-world ADS client.
class SotwAdsClient {
 public:
  using Request = envoy::service::discovery::v3::DiscoveryRequest;
  using Response = envoy::service::discovery::v3::DiscoveryResponse;

  // Connects to `target` ("127.0.0.1:PORT") and opens a StreamAggregatedResources stream.
  static absl::StatusOr<std::unique_ptr<SotwAdsClient>> Connect(const std::string& target,
                                                                ConnectOptions options = {});
  static absl::StatusOr<std::unique_ptr<SotwAdsClient>> Connect(const std::string& target,
                                                                const std::string& node_id,
                                                                const std::string& user_agent);

  // Requests `names` of `type_url` (empty or {"*"}: wildcard, for LDS/CDS). Carries the
  // type's last ACKed version and the nonce of the last response Next() returned for it.
  absl::Status Subscribe(const std::string& type_url, std::vector<std::string> names);
  // Sends `request` as is (node added if it is the stream's first request).
  absl::Status Send(Request request);

  absl::StatusOr<Response> Next(absl::Duration timeout);
  // ACK: echoes version_info and nonce, with the type's current names.
  absl::Status Ack(const Response& response);
  // NACK: the previous ACKed version, the response's nonce, error_detail INVALID_ARGUMENT.
  absl::Status Nack(const Response& response, const std::string& message);
  // Applies `response` to state() (WaitFor does this itself).
  absl::Status Apply(const Response& response) { return state_.ApplySotw(response); }

  // Consumes responses (applying and ACKing each) until `predicate(state())` holds. Returns
  // kDeadlineExceeded with the state in the message if it does not within `timeout`. Every
  // response consumed is appended to `seen` if given. Checks the predicate first.
  absl::Status WaitFor(const StatePredicate& predicate, absl::Duration timeout,
                       std::vector<Response>* seen = nullptr);
  // OK if no response arrives within `window`; otherwise kFailedPrecondition describing the
  // response that did arrive (it is consumed, not applied), or kUnavailable if the stream ended.
  absl::Status ExpectSilence(absl::Duration window);

  // Opens a new stream (on a new channel) and re-requests every type with its names and last
  // ACKed version and no nonce, as a reconnecting client does. state() is kept.
  absl::Status Reconnect(absl::Duration timeout = absl::Seconds(10));
  bool StreamEnded() { return stream_.Ended(); }

  const ResourceState& state() const { return state_; }
  // Last ACKed version_info of `type_url` ("" if none).
  std::string AckedVersion(const std::string& type_url) const;

 private:
  struct TypeState {
    std::vector<std::string> names;  // As last requested.
    std::string acked_version;
    std::string last_nonce;  // Of the last response returned by Next().
  };
  SotwAdsClient(std::string target, ConnectOptions options);

  const ConnectOptions options_;
  AdsStream<Request, Response> stream_;
  bool node_sent_ = false;
  std::map<std::string, TypeState> types_;
  std::vector<std::string> type_order_;  // Types in first-subscribed order.
  ResourceState state_;
};

// Incremental (delta) ADS client.
class DeltaAdsClient {
 public:
  using Request = envoy::service::discovery::v3::DeltaDiscoveryRequest;
  using Response = envoy::service::discovery::v3::DeltaDiscoveryResponse;

  static absl::StatusOr<std::unique_ptr<DeltaAdsClient>> Connect(const std::string& target,
                                                                 ConnectOptions options = {});
  static absl::StatusOr<std::unique_ptr<DeltaAdsClient>> Connect(const std::string& target,
                                                                 const std::string& node_id,
                                                                 const std::string& user_agent);

  // Changes the subscription of `type_url` ("*" subscribes to all). `initial_versions` is only
  // meaningful on the type's first request of a stream.
  absl::Status SubscribeDelta(const std::string& type_url,
                              const std::vector<std::string>& subscribe,
                              const std::vector<std::string>& unsubscribe = {},
                              const std::map<std::string, std::string>& initial_versions = {});
  absl::Status Send(Request request);

  absl::StatusOr<Response> Next(absl::Duration timeout);
  absl::Status Ack(const Response& response);
  absl::Status Nack(const Response& response, const std::string& message);
  absl::Status Apply(const Response& response) { return state_.ApplyDelta(response); }

  absl::Status WaitFor(const StatePredicate& predicate, absl::Duration timeout,
                       std::vector<Response>* seen = nullptr);
  absl::Status ExpectSilence(absl::Duration window);

  // Opens a new stream and re-subscribes every type, sending initial_resource_versions from
  // state() (what the client already holds), as a reconnecting client does.
  absl::Status Reconnect(absl::Duration timeout = absl::Seconds(10));
  bool StreamEnded() { return stream_.Ended(); }

  const ResourceState& state() const { return state_; }
  // system_version_info of the last response of `type_url` this client ACKed ("" if none).
  std::string AckedVersion(const std::string& type_url) const;
  // The names `type_url` is subscribed to (with "*" for a wildcard subscription).
  std::set<std::string> Subscriptions(const std::string& type_url) const;

 private:
  DeltaAdsClient(std::string target, ConnectOptions options);

  const ConnectOptions options_;
  AdsStream<Request, Response> stream_;
  bool node_sent_ = false;
  std::map<std::string, std::set<std::string>> subscriptions_;  // Type -> names (incl. "*").
  std::map<std::string, std::string> acked_versions_;           // Type -> system_version_info.
  std::vector<std::string> type_order_;
  ResourceState state_;
};

// A one-line summary of a response ("cds v=... nonce=3 [a, b]"), for failure messages.
std::string Summary(const envoy::service::discovery::v3::DiscoveryResponse& response);
std::string Summary(const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);

// ---------------------------------------------------------------------------------------------
// Either variant behind one interface, for tests of the behaviours both share.

enum class AdsVariant { kSotw, kDelta };

// "sotw" or "delta", as ListProxies names the protocol of a stream.
std::string VariantName(AdsVariant variant);

// A response of either variant, with what tests of both look at.
struct AnyAdsResponse {
  std::string type_url;
  std::string version;  // SotW: version_info. Delta: system_version_info.
  std::string nonce;
  std::string control_plane;       // control_plane.identifier
  std::vector<std::string> names;  // Names of the resources carried, in order.
  std::set<std::string> removed;   // Delta: removed_resources. SotW: always empty.
  std::variant<SotwAdsClient::Response, DeltaAdsClient::Response> raw;

  std::set<std::string> NameSet() const { return {names.begin(), names.end()}; }
};

std::string Summary(const AnyAdsResponse& response);

// An ADS stream of either variant. Same threading as the clients it wraps. Responses passed
// to Apply/Ack/Nack must come from this client (kInvalidArgument for the other variant's).
class AnyAdsClient {
 public:
  // Connects a SotwAdsClient or a DeltaAdsClient (see their Connect).
  static absl::StatusOr<std::unique_ptr<AnyAdsClient>> Connect(AdsVariant variant,
                                                               const std::string& target,
                                                               ConnectOptions options = {});
  virtual ~AnyAdsClient() = default;

  virtual AdsVariant variant() const = 0;
  // Requests exactly `names` of `type_url` from now on ({"*"}, or {} as the first request of a
  // type: wildcard). SotW sends the list; delta subscribes the names not requested yet and
  // unsubscribes the ones dropped.
  virtual absl::Status Subscribe(const std::string& type_url,
                                 const std::vector<std::string>& names) = 0;
  // Sends a request without a type_url (a protocol error; node added if it is the first).
  virtual absl::Status SendWithoutTypeUrl() = 0;
  virtual absl::StatusOr<AnyAdsResponse> Next(absl::Duration timeout) = 0;
  virtual absl::Status Apply(const AnyAdsResponse& response) = 0;
  virtual absl::Status Ack(const AnyAdsResponse& response) = 0;
  virtual absl::Status Nack(const AnyAdsResponse& response, const std::string& message) = 0;
  // As the clients' WaitFor and ExpectSilence.
  virtual absl::Status WaitFor(const StatePredicate& predicate, absl::Duration timeout,
                               std::vector<AnyAdsResponse>* seen = nullptr) = 0;
  virtual absl::Status ExpectSilence(absl::Duration window) = 0;
  virtual const ResourceState& state() const = 0;
  // The version of the last response of `type_url` ACKed ("" if none).
  virtual std::string AckedVersion(const std::string& type_url) const = 0;

  // The wrapped client, for variant-specific steps; nullptr for the other variant.
  virtual SotwAdsClient* sotw() { return nullptr; }
  virtual DeltaAdsClient* delta() { return nullptr; }
};

}  // namespace lb::testing::xds

#endif  // LB_TESTS_TEST_COMMON_ADS_CLIENT_H_
