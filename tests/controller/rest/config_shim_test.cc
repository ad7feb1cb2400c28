// Tests of the seed's /config API (controller/rest/config_shim.cc) through RestHandler::Handle:
// byte-for-byte the seed's answers where the seed defines them (docs/seed-config-api.md), and
// 400 naming the problem, with state unchanged, where the seed crashed.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/rest/rest_fixture.h"

namespace lb::rest {
namespace {

using http::HttpResponse;
using ::testing::HasSubstr;

class ConfigShimTest : public RestFixture {
 protected:
  HttpResponse PostConfig(const std::string& body, const Headers& headers = {}) {
    return Post("/config", body, headers);
  }
  // GET /config's body, asserting it is a 200.
  std::string Config(const std::string& target = "/config") {
    HttpResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return r.body;
  }
  static std::string Body(const std::string& action, const std::string& ip, int port) {
    return absl::StrCat("{\"action\":\"", action, "\",\"ip\":\"", ip, "\",\"port\":", port, "}");
  }
  void ExpectOk(const HttpResponse& r, const std::string& body) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, body);
    EXPECT_EQ(r.content_type, "text/plain");
  }
  // POSTs `body`, expects a 400 with exactly `message`, and no state change.
  void ExpectRejected(const std::string& body, const std::string& message) {
    std::string before = State();
    std::string config = Config();
    HttpResponse r = PostConfig(body);
    EXPECT_EQ(r.status, 400) << "body: " << body;
    EXPECT_EQ(r.body, message) << "body: " << body;
    EXPECT_EQ(r.content_type, "text/plain");
    EXPECT_EQ(State(), before) << "body: " << body;
    EXPECT_EQ(Config(), config) << "body: " << body;
  }
};

// ---------------------------------------------------------------------------------------------
// The seed's behaviour, byte for byte.

TEST_F(ConfigShimTest, FreshGetIsEmptyArray) {
  HttpResponse r = Get("/config");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[]");
  EXPECT_EQ(r.content_type, "application/json");
}

TEST_F(ConfigShimTest, AddAnswersEmptyBody) {
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":1111})"), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111"])");
}

TEST_F(ConfigShimTest, DuplicateAddAnswersUpstreamAlreadyExist) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  std::string before = State();
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "Upstream already exist");
  EXPECT_EQ(State(), before);
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111"])");
}

TEST_F(ConfigShimTest, DelAnswersEmptyBody) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  ExpectOk(PostConfig(Body("del", "127.0.0.1", 1111)), "");
  EXPECT_EQ(Config(), "[]");
}

TEST_F(ConfigShimTest, DelMissingAnswersUpstreamNotFound) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  std::string before = State();
  ExpectOk(PostConfig(Body("del", "127.0.0.1", 1112)), "Upstream not found");
  ExpectOk(PostConfig(Body("del", "127.0.0.2", 1111)), "Upstream not found");
  EXPECT_EQ(State(), before);
}

TEST_F(ConfigShimTest, UnknownOrMissingActionAnswersInvalidAction) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  std::string before = State();
  ExpectOk(PostConfig(Body("bogus", "127.0.0.1", 1112)), "Invalid action");
  ExpectOk(PostConfig(Body("ADD", "127.0.0.1", 1112)), "Invalid action");
  ExpectOk(PostConfig(Body("", "127.0.0.1", 1112)), "Invalid action");
  ExpectOk(PostConfig(R"({"ip":"127.0.0.1","port":1112})"), "Invalid action");
  ExpectOk(PostConfig(R"({"action":null,"ip":"127.0.0.1","port":1112})"), "Invalid action");
  ExpectOk(PostConfig(R"({"action":1,"ip":"127.0.0.1","port":1112})"), "Invalid action");
  ExpectOk(PostConfig(R"({"action":["add"],"ip":"127.0.0.1","port":1111})"), "Invalid action");
  EXPECT_EQ(State(), before);
}

