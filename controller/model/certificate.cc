#include "controller/model/certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/model/validation.h"

namespace lb::model {
namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Refuses encrypted keys instead of prompting on a terminal.
int NoPassword(char*, int, int, void*) { return -1; }

BioPtr MemBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Every PEM block of `pem`. Sets *problem for a block that is not a certificate or does not
// parse (e.g. a private key pasted into the chain).
std::vector<X509Ptr> ParseChain(absl::string_view pem, std::string* problem) {
  std::vector<X509Ptr> out;
  BioPtr bio = MemBio(pem);
  while (true) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
    std::string block_name = name;
    OPENSSL_free(name);
    OPENSSL_free(header);
    std::unique_ptr<unsigned char, void (*)(void*)> owned(data, [](void* p) { OPENSSL_free(p); });
    if (block_name != "CERTIFICATE" && block_name != "TRUSTED CERTIFICATE" &&
        block_name != "X509 CERTIFICATE") {
      *problem = absl::StrCat("PEM block ", out.size() + 1, " is a \"", block_name,
                              "\", not a CERTIFICATE");
      ERR_clear_error();
      return {};
    }
    const unsigned char* p = data;
    X509* cert = d2i_X509(nullptr, &p, len);
    if (cert == nullptr) {
      *problem = absl::StrCat("certificate ", out.size() + 1, " does not parse");
      ERR_clear_error();
      return {};
    }
    out.emplace_back(cert);
  }
  ERR_clear_error();  // The end of the input reads as an error.
  if (out.empty()) *problem = "no PEM certificate found";
  return out;
}

std::string NameText(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  ts->set_seconds(absl::ToUnixSeconds(t));
  ts->set_nanos(0);
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds());
}

void FillInfo(X509* leaf, size_t chain_length, lb::v1::CertificateInfo* info) {
  info->Clear();
  info->set_subject(NameText(X509_get_subject_name(leaf)));
  info->set_issuer(NameText(X509_get_issuer_name(leaf)));
  GENERAL_NAMES* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        info->add_dns_names(absl::AsciiStrToLower(
            absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                              static_cast<size_t>(ASN1_STRING_length(s)))));
      } else if (gn->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = gn->d.iPAddress;
        const unsigned char* b = ASN1_STRING_get0_data(s);
        if (ASN1_STRING_length(s) == 4) {
          info->add_ip_addresses(absl::StrFormat("%d.%d.%d.%d", b[0], b[1], b[2], b[3]));
        } else if (ASN1_STRING_length(s) == 16) {
          std::string text;
          for (int j = 0; j < 16; j += 2) {
            absl::StrAppend(&text, j == 0 ? "" : ":", absl::Hex((b[j] << 8) | b[j + 1]));
          }
          info->add_ip_addresses(text);
        }
      }
    }
    GENERAL_NAMES_free(sans);
  }
  SetTimestamp(AsnTime(X509_get0_notBefore(leaf)), info->mutable_not_before());
  SetTimestamp(AsnTime(X509_get0_notAfter(leaf)), info->mutable_not_after());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(leaf, EVP_sha256(), md, &md_len) == 1) {
    std::string fp;
    for (unsigned int i = 0; i < md_len; ++i) {
      absl::StrAppend(&fp, i == 0 ? "" : ":", absl::StrFormat("%02X", md[i]));
    }
    info->set_sha256_fingerprint(fp);
  }
  info->set_chain_length(static_cast<uint32_t>(chain_length));
}

std::string Short(absl::string_view s) { return std::string(s.substr(0, 200)); }

// `name` in quotes when it looks like a host name attempt (letters, digits, '.', '-', '_', '*',
// at most 253 bytes); otherwise a description: an error must not echo arbitrary text (such as
// a key pasted into the wrong field).
std::string QuotedName(absl::string_view name) {
  bool plain = !name.empty() && name.size() <= 253;
  for (char c : name) {
    plain &= absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_' || c == '*';
  }
  if (plain) return absl::StrCat("\"", name, "\"");
  return absl::StrCat("a value of ", name.size(),
                      " bytes with characters other than letters, digits, '.', '-' and '*'");
}

