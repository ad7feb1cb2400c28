// Test helper: tests/k8s/fake_apiserver.py (the stand-in Kubernetes API server, see
// tests/k8s/README.md) as a child process for C++ tests. It serves HTTPS with a certificate
// from a TestCa made at start-up and a bearer token, plus a plain-HTTP listener on loopback
// for the test's own calls (Call, Apply, Delete, Compact, CutWatches). Kubeconfig() writes a
// kubeconfig for the controller's --kubeconfig. Every wait is bounded; methods are
// thread-compatible (Call and friends may run from several threads: each is one connection).
#ifndef LB_TESTS_K8S_FAKE_APISERVER_PROCESS_H_
#define LB_TESTS_K8S_FAKE_APISERVER_PROCESS_H_

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {

class FakeApiServerProcess {
 public:
  // `extra_flags` are appended to the fake's command line (e.g. "--no_gateway_api",
  // "--bookmark_interval=0.5").
  explicit FakeApiServerProcess(std::vector<std::string> extra_flags = {});
  FakeApiServerProcess(const FakeApiServerProcess&) = delete;
  FakeApiServerProcess& operator=(const FakeApiServerProcess&) = delete;
  ~FakeApiServerProcess();  // SIGKILL if still running.

  // Makes the certificates, starts the fake and waits for its ready file.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  void Kill();

  int port() const { return port_; }              // HTTPS
  int plain_port() const { return plain_port_; }  // Plain HTTP, same API and token.
  std::string url() const;                        // "https://127.0.0.1:PORT"
  const std::string& token() const { return token_; }
  const std::string& ca_path() const { return ca_path_; }
  const std::string& dir() const { return dir_; }
  std::string LogTail(size_t max_bytes = 4000) const;

  // Writes DIR/kubeconfig (server, CA file, token) and returns its path.
  absl::StatusOr<std::string> Kubeconfig() const;

  // A call on the plain listener: the parsed JSON answer if the status is `want_status`,
  // otherwise kInternal with the status and body.
  absl::StatusOr<nlohmann::json> Call(const std::string& method, const std::string& path,
                                      const nlohmann::json& body = nullptr, int want_status = 200,
                                      const std::string& content_type = "application/json");
  // POST /__fake/objects: create or replace each object (one object or {"items": [...]}).
  absl::Status Apply(const nlohmann::json& objects);
  // DELETE /__fake/objects/RESOURCE/NS/NAME.
  absl::Status Delete(const std::string& resource, const std::string& ns, const std::string& name);
  // POST /__fake/batch {"ops": ops}: all in order under one lock.
  absl::Status Batch(const nlohmann::json& ops);
  absl::Status Compact();
  absl::Status CutWatches();
  absl::Status Inject410(int count);
  // GET /__fake/state.
  absl::StatusOr<nlohmann::json> State();
  // GET of one object through the API: kNotFound if it does not exist.
  absl::StatusOr<nlohmann::json> Get(const std::string& api_path);

 private:
  std::vector<std::string> extra_flags_;
  std::string dir_;
  std::string token_ = "fake-apiserver-test-token";
  std::string ca_path_;
  std::optional<Subprocess> process_;
  int port_ = 0;
  int plain_port_ = 0;
};

// --- Objects -------------------------------------------------------------------------------

// A Service with one TCP port `port` named `port_name` (targetPort the same name).
nlohmann::json K8sService(const std::string& ns, const std::string& name, int port = 80,
                          const std::string& port_name = "http");
// One endpoint of an EndpointSlice.
struct SliceEndpoint {
  std::string ip = "127.0.0.1";
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  std::string zone;
};
// An EndpointSlice of Service `service` whose endpoints all listen on `port` (named
// `port_name`, matching the Service port's name).
nlohmann::json K8sEndpointSlice(const std::string& ns, const std::string& name,
                                const std::string& service, int port,
                                const std::vector<SliceEndpoint>& endpoints,
                                const std::string& port_name = "http");

}  // namespace lb::testing

#endif  // LB_TESTS_K8S_FAKE_APISERVER_PROCESS_H_