TEST_F(ConfigShimTest, OtherMethodsAre400) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  std::string before = State();
  for (const char* method : {"PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "TRACE"}) {
    HttpResponse r = Send(method, "/config", Body("add", "127.0.0.1", 1112));
    EXPECT_EQ(r.status, 400) << method;
    EXPECT_EQ(r.body, "Only POST and GET requests are allowed!") << method;
    EXPECT_EQ(r.content_type, "text/plain") << method;
  }
  EXPECT_EQ(State(), before);
}

TEST_F(ConfigShimTest, BlogPostSession) {
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":1111})"), "");
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":1112})"), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111","127.0.0.1:1112"])");
  ExpectOk(PostConfig(R"({"action":"del","ip":"127.0.0.1","port":1111})"), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1112"])");
}

TEST_F(ConfigShimTest, InsertionOrderIsKept) {
  for (int port : {1113, 1111, 1112, 1110})
    ExpectOk(PostConfig(Body("add", "127.0.0.1", port)), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1113","127.0.0.1:1111","127.0.0.1:1112","127.0.0.1:1110"])");
  ExpectOk(PostConfig(Body("del", "127.0.0.1", 1111)), "");
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1113","127.0.0.1:1112","127.0.0.1:1110","127.0.0.1:1111"])");
}

TEST_F(ConfigShimTest, ExtraFieldsAndWhitespaceAreIgnored) {
  ExpectOk(PostConfig(" \n{ \"port\" : 1111 , \"extra\": {\"a\": [1]}, \"ip\":\"127.0.0.1\","
                      "\"action\":\"add\" }\n"),
           "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111"])");
}

// ---------------------------------------------------------------------------------------------
// Where the seed crashed: 400 naming the problem, nothing changed.

TEST_F(ConfigShimTest, MalformedJson) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  ExpectRejected("{", "request body is not valid JSON\n");
  ExpectRejected(R"({"action":"add","ip":"127.0.0.1","port":1112)",
                 "request body is not valid JSON\n");
  ExpectRejected(R"({"action":"add","ip":"127.0.0.1","port":1112}})",
                 "request body is not valid JSON\n");
  ExpectRejected(R"({'action':'add'})", "request body is not valid JSON\n");
  ExpectRejected("action=add&ip=127.0.0.1&port=1112", "request body is not valid JSON\n");
  ExpectRejected("{\"action\":\"add\",\"ip\":\"127.0.0.\xff\",\"port\":1112}",
                 "request body is not valid JSON\n");
}

TEST_F(ConfigShimTest, EmptyBody) {
  ExpectRejected("", "request body is not valid JSON\n");
  ExpectRejected("  \r\n", "request body is not valid JSON\n");
}

TEST_F(ConfigShimTest, NonObjectJson) {
  const std::string message =
      "request body must be a JSON object like "
      "{\"action\":\"add\",\"ip\":\"10.0.0.1\",\"port\":8080}\n";
  for (const char* body : {"[]", "[{\"action\":\"add\"}]", "\"add\"", "42", "null", "true"}) {
    ExpectRejected(body, message);
  }
}

TEST_F(ConfigShimTest, MissingOrMistypedIp) {
  ExpectRejected(R"({"action":"add","port":1111})", "ip: is required\n");
  ExpectRejected(R"({"action":"add","ip":null,"port":1111})", "ip: is required\n");
  ExpectRejected(R"({"action":"add","ip":"","port":1111})", "ip: is required\n");
  ExpectRejected(R"({"action":"add","ip":127,"port":1111})", "ip: must be a string\n");
  ExpectRejected(R"({"action":"add","ip":["127.0.0.1"],"port":1111})", "ip: must be a string\n");
  ExpectRejected(R"({"action":"add","ip":{},"port":1111})", "ip: must be a string\n");
}

