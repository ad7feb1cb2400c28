// TLS through the real proxy binary, fed the exact xDS of docs/tls.md by a static ADS server
// (FakeAds): certificates by SNI (curl), the scheme and X-Forwarded-Proto, https redirects from
// the plaintext port, a certificate swapped under keep-alive load without a failed request,
// session resumption across two proxies (openssl s_client), and upstream TLS with verification
// success and failure (an `openssl s_server -www` backend).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/core/v3/health_check.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e/proxy/fake_ads.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/test_certs.h"
#include "tests/test_common/text_proto.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace listener_v3 = envoy::config::listener::v3;
namespace route_v3 = envoy::config::route::v3;
namespace tls_v3 = envoy::extensions::transport_sockets::tls::v3;

bool WaitFor(const std::function<bool()>& cond) { return WaitUntil(cond, absl::Seconds(20)); }

tls_v3::Secret CertSecret(const std::string& name, const TestCert& pem) {
  tls_v3::Secret s;
  s.set_name(name);
  s.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_string(pem.cert_pem);
  s.mutable_tls_certificate()->mutable_private_key()->set_inline_string(pem.key_pem);
  return s;
}

tls_v3::Secret TicketSecret(std::vector<std::string> keys) {
  tls_v3::Secret s;
  s.set_name(::lb::xds::kSessionTicketKeysSecretName);
  for (const std::string& k : keys) {
    s.mutable_session_ticket_keys()->add_keys()->set_inline_bytes(k);
  }
  return s;
}

// docs/tls.md's filter chain for certificate `name`.
listener_v3::FilterChain Chain(const std::string& name, const std::vector<std::string>& sni) {
  listener_v3::FilterChain chain;
  chain.set_name(name);
  for (const std::string& s : sni) chain.mutable_filter_chain_match()->add_server_names(s);
  tls_v3::DownstreamTlsContext context;
  auto* common = context.mutable_common_tls_context();
  common->mutable_tls_params()->set_tls_minimum_protocol_version(tls_v3::TlsParameters::TLSv1_2);
  common->mutable_tls_params()->set_tls_maximum_protocol_version(tls_v3::TlsParameters::TLSv1_3);
  auto* sds = common->add_tls_certificate_sds_secret_configs();
  sds->set_name(name);
  sds->mutable_sds_config()->mutable_ads();
  common->add_alpn_protocols("h2");
  common->add_alpn_protocols("http/1.1");
  context.mutable_session_ticket_keys_sds_secret_config()->set_name(
      ::lb::xds::kSessionTicketKeysSecretName);
  context.mutable_session_ticket_keys_sds_secret_config()->mutable_sds_config()->mutable_ads();
  chain.mutable_transport_socket()->set_name(::lb::xds::kTlsTransportSocketName);
  chain.mutable_transport_socket()->mutable_typed_config()->PackFrom(context);
  return chain;
}

cluster_v3::Cluster Cluster(const std::string& name, const std::string& ca_pem = "",
                            const std::string& sni = "") {
  auto c = ParseTextProto<cluster_v3::Cluster>(absl::StrCat(
      "name: '", name,
      "' type: EDS eds_cluster_config { eds_config { ads {} } } connect_timeout { seconds: 1 }"));
  if (!ca_pem.empty()) {
    tls_v3::UpstreamTlsContext context;
    context.set_sni(sni);
    context.mutable_common_tls_context()
        ->mutable_validation_context()
        ->mutable_trusted_ca()
        ->set_inline_string(ca_pem);
    context.mutable_common_tls_context()->add_alpn_protocols("http/1.1");
    c.mutable_transport_socket()->set_name(::lb::xds::kTlsTransportSocketName);
    c.mutable_transport_socket()->mutable_typed_config()->PackFrom(context);
  }
  return c;
}

endpoint_v3::ClusterLoadAssignment Endpoints(const std::string& cluster, int port) {
  return ParseTextProto<endpoint_v3::ClusterLoadAssignment>(
      absl::StrCat("cluster_name: '", cluster,
                   "' endpoints { lb_endpoints { endpoint { address { socket_address { address: "
                   "'127.0.0.1' port_value: ",
                   port, " } } } } }"));
}

