// A static ADS server for benchmarks of the proxy's TLS listener while the controller does not
// emit certificates yet: one cluster "backend" over the given ports, a catch-all route, and
// docs/tls.md's TLS listener with one certificate (also the default) and random ticket keys.
//
//   static_ads --backends=1111,1112,1113 --cert=server.crt --key=server.key --sni=bench.test
//              --ready_file=ads.ready        # {"grpc_port": N, "pid": P}
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "tests/e2e/proxy/fake_ads.h"

ABSL_FLAG(std::string, backends, "1111,1112,1113", "Backend ports on 127.0.0.1");
ABSL_FLAG(std::string, cert, "", "PEM certificate chain");
ABSL_FLAG(std::string, key, "", "PEM private key");
ABSL_FLAG(std::string, sni, "bench.test", "SNI name of the certificate");
ABSL_FLAG(std::string, ready_file, "", "Written with {\"grpc_port\", \"pid\"} once serving");

namespace {

namespace tls_v3 = envoy::extensions::transport_sockets::tls::v3;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  lb::testing::FakeAds ads;

  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name("backend");
  cluster.set_type(envoy::config::cluster::v3::Cluster::EDS);
  cluster.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  cluster.set_lb_policy(envoy::config::cluster::v3::Cluster::RANDOM);
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name("backend");
  auto* locality = cla.add_endpoints();
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_backends), ',')) {
    int port = 0;
    if (!absl::SimpleAtoi(p, &port)) continue;
    auto* socket = locality->add_lb_endpoints()
                       ->mutable_endpoint()
                       ->mutable_address()
                       ->mutable_socket_address();
    socket->set_address("127.0.0.1");
    socket->set_port_value(static_cast<uint32_t>(port));
  }
  envoy::config::route::v3::RouteConfiguration routes;
  routes.set_name("default");
  auto* vh = routes.add_virtual_hosts();
  vh->set_name("all");
  vh->add_domains("*");
  auto* route = vh->add_routes();
  route->mutable_match()->set_prefix("/");
  route->mutable_route()->set_cluster("backend");

  tls_v3::Secret cert;
  cert.set_name("bench");
  cert.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_string(
      ReadFile(absl::GetFlag(FLAGS_cert)));
  cert.mutable_tls_certificate()->mutable_private_key()->set_inline_string(
      ReadFile(absl::GetFlag(FLAGS_key)));
  tls_v3::Secret tickets;
  tickets.set_name(lb::xds::kSessionTicketKeysSecretName);
  std::random_device rd;
  std::string key(80, '\0');
  for (char& c : key) c = static_cast<char>(rd());
  tickets.mutable_session_ticket_keys()->add_keys()->set_inline_bytes(key);

  envoy::config::listener::v3::FilterChain chain;
  chain.set_name("bench");
  chain.mutable_filter_chain_match()->add_server_names(absl::GetFlag(FLAGS_sni));
  tls_v3::DownstreamTlsContext context;
  auto* common = context.mutable_common_tls_context();
  common->mutable_tls_params()->set_tls_minimum_protocol_version(tls_v3::TlsParameters::TLSv1_2);
  common->mutable_tls_params()->set_tls_maximum_protocol_version(tls_v3::TlsParameters::TLSv1_3);
  auto* sds = common->add_tls_certificate_sds_secret_configs();
  sds->set_name("bench");
  sds->mutable_sds_config()->mutable_ads();
  common->add_alpn_protocols("h2");
  common->add_alpn_protocols("http/1.1");
  context.mutable_session_ticket_keys_sds_secret_config()->set_name(
      lb::xds::kSessionTicketKeysSecretName);
  context.mutable_session_ticket_keys_sds_secret_config()->mutable_sds_config()->mutable_ads();
  chain.mutable_transport_socket()->set_name(lb::xds::kTlsTransportSocketName);
  chain.mutable_transport_socket()->mutable_typed_config()->PackFrom(context);
  envoy::config::listener::v3::Listener listener;
  listener.set_name(lb::xds::kIngressTlsListenerName);
  *listener.add_filter_chains() = chain;
  *listener.mutable_default_filter_chain() = chain;

  ads.Set(lb::xds::kClusterType, {{"backend", &cluster}});
  ads.Set(lb::xds::kEndpointType, {{"backend", &cla}});
  ads.Set(lb::xds::kRouteType, {{"default", &routes}});
  ads.Set(lb::xds::kListenerType, {{listener.name(), &listener}});
  ads.Set(lb::xds::kSecretType, {{"bench", &cert}, {tickets.name(), &tickets}});

  const std::string target = ads.target();
  if (std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    std::ofstream(ready) << "{\"grpc_port\": " << target.substr(target.rfind(':') + 1)
                         << ", \"pid\": " << getpid() << "}\n";
  }
  pause();  // Until killed.
  return 0;
}