TEST_F(ConfigShimTest, MissingOrMistypedPort) {
  ExpectRejected(R"({"action":"add","ip":"127.0.0.1"})", "port: is required\n");
  ExpectRejected(R"({"action":"add","ip":"127.0.0.1","port":null})", "port: is required\n");
  const std::string not_integer = "port: must be an integer from 1 to 65535\n";
  for (const char* port :
       {"1.5", "\"abc\"", "true", "[]", "{}", "\"\"", "\"-1\"", "\"1e3\"", "\"1111 \"", "\" 1111\"",
        "\"0x50\"", "1e300", "-1e300", "99999999999999999999", "\"1234567890123456789\""}) {
    ExpectRejected(absl::StrCat(R"({"action":"add","ip":"127.0.0.1","port":)", port, "}"),
                   not_integer);
  }
}

TEST_F(ConfigShimTest, PortOutOfRange) {
  auto body = [](const std::string& port) {
    return absl::StrCat(R"({"action":"add","ip":"127.0.0.1","port":)", port, "}");
  };
  ExpectRejected(body("0"), "port: must be from 1 to 65535, got 0\n");
  ExpectRejected(body("-1"), "port: must be from 1 to 65535, got -1\n");
  ExpectRejected(body("65536"), "port: must be from 1 to 65535, got 65536\n");
  ExpectRejected(body("\"0\""), "port: must be from 1 to 65535, got 0\n");
  ExpectRejected(body("\"65536\""), "port: must be from 1 to 65535, got 65536\n");
  ExpectRejected(body("\"999999999999999999\""),
                 "port: must be from 1 to 65535, got 999999999999999999\n");
  ExpectRejected(body("-0.0"), "port: must be from 1 to 65535, got 0\n");
  ExpectRejected(body("70000.0"), "port: must be from 1 to 65535, got 70000\n");
  ExpectRejected(body("9223372036854775807"),
                 "port: must be from 1 to 65535, got 9223372036854775807\n");
  ExpectRejected(body("-9223372036854775808"),
                 "port: must be from 1 to 65535, got -9223372036854775808\n");
}

TEST_F(ConfigShimTest, PortAboveInt64IsReportedAsGiven) {
  // nlohmann stores 2^63..2^64-1 as an unsigned integer; get<int64_t>() wraps it negative.
  std::string before = State();
  HttpResponse r = PostConfig(R"({"action":"add","ip":"127.0.0.1","port":18446744073709551615})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(State(), before);
  EXPECT_EQ(r.body, "port: must be from 1 to 65535, got 18446744073709551615\n");
}

TEST_F(ConfigShimTest, NumericStringPortIsAcceptedLikeTheSeed) {
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":"1111"})"), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111"])");
  // The same upstream as the integer spelling.
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":1111})"),
           "Upstream already exist");
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":"01111"})"),
           "Upstream already exist");
  // An integral float is the same number too (Lua has one number type).
  ExpectOk(PostConfig(R"({"action":"add","ip":"127.0.0.1","port":1112.0})"), "");
  ExpectOk(PostConfig(R"({"action":"del","ip":"127.0.0.1","port":"1111"})"), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1112"])");
}

TEST_F(ConfigShimTest, IpNeitherIpNorHostname) {
  for (const char* ip : {"1.2.3.999", "a b", "-x", "x-", "[::1]", "127.0.0.1:80", "a..b",
                         "under_score", "1.2.3", "::1%eth0"}) {
    ExpectRejected(absl::StrCat(R"({"action":"add","ip":")", ip, R"(","port":1111})"),
                   absl::StrCat("ip: \"", ip, "\" is neither an IP address nor a hostname\n"));
  }
  // Escaped in the message.
  ExpectRejected(R"({"action":"add","ip":"a\"b\n","port":1111})",
                 "ip: \"a\\\"b\\n\" is neither an IP address nor a hostname\n");
}

TEST_F(ConfigShimTest, IpWithEmbeddedNulIsRejected) {
  std::string before = State();
  HttpResponse r = PostConfig(R"({"action":"add","ip":"127.0.0.1\u0000zz","port":1111})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "ip: \"127.0.0.1\\x00zz\" is neither an IP address nor a hostname\n");
  EXPECT_EQ(State(), before);
}