// True if the SNI name `sni` is covered by a DNS name of the certificate (wildcards as
// RFC 6125: one leftmost label).
bool Covered(absl::string_view sni, const lb::v1::CertificateInfo& info) {
  for (const std::string& dns : info.dns_names()) {
    if (dns == sni) return true;
    if (absl::StartsWith(dns, "*.")) {
      absl::string_view suffix = absl::string_view(dns).substr(1);  // ".example.com"
      if (absl::StartsWith(sni, "*.") && sni.substr(1) == suffix) return true;
      size_t dot = sni.find('.');
      if (!absl::StartsWith(sni, "*.") && dot != absl::string_view::npos &&
          sni.substr(dot) == suffix) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string CertificateNameProblem(absl::string_view name) {
  if (name.empty()) return "is required";
  if (!IsValidName(name)) return "must be 1-128 characters of [a-zA-Z0-9_.-]";
  if (absl::StartsWith(name, "lb.")) return "must not start with \"lb.\" (reserved)";
  return "";
}

bool IsValidSniName(absl::string_view name) {
  if (absl::StartsWith(name, "*.")) name.remove_prefix(2);
  if (name.empty() || !IsHostname(name) || IsIpLiteral(name)) return false;
  for (char c : name) {
    if (absl::ascii_isupper(c)) return false;
  }
  return true;
}

absl::Status NormalizeCertificate(lb::v1::Certificate* cert, absl::Time now,
                                  absl::string_view path) {
  ValidationErrors errors;
  ValidationErrors::ScopedField top(&errors, path);
  cert->clear_version();
  cert->clear_info();
  cert->clear_warnings();
  if (std::string p = CertificateNameProblem(cert->name()); !p.empty()) {
    errors.AddFieldError(".name", p);
  }
  std::vector<X509Ptr> chain;
  if (cert->cert_chain().empty()) {
    errors.AddFieldError(".cert_chain", "is required (PEM)");
  } else if (cert->cert_chain().size() > kMaxPemBytes) {
    errors.AddFieldError(".cert_chain", absl::StrCat("is over ", kMaxPemBytes, " bytes"));
  } else {
    std::string problem;
    chain = ParseChain(cert->cert_chain(), &problem);
    if (!problem.empty()) errors.AddFieldError(".cert_chain", problem);
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (X509_check_issued(chain[i].get(), chain[i - 1].get()) != X509_V_OK) {
      errors.AddFieldError(".cert_chain",
                           absl::StrCat("certificate ", i + 1, " (",
                                        Short(NameText(X509_get_subject_name(chain[i].get()))),
                                        ") did not issue certificate ", i, " (",
                                        Short(NameText(X509_get_subject_name(chain[i - 1].get()))),
                                        "); give the leaf first, then each issuer"));
    }
  }
  X509* leaf = chain.empty() ? nullptr : chain[0].get();
  if (leaf != nullptr) {
    FillInfo(leaf, chain.size(), cert->mutable_info());
    absl::Time not_before = FromTimestamp(cert->info().not_before());
    absl::Time not_after = FromTimestamp(cert->info().not_after());
    if (not_after < now) {
      errors.AddFieldError(
          ".cert_chain",
          absl::StrCat("the certificate expired at ",
                       absl::FormatTime(absl::RFC3339_sec, not_after, absl::UTCTimeZone())));
    } else if (not_before > now) {
      errors.AddFieldError(
          ".cert_chain",
          absl::StrCat("the certificate is not valid before ",
                       absl::FormatTime(absl::RFC3339_sec, not_before, absl::UTCTimeZone())));
    }
  }
  if (cert->private_key().empty()) {
    errors.AddFieldError(".private_key", "is required (PEM)");
  } else if (cert->private_key().size() > kMaxPemBytes) {
    errors.AddFieldError(".private_key", absl::StrCat("is over ", kMaxPemBytes, " bytes"));
  } else {
    BioPtr bio = MemBio(cert->private_key());
    PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
    ERR_clear_error();
    if (key == nullptr) {
      errors.AddFieldError(".private_key",
                           "is not an unencrypted PEM private key (PKCS#8, RSA or EC)");
    } else if (leaf != nullptr && X509_check_private_key(leaf, key.get()) != 1) {
      ERR_clear_error();
      errors.AddFieldError(".private_key", "does not match the certificate (the chain's first)");
    }
  }
  if (!cert->ocsp_staple().empty()) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(cert->ocsp_staple().data());
    OCSP_RESPONSE* resp =
        cert->ocsp_staple().size() > kMaxPemBytes
            ? nullptr
            : d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(cert->ocsp_staple().size()));
    ERR_clear_error();
    if (resp == nullptr) {
      errors.AddFieldError(".ocsp_staple", "is not a DER OCSP response");
    } else {
      OCSP_RESPONSE_free(resp);
    }
  }
  // SNI names.
  if (cert->sni_size() == 0 && leaf != nullptr) {
    for (const std::string& dns : cert->info().dns_names()) {
      if (IsValidSniName(dns)) cert->add_sni(dns);
    }
    if (cert->sni_size() == 0 && !cert->default_()) {
      errors.AddFieldError(".sni",
                           "none given and the certificate has no DNS subjectAltName; give SNI "
                           "names or make it the default");
    }
  }
  if (static_cast<size_t>(cert->sni_size()) > kMaxSniNames) {
    errors.AddFieldError(".sni", absl::StrCat("at most ", kMaxSniNames, " names"));
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < cert->sni_size(); ++i) {
    std::string lower = absl::AsciiStrToLower(cert->sni(i));
    if (absl::EndsWith(lower, ".")) lower.pop_back();
    if (!IsValidSniName(lower)) {
      errors.AddFieldError(
          absl::StrCat(".sni[", i, "]"),
          absl::StrCat(QuotedName(cert->sni(i)), " is not a host name or \"*.\" and a host name"));
    } else if (!seen.insert(lower).second) {
      errors.AddFieldError(absl::StrCat(".sni[", i, "]"),
                           absl::StrCat("\"", lower, "\" is given twice"));
    }
    *cert->mutable_sni(i) = lower;
  }
  if (!errors.ok()) return errors.status();
  for (std::string& w : CertificateWarnings(*cert, now)) cert->add_warnings(std::move(w));
  return absl::OkStatus();
}

std::vector<std::string> CertificateWarnings(const lb::v1::Certificate& cert, absl::Time now) {
  std::vector<std::string> out;
  if (!cert.has_info()) return out;
  absl::Time not_after = FromTimestamp(cert.info().not_after());
  std::string when = absl::FormatTime(absl::RFC3339_sec, not_after, absl::UTCTimeZone());
  if (not_after < now) {
    out.push_back(absl::StrCat("expired at ", when));
  } else if (not_after - now < kExpiryWarning) {
    out.push_back(absl::StrCat("expires at ", when, ", in less than 30 days"));
  }
  for (const std::string& sni : cert.sni()) {
    if (!Covered(sni, cert.info())) {
      out.push_back(absl::StrCat("SNI name \"", sni,
                                 "\" is not among the certificate's DNS subjectAltNames"));
    }
  }
  return out;
}

lb::v1::Certificate RedactCertificate(lb::v1::Certificate cert, absl::Time now) {
  cert.clear_private_key();
  cert.clear_warnings();
  for (std::string& w : CertificateWarnings(cert, now)) cert.add_warnings(std::move(w));
  return cert;
}

void NormalizeUpstreamTls(lb::v1::UpstreamTls* tls, ValidationErrors* errors) {
  if (!tls->ca_pem().empty()) {
    if (tls->ca_pem().size() > kMaxPemBytes) {
      errors->AddFieldError(".ca_pem", absl::StrCat("is over ", kMaxPemBytes, " bytes"));
    } else {
      std::string problem;
      ParseChain(tls->ca_pem(), &problem);
      if (!problem.empty()) errors->AddFieldError(".ca_pem", problem);
    }
    if (tls->insecure_skip_verify()) {
      errors->AddFieldError(".insecure_skip_verify",
                            "cannot be set with ca_pem (nothing would be verified against it)");
    }
  }
  if (!tls->sni().empty()) {
    std::string lower = absl::AsciiStrToLower(tls->sni());
    if (!IsHostname(lower) || IsIpLiteral(lower)) {
      errors->AddFieldError(".sni", absl::StrCat(QuotedName(tls->sni()), " is not a host name"));
    }
    tls->set_sni(lower);
  }
  if (!tls->client_certificate().empty()) {
    if (std::string p = CertificateNameProblem(tls->client_certificate()); !p.empty()) {
      errors->AddFieldError(".client_certificate", p);
    }
  }
  if (!tls->enabled() && (!tls->ca_pem().empty() || !tls->sni().empty() ||
                          !tls->client_certificate().empty() || tls->insecure_skip_verify())) {
    errors->AddFieldError(".enabled", "must be true when other upstream_tls fields are set");
  }
}

}  // namespace lb::model
