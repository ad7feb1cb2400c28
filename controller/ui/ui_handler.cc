#include "controller/ui/ui_handler.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/ui/assets.h"

namespace lb::ui {
namespace {

constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

http::HttpResponse Plain(int status, std::string body) {
  http::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

// True if the If-None-Match header lists `etag` (or is "*").
bool Matches(absl::string_view if_none_match, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(if_none_match, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    absl::ConsumePrefix(&tag, "W/");
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

}  // namespace

bool IsUiPath(absl::string_view path) { return path == "/ui" || absl::StartsWith(path, "/ui/"); }

http::HttpResponse ServeUi(const http::HttpRequest& request, absl::string_view path) {
  if (request.method != "GET" && request.method != "HEAD") {
    http::HttpResponse r = Plain(
        405, absl::StrCat("method ", request.method, " not allowed here; allowed: GET, HEAD\n"));
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  absl::string_view name = path;
  absl::ConsumePrefix(&name, "/ui");
  absl::ConsumePrefix(&name, "/");
  if (name.empty()) name = "index.html";
  for (const Asset& a : Assets()) {
    if (a.name != name) continue;
    http::HttpResponse r;
    r.headers.emplace_back("ETag", std::string(a.etag));
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("Content-Security-Policy", kCsp);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    if (Matches(request.Header("If-None-Match"), a.etag)) {
      r.status = 304;
      r.content_type.clear();
      return r;
    }
    r.content_type = std::string(a.content_type);
    r.body = std::string(a.body);
    return r;
  }
  return Plain(404, absl::StrCat("no such console file: ", path, "\n"));
}

}  // namespace lb::ui