// A free loopback port (bound and released: for child processes that take a port number).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A keep-alive HTTPS client connection (blocking OpenSSL, verifying against `ca`).
class TlsClient {
 public:
  TlsClient(int port, const std::string& sni, const std::string& ca_pem) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
    X509_free(ca);
    BIO_free(bio);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set1_host(ssl_, sni.c_str());
    connected_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }
  std::string PeerCommonName() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    char cn[256] = {};
    if (peer != nullptr) {
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
    }
    X509_free(peer);
    return cn;
  }
  // One GET on the connection: the status, or 0 on any failure.
  int Get(const std::string& host, const std::string& path) {
    const std::string req = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host, "\r\n\r\n");
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return 0;
    std::string got;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      // Keep-alive: the response ends where ParseHttpResponse says (the tests' only parser).
      size_t consumed = 0;
      absl::StatusOr<HttpResponse> r = ParseHttpResponse(got, false, false, &consumed);
      if (r.ok()) {
        last_body_ = r->body;
        return r->status;
      }
      if (!absl::IsUnavailable(r.status())) return 0;  // Malformed.
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n <= 0) return 0;
      got.append(buf, static_cast<size_t>(n));
    }
    return 0;
  }
  const std::string& last_body() const { return last_body_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string last_body_;
};

// One GET on a plaintext keep-alive connection (blocking `fd`): the status, or 0 on failure.
int PlainKeepAliveGet(int fd, const std::string& path) {
  const std::string req = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\n\r\n");
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return 0;
  }
  std::string got;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    size_t consumed = 0;
    absl::StatusOr<HttpResponse> r = ParseHttpResponse(got, false, false, &consumed);
    if (r.ok()) return r->status;
    if (!absl::IsUnavailable(r.status())) return 0;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return 0;
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return 0;
    got.append(buf, static_cast<size_t>(n));
  }
  return 0;
}

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // OpenSSL writes to sockets the proxy may have closed.
    absl::StatusOr<std::string> ca_file = WriteTempFile("ca.pem", ca_.cert_pem());
    ASSERT_TRUE(ca_file.ok()) << ca_file.status();
    ca_file_ = *ca_file;
    ASSERT_TRUE(backend_.Start().ok());
    web_ = Cluster("web");
    web_endpoints_ = Endpoints("web", backend_.port());
    ads_.Set(::lb::xds::kClusterType, {{"web", &web_}});
    ads_.Set(::lb::xds::kEndpointType, {{"web", &web_endpoints_}});
    routes_ = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
      name: "default"
      virtual_hosts {
        name: "all"
        domains: "*"
        routes {
          match {
            prefix: "/secure"
            headers { name: ":scheme" exact_match: "http" }
          }
          redirect { https_redirect: true response_code: PERMANENT_REDIRECT }
        }
        routes {
          match { prefix: "/" }
          route { cluster: "web" }
        }
      }
    )pb");
    ads_.Set(::lb::xds::kRouteType, {{"default", &routes_}});
    SetListener();
    secret_a_ = CertSecret("a", a_);
    secret_wild_ = CertSecret("wild", wild_);
    tickets_ = TicketSecret({std::string(80, 'k')});
    SetSecrets();
  }

  void SetListener() {
    listener_.set_name(::lb::xds::kIngressTlsListenerName);
    listener_.clear_filter_chains();
    *listener_.add_filter_chains() = Chain("a", {"a.example.com"});
    *listener_.add_filter_chains() = Chain("wild", {"*.b.example.com"});
    *listener_.mutable_default_filter_chain() = Chain("a", {"a.example.com"});
    ads_.Set(::lb::xds::kListenerType, {{listener_.name(), &listener_}});
  }
  void SetSecrets() {
    ads_.Set(::lb::xds::kSecretType,
             {{"a", &secret_a_}, {"wild", &secret_wild_}, {tickets_.name(), &tickets_}});
  }

  std::unique_ptr<ProxyProcess> StartProxy(const std::string& name,
                                           std::vector<std::string> flags = {}) {
    flags.push_back("--tls_listen=127.0.0.1:0");
    flags.push_back("--https_port=8443");
    auto proxy = std::make_unique<ProxyProcess>(name, std::move(flags));
    absl::Status s = proxy->Start(ads_.target());
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return nullptr;
    s = proxy->WaitReady();
    EXPECT_TRUE(s.ok()) << s << proxy->LogTail();
    // Ready means routes arrived; the certificates come in the same burst, wait for them.
    EXPECT_TRUE(WaitFor([&] {
      TlsClient c(proxy->tls_port(), "a.example.com", ca_.cert_pem());
      return c.connected();
    })) << proxy->LogTail();
    return proxy;
  }

  // curl -v over TLS with --resolve: (exit code, stdout, stderr).
  CommandResult Curl(int port, const std::string& host, const std::string& path) {
    absl::StatusOr<CommandResult> r =
        RunCommand({"/usr/bin/curl", "-sS", "-v", "--max-time", "10", "--cacert", ca_file_,
                    "--resolve", absl::StrCat(host, ":", port, ":127.0.0.1"),
                    absl::StrCat("https://", host, ":", port, path)});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult();
  }

  FakeAds ads_;
  TestCa ca_ = CreateCaOrDie("e2e ca");
  TestCert a_ = IssueOrDie(ca_, "a.example.com", {"a.example.com"});
  TestCert wild_ = IssueOrDie(ca_, "wild.b.example.com", {"*.b.example.com"});
  std::string ca_file_;
  TestBackend backend_{"web"};
  cluster_v3::Cluster web_;
  endpoint_v3::ClusterLoadAssignment web_endpoints_;
  route_v3::RouteConfiguration routes_;
  listener_v3::Listener listener_;
  tls_v3::Secret secret_a_, secret_wild_, tickets_;
};

