#include "proxy/tls/context.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/tls/tls_socket.h"

namespace lb::proxy::tls {
namespace {

constexpr unsigned char kSessionIdContext[] = "lb-proxy";
constexpr size_t kTicketKeySize = 80;  // 16 name, 32 HMAC-SHA256, 32 AES-256 (Envoy's layout).

// The first OpenSSL error on this thread's queue, which is then cleared.
std::string LastError() {
  unsigned long e = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type.
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Loads the chain (leaf first) and key into `ctx`.
absl::Status LoadCertificate(SSL_CTX* ctx, absl::string_view chain_pem, absl::string_view key_pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(chain_pem);
  X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate_chain: not a PEM certificate (", LastError(), ")"));
  }
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate_chain: unusable certificate (", LastError(), ")"));
  }
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return absl::InvalidArgumentError(
          absl::StrCat("certificate_chain: unusable chain certificate (", LastError(), ")"));
    }
  }
  ERR_clear_error();  // The loop ends on "no start line".
  BioPtr key_bio = MemBio(key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("private_key: not a PEM private key (", LastError(), ")"));
  }
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private_key: does not match the certificate");
  }
  return absl::OkStatus();
}

absl::Status LoadCa(SSL_CTX* ctx, absl::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr);
  if (infos == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("trusted_ca: not a PEM bundle (", LastError(), ")"));
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos, i);
    if (info->x509 != nullptr && X509_STORE_add_cert(store, info->x509) == 1) ++added;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  if (added == 0) return absl::InvalidArgumentError("trusted_ca: no certificate in the bundle");
  return absl::OkStatus();
}

std::string AlpnWire(const std::vector<std::string>& protocols, bool server) {
  std::string out;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) continue;
    if (server && p == "h2" && !kOfferH2Downstream) continue;
    out.push_back(static_cast<char>(p.size()));
    out += p;
  }
  return out;
}

int AlpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* context = static_cast<const ServerContext*>(arg);
  const std::string& wire = context->alpn_wire();
  if (wire.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  // Server preference: walks our list, picks the first the client offers.
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned int>(wire.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // No protocol in common: go on without ALPN.
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Session tickets under the configured keys. enc: encrypt with the first key; else find the
// key by name: 1 = use as is, 2 = valid but renew under the first key, 0 = unknown key (a full
// handshake follows).
int TicketKey(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int enc) {
  const auto* context =
      static_cast<const ServerContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const std::vector<std::string>& keys = context->config().ticket_keys;
  if (keys.empty()) return 0;
  size_t index = 0;
  if (enc == 1) {
    std::memcpy(key_name, keys[0].data(), 16);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
  } else {
    for (index = 0; index < keys.size(); ++index) {
      if (std::memcmp(key_name, keys[index].data(), 16) == 0) break;
    }
    if (index == keys.size()) return 0;
  }
  const std::string& key = keys[index];
  OSSL_PARAM params[3];
  params[0] =
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<char*>(key.data() + 16), 32);
  params[1] =
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[2] = OSSL_PARAM_construct_end();
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const auto* aes = reinterpret_cast<const unsigned char*>(key.data() + 48);
  if (enc == 1) {
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, aes, iv) != 1) return -1;
    return 1;
  }
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, aes, iv) != 1) return -1;
  return index == 0 ? 1 : 2;
}

int OcspStatus(SSL* ssl, void* arg) {
  const auto* staple = static_cast<const std::string*>(arg);
  if (staple == nullptr || staple->empty()) return SSL_TLSEXT_ERR_NOACK;
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(staple->size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  std::memcpy(copy, staple->data(), staple->size());
  // OpenSSL takes ownership of `copy`.
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(staple->size()));  // NOLINT
  Stats().ocsp_staples.fetch_add(1, std::memory_order_relaxed);
  return SSL_TLSEXT_ERR_OK;
}

// The settings every server SSL_CTX of one ServerContext shares.
absl::StatusOr<SSL_CTX*> NewServerCtx(const TlsListenerConfig& config, ServerContext* context) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new: " + LastError());
  SSL_CTX_set_min_proto_version(ctx, config.min_version);
  SSL_CTX_set_max_proto_version(ctx, config.max_version);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // One recv() per buffer rather than two per record (header, then body).
  SSL_CTX_set_read_ahead(ctx, 1);
  // Stateless resumption only (tickets): works across proxies sharing the keys.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  SSL_CTX_set_app_data(ctx, context);
  SSL_CTX_set_alpn_select_cb(ctx, AlpnSelect, context);
  if (!config.ticket_keys.empty()) SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketKey);
  return ctx;
}

}  // namespace

TlsStats& Stats() {
  static TlsStats* stats = new TlsStats();
  return *stats;
}

absl::Status ValidateCertificate(absl::string_view chain_pem, absl::string_view key_pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new: " + LastError());
  absl::Status s = LoadCertificate(ctx, chain_pem, key_pem);
  SSL_CTX_free(ctx);
  return s;
}

absl::Status ValidateCaBundle(absl::string_view pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new: " + LastError());
  absl::Status s = LoadCa(ctx, pem);
  SSL_CTX_free(ctx);
  return s;
}

// ---------------------------------------------------------------------------------------------

