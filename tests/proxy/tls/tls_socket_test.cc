// The TLS transport socket and contexts over real sockets: a server Connection on a loop thread
// against a blocking OpenSSL client in the test (SNI, certificates, tickets), and server and
// client Connections against each other (verification, ALPN, close_notify).
#include "proxy/tls/tls_socket.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/event/socket.h"
#include "proxy/network/connection.h"
#include "proxy/tls/context.h"
#include "tests/test_common/event/loop_thread.h"
#include "tests/test_common/test_certs.h"

namespace lb::proxy::tls {
namespace {

using ::lb::testing::CreateCaOrDie;
using ::lb::testing::IssueOrDie;
using ::lb::testing::LoopThread;
using ::lb::testing::TestCa;
using ::lb::testing::TestCert;
using ::lb::testing::WaitFor;

class Recorder : public network::ConnectionCallbacks {
 public:
  void OnEvent(network::ConnectionEvent event) override { events.push_back(event); }
  void OnData(event::Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) received.append(data.Linearize(n), n);
    data.Clear();
    if (end_stream) eof = true;
  }
  std::vector<network::ConnectionEvent> events;
  std::string received;
  bool eof = false;
};

TlsCertificateConfig Cert(const std::string& name, const TestCert& pem) {
  return {name, pem.cert_pem, pem.key_pem, ""};
}

std::string Key(char c) { return std::string(80, c); }

// A blocking OpenSSL client over `fd`.
struct ClientResult {
  bool ok = false;
  std::string subject_cn;
  bool reused = false;
  std::string alpn;
  std::string read;                // What the server sent after the handshake (up to `want` bytes).
  SSL_SESSION* session = nullptr;  // Owned by the caller (SSL_SESSION_free).
  unsigned long error = 0;         // NOLINT(runtime/int)
};

ClientResult RunClient(int fd, const std::string& sni, SSL_SESSION* resume, size_t want,
                       bool status_request = false) {
  ClientResult out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  // No client cache: freeing a context flushes its cache, which marks its sessions unusable.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn) - 1);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (resume != nullptr) SSL_set_session(ssl, resume);
  if (status_request) SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
  if (SSL_connect(ssl) == 1) {
    out.ok = true;
    X509* peer = SSL_get1_peer_certificate(ssl);
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
    out.subject_cn = cn;
    X509_free(peer);
    out.reused = SSL_session_reused(ssl) == 1;
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &p, &len);
    out.alpn.assign(reinterpret_cast<const char*>(p), len);
    char buf[256];
    while (out.read.size() < want) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) break;
      out.read.append(buf, static_cast<size_t>(n));
    }
    out.session = SSL_get1_session(ssl);
    SSL_shutdown(ssl);  // Without it SSL_free marks the session not resumable.
  } else {
    out.error = ERR_peek_last_error();
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

class TlsSocketTest : public ::testing::Test {
 protected:
  TlsSocketTest()
      : ca_(CreateCaOrDie("test ca")),
        a_(IssueOrDie(ca_, "a.example.com", {"a.example.com"})),
        wild_(IssueOrDie(ca_, "wild.example.com", {"*.example.com"})),
        deep_(IssueOrDie(ca_, "deep.b.example.com", {"*.b.example.com"})),
        def_(IssueOrDie(ca_, "default", {"default.test"})) {}
  ~TlsSocketTest() override {
    loop_.Run([&] {
      server_.reset();
      client_.reset();
    });
    if (peer_ >= 0) close(peer_);
  }

  TlsListenerConfig Listener(bool with_default) {
    TlsListenerConfig c;
    c.chains.push_back({{"a.example.com"}, Cert("a", a_)});
    c.chains.push_back({{"*.example.com"}, Cert("wild", wild_)});
    c.chains.push_back({{"*.b.example.com"}, Cert("deep", deep_)});
    if (with_default) c.default_certificate = Cert("def", def_);
    c.alpn = {"h2", "http/1.1"};
    return c;
  }

  std::shared_ptr<const ServerContext> Server(const TlsListenerConfig& c) {
    absl::StatusOr<std::shared_ptr<const ServerContext>> ctx = ServerContext::Create(c);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? *ctx : nullptr;
  }

  // A server connection with `ctx` on one end of a socketpair; returns the other end.
  int StartServer(std::shared_ptr<const ServerContext> ctx) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    timeval tv{10, 0};
    setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    loop_.Run([&] {
      server_.reset();
      server_rec_ = Recorder();
      event::SocketAddress none;
      server_ = network::CreateServerConnection(loop_.dispatcher(), fds[0], none,
                                                NewServerSocket(std::move(ctx)));
      server_->SetCallbacks(&server_rec_);
    });
    return fds[1];
  }

  // Handshake as a blocking client with `sni`; the server writes `greeting` once connected.
  ClientResult Handshake(std::shared_ptr<const ServerContext> ctx, const std::string& sni,
                         SSL_SESSION* resume = nullptr, bool status_request = false) {
    int fd = StartServer(std::move(ctx));
    // The server greets once the handshake is done, so the client reads its session ticket.
    loop_.Run([&] { server_->Write("hi"); });
    ClientResult r = RunClient(fd, sni, resume, 2, status_request);
    close(fd);
    return r;
  }

  LoopThread loop_;
  TestCa ca_;
  TestCert a_, wild_, deep_, def_;
  std::unique_ptr<network::Connection> server_;
  std::unique_ptr<network::Connection> client_;
  Recorder server_rec_;
  Recorder client_rec_;
  int peer_ = -1;
};