TEST_F(TlsE2eTest, SniPicksTheCertificateAndRequestsSayHttps) {
  std::unique_ptr<ProxyProcess> proxy = StartProxy("tls-sni");
  ASSERT_NE(proxy, nullptr);
  CommandResult a = Curl(proxy->tls_port(), "a.example.com", "/echo");
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(absl::StrContains(a.err, "subject: O=lb tests; CN=a.example.com")) << a.err;
  // curl offers h2 and http/1.1; the proxy picks h2 and answers over HTTP/2.
  EXPECT_TRUE(absl::StrContains(a.err, "ALPN: server accepted h2")) << a.err;
  EXPECT_TRUE(absl::StrContains(a.err, "< HTTP/2 200")) << a.err;
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(a.err), "x-echo-x-forwarded-proto: https"))
      << a.err;

  CommandResult wild = Curl(proxy->tls_port(), "x.b.example.com", "/");
  EXPECT_EQ(wild.exit_code, 0) << wild.err;
  EXPECT_TRUE(absl::StrContains(wild.err, "subject: O=lb tests; CN=wild.b.example.com"))
      << wild.err;

  // An unknown name gets the default certificate (a's), which curl rejects for that name.
  CommandResult unknown = Curl(proxy->tls_port(), "other.test", "/");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(unknown.err, "subject: O=lb tests; CN=a.example.com"))
      << unknown.err;

  // The plaintext listener says http.
  absl::StatusOr<HttpResponse> plain = HttpGet(proxy->port(), "/echo");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->Header("X-Echo-X-Forwarded-Proto"), "http");
  // /config_dump names the certificates, never a key.
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy->admin_port());
  ASSERT_TRUE(dump.ok()) << dump.status();
  EXPECT_EQ((*dump)["tls_listener"]["certificates"].size(), 2u) << dump->dump();
  EXPECT_EQ((*dump)["tls_listener"]["default_certificate"], "a");
  EXPECT_EQ((*dump)["routes"][0]["routes"][0]["redirect"]["status"], 308);
  EXPECT_EQ(dump->dump().find("PRIVATE KEY"), std::string::npos);
  absl::StatusOr<uint64_t> handshakes =
      StatValue(proxy->admin_port(), "lb_proxy_tls_handshakes_total");
  ASSERT_TRUE(handshakes.ok());
  EXPECT_GE(*handshakes, 3u);
}

