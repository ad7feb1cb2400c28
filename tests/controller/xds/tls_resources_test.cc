// The xDS the controller emits for TLS (docs/tls.md): Secrets, the listener lb.ingress.https,
// Cluster.transport_socket for upstream TLS, HTTPS redirect routes; and the server publishing
// Secrets and the listener as certificates and ticket keys change.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "common/xds/type_urls.h"
#include "controller/model/model_cache.h"
#include "controller/xds/resources.h"
#include "controller/xds/snapshot.h"
#include "controller/xds/xds_server.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/test_common/text_proto.h"

namespace lb::xds {
namespace {

using ::lb::testing::ParseTextProto;

using ::testing::ElementsAre;
namespace tls_v3 = envoy::extensions::transport_sockets::tls::v3;

void ExpectProtoEq(const google::protobuf::Message& actual, const google::protobuf::Message& want) {
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(actual, want))
      << "actual:\n"
      << actual.DebugString() << "expected:\n"
      << want.DebugString();
}

std::shared_ptr<const lb::v1::Certificate> Cert(const std::string& name,
                                                std::vector<std::string> sni,
                                                bool is_default = false) {
  auto c = std::make_shared<lb::v1::Certificate>();
  c->set_name(name);
  c->set_cert_chain("CHAIN " + name);
  c->set_private_key("KEY " + name);
  for (auto& s : sni) c->add_sni(s);
  c->set_default_(is_default);
  return c;
}

// docs/tls.md, "The TLS listener", for a certificate NAME with `sni`.
std::string ChainText(const std::string& name, const std::vector<std::string>& sni) {
  tls_v3::DownstreamTlsContext context = ParseTextProto<tls_v3::DownstreamTlsContext>(
      "common_tls_context { tls_params { tls_minimum_protocol_version: TLSv1_2 "
      "tls_maximum_protocol_version: TLSv1_3 } "
      "tls_certificate_sds_secret_configs { name: '" +
      name +
      "' sds_config { ads {} } } alpn_protocols: 'h2' alpn_protocols: 'http/1.1' } "
      "session_ticket_keys_sds_secret_config { name: 'lb.session-ticket-keys' "
      "sds_config { ads {} } }");
  google::protobuf::Any any;
  any.PackFrom(context);
  std::string match;
  for (const auto& s : sni) match += " server_names: '" + s + "'";
  std::string text;
  google::protobuf::TextFormat::PrintToString(any, &text);
  return "name: '" + name + "' filter_chain_match {" + match +
         " } transport_socket { name: 'envoy.transport_sockets.tls' typed_config { type_url: '" +
         any.type_url() + "' value: '" + absl::CEscape(any.value()) + "' } }";
}

TEST(TlsResourcesTest, ListenerHasOneChainPerCertificateAndTheDefault) {
  std::map<std::string, std::shared_ptr<const lb::v1::Certificate>> certs;
  EXPECT_FALSE(BuildTlsListener(certs).has_value());
  certs["web"] = Cert("web", {"www.example.com", "*.example.com"}, true);
  certs["api"] = Cert("api", {"api.example.org"});
  std::optional<envoy::config::listener::v3::Listener> l = BuildTlsListener(certs);
  ASSERT_TRUE(l.has_value());
  ExpectProtoEq(
      *l, ParseTextProto<envoy::config::listener::v3::Listener>(
              "name: 'lb.ingress.https' filter_chains { " + ChainText("api", {"api.example.org"}) +
              " } filter_chains { " + ChainText("web", {"www.example.com", "*.example.com"}) +
              " } default_filter_chain { " +
              ChainText("web", {"www.example.com", "*.example.com"}) + " }"));
  // Without a default among several: no default chain; the only certificate is the default.
  certs["web"] = Cert("web", {"www.example.com"});
  EXPECT_FALSE(BuildTlsListener(certs)->has_default_filter_chain());
  certs.erase("web");
  EXPECT_EQ(BuildTlsListener(certs)->default_filter_chain().name(), "api");
}

TEST(TlsResourcesTest, Secrets) {
  lb::v1::Certificate c = *Cert("web", {"www.example.com"});
  ExpectProtoEq(
      BuildCertificateSecret(c),
      ParseTextProto<tls_v3::Secret>("name: 'web' tls_certificate { certificate_chain { "
                                     "inline_string: 'CHAIN web' } private_key { inline_string: "
                                     "'KEY web' } }"));
  c.set_ocsp_staple("DER");
  EXPECT_EQ(BuildCertificateSecret(c).tls_certificate().ocsp_staple().inline_bytes(), "DER");
  lb::v1::SessionTicketKeys keys;
  keys.add_keys(std::string(80, 'n'));
  keys.add_keys(std::string(80, 'o'));
  tls_v3::Secret s = BuildTicketKeysSecret(keys);
  EXPECT_EQ(s.name(), kSessionTicketKeysSecretName);
  ASSERT_EQ(s.session_ticket_keys().keys_size(), 2);
  EXPECT_EQ(s.session_ticket_keys().keys(0).inline_bytes(), std::string(80, 'n'));
}

tls_v3::UpstreamTlsContext UpstreamOf(const envoy::config::cluster::v3::Cluster& c) {
  EXPECT_EQ(c.transport_socket().name(), "envoy.transport_sockets.tls");
  tls_v3::UpstreamTlsContext context;
  EXPECT_TRUE(c.transport_socket().typed_config().UnpackTo(&context));
  EXPECT_EQ(c.transport_socket().typed_config().type_url(), kUpstreamTlsContextType);
  return context;
}

TEST(TlsResourcesTest, UpstreamTls) {
  lb::v1::Cluster c;
  c.set_name("api");
  EXPECT_FALSE(BuildCluster(c, ClientFlavor::kEnvoy).has_transport_socket());
  lb::v1::UpstreamTls* tls = c.mutable_upstream_tls();
  tls->set_enabled(true);
  tls->set_ca_pem("CA PEM");
  tls->set_sni("api.internal");
  tls->set_client_certificate("client");
  ExpectProtoEq(UpstreamOf(BuildCluster(c, ClientFlavor::kEnvoy)),
                ParseTextProto<tls_v3::UpstreamTlsContext>(
                    "sni: 'api.internal' common_tls_context { validation_context { trusted_ca { "
                    "inline_string: 'CA PEM' } } tls_certificate_sds_secret_configs { name: "
                    "'client' sds_config { ads {} } } alpn_protocols: 'http/1.1' }"));
  tls->clear_ca_pem();
  tls->clear_client_certificate();
  ExpectProtoEq(UpstreamOf(BuildCluster(c, ClientFlavor::kEnvoy)),
                ParseTextProto<tls_v3::UpstreamTlsContext>(
                    "sni: 'api.internal' common_tls_context { validation_context { trusted_ca { "
                    "filename: '/etc/ssl/certs/ca-certificates.crt' } } alpn_protocols: "
                    "'http/1.1' }"));
  tls->set_insecure_skip_verify(true);
  EXPECT_FALSE(UpstreamOf(BuildCluster(c, ClientFlavor::kEnvoy))
                   .common_tls_context()
                   .has_validation_context());
  // gRPC clients do not take inline TLS material.
  EXPECT_FALSE(BuildCluster(c, ClientFlavor::kGrpc).has_transport_socket());
  tls->set_enabled(false);
  EXPECT_FALSE(BuildCluster(c, ClientFlavor::kEnvoy).has_transport_socket());
}

TEST(TlsResourcesTest, HttpsRedirectIsTwoRoutes) {
  lb::v1::RouteTable table;
  lb::v1::Route* r = table.add_routes();
  r->set_name("web");
  r->add_hosts("*");
  r->set_path_prefix("/app");
  r->set_cluster("web");
  r->set_https_redirect(308);
  envoy::config::route::v3::RouteConfiguration rc = BuildIngressRoutes(table, {});
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  ASSERT_EQ(rc.virtual_hosts(0).routes_size(), 2);
  ExpectProtoEq(rc.virtual_hosts(0).routes(0),
                ParseTextProto<envoy::config::route::v3::Route>(
                    "name: 'web/https-redirect' match { prefix: '/app' headers { name: ':scheme' "
                    "exact_match: 'http' } } redirect { https_redirect: true response_code: "
                    "PERMANENT_REDIRECT }"));
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).name(), "web");
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).match().prefix(), "/app");
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).match().headers_size(), 0);
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).route().cluster(), "web");
  r->set_https_redirect(301);
  EXPECT_EQ(BuildIngressRoutes(table, {}).virtual_hosts(0).routes(0).redirect().response_code(),
            envoy::config::route::v3::RedirectAction::MOVED_PERMANENTLY);
  r->set_https_redirect(0);
  EXPECT_EQ(BuildIngressRoutes(table, {}).virtual_hosts(0).routes_size(), 1);
}