TEST_F(TlsSocketTest, SelectsExactThenLongestWildcardThenDefault) {
  std::shared_ptr<const ServerContext> ctx = Server(Listener(true));
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(ctx->Select("a.example.com"), 0);
  EXPECT_EQ(ctx->Select("A.Example.COM"), 0);
  EXPECT_EQ(ctx->Select("x.example.com"), 1);
  EXPECT_EQ(ctx->Select("x.y.example.com"), 1);
  EXPECT_EQ(ctx->Select("x.b.example.com"), 2);  // Longer suffix wins.
  EXPECT_EQ(ctx->Select("example.com"), 3);      // "*." needs a label: default.
  EXPECT_EQ(ctx->Select("other.test"), 3);
  EXPECT_EQ(ctx->Select(""), 3);
  std::shared_ptr<const ServerContext> no_default = Server(Listener(false));
  EXPECT_EQ(no_default->Select("other.test"), -1);
}

TEST_F(TlsSocketTest, HandshakeServesTheCertificateOfTheName) {
  std::shared_ptr<const ServerContext> ctx = Server(Listener(true));
  for (const auto& [sni, cn] :
       std::vector<std::pair<std::string, std::string>>{{"a.example.com", "a.example.com"},
                                                        {"z.example.com", "wild.example.com"},
                                                        {"q.b.example.com", "deep.b.example.com"},
                                                        {"unknown.test", "default"},
                                                        {"", "default"}}) {
    ClientResult r = Handshake(ctx, sni);
    EXPECT_TRUE(r.ok) << sni;
    EXPECT_EQ(r.subject_cn, cn) << sni;
    EXPECT_EQ(r.read, "hi") << sni;
    // h2 is offered by the client; the server picks http/1.1 until the HTTP/2 codec exists.
    EXPECT_EQ(r.alpn, kOfferH2Downstream ? "h2" : "http/1.1") << sni;
    SSL_SESSION_free(r.session);
  }
}

TEST_F(TlsSocketTest, UnknownNameWithoutDefaultIsRefusedWithUnrecognizedName) {
  std::shared_ptr<const ServerContext> ctx = Server(Listener(false));
  const uint64_t before = Stats().unrecognized_name.load();
  ClientResult r = Handshake(ctx, "unknown.test");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(ERR_GET_REASON(r.error), SSL_R_TLSV1_UNRECOGNIZED_NAME);
  EXPECT_EQ(Stats().unrecognized_name.load(), before + 1);
  // The server side closed the connection.
  EXPECT_TRUE(WaitFor([&] {
    bool closed = false;
    loop_.Run([&] { closed = server_->state() == network::Connection::State::kClosed; });
    return closed;
  }));
}

