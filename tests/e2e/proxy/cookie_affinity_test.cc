// Cookie affinity through the real binaries (issue 11, row 7): a RING_HASH cluster hashing on
// cookie "lbaff". A client without the cookie gets one in Set-Cookie (with the configured
// Max-Age, Path and attributes), and every later request that carries it reaches the same
// endpoint. Clients behind one address are told apart: 30 cookie-less clients on 127.0.0.1
// spread over the three endpoints.
#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

TEST(CookieAffinityTest, CookieIsSetAndHonoured) {
  ControllerProcess controller;
  ASSERT_TRUE(controller.Start().ok());
  TestBackend a("a"), b("b"), c("c");
  for (TestBackend* t : {&a, &b, &c}) ASSERT_TRUE(t->Start().ok());
  ProxyProcess proxy("cookie-proxy");
  ASSERT_TRUE(proxy.Start(controller.grpc_target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok());
  absl::Status s = V1Call(controller.rest_port(), "POST", "/v1/clusters",
                          R"({"name":"shop","lb_policy":"RING_HASH","hash_policy":{)"
                          R"("cookie":"lbaff","cookie_options":{"ttl":"1h","path":"/",)"
                          R"("same_site":"LAX"}}})",
                          201);
  ASSERT_TRUE(s.ok()) << s;
  for (TestBackend* t : {&a, &b, &c}) {
    s = V1Call(controller.rest_port(), "POST", "/v1/clusters/shop/endpoints",
               absl::StrCat(R"({"address":"127.0.0.1","port":)", t->port(), "}"), 201);
    ASSERT_TRUE(s.ok()) << s;
  }
  s = V1Call(controller.rest_port(), "POST", "/v1/routes",
             R"({"name":"shop","host":"shop.test","path_prefix":"/","cluster":"shop"})", 201);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(WaitForEndpoints(proxy.admin_port(), "shop",
                               {a.address(), b.address(), c.address()})
                  .ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(proxy.port(), "/", {{"Host", "shop.test"}});
        return r.ok() && r->status == 200;
      },
      absl::Seconds(20)));

  std::map<std::string, int> first_hits;  // Backend body -> clients that started there.
  for (int client = 0; client < 30; ++client) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy.port(), "/", {{"Host", "shop.test"}});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->raw;
    const std::string cookie = r->Header("Set-Cookie");
    std::vector<std::string> parts = absl::StrSplit(cookie, "; ");
    ASSERT_EQ(parts.size(), 5u) << cookie;
    ASSERT_TRUE(absl::StartsWith(parts[0], "lbaff=")) << cookie;
    EXPECT_EQ(parts[0].size(), 6u + 16) << cookie;
    EXPECT_EQ(parts[1], "Max-Age=3600");
    EXPECT_EQ(parts[2], "Path=/");
    EXPECT_EQ(parts[3], "HttpOnly");
    EXPECT_EQ(parts[4], "SameSite=Lax");
    ++first_hits[r->body];
    for (int again = 0; again < 5; ++again) {
      absl::StatusOr<HttpResponse> next = HttpGet(
          proxy.port(), "/", {{"Host", "shop.test"}, {"Cookie", "theme=dark; " + parts[0]}});
      ASSERT_TRUE(next.ok());
      EXPECT_EQ(next->body, r->body) << "client " << client << " left its endpoint";
      EXPECT_FALSE(next->HasHeader("Set-Cookie")) << next->raw;
    }
  }
  EXPECT_EQ(first_hits.size(), 3u) << "30 new clients behind one address all went to "
                                   << first_hits.begin()->first;
}

}  // namespace
}  // namespace lb::testing
