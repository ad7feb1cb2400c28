// Validation of TLS material with OpenSSL: Certificate resources (SDS) and the CA bundles and
// settings of a cluster's upstream TLS. Pure functions; thread-safe.
//
// No message produced here ever contains key material: errors name the field and what is wrong
// with it ("certificate.private_key: does not match the certificate"), never its bytes.
#ifndef LB_CONTROLLER_MODEL_CERTIFICATE_H_
#define LB_CONTROLLER_MODEL_CERTIFICATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/validation/validation_errors.h"
#include "lb/v1/lb.pb.h"

namespace lb::model {

// Largest cert_chain, private_key, ca_pem and ocsp_staple accepted.
inline constexpr size_t kMaxPemBytes = 256 * 1024;
// SNI names per certificate.
inline constexpr size_t kMaxSniNames = 100;
// A leaf expiring sooner than this is accepted with a warning.
inline constexpr absl::Duration kExpiryWarning = absl::Hours(24 * 30);

// Certificate names: IsValidName and not starting with "lb." (reserved for the controller's own
// resources, e.g. the "lb.session-ticket-keys" secret). The problem, or "" if valid.
std::string CertificateNameProblem(absl::string_view name);

// An SNI name as a filter chain matches it: a lowercase host name, or "*." and a host name.
bool IsValidSniName(absl::string_view name);

// Validates `cert` as of `now` and fills its output fields: every PEM block of cert_chain parses
// as a certificate, the leaf (first) is issued by nothing but the next one and so on (chain
// order), the leaf is valid at `now` (not expired, not yet valid is an error too), the private
// key parses (unencrypted PEM) and matches the leaf, ocsp_staple (if set) parses as a DER OCSP
// response; SNI names are lowercased and distinct, each valid; no SNI names given means the
// leaf's DNS subjectAltNames (a certificate without any is refused unless it is the default).
// Sets `info`, clears `version`, and sets `warnings` (see CertificateWarnings). kInvalidArgument
// listing every problem, under `path`.
absl::Status NormalizeCertificate(lb::v1::Certificate* cert, absl::Time now,
                                  absl::string_view path = "certificate");

// Warnings for a certificate as of `now`: the leaf expires in less than kExpiryWarning, or has
// expired since it was stored; an SNI name the leaf does not cover.
std::vector<std::string> CertificateWarnings(const lb::v1::Certificate& cert, absl::Time now);

// What a read returns: `cert` without its private key, with warnings as of `now`.
lb::v1::Certificate RedactCertificate(lb::v1::Certificate cert, absl::Time now);

// Validates a cluster's upstream_tls: ca_pem (if set) is a bundle of one or more PEM
// certificates, sni is a host name, client_certificate a certificate name (its existence is
// the registry's check), insecure_skip_verify excludes ca_pem. Errors under `errors`' path.
void NormalizeUpstreamTls(lb::v1::UpstreamTls* tls, ValidationErrors* errors);

}  // namespace lb::model

#endif  // LB_CONTROLLER_MODEL_CERTIFICATE_H_
