// Abuse suite, request targets (issue table row 8): a target that names another host than the
// Host field, and dot-segments that climb out of a route's prefix. The proxy routes on what the
// upstream will act on: the absolute-form's authority (sent upstream as Host) and the
// normalised path (sent upstream as the path).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

class RequestTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(admin_.Start().ok());
    ASSERT_TRUE(public_.Start().ok());
    const int rest = controller_.rest_port();
    auto v1 = [rest](const std::string& method, const std::string& path, const std::string& body,
                     int want) { return V1Call(rest, method, path, body, want); };
    for (
        const absl::Status& s : std::vector<absl::Status>{
            SeedConfig(rest, "add", public_.port()),
            v1("POST", "/v1/clusters", R"({"name":"admin"})", 201),
            v1("POST", "/v1/clusters/admin/endpoints",
               absl::StrCat(R"({"address":"127.0.0.1","port":)", admin_.port(), "}"), 201),
            v1("DELETE", "/v1/routes/default", "", 204),
            v1("POST", "/v1/routes",
               R"({"name":"internal","host":"admin.internal","path_prefix":"/","cluster":"admin"})",
               201),
            v1("POST", "/v1/routes",
               R"({"name":"admin-path","host":"*","path_prefix":"/head/admin","cluster":"admin"})",
               201),
            v1("POST", "/v1/routes",
               R"({"name":"default","host":"*","path_prefix":"/","cluster":"backend"})", 201),
        }) {
      ASSERT_TRUE(s.ok()) << s;
    }
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "admin", {admin_.address()}).ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "backend", {public_.address()}).ok());
    ASSERT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
          return d.ok() && (*d)["routes"].size() >= 2;
        },
        absl::Seconds(20)));
  }

  absl::StatusOr<HttpResponse> Raw(const std::string& request_line, const std::string& host) {
    return HttpCallRaw(proxy_.port(), absl::StrCat(request_line, "\r\nHost: ", host,
                                                   "\r\nConnection: close\r\n\r\n"));
  }

  ControllerProcess controller_;
  TestBackend admin_{"admin"};
  TestBackend public_{"public"};
  ProxyProcess proxy_{"targets"};
};

TEST_F(RequestTargetTest, AbsoluteFormIsRoutedAndForwardedByItsAuthority) {
  absl::StatusOr<HttpResponse> r = Raw("GET http://admin.internal/head HTTP/1.1", "public");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("X-Backend"), "admin");
  // The upstream sees an origin-form target and the target's authority as its only Host.
  EXPECT_TRUE(absl::StartsWith(r->body, "GET /head HTTP/1.1\r\n")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "Host: admin.internal\r\n")) << r->body;
  EXPECT_FALSE(absl::StrContains(r->body, "public")) << r->body;
}

TEST_F(RequestTargetTest, DotSegmentsCannotClimbOutOfAPrefix) {
  // (The test upstream echoes the request head for paths under /head.)
  for (const char* target :
       {"/pub/../head/admin", "/pub/%2e%2e/head/admin", "/./head/admin", "/x/y/../../head/admin"}) {
    absl::StatusOr<HttpResponse> r = Raw(absl::StrCat("GET ", target, " HTTP/1.1"), "public");
    ASSERT_TRUE(r.ok()) << target << ": " << r.status();
    EXPECT_EQ(r->Header("X-Backend"), "admin") << target;
    EXPECT_TRUE(absl::StartsWith(r->body, "GET /head/admin HTTP/1.1\r\n")) << r->body;
  }
  // Without dot-segments the same bytes go through unchanged.
  absl::StatusOr<HttpResponse> r = Raw("GET /head/pub?a=/../b HTTP/1.1", "public");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Header("X-Backend"), "public");
  EXPECT_TRUE(absl::StartsWith(r->body, "GET /head/pub?a=/../b HTTP/1.1\r\n")) << r->body;
}

TEST_F(RequestTargetTest, TargetsThatCannotBeRoutedAre400) {
  for (const char* line :
       {"GET ftp://admin.internal/head HTTP/1.1", "GET http://user@admin.internal/head HTTP/1.1",
        "GET http:///head HTTP/1.1"}) {
    absl::StatusOr<HttpResponse> r = Raw(line, "public");
    ASSERT_TRUE(r.ok()) << line << ": " << r.status();
    EXPECT_EQ(r->status, 400) << line;
  }
  EXPECT_EQ(admin_.requests(), 0u);
  EXPECT_EQ(public_.requests(), 0u);
}

}  // namespace
}  // namespace lb::testing