TEST_F(ConfigShimTest, EveryProblemIsReportedAtOnceBeforeTheAction) {
  ExpectRejected(R"({"action":"add"})", "ip: is required; port: is required\n");
  ExpectRejected(R"({})", "ip: is required; port: is required\n");
  ExpectRejected(R"({"action":"bogus","ip":"a b","port":0,"cluster":"x y","weight":0})",
                 "ip: \"a b\" is neither an IP address nor a hostname; "
                 "port: must be from 1 to 65535, got 0; "
                 "cluster: must be a cluster name (1-128 of [a-zA-Z0-9_.-]); "
                 "weight: must be an integer from 1 to 10000\n");
  ExpectRejected(R"({"action":"del","ip":"1.2.3.999","port":1111})",
                 "ip: \"1.2.3.999\" is neither an IP address nor a hostname\n");
}

TEST_F(ConfigShimTest, OversizedBody) {
  ExpectOk(PostConfig(Body("add", "127.0.0.1", 1111)), "");
  std::string valid = Body("add", "127.0.0.1", 1112);
  std::string big = valid + std::string(kMaxBodyBytes + 1 - valid.size(), ' ');
  ASSERT_EQ(big.size(), 65537u);
  ExpectRejected(big, "request body too large: 65537 bytes (limit 65536)\n");
  ExpectRejected(std::string(1 << 20, '['),
                 "request body too large: 1048576 bytes (limit 65536)\n");
  // Exactly at the limit is fine.
  big.pop_back();
  ExpectOk(PostConfig(big), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111","127.0.0.1:1112"])");
}

TEST_F(ConfigShimTest, DeeplyNestedJsonIsRejectedWithoutCrashing) {
  std::string deep = std::string(30000, '[') + std::string(30000, ']');
  ExpectRejected(deep,
                 "request body must be a JSON object like "
                 "{\"action\":\"add\",\"ip\":\"10.0.0.1\",\"port\":8080}\n");
  std::string deep_ip =
      R"({"action":"add","port":1,"ip":)" + std::string(20000, '[') + std::string(20000, ']') + "}";
  ExpectRejected(deep_ip, "ip: must be a string\n");
}

// ---------------------------------------------------------------------------------------------
// Addresses

TEST_F(ConfigShimTest, HostnameIsAccepted) {
  ExpectOk(PostConfig(Body("add", "localhost", 80)), "");
  EXPECT_EQ(Config(), R"(["localhost:80"])");
  ExpectOk(PostConfig(Body("add", "LOCALHOST.", 80)), "Upstream already exist");
  ExpectOk(PostConfig(Body("add", "Web-1.Internal", 8080)), "");
  EXPECT_EQ(Config(), R"(["localhost:80","web-1.internal:8080"])");
  ExpectOk(PostConfig(Body("del", "localhost.", 80)), "");
  EXPECT_EQ(Config(), R"(["web-1.internal:8080"])");
}

TEST_F(ConfigShimTest, Ipv6IsBracketed) {
  ExpectOk(PostConfig(Body("add", "::1", 80)), "");
  ExpectOk(PostConfig(Body("add", "2001:DB8:0:0:0:0:0:1", 443)), "");
  EXPECT_EQ(Config(), R"(["[::1]:80","[2001:db8::1]:443"])");
  ExpectOk(PostConfig(Body("add", "0:0:0:0:0:0:0:1", 80)), "Upstream already exist");
  ExpectOk(PostConfig(Body("add", "::FFFF:127.0.0.1", 80)), "");
  EXPECT_EQ(Config(), R"(["[::1]:80","[2001:db8::1]:443","[::ffff:127.0.0.1]:80"])");
  ExpectOk(PostConfig(Body("del", "0::1", 80)), "");
  EXPECT_EQ(Config(), R"(["[2001:db8::1]:443","[::ffff:127.0.0.1]:80"])");
}

// ---------------------------------------------------------------------------------------------
// Extensions: cluster and weight fields, ?cluster= on GET.

