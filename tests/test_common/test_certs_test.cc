#include "tests/test_common/test_certs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {
namespace {

// Verifies the leaf of `chain_pem` against `ca_pem` with the intermediates of the chain.
int Verify(const std::string& ca_pem, const std::string& chain_pem) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> ca_bio(BIO_new_mem_buf(ca_pem.data(), -1), BIO_free);
  X509* ca = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr);
  X509_STORE_add_cert(store.get(), ca);
  X509_free(ca);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())), BIO_free);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  STACK_OF(X509)* rest = sk_X509_new_null();
  while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(rest, next);
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store.get(), leaf, rest);
  int ok = X509_verify_cert(ctx);
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_pop_free(rest, X509_free);
  X509_free(leaf);
  return err;
}

TEST(TestCertsTest, LeafVerifiesAgainstItsCa) {
  absl::StatusOr<TestCa> ca = TestCa::Create();
  ASSERT_TRUE(ca.ok()) << ca.status();
  CertOptions options;
  options.common_name = "a.test";
  options.dns_names = {"a.test", "*.b.test"};
  options.ip_addresses = {"127.0.0.1"};
  absl::StatusOr<TestCert> server = ca->Issue(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Verify(ca->cert_pem(), server->chain_pem), X509_V_OK);
  EXPECT_NE(server->key_pem.find("PRIVATE KEY"), std::string::npos);

  absl::StatusOr<TestCa> other = TestCa::Create("other");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(Verify(other->cert_pem(), server->chain_pem), X509_V_OK);
}

TEST(TestCertsTest, OrDieShorthandsAndTempFile) {
  const TestCa ca = CreateCaOrDie("shorthand ca");
  const TestCert leaf = IssueOrDie(ca, "a.test", {"a.test", "*.b.test"});
  EXPECT_EQ(Verify(ca.cert_pem(), leaf.chain_pem), X509_V_OK);
  EXPECT_EQ(leaf.cert_pem, leaf.chain_pem);  // Signed by the root: no intermediates.
  absl::StatusOr<std::string> path = WriteTempFile("shorthand.pem", leaf.cert_pem);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(ReadFileOrEmpty(*path), leaf.cert_pem);
  EXPECT_FALSE(WriteTempFile("no/such/dir/x.pem", "").ok());
}

TEST(TestCertsTest, IntermediateChainVerifies) {
  absl::StatusOr<TestCa> root = TestCa::Create();
  ASSERT_TRUE(root.ok());
  absl::StatusOr<TestCa> mid = root->CreateIntermediate("mid");
  ASSERT_TRUE(mid.ok()) << mid.status();
  CertOptions options;
  options.dns_names = {"x.test"};
  options.rsa = true;
  absl::StatusOr<TestCert> leaf = mid->Issue(options);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_NE(leaf->chain_pem, leaf->cert_pem);
  EXPECT_EQ(Verify(root->cert_pem(), leaf->chain_pem), X509_V_OK);
}

TEST(TestCertsTest, ExpiredAndClientAndFiles) {
  absl::StatusOr<TestCa> ca = TestCa::Create();
  ASSERT_TRUE(ca.ok());
  CertOptions old;
  old.not_before = absl::Hours(-48);
  old.not_after = absl::Hours(-24);
  absl::StatusOr<TestCert> expired = ca->Issue(old);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(Verify(ca->cert_pem(), expired->chain_pem), X509_V_ERR_CERT_HAS_EXPIRED);

  CertOptions client_options;
  client_options.common_name = "lbctl";
  client_options.server = false;
  client_options.client = true;
  absl::StatusOr<TestCert> client = ca->Issue(client_options);
  ASSERT_TRUE(client.ok());
  std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteFiles(dir, "client", &*client).ok());
  EXPECT_EQ(ReadFileOrEmpty(client->cert_path), client->chain_pem);
  struct stat st;
  ASSERT_EQ(stat(client->key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<std::string> ca_path = ca->WriteCaFile(dir, "test");
  ASSERT_TRUE(ca_path.ok());
  absl::StatusOr<CommandResult> verify =
      RunCommand({"/usr/bin/openssl", "verify", "-CAfile", *ca_path, client->cert_path});
  ASSERT_TRUE(verify.ok());
  EXPECT_EQ(verify->exit_code, 0) << verify->out << verify->err;

  CertOptions self_options;
  self_options.dns_names = {"self.test"};
  absl::StatusOr<TestCert> self = MakeSelfSigned(self_options);
  ASSERT_TRUE(self.ok());
  EXPECT_NE(Verify(ca->cert_pem(), self->chain_pem), X509_V_OK);
}

}  // namespace
}  // namespace lb::testing
