// Immutable sets of xDS resources, shared by every ADS stream.
#ifndef LB_CONTROLLER_XDS_SNAPSHOT_H_
#define LB_CONTROLLER_XDS_SNAPSHOT_H_

#include <grpc/slice.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "controller/xds/resources.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"

namespace lb::xds {

// One resource, serialized once and shared by all streams.
//
// The bytes live in one reference-counted gRPC slice, laid out so that both response flavours
// can reference them without copying (see controller/xds/wire.h):
//
//   12 <len> | 0a <len> version | 12 <len> Any{0a <len> type_url, 12 <len> value} | 1a <len> name
//   \_______________________ DeltaDiscoveryResponse.resources entry (field 2) ______________/
//                               \___ DiscoveryResponse.resources entry (field 2) ___/
//
// (envoy.service.discovery.v3.Resource numbers its fields version 1, resource 2, name 3, and
// DiscoveryResponse's `resources` is field 2 like Resource's `resource`, so the SotW entry is a
// sub-range of the delta one.) A response takes a new reference to a sub-slice per resource;
// the bytes outlive the Resource for as long as any queued or in-flight response holds them.
struct Resource {
  Resource(std::string name, absl::string_view type_url, absl::string_view value);
  ~Resource();
  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;

  // The serialized message (google.protobuf.Any.value).
  absl::string_view value() const { return Range(value_begin_, any_end_); }
  // The serialized google.protobuf.Any.
  absl::string_view any_bytes() const { return Range(any_begin_, any_end_); }
  // A copy as a message, for tests and diagnostics.
  google::protobuf::Any ToAny() const;

  // New references to the response entries; the caller owns them (grpc_slice_unref).
  grpc_slice SotwEntry() const;   // DiscoveryResponse.resources entry, tag and length included.
  grpc_slice DeltaEntry() const;  // DeltaDiscoveryResponse.resources entry, likewise.
  size_t sotw_entry_size() const { return any_end_ - sotw_begin_; }
  size_t delta_entry_size() const { return delta_end_; }

  const std::string name;
  // Stable hash of the serialized bytes: equal content, equal version, across restarts too,
  // so a reconnecting client that already has it is not sent it again.
  const std::string version;
  const std::string type_url;  // Of the Any: xds::kTypeUrlPrefix + the message's full name.
  // Stable 64-bit hash of (name, version): a SotW stream's version_info is the sum of these
  // over the resources in its view, so it can be kept up to date one resource at a time.
  const uint64_t view_hash;

 private:
  absl::string_view Range(size_t begin, size_t end) const;
  grpc_slice wire_;
  size_t sotw_begin_ = 0, any_begin_ = 0, value_begin_ = 0, any_end_ = 0, delta_end_ = 0;
};
using ResourcePtr = std::shared_ptr<const Resource>;
using ResourceMap = std::map<std::string, ResourcePtr>;  // By name.

// Serializes deterministically and computes the version.
ResourcePtr MakeResource(const std::string& name, const google::protobuf::Message& message);

// The five resource types in make-before-break push order: SDS (what clusters and listeners
// reference), CDS, EDS, LDS, RDS.
inline const std::vector<std::string>& TypeOrder() {
  static const auto* order = new std::vector<std::string>{kSecretType, kClusterType, kEndpointType,
                                                          kListenerType, kRouteType};
  return *order;
}

// LDS and CDS are full-state in SotW: a response lists all of them, absence means deleted.
inline bool IsFullStateType(absl::string_view type_url) {
  return type_url == kListenerType || type_url == kClusterType;
}

inline bool IsKnownType(absl::string_view type_url) {
  return type_url == kListenerType || type_url == kClusterType || type_url == kEndpointType ||
         type_url == kRouteType || type_url == kSecretType;
}

// Every resource of every type, for both client flavours. Immutable once published; maps of
// unchanged types are shared between successive snapshots.
class Snapshot {
 public:
  Snapshot();
  uint64_t generation() const { return generation_; }
  const ResourceMap& Get(absl::string_view type_url, ClientFlavor flavor) const;

  // A copy with `type_url`'s map for `flavor` replaced (generation + 1).
  std::shared_ptr<const Snapshot> With(absl::string_view type_url, ClientFlavor flavor,
                                       ResourceMap map) const;
  // The same, one shared map for both flavours.
  std::shared_ptr<const Snapshot> WithBoth(absl::string_view type_url, ResourceMap map) const;

 private:
  static int Index(absl::string_view type_url, ClientFlavor flavor);
  uint64_t generation_ = 0;
  std::shared_ptr<const ResourceMap> maps_[10];
};

// Names that changed, per type, in push order.
using ChangeSet = std::vector<std::pair<std::string, absl::flat_hash_set<std::string>>>;

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_SNAPSHOT_H_
