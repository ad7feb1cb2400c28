// Partial updates by google.protobuf.FieldMask, shared by the registry's cluster and endpoint
// updates (gRPC update_mask, REST PATCH).
#ifndef LB_CONTROLLER_MODEL_FIELD_MASK_H_
#define LB_CONTROLLER_MODEL_FIELD_MASK_H_

#include "absl/status/status.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"

namespace lb::model {

// Copies the fields that `mask` names from `patch` into `target` (same message type); a named
// field that is unset in `patch` is cleared in `target`. Paths are proto field names joined by
// "." through singular message fields ("health_check.interval"); a field named whole (a message,
// a repeated or map field) is replaced whole, and a oneof member replaces its whole oneof.
// kInvalidArgument, naming the path, for a path that is not such a field; `target` is then
// unchanged.
absl::Status ApplyFieldMask(const google::protobuf::FieldMask& mask,
                            const google::protobuf::Message& patch,
                            google::protobuf::Message* target);

}  // namespace lb::model

#endif  // LB_CONTROLLER_MODEL_FIELD_MASK_H_
