// Replays the seed blog post's curl walkthrough (nginx + Lua /config API) against the real
// controller binary over a raw socket and compares status codes and bodies byte for byte with
// what the seed's Lua produces (docs/seed-config-api.md).
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"

namespace lb::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOnlyPostAndGet[] = "Only POST and GET requests are allowed!";

// The headers `curl -X POST -d '...' URL` sends besides Host and Content-Length.
HttpHeaders CurlFormHeaders() {
  return {{"User-Agent", "curl/7.88.1"},
          {"Accept", "*/*"},
          {"Content-Type", "application/x-www-form-urlencoded"}};
}

std::string Endpoint(const std::string& action, int port) {
  return absl::StrCat(R"({"action":")", action, R"(","ip":"127.0.0.1","port":)", port, "}");
}

class SeedTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(controller_.Start().ok()) << controller_.LogTail(); }

  // Sends a request; a transport failure is a test failure and returns status 0.
  HttpResponse Call(const std::string& method, const std::string& body,
                    const HttpHeaders& headers = CurlFormHeaders()) {
    HttpRequest req;
    req.method = method;
    req.target = "/config";
    req.headers = headers;
    req.body = body;
    absl::StatusOr<HttpResponse> r = HttpCall(controller_.rest_port(), req);
    if (!r.ok()) {
      ADD_FAILURE() << method << " /config " << body << ": " << r.status();
      return HttpResponse();
    }
    return *std::move(r);
  }

  std::string GetList() {
    HttpResponse r = Call("GET", "", {{"User-Agent", "curl/7.88.1"}, {"Accept", "*/*"}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }

  ControllerProcess controller_;
};

struct Step {
  std::string method;
  std::string body;
  int status;
  std::string response_body;
};

// The walkthrough with each kind of request body the seed's users send: curl's form encoding
// (what `curl -d` does), JSON, and no Content-Type at all. The seed ignores the Content-Type.
class SeedWalkthroughTest : public SeedTest, public ::testing::WithParamInterface<HttpHeaders> {};

TEST_P(SeedWalkthroughTest, MatchesTheSeedByteForByte) {
  const std::vector<Step> steps = {
      // Empty: the seed's cjson would print {} for its empty table; the controller
      // deliberately answers a JSON array.
      {"GET", "", 200, "[]"},
      {"POST", Endpoint("add", 1111), 200, ""},
      {"POST", Endpoint("add", 1112), 200, ""},
      {"GET", "", 200, R"(["127.0.0.1:1111","127.0.0.1:1112"])"},
      {"POST", Endpoint("add", 1112), 200, "Upstream already exist"},
      {"POST", Endpoint("del", 1111), 200, ""},
      {"GET", "", 200, R"(["127.0.0.1:1112"])"},
      {"POST", Endpoint("del", 1111), 200, "Upstream not found"},
      {"POST", Endpoint("foo", 1111), 200, "Invalid action"},
      {"PUT", Endpoint("add", 1113), 400, kOnlyPostAndGet},
      {"GET", "", 200, R"(["127.0.0.1:1112"])"},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    HttpHeaders headers = GetParam();
    if (s.method == "GET") headers = {{"Accept", "*/*"}};
    HttpResponse r = Call(s.method, s.body, headers);
    EXPECT_EQ(r.status, s.status) << "step " << i << ": " << s.method << " " << s.body << "\n"
                                  << r.raw;
    EXPECT_EQ(r.body, s.response_body) << "step " << i << ": " << s.method << " " << s.body;
    EXPECT_EQ(r.Header("Content-Length"), absl::StrCat(r.body.size())) << r.raw;
  }
}

INSTANTIATE_TEST_SUITE_P(BodyKinds, SeedWalkthroughTest,
                         ::testing::Values(CurlFormHeaders(),
                                           HttpHeaders{{"Content-Type", "application/json"}},
                                           HttpHeaders{}),
                         [](const ::testing::TestParamInfo<HttpHeaders>& info) -> std::string {
                           switch (info.index) {
                             case 0:
                               return "CurlForm";
                             case 1:
                               return "Json";
                             default:
                               return "NoContentType";
                           }
                         });

TEST_F(SeedTest, ActionOtherThanAddOrDelIsInvalidAndChangesNothing) {
  ASSERT_EQ(Call("POST", Endpoint("add", 1111)).body, "");
  for (const std::string& body : {Endpoint("foo", 1112), Endpoint("ADD", 1112), Endpoint("", 1112),
                                  std::string(R"({"ip":"127.0.0.1","port":1112})"),
                                  std::string(R"({"action":1,"ip":"127.0.0.1","port":1112})")}) {
    HttpResponse r = Call("POST", body);
    EXPECT_EQ(r.status, 200) << body;
    EXPECT_EQ(r.body, "Invalid action") << body;
  }
  EXPECT_EQ(GetList(), R"(["127.0.0.1:1111"])");
}

TEST_F(SeedTest, PortAsStringOrIntegralFloatIsTheSameUpstream) {
  // The seed builds the key as ip .. ":" .. port, so "1113", 1113 and 1113.0 are one upstream.
  EXPECT_EQ(Call("POST", R"({"action":"add","ip":"127.0.0.1","port":"1113"})").body, "");
  EXPECT_EQ(Call("POST", Endpoint("add", 1113)).body, "Upstream already exist");
  EXPECT_EQ(Call("POST", R"({"action":"add","ip":"127.0.0.1","port":1113.0})").body,
            "Upstream already exist");
  EXPECT_EQ(GetList(), R"(["127.0.0.1:1113"])");
  EXPECT_EQ(Call("POST", R"({"action":"del","ip":"127.0.0.1","port":"1113"})").body, "");
  EXPECT_EQ(GetList(), "[]");
}

TEST_F(SeedTest, MethodsOtherThanGetAndPostAre400) {
  ASSERT_EQ(Call("POST", Endpoint("add", 1111)).body, "");
  for (const std::string method : {"PUT", "DELETE", "PATCH", "OPTIONS"}) {
    for (const std::string& body : {std::string(), Endpoint("del", 1111)}) {
      HttpResponse r = Call(method, body);
      EXPECT_EQ(r.status, 400) << method << "\n" << r.raw;
      EXPECT_EQ(r.body, kOnlyPostAndGet) << method;
    }
  }
  EXPECT_EQ(GetList(), R"(["127.0.0.1:1111"])");
}

TEST_F(SeedTest, HeadIs400WithoutABody) {
  // HEAD is neither GET nor POST, so the seed answers 400; a response to HEAD never carries
  // content (RFC 9110 9.3.2), or a keep-alive client reads it as the next response.
  HttpRequest req;
  req.method = "HEAD";
  req.target = "/config";
  absl::StatusOr<HttpResponse> head = HttpCall(controller_.rest_port(), req);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 400) << head->raw;
  EXPECT_EQ(head->body, "");
}

