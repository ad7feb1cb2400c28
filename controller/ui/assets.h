// The web console's files (controller/ui/static/), embedded in the binary at build time by
// embed.py: the controller serves them without files beside it and without a build step.
#ifndef LB_CONTROLLER_UI_ASSETS_H_
#define LB_CONTROLLER_UI_ASSETS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace lb::ui {

struct Asset {
  absl::string_view name;          // Base name, served as /ui/<name>.
  absl::string_view content_type;  // From the extension.
  absl::string_view body;
  absl::string_view etag;  // Strong, quoted: a hash of the body.
};

// Every embedded file, by name. Static storage.
absl::Span<const Asset> Assets();

}  // namespace lb::ui

#endif  // LB_CONTROLLER_UI_ASSETS_H_