struct ServerContext::Cert {
  SSL_CTX* ctx = nullptr;
  std::string ocsp;  // Outlives ctx's status callback argument.
};

absl::StatusOr<std::shared_ptr<const ServerContext>> ServerContext::Create(
    const TlsListenerConfig& config) {
  std::shared_ptr<ServerContext> context(new ServerContext());
  context->config_ = std::make_shared<const TlsListenerConfig>(config);
  for (const std::string& key : config.ticket_keys) {
    if (key.size() != kTicketKeySize) {
      return absl::InvalidArgumentError(
          absl::StrCat("session ticket key: must be 80 bytes, got ", key.size()));
    }
  }
  context->alpn_wire_ = AlpnWire(config.alpn, /*server=*/true);
  absl::StatusOr<SSL_CTX*> base = NewServerCtx(config, context.get());
  if (!base.ok()) return base.status();
  context->base_ = *base;
  SSL_CTX_set_tlsext_servername_callback(context->base_, OnServerName);
  SSL_CTX_set_tlsext_servername_arg(context->base_, context.get());

  auto add = [&context, &config](const TlsCertificateConfig& cert) -> absl::StatusOr<int> {
    absl::StatusOr<SSL_CTX*> ctx = NewServerCtx(config, context.get());
    if (!ctx.ok()) return ctx.status();
    auto* c = new Cert();
    c->ctx = *ctx;
    c->ocsp = cert.ocsp_staple;
    context->certs_.push_back(c);
    if (absl::Status s = LoadCertificate(c->ctx, cert.certificate_chain, cert.private_key);
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate \"", cert.name, "\": ", s.message()));
    }
    SSL_CTX_set_tlsext_status_cb(c->ctx, OcspStatus);
    SSL_CTX_set_tlsext_status_arg(c->ctx, &c->ocsp);
    return static_cast<int>(context->certs_.size()) - 1;
  };
  for (const TlsListenerConfig::Chain& chain : config.chains) {
    absl::StatusOr<int> index = add(chain.certificate);
    if (!index.ok()) return index.status();
    for (const std::string& raw : chain.server_names) {
      std::string name = absl::AsciiStrToLower(raw);
      if (absl::StartsWith(name, "*.")) {
        context->wildcard_.emplace(name.substr(1), *index);  // First chain wins, as Envoy.
      } else {
        context->exact_.emplace(name, *index);
      }
    }
  }
  if (config.default_certificate.has_value()) {
    absl::StatusOr<int> index = add(*config.default_certificate);
    if (!index.ok()) return index.status();
    context->default_ = *index;
  }
  return std::shared_ptr<const ServerContext>(std::move(context));
}

ServerContext::~ServerContext() {
  for (Cert* c : certs_) {
    SSL_CTX_free(c->ctx);
    delete c;
  }
  SSL_CTX_free(base_);
}

SSL* ServerContext::NewSsl() const { return SSL_new(base_); }

int ServerContext::Select(absl::string_view server_name) const {
  if (!server_name.empty()) {
    std::string name = absl::AsciiStrToLower(server_name);
    if (auto it = exact_.find(name); it != exact_.end()) return it->second;
    // Longest suffix first: "a.b.example.com" tries ".b.example.com", then ".example.com".
    for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
      if (auto it = wildcard_.find(absl::string_view(name).substr(dot)); it != wildcard_.end()) {
        return it->second;
      }
    }
  }
  return default_;
}

int ServerContext::OnServerName(SSL* ssl, int* alert, void* arg) {
  const auto* context = static_cast<const ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  int index = context->Select(name == nullptr ? absl::string_view() : absl::string_view(name));
  if (index < 0) {
    Stats().unrecognized_name.fetch_add(1, std::memory_order_relaxed);
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set_SSL_CTX(ssl, context->certs_[index]->ctx);
  return SSL_TLSEXT_ERR_OK;
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const ClientContext>> ClientContext::Create(
    const UpstreamTlsConfig& config) {
  std::shared_ptr<ClientContext> context(new ClientContext());
  context->config_ = config;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new: " + LastError());
  context->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (config.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (absl::Status s = LoadCa(ctx, config.trusted_ca); !s.ok()) return s;
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (config.client_certificate.has_value()) {
    if (absl::Status s = LoadCertificate(ctx, config.client_certificate->certificate_chain,
                                         config.client_certificate->private_key);
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "client certificate \"", config.client_certificate->name, "\": ", s.message()));
    }
  }
  std::string alpn = AlpnWire(config.alpn, /*server=*/false);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned int>(alpn.size()));
  }
  return std::shared_ptr<const ClientContext>(std::move(context));
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<network::TransportSocket> ClientContext::Create() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl != nullptr && !config_.sni.empty()) {
    SSL_set_tlsext_host_name(ssl, config_.sni.c_str());
    // The certificate must name the SNI host (checked during verification).
    if (config_.verify) SSL_set1_host(ssl, config_.sni.c_str());
  }
  return std::make_unique<TlsSocket>(shared_from_this(), ssl, /*server=*/false);
}

std::unique_ptr<network::TransportSocket> NewServerSocket(
    std::shared_ptr<const ServerContext> context) {
  SSL* ssl = context->NewSsl();
  return std::make_unique<TlsSocket>(std::move(context), ssl, /*server=*/true);
}

}  // namespace lb::proxy::tls
