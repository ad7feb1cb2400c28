// Serves the web console at /ui (docs/console.md): /ui and /ui/ are index.html, /ui/<name> an
// embedded file. Read-only and open like every read; the console's writes go to /v1 with the
// token. Each answer carries Content-Type, an ETag (If-None-Match answers 304), Cache-Control:
// no-cache (revalidate, so a new binary's files are picked up at once) and a Content-Security-
// Policy that allows scripts, styles and connections from this origin only (no inline script).
#ifndef LB_CONTROLLER_UI_UI_HANDLER_H_
#define LB_CONTROLLER_UI_UI_HANDLER_H_

#include "absl/strings/string_view.h"
#include "common/http/http_types.h"

namespace lb::ui {

// True if `path` (no query) is the console's: /ui or under /ui/.
bool IsUiPath(absl::string_view path);

// Answers a request for a console path. Pure; thread-safe.
http::HttpResponse ServeUi(const http::HttpRequest& request, absl::string_view path);

}  // namespace lb::ui

#endif  // LB_CONTROLLER_UI_UI_HANDLER_H_
