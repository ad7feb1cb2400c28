#include "proxy/http/request_target.h"

#include <string>

#include "gtest/gtest.h"

namespace lb::http {
namespace {

std::string Normalized(absl::string_view path, PathOptions options = {}) {
  std::string out;
  return NormalizePath(path, options, &out) ? out : std::string(path);
}

TEST(NormalizePathTest, RemovesDotSegmentsPerRfc3986) {
  EXPECT_EQ(Normalized("/a/b/c/./../../g"), "/a/g");  // RFC 3986 5.2.4's example.
  EXPECT_EQ(Normalized("/pub/../admin"), "/admin");
  EXPECT_EQ(Normalized("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Normalized("/a/."), "/a/");
  EXPECT_EQ(Normalized("/a/b/.."), "/a/");
  EXPECT_EQ(Normalized("/.."), "/");
  EXPECT_EQ(Normalized("/./"), "/");
  EXPECT_EQ(Normalized("/a/%2e%2E/b"), "/b");
  EXPECT_EQ(Normalized("/a/%2e/b"), "/a/b");
}

TEST(NormalizePathTest, LeavesEverythingElseAlone) {
  std::string out = "untouched";
  EXPECT_FALSE(NormalizePath("/a/b/c", {}, &out));
  EXPECT_FALSE(NormalizePath("/a//b", {}, &out));
  EXPECT_FALSE(NormalizePath("/a/...b/.x/..y", {}, &out));
  EXPECT_FALSE(NormalizePath("/a/%2e%2e%2e", {}, &out));
  EXPECT_FALSE(NormalizePath("/", {}, &out));
  EXPECT_EQ(out, "untouched");
  EXPECT_EQ(Normalized("/a/../b?x=/../y&z=.."), "/b?x=/../y&z=..");  // Query untouched.
  PathOptions off;
  off.normalize = false;
  EXPECT_FALSE(NormalizePath("/a/../b", off, &out));
}

TEST(NormalizePathTest, MergesSlashesWhenAsked) {
  PathOptions merge;
  merge.merge_slashes = true;
  EXPECT_EQ(Normalized("//a///b/", merge), "/a/b/");
  EXPECT_EQ(Normalized("/a//../b", merge), "/b");
  EXPECT_EQ(Normalized("//", merge), "/");
}

RequestHeaderMapPtr Head(absl::string_view target, absl::string_view host = "public") {
  RequestHeaderMapPtr h = NewRequestHeaderMap();
  h->owned_target = std::string(target);  // Any stable storage will do for the test.
  h->target = h->owned_target;
  if (!host.empty()) {
    h->Add("Host", host);
    h->host = host;
    h->has_host = true;
  }
  return h;
}

TEST(CanonicalizeRequestTargetTest, AbsoluteFormTakesItsAuthorityFromTheTarget) {
  std::string target = "http://admin.internal:8080/x/../y?q=1";
  RequestHeaderMapPtr h = NewRequestHeaderMap();
  h->target = target;
  h->Add("Host", "public");
  h->host = "public";
  h->has_host = true;
  ASSERT_TRUE(CanonicalizeRequestTarget({}, *h).ok());
  EXPECT_EQ(h->host, "admin.internal:8080");
  EXPECT_EQ(h->target, "/y?q=1");
  ASSERT_TRUE(h->Find("host").has_value());
  EXPECT_EQ(h->Find("host")->value, "admin.internal:8080");
  EXPECT_EQ(h->Remove("host"), 1u);  // Only one Host field is left.
}

TEST(CanonicalizeRequestTargetTest, AbsoluteFormWithoutPathBecomesSlash) {
  std::string a = "HTTPS://h", b = "http://h?q";
  RequestHeaderMapPtr h = NewRequestHeaderMap();
  h->target = a;
  ASSERT_TRUE(CanonicalizeRequestTarget({}, *h).ok());
  EXPECT_EQ(h->target, "/");
  EXPECT_EQ(h->host, "h");
  EXPECT_TRUE(h->has_host);
  RequestHeaderMapPtr g = NewRequestHeaderMap();
  g->target = b;
  ASSERT_TRUE(CanonicalizeRequestTarget({}, *g).ok());
  EXPECT_EQ(g->target, "/?q");
}

TEST(CanonicalizeRequestTargetTest, RefusesTargetsThatCannotBeRouted) {
  for (const char* t : {"ftp://h/x", "http:///x", "http://user@h/x", "h/x", "http:/x"}) {
    std::string target = t;
    RequestHeaderMapPtr h = NewRequestHeaderMap();
    h->target = target;
    EXPECT_EQ(CanonicalizeRequestTarget({}, *h).code(), absl::StatusCode::kInvalidArgument) << t;
  }
}

TEST(CanonicalizeRequestTargetTest, AsteriskAndConnectAreLeftAlone) {
  RequestHeaderMapPtr star = Head("*");
  star->method = Method::kOptions;
  ASSERT_TRUE(CanonicalizeRequestTarget({}, *star).ok());
  EXPECT_EQ(star->target, "*");
  RequestHeaderMapPtr connect = Head("h:443");
  connect->method = Method::kConnect;
  ASSERT_TRUE(CanonicalizeRequestTarget({}, *connect).ok());
  EXPECT_EQ(connect->target, "h:443");
}

TEST(CanonicalizeRequestTargetTest, OriginFormKeepsTheHostAndNormalizesThePath) {
  RequestHeaderMapPtr h = Head("/pub/%2E%2E/admin");
  ASSERT_TRUE(CanonicalizeRequestTarget({}, *h).ok());
  EXPECT_EQ(h->target, "/admin");
  EXPECT_EQ(h->host, "public");
}

}  // namespace
}  // namespace lb::http
