#include "controller/store/store.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lb::store {

absl::Status CheckPrefixDeletes(const std::vector<Op>& ops) {
  for (const Op& prefix : ops) {
    if (prefix.kind != Op::Kind::kDeletePrefix) continue;
    if (prefix.key.empty()) return absl::InvalidArgumentError("txn: prefix delete of \"\"");
    for (const Op& other : ops) {
      if (&other == &prefix || !absl::StartsWith(other.key, prefix.key)) continue;
      return absl::InvalidArgumentError(
          absl::StrCat("txn: key \"", absl::CHexEscape(other.key),
                       "\" is under the prefix deleted in the same transaction"));
    }
  }
  return absl::OkStatus();
}

}  // namespace lb::store
