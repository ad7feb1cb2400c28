// Routes of Gateway API / Ingress through the real binaries (issue 14): a controller, a proxy
// and two backends. A weighted split of 10/90 measured over 2,000 requests (within 3 points),
// then exact path, method and header matches choosing their routes, and the route's request
// header removals and additions as the backend receives them.
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class RouteMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    for (TestBackend* t : {&stable_, &canary_}) ASSERT_TRUE(t->Start().ok());
    canary_.set_echo_headers({"X-Env", "X-Tag", "X-Secret", "X-Keep"});
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok());
    ASSERT_TRUE(proxy_.WaitReady().ok());
    for (TestBackend* t : {&stable_, &canary_}) {
      Call("POST", "/v1/clusters", absl::StrCat(R"({"name":")", t->name(), R"("})"), 201);
      Call("POST", absl::StrCat("/v1/clusters/", t->name(), "/endpoints"),
           absl::StrCat(R"({"address":"127.0.0.1","port":)", t->port(), "}"), 201);
    }
  }

  void Call(const std::string& method, const std::string& path, const std::string& body, int want) {
    absl::Status s = V1Call(controller_.rest_port(), method, path, body, want);
    ASSERT_TRUE(s.ok()) << method << " " << path << ": " << s;
  }

  // The backend that answered (its name), or "<status>" for a proxy answer.
  std::string Send(const std::string& method, const std::string& target, HttpHeaders headers = {},
                   HttpResponse* out = nullptr) {
    HttpRequest request;
    request.method = method;
    request.target = target;
    headers.insert(headers.begin(), {"Host", "shop.test"});
    request.headers = headers;
    absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), request);
    if (!r.ok()) return r.status().ToString();
    if (out != nullptr) *out = *r;
    const std::string backend = r->Header("X-Backend");
    return backend.empty() ? absl::StrCat("<", r->status, ">") : backend;
  }

  ControllerProcess controller_;
  TestBackend stable_{"stable"};
  TestBackend canary_{"canary"};
  ProxyProcess proxy_{"route-proxy"};
};

TEST_F(RouteMatchTest, WeightedSplitIsWithinThreePoints) {
  Call("POST", "/v1/routes",
       R"({"name":"split","hosts":["shop.test"],"weighted_clusters":[)"
       R"({"cluster":"stable","weight":90},{"cluster":"canary","weight":10}]})",
       201);
  ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "canary", {canary_.address()}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return Send("GET", "/") == "stable" || Send("GET", "/") == "canary"; },
                absl::Seconds(20)));
  std::map<std::string, int> hits;
  for (int i = 0; i < 2000; ++i) ++hits[Send("GET", "/")];
  EXPECT_EQ(hits["stable"] + hits["canary"], 2000) << hits.size();
  // 10 % of 2000 = 200; 3 points = 60.
  EXPECT_GE(hits["canary"], 140);
  EXPECT_LE(hits["canary"], 260);
}

TEST_F(RouteMatchTest, ExactPathMethodAndHeadersChooseRoutesAndHeaderChangesReachTheBackend) {
  Call("POST", "/v1/routes", R"({"name":"all","hosts":["shop.test"],"cluster":"stable"})", 201);
  Call("POST", "/v1/routes",
       R"({"name":"exact","hosts":["shop.test"],"path_exact":"/echo/cart","cluster":"canary",)"
       R"("request_headers_to_add":[{"name":"X-Env","value":"prod"},)"
       R"({"name":"X-Tag","value":"route","append":true}],)"
       R"("request_headers_to_remove":["X-Secret"]})",
       201);
  Call("POST", "/v1/routes",
       R"({"name":"post","hosts":["shop.test"],"path_prefix":"/api","method":"POST",)"
       R"("cluster":"canary"})",
       201);
  Call("POST", "/v1/routes",
       R"({"name":"beta","hosts":["shop.test"],"path_prefix":"/","cluster":"canary",)"
       R"("headers":[{"name":"X-Beta","exact":"1"}]})",
       201);
  ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "canary", {canary_.address()}).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Send("GET", "/", {{"X-Beta", "1"}}) == "canary";
      },
      absl::Seconds(20)));

  // Exact path: only that path (the query aside).
  EXPECT_EQ(Send("GET", "/echo/cart"), "canary");
  EXPECT_EQ(Send("GET", "/echo/cart?x=1"), "canary");
  EXPECT_EQ(Send("GET", "/echo/cart/"), "stable");
  // Method.
  EXPECT_EQ(Send("POST", "/api/orders"), "canary");
  EXPECT_EQ(Send("GET", "/api/orders"), "stable");
  // Header.
  EXPECT_EQ(Send("GET", "/x", {{"X-Beta", "1"}}), "canary");
  EXPECT_EQ(Send("GET", "/x", {{"X-Beta", "2"}}), "stable");
  EXPECT_EQ(Send("GET", "/x"), "stable");

  // Header changes as the backend sees them: X-Env set (the client's replaced), X-Tag added
  // to the client's, X-Secret removed, others kept.
  HttpResponse r;
  ASSERT_EQ(Send("GET", "/echo/cart",
                 {{"X-Env", "dev"}, {"X-Tag", "client"}, {"X-Secret", "s"}, {"X-Keep", "k"}}, &r),
            "canary");
  EXPECT_EQ(r.Header("X-Echo-X-Env"), "prod") << r.raw;
  EXPECT_EQ(r.Header("X-Echo-X-Tag"), "client, route") << r.raw;
  EXPECT_FALSE(r.HasHeader("X-Echo-X-Secret")) << r.raw;
  EXPECT_EQ(r.Header("X-Echo-X-Keep"), "k") << r.raw;
}

}  // namespace
}  // namespace lb::testing
