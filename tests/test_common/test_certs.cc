#include "tests/test_common/test_certs.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace lb::testing {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

absl::Status OpenSslError(const std::string& what) {
  return absl::InternalError(absl::StrCat("test_certs: ", what, " failed"));
}

absl::StatusOr<PkeyPtr> NewKey(bool rsa) {
  EVP_PKEY* key = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return OpenSslError("key generation");
  return PkeyPtr(key);
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("PEM_write_bio_X509");
  return BioString(bio.get());
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioString(bio.get());
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

struct Built {
  X509Ptr cert;
  PkeyPtr key;
};

// Makes a certificate for a new key; signed by (issuer, issuer_key), or self-signed when they
// are null.
absl::StatusOr<Built> Build(const CertOptions& options, bool ca, X509* issuer,
                            EVP_PKEY* issuer_key) {
  absl::StatusOr<PkeyPtr> key = NewKey(options.rsa);
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return OpenSslError("X509_new");
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return OpenSslError("RAND_bytes");
  serial_bytes[0] &= 0x7f;
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  if (serial == nullptr) return OpenSslError("BN_bin2bn");
  ASN1_INTEGER* serial_asn1 = BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  if (serial_asn1 == nullptr) return OpenSslError("serial number");
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), absl::ToInt64Seconds(options.not_before)) ==
          nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(options.not_after)) ==
          nullptr) {
    return OpenSslError("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("lb tests"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(options.common_name.c_str()), -1, -1, 0) != 1) {
    return OpenSslError("subject name");
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key : key->get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), key->get()) != 1) {
    return OpenSslError("issuer or public key");
  }
  absl::Status status = AddExt(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (status.ok() && issuer != nullptr) {
    status = AddExt(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  }
  if (!status.ok()) return status;
  if (ca) {
    status = AddExt(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    if (status.ok())
      status = AddExt(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    status = AddExt(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    if (status.ok()) {
      status = AddExt(
          cert.get(), signer, NID_key_usage,
          options.rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    }
    std::vector<std::string> usages;
    if (options.server) usages.push_back("serverAuth");
    if (options.client) usages.push_back("clientAuth");
    if (status.ok() && !usages.empty()) {
      status = AddExt(cert.get(), signer, NID_ext_key_usage, absl::StrJoin(usages, ","));
    }
    std::vector<std::string> sans;
    for (const std::string& dns : options.dns_names) sans.push_back(absl::StrCat("DNS:", dns));
    for (const std::string& ip : options.ip_addresses) sans.push_back(absl::StrCat("IP:", ip));
    if (status.ok() && !sans.empty()) {
      status = AddExt(cert.get(), signer, NID_subject_alt_name, absl::StrJoin(sans, ","));
    }
  }
  if (!status.ok()) return status;
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) <= 0) return OpenSslError("X509_sign");
  return Built{std::move(cert), std::move(*key)};
}

absl::StatusOr<TestCert> ToTestCert(const Built& built, const std::string& chain_suffix) {
  TestCert out;
  absl::StatusOr<std::string> cert = CertPem(built.cert.get());
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = KeyPem(built.key.get());
  if (!key.ok()) return key.status();
  out.cert_pem = *cert;
  out.key_pem = *key;
  out.chain_pem = absl::StrCat(*cert, chain_suffix);
  return out;
}

absl::Status WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("write ", path, ": ", strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  fchmod(fd, mode);
  close(fd);
  return absl::OkStatus();
}

}  // namespace

struct TestCa::Impl {
  X509Ptr cert;
  PkeyPtr key;
  TestCert pem;
  // Intermediates between this CA and the root, leaf-side first (PEM), for leaves' chains.
  std::string chain_suffix;
};

TestCa::TestCa(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestCa::TestCa(TestCa&&) noexcept = default;
TestCa& TestCa::operator=(TestCa&&) noexcept = default;
TestCa::~TestCa() = default;

absl::StatusOr<TestCa> TestCa::Create(const std::string& common_name) {
  CertOptions options;
  options.common_name = common_name;
  options.not_after = absl::Hours(24 * 3650);
  absl::StatusOr<Built> built = Build(options, /*ca=*/true, nullptr, nullptr);
  if (!built.ok()) return built.status();
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<TestCert> pem = ToTestCert(*built, "");
  if (!pem.ok()) return pem.status();
  impl->pem = *std::move(pem);
  impl->cert = std::move(built->cert);
  impl->key = std::move(built->key);
  return TestCa(std::move(impl));
}

const std::string& TestCa::cert_pem() const { return impl_->pem.cert_pem; }
const TestCert& TestCa::cert() const { return impl_->pem; }

absl::StatusOr<TestCert> TestCa::Issue(const CertOptions& options) const {
  absl::StatusOr<Built> built = Build(options, /*ca=*/false, impl_->cert.get(), impl_->key.get());
  if (!built.ok()) return built.status();
  return ToTestCert(*built, impl_->chain_suffix);
}

absl::StatusOr<TestCa> TestCa::CreateIntermediate(const std::string& common_name) const {
  CertOptions options;
  options.common_name = common_name;
  options.not_after = absl::Hours(24 * 3650);
  absl::StatusOr<Built> built = Build(options, /*ca=*/true, impl_->cert.get(), impl_->key.get());
  if (!built.ok()) return built.status();
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<TestCert> pem = ToTestCert(*built, impl_->chain_suffix);
  if (!pem.ok()) return pem.status();
  impl->pem = *std::move(pem);
  impl->chain_suffix = impl->pem.chain_pem;
  impl->cert = std::move(built->cert);
  impl->key = std::move(built->key);
  return TestCa(std::move(impl));
}

absl::StatusOr<std::string> TestCa::WriteCaFile(const std::string& dir,
                                                const std::string& name) const {
  std::string path = absl::StrCat(dir, "/", name, "-ca.crt");
  absl::Status status = WriteFile(path, impl_->pem.cert_pem, 0644);
  if (!status.ok()) return status;
  return path;
}

absl::StatusOr<TestCert> MakeSelfSigned(const CertOptions& options) {
  absl::StatusOr<Built> built = Build(options, /*ca=*/false, nullptr, nullptr);
  if (!built.ok()) return built.status();
  return ToTestCert(*built, "");
}

absl::Status WriteFiles(const std::string& dir, const std::string& name, TestCert* cert) {
  std::string cert_path = absl::StrCat(dir, "/", name, ".crt");
  std::string key_path = absl::StrCat(dir, "/", name, ".key");
  absl::Status status = WriteFile(cert_path, cert->chain_pem, 0644);
  if (status.ok()) status = WriteFile(key_path, cert->key_pem, 0600);
  if (!status.ok()) return status;
  cert->cert_path = cert_path;
  cert->key_path = key_path;
  return absl::OkStatus();
}

absl::StatusOr<std::string> WriteTempFile(const std::string& name, const std::string& data) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  absl::Status status = WriteFile(path, data, 0644);
  if (!status.ok()) return status;
  return path;
}

TestCa CreateCaOrDie(const std::string& common_name) {
  absl::StatusOr<TestCa> ca = TestCa::Create(common_name);
  if (!ca.ok()) {
    std::fprintf(stderr, "TestCa::Create(\"%s\"): %s\n", common_name.c_str(),
                 ca.status().ToString().c_str());
    std::abort();
  }
  return *std::move(ca);
}

TestCert IssueOrDie(const TestCa& ca, const std::string& common_name,
                    const std::vector<std::string>& dns_names) {
  CertOptions options;
  options.common_name = common_name;
  options.dns_names = dns_names;
  absl::StatusOr<TestCert> cert = ca.Issue(options);
  if (!cert.ok()) {
    std::fprintf(stderr, "TestCa::Issue(\"%s\"): %s\n", common_name.c_str(),
                 cert.status().ToString().c_str());
    std::abort();
  }
  return *std::move(cert);
}

}  // namespace lb::testing
