// Immutable sets of xDS resources, shared by every ADS stream.
#ifndef LB_CONTROLLER_XDS_SNAPSHOT_H_
#define LB_CONTROLLER_XDS_SNAPSHOT_H_

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

// One resource, serialized once (inside `any`) and shared by all streams.
struct Resource {
  std::string name;
  // Stable hash of the serialized bytes: equal content, equal version, across restarts too,
  // so a reconnecting client that already has it is not sent it again.
  std::string version;
  google::protobuf::Any any;
};
using ResourcePtr = std::shared_ptr<const Resource>;
using ResourceMap = std::map<std::string, ResourcePtr>;  // By name.

// Serializes deterministically and computes the version.
ResourcePtr MakeResource(const std::string& name, const google::protobuf::Message& message);

// The four resource types in make-before-break push order: CDS, EDS, LDS, RDS.
inline const std::vector<std::string>& TypeOrder() {
  static const auto* order =
      new std::vector<std::string>{kClusterType, kEndpointType, kListenerType, kRouteType};
  return *order;
}

// LDS and CDS are full-state in SotW: a response lists all of them, absence means deleted.
inline bool IsFullStateType(absl::string_view type_url) {
  return type_url == kListenerType || type_url == kClusterType;
}

inline bool IsKnownType(absl::string_view type_url) {
  return type_url == kListenerType || type_url == kClusterType || type_url == kEndpointType ||
         type_url == kRouteType;
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
  std::shared_ptr<const ResourceMap> maps_[8];
};

// Names that changed, per type, in push order.
using ChangeSet = std::vector<std::pair<std::string, absl::flat_hash_set<std::string>>>;

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_SNAPSHOT_H_
