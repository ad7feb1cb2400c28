#include "tests/fuzz/kube_config/kube_config_fuzz.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "controller/kubernetes/kube_config.h"

namespace lb::fuzz {

std::string RunKubeConfigInput(const uint8_t* data, size_t size, bool* accepted) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<kubernetes::KubeConfigFile> a = kubernetes::ParseKubeConfig(text);
  const absl::StatusOr<kubernetes::KubeConfigFile> b = kubernetes::ParseKubeConfig(text);
  if (a.ok() != b.ok() || a.status() != b.status()) return "two parses differ";
  if (!a.ok()) {
    if (a.status().code() != absl::StatusCode::kInvalidArgument) return "not kInvalidArgument";
    if (a.status().message().empty()) return "error without a message";
    return "";
  }
  if (accepted != nullptr) *accepted = true;
  if (a->server != b->server || a->token != b->token || a->user != b->user) {
    return "two parses differ";
  }
  if (a->context.empty() || a->cluster.empty()) return "accepted without context or cluster";
  if (!absl::StartsWith(a->server, "https://") && !absl::StartsWith(a->server, "http://")) {
    return "accepted a server that is not http(s)";
  }
  if (absl::EndsWith(a->server, "/")) return "server keeps a trailing slash";
  if (!a->token.empty() && !a->token_file.empty()) return "token and tokenFile both accepted";
  return "";
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = lb::fuzz::RunKubeConfigInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\ninput: \"%s\"\n", problem.c_str(),
                 absl::CHexEscape(std::string(reinterpret_cast<const char*>(data), size)).c_str());
    std::abort();
  }
  return 0;
}
