#include "proxy/router/snapshot.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace lb::proxy::router {
namespace {

RouteConfig Route(std::string name, std::string prefix, std::string cluster) {
  RouteConfig r;
  r.name = std::move(name);
  r.prefix = std::move(prefix);
  r.cluster = std::move(cluster);
  return r;
}

Snapshot MakeSnapshot() {
  Snapshot s;
  s.virtual_hosts = {
      {"*", {Route("catch", "/", "backend")}},
      {"api.example.com", {Route("v1", "/v1/", "api-v1"), Route("api", "/", "api")}},
      {"*.example.com", {Route("wild", "/", "wild")}},
      {"*.b.example.com", {Route("deeper", "/", "deeper")}},
      {"admin.example.com:8443", {Route("admin", "/", "admin")}},
  };
  return s;
}

std::string Match(const Snapshot& s, absl::string_view host, absl::string_view path) {
  const RouteConfig* r = s.Match(host, path);
  return r == nullptr ? "<none>" : r->name;
}

TEST(SnapshotMatchTest, MostSpecificDomainThenFirstMatchingPrefix) {
  Snapshot s = MakeSnapshot();
  EXPECT_EQ(Match(s, "api.example.com", "/v1/users"), "v1");
  EXPECT_EQ(Match(s, "api.example.com", "/v2/users"), "api");
  EXPECT_EQ(Match(s, "API.Example.COM:80", "/v1/x"), "v1");  // Case and port ignored.
  EXPECT_EQ(Match(s, "www.example.com", "/"), "wild");
  EXPECT_EQ(Match(s, "x.b.example.com", "/"), "deeper");  // Longest suffix wins.
  EXPECT_EQ(Match(s, "example.com", "/"), "catch");       // "*.example.com" needs a label.
  EXPECT_EQ(Match(s, "other.org", "/anything"), "catch");
  EXPECT_EQ(Match(s, "", "/"), "catch");
  EXPECT_EQ(Match(s, "[::1]:8080", "/"), "catch");
}

TEST(SnapshotMatchTest, DomainWithPortMatchesOnlyThatPort) {
  Snapshot s = MakeSnapshot();
  EXPECT_EQ(Match(s, "admin.example.com:8443", "/"), "admin");
  EXPECT_EQ(Match(s, "admin.example.com", "/"), "wild");
}

TEST(SnapshotMatchTest, NoVirtualHostOrNoPrefixMeansNoRoute) {
  Snapshot empty;
  EXPECT_EQ(Match(empty, "a", "/"), "<none>");
  Snapshot s;
  s.virtual_hosts = {{"*", {Route("only-api", "/api", "api")}}};
  EXPECT_EQ(Match(s, "a", "/other"), "<none>");
  EXPECT_EQ(Match(s, "a", "/api/x"), "only-api");
}

TEST(SnapshotMatchTest, FindCluster) {
  Snapshot s;
  auto c = std::make_shared<upstream::ClusterSnapshot>();
  c->config.name = "web";
  s.clusters["web"] = c;
  EXPECT_EQ(s.FindCluster("web"), c.get());
  EXPECT_EQ(s.FindCluster("nope"), nullptr);
}

TEST(SnapshotMatchTest, SchemeMatchersSkipRoutesForTheOtherScheme) {
  Snapshot s;
  RouteConfig redirect = Route("redirect", "/", "");
  redirect.scheme = "http";
  redirect.redirect = RedirectConfig{true, 308};
  s.virtual_hosts = {{"*", {redirect, Route("serve", "/", "web")}}};
  EXPECT_EQ(s.Match("a", "/x", "http")->name, "redirect");
  EXPECT_EQ(s.Match("a", "/x", "https")->name, "serve");
  EXPECT_EQ(s.Match("a", "/x")->name, "redirect");  // Plaintext by default.
}

// Route matching beyond host and prefix: exact paths, the method, header matchers of every kind
// (inverted too), all of them together, and first-match order among them.

HeaderMatcherConfig Header(std::string name, HeaderMatcherConfig::Kind kind, std::string value,
                           bool invert = false) {
  HeaderMatcherConfig m;
  m.name = std::move(name);
  m.kind = kind;
  m.value = std::move(value);
  m.invert = invert;
  return m;
}

// Matches `route` alone against a request with the given fields.
bool Matches(const RouteConfig& route, absl::string_view path, absl::string_view method,
             std::vector<std::pair<std::string, std::string>> fields) {
  http::RequestHeaderMapPtr headers = http::NewRequestHeaderMap();
  for (const auto& [name, value] : fields) headers->Add(name, value);
  RouteRequest request;
  request.host = "h";
  request.path = path;
  request.method = method;
  request.headers = headers.get();
  return RouteMatches(route, request);
}

TEST(RouteMatchesTest, ExactPathIgnoresTheQueryAndMatchesNothingLonger) {
  RouteConfig r = Route("exact", "", "c");
  r.path = "/login";
  EXPECT_TRUE(Matches(r, "/login", "GET", {}));
  EXPECT_TRUE(Matches(r, "/login?next=/", "GET", {}));
  EXPECT_FALSE(Matches(r, "/login/", "GET", {}));
  EXPECT_FALSE(Matches(r, "/logi", "GET", {}));
  EXPECT_FALSE(Matches(r, "/LOGIN", "GET", {}));
}

TEST(RouteMatchesTest, PrefixSeesTheQuery) {
  RouteConfig r = Route("p", "/api", "c");
  EXPECT_TRUE(Matches(r, "/api", "GET", {}));
  EXPECT_TRUE(Matches(r, "/apis", "GET", {}));  // Not segment-aware (lb.proto).
  EXPECT_FALSE(Matches(r, "/ap", "GET", {}));
}

TEST(RouteMatchesTest, MethodIsCaseSensitive) {
  RouteConfig r = Route("m", "/", "c");
  r.headers = {Header(":method", HeaderMatcherConfig::Kind::kExact, "POST")};
  EXPECT_TRUE(Matches(r, "/", "POST", {}));
  EXPECT_FALSE(Matches(r, "/", "GET", {}));
  EXPECT_FALSE(Matches(r, "/", "post", {}));
}

TEST(RouteMatchesTest, EveryHeaderMatcherKind) {
  using Kind = HeaderMatcherConfig::Kind;
  struct Case {
    HeaderMatcherConfig matcher;
    std::vector<std::pair<std::string, std::string>> fields;
    bool want;
  };
  const Case cases[] = {
      {Header("x-v", Kind::kExact, "canary"), {{"X-V", "canary"}}, true},   // Name: any case.
      {Header("x-v", Kind::kExact, "canary"), {{"x-v", "Canary"}}, false},  // Value: exact.
      {Header("x-v", Kind::kExact, "canary"), {}, false},
      {Header("x-v", Kind::kExact, "canary", true), {}, true},  // Missing + inverted.
      {Header("x-v", Kind::kExact, "canary", true), {{"x-v", "canary"}}, false},
      {Header("x-v", Kind::kExact, "canary", true), {{"x-v", "stable"}}, true},
      {Header("x-v", Kind::kExact, "a"), {{"x-v", "a"}, {"x-v", "b"}}, true},  // First field.
      {Header("x-v", Kind::kExact, "b"), {{"x-v", "a"}, {"x-v", "b"}}, false},
      {Header("ua", Kind::kPrefix, "curl/"), {{"ua", "curl/8.0"}}, true},
      {Header("ua", Kind::kPrefix, "curl/"), {{"ua", "wget"}}, false},
      {Header("ua", Kind::kSuffix, "bot"), {{"ua", "googlebot"}}, true},
      {Header("ua", Kind::kSuffix, "bot"), {{"ua", "bots"}}, false},
      {Header("ua", Kind::kContains, "Mobile"), {{"ua", "x Mobile y"}}, true},
      {Header("ua", Kind::kContains, "Mobile"), {{"ua", "desktop"}}, false},
      {Header("x-debug", Kind::kPresent, ""), {{"x-debug", ""}}, true},
      {Header("x-debug", Kind::kPresent, ""), {}, false},
      {Header("x-debug", Kind::kPresent, "", true), {}, true},
      {Header("x-debug", Kind::kPresent, "", true), {{"x-debug", "1"}}, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    RouteConfig r = Route("h", "/", "c");
    r.headers = {cases[i].matcher};
    EXPECT_EQ(Matches(r, "/", "GET", cases[i].fields), cases[i].want) << "case " << i;
  }
}

TEST(RouteMatchesTest, AllMatchersMustHold) {
  using Kind = HeaderMatcherConfig::Kind;
  RouteConfig r = Route("all", "/api", "c");
  r.headers = {Header(":method", Kind::kExact, "GET"), Header("x-a", Kind::kExact, "1"),
               Header("x-b", Kind::kPresent, "")};
  EXPECT_TRUE(Matches(r, "/api/x", "GET", {{"x-a", "1"}, {"x-b", "z"}}));
  EXPECT_FALSE(Matches(r, "/api/x", "PUT", {{"x-a", "1"}, {"x-b", "z"}}));
  EXPECT_FALSE(Matches(r, "/api/x", "GET", {{"x-a", "2"}, {"x-b", "z"}}));
  EXPECT_FALSE(Matches(r, "/api/x", "GET", {{"x-a", "1"}}));
  EXPECT_FALSE(Matches(r, "/other", "GET", {{"x-a", "1"}, {"x-b", "z"}}));
}

TEST(SnapshotMatchTest, FirstMatchingRouteInTheControllersPrecedenceOrder) {
  // The controller orders routes (exact, longest prefix, method, most headers); the proxy takes
  // the first that matches.
  using Kind = HeaderMatcherConfig::Kind;
  RouteConfig exact = Route("exact", "", "c");
  exact.path = "/a";
  RouteConfig get_header = Route("get-header", "/a", "c");
  get_header.headers = {Header(":method", Kind::kExact, "GET"),
                        Header("x-canary", Kind::kExact, "1")};
  RouteConfig get = Route("get", "/a", "c");
  get.headers = {Header(":method", Kind::kExact, "GET")};
  RouteConfig header = Route("header", "/a", "c");
  header.headers = {Header("x-canary", Kind::kExact, "1")};
  Snapshot s;
  s.virtual_hosts = {{"*", {exact, get_header, get, header, Route("prefix", "/a", "c")}}};
  auto match = [&s](absl::string_view path, absl::string_view method,
                    std::vector<std::pair<std::string, std::string>> fields) -> std::string {
    http::RequestHeaderMapPtr headers = http::NewRequestHeaderMap();
    for (const auto& [name, value] : fields) headers->Add(name, value);
    RouteRequest request;
    request.host = "h";
    request.path = path;
    request.method = method;
    request.headers = headers.get();
    const RouteConfig* r = s.Match(request);
    return r == nullptr ? "<none>" : r->name;
  };
  EXPECT_EQ(match("/a", "GET", {{"x-canary", "1"}}), "exact");
  EXPECT_EQ(match("/ab", "GET", {{"x-canary", "1"}}), "get-header");
  EXPECT_EQ(match("/ab", "GET", {}), "get");
  EXPECT_EQ(match("/ab", "POST", {{"x-canary", "1"}}), "header");
  EXPECT_EQ(match("/ab", "POST", {}), "prefix");
  EXPECT_EQ(match("/b", "GET", {}), "<none>");
  // The host/path overload sees no method and no fields.
  EXPECT_EQ(Match(s, "h", "/ab"), "prefix");
}

TEST(WeightedClusterTest, PickByPositionOverTheWeightRanges) {
  RouteConfig r = Route("split", "/", "");
  r.weighted_clusters = {{"a", 10}, {"zero", 0}, {"b", 90}};
  r.total_weight = 100;
  EXPECT_EQ(PickWeightedCluster(r, 0), 0u);
  EXPECT_EQ(PickWeightedCluster(r, 9), 0u);
  EXPECT_EQ(PickWeightedCluster(r, 10), 2u);  // Weight 0: an empty range.
  EXPECT_EQ(PickWeightedCluster(r, 99), 2u);
}

TEST(WeightedClusterTest, PositionIsUniformAndMonotoneInTheHash) {
  // Spread: 100000 consecutive hashes over 10 buckets, each within 2% of its 10000.
  std::vector<int> buckets(10, 0);
  for (uint64_t h = 0; h < 100000; ++h) {
    uint64_t p = WeightedPosition(h, 10);
    ASSERT_LT(p, 10u);
    ++buckets[p];
  }
  for (int b : buckets) {
    EXPECT_GT(b, 9800);
    EXPECT_LT(b, 10200);
  }
  // Affinity: a client on the growing cluster stays there as its weight rises 10 -> 50 -> 100.
  RouteConfig r = Route("split", "/", "");
  auto cluster_of = [&r](uint64_t hash, uint32_t stable, uint32_t canary) {
    r.weighted_clusters = {{"stable", stable}, {"canary", canary}};
    r.total_weight = stable + canary;
    return r.weighted_clusters[PickWeightedCluster(r, WeightedPosition(hash, r.total_weight))].name;
  };
  int on_canary = 0;
  for (uint64_t client = 0; client < 10000; ++client) {
    const uint64_t hash = client * 0x9e3779b97f4a7c15ULL;
    if (cluster_of(hash, 90, 10) == "canary") {
      ++on_canary;
      EXPECT_EQ(cluster_of(hash, 50, 50), "canary") << client;
      EXPECT_EQ(cluster_of(hash, 1, 99), "canary") << client;
      EXPECT_EQ(cluster_of(hash, 0, 100), "canary") << client;
    }
    if (cluster_of(hash, 50, 50) == "canary") {
      EXPECT_EQ(cluster_of(hash, 10, 90), "canary") << client;
    }
  }
  EXPECT_GT(on_canary, 900);
  EXPECT_LT(on_canary, 1100);
}

}  // namespace
}  // namespace lb::proxy::router