std::vector<std::string> Names(const ResourceMap& map) {
  std::vector<std::string> out;
  for (const auto& [name, r] : map) out.push_back(name);
  return out;
}

TEST(TlsXdsServerTest, PublishesSecretsAndTheListenerAndRemovesThem) {
  metrics::Registry metrics;
  SimulatedClock clock;
  XdsServer server([](const std::string&) { return std::vector<std::string>(); }, &metrics,
                   "cp-test", &clock);
  model::ModelCache model;
  model.AddObserver(&server);
  lb::v1::Change change;
  change.set_revision(1);
  *change.mutable_certificate() = *Cert("web", {"www.example.com"});
  model.Apply(change);
  lb::v1::Change keys;
  keys.set_revision(2);
  keys.mutable_session_ticket_keys()->add_keys(std::string(80, 'k'));
  model.Apply(keys);
  server.Flush();
  std::shared_ptr<const Snapshot> s = server.Current();
  EXPECT_THAT(Names(s->Get(kSecretType, ClientFlavor::kEnvoy)),
              ElementsAre("lb.session-ticket-keys", "web"));
  EXPECT_THAT(Names(s->Get(kListenerType, ClientFlavor::kEnvoy)), ElementsAre("lb.ingress.https"));
  EXPECT_EQ(s->Get(kSecretType, ClientFlavor::kEnvoy).at("web")->version,
            MakeResource("web", BuildCertificateSecret(change.certificate()))->version);

  lb::v1::Change gone;
  gone.set_revision(3);
  gone.set_certificate_deleted("web");
  model.Apply(gone);
  server.Flush();
  s = server.Current();
  EXPECT_THAT(Names(s->Get(kSecretType, ClientFlavor::kEnvoy)),
              ElementsAre("lb.session-ticket-keys"));
  EXPECT_TRUE(s->Get(kListenerType, ClientFlavor::kEnvoy).empty());
  model.RemoveObserver(&server);
  server.Shutdown();
}

}  // namespace
}  // namespace lb::xds
