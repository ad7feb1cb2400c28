// ConfigBuilder's TLS resources (docs/tls.md): the TLS listener (LDS), certificates and ticket
// keys (SDS) and upstream TLS (Cluster.transport_socket); accepted ones, NACKs with exact
// texts, the last good version kept, warming on missing Secrets, and the SDS names.
#include <string>
#include <vector>

#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "gtest/gtest.h"
#include "proxy/xds/config_builder.h"
#include "tests/test_common/test_certs.h"
#include "tests/test_common/text_proto.h"

namespace lb::proxy::xds {
namespace {

using ::lb::testing::ParseTextProto;

namespace cluster_v3 = envoy::config::cluster::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace listener_v3 = envoy::config::listener::v3;
namespace tls_v3 = envoy::extensions::transport_sockets::tls::v3;

using ::lb::testing::CreateCaOrDie;
using ::lb::testing::IssueOrDie;
using ::lb::testing::TestCa;
using ::lb::testing::TestCert;
using ::lb::testing::WriteTempFile;

std::string ErrorOf(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

tls_v3::Secret CertSecret(const std::string& name, const TestCert& pem) {
  tls_v3::Secret s;
  s.set_name(name);
  s.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_string(pem.cert_pem);
  s.mutable_tls_certificate()->mutable_private_key()->set_inline_string(pem.key_pem);
  return s;
}

tls_v3::DownstreamTlsContext Downstream(const std::string& cert) {
  return ParseTextProto<tls_v3::DownstreamTlsContext>(
      "common_tls_context { tls_params { tls_minimum_protocol_version: TLSv1_2 "
      "tls_maximum_protocol_version: TLSv1_3 } tls_certificate_sds_secret_configs { name: '" +
      cert +
      "' sds_config { ads {} } } alpn_protocols: 'h2' alpn_protocols: 'http/1.1' } "
      "session_ticket_keys_sds_secret_config { name: 'lb.session-ticket-keys' sds_config { ads "
      "{} } }");
}

listener_v3::FilterChain Chain(const std::string& cert, std::vector<std::string> names,
                               const google::protobuf::Message* context = nullptr) {
  listener_v3::FilterChain chain;
  chain.set_name(cert);
  for (const auto& n : names) chain.mutable_filter_chain_match()->add_server_names(n);
  chain.mutable_transport_socket()->set_name("envoy.transport_sockets.tls");
  if (context != nullptr) {
    chain.mutable_transport_socket()->mutable_typed_config()->PackFrom(*context);
  } else {
    chain.mutable_transport_socket()->mutable_typed_config()->PackFrom(Downstream(cert));
  }
  return chain;
}

listener_v3::Listener TlsListener() {
  listener_v3::Listener l;
  l.set_name("lb.ingress.https");
  *l.add_filter_chains() = Chain("a", {"a.example.com"});
  *l.add_filter_chains() = Chain("wild", {"*.example.com"});
  *l.mutable_default_filter_chain() = Chain("a", {"a.example.com"});
  return l;
}

class ConfigBuilderTlsTest : public ::testing::Test {
 protected:
  ConfigBuilderTlsTest()
      : ca_(CreateCaOrDie("ca")),
        a_(IssueOrDie(ca_, "a", {"a.example.com"})),
        wild_(IssueOrDie(ca_, "wild", {"*.example.com"})) {}
  TestCa ca_;
  TestCert a_, wild_;
};

TEST_F(ConfigBuilderTlsTest, ListenerAndSecretsBuildTheTlsListener) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyListeners({TlsListener()}, "l1").ok());
  EXPECT_EQ(b.SecretNames(), (std::vector<std::string>{"a", "lb.session-ticket-keys", "wild"}));
  EXPECT_EQ(b.Build()->tls_listener, nullptr);  // No certificate yet.

