// Certificates, upstream TLS references and session ticket keys in registry::Registry, over the
// real SqliteStore (":memory:"), with certificates made by tests/test_common/test_certs.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "controller/registry/registry.h"
#include "controller/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/test_certs.h"

namespace lb::registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class CertificateRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    registry_ = std::make_unique<Registry>(store_.get());
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create();
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<testing::TestCa>(std::move(*ca));
  }

  testing::TestCert Issue(std::vector<std::string> dns_names,
                          absl::Duration not_after = absl::Hours(24 * 365)) {
    testing::CertOptions options;
    options.common_name = dns_names.empty() ? "no-names" : dns_names[0];
    options.dns_names = std::move(dns_names);
    options.not_after = not_after;
    absl::StatusOr<testing::TestCert> cert = ca_->Issue(options);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return cert.ok() ? *cert : testing::TestCert{};
  }

  static lb::v1::Certificate Cert(const std::string& name, const testing::TestCert& pem,
                                  std::vector<std::string> sni = {}, bool is_default = false) {
    lb::v1::Certificate c;
    c.set_name(name);
    c.set_cert_chain(pem.chain_pem);
    c.set_private_key(pem.key_pem);
    for (auto& s : sni) c.add_sni(s);
    c.set_default_(is_default);
    return c;
  }

  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<testing::TestCa> ca_;
};

TEST_F(CertificateRegistryTest, CreateFillsInfoAndSniAndNeverReturnsTheKey) {
  testing::TestCert pem = Issue({"www.example.com", "example.com"});
  absl::StatusOr<lb::v1::Certificate> c = registry_->CreateCertificate(Cert("web", pem));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->private_key().empty());
  EXPECT_GT(c->version(), 0);
  EXPECT_THAT(c->sni(), ElementsAre("www.example.com", "example.com"));
  EXPECT_THAT(c->info().dns_names(), ElementsAre("www.example.com", "example.com"));
  EXPECT_THAT(c->info().subject(), HasSubstr("CN=www.example.com"));
  EXPECT_THAT(c->info().issuer(), HasSubstr("CN=lb test root CA"));
  EXPECT_EQ(c->info().sha256_fingerprint().size(), 32u * 3 - 1);
  EXPECT_GT(c->info().not_after().seconds(), c->info().not_before().seconds());
  EXPECT_THAT(c->warnings(), IsEmpty());

  absl::StatusOr<lb::v1::Certificate> got = registry_->GetCertificate("web");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->private_key().empty());
  EXPECT_EQ(got->version(), c->version());
  absl::StatusOr<std::vector<lb::v1::Certificate>> all = registry_->ListCertificates();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE((*all)[0].private_key().empty());
  // The store keeps the key (for SDS).
  absl::StatusOr<std::optional<store::KeyValue>> kv = store_->Get(CertificateKey("web"));
  ASSERT_TRUE(kv.ok() && kv->has_value());
  lb::v1::Certificate stored;
  ASSERT_TRUE(stored.ParseFromString((*kv)->value));
  EXPECT_EQ(stored.private_key(), pem.key_pem);
}

TEST_F(CertificateRegistryTest, BadMaterialIsInvalidArgumentWithoutTheKeyInTheMessage) {
  testing::TestCert a = Issue({"a.example.com"});
  testing::TestCert b = Issue({"b.example.com"});
  lb::v1::Certificate mismatch = Cert("x", a);
  mismatch.set_private_key(b.key_pem);
  absl::Status s = registry_->CreateCertificate(mismatch).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("certificate.private_key: does not match the certificate"));
  EXPECT_FALSE(absl::StrContains(s.message(), "PRIVATE KEY"));

  lb::v1::Certificate garbage = Cert("x", a);
  garbage.set_cert_chain("not pem");
  garbage.set_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  s = registry_->CreateCertificate(garbage).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("certificate.cert_chain: no PEM certificate found"));
  EXPECT_THAT(s.message(), HasSubstr("certificate.private_key: is not an unencrypted PEM"));
  EXPECT_FALSE(absl::StrContains(s.message(), "AAAA"));

  lb::v1::Certificate key_in_chain = Cert("x", a);
  key_in_chain.set_cert_chain(a.cert_pem + a.key_pem);
  s = registry_->CreateCertificate(key_in_chain).status();
  EXPECT_THAT(s.message(), HasSubstr("PEM block 2 is a \"PRIVATE KEY\", not a CERTIFICATE"));

  testing::TestCert expired = Issue({"old.example.com"}, absl::Hours(-1));
  s = registry_->CreateCertificate(Cert("old", expired)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("the certificate expired at"));

  s = registry_->CreateCertificate(Cert("lb.mine", a)).status();
  EXPECT_THAT(s.message(), HasSubstr("certificate.name: must not start with \"lb.\""));

  s = registry_->CreateCertificate(Cert("x", a, {"*", "Bad Name", "*.ok.com", "*.OK.com"}))
          .status();
  EXPECT_THAT(s.message(), HasSubstr("certificate.sni[0]: \"*\" is not a host name"));
  EXPECT_THAT(s.message(), HasSubstr("certificate.sni[1]"));
  EXPECT_THAT(s.message(), HasSubstr("certificate.sni[3]: \"*.ok.com\" is given twice"));

  testing::TestCert nameless = Issue({});
  s = registry_->CreateCertificate(Cert("x", nameless)).status();
  EXPECT_THAT(s.message(), HasSubstr("certificate.sni: none given"));
  // As the default it needs no names.
  EXPECT_TRUE(registry_->CreateCertificate(Cert("x", nameless, {}, true)).ok());

  absl::StatusOr<std::vector<lb::v1::Certificate>> all = registry_->ListCertificates();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(CertificateRegistryTest, ChainOrderIsChecked) {
  absl::StatusOr<testing::TestCa> mid = ca_->CreateIntermediate("mid");
  ASSERT_TRUE(mid.ok());
  testing::CertOptions options;
  options.dns_names = {"chain.example.com"};
  absl::StatusOr<testing::TestCert> leaf = mid->Issue(options);
  ASSERT_TRUE(leaf.ok());
  lb::v1::Certificate ok = Cert("chain", *leaf);
  absl::StatusOr<lb::v1::Certificate> created = registry_->CreateCertificate(ok);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->info().chain_length(), 2u);

  lb::v1::Certificate reversed = Cert("rev", *leaf);
  reversed.set_cert_chain(mid->cert_pem() + leaf->cert_pem);
  absl::Status s = registry_->CreateCertificate(reversed).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("give the leaf first, then each issuer"));
}

