#include "proxy/router/snapshot.h"

#include <optional>

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

bool HeaderMatches(const HeaderMatcherConfig& m, const RouteRequest& request) {
  std::optional<absl::string_view> value;
  if (m.name == ":method") {
    value = request.method;
  } else if (request.headers != nullptr) {
    if (auto field = request.headers->Find(m.name)) value = field->value;
  }
  bool match = false;
  if (value.has_value()) {
    switch (m.kind) {
      case HeaderMatcherConfig::Kind::kExact:
        match = *value == m.value;
        break;
      case HeaderMatcherConfig::Kind::kPrefix:
        match = absl::StartsWith(*value, m.value);
        break;
      case HeaderMatcherConfig::Kind::kSuffix:
        match = absl::EndsWith(*value, m.value);
        break;
      case HeaderMatcherConfig::Kind::kContains:
        match = absl::StrContains(*value, m.value);
        break;
      case HeaderMatcherConfig::Kind::kPresent:
        match = true;
        break;
    }
  }
  return match != m.invert;
}

}  // namespace

bool RouteMatches(const RouteConfig& route, const RouteRequest& request) {
  if (!route.path.empty()) {
    absl::string_view path = request.path.substr(0, request.path.find('?'));
    if (path != route.path) return false;
  } else if (!absl::StartsWith(request.path, route.prefix)) {
    return false;
  }
  if (!route.scheme.empty() && route.scheme != request.scheme) return false;
  for (const HeaderMatcherConfig& m : route.headers) {
    if (!HeaderMatches(m, request)) return false;
  }
  return true;
}

uint64_t WeightedPosition(uint64_t hash, uint64_t total) {
  // splitmix64's finalizer: a bijection, so distinct hashes stay distinct.
  uint64_t z = hash + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(z) * total) >> 64);
}

size_t PickWeightedCluster(const RouteConfig& route, uint64_t position) {
  uint64_t end = 0;
  for (size_t i = 0; i < route.weighted_clusters.size(); ++i) {
    end += route.weighted_clusters[i].weight;
    if (position < end) return i;
  }
  return route.weighted_clusters.empty() ? 0 : route.weighted_clusters.size() - 1;
}

const RouteConfig* Snapshot::Match(absl::string_view host, absl::string_view path,
                                   absl::string_view scheme) const {
  RouteRequest request;
  request.host = host;
  request.path = path;
  request.scheme = scheme;
  return Match(request);
}

const RouteConfig* Snapshot::Match(const RouteRequest& request) const {
  absl::string_view host = request.host;
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
    if (RouteMatches(r, request)) return &r;
  }
  return nullptr;
}

const upstream::ClusterSnapshot* Snapshot::FindCluster(absl::string_view name) const {
  auto it = clusters.find(name);
  return it == clusters.end() ? nullptr : it->second.get();
}

}  // namespace lb::proxy::router
