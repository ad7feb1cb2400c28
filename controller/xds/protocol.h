// The ADS protocol as pure state machines: no gRPC, no threads, no clock of their own. The
// stream glue feeds each request and each published snapshot in, and writes out whatever
// responses come back, in order. One instance per stream; not thread-safe (the glue
// serializes calls).
//
// Rules implemented (see docs/xds-protocol.md):
//  - version_info per type; ACK echoes our nonce; NACK is detected from error_detail and is
//    recorded (never re-pushed: the NACKed content is only sent again once it changes).
//  - SotW: requests with a stale nonce are ignored; LDS/CDS responses carry the full set,
//    RDS/EDS only what changed; wildcard via "*" or a legacy empty first list for LDS/CDS;
//    names requested before they exist are answered when they appear; a newly requested name
//    is answered even if nothing changed; a reconnecting client gets a full answer.
//  - Delta: subscription changes are honoured even with a stale nonce; initial_resource_versions
//    suppress resending what the client already has; missing and deleted names are reported in
//    removed_resources.
//  - Limits (StreamLimits): what one stream can make the controller remember is bounded. A
//    request that would subscribe the stream to more names (or name bytes) than allowed fails
//    with kResourceExhausted, before anything is stored; the glue ends the stream with it.
//    Unknown names are therefore remembered, and echoed in removed_resources, within the limit.
//
// Cost: after the first answer, a published change costs a stream work in proportion to the
// names that changed, not to its subscription (the streams' view of each type is updated one
// changed name at a time); a SotW ACK that restates the previous subscription and a delta ACK
// without subscription changes cost O(1) lookups plus comparing the names. Responses carry
// references to the shared Resources, never copies of their bytes: the glue encodes them
// (controller/xds/wire.h); ToProto() materializes one as a message for tests.
#ifndef LB_CONTROLLER_XDS_PROTOCOL_H_
#define LB_CONTROLLER_XDS_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/xds/snapshot.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace lb::xds {

// Per-stream bounds (flags --xds_max_names_per_stream, --xds_max_name_bytes_per_stream). Names
// count over all types together. SotW counts the resource_names of each type's last request as
// sent, "*" and duplicates included (that is what it keeps). Delta counts the names subscribed
// ("*" is none); a request's initial_resource_versions may hold as many names, and bytes of
// names and versions, again.
struct StreamLimits {
  size_t max_names = 10000;
  size_t max_name_bytes = 1 << 20;
};
// Which of them a kResourceExhausted came from (for the metrics).
enum class ExceededLimit { kNone, kNames, kNameBytes };

// What one stream has been sent and has acknowledged, per type. For /v1/proxies.
struct TypeStatus {
  std::string type_url;
  bool wildcard = false;
  size_t subscribed = 0;  // Named subscriptions.
  std::string version_sent;
  std::string version_acked;
  std::string nacked_version;  // Version of the last NACKed response, "" if none.
  std::string last_nack_error;
  uint64_t nacks = 0;
  uint64_t responses = 0;
};

// A response as decided by a protocol: the header fields and the resources it carries, by
// reference.
struct SotwResponse {
  std::string type_url;
  std::string version_info;
  std::string nonce;
  std::string control_plane_id;
  std::vector<ResourcePtr> resources;  // Sorted by name.
};

struct DeltaResponse {
  std::string type_url;
  std::string system_version_info;
  std::string nonce;
  std::string control_plane_id;
  std::vector<ResourcePtr> resources;  // Sorted by name; each entry carries name and version.
  std::vector<std::string> removed_resources;  // Sorted.
};

// The response as a message (copies every resource's bytes: for tests and diagnostics).
envoy::service::discovery::v3::DiscoveryResponse ToProto(const SotwResponse& response);
envoy::service::discovery::v3::DeltaDiscoveryResponse ToProto(const DeltaResponse& response);

// Node identity and flavour, shared by both protocol variants.
class StreamIdentity {
 public:
  const envoy::config::core::v3::Node& node() const { return node_; }
  ClientFlavor flavor() const { return flavor_; }
  // Takes the node from the first request that carries one. Returns true if that changed the
  // flavour (answers already given came from the other flavour's resources).
  bool ObserveNode(const envoy::config::core::v3::Node& node);
  bool has_node() const { return has_node_; }

 private:
  envoy::config::core::v3::Node node_;
  ClientFlavor flavor_ = ClientFlavor::kEnvoy;
  bool has_node_ = false;
};

// Records an ACK or NACK into `status`. Returns true for a NACK.
bool RecordAckOrNack(const google::rpc::Status& error, const std::string& version,
                     TypeStatus* status);

class SotwProtocol {
 public:
  using Request = envoy::service::discovery::v3::DiscoveryRequest;
  using Response = SotwResponse;

  explicit SotwProtocol(std::string control_plane_id, StreamLimits limits = {});