struct BadInput {
  std::string name;
  std::string body;
  std::vector<std::string> message_parts;  // The 400 body must contain each.
};

TEST_F(SeedTest, BadInputsAre400NamingTheProblemAndChangeNothing) {
  ASSERT_EQ(Call("POST", Endpoint("add", 1111)).body, "");
  ASSERT_EQ(Call("POST", Endpoint("add", 1112)).body, "");
  const std::string before = GetList();
  ASSERT_EQ(before, R"(["127.0.0.1:1111","127.0.0.1:1112"])");

  // A valid request padded to 100 KiB: its only problem is its size.
  std::string huge = R"({"action":"add","ip":"127.0.0.1","port":1200,"pad":")";
  const size_t kHuge = 100 * 1024;
  huge += std::string(kHuge - huge.size() - 2, 'x') + "\"}";
  ASSERT_EQ(huge.size(), kHuge);

  const std::vector<BadInput> cases = {
      {"malformed JSON", R"({"action":"add","ip":"127.0.0.1","port":)", {"not valid JSON"}},
      {"truncated JSON", R"({"action":"add")", {"not valid JSON"}},
      {"empty body", "", {"not valid JSON"}},
      {"JSON array", R"(["add","127.0.0.1",1200])", {"JSON object"}},
      {"JSON null", "null", {"JSON object"}},
      {"missing port", R"({"action":"add","ip":"127.0.0.1"})", {"port", "required"}},
      {"null port", R"({"action":"add","ip":"127.0.0.1","port":null})", {"port", "required"}},
      {"port 70000", Endpoint("add", 70000), {"port", "1 to 65535", "70000"}},
      {"port 0", Endpoint("add", 0), {"port", "1 to 65535", "0"}},
      {"negative port", Endpoint("add", -1), {"port", "1 to 65535", "-1"}},
      {"port not a number", R"({"action":"add","ip":"127.0.0.1","port":"http"})", {"port"}},
      {"fractional port", R"({"action":"add","ip":"127.0.0.1","port":1200.5})", {"port"}},
      {"missing ip", R"({"action":"add","port":1200})", {"ip", "required"}},
      {"ip not a string", R"({"action":"add","ip":2130706433,"port":1200})", {"ip", "string"}},
      {"ip with port",
       R"({"action":"add","ip":"127.0.0.1:1200","port":1200})",
       {"ip", "127.0.0.1:1200"}},
      {"bad del", R"({"action":"del","ip":"127.0.0.1","port":99999})", {"port", "99999"}},
      {"100 KiB body", huge, {"too large", "102400"}},
  };
  for (const BadInput& c : cases) {
    HttpResponse r = Call("POST", c.body);
    EXPECT_EQ(r.status, 400) << c.name << "\n" << r.raw.substr(0, 1000);
    EXPECT_FALSE(r.body.empty()) << c.name;
    for (const std::string& part : c.message_parts) {
      EXPECT_THAT(r.body, HasSubstr(part)) << c.name;
    }
    EXPECT_EQ(GetList(), before) << "after " << c.name;
  }
  // Still fully usable.
  EXPECT_EQ(Call("POST", Endpoint("add", 1200)).body, "");
  EXPECT_EQ(GetList(), R"(["127.0.0.1:1111","127.0.0.1:1112","127.0.0.1:1200"])");
}