TEST_F(TlsSocketTest, TicketsResumeAcrossContextsSharingKeysAndRotate) {
  TlsListenerConfig c = Listener(true);
  c.ticket_keys = {Key('1')};
  ClientResult first = Handshake(Server(c), "a.example.com");
  ASSERT_TRUE(first.ok);
  ASSERT_NE(first.session, nullptr);
  EXPECT_FALSE(first.reused);

  // Another context (another proxy, or a new certificate) with the same keys resumes.
  ClientResult same = Handshake(Server(c), "a.example.com", first.session);
  EXPECT_TRUE(same.ok);
  EXPECT_TRUE(same.reused);
  SSL_SESSION_free(same.session);

  // Rotation: a new first key; the old one still decrypts (and the ticket is renewed).
  TlsListenerConfig rotated = c;
  rotated.ticket_keys = {Key('2'), Key('1')};
  ClientResult after = Handshake(Server(rotated), "a.example.com", first.session);
  EXPECT_TRUE(after.ok);
  EXPECT_TRUE(after.reused);
  SSL_SESSION_free(after.session);

  // Once the old key is gone the ticket is refused: a full handshake, not a failure.
  TlsListenerConfig dropped = c;
  dropped.ticket_keys = {Key('3')};
  ClientResult gone = Handshake(Server(dropped), "a.example.com", first.session);
  EXPECT_TRUE(gone.ok);
  EXPECT_FALSE(gone.reused);
  SSL_SESSION_free(gone.session);
  SSL_SESSION_free(first.session);
}

TEST_F(TlsSocketTest, StaplesOcspWhenTheCertificateHasOne) {
  TlsListenerConfig c = Listener(true);
  c.chains[0].certificate.ocsp_staple = std::string("\x30\x03\x0a\x01\x00", 5);
  const uint64_t before = Stats().ocsp_staples.load();
  ClientResult r = Handshake(Server(c), "a.example.com", nullptr, /*status_request=*/true);
  EXPECT_TRUE(r.ok);
  SSL_SESSION_free(r.session);
  EXPECT_EQ(Stats().ocsp_staples.load(), before + 1);
  // Not for a certificate without one.
  r = Handshake(Server(c), "z.example.com", nullptr, /*status_request=*/true);
  EXPECT_TRUE(r.ok);
  SSL_SESSION_free(r.session);
  EXPECT_EQ(Stats().ocsp_staples.load(), before + 1);
}

TEST_F(TlsSocketTest, RejectsAKeyThatDoesNotMatch) {
  TlsListenerConfig c = Listener(true);
  c.chains[0].certificate.private_key = wild_.key_pem;
  absl::StatusOr<std::shared_ptr<const ServerContext>> ctx = ServerContext::Create(c);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctx.status().message(),
            "certificate \"a\": private_key: does not match the certificate");
  EXPECT_EQ(ValidateCertificate("junk", a_.key_pem).message().substr(0, 37),
            "certificate_chain: not a PEM certific");
}

