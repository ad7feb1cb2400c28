// The ADS protocol as pure state machines: no gRPC, no threads, no clock of their own. The
// stream glue feeds each request and each published snapshot in, and writes out whatever
// responses come back, in order. One instance per stream; not thread-safe (the glue
// serializes calls).
//
// Rules implemented (see shared/notes/xds-protocol.md):
//  - version_info per type; ACK echoes our nonce; NACK is detected from error_detail and is
//    recorded (never re-pushed: the NACKed content is only sent again once it changes).
//  - SotW: requests with a stale nonce are ignored; LDS/CDS responses carry the full set,
//    RDS/EDS only what changed; wildcard via "*" or a legacy empty first list for LDS/CDS;
//    names requested before they exist are answered when they appear; a newly requested name
//    is answered even if nothing changed; a reconnecting client gets a full answer.
//  - Delta: subscription changes are honoured even with a stale nonce; initial_resource_versions
//    suppress resending what the client already has; missing and deleted names are reported in
//    removed_resources.
#ifndef LB_CONTROLLER_XDS_PROTOCOL_H_
#define LB_CONTROLLER_XDS_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/xds/snapshot.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace lb::xds {

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

// Node identity and flavour, shared by both protocol variants.
class StreamIdentity {
 public:
  const envoy::config::core::v3::Node& node() const { return node_; }
  ClientFlavor flavor() const { return flavor_; }
  // Takes the node from the first request that carries one.
  void ObserveNode(const envoy::config::core::v3::Node& node);
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
  using Response = envoy::service::discovery::v3::DiscoveryResponse;

  explicit SotwProtocol(std::string control_plane_id);

  // kInvalidArgument for a request without type_url (the stream should end with it).
  // Requests for types we don't serve are ignored (no response).
  absl::StatusOr<std::vector<Response>> OnRequest(const Request& request, const Snapshot& snapshot);
  // A new snapshot was published; `changes` lists changed (incl. deleted) names per type, in
  // push order. Returns the responses to send, in that order.
  std::vector<Response> OnSnapshot(const Snapshot& snapshot, const ChangeSet& changes);

  const StreamIdentity& identity() const { return identity_; }
  std::vector<TypeStatus> Status() const;

 private:
  struct TypeState {
    bool requested = false;
    bool ever_named = false;  // Legacy wildcard only until the first named request.
    bool wildcard = false;
    std::set<std::string> names;
    std::string nonce;                        // Of the last response; "" before the first.
    std::map<std::string, std::string> sent;  // Name -> version the client was sent.
    TypeStatus status;
  };
  // Builds the response `ts` needs, if any. `force`: answer even if nothing differs.
  bool MaybeRespond(const std::string& type_url, TypeState& ts, const Snapshot& snapshot,
                    bool force, Response* out);

  const std::string control_plane_id_;
  StreamIdentity identity_;
  uint64_t next_nonce_ = 1;
  std::map<std::string, TypeState> types_;
};

class DeltaProtocol {
 public:
  using Request = envoy::service::discovery::v3::DeltaDiscoveryRequest;
  using Response = envoy::service::discovery::v3::DeltaDiscoveryResponse;

  explicit DeltaProtocol(std::string control_plane_id);

  absl::StatusOr<std::vector<Response>> OnRequest(const Request& request, const Snapshot& snapshot);
  std::vector<Response> OnSnapshot(const Snapshot& snapshot, const ChangeSet& changes);

  const StreamIdentity& identity() const { return identity_; }
  std::vector<TypeStatus> Status() const;

 private:
  struct TypeState {
    bool requested = false;
    bool wildcard = false;
    std::set<std::string> names;
    // Name -> version the client holds. "" means the client was told it does not exist.
    std::map<std::string, std::string> client;
    // Nonces of the most recent unanswered responses (numeric, so begin() is the oldest) ->
    // system version. An ACK/NACK of a nonce not in here (never sent, already answered or
    // evicted) is not recorded.
    std::map<uint64_t, std::string> nonce_versions;
    TypeStatus status;
  };
  // Reconciles `candidates` (names to look at) against what the client holds.
  bool Reconcile(const std::string& type_url, TypeState& ts, const Snapshot& snapshot,
                 const std::set<std::string>& candidates, Response* out);

  const std::string control_plane_id_;
  StreamIdentity identity_;
  uint64_t next_nonce_ = 1;
  std::map<std::string, TypeState> types_;
};

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_PROTOCOL_H_
