// TLS of the controller's own listeners (--tls_cert, --tls_key, --client_ca): the gRPC server
// credentials and the REST server's OpenSSL context, from the same files. Pure set-up code, run
// once at start; thread-safe.
#ifndef LB_CONTROLLER_SERVER_TLS_CONFIG_H_
#define LB_CONTROLLER_SERVER_TLS_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

struct ssl_ctx_st;

namespace lb::controller {

// TLS of the controller's own listeners (gRPC and REST). All empty: plaintext.
struct ControllerTls {
  std::string cert_file;  // PEM chain; needs key_file.
  std::string key_file;
  // PEM CA bundle; set: clients must present a certificate it issued (needs cert_file).
  std::string client_ca_file;
};

// Checks the combination: a key needs a certificate and the reverse; a client CA needs both.
// kInvalidArgument naming the flag. OK for all empty (plaintext).
absl::Status ValidateTlsOptions(const ControllerTls& tls);

// gRPC credentials: insecure when `tls` is empty; else TLS 1.2+ with the certificate, and with a
// client CA every client must present a certificate it issued
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY). kInvalidArgument for unreadable
// files or a key that does not match.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const ControllerTls& tls);

// The REST server's SSL_CTX (TLS 1.2+, ALPN-free HTTP/1.1), null when `tls` is empty; with a
// client CA, handshakes without a certificate it issued fail.
absl::StatusOr<std::shared_ptr<ssl_ctx_st>> RestSslContext(const ControllerTls& tls);

}  // namespace lb::controller

#endif  // LB_CONTROLLER_SERVER_TLS_CONFIG_H_