TEST_F(TlsE2eTest, PlaintextRequestsAreRedirectedToHttps) {
  std::unique_ptr<ProxyProcess> proxy = StartProxy("tls-redirect");
  ASSERT_NE(proxy, nullptr);
  absl::StatusOr<HttpResponse> r =
      HttpGet(proxy->port(), "/secure/page?x=1", {{"Host", "a.example.com:8080"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 308);
  EXPECT_EQ(r->Header("Location"), "https://a.example.com:8443/secure/page?x=1");
  // Over TLS the same path is served.
  CommandResult s = Curl(proxy->tls_port(), "a.example.com", "/secure/page");
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(absl::StrContains(s.out, "Hello from web")) << s.out;
}

TEST_F(TlsE2eTest, CertificateRotationKeepsConnectionsAndServesTheNewOne) {
  std::unique_ptr<ProxyProcess> proxy = StartProxy("tls-rotate");
  ASSERT_NE(proxy, nullptr);
  constexpr int kConnections = 4;
  constexpr int kRequests = 40;
  std::vector<std::unique_ptr<TlsClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(
        std::make_unique<TlsClient>(proxy->tls_port(), "a.example.com", ca_.cert_pem()));
    ASSERT_TRUE(clients.back()->connected());
    EXPECT_EQ(clients.back()->PeerCommonName(), "a.example.com");
  }
  TestCert rotated = IssueOrDie(ca_, "a.example.com rotated", {"a.example.com"});
  int failed = 0;
  for (int round = 0; round < kRequests; ++round) {
    if (round == kRequests / 2) {
      secret_a_ = CertSecret("a", rotated);
      SetSecrets();
    }
    for (auto& c : clients) {
      if (c->Get("a.example.com", "/") != 200) ++failed;
    }
  }
  EXPECT_EQ(failed, 0);
  // New connections get the new certificate once the proxy installed it.
  EXPECT_TRUE(WaitFor([&] {
    TlsClient fresh(proxy->tls_port(), "a.example.com", ca_.cert_pem());
    return fresh.connected() && fresh.PeerCommonName() == "a.example.com rotated";
  }));
  // And the old connections still work.
  for (auto& c : clients) EXPECT_EQ(c->Get("a.example.com", "/"), 200);
}

// An idle TLS keep-alive connection parks whole (its transport holds the TLS session) next to
// a plaintext one (parked as its socket alone); both serve their next request.
TEST_F(TlsE2eTest, IdleTlsAndPlaintextConnectionsParkAndServeTheirNextRequest) {
  std::unique_ptr<ProxyProcess> proxy =
      StartProxy("tls-park", {"--idle_release_after=0", "--workers=1"});
  ASSERT_NE(proxy, nullptr);
  TlsClient tls(proxy->tls_port(), "a.example.com", ca_.cert_pem());
  ASSERT_TRUE(tls.connected());
  absl::StatusOr<int> plain = ConnectLoopback(proxy->port(), absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(plain.ok()) << plain.status();
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(tls.Get("a.example.com", "/"), 200) << "round " << round;
    EXPECT_EQ(PlainKeepAliveGet(*plain, "/"), 200) << "round " << round;
    EXPECT_TRUE(WaitFor([&] {
      absl::StatusOr<uint64_t> idle = StatValue(proxy->admin_port(), "lb_proxy_connections_idle");
      return idle.ok() && *idle == 2;
    })) << "round "
        << round;
  }
  close(*plain);
  EXPECT_TRUE(WaitFor([&] {
    absl::StatusOr<uint64_t> idle = StatValue(proxy->admin_port(), "lb_proxy_connections_idle");
    return idle.ok() && *idle == 1;
  }));
}

TEST_F(TlsE2eTest, SessionsResumeAcrossTwoProxiesSharingTicketKeys) {
  std::unique_ptr<ProxyProcess> one = StartProxy("tls-one");
  std::unique_ptr<ProxyProcess> two = StartProxy("tls-two");
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  absl::StatusOr<std::string> session_or = WriteTempFile("session.pem", "");
  absl::StatusOr<std::string> request_or = WriteTempFile(
      "request.txt", "GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(session_or.ok() && request_or.ok());
  const std::string& session = *session_or;
  const std::string& request = *request_or;
  auto s_client = [&](int port, const std::string& sess_flag) {
    absl::StatusOr<CommandResult> r =
        RunCommand({"/bin/sh", "-c",
                    absl::StrCat("/usr/bin/openssl s_client -connect 127.0.0.1:", port,
                                 " -servername a.example.com -CAfile ", ca_file_, " -ign_eof ",
                                 sess_flag, " ", session, " < ", request)});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->out : std::string();
  };
  std::string first = s_client(one->tls_port(), "-sess_out");
  EXPECT_TRUE(absl::StrContains(first, "New, TLSv1.3")) << first;
  EXPECT_TRUE(absl::StrContains(first, "Hello from web")) << first;
  std::string second = s_client(two->tls_port(), "-sess_in");
  EXPECT_TRUE(absl::StrContains(second, "Reused, TLSv1.3")) << second;
  absl::StatusOr<uint64_t> resumed = StatValue(two->admin_port(), "lb_proxy_tls_resumed_total");
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(*resumed, 1u);
}

TEST_F(TlsE2eTest, NoCertificateYetRefusesHandshakes) {
  // A listener whose certificates have not arrived: connections are closed (and counted).
  ads_.Set(::lb::xds::kSecretType, {});
  ProxyProcess proxy("tls-none", {"--tls_listen=127.0.0.1:0"});
  ASSERT_TRUE(proxy.Start(ads_.target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok());
  TlsClient c(proxy.tls_port(), "a.example.com", ca_.cert_pem());
  EXPECT_FALSE(c.connected());
  absl::StatusOr<uint64_t> refused =
      StatValue(proxy.admin_port(), "lb_proxy_tls_no_certificate_total");
  ASSERT_TRUE(refused.ok());
  EXPECT_GE(*refused, 1u);
  // The certificate arrives: handshakes work.
  SetSecrets();
  EXPECT_TRUE(WaitFor([&] {
    TlsClient again(proxy.tls_port(), "a.example.com", ca_.cert_pem());
    return again.connected();
  }));
}

TEST_F(TlsE2eTest, UpstreamTlsVerifiesTheBackend) {
  // An HTTPS backend: openssl s_server -www with a certificate for backend.test from our CA.
  TestCert backend_cert = IssueOrDie(ca_, "backend.test", {"backend.test"});
  absl::Status written = WriteFiles(MakeTempDir(), "backend", &backend_cert);
  ASSERT_TRUE(written.ok()) << written;
  const std::string& cert_file = backend_cert.cert_path;
  const std::string& key_file = backend_cert.key_path;
  const int port = FreePort();
  absl::StatusOr<Subprocess> server =
      Subprocess::Start({"/usr/bin/openssl", "s_server", "-www", "-quiet", "-accept",
                         absl::StrCat("127.0.0.1:", port), "-cert", cert_file, "-key", key_file},
                        MakeTempDir() + "/s_server.log");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitFor([&] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    return ok;
  }));
  cluster_v3::Cluster good = Cluster("up-good", ca_.cert_pem(), "backend.test");
  // Its health checks go over TLS too (over plaintext they would fail and eject the host).
  *good.add_health_checks() = ParseTextProto<envoy::config::core::v3::HealthCheck>(
      "timeout { nanos: 250000000 } interval { nanos: 300000000 } unhealthy_threshold { value: 1 } "
      "healthy_threshold { value: 1 } http_health_check { path: '/' }");
  cluster_v3::Cluster bad =
      Cluster("up-bad", CreateCaOrDie("another ca").cert_pem(), "backend.test");
  cluster_v3::Cluster wrong_name = Cluster("up-name", ca_.cert_pem(), "other.test");
  endpoint_v3::ClusterLoadAssignment e1 = Endpoints("up-good", port);
  endpoint_v3::ClusterLoadAssignment e2 = Endpoints("up-bad", port);
  endpoint_v3::ClusterLoadAssignment e3 = Endpoints("up-name", port);
  ads_.Set(::lb::xds::kClusterType,
           {{"web", &web_}, {"up-good", &good}, {"up-bad", &bad}, {"up-name", &wrong_name}});
  ads_.Set(::lb::xds::kEndpointType,
           {{"web", &web_endpoints_}, {"up-good", &e1}, {"up-bad", &e2}, {"up-name", &e3}});
  route_v3::RouteConfiguration routes = ParseTextProto<route_v3::RouteConfiguration>(R"pb(
    name: "default"
    virtual_hosts {
      name: "all"
      domains: "*"
      routes {
        match { prefix: "/good" }
        route { cluster: "up-good" }
      }
      routes {
        match { prefix: "/bad" }
        route { cluster: "up-bad" }
      }
      routes {
        match { prefix: "/name" }
        route { cluster: "up-name" }
      }
    }
  )pb");
  ads_.Set(::lb::xds::kRouteType, {{"default", &routes}});
  ProxyProcess proxy("tls-upstream");
  ASSERT_TRUE(proxy.Start(ads_.target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok()) << proxy.LogTail() << absl::StrJoin(ads_.Nacks(), "\n");
  absl::StatusOr<HttpResponse> ok;
  ASSERT_TRUE(WaitFor([&] {
    ok = HttpGet(proxy.port(), "/good");
    return ok.ok() && ok->status == 200;
  })) << (ok.ok() ? ok->body : ok.status().ToString())
      << proxy.LogTail();
  EXPECT_TRUE(absl::StrContains(ok->body, "s_server")) << ok->body;
  // Several passed health checks later the host is still eligible.
  const auto passed = [&] {
    return StatValue(proxy.admin_port(), "lb_proxy_health_checks_total{result=\"pass\"}");
  };
  absl::StatusOr<uint64_t> before = passed();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<uint64_t> now = passed();
    return now.ok() && *now >= *before + 3;
  })) << proxy.LogTail();
  absl::StatusOr<HttpResponse> still = HttpGet(proxy.port(), "/good");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->status, 200) << still->body;
  for (const char* path : {"/bad", "/name"}) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy.port(), path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 502) << path;
    EXPECT_TRUE(absl::StrContains(r->body, "TLS handshake failure")) << r->body;
  }
  absl::StatusOr<uint64_t> failures =
      StatValue(proxy.admin_port(), "lb_proxy_tls_verify_failures_total");
  ASSERT_TRUE(failures.ok());
  EXPECT_GE(*failures, 2u);
}

TEST_F(TlsE2eTest, SilentClientsAreCutByTheHandshakeTimeout) {
  ProxyProcess proxy("tls-timeout", {"--tls_listen=127.0.0.1:0", "--tls_handshake_timeout=200ms"});
  ASSERT_TRUE(proxy.Start(ads_.target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok());
  ASSERT_TRUE(WaitFor([&] {
    TlsClient c(proxy.tls_port(), "a.example.com", ca_.cert_pem());
    return c.connected();
  }));
  // A TCP connection that never says hello.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(proxy.tls_port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  char buf[16];
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);  // Closed by the proxy.
  close(fd);
  absl::StatusOr<uint64_t> timeouts =
      StatValue(proxy.admin_port(), "lb_proxy_timeouts_total{kind=\"tls_handshake\"}");
  ASSERT_TRUE(timeouts.ok()) << timeouts.status();
  EXPECT_EQ(*timeouts, 1u);
}

}  // namespace
}  // namespace lb::testing
