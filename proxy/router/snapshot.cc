#include "proxy/router/snapshot.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace lb::proxy::router {
namespace {

// Host header without the port, lowercased.
std::string BareHost(absl::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    host = host.substr(0, close == absl::string_view::npos ? host.size() : close + 1);
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  return absl::AsciiStrToLower(host);
}

// Domain patterns: exact ("a.example.com" or with ":port"), suffix wildcard ("*.example.com"),
// or "*". Returns a score: higher is more specific; -1 if no match.
int DomainScore(absl::string_view pattern, absl::string_view full_host, absl::string_view bare) {
  if (pattern == "*") return 0;
  if (absl::EqualsIgnoreCase(pattern, full_host)) return 1 << 20;
  if (absl::EqualsIgnoreCase(pattern, bare)) return (1 << 20) - 1;
  if (absl::StartsWith(pattern, "*.")) {
    absl::string_view suffix = pattern.substr(1);  // ".example.com"
    if (bare.size() > suffix.size() && absl::EndsWithIgnoreCase(bare, suffix)) {
      return static_cast<int>(suffix.size());
    }
  }
  return -1;
}

}  // namespace

const RouteConfig* Snapshot::Match(absl::string_view host, absl::string_view path,
                                   absl::string_view scheme) const {
  std::string bare = BareHost(host);
  const VirtualHostConfig* best = nullptr;
  int best_score = -1;
  for (const auto& vh : virtual_hosts) {
    int score = DomainScore(vh.domain, host, bare);
    if (score > best_score) {
      best_score = score;
      best = &vh;
    }
  }
  if (best == nullptr) return nullptr;
  for (const auto& r : best->routes) {
    if (absl::StartsWith(path, r.prefix) && (r.scheme.empty() || r.scheme == scheme)) return &r;
  }
  return nullptr;
}

const upstream::ClusterSnapshot* Snapshot::FindCluster(absl::string_view name) const {
  auto it = clusters.find(name);
  return it == clusters.end() ? nullptr : it->second.get();
}

}  // namespace lb::proxy::router
