// gRPC through the proxy end to end: real gRPC C++ servers (test.echo.v1.Echo, GrpcEchoServer)
// behind the real controller and proxy binaries, in a cluster with protocol HTTP2; grpc++
// channels to the proxy's plaintext listener (h2c with prior knowledge) and to its TLS listener
// (ALPN h2, the certificate delivered by the controller over SDS). Unary calls are balanced per
// call, server streams arrive whole with their trailers, a backend's gRPC status and metadata
// pass unchanged both ways, a cluster without a healthy endpoint is a proxy-made UNAVAILABLE,
// and deadlines (grpc-timeout) end calls with DEADLINE_EXCEEDED and cancel them upstream.
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/echo/v1/echo.grpc.pb.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/grpc_echo_server.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/test_certs.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using test::echo::v1::EchoRequest;
using test::echo::v1::EchoResponse;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

std::string Metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                     const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? "<absent>" : std::string(it->second.data(), it->second.size());
}

void SetDeadline(grpc::ClientContext& ctx, absl::Duration d = kCallTimeout) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + d));
}

// A length-prefixed, uncompressed gRPC message (gRPC's PROTOCOL-HTTP2.md).
std::string GrpcFrame(const google::protobuf::MessageLite& m) {
  const std::string payload = m.SerializeAsString();
  std::string out(5, '\0');
  for (int i = 0; i < 4; ++i)
    out[1 + i] = static_cast<char>((payload.size() >> (24 - 8 * i)) & 0xff);
  return out + payload;
}

class GrpcProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    const int rest = controller_.rest_port();
    absl::Status st = V1Call(
        rest, "POST", "/v1/clusters",
        absl::StrCat(R"({"name":"echo","protocol":"HTTP2","lb_policy":"ROUND_ROBIN","endpoints":[)",
                     R"({"address":"127.0.0.1","port":)", a_.port(), R"(},)",
                     R"({"address":"127.0.0.1","port":)", b_.port(), "}]}"),
        201);
    ASSERT_TRUE(st.ok()) << st;
    // No endpoint at all: every call to it is the proxy's own "no healthy upstream".
    st = V1Call(rest, "POST", "/v1/clusters",
                R"({"name":"down","protocol":"HTTP2","endpoints":[]})", 201);
    ASSERT_TRUE(st.ok()) << st;
    // An HTTP/1.1 backend that ignores grpc-timeout: only the proxy can end a slow call.
    ASSERT_TRUE(slow_.Start().ok());
    st = V1Call(rest, "POST", "/v1/clusters",
                absl::StrCat(R"({"name":"slow","endpoints":[{"address":"127.0.0.1","port":)",
                             slow_.port(), "}]}"),
                201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes",
                R"({"name":"slow","path_prefix":"/slow/","cluster":"slow"})", 201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes",
                R"({"name":"echo","path_prefix":"/test.echo.v1.Echo/","cluster":"echo"})", 201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes",
                R"({"name":"down","hosts":["down.test"],"path_prefix":"/","cluster":"down"})", 201);
    ASSERT_TRUE(st.ok()) << st;

    absl::StatusOr<TestCa> ca = TestCa::Create();
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_pem_ = ca->cert_pem();
    CertOptions options;
    options.dns_names = {"localhost"};
    absl::StatusOr<TestCert> leaf = ca->Issue(options);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    const nlohmann::json secret = {{"name", "edge"},
                                   {"cert_chain", leaf->chain_pem},
                                   {"private_key", leaf->key_pem},
                                   {"sni", {"localhost"}}};
    st = V1Call(rest, "POST", "/v1/secrets", secret.dump(), 201);
    ASSERT_TRUE(st.ok()) << st;

    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok()) << proxy_.LogTail();
    ASSERT_GT(proxy_.tls_port(), 0);
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "echo", {a_.address(), b_.address()}).ok())
        << proxy_.LogTail();
  }

  // A channel to the plaintext listener (h2c), with `authority` as :authority if set.
  std::shared_ptr<grpc::Channel> PlainChannel(const std::string& authority = "") {
    grpc::ChannelArguments args;
    if (!authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", proxy_.port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  // A channel to the TLS listener: SNI and verified name "localhost", the test CA trusted.
  std::shared_ptr<grpc::Channel> TlsChannel() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem_;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", proxy_.tls_port()),
                                     grpc::SslCredentials(ssl), args);
  }

  // 2 * per_backend unary calls on `channel`: each backend answers exactly per_backend.
  void ExpectBalanced(const std::shared_ptr<grpc::Channel>& channel, int per_backend) {
    auto stub = test::echo::v1::Echo::NewStub(channel);
    std::map<std::string, int> by_backend;
    for (int i = 0; i < 2 * per_backend; ++i) {
      grpc::ClientContext ctx;
      SetDeadline(ctx);
      EchoRequest req;
      req.set_message(absl::StrCat("hello ", i));
      EchoResponse resp;
      grpc::Status s = stub->Echo(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << proxy_.LogTail();
      EXPECT_EQ(resp.message(), req.message());
      ++by_backend[resp.backend()];
    }
    EXPECT_THAT(by_backend, UnorderedElementsAre(Pair("a", per_backend), Pair("b", per_backend)));
  }

  ControllerProcess controller_;
  GrpcEchoServer a_{"a"};
  GrpcEchoServer b_{"b"};
  TestBackend slow_{"slow"};
  // One worker: round robin over the two endpoints is exact.
  ProxyProcess proxy_{"grpc-proxy", {"--workers=1", "--tls_listen=127.0.0.1:0"}};
  std::string ca_pem_;
};