TEST_F(CertificateRegistryTest, ExpiringSoonIsAWarning) {
  testing::TestCert soon = Issue({"soon.example.com"}, absl::Hours(24 * 10));
  absl::StatusOr<lb::v1::Certificate> c = registry_->CreateCertificate(Cert("soon", soon));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->warnings_size(), 1);
  EXPECT_THAT(c->warnings(0), HasSubstr("in less than 30 days"));
  testing::TestCert other = Issue({"other.example.com"});
  c = registry_->CreateCertificate(Cert("other", other, {"uncovered.example.com"}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->warnings(0), HasSubstr("\"uncovered.example.com\" is not among"));
}

TEST_F(CertificateRegistryTest, OneDefaultDistinctSniVersions) {
  testing::TestCert a = Issue({"a.example.com"});
  testing::TestCert b = Issue({"b.example.com", "a.example.com"});
  absl::StatusOr<lb::v1::Certificate> ca = registry_->CreateCertificate(Cert("a", a, {}, true));
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(registry_->CreateCertificate(Cert("a", a)).status().code(),
            absl::StatusCode::kAlreadyExists);
  absl::Status s = registry_->CreateCertificate(Cert("b", b, {"b.example.com"}, true)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("certificate \"a\" is already the default"));
  s = registry_->CreateCertificate(Cert("b", b)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("SNI name \"a.example.com\" is already served by "
                                     "certificate \"a\""));
  absl::StatusOr<lb::v1::Certificate> cb =
      registry_->CreateCertificate(Cert("b", b, {"b.example.com"}));
  ASSERT_TRUE(cb.ok()) << cb.status();

  // Update: stale version, missing, unchanged (same version), changed (new version).
  s = registry_->UpdateCertificate(Cert("b", b, {"b.example.com"}), cb->version() - 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("re-read and retry"));
  EXPECT_EQ(registry_->UpdateCertificate(Cert("zz", b), 0).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<lb::v1::Certificate> same =
      registry_->UpdateCertificate(Cert("b", b, {"b.example.com"}), cb->version());
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->version(), cb->version());
  absl::StatusOr<lb::v1::Certificate> moved =
      registry_->UpdateCertificate(Cert("b", b, {"b.example.com", "c.example.com"}, false), 0);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_GT(moved->version(), cb->version());
  // Moving the default: clear it on "a" first.
  ASSERT_TRUE(registry_->UpdateCertificate(Cert("a", a), 0).ok());
  EXPECT_TRUE(registry_->UpdateCertificate(Cert("b", b, {"b.example.com"}, true), 0).ok());

  EXPECT_EQ(registry_->DeleteCertificate("a", 1).code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(registry_->DeleteCertificate("a", 0).ok());
  EXPECT_EQ(registry_->DeleteCertificate("a", 0).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->GetCertificate("a").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CertificateRegistryTest, ClusterClientCertificateIsAReference) {
  lb::v1::Cluster cluster;
  cluster.set_name("api");
  cluster.mutable_upstream_tls()->set_enabled(true);
  cluster.mutable_upstream_tls()->set_client_certificate("client");
  absl::Status s = registry_->CreateCluster(cluster).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("upstream_tls.client_certificate \"client\" does not exist"));

  testing::TestCert client = Issue({"client.example.com"});
  ASSERT_TRUE(registry_->CreateCertificate(Cert("client", client)).ok());
  absl::StatusOr<lb::v1::Cluster> created = registry_->CreateCluster(cluster);
  ASSERT_TRUE(created.ok()) << created.status();
  s = registry_->DeleteCertificate("client", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("client certificate of cluster \"api\""));

  // Field checks.
  lb::v1::Cluster bad;
  bad.set_name("bad");
  bad.mutable_upstream_tls()->set_ca_pem("nope");
  bad.mutable_upstream_tls()->set_insecure_skip_verify(true);
  bad.mutable_upstream_tls()->set_sni("not a host");
  s = registry_->CreateCluster(bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cluster.upstream_tls.ca_pem: no PEM certificate found"));
  EXPECT_THAT(s.message(), HasSubstr("cluster.upstream_tls.insecure_skip_verify: cannot be set"));
  EXPECT_THAT(
      s.message(),
      HasSubstr("cluster.upstream_tls.sni: a value of 10 bytes with characters other than"));
  EXPECT_THAT(s.message(), HasSubstr("cluster.upstream_tls.enabled: must be true"));
  bad.set_name("lb.ingress.https");
  bad.clear_upstream_tls();
  EXPECT_EQ(registry_->CreateCluster(bad).status().code(), absl::StatusCode::kInvalidArgument);

  // Dropping the reference frees the certificate.
  cluster.mutable_upstream_tls()->clear_client_certificate();
  ASSERT_TRUE(registry_->UpdateCluster(cluster, 0).ok());
  EXPECT_TRUE(registry_->DeleteCertificate("client", 0).ok());
}

TEST_F(CertificateRegistryTest, TicketKeysRotateNewestFirstKeepingThree) {
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<lb::v1::SessionTicketKeys> k1 = registry_->RotateTicketKeys(t0, absl::Hours(1));
  ASSERT_TRUE(k1.ok()) << k1.status();
  ASSERT_EQ(k1->keys_size(), 1);
  EXPECT_EQ(k1->keys(0).size(), kTicketKeyBytes);
  // Not due: unchanged.
  absl::StatusOr<lb::v1::SessionTicketKeys> same =
      registry_->RotateTicketKeys(t0 + absl::Minutes(59), absl::Hours(1));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->SerializeAsString(), k1->SerializeAsString());
  std::vector<std::string> seen = {k1->keys(0)};
  absl::StatusOr<lb::v1::SessionTicketKeys> k = k1;
  for (int i = 1; i <= 4; ++i) {
    k = registry_->RotateTicketKeys(t0 + absl::Hours(i), absl::Hours(1));
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->keys(0).size(), kTicketKeyBytes);
    EXPECT_NE(k->keys(0), seen.back());
    ASSERT_GE(k->keys_size(), 2);
    EXPECT_EQ(k->keys(1), seen.back());  // The previous newest is second.
    seen.push_back(k->keys(0));
  }
  EXPECT_EQ(k->keys_size(), kTicketKeysKept);
  // A registry over the same store (a restart, another replica) sees the same keys.
  Registry other(store_.get());
  absl::StatusOr<lb::v1::SessionTicketKeys> again =
      other.RotateTicketKeys(t0 + absl::Hours(4), absl::Hours(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->SerializeAsString(), k->SerializeAsString());
}

TEST_F(CertificateRegistryTest, WatchCarriesCertificatesWithKeysAndTicketKeys) {
  testing::TestCert a = Issue({"a.example.com"});
  ASSERT_TRUE(registry_->CreateCertificate(Cert("a", a)).ok());
  ASSERT_TRUE(registry_->RotateTicketKeys(absl::Now(), absl::Hours(1)).ok());
  std::vector<lb::v1::Change> changes;
  absl::Mutex mu;
  absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
      registry_->Watch([&](const lb::v1::Change& c) {
        absl::MutexLock lock(&mu);
        changes.push_back(c);
      });
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(registry_->DeleteCertificate("a", 0).ok());
  auto deleted = [&] {
    for (const auto& c : changes) {
      if (c.certificate_deleted() == "a") return true;
    }
    return false;
  };
  absl::MutexLock lock(&mu);
  mu.AwaitWithTimeout(absl::Condition(&deleted), absl::Seconds(10));
  bool cert = false, keys = false;
  for (const auto& c : changes) {
    if (c.has_certificate()) {
      cert = true;
      EXPECT_EQ(c.certificate().private_key(), a.key_pem);  // The model cache needs it.
    }
    if (c.has_session_ticket_keys()) keys = true;
  }
  EXPECT_TRUE(cert);
  EXPECT_TRUE(keys);
  EXPECT_TRUE(deleted());
}

}  // namespace
}  // namespace lb::registry
