// Runs the certificate fuzz target as an ordinary test. Its seeds are made at run time (no
// private key is committed): valid certificates with and without intermediates, RSA and ECDSA,
// expired ones, swapped keys; then deterministic random mutations of them (fixed seed).
#include "tests/fuzz/certificate_fuzz.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"
#include "tests/test_common/test_certs.h"

namespace lb::fuzz {
namespace {

constexpr int kMutations = 1500;
constexpr uint32_t kSeed = 20261203;

std::string RunInput(const std::string& input, bool* accepted = nullptr) {
  return RunCertificateInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                             accepted);
}

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds;
  absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create();
  EXPECT_TRUE(ca.ok());
  if (!ca.ok()) return seeds;
  absl::StatusOr<testing::TestCa> mid = ca->CreateIntermediate("mid");
  EXPECT_TRUE(mid.ok());
  testing::CertOptions ec;
  ec.dns_names = {"a.example.com", "*.b.example.com"};
  ec.ip_addresses = {"127.0.0.1", "::1"};
  ec.not_after = absl::Hours(24 * 3650);
  testing::CertOptions rsa = ec;
  rsa.rsa = true;
  testing::CertOptions expired = ec;
  expired.not_before = absl::Hours(-48);
  expired.not_after = absl::Hours(-24);
  absl::StatusOr<testing::TestCert> a = ca->Issue(ec);
  absl::StatusOr<testing::TestCert> b = mid->Issue(rsa);
  absl::StatusOr<testing::TestCert> c = ca->Issue(expired);
  EXPECT_TRUE(a.ok() && b.ok() && c.ok());
  if (!a.ok() || !b.ok() || !c.ok()) return seeds;
  seeds.push_back(CertificateInput(a->chain_pem, a->key_pem, "", ""));
  seeds.push_back(CertificateInput(b->chain_pem, b->key_pem, "x.example.com,*.y.example.com", ""));
  seeds.push_back(CertificateInput(a->chain_pem, b->key_pem, "a.example.com", ""));
  seeds.push_back(CertificateInput(c->chain_pem, c->key_pem, "", "\x30\x03\x0a\x01\x00"));
  seeds.push_back(CertificateInput(b->key_pem, b->key_pem, "*", ""));
  seeds.push_back(CertificateInput(mid->cert_pem() + b->cert_pem, b->key_pem, "", ""));
  return seeds;
}

TEST(CertificateFuzzTest, SeedsBehave) {
  std::vector<std::string> seeds = Seeds();
  ASSERT_EQ(seeds.size(), 6u);
  std::vector<bool> want = {true, true, false, false, false, false};
  for (size_t i = 0; i < seeds.size(); ++i) {
    bool accepted = false;
    EXPECT_EQ(RunInput(seeds[i], &accepted), "") << i;
    // The fixed time of the target is in 2027: the first two are valid then.
    EXPECT_EQ(accepted, want[i]) << i;
  }
}

TEST(CertificateFuzzTest, MutationsKeepTheInvariants) {
  std::vector<std::string> seeds = Seeds();
  ASSERT_FALSE(seeds.empty());
  const std::vector<std::string> dictionary = {"-----BEGIN CERTIFICATE-----\n",
                                               "-----END CERTIFICATE-----\n",
                                               "-----BEGIN PRIVATE KEY-----\n",
                                               "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
                                               "\n@@\n",
                                               ",",
                                               "*.",
                                               "*",
                                               "A",
                                               "=",
                                               "\n",
                                               "\x30\x82",
                                               "\xff"};
  std::vector<CorpusFile> named;
  for (size_t i = 0; i < seeds.size(); ++i) named.push_back({absl::StrCat("seed ", i), seeds[i]});
  MutationRun run(kMutations, kSeed);
  run.splice = false;
  run.max_failures = 1;
  RunMutations(named, dictionary, run, [](const std::string& input) { return RunInput(input); });
}

}  // namespace
}  // namespace lb::fuzz
