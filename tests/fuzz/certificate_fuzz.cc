#include "tests/fuzz/certificate_fuzz.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/validation/validation_errors.h"
#include "controller/model/certificate.h"

namespace lb::fuzz {
namespace {
constexpr char kSeparator[] = "\n@@\n";
}  // namespace

std::string CertificateInput(const std::string& chain, const std::string& key,
                             const std::string& sni, const std::string& ocsp) {
  return absl::StrCat(chain, kSeparator, key, kSeparator, sni, kSeparator, ocsp);
}

std::string RunCertificateInput(const uint8_t* data, size_t size, bool* accepted) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = absl::StrSplit(input, kSeparator);
  parts.resize(4);
  lb::v1::Certificate cert;
  cert.set_name("fuzz");
  cert.set_cert_chain(parts[0]);
  cert.set_private_key(parts[1]);
  for (absl::string_view s : absl::StrSplit(parts[2], ',', absl::SkipEmpty())) {
    cert.add_sni(std::string(s));
  }
  cert.set_ocsp_staple(parts[3]);
  // A fixed time: the outcome depends on the input only.
  absl::Status status = model::NormalizeCertificate(&cert, absl::FromUnixSeconds(1800000000));
  if (accepted != nullptr) *accepted = status.ok();
  std::vector<std::string> key_lines;
  for (absl::string_view line : absl::StrSplit(parts[1], '\n', absl::SkipEmpty())) {
    if (line.size() >= 16 && !absl::StartsWith(line, "-----")) key_lines.emplace_back(line);
  }
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kInvalidArgument) {
      return absl::StrCat("unexpected code: ", status.ToString());
    }
    for (const std::string& line : key_lines) {
      // Text the input also has in another field (a key pasted as the chain or as an SNI name)
      // may be quoted from there.
      if (absl::StrContains(status.message(), line) && !absl::StrContains(parts[0], line) &&
          !absl::StrContains(parts[2], line)) {
        return absl::StrCat("an error quotes the private key: ", status.message());
      }
    }
  } else {
    if (cert.info().sha256_fingerprint().empty()) return "accepted without a fingerprint";
    for (const std::string& sni : cert.sni()) {
      if (!model::IsValidSniName(sni)) return absl::StrCat("accepted SNI \"", sni, "\"");
    }
    lb::v1::Certificate redacted = model::RedactCertificate(cert, absl::FromUnixSeconds(0));
    if (!redacted.private_key().empty()) return "redaction kept the key";
  }
  lb::v1::UpstreamTls tls;
  tls.set_enabled(true);
  tls.set_ca_pem(parts[0]);
  tls.set_sni(parts[2]);
  ValidationErrors errors;
  model::NormalizeUpstreamTls(&tls, &errors);
  return "";
}

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = lb::fuzz::RunCertificateInput(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "invariant violated: %s\ninput: \"%s\"\n", problem.c_str(),
                 absl::CHexEscape(std::string(reinterpret_cast<const char*>(data), size)).c_str());
    std::abort();
  }
  return 0;
}