TEST_F(ConfigShimTest, ClusterField) {
  lb::v1::Cluster web;
  web.set_name("web");
  ASSERT_TRUE(registry_->CreateCluster(web).ok());
  ExpectOk(PostConfig(R"({"action":"add","ip":"10.0.0.1","port":80,"cluster":"web"})"), "");
  ExpectOk(PostConfig(R"({"action":"add","ip":"10.0.0.1","port":80,"cluster":"web"})"),
           "Upstream already exist");
  ExpectOk(PostConfig(R"({"action":"add","ip":"10.0.0.2","port":80,"cluster":null})"), "");
  EXPECT_EQ(Config("/config?cluster=web"), R"(["10.0.0.1:80"])");
  EXPECT_EQ(Config("/config"), R"(["10.0.0.2:80"])");
  EXPECT_EQ(Config("/config?cluster="), R"(["10.0.0.2:80"])");
  EXPECT_EQ(Config("/config?x=1&cluster=web&y=2"), R"(["10.0.0.1:80"])");
  EXPECT_EQ(Config("/config?cluster=backend"), R"(["10.0.0.2:80"])");
  ExpectOk(PostConfig(R"({"action":"del","ip":"10.0.0.1","port":80,"cluster":"web"})"), "");
  ExpectOk(PostConfig(R"({"action":"del","ip":"10.0.0.1","port":80,"cluster":"web"})"),
           "Upstream not found");
  EXPECT_EQ(Config("/config?cluster=web"), "[]");
}

TEST_F(ConfigShimTest, UnknownClusterIs404) {
  std::string before = State();
  for (const char* action : {"add", "del"}) {
    HttpResponse r = PostConfig(
        absl::StrCat(R"({"action":")", action, R"(","ip":"10.0.0.1","port":80,"cluster":"nope"})"));
    EXPECT_EQ(r.status, 404) << action;
    EXPECT_EQ(r.body, "cluster \"nope\" not found\n") << action;
  }
  // An unknown action never looks at the cluster.
  HttpResponse r = PostConfig(R"({"action":"x","ip":"10.0.0.1","port":80,"cluster":"nope"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Invalid action");
  r = Get("/config?cluster=nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "cluster \"nope\" not found\n");
  EXPECT_EQ(State(), before);
}

TEST_F(ConfigShimTest, BadClusterField) {
  const std::string message = "cluster: must be a cluster name (1-128 of [a-zA-Z0-9_.-])\n";
  for (const char* cluster : {"\"\"", "\"a b\"", "5", "[\"web\"]", "\"../x\""}) {
    ExpectRejected(
        absl::StrCat(R"({"action":"add","ip":"10.0.0.1","port":80,"cluster":)", cluster, "}"),
        message);
  }
}

TEST_F(ConfigShimTest, WeightField) {
  ExpectOk(PostConfig(R"({"action":"add","ip":"10.0.0.1","port":80,"weight":7})"), "");
  ExpectOk(PostConfig(R"({"action":"add","ip":"10.0.0.2","port":80,"weight":10000})"), "");
  ExpectOk(PostConfig(R"({"action":"add","ip":"10.0.0.3","port":80,"weight":null})"), "");
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster("backend");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->endpoints_size(), 3);
  EXPECT_EQ(c->endpoints(0).weight(), 7u);
  EXPECT_EQ(c->endpoints(1).weight(), 10000u);
  EXPECT_EQ(c->endpoints(2).weight(), 1u);
  const std::string message = "weight: must be an integer from 1 to 10000\n";
  for (const char* weight : {"0", "10001", "-1", "1.5", "\"5\"", "true", "1e10"}) {
    ExpectRejected(
        absl::StrCat(R"({"action":"add","ip":"10.0.0.9","port":80,"weight":)", weight, "}"),
        message);
  }
}

