// Tests of controller/ui/ui_handler.cc: the console's files with their headers, revalidation
// and errors.
#include "controller/ui/ui_handler.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "controller/ui/assets.h"
#include "gtest/gtest.h"

namespace lb::ui {
namespace {

http::HttpRequest Get(const std::string& path, const std::string& if_none_match = "") {
  http::HttpRequest r;
  r.method = "GET";
  r.target = path;
  if (!if_none_match.empty()) r.headers.emplace_back("If-None-Match", if_none_match);
  return r;
}

std::string Header(const http::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

const Asset* Find(absl::string_view name) {
  for (const Asset& a : Assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

TEST(UiHandlerTest, IsUiPath) {
  EXPECT_TRUE(IsUiPath("/ui"));
  EXPECT_TRUE(IsUiPath("/ui/"));
  EXPECT_TRUE(IsUiPath("/ui/app.js"));
  EXPECT_FALSE(IsUiPath("/uix"));
  EXPECT_FALSE(IsUiPath("/u"));
  EXPECT_FALSE(IsUiPath("/v1/ui"));
}

TEST(UiHandlerTest, EmbedsTheThreeFiles) {
  ASSERT_EQ(Assets().size(), 3u);
  EXPECT_EQ(Assets()[0].name, "app.js");
  EXPECT_EQ(Assets()[1].name, "index.html");
  EXPECT_EQ(Assets()[2].name, "style.css");
}

TEST(UiHandlerTest, IndexAtUiAndUiSlashWithEveryHeader) {
  const Asset* index = Find("index.html");
  ASSERT_NE(index, nullptr);
  for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
    http::HttpResponse r = ServeUi(Get(path), path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << path;
    EXPECT_EQ(r.body, index->body) << path;
    EXPECT_EQ(Header(r, "ETag"), index->etag) << path;
    EXPECT_EQ(Header(r, "Cache-Control"), "no-cache") << path;
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(Header(r, "Content-Security-Policy"),
              "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
              "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        << path;
  }
}

TEST(UiHandlerTest, ContentTypeByExtension) {
  EXPECT_EQ(ServeUi(Get("/ui/app.js"), "/ui/app.js").content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(ServeUi(Get("/ui/style.css"), "/ui/style.css").content_type, "text/css; charset=utf-8");
}

// The CSP allows no inline script: the page may only load scripts by src.
TEST(UiHandlerTest, IndexHasNoInlineScriptOrStyle) {
  const Asset* index = Find("index.html");
  ASSERT_NE(index, nullptr);
  std::vector<absl::string_view> scripts = absl::StrSplit(index->body, "<script");
  ASSERT_EQ(scripts.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(scripts[1], " src=\"/ui/app.js\" defer></script>")) << scripts[1];
  EXPECT_FALSE(absl::StrContains(index->body, "<style"));
  EXPECT_FALSE(absl::StrContains(index->body, " style="));
  EXPECT_FALSE(absl::StrContains(index->body, " onclick="));
}

TEST(UiHandlerTest, IfNoneMatchRevalidates) {
  const Asset* app = Find("app.js");
  ASSERT_NE(app, nullptr);
  const std::string etag(app->etag);
  for (const std::string& header : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    http::HttpResponse r = ServeUi(Get("/ui/app.js", header), "/ui/app.js");
    EXPECT_EQ(r.status, 304) << header;
    EXPECT_EQ(r.body, "") << header;
    EXPECT_EQ(Header(r, "ETag"), etag) << header;
  }
  http::HttpResponse r = ServeUi(Get("/ui/app.js", "\"other\""), "/ui/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, app->body);
}

TEST(UiHandlerTest, UnknownFileIs404AndWritesAre405) {
  http::HttpResponse r = ServeUi(Get("/ui/nope.js"), "/ui/nope.js");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no such console file: /ui/nope.js\n");
  http::HttpRequest post = Get("/ui/");
  post.method = "POST";
  r = ServeUi(post, "/ui/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, HEAD");
  EXPECT_EQ(r.body, "method POST not allowed here; allowed: GET, HEAD\n");
}

}  // namespace
}  // namespace lb::ui
