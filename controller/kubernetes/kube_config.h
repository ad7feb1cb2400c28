// Where the API server is and how to authenticate to it: from a kubeconfig file (--kubeconfig)
// or from the pod's service account (in-cluster). docs/kubernetes.md, "Running with
// --kubernetes".
#ifndef LB_CONTROLLER_KUBERNETES_KUBE_CONFIG_H_
#define LB_CONTROLLER_KUBERNETES_KUBE_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lb::kubernetes {

// The resolved connection settings. Secrets are held in memory only; nothing here is logged.
struct ClusterConfig {
  std::string server;  // "https://host:port" (or http:// for tests), no trailing slash.
  std::string ca_pem;  // CA bundle (PEM) that verifies the server; empty: the system CAs.
  bool insecure_skip_tls_verify = false;        // Only when explicitly allowed.
  std::string token;                            // Static bearer token (kubeconfig `token`).
  std::string token_file;                       // Bearer token file, re-read when it changes.
  std::string client_cert_pem, client_key_pem;  // Client certificate (kubeconfig users).
};

// A kubeconfig as written, before files are read: what the current context selects.
struct KubeConfigFile {
  std::string context, cluster, user;  // Names.
  std::string server;
  std::string certificate_authority, certificate_authority_data;  // Path; base64 PEM.
  bool insecure_skip_tls_verify = false;
  std::string token, token_file;
  std::string client_certificate, client_certificate_data;
  std::string client_key, client_key_data;
};

// Largest kubeconfig (and referenced file) read, and deepest YAML nesting accepted.
inline constexpr size_t kMaxKubeConfigBytes = 4 << 20;
inline constexpr int kMaxYamlDepth = 64;

// Parses kubeconfig YAML (or JSON) and selects the current context's cluster and user. Pure: no
// file access. kInvalidArgument naming the problem for malformed YAML, a missing
// current-context, context, cluster or user, a missing or non-https server, aliases, or
// unsupported authentication (exec, auth-provider, username/password).
absl::StatusOr<KubeConfigFile> ParseKubeConfig(absl::string_view yaml);

// Reads the kubeconfig at `path` and the files it names (relative to its directory), decodes
// the *-data fields. insecure-skip-tls-verify is refused (kInvalidArgument) unless
// `allow_insecure`.
absl::StatusOr<ClusterConfig> LoadKubeConfig(const std::string& path, bool allow_insecure);

// The pod's service account: `sa_dir`/token (re-read when rotated), `sa_dir`/ca.crt, and the
// server from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (passed in; IPv6 hosts are
// bracketed). kFailedPrecondition when not in a cluster (host or port empty, files missing).
absl::StatusOr<ClusterConfig> InClusterConfig(const std::string& sa_dir, const std::string& host,
                                              const std::string& port);

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

}  // namespace lb::kubernetes

#endif  // LB_CONTROLLER_KUBERNETES_KUBE_CONFIG_H_