TEST_F(GrpcProxyTest, UnaryCallsAreBalancedPerCallOverH2c) {
  ExpectBalanced(PlainChannel(), 10);
  EXPECT_EQ(a_.calls(), 10);
  EXPECT_EQ(b_.calls(), 10);
}

TEST_F(GrpcProxyTest, UnaryCallsAreBalancedPerCallOverTls) {
  // The certificate reaches the proxy over SDS after the listener may already be up: wait for
  // the first successful call, then count.
  std::shared_ptr<grpc::Channel> channel = TlsChannel();
  auto stub = test::echo::v1::Echo::NewStub(channel);
  int warmup = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        SetDeadline(ctx, absl::Seconds(2));
        EchoRequest req;
        EchoResponse resp;
        ++warmup;
        return stub->Echo(&ctx, req, &resp).ok();
      },
      absl::Seconds(20)))
      << proxy_.LogTail();
  // Any 20 calls in a row alternate over the two endpoints, wherever round robin stands.
  const int before = a_.calls() + b_.calls();
  ExpectBalanced(channel, 10);
  EXPECT_EQ(a_.calls() + b_.calls(), before + 20);
  EXPECT_GE(warmup, 1);
}

TEST_F(GrpcProxyTest, ServerStreamDeliversEveryMessageAndTheTrailers) {
  for (const auto& channel : {PlainChannel(), TlsChannel()}) {
    auto stub = test::echo::v1::Echo::NewStub(channel);
    constexpr int kCount = 1000;
    grpc::ClientContext ctx;
    SetDeadline(ctx, absl::Seconds(30));
    ctx.set_wait_for_ready(true);  // The TLS listener's certificate may still be on its way.
    EchoRequest req;
    req.set_message(std::string(300, 'x'));
    req.set_count(kCount);
    std::unique_ptr<grpc::ClientReader<EchoResponse>> reader = stub->EchoStream(&ctx, req);
    EchoResponse resp;
    int n = 0;
    std::string backend;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.index(), n);
      EXPECT_EQ(resp.message(), req.message());
      if (n == 0) backend = resp.backend();
      EXPECT_EQ(resp.backend(), backend);
      ++n;
    }
    grpc::Status s = reader->Finish();
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << proxy_.LogTail();
    EXPECT_EQ(n, kCount);
    EXPECT_EQ(Metadata(ctx.GetServerTrailingMetadata(), "x-backend"), backend);
  }
}

TEST_F(GrpcProxyTest, AStreamEndingInAnErrorKeepsItsMessagesAndStatus) {
  auto stub = test::echo::v1::Echo::NewStub(PlainChannel());
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_count(3);
  req.set_status_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
  req.set_status_message("quota: 3 messages");
  auto reader = stub->EchoStream(&ctx, req);
  EchoResponse resp;
  int n = 0;
  while (reader->Read(&resp)) ++n;
  grpc::Status s = reader->Finish();
  EXPECT_EQ(n, 3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "quota: 3 messages");
}

