// Writes a test CA and a server certificate for 127.0.0.1, ::1 and localhost (made at run time
// by tests/test_common/test_certs) into a directory, for the shell and Python tests of the
// fake Kubernetes API server: DIR/k8s-ca.crt, DIR/apiserver.crt, DIR/apiserver.key.
//
// Usage: make_test_certs DIR. Exit 0 on success, 1 with a message on failure, 2 on bad usage.
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "tests/test_common/test_certs.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_test_certs DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  absl::StatusOr<lb::testing::TestCa> ca = lb::testing::TestCa::Create("k8s test CA");
  if (!ca.ok()) {
    std::fprintf(stderr, "make_test_certs: %s\n", ca.status().ToString().c_str());
    return 1;
  }
  lb::testing::CertOptions options;
  options.common_name = "kube-apiserver";
  options.dns_names = {"localhost", "kubernetes.default.svc"};
  options.ip_addresses = {"127.0.0.1", "::1"};
  absl::StatusOr<lb::testing::TestCert> server = ca->Issue(options);
  if (!server.ok()) {
    std::fprintf(stderr, "make_test_certs: %s\n", server.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::string> ca_path = ca->WriteCaFile(dir, "k8s");
  absl::Status written =
      ca_path.ok() ? lb::testing::WriteFiles(dir, "apiserver", &*server) : ca_path.status();
  if (!written.ok()) {
    std::fprintf(stderr, "make_test_certs: %s\n", written.ToString().c_str());
    return 1;
  }
  std::printf("%s\n%s\n%s\n", ca_path->c_str(), server->cert_path.c_str(),
              server->key_path.c_str());
  return 0;
}
