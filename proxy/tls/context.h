// TLS contexts with OpenSSL 3: immutable snapshots built on the main thread from the
// configuration (proxy/config/config.h) and shared by every worker and connection that uses
// them. A connection holds its context (shared_ptr) for its whole life, so a new certificate or
// ticket key set never disturbs established connections: new handshakes use the new context.
//
//  ServerContext  the TLS listener: one SSL_CTX per certificate, chosen by SNI in the
//                 servername callback (exact name, then the longest "*." suffix, then the
//                 default certificate; none: the `unrecognized_name` alert), TLS 1.2-1.3,
//                 ALPN (server preference), session tickets with the shared keys (the first
//                 encrypts, all decrypt; a ticket under an older key is renewed), OCSP stapling.
//  ClientContext  a cluster's upstream TLS: peer verification against the trusted CA and the
//                 SNI name, optional client certificate, ALPN.
//
// Threading: Create() anywhere (the main thread in the proxy); the objects are immutable and
// may be used by any number of threads at once.
#ifndef LB_PROXY_TLS_CONTEXT_H_
#define LB_PROXY_TLS_CONTEXT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/config/config.h"
#include "proxy/network/transport_socket.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace lb::proxy::tls {

// Whether the listener offers "h2" in ALPN (the connection manager picks the HTTP/2 codec
// from NegotiatedProtocol()); false would negotiate only "http/1.1" whatever the Listener's
// alpn_protocols say.
inline constexpr bool kOfferH2Downstream = true;

// Process-wide TLS counters (relaxed atomics; exported in /stats as lb_proxy_tls_*).
struct TlsStats {
  std::atomic<uint64_t> handshakes{0};          // Completed, both directions.
  std::atomic<uint64_t> resumed{0};             // Of those, resumed sessions.
  std::atomic<uint64_t> handshake_errors{0};    // Failed handshakes (either side).
  std::atomic<uint64_t> unrecognized_name{0};   // No certificate for the SNI name.
  std::atomic<uint64_t> no_certificate{0};      // Refused: no certificate received yet.
  std::atomic<uint64_t> handshake_timeouts{0};  // Cut by --tls_handshake_timeout.
  std::atomic<uint64_t> verify_failures{0};     // Upstream certificates that failed checks.
  std::atomic<uint64_t> connection_errors{0};   // TLS errors after the handshake.
  std::atomic<uint64_t> ocsp_staples{0};        // Handshakes that carried a staple.
};
TlsStats& Stats();

// Checks that `chain_pem` is a PEM chain (at least one certificate) whose first certificate
// matches `key_pem`. kInvalidArgument naming the field ("certificate_chain", "private_key").
absl::Status ValidateCertificate(absl::string_view chain_pem, absl::string_view key_pem);
// Checks that `pem` holds at least one CA certificate.
absl::Status ValidateCaBundle(absl::string_view pem);

class ServerContext {
 public:
  // kInvalidArgument if a certificate or key does not load.
  static absl::StatusOr<std::shared_ptr<const ServerContext>> Create(
      const TlsListenerConfig& config);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A server-side SSL for one accepted connection (nullptr on allocation failure).
  SSL* NewSsl() const;

  // The index into contexts (or -1) that a client sending `server_name` gets; exposed for tests.
  int Select(absl::string_view server_name) const;
  const TlsListenerConfig& config() const { return *config_; }

 private:
  struct Cert;
  ServerContext() = default;
  static int OnServerName(SSL* ssl, int* alert, void* arg);

  std::shared_ptr<const TlsListenerConfig> config_;
  SSL_CTX* base_ = nullptr;   // Callbacks only; every handshake switches to a certificate.
  std::vector<Cert*> certs_;  // Owned; index = chain (default certificate last, if any).
  absl::flat_hash_map<std::string, int> exact_;
  absl::flat_hash_map<std::string, int> wildcard_;  // ".example.com" -> index.
  int default_ = -1;
  std::string alpn_wire_;  // Length-prefixed list, server preference.

 public:
  // For the OpenSSL callbacks (context.cc).
  const std::string& alpn_wire() const { return alpn_wire_; }
};

class ClientContext final : public network::TransportSocketFactory,
                            public std::enable_shared_from_this<ClientContext> {
 public:
  // kInvalidArgument if the CA bundle or client certificate does not load.
  static absl::StatusOr<std::shared_ptr<const ClientContext>> Create(
      const UpstreamTlsConfig& config);
  ~ClientContext() override;

  // A client TLS transport for one upstream connection.
  std::unique_ptr<network::TransportSocket> Create() const override;
  bool secure() const override { return true; }
  const UpstreamTlsConfig& config() const { return config_; }

 private:
  ClientContext() = default;
  UpstreamTlsConfig config_;
  SSL_CTX* ctx_ = nullptr;
};

// Server-side transport for a connection accepted on the TLS listener; keeps `context` alive.
std::unique_ptr<network::TransportSocket> NewServerSocket(
    std::shared_ptr<const ServerContext> context);

}  // namespace lb::proxy::tls

#endif  // LB_PROXY_TLS_CONTEXT_H_