  tls_v3::Secret keys;
  keys.set_name("lb.session-ticket-keys");
  keys.mutable_session_ticket_keys()->add_keys()->set_inline_bytes(std::string(80, '1'));
  keys.mutable_session_ticket_keys()->add_keys()->set_inline_bytes(std::string(80, '2'));
  ASSERT_TRUE(b.ApplySecrets({CertSecret("a", a_), keys}, "s1").ok());
  std::shared_ptr<const ProxyConfig> c = b.Build();
  ASSERT_NE(c->tls_listener, nullptr);
  // The chain whose certificate has not arrived is left out; the default is there.
  ASSERT_EQ(c->tls_listener->chains.size(), 1u);
  EXPECT_EQ(c->tls_listener->chains[0].server_names, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(c->tls_listener->chains[0].certificate.certificate_chain, a_.cert_pem);
  ASSERT_TRUE(c->tls_listener->default_certificate.has_value());
  EXPECT_EQ(c->tls_listener->default_certificate->name, "a");
  EXPECT_EQ(c->tls_listener->ticket_keys.size(), 2u);
  EXPECT_EQ(c->tls_listener->ticket_keys[0], std::string(80, '1'));
  EXPECT_EQ(c->tls_listener->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(c->tls_listener->min_version, 0x0303);
  EXPECT_EQ(c->tls_listener->max_version, 0x0304);

  ASSERT_TRUE(b.ApplySecrets({CertSecret("wild", wild_)}, "s2").ok());
  c = b.Build();
  EXPECT_EQ(c->tls_listener->chains.size(), 2u);
  // An identical resend keeps the same listener object (no new SSL contexts).
  ASSERT_TRUE(b.ApplySecrets({CertSecret("wild", wild_)}, "s3").ok());
  EXPECT_EQ(b.Build()->tls_listener, c->tls_listener);

  // State of the world: a response without the listener removes it.
  ASSERT_TRUE(b.ApplyListeners({}, "l2").ok());
  EXPECT_EQ(b.Build()->tls_listener, nullptr);
}

TEST_F(ConfigBuilderTlsTest, BadSecretsAreRejectedAndTheLastGoodOneStays) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyListeners({TlsListener()}, "l1").ok());
  ASSERT_TRUE(b.ApplySecrets({CertSecret("a", a_)}, "1").ok());
  tls_v3::Secret mismatch = CertSecret("a", a_);
  mismatch.mutable_tls_certificate()->mutable_private_key()->set_inline_string(wild_.key_pem);
  tls_v3::Secret junk = CertSecret("wild", wild_);
  junk.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_string("junk");
  tls_v3::Secret file;
  file.set_name("f");
  file.mutable_tls_certificate()->mutable_certificate_chain()->set_filename("/x.pem");
  tls_v3::Secret short_key;
  short_key.set_name("lb.session-ticket-keys");
  short_key.mutable_session_ticket_keys()->add_keys()->set_inline_bytes(std::string(80, 'k'));
  short_key.mutable_session_ticket_keys()->add_keys()->set_inline_bytes("short");
  tls_v3::Secret empty;
  empty.set_name("e");
  const std::string error = ErrorOf(b.ApplySecrets({mismatch, junk, file, short_key, empty}, "2"));
  EXPECT_EQ(error.substr(0, error.find("PEM certificate (")),
            "Secret \"a\": tls_certificate: private_key: does not match the certificate; "
            "Secret \"wild\": tls_certificate: certificate_chain: not a ");
  EXPECT_NE(error.find("Secret \"f\": tls_certificate.certificate_chain: only inline_string or "
                       "inline_bytes is supported; tls_certificate.private_key: is required; "
                       "Secret \"lb.session-ticket-keys\": session_ticket_keys.keys[1]: must be "
                       "80 bytes, got 5; "
                       "Secret \"e\": one of tls_certificate or session_ticket_keys is required"),
            std::string::npos)
      << error;
  // The private key never appears in an error.
  EXPECT_EQ(error.find("PRIVATE KEY"), std::string::npos);
  // "a" keeps its good version.
  std::shared_ptr<const ProxyConfig> c = b.Build();
  ASSERT_NE(c->tls_listener, nullptr);
  EXPECT_EQ(c->tls_listener->chains[0].certificate.private_key, a_.key_pem);
}

TEST_F(ConfigBuilderTlsTest, BadListenerIsRejectedWithFieldPaths) {
  ConfigBuilder b;
  ASSERT_TRUE(b.ApplyListeners({TlsListener()}, "l1").ok());
  listener_v3::Listener bad = TlsListener();
  auto old_tls = ParseTextProto<tls_v3::DownstreamTlsContext>(
      "common_tls_context { tls_params { tls_minimum_protocol_version: TLSv1_1 } "
      "alpn_protocols: 'spdy/3' tls_certificate_sds_secret_configs { name: 'x' } } "
      "require_client_certificate { value: true }");
  *bad.mutable_filter_chains(0) = Chain("x", {"bad name!", "*.ok.example"}, &old_tls);
  bad.mutable_filter_chains(1)->mutable_transport_socket()->set_name("raw");
  EXPECT_EQ(ErrorOf(b.ApplyListeners({bad}, "l2")),
            "Listener \"lb.ingress.https\": "
            "filter_chains[0].filter_chain_match.server_names[0]: \"bad name!\" is not a host "
            "name or \"*.\" + a domain; "
            "filter_chains[0].transport_socket.typed_config.require_client_certificate: is not "
            "supported; "
            "filter_chains[0].transport_socket.typed_config.common_tls_context.tls_params.tls_"
            "minimum_protocol_version: versions below TLSv1_2 are not supported; "
            "filter_chains[0].transport_socket.typed_config.common_tls_context.alpn_protocols[0]"
            ": unsupported protocol \"spdy/3\"; "
            "filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_"
            "sds_secret_configs[0].sds_config: must be ads; "
            "filter_chains[1].transport_socket.name: must be \"envoy.transport_sockets.tls\"");
  // The previous listener stays.
  EXPECT_EQ(b.SecretNames(), (std::vector<std::string>{"a", "lb.session-ticket-keys", "wild"}));
}

TEST_F(ConfigBuilderTlsTest, UpstreamTlsAndItsClientCertificate) {
  ConfigBuilder b;
  absl::StatusOr<std::string> ca_file_or = WriteTempFile("builder-ca.pem", ca_.cert_pem());
  ASSERT_TRUE(ca_file_or.ok()) << ca_file_or.status();
  const std::string& ca_file = *ca_file_or;
  auto cluster = ParseTextProto<cluster_v3::Cluster>(
      "name: 'up' type: EDS eds_cluster_config { eds_config { ads {} } }");
  auto upstream = ParseTextProto<tls_v3::UpstreamTlsContext>(
      "sni: 'Backend.Test' common_tls_context { validation_context { trusted_ca { filename: '" +
      ca_file +
      "' } } tls_certificate_sds_secret_configs { name: 'client' sds_config { ads {} } } "
      "alpn_protocols: 'http/1.1' }");
  cluster.mutable_transport_socket()->set_name("envoy.transport_sockets.tls");
  cluster.mutable_transport_socket()->mutable_typed_config()->PackFrom(upstream);
  ASSERT_TRUE(b.ApplyClusters({cluster}, "c1").ok());
  endpoint_v3::ClusterLoadAssignment cla;
  cla.set_cluster_name("up");
  ASSERT_TRUE(b.ApplyLoadAssignments({cla}, "e1").ok());
  EXPECT_EQ(b.SecretNames(), std::vector<std::string>{"client"});
  // Warming until its client certificate arrives.
  EXPECT_EQ(b.WarmingClusters(), std::vector<std::string>{"up"});
  EXPECT_EQ(b.Build()->clusters.count("up"), 0u);
  ASSERT_TRUE(b.ApplySecrets({CertSecret("client", a_)}, "s1").ok());
  std::shared_ptr<const ProxyConfig> c = b.Build();
  ASSERT_EQ(c->clusters.count("up"), 1u);
  const auto& tls = c->clusters.at("up").tls;
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->sni, "backend.test");
  EXPECT_TRUE(tls->verify);
  EXPECT_EQ(tls->trusted_ca, ca_.cert_pem());
  ASSERT_TRUE(tls->client_certificate.has_value());
  EXPECT_EQ(tls->client_certificate->private_key, a_.key_pem);
  EXPECT_EQ(tls->alpn, std::vector<std::string>{"http/1.1"});