  // kInvalidArgument for a request without type_url, kResourceExhausted for one over the
  // stream's limits (the stream should end with either; the state is unchanged). Requests for
  // types we don't serve are ignored (no response).
  absl::StatusOr<std::vector<Response>> OnRequest(const Request& request, const Snapshot& snapshot);
  // A new snapshot was published; `changes` lists changed (incl. deleted) names per type, in
  // push order, relative to the snapshot this stream was given before (every publication is
  // given to every stream, in order). Returns the responses to send, in that order.
  std::vector<Response> OnSnapshot(const Snapshot& snapshot, const ChangeSet& changes);

  const StreamIdentity& identity() const { return identity_; }
  std::vector<TypeStatus> Status() const;
  uint64_t total_nacks() const { return total_nacks_; }
  ExceededLimit exceeded() const { return exceeded_; }

 private:
  struct TypeState {
    bool requested = false;
    bool ever_named = false;  // Legacy wildcard only until the first named request.
    bool wildcard = false;
    bool stale = false;  // The flavour changed: the next answer recomputes the whole view.
    absl::flat_hash_set<std::string> names;
    std::vector<std::string> last_names;  // resource_names of the last request taken, as sent.
    size_t last_names_bytes = 0;          // Their total length.
    std::string nonce;                    // Of the last response; "" before the first.
    // The client's view: every subscribed resource that exists, as last sent (for LDS/CDS
    // what the last response listed; for EDS/RDS what the responses so far added up to).
    absl::flat_hash_map<std::string, ResourcePtr> sent;
    // Sum of Resource::view_hash over `sent`: the view's version_info. Order-independent and a
    // function of the content alone, so the same view has the same version on any stream and
    // across restarts, and it is updated in O(1) per changed resource.
    uint64_t view_hash = 0;
    TypeStatus status;
  };
  // Recomputes the whole view (a new subscription). `force`: answer even if nothing differs.
  bool Recompute(const std::string& type_url, TypeState& ts, const Snapshot& snapshot, bool force,
                 Response* out);
  // Brings `sent` up to date for `r` (in view). Appends it to `changed` if the client lacks it.
  static void Upsert(TypeState& ts, const ResourcePtr& r, std::vector<ResourcePtr>* changed);
  static void Drop(TypeState& ts, absl::flat_hash_map<std::string, ResourcePtr>::iterator it);
  // Builds the response for the view, given what changed in it.
  bool Respond(const std::string& type_url, TypeState& ts, std::vector<ResourcePtr> changed,
               bool removed, bool force, Response* out);

  const std::string control_plane_id_;
  const StreamLimits limits_;
  StreamIdentity identity_;
  uint64_t next_nonce_ = 1;
  uint64_t total_nacks_ = 0;
  std::map<std::string, TypeState> types_;
  // Sums of last_names sizes and last_names_bytes over types_ (what StreamLimits bounds).
  size_t names_ = 0;
  size_t name_bytes_ = 0;
  ExceededLimit exceeded_ = ExceededLimit::kNone;
};

class DeltaProtocol {
 public:
  using Request = envoy::service::discovery::v3::DeltaDiscoveryRequest;
  using Response = DeltaResponse;

  explicit DeltaProtocol(std::string control_plane_id, StreamLimits limits = {});

  // As SotwProtocol::OnRequest. Over the limits, subscriptions the request already added stay
  // (the stream ends anyway).
  absl::StatusOr<std::vector<Response>> OnRequest(const Request& request, const Snapshot& snapshot);
  std::vector<Response> OnSnapshot(const Snapshot& snapshot, const ChangeSet& changes);

  const StreamIdentity& identity() const { return identity_; }
  std::vector<TypeStatus> Status() const;
  uint64_t total_nacks() const { return total_nacks_; }
  ExceededLimit exceeded() const { return exceeded_; }

 private:
  struct TypeState {
    bool requested = false;
    bool wildcard = false;
    bool stale = false;  // The flavour changed: the next reconcile looks at every name.
    absl::flat_hash_set<std::string> names;
    // Name -> version the client holds. "" means the client was told it does not exist.
    absl::flat_hash_map<std::string, std::string> client;
    // Nonces of the most recent unanswered responses (numeric, so begin() is the oldest) ->
    // system version. An ACK/NACK of a nonce not in here (never sent, already answered or
    // evicted) is not recorded.
    std::map<uint64_t, std::string> nonce_versions;
    TypeStatus status;
  };
  // Reconciles `candidates` (names to look at; sorted, unique) against what the client holds.
  bool Reconcile(const std::string& type_url, TypeState& ts, const Snapshot& snapshot,
                 const std::vector<std::string>& candidates, Response* out);
  // Every name that may need a look: what the client holds, its names, and all if wildcard.
  static void AddAllNames(const TypeState& ts, const ResourceMap& all,
                          std::vector<std::string>* candidates);

  const std::string control_plane_id_;
  const StreamLimits limits_;
  StreamIdentity identity_;
  uint64_t next_nonce_ = 1;
  uint64_t total_nacks_ = 0;
  std::map<std::string, TypeState> types_;
  // Names subscribed over all types_, and their bytes (what StreamLimits bounds).
  size_t names_ = 0;
  size_t name_bytes_ = 0;
  ExceededLimit exceeded_ = ExceededLimit::kNone;
};

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_PROTOCOL_H_
