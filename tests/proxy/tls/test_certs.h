// Certificates for TLS tests, made at run time (no private key is committed): a CA and leaf
// certificates it signs, as PEM. EC P-256 keys, valid from an hour ago for a day.
#ifndef LB_TESTS_PROXY_TLS_TEST_CERTS_H_
#define LB_TESTS_PROXY_TLS_TEST_CERTS_H_

#include <string>
#include <vector>

namespace lb::testing::tls {

struct Pem {
  std::string cert;  // The certificate (leaf only).
  std::string key;   // Its private key (PKCS#8).
};

// A self-signed CA named `common_name`.
Pem MakeCa(const std::string& common_name);
// A leaf signed by `ca` with subject CN `common_name` and DNS subject alternative names `dns`.
Pem MakeLeaf(const Pem& ca, const std::string& common_name, const std::vector<std::string>& dns);

// Writes `data` to `name` under TEST_TMPDIR (or /tmp); returns the path.
std::string WriteTempFile(const std::string& name, const std::string& data);

}  // namespace lb::testing::tls

#endif  // LB_TESTS_PROXY_TLS_TEST_CERTS_H_