// The versions every write surface shares: GET carries the cluster's ETag; a POST with a stale
// If-Match changes nothing and answers 409 naming the version; without one nothing changes.
TEST_F(ConfigShimTest, IfMatchAndETagAsInV1) {
  ExpectOk(PostConfig(Body("add", "10.0.0.1", 80)), "");
  absl::StatusOr<lb::v1::Cluster> c = registry_->GetCluster("backend");
  ASSERT_TRUE(c.ok());
  const int64_t version = c->version();
  EXPECT_EQ(HeaderOf(Get("/config"), "ETag"), absl::StrCat("\"", version, "\""));
  const std::string before = State();
  const Headers stale = {{"If-Match", absl::StrCat("\"", version - 1, "\"")}};
  const std::string message = absl::StrCat("cluster \"backend\" is at version ", version, ", not ",
                                           version - 1, "; re-read and retry\n");
  for (const std::string& body : {Body("add", "10.0.0.2", 80), Body("del", "10.0.0.1", 80)}) {
    HttpResponse r = PostConfig(body, stale);
    EXPECT_EQ(r.status, 409) << body;
    EXPECT_EQ(r.body, message) << body;
  }
  HttpResponse r = PostConfig(Body("add", "10.0.0.2", 80), {{"If-Match", "v7"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "If-Match: must be a version number from a previous read\n");
  EXPECT_EQ(State(), before);
  ExpectOk(PostConfig(Body("add", "10.0.0.2", 80), {{"If-Match", absl::StrCat(version)}}), "");
  EXPECT_EQ(Config(), R"(["10.0.0.1:80","10.0.0.2:80"])");
}

// ---------------------------------------------------------------------------------------------
// Auth

TEST_F(ConfigShimTest, PostNeedsTheBearerTokenWhenAuthIsOn) {
  Init(api::TokenAuth("s3cret"));
  std::string before = State();
  std::string add = Body("add", "127.0.0.1", 1111);

  HttpResponse r = PostConfig(add);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "this call needs an Authorization: Bearer token\n");
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "Bearer");
  r = PostConfig(add, {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "invalid bearer token\n");
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "Bearer");
  r = PostConfig(add, {{"Authorization", "s3cret"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "this call needs an Authorization: Bearer token\n");
  r = PostConfig(add, {{"Authorization", "Bearer s3cret2"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "invalid bearer token\n");
  // Bad bodies are not even looked at without the token.
  r = PostConfig("{", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(State(), before);

  // GET needs no token.
  r = Get("/config");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[]");

  // Header names are case-insensitive.
  ExpectOk(PostConfig(add, {{"authorization", "Bearer s3cret"}}), "");
  EXPECT_EQ(Config(), R"(["127.0.0.1:1111"])");
}

// ---------------------------------------------------------------------------------------------
// Store failures

TEST_F(ConfigShimTest, StoreErrorsAreReported) {
  fake_->FailTxn(absl::UnavailableError("store unreachable"));
  HttpResponse r = PostConfig(Body("add", "127.0.0.1", 1111));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "store unreachable\n");
  fake_->FailTxn(absl::OkStatus());
  fake_->FailGet(absl::UnavailableError("read failed"));
  r = Get("/config");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "read failed\n");
  fake_->FailGet(absl::OkStatus());
  EXPECT_EQ(Config(), "[]");
}

TEST_F(ConfigShimTest, NotBootstrappedStoreHasNoBackend) {
  ASSERT_TRUE(registry_->DeleteRoute("default", 0).ok());
  ASSERT_TRUE(registry_->DeleteCluster("backend", 0).ok());
  HttpResponse r = Get("/config");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "cluster \"backend\" not found\n");
  r = PostConfig(Body("add", "127.0.0.1", 1111));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "cluster \"backend\" not found\n");
}

TEST_F(ConfigShimTest, RequestsAreCounted) {
  PostConfig(Body("add", "127.0.0.1", 1111));
  PostConfig("{");
  Get("/config");
  Get("/config");
  std::string text = metrics_->Render();
  EXPECT_THAT(text,
              HasSubstr("lb_controller_http_requests_total{route=\"/config\",code=\"200\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("lb_controller_http_requests_total{route=\"/config\",code=\"400\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lb_controller_http_request_seconds_count{route=\"/config\"} 4\n"));
}

}  // namespace
}  // namespace lb::rest
