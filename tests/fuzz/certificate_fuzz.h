// Fuzz target of the certificate parser and validator (controller/model/certificate.h): the
// input is split at "\n@@\n" into cert_chain, private_key, comma-separated SNI names and an OCSP
// staple, and run through NormalizeCertificate and NormalizeUpstreamTls (as ca_pem).
//
// Invariants: no crash or sanitizer report; an error never contains a line of the private key;
// an accepted certificate has a fingerprint, valid SNI names and no key material in any output
// field. Build as a libFuzzer binary like tests/fuzz/build_libfuzzer.sh does, with
// tests/fuzz/certificate_fuzz.cc and controller/model/{certificate,validation}.cc.
#ifndef LB_TESTS_FUZZ_CERTIFICATE_FUZZ_H_
#define LB_TESTS_FUZZ_CERTIFICATE_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace lb::fuzz {

// The invariant violated, or "" if none. `accepted` (if not null) tells whether the
// certificate was accepted.
std::string RunCertificateInput(const uint8_t* data, size_t size, bool* accepted = nullptr);

// Joins the parts the way the target splits them.
std::string CertificateInput(const std::string& chain, const std::string& key,
                             const std::string& sni, const std::string& ocsp);

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_CERTIFICATE_FUZZ_H_
