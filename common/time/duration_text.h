// The one duration syntax of the APIs (REST bodies, lbctl flags and output, error messages).
//
// Input: Go/Abseil style ("500ms", "2s", "1m", "1h", "1m30s", "1.5s") or protobuf JSON's form
// ("0.500s"). Output (canonical): protobuf JSON's form, what every protobuf JSON library reads
// and writes: whole seconds and 0, 3, 6 or 9 fractional digits, then "s" ("5s", "0.500s",
// "90s", "0.000001s", "-1.500s").
#ifndef LB_COMMON_TIME_DURATION_TEXT_H_
#define LB_COMMON_TIME_DURATION_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lb {

// Examples of the accepted syntax, for messages: "500ms", "2s", "1m", "1h" or "0.500s".
inline constexpr char kDurationExamples[] = "\"500ms\", \"2s\", \"1m\", \"1h\" or \"0.500s\"";

// kInvalidArgument (message: `"x" is not a duration; want ...`) for anything else, including
// "inf" and values beyond ±100000 hours.
absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text);

// The canonical form of `d`; `d` must be finite.
std::string FormatDurationText(absl::Duration d);

}  // namespace lb

#endif  // LB_COMMON_TIME_DURATION_TEXT_H_
