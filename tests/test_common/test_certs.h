// Test certificates made at run time with OpenSSL (no private key is committed): a CA, leaf
// certificates it issues (server and/or client, with DNS and IP subject alternative names),
// intermediates, self-signed and expired certificates, and files for them under TEST_TMPDIR.
//
// Keys are ECDSA P-256 unless `rsa` is set. Every function is thread-compatible: a TestCa may be
// used from one thread at a time; distinct objects are independent.
#ifndef LB_TESTS_TEST_COMMON_TEST_CERTS_H_
#define LB_TESTS_TEST_COMMON_TEST_CERTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lb::testing {

// What a certificate says. Offsets are from now, so an expired certificate is
// {.not_before = -48h, .not_after = -24h}.
struct CertOptions {
  std::string common_name = "localhost";
  std::vector<std::string> dns_names;     // subjectAltName DNS entries.
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries ("127.0.0.1", "::1").
  bool server = true;                     // extendedKeyUsage serverAuth.
  bool client = false;                    // extendedKeyUsage clientAuth.
  absl::Duration not_before = absl::Hours(-1);
  absl::Duration not_after = absl::Hours(24 * 365);
  bool rsa = false;  // RSA 2048 instead of ECDSA P-256.
};

// A certificate and its key, PEM. `chain_pem` is the leaf followed by every intermediate up to
// (not including) the root: what a server sends. Paths are set by WriteFiles.
struct TestCert {
  std::string cert_pem;
  std::string key_pem;
  std::string chain_pem;
  std::string cert_path;  // chain_pem's file.
  std::string key_path;   // Mode 0600.
};

class TestCa {
 public:
  // A self-signed root CA (basicConstraints CA:TRUE, keyCertSign). kInternal on OpenSSL errors.
  static absl::StatusOr<TestCa> Create(const std::string& common_name = "lb test root CA");

  TestCa(TestCa&&) noexcept;
  TestCa& operator=(TestCa&&) noexcept;
  ~TestCa();

  // The CA's own certificate (PEM): what clients and servers trust.
  const std::string& cert_pem() const;
  // The CA's certificate and key; chain_pem is the CA's chain (itself for a root).
  const TestCert& cert() const;

  // A leaf certificate signed by this CA.
  absl::StatusOr<TestCert> Issue(const CertOptions& options) const;
  // An intermediate CA signed by this CA; its leaves' chain_pem ends with its certificate.
  absl::StatusOr<TestCa> CreateIntermediate(const std::string& common_name) const;

  // Writes <dir>/<name>-ca.crt (the CA certificate) and returns its path.
  absl::StatusOr<std::string> WriteCaFile(const std::string& dir, const std::string& name) const;

 private:
  struct Impl;
  explicit TestCa(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A self-signed leaf (its own issuer; not a CA).
absl::StatusOr<TestCert> MakeSelfSigned(const CertOptions& options);

// Writes <dir>/<name>.crt (chain_pem) and <dir>/<name>.key (key_pem, mode 0600) and sets the
// paths in `cert`.
absl::Status WriteFiles(const std::string& dir, const std::string& name, TestCert* cert);

// Writes `data` to <TEST_TMPDIR, else /tmp>/<name> (mode 0644) and returns the path.
absl::StatusOr<std::string> WriteTempFile(const std::string& name, const std::string& data);

// For fixtures that hold certificates as plain members: a root CA, and a server leaf it signs
// with subject CN `common_name` and DNS subjectAltNames `dns_names` (other options default).
// On an OpenSSL error they print it and abort(): a broken test environment, not a test result.
TestCa CreateCaOrDie(const std::string& common_name);
TestCert IssueOrDie(const TestCa& ca, const std::string& common_name,
                    const std::vector<std::string>& dns_names);

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_TEST_CERTS_H_
