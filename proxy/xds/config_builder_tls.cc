// ConfigBuilder: the TLS listener (LDS), certificates and ticket keys (SDS), and the upstream
// TLS of clusters (Cluster.transport_socket). The exact resources are those of docs/tls.md.
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/validation/validation_errors.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/tls/context.h"
#include "proxy/xds/config_builder.h"
#include "proxy/xds/config_builder_internal.h"

namespace lb::proxy::xds {
namespace {

namespace core_v3 = envoy::config::core::v3;
namespace listener_v3 = envoy::config::listener::v3;
namespace tls_v3 = envoy::extensions::transport_sockets::tls::v3;

using Field = ValidationErrors::ScopedField;
using internal::Quote;
using ::lb::xds::kDownstreamTlsContextType;
using ::lb::xds::kIngressTlsListenerName;
using ::lb::xds::kTlsTransportSocketName;
using ::lb::xds::kUpstreamTlsContextType;

constexpr size_t kTicketKeySize = 80;

// A DNS name: labels of letters, digits and '-', dot-separated.
bool IsHostName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

// Inline bytes of `source`, or nullopt after recording why not (`errors` at its path).
std::optional<std::string> Inline(const core_v3::DataSource& source, ValidationErrors* errors) {
  switch (source.specifier_case()) {
    case core_v3::DataSource::kInlineString:
      return source.inline_string();
    case core_v3::DataSource::kInlineBytes:
      return source.inline_bytes();
    case core_v3::DataSource::SPECIFIER_NOT_SET:
      errors->AddError("is required");
      return std::nullopt;
    default:
      errors->AddError("only inline_string or inline_bytes is supported");
      return std::nullopt;
  }
}

void CheckAds(const tls_v3::SdsSecretConfig& sds, ValidationErrors* errors) {
  if (sds.name().empty()) errors->AddFieldError(".name", "must not be empty");
  if (!sds.sds_config().has_ads()) errors->AddFieldError(".sds_config", "must be ads");
}

int TlsVersion(tls_v3::TlsParameters::TlsProtocol p, int automatic, absl::string_view field,
               ValidationErrors* errors) {
  switch (p) {
    case tls_v3::TlsParameters::TLS_AUTO:
      return automatic;
    case tls_v3::TlsParameters::TLSv1_2:
      return 0x0303;
    case tls_v3::TlsParameters::TLSv1_3:
      return 0x0304;
    default:
      errors->AddFieldError(field, "versions below TLSv1_2 are not supported");
      return automatic;
  }
}

// Checks an ALPN list (`errors` at alpn_protocols).
std::vector<std::string> Alpn(const google::protobuf::RepeatedPtrField<std::string>& protocols,
                              ValidationErrors* errors) {
  std::vector<std::string> out;
  for (int i = 0; i < protocols.size(); ++i) {
    if (protocols[i] != "h2" && protocols[i] != "http/1.1") {
      errors->AddFieldError(absl::StrCat("[", i, "]"),
                            absl::StrCat("unsupported protocol ", Quote(protocols[i])));
    } else {
      out.push_back(protocols[i]);
    }
  }
  return out;
}

}  // namespace

namespace internal {

std::shared_ptr<const UpstreamTlsConfig> MapUpstreamTls(const core_v3::TransportSocket& socket,
                                                        ValidationErrors* errors) {
  if (socket.name() != kTlsTransportSocketName) {
    errors->AddFieldError(".name", absl::StrCat("must be ", Quote(kTlsTransportSocketName)));
    return nullptr;
  }
  tls_v3::UpstreamTlsContext context;
  if (socket.typed_config().type_url() != kUpstreamTlsContextType ||
      !socket.typed_config().UnpackTo(&context)) {
    errors->AddFieldError(".typed_config", "must be an UpstreamTlsContext");
    return nullptr;
  }
  Field typed(errors, ".typed_config");
  auto out = std::make_shared<UpstreamTlsConfig>();
  out->sni = absl::AsciiStrToLower(context.sni());
  if (!out->sni.empty() && !IsHostName(out->sni)) {
    errors->AddFieldError(".sni", "must be a host name");
  }
  const tls_v3::CommonTlsContext& common = context.common_tls_context();
  Field common_field(errors, ".common_tls_context");
  if (common.has_validation_context_sds_secret_config()) {
    errors->AddFieldError(".validation_context_sds_secret_config", "is not supported");
  }
  out->verify = common.has_validation_context();
  if (out->verify) {
    Field ca_field(errors, ".validation_context.trusted_ca");
    const core_v3::DataSource& ca = common.validation_context().trusted_ca();
    std::optional<std::string> pem;
    if (ca.specifier_case() == core_v3::DataSource::kFilename) {
      std::ifstream in(ca.filename(), std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      if (!in) {
        errors->AddFieldError(".filename", absl::StrCat("cannot read ", Quote(ca.filename())));
      } else {
        pem = content.str();
      }
    } else {
      pem = Inline(ca, errors);
    }
    if (pem.has_value()) {
      if (absl::Status s = tls::ValidateCaBundle(*pem); !s.ok()) {
        errors->AddError(absl::StripPrefix(s.message(), "trusted_ca: "));
      }
      out->trusted_ca = std::move(*pem);
    }
  }
  if (common.tls_certificates_size() > 0) {
    errors->AddFieldError(".tls_certificates",
                          "inline certificates are not supported (use "
                          "tls_certificate_sds_secret_configs)");
  }
  if (common.tls_certificate_sds_secret_configs_size() > 1) {
    errors->AddFieldError(".tls_certificate_sds_secret_configs", "at most one is supported");
  } else if (common.tls_certificate_sds_secret_configs_size() == 1) {
    Field sds(errors, ".tls_certificate_sds_secret_configs[0]");
    CheckAds(common.tls_certificate_sds_secret_configs(0), errors);
    out->client_certificate =
        TlsCertificateConfig{common.tls_certificate_sds_secret_configs(0).name(), "", "", ""};
  }
  {
    Field alpn(errors, ".alpn_protocols");
    out->alpn = Alpn(common.alpn_protocols(), errors);
  }
  return out;
}

}  // namespace internal

absl::Status ConfigBuilder::ApplyListeners(const std::vector<listener_v3::Listener>& listeners,
                                           absl::string_view version) {
  ValidationErrors errors;
  ApplyListenersInternal(listeners, internal::Iota(listeners.size()), version, &errors);
  return errors.status();
}

absl::Status ConfigBuilder::ApplySecrets(const std::vector<tls_v3::Secret>& secrets,
                                         absl::string_view version) {
  ValidationErrors errors;
  ApplySecretsInternal(secrets, internal::Iota(secrets.size()), version, &errors);
  return errors.status();
}

void ConfigBuilder::ApplyListenersInternal(const std::vector<listener_v3::Listener>& listeners,
                                           const std::vector<int>& indexes,
                                           absl::string_view version, ValidationErrors* errors) {
  bool present = false;
  for (size_t i = 0; i < listeners.size(); ++i) {
    const listener_v3::Listener& l = listeners[i];
    if (l.name() != kIngressTlsListenerName) continue;  // Not subscribed to.
    const std::string label = internal::Label("Listener", l.name(), indexes[i]);
    if (present) {
      errors->AddFieldError(label, "duplicate in the response");
      continue;
    }
    present = true;
    ValidationErrors e;
    ListenerEntry entry;
    entry.version = std::string(version);
    bool first = true;
    auto map_chain = [&](const listener_v3::FilterChain& chain) -> ChainRef {
      ChainRef ref;
      for (int j = 0; j < chain.filter_chain_match().server_names_size(); ++j) {
        std::string name = absl::AsciiStrToLower(chain.filter_chain_match().server_names(j));
        absl::string_view host = absl::StartsWith(name, "*.") ? absl::string_view(name).substr(2)
                                                              : absl::string_view(name);
        if (!IsHostName(host)) {
          e.AddFieldError(absl::StrCat(".filter_chain_match.server_names[", j, "]"),
                          absl::StrCat(Quote(name), " is not a host name or \"*.\" + a domain"));
        }
        ref.server_names.push_back(std::move(name));
      }
      const core_v3::TransportSocket& socket = chain.transport_socket();
      Field socket_field(&e, ".transport_socket");
      if (socket.name() != kTlsTransportSocketName) {
        e.AddFieldError(".name", absl::StrCat("must be ", Quote(kTlsTransportSocketName)));
        return ref;
      }
      tls_v3::DownstreamTlsContext context;
      if (socket.typed_config().type_url() != kDownstreamTlsContextType ||
          !socket.typed_config().UnpackTo(&context)) {
        e.AddFieldError(".typed_config", "must be a DownstreamTlsContext");
        return ref;
      }
      Field typed(&e, ".typed_config");
      if (context.has_require_client_certificate() &&
          context.require_client_certificate().value()) {
        e.AddFieldError(".require_client_certificate", "is not supported");
      }
      std::string ticket_secret;
      switch (context.session_ticket_keys_type_case()) {
        case tls_v3::DownstreamTlsContext::kSessionTicketKeysSdsSecretConfig: {
          Field sds(&e, ".session_ticket_keys_sds_secret_config");
          CheckAds(context.session_ticket_keys_sds_secret_config(), &e);
          ticket_secret = context.session_ticket_keys_sds_secret_config().name();
          break;
        }
        case tls_v3::DownstreamTlsContext::SESSION_TICKET_KEYS_TYPE_NOT_SET:
          break;
        default:
          e.AddError("only session_ticket_keys_sds_secret_config is supported for tickets");
      }
      const tls_v3::CommonTlsContext& common = context.common_tls_context();
      Field common_field(&e, ".common_tls_context");
      const int min = TlsVersion(common.tls_params().tls_minimum_protocol_version(), 0x0303,
                                 ".tls_params.tls_minimum_protocol_version", &e);
      const int max = TlsVersion(common.tls_params().tls_maximum_protocol_version(), 0x0304,
                                 ".tls_params.tls_maximum_protocol_version", &e);
      if (min > max) {
        e.AddFieldError(".tls_params", "tls_minimum_protocol_version is above the maximum");
      }
      std::vector<std::string> alpn;
      {
        Field alpn_field(&e, ".alpn_protocols");
        alpn = Alpn(common.alpn_protocols(), &e);
      }
      if (common.tls_certificates_size() > 0) {
        e.AddFieldError(".tls_certificates",
                        "inline certificates are not supported (use "
                        "tls_certificate_sds_secret_configs)");
      }
      if (common.tls_certificate_sds_secret_configs_size() != 1) {
        e.AddFieldError(".tls_certificate_sds_secret_configs", "exactly one is required");
      } else {
        Field sds(&e, ".tls_certificate_sds_secret_configs[0]");
        CheckAds(common.tls_certificate_sds_secret_configs(0), &e);
        ref.secret = common.tls_certificate_sds_secret_configs(0).name();
      }
      // One set of settings for the listener: the first chain's (the controller gives every
      // chain the same).
      if (first) {
        first = false;
        entry.min_version = min;
        entry.max_version = max;
        entry.alpn = std::move(alpn);
        entry.ticket_secret = std::move(ticket_secret);
      }
      return ref;
    };
    for (int j = 0; j < l.filter_chains_size(); ++j) {
      Field chain(&e, absl::StrCat(".filter_chains[", j, "]"));
      entry.chains.push_back(map_chain(l.filter_chains(j)));
    }
    if (l.has_default_filter_chain()) {
      Field chain(&e, ".default_filter_chain");
      entry.default_chain = map_chain(l.default_filter_chain());
    }
    if (!e.ok()) {
      errors->AddFieldError(label, e.message());
      continue;  // The previous good listener stays.
    }
    listener_ = std::move(entry);
    dirty_ = true;
  }
  if (!present && listener_.has_value()) {
    listener_.reset();  // State of the world: it is gone.
    dirty_ = true;
  }
}

void ConfigBuilder::ApplySecretsInternal(const std::vector<tls_v3::Secret>& secrets,
                                         const std::vector<int>& indexes, absl::string_view version,
                                         ValidationErrors* errors) {
  std::set<std::string> seen;
  for (size_t i = 0; i < secrets.size(); ++i) {
    const tls_v3::Secret& s = secrets[i];
    const std::string label = internal::Label("Secret", s.name(), indexes[i]);
    if (s.name().empty()) {
      errors->AddFieldError(label, "name: must not be empty");
      continue;
    }
    if (!seen.insert(s.name()).second) {
      errors->AddFieldError(label, "duplicate in the response");
      continue;
    }
    ValidationErrors e;
    SecretEntry entry;
    entry.version = std::string(version);
    switch (s.type_case()) {
      case tls_v3::Secret::kTlsCertificate: {
        Field field(&e, ".tls_certificate");
        const tls_v3::TlsCertificate& c = s.tls_certificate();
        TlsCertificateConfig cert;
        cert.name = s.name();
        std::optional<std::string> chain, key;
        {
          Field f(&e, ".certificate_chain");
          chain = Inline(c.certificate_chain(), &e);
        }
        {
          Field f(&e, ".private_key");
          key = Inline(c.private_key(), &e);
        }
        if (c.has_password()) e.AddFieldError(".password", "is not supported");
        if (c.has_ocsp_staple()) {
          Field f(&e, ".ocsp_staple");
          if (std::optional<std::string> ocsp = Inline(c.ocsp_staple(), &e)) {
            cert.ocsp_staple = std::move(*ocsp);
          }
        }
        if (chain.has_value() && key.has_value()) {
          // The message names the field: "private_key: does not match the certificate".
          if (absl::Status st = tls::ValidateCertificate(*chain, *key); !st.ok()) {
            e.AddError(st.message());
          }
          cert.certificate_chain = std::move(*chain);
          cert.private_key = std::move(*key);
        }
        entry.certificate = std::move(cert);
        break;
      }
      case tls_v3::Secret::kSessionTicketKeys: {
        Field field(&e, ".session_ticket_keys.keys");
        const auto& keys = s.session_ticket_keys().keys();
        if (keys.empty()) e.AddError("at least one key is required");
        for (int j = 0; j < keys.size(); ++j) {
          Field k(&e, absl::StrCat("[", j, "]"));
          std::optional<std::string> key = Inline(keys[j], &e);
          if (!key.has_value()) continue;
          if (key->size() != kTicketKeySize) {
            e.AddError(absl::StrCat("must be ", kTicketKeySize, " bytes, got ", key->size()));
            continue;
          }
          entry.ticket_keys.push_back(std::move(*key));
        }
        break;
      }
      case tls_v3::Secret::kValidationContext:
        e.AddFieldError(".validation_context", "is not supported");
        break;
      case tls_v3::Secret::TYPE_NOT_SET:
        e.AddError("one of tls_certificate or session_ticket_keys is required");
        break;
    }
    if (!e.ok()) {
      errors->AddFieldError(label, e.message());
      continue;  // The previous good version stays.
    }
    secrets_[s.name()] = std::move(entry);
    dirty_ = true;
  }
}

std::vector<std::string> ConfigBuilder::SecretNames() const {
  std::set<std::string> names;
  if (listener_.has_value()) {
    for (const ChainRef& c : listener_->chains) names.insert(c.secret);
    if (listener_->default_chain.has_value()) names.insert(listener_->default_chain->secret);
    if (!listener_->ticket_secret.empty()) names.insert(listener_->ticket_secret);
  }
  for (const auto& [name, entry] : clusters_) {
    const auto& tls = entry.config.tls;
    if (tls != nullptr && tls->client_certificate.has_value()) {
      names.insert(tls->client_certificate->name);
    }
  }
  names.erase("");
  return {names.begin(), names.end()};
}

const TlsCertificateConfig* ConfigBuilder::FindCertificate(const std::string& secret) const {
  auto it = secrets_.find(secret);
  if (it == secrets_.end() || !it->second.certificate.has_value()) return nullptr;
  return &*it->second.certificate;
}

std::shared_ptr<const TlsListenerConfig> ConfigBuilder::BuildTlsListener() const {
  if (!listener_.has_value()) return nullptr;
  auto out = std::make_shared<TlsListenerConfig>();
  out->min_version = listener_->min_version;
  out->max_version = listener_->max_version;
  out->alpn = listener_->alpn;
  out->version = listener_->version;
  for (const ChainRef& c : listener_->chains) {
    const TlsCertificateConfig* cert = FindCertificate(c.secret);
    if (cert == nullptr) continue;  // Not arrived yet.
    out->chains.push_back({c.server_names, *cert});
  }
  if (listener_->default_chain.has_value()) {
    if (const TlsCertificateConfig* cert = FindCertificate(listener_->default_chain->secret)) {
      out->default_certificate = *cert;
    }
  }
  if (auto it = secrets_.find(listener_->ticket_secret); it != secrets_.end()) {
    out->ticket_keys = it->second.ticket_keys;
  }
  if (out->chains.empty() && !out->default_certificate.has_value()) return nullptr;
  return out;
}

}  // namespace lb::proxy::xds
