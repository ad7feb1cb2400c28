// Events an operator wants to find in the logs (an endpoint turning unhealthy, an ejection, a
// configuration accepted or refused), one JSON object per line on stderr:
//   {"time":"2026-12-03T16:05:12.345Z","event":"endpoint_health","cluster":"web",
//    "endpoint":"10.0.0.1:80","healthy":false}
// "time" and "event" come first; the fields follow. Lines carry no other prefix, so
// `grep '^{'` and any JSON-lines tool read them.
//
// Thread-safe.
#ifndef LB_COMMON_LOGGING_EVENT_LOG_H_
#define LB_COMMON_LOGGING_EVENT_LOG_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lb::logging {

// The line LogEvent writes (without the newline).
std::string EventLine(absl::string_view event, const nlohmann::json& fields, absl::Time time);

// Writes the event's line to stderr.
void LogEvent(absl::string_view event, const nlohmann::json& fields);

}  // namespace lb::logging

#endif  // LB_COMMON_LOGGING_EVENT_LOG_H_
