// Tests of common/http/evhttp_server.cc over loopback: status lines and bodies as written.
#include "common/http/evhttp_server.h"

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "tests/test_common/http_client.h"

namespace lb::http {
namespace {

// Answers "/<status>" with that status and body "s<status>".
std::unique_ptr<EvhttpServer> StartStatusServer() {
  absl::StatusOr<std::unique_ptr<EvhttpServer>> server = EvhttpServer::Start(
      "127.0.0.1:0",
      [](const HttpRequest& req) {
        HttpResponse resp;
        if (!absl::SimpleAtoi(absl::string_view(req.target).substr(1), &resp.status)) {
          resp.status = 400;
        }
        resp.body = "s" + std::to_string(resp.status);
        return resp;
      },
      1024);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(EvhttpServerTest, StatusLineCarriesTheReasonPhrase) {
  std::unique_ptr<EvhttpServer> server = StartStatusServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);
  struct Case {
    int status;
    const char* reason;
  };
  for (const Case& c :
       {Case{200, "OK"}, Case{201, "Created"}, Case{404, "Not Found"}, Case{409, "Conflict"},
        Case{503, "Service Unavailable"}, Case{418, "Client Error"}}) {
    absl::StatusOr<testing::HttpResponse> r =
        testing::HttpGet(server->port(), "/" + std::to_string(c.status));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->reason, c.reason) << c.status;
    EXPECT_EQ(r->body, "s" + std::to_string(c.status));
  }
}

}  // namespace
}  // namespace lb::http
