// JSON request bodies of the /v1 resource API: lb.v1 messages in protobuf's JSON mapping, with the
// API's one duration syntax, and the fields a body names (for PATCH).
#ifndef LB_CONTROLLER_REST_JSON_BODY_H_
#define LB_CONTROLLER_REST_JSON_BODY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"

namespace lb::rest {

// Largest request body the handlers accept; larger ones get 400.
inline constexpr size_t kMaxBodyBytes = 64 * 1024;

// Parses `body`, a JSON object, into `m` (proto or lowerCamelCase field names; enum names in any
// case; unknown fields are errors). Duration fields take "500ms", "2s", "1m", "1h" or "0.500s"
// (common/time/duration_text.h). If `named` is not null it receives the paths of the fields the
// body names: through nested objects of message fields ("health_check.interval"), whole for
// durations, wrappers, maps, lists and null. kInvalidArgument naming the problem; a bad duration
// is named by its path under `root` ("cluster.health_check.interval: ...").
absl::Status ParseJsonBody(const std::string& body, absl::string_view root,
                           google::protobuf::Message* m,
                           google::protobuf::FieldMask* named = nullptr);

}  // namespace lb::rest

#endif  // LB_CONTROLLER_REST_JSON_BODY_H_
