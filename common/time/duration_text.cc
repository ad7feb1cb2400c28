#include "common/time/duration_text.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lb {

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  absl::Duration d;
  // absl::ParseDuration takes both syntaxes ("0.500s" is a decimal number of seconds), plus
  // "inf" and a unitless "0", which are refused here except for "0".
  const bool finite = absl::ParseDuration(text, &d) && d != absl::InfiniteDuration() &&
                      d != -absl::InfiniteDuration();
  if (!finite || absl::AbsDuration(d) > absl::Hours(100000)) {
    std::string shown(text.substr(0, 64));
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", absl::CHexEscape(shown), "\" is not a duration; want ", kDurationExamples));
  }
  return d;
}

std::string FormatDurationText(absl::Duration d) {
  const bool negative = d < absl::ZeroDuration();
  // Not IDivDuration, which is inexact for large values.
  const absl::Duration abs = absl::AbsDuration(d);
  const int64_t seconds = absl::ToInt64Seconds(abs);
  const int64_t nanos = absl::ToInt64Nanoseconds(abs - absl::Seconds(seconds));
  std::string out = absl::StrCat(negative ? "-" : "", seconds);
  if (nanos % 1000000 == 0) {
    if (nanos != 0) absl::StrAppendFormat(&out, ".%03d", nanos / 1000000);
  } else if (nanos % 1000 == 0) {
    absl::StrAppendFormat(&out, ".%06d", nanos / 1000);
  } else {
    absl::StrAppendFormat(&out, ".%09d", nanos);
  }
  out += "s";
  return out;
}

}  // namespace lb