TEST_F(GrpcProxyTest, ABackendsErrorStatusArrivesUnchanged) {
  auto stub = test::echo::v1::Echo::NewStub(PlainChannel());
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_status_code(grpc::StatusCode::NOT_FOUND);
  // Percent-encoded on the wire by the server (non-ASCII and '%'), decoded by the client.
  req.set_status_message("no such thing: caf\xc3\xa9 100%");
  EchoResponse resp;
  grpc::Status s = stub->Echo(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no such thing: caf\xc3\xa9 100%");
  const std::string backend = Metadata(ctx.GetServerTrailingMetadata(), "x-backend");
  EXPECT_TRUE(backend == "a" || backend == "b") << backend;
}

TEST_F(GrpcProxyTest, MetadataPassesBothWays) {
  for (const auto& channel : {PlainChannel(), TlsChannel()}) {
    auto stub = test::echo::v1::Echo::NewStub(channel);
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    ctx.set_wait_for_ready(true);
    ctx.AddMetadata("x-echo-color", "blue");
    const std::string binary("\x00\x01\xfe\xff", 4);
    ctx.AddMetadata("x-echo-data-bin", binary);
    EchoRequest req;
    req.set_message("md");
    EchoResponse resp;
    grpc::Status s = stub->Echo(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(Metadata(ctx.GetServerInitialMetadata(), "x-echo-color"), "blue");
    EXPECT_EQ(Metadata(ctx.GetServerInitialMetadata(), "x-echo-data-bin"), binary);
    EXPECT_EQ(Metadata(ctx.GetServerTrailingMetadata(), "x-backend"), resp.backend());
  }
}

TEST_F(GrpcProxyTest, NoHealthyEndpointIsAProxyMadeUnavailable) {
  auto stub = test::echo::v1::Echo::NewStub(PlainChannel("down.test"));
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoResponse resp;
  grpc::Status s = stub->Echo(&ctx, EchoRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "no healthy upstream");
  EXPECT_EQ(a_.calls() + b_.calls(), 0);

  // The same call over HTTP/1.1: a gRPC answer (status 200, grpc-status 14 in the head), not a
  // text page.
  HttpRequest h1;
  h1.method = "POST";
  h1.target = "/test.echo.v1.Echo/Echo";
  h1.headers = {{"Host", "down.test"}, {"Content-Type", "application/grpc"}, {"TE", "trailers"}};
  h1.body = GrpcFrame(EchoRequest());
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), h1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/grpc");
  EXPECT_EQ(r->Header("grpc-status"), "14");
  EXPECT_EQ(r->Header("grpc-message"), "no healthy upstream");
  EXPECT_EQ(r->body, "");
}

TEST_F(GrpcProxyTest, AnExpiredDeadlineIsDeadlineExceededAndCancelsTheCall) {
  auto stub = test::echo::v1::Echo::NewStub(PlainChannel());
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Milliseconds(300));
  EchoRequest req;
  req.set_delay_ms(5000);
  EchoResponse resp;
  grpc::Status s = stub->Echo(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The backend's call is cancelled rather than left running for its 5 s.
  EXPECT_TRUE(WaitUntil([&] { return a_.cancelled() + b_.cancelled() == 1; }, absl::Seconds(4)))
      << a_.cancelled() << " " << b_.cancelled();
}

TEST_F(GrpcProxyTest, TheProxyHonoursGrpcTimeout) {
  // A gRPC request whose backend would answer after 5 s: the proxy ends the call at its
  // grpc-timeout with a Trailers-Only DEADLINE_EXCEEDED and gives up the upstream request.
  HttpRequest h1;
  h1.method = "POST";
  h1.target = "/slow/call?delay_ms=5000";
  h1.headers = {{"Content-Type", "application/grpc"}, {"TE", "trailers"}, {"grpc-timeout", "200m"}};
  h1.body = GrpcFrame(EchoRequest());
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), h1, absl::Seconds(4));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/grpc");
  EXPECT_EQ(r->Header("grpc-status"), "4");
  EXPECT_EQ(r->Header("grpc-message"), "grpc-timeout expired");
  EXPECT_EQ(r->body, "");
  absl::StatusOr<uint64_t> timeouts =
      StatValue(proxy_.admin_port(), "lb_proxy_timeouts_total{kind=\"grpc_timeout\"}");
  ASSERT_TRUE(timeouts.ok()) << timeouts.status();
  EXPECT_EQ(*timeouts, 1u);
  absl::StatusOr<uint64_t> head_timeouts =
      StatValue(proxy_.admin_port(), "lb_proxy_timeouts_total{kind=\"upstream_head\"}");
  ASSERT_TRUE(head_timeouts.ok()) << head_timeouts.status();
  EXPECT_EQ(*head_timeouts, 0u);

  // Through to a gRPC server: a malformed grpc-timeout is ignored (gRPC says so) and the call
  // completes.
  EchoRequest req;
  req.set_message("late");
  h1.target = "/test.echo.v1.Echo/Echo";
  h1.headers = {{"Content-Type", "application/grpc"}, {"TE", "trailers"}, {"grpc-timeout", "1x"}};
  h1.body = GrpcFrame(req);
  r = HttpCall(proxy_.port(), h1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->raw, HasSubstr("grpc-status: 0"));
}

TEST_F(GrpcProxyTest, GrpcTimeoutLongerThanUpstreamTimeoutKeepsTheCallAlive) {
  // --upstream_timeout (no response head) is 15 s by default; restart the proxy with 300 ms:
  // a gRPC call with a 5 s deadline whose server answers after 1 s still succeeds.
  proxy_.Kill();
  ProxyProcess proxy{"grpc-proxy-2", {"--workers=1", "--upstream_timeout=300ms"}};
  ASSERT_TRUE(proxy.Start(controller_.grpc_target()).ok()) << proxy.LogTail();
  ASSERT_TRUE(proxy.WaitReady().ok()) << proxy.LogTail();
  ASSERT_TRUE(WaitForEndpoints(proxy.admin_port(), "echo", {a_.address(), b_.address()}).ok());
  auto stub = test::echo::v1::Echo::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", proxy.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(5));
  EchoRequest req;
  req.set_message("slow but in time");
  req.set_delay_ms(1000);
  EchoResponse resp;
  grpc::Status s = stub->Echo(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(resp.message(), "slow but in time");
  // Without a deadline the upstream_timeout still applies: a proxy-made DEADLINE_EXCEEDED.
  grpc::ClientContext no_deadline;
  s = stub->Echo(&no_deadline, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(s.error_message(), "upstream request timeout");
}

}  // namespace
}  // namespace lb::testing
