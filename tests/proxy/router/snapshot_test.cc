#include "proxy/router/snapshot.h"

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

}  // namespace
}  // namespace lb::proxy::router
