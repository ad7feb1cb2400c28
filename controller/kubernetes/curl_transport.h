// Transport over HTTPS with libcurl: verifies the API server with the config's CA bundle,
// authenticates with a bearer token (a token file is re-read whenever it changes: service
// account tokens rotate) or a client certificate. One easy handle per call; thread-safe. Never
// logs or returns the token.
#ifndef LB_CONTROLLER_KUBERNETES_CURL_TRANSPORT_H_
#define LB_CONTROLLER_KUBERNETES_CURL_TRANSPORT_H_

#include <sys/types.h>

#include <cstddef>
#include <ctime>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/kubernetes/kube_config.h"
#include "controller/kubernetes/transport.h"

namespace lb::kubernetes {

struct CurlTransportOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  // Whole GET/PATCH exchanges (a list page, a status patch).
  absl::Duration request_timeout = absl::Seconds(60);
  // Whole watch streams; the reflector also asks the server to end them sooner
  // (timeoutSeconds), so this only bounds a server that never does.
  absl::Duration watch_timeout = absl::Minutes(15);
  // One watch event (line), and a non-200 answer's body (--kubernetes_max_event_bytes).
  size_t max_event_bytes = 4 << 20;
  // A GET answer (one list page: the reflector asks for at most 500 objects).
  size_t max_response_bytes = 64 << 20;
};

// The current bearer token of a config: its static token, or its token file's contents, read
// again when the file's identity, size or mtime changes (kubelet replaces projected tokens).
// Keeps the last good token when a re-read fails. Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(ClusterConfig config);
  std::string Token();

 private:
  const std::string static_token_;
  const std::string file_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  ino_t ino_ ABSL_GUARDED_BY(mu_) = 0;
  off_t size_ ABSL_GUARDED_BY(mu_) = -1;
  timespec mtime_ ABSL_GUARDED_BY(mu_) = {0, 0};
};

class CurlTransport : public Transport {
 public:
  CurlTransport(ClusterConfig config, CurlTransportOptions options);
  ~CurlTransport() override = default;

  absl::StatusOr<HttpResponse> Get(const std::string& path) override;
  absl::StatusOr<HttpResponse> Watch(const std::string& path, const LineCallback& on_line,
                                     const std::atomic<bool>& cancel) override;
  absl::StatusOr<HttpResponse> MergePatch(const std::string& path,
                                          const std::string& body) override;

 private:
  struct Call;
  absl::StatusOr<HttpResponse> Perform(Call& call);

  const ClusterConfig config_;
  const CurlTransportOptions options_;
  TokenSource token_;
};

}  // namespace lb::kubernetes

#endif  // LB_CONTROLLER_KUBERNETES_CURL_TRANSPORT_H_