  // Rejections name the field.
  auto bad = ParseTextProto<tls_v3::UpstreamTlsContext>(
      "sni: 'bad sni' common_tls_context { validation_context { trusted_ca { inline_string: "
      "'junk' } } alpn_protocols: 'h3' }");
  cluster.mutable_transport_socket()->mutable_typed_config()->PackFrom(bad);
  auto missing = cluster;
  missing.set_name("missing");
  auto file = ParseTextProto<tls_v3::UpstreamTlsContext>(
      "common_tls_context { validation_context { trusted_ca { filename: '/nonexistent.pem' } } "
      "}");
  missing.mutable_transport_socket()->mutable_typed_config()->PackFrom(file);
  const std::string error = ErrorOf(b.ApplyClusters({cluster, missing}, "c2"));
  EXPECT_EQ(error,
            "Cluster \"up\": transport_socket.typed_config.sni: must be a host name; "
            "transport_socket.typed_config.common_tls_context.validation_context.trusted_ca: no "
            "certificate in the bundle; "
            "transport_socket.typed_config.common_tls_context.alpn_protocols[0]: unsupported "
            "protocol \"h3\"; "
            "Cluster \"missing\": transport_socket.typed_config.common_tls_context."
            "validation_context.trusted_ca.filename: cannot read \"/nonexistent.pem\"");
}

}  // namespace
}  // namespace lb::proxy::xds