class ConnectionPairTest : public TlsSocketTest {
 protected:
  // A client Connection to a loopback listener, and the server Connection of what it accepted.
  void Connect(std::shared_ptr<const ServerContext> server,
               std::shared_ptr<const ClientContext> client) {
    absl::StatusOr<int> listener = event::Listen("127.0.0.1", 0, /*reuse_port=*/false);
    ASSERT_TRUE(listener.ok()) << listener.status();
    absl::StatusOr<event::SocketAddress> to =
        event::MakeAddress("127.0.0.1", event::LocalPort(*listener));
    ASSERT_TRUE(to.ok());
    loop_.Run([&] {
      absl::StatusOr<std::unique_ptr<network::Connection>> c =
          network::CreateClientConnection(loop_.dispatcher(), *to, client->Create());
      ASSERT_TRUE(c.ok()) << c.status();
      client_ = std::move(*c);
      client_->SetCallbacks(&client_rec_);
    });
    int fd = -1;
    event::SocketAddress peer;
    ASSERT_TRUE(WaitFor([&] { return (fd = event::Accept(*listener, &peer)) >= 0; }));
    close(*listener);
    loop_.Run([&] {
      server_ = network::CreateServerConnection(loop_.dispatcher(), fd, peer,
                                                NewServerSocket(std::move(server)));
      server_->SetCallbacks(&server_rec_);
    });
  }
  std::shared_ptr<const ClientContext> Client(UpstreamTlsConfig c) {
    absl::StatusOr<std::shared_ptr<const ClientContext>> ctx = ClientContext::Create(c);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? *ctx : nullptr;
  }
  bool OnLoop(std::function<bool()> fn) {
    bool v = false;
    loop_.Run([&] { v = fn(); });
    return v;
  }
};

TEST_F(ConnectionPairTest, VerifiedHandshakeAlpnDataAndCloseNotify) {
  UpstreamTlsConfig u;
  u.sni = "a.example.com";
  u.trusted_ca = ca_.cert_pem();
  u.alpn = {"http/1.1"};
  const uint64_t handshakes = Stats().handshakes.load();
  Connect(Server(Listener(true)), Client(u));
  ASSERT_TRUE(WaitFor([&] { return OnLoop([&] { return !client_rec_.events.empty(); }); }));
  loop_.Run([&] {
    EXPECT_EQ(client_rec_.events[0], network::ConnectionEvent::kConnected);
    EXPECT_EQ(client_->NegotiatedProtocol(), "http/1.1");
    EXPECT_EQ(server_->NegotiatedProtocol(), "http/1.1");
    client_->Write("ping");
  });
  ASSERT_TRUE(WaitFor([&] { return OnLoop([&] { return server_rec_.received == "ping"; }); }));
  EXPECT_GE(Stats().handshakes.load(), handshakes + 2);
  // The server ends its side: the client reads close_notify as a clean end of stream.
  loop_.Run([&] {
    event::Buffer last;
    last.Append("bye");
    server_->Write(last, /*end_stream=*/true);
  });
  ASSERT_TRUE(WaitFor([&] { return OnLoop([&] { return client_rec_.eof; }); }));
  loop_.Run([&] { EXPECT_EQ(client_rec_.received, "bye"); });
}

TEST_F(ConnectionPairTest, UntrustedCertificateFailsTheConnectAndIsCounted) {
  UpstreamTlsConfig u;
  u.sni = "a.example.com";
  u.trusted_ca = CreateCaOrDie("another ca").cert_pem();
  const uint64_t failures = Stats().verify_failures.load();
  Connect(Server(Listener(true)), Client(u));
  ASSERT_TRUE(WaitFor([&] { return OnLoop([&] { return !client_rec_.events.empty(); }); }));
  loop_.Run([&] { EXPECT_EQ(client_rec_.events[0], network::ConnectionEvent::kConnectFailed); });
  EXPECT_EQ(Stats().verify_failures.load(), failures + 1);
}

TEST_F(ConnectionPairTest, WrongNameFailsVerification) {
  UpstreamTlsConfig u;
  u.sni = "a.example.com";
  u.trusted_ca = ca_.cert_pem();
  // The server has no certificate for the name but a default one, which does not carry it.
  TlsListenerConfig c = Listener(true);
  c.chains.clear();
  const uint64_t failures = Stats().verify_failures.load();
  Connect(Server(c), Client(u));
  ASSERT_TRUE(WaitFor([&] { return OnLoop([&] { return !client_rec_.events.empty(); }); }));
  loop_.Run([&] { EXPECT_EQ(client_rec_.events[0], network::ConnectionEvent::kConnectFailed); });
  EXPECT_EQ(Stats().verify_failures.load(), failures + 1);
}

}  // namespace
}  // namespace lb::proxy::tls