TEST_F(SeedTest, HugeBodyWithExpectContinueLikeCurlIs400) {
  // curl sends "Expect: 100-continue" with large bodies; the answer must still be the 400.
  std::string huge = std::string(R"({"pad":")") + std::string(100 * 1024, 'y') + "\"}";
  HttpHeaders headers = CurlFormHeaders();
  headers.emplace_back("Expect", "100-continue");
  HttpResponse r = Call("POST", huge, headers);
  EXPECT_EQ(r.status, 400) << r.raw.substr(0, 1000);
  EXPECT_THAT(r.body, HasSubstr("too large"));
  EXPECT_EQ(GetList(), "[]");
}

TEST_F(SeedTest, StateSurvivesRestartInTheSameOrder) {
  // Insertion order, deliberately not sorted by address or port.
  for (const std::string& body :
       {Endpoint("add", 3000), std::string(R"({"action":"add","ip":"10.0.0.2","port":80})"),
        Endpoint("add", 1000), std::string(R"({"action":"add","ip":"::1","port":2000})"),
        Endpoint("add", 2000), Endpoint("add", 9999)}) {
    ASSERT_EQ(Call("POST", body).body, "") << body;
  }
  ASSERT_EQ(Call("POST", Endpoint("del", 9999)).body, "");
  const std::string before = GetList();
  EXPECT_EQ(before,
            R"(["127.0.0.1:3000","10.0.0.2:80","127.0.0.1:1000","[::1]:2000","127.0.0.1:2000"])");

  const int old_pid = controller_.pid();
  absl::StatusOr<int> code = controller_.Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << controller_.LogTail();
  ASSERT_TRUE(controller_.Start().ok()) << controller_.LogTail();
  EXPECT_NE(controller_.pid(), old_pid);

  EXPECT_EQ(GetList(), before);
  // The restored store keeps working, and the seed's answers are unchanged.
  EXPECT_EQ(Call("POST", Endpoint("add", 3000)).body, "Upstream already exist");
  EXPECT_EQ(Call("POST", Endpoint("del", 9999)).body, "Upstream not found");
  EXPECT_EQ(Call("POST", Endpoint("add", 4000)).body, "");
  EXPECT_EQ(GetList(), R"(["127.0.0.1:3000","10.0.0.2:80","127.0.0.1:1000","[::1]:2000",)"
                       R"("127.0.0.1:2000","127.0.0.1:4000"])");
}

}  // namespace
}  // namespace lb::testing
