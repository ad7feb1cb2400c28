// HTTP/1.1 clients through the proxy to h2c upstreams: a cluster created with protocol HTTP2
// over REST reaches the proxy over CDS (typed_extension_protocol_options), its requests are
// balanced per request over three nghttp2 servers on a few multiplexed connections, and trailers
// reach clients that said "TE: trailers".
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/h2_server.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kWorkers = 2;

class Http2UpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    const int rest = controller_.rest_port();
    std::string endpoints;
    std::vector<std::string> addresses;
    for (H2Server* s : {&a_, &b_, &c_}) {
      absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",", R"({"address":"127.0.0.1","port":)",
                      s->port(), "}");
      addresses.push_back(absl::StrCat("127.0.0.1:", s->port()));
    }
    absl::Status st =
        V1Call(rest, "POST", "/v1/clusters",
               absl::StrCat(R"({"name":"h2","protocol":"HTTP2",)",
                            R"("lb_policy":"ROUND_ROBIN","endpoints":[)", endpoints, "]}"),
               201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/clusters",
                absl::StrCat(R"({"name":"grpcish","protocol":"HTTP2","endpoints":[)",
                             R"({"address":"127.0.0.1","port":)", trailers_.port(), "}]}"),
                201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes", R"({"name":"h2","path_prefix":"/h2","cluster":"h2"})",
                201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes",
                R"({"name":"t","path_prefix":"/t","cluster":"grpcish"})", 201);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok()) << proxy_.LogTail();
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "h2", addresses).ok()) << proxy_.LogTail();
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "grpcish",
                                 {absl::StrCat("127.0.0.1:", trailers_.port())})
                    .ok());
  }

  ControllerProcess controller_;
  H2Server a_{{.name = "a"}};
  H2Server b_{{.name = "b"}};
  H2Server c_{{.name = "c"}};
  H2Server trailers_{{.name = "g", .trailers = true}};
  ProxyProcess proxy_{"h2-upstream", {absl::StrCat("--workers=", kWorkers)}};
};

TEST_F(Http2UpstreamTest, RequestsAreBalancedPerRequestOverFewConnections) {
  constexpr int kRequests = 30;
  for (int i = 0; i < kRequests; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), absl::StrCat("/h2/", i));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
    const std::string server = r->Header("x-server");
    EXPECT_EQ(r->body, absl::StrCat(server, " /h2/", i));
  }
  EXPECT_EQ(a_.requests() + b_.requests() + c_.requests(), kRequests);
  for (H2Server* s : {&a_, &b_, &c_}) {
    EXPECT_GT(s->requests(), 0);
    // One multiplexed connection per worker at most: not one per request.
    EXPECT_LE(s->connections(), kWorkers);
  }
  absl::StatusOr<uint64_t> connects =
      StatValue(proxy_.admin_port(), "lb_proxy_upstream_connects_total");
  ASSERT_TRUE(connects.ok()) << connects.status();
  EXPECT_LE(*connects, 3u * kWorkers);
}

TEST_F(Http2UpstreamTest, TrailersReachClientsThatAskForThem) {
  HttpRequest with;
  with.target = "/t/call";
  with.headers = {{"TE", "trailers"}};
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), with);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->body, "g /t/call");
  EXPECT_THAT(r->raw, HasSubstr("\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n"));

  absl::StatusOr<HttpResponse> without = HttpGet(proxy_.port(), "/t/call");
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->status, 200);
  EXPECT_EQ(without->body, "g /t/call");
  EXPECT_THAT(without->raw, Not(HasSubstr("grpc-status")));
}

TEST_F(Http2UpstreamTest, SwitchingTheClusterBackToHttp1IsSentToTheProxy) {
  // The proxy then speaks HTTP/1.1 to the h2c-only servers: nghttp2 refuses the bytes, and the
  // proxy answers 502 instead of hanging (the protocol is what the cluster says).
  absl::Status st = V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/grpcish",
                           R"({"protocol":"HTTP1"})", 200);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/t/x");
        return r.ok() && r->status == 502;
      },
      absl::Seconds(20)));
  st = V1Call(controller_.rest_port(), "PATCH", "/v1/clusters/grpcish", R"({"protocol":"HTTP2"})",
              200);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/t/x");
        return r.ok() && r->status == 200;
      },
      absl::Seconds(20)));
}

}  // namespace
}  // namespace lb::testing
