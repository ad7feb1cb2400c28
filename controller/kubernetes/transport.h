// The Kubernetes API server as the sync sees it: plain GETs (lists), streaming GETs (watches)
// and merge-patches of status subresources. The libcurl implementation is in curl_transport.h;
// tests substitute a fake. Paths are absolute and include the query, e.g.
// "/api/v1/services?limit=500".
#ifndef LB_CONTROLLER_KUBERNETES_TRANSPORT_H_
#define LB_CONTROLLER_KUBERNETES_TRANSPORT_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::kubernetes {

// An HTTP answer of the API server (any status; the caller interprets it). For a watch, `body`
// holds the body only when the status is not 200 (a Status object).
struct HttpResponse {
  int status = 0;
  std::string body;
};

// Called with each line of a watch stream (one JSON watch event, without the newline). Return
// false to end the watch.
using LineCallback = std::function<bool(absl::string_view line)>;

// Implementations are thread-safe: the reflectors call them concurrently, one call per thread.
// A non-OK status means no HTTP answer (or an unusable one): kUnavailable (connect/TLS/read
// failure), kDeadlineExceeded (a timeout), kResourceExhausted (a body or an event over its cap),
// kCancelled (`cancel` became true).
class Transport {
 public:
  virtual ~Transport() = default;

  virtual absl::StatusOr<HttpResponse> Get(const std::string& path) = 0;

  // Streams the body of a 200 answer to `on_line` line by line until the server ends it,
  // `on_line` returns false (then OK), or `cancel` becomes true (checked at least once a
  // second; then kCancelled).
  virtual absl::StatusOr<HttpResponse> Watch(const std::string& path, const LineCallback& on_line,
                                             const std::atomic<bool>& cancel) = 0;

  // PATCH with Content-Type application/merge-patch+json.
  virtual absl::StatusOr<HttpResponse> MergePatch(const std::string& path,
                                                  const std::string& body) = 0;
};

}  // namespace lb::kubernetes

#endif  // LB_CONTROLLER_KUBERNETES_TRANSPORT_H_
