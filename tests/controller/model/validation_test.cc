// Tests of lb.v1 model validation: every rule in controller/model/validation.cc, with the exact
// message text (it is what REST clients, lbctl users and NACKs see).
#include "controller/model/validation.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace lb::model {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;

lb::v1::Cluster ParseCluster(const std::string& text) {
  lb::v1::Cluster c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

lb::v1::Route ParseRoute(const std::string& text) {
  lb::v1::Route r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  return r;
}

lb::v1::Endpoint ParseEndpoint(const std::string& text) {
  lb::v1::Endpoint e;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &e)) << text;
  return e;
}

// NormalizeCluster on `text`; returns the status message ("" when OK).
std::string ClusterError(const std::string& text) {
  lb::v1::Cluster c = ParseCluster(text);
  absl::Status s = NormalizeCluster(&c);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  return std::string(s.message());
}

std::string RouteError(const std::string& text) {
  lb::v1::Route r = ParseRoute(text);
  absl::Status s = NormalizeRoute(&r);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  return std::string(s.message());
}

std::string EndpointError(const std::string& text) {
  lb::v1::Endpoint e = ParseEndpoint(text);
  absl::Status s = NormalizeEndpoint(&e);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  return std::string(s.message());
}

void ExpectProtoEq(const google::protobuf::Message& actual, const std::string& expected_text) {
  std::unique_ptr<google::protobuf::Message> expected(actual.New());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(expected_text, expected.get()));
  EXPECT_TRUE(MessageDifferencer::Equals(actual, *expected))
      << "actual:\n"
      << actual.DebugString() << "expected:\n"
      << expected->DebugString();
}

// ---------------------------------------------------------------------------------------------
// Addresses

TEST(IsIpLiteralTest, Literals) {
  EXPECT_TRUE(IsIpLiteral("10.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("0.0.0.0"));
  EXPECT_TRUE(IsIpLiteral("255.255.255.255"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_TRUE(IsIpLiteral("::"));
  EXPECT_TRUE(IsIpLiteral("2001:DB8::1"));
  EXPECT_TRUE(IsIpLiteral("::ffff:1.2.3.4"));
  EXPECT_FALSE(IsIpLiteral(""));
  EXPECT_FALSE(IsIpLiteral("1.2.3.999"));
  EXPECT_FALSE(IsIpLiteral("1.2.3"));
  EXPECT_FALSE(IsIpLiteral("[::1]"));
  EXPECT_FALSE(IsIpLiteral("fe80::1%eth0"));
  EXPECT_FALSE(IsIpLiteral("localhost"));
  EXPECT_FALSE(IsIpLiteral(" 10.0.0.1"));
}

TEST(IsHostnameTest, ValidNames) {
  EXPECT_TRUE(IsHostname("localhost"));
  EXPECT_TRUE(IsHostname("web.internal"));
  EXPECT_TRUE(IsHostname("Web-1.Example.COM"));
  EXPECT_TRUE(IsHostname("example.com."));  // Trailing dot: fully qualified.
  EXPECT_TRUE(IsHostname("1a.example"));
  EXPECT_TRUE(IsHostname("a"));
  EXPECT_TRUE(IsHostname("1.2.3.a"));  // Not all numeric.
  EXPECT_TRUE(IsHostname(std::string(63, 'a')));
  EXPECT_TRUE(IsHostname(std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                         std::string(63, 'c') + "." + std::string(61, 'd')));  // 253.
}

TEST(IsHostnameTest, InvalidNames) {
  EXPECT_FALSE(IsHostname(""));
  EXPECT_FALSE(IsHostname("."));
  EXPECT_FALSE(IsHostname("a..b"));
  EXPECT_FALSE(IsHostname(".a"));
  EXPECT_FALSE(IsHostname("a.."));
  EXPECT_FALSE(IsHostname("-x"));
  EXPECT_FALSE(IsHostname("x-"));
  EXPECT_FALSE(IsHostname("a.-b"));
  EXPECT_FALSE(IsHostname("a-.b"));
  EXPECT_FALSE(IsHostname("a b"));
  EXPECT_FALSE(IsHostname("a_b"));
  EXPECT_FALSE(IsHostname("a:80"));
  EXPECT_FALSE(IsHostname("[::1]"));
  EXPECT_FALSE(IsHostname("1.2.3.999"));  // A mistyped IP, not a name.
  EXPECT_FALSE(IsHostname("123"));
  EXPECT_FALSE(IsHostname(std::string(64, 'a')));  // Label over 63.
  EXPECT_FALSE(IsHostname(std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                          std::string(63, 'c') + "." + std::string(62, 'd')));  // 254.
}

TEST(NormalizeAddressTest, CanonicalizesIpLiterals) {
  EXPECT_EQ(*NormalizeAddress("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(*NormalizeAddress("::1"), "::1");
  EXPECT_EQ(*NormalizeAddress("::FFFF:1.2.3.4"), "::ffff:1.2.3.4");
  EXPECT_EQ(*NormalizeAddress("2001:DB8::1"), "2001:db8::1");
  EXPECT_EQ(*NormalizeAddress("2001:db8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(*NormalizeAddress("0:0:0:0:0:0:0:1"), "::1");
}

TEST(NormalizeAddressTest, LowercasesHostnamesAndDropsTrailingDot) {
  EXPECT_EQ(*NormalizeAddress("localhost"), "localhost");
  EXPECT_EQ(*NormalizeAddress("Web.Internal"), "web.internal");
  EXPECT_EQ(*NormalizeAddress("WEB.EXAMPLE.COM."), "web.example.com");
}

TEST(NormalizeAddressTest, Errors) {
  auto expect_error = [](const std::string& in, const std::string& message) {
    absl::StatusOr<std::string> a = NormalizeAddress(in);
    ASSERT_FALSE(a.ok()) << in << " -> " << *a;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(a.status().message(), message) << in;
  };
  expect_error("", "is required");
  expect_error("1.2.3.999", "\"1.2.3.999\" is neither an IP address nor a hostname");
  expect_error("a b", "\"a b\" is neither an IP address nor a hostname");
  expect_error("-x", "\"-x\" is neither an IP address nor a hostname");
  expect_error("[::1]", "\"[::1]\" is neither an IP address nor a hostname");
  expect_error("a\"b\n", "\"a\\\"b\\n\" is neither an IP address nor a hostname");
  expect_error(std::string(70, '_'),
               "\"" + std::string(64, '_') + "...\" is neither an IP address nor a hostname");
}

TEST(NormalizeAddressTest, EmbeddedNulIsRejected) {
  // The address reaches inet_pton as a C string: anything after a NUL would be ignored.
  std::string in("10.0.0.1\0zz", 11);
  absl::StatusOr<std::string> a = NormalizeAddress(in);
  ASSERT_FALSE(a.ok()) << *a;
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), "\"10.0.0.1\\x00zz\" is neither an IP address nor a hostname");
}

TEST(Utf8Test, WellFormedOnly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("eu-1a"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  for (const char* bad : {"\xff", "\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "a\xc3("}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << absl::CHexEscape(bad);
  }
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac!"), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82"), 0u);
}

TEST(NormalizeEndpointTest, ZoneAndLabelValuesMustBePrintableUtf8) {
  const std::string zone_problem = "endpoint.zone: must be at most 128 printable characters";
  auto zone_error = [](const std::string& zone) {
    lb::v1::Endpoint e;
    e.set_address("10.0.0.1");
    e.set_port(80);
    e.set_zone(zone);
    return std::string(NormalizeEndpoint(&e).message());
  };
  EXPECT_EQ(zone_error("eu-1a"), "");
  EXPECT_EQ(zone_error("z\xc3\xbcrich"), "");
  for (const char* bad : {"\xff", "z\xc3", "\xc2\x85", "a\x7f", "a\tb"}) {
    EXPECT_EQ(zone_error(bad), zone_problem) << absl::CHexEscape(bad);
  }
  lb::v1::Endpoint e;
  e.set_address("10.0.0.1");
  e.set_port(80);
  (*e.mutable_labels())["k"] = "\xfe";
  EXPECT_EQ(NormalizeEndpoint(&e).message(),
            "endpoint.labels[k]: value must be at most 256 printable characters");
}

TEST(PortProblemTest, Range) {
  EXPECT_EQ(PortProblem(1), "");
  EXPECT_EQ(PortProblem(65535), "");
  EXPECT_EQ(PortProblem(0), "must be from 1 to 65535, got 0");
  EXPECT_EQ(PortProblem(65536), "must be from 1 to 65535, got 65536");
  EXPECT_EQ(PortProblem(-1), "must be from 1 to 65535, got -1");
}

TEST(IsValidNameTest, Names) {
  EXPECT_TRUE(IsValidName("backend"));
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName("Web_1.prod-eu"));
  EXPECT_TRUE(IsValidName(std::string(128, 'x')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName(std::string(129, 'x')));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName("a:b"));
  EXPECT_FALSE(IsValidName("caf\xc3\xa9"));
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST(NormalizeEndpointTest, FillsDefaultsAndClearsOutputOnly) {
  lb::v1::Endpoint e =
      ParseEndpoint(R"pb(address: "Web.Internal." port: 8080 resolved_addresses: "10.0.0.9")pb");
  ASSERT_TRUE(NormalizeEndpoint(&e).ok());
  ExpectProtoEq(e, R"pb(address: "web.internal" port: 8080 weight: 1 admin_state: ACTIVE)pb");
}

TEST(NormalizeEndpointTest, KeepsGivenValues) {
  lb::v1::Endpoint e = ParseEndpoint(R"pb(
    address: "::FFFF:1.2.3.4"
    port: 1
    weight: 10000
    zone: "eu-1a"
    labels { key: "app.kubernetes.io/name" value: "web" }
    admin_state: DRAINING
  )pb");
  ASSERT_TRUE(NormalizeEndpoint(&e).ok());
  ExpectProtoEq(e, R"pb(
    address: "::ffff:1.2.3.4"
    port: 1
    weight: 10000
    zone: "eu-1a"
    labels { key: "app.kubernetes.io/name" value: "web" }
    admin_state: DRAINING
  )pb");
}

TEST(NormalizeEndpointTest, PortRange) {
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 0)pb"),
            "endpoint.port: must be from 1 to 65535, got 0");
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 65536)pb"),
            "endpoint.port: must be from 1 to 65535, got 65536");
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 65535)pb"), "");
}

TEST(NormalizeEndpointTest, WeightRange) {
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 80 weight: 10001)pb"),
            "endpoint.weight: must be from 1 to 10000, got 10001");
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 80 weight: 4294967295)pb"),
            "endpoint.weight: must be from 1 to 10000, got 4294967295");
  // An explicit 0 is refused; only an unset weight becomes 1.
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 80 weight: 0)pb"),
            "endpoint.weight: must be from 1 to 10000, got 0");
}

TEST(NormalizeEndpointTest, Address) {
  EXPECT_EQ(EndpointError(R"pb(port: 80)pb"), "endpoint.address: is required");
  EXPECT_EQ(EndpointError(R"pb(address: "1.2.3.999" port: 80)pb"),
            "endpoint.address: \"1.2.3.999\" is neither an IP address nor a hostname");
}

TEST(NormalizeEndpointTest, EveryProblemAtOnce) {
  EXPECT_EQ(EndpointError(R"pb(address: "a b" port: 0 weight: 20000)pb"),
            "endpoint.address: \"a b\" is neither an IP address nor a hostname; "
            "endpoint.port: must be from 1 to 65535, got 0; "
            "endpoint.weight: must be from 1 to 10000, got 20000");
}

TEST(NormalizeEndpointTest, Zone) {
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1" port: 80 zone: "eu\n1")pb"),
            "endpoint.zone: must be at most 128 printable characters");
  lb::v1::Endpoint e = ParseEndpoint(R"pb(address: "10.0.0.1" port: 80)pb");
  e.set_zone(std::string(129, 'z'));
  EXPECT_EQ(NormalizeEndpoint(&e).message(),
            "endpoint.zone: must be at most 128 printable characters");
  e.set_zone(std::string(128, 'z'));
  EXPECT_TRUE(NormalizeEndpoint(&e).ok());
}

TEST(NormalizeEndpointTest, Labels) {
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1"
                               port: 80
                               labels { key: "a b" value: "x" })pb"),
            "endpoint.labels: key \"a b\" must be 1-63 of [a-zA-Z0-9_.-/]");
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1"
                               port: 80
                               labels { key: "" value: "x" })pb"),
            "endpoint.labels: key \"\" must be 1-63 of [a-zA-Z0-9_.-/]");
  EXPECT_EQ(EndpointError(R"pb(address: "10.0.0.1"
                               port: 80
                               labels { key: "k" value: "a\tb" })pb"),
            "endpoint.labels[k]: value must be at most 256 printable characters");
  lb::v1::Endpoint e = ParseEndpoint(R"pb(address: "10.0.0.1" port: 80)pb");
  (*e.mutable_labels())[std::string(64, 'k')] = "v";
  EXPECT_EQ(NormalizeEndpoint(&e).message(), "endpoint.labels: key \"" + std::string(64, 'k') +
                                                 "\" must be 1-63 of [a-zA-Z0-9_.-/]");
  e.clear_labels();
  (*e.mutable_labels())["k"] = std::string(257, 'v');
  EXPECT_EQ(NormalizeEndpoint(&e).message(),
            "endpoint.labels[k]: value must be at most 256 printable characters");
  (*e.mutable_labels())["k"] = std::string(256, 'v');
  (*e.mutable_labels())[std::string(63, 'k')] = "";
  EXPECT_TRUE(NormalizeEndpoint(&e).ok());
}

TEST(NormalizeEndpointTest, LabelCount) {
  lb::v1::Endpoint e = ParseEndpoint(R"pb(address: "10.0.0.1" port: 80)pb");
  for (size_t i = 0; i < kMaxLabelsPerEndpoint; ++i)
    (*e.mutable_labels())[absl::StrCat("k", i)] = "v";
  EXPECT_TRUE(NormalizeEndpoint(&e).ok());
  (*e.mutable_labels())["one-more"] = "v";
  absl::Status s = NormalizeEndpoint(&e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "endpoint.labels: at most 64 labels, got 65");
}

TEST(NormalizeEndpointTest, AdminState) {
  lb::v1::Endpoint e = ParseEndpoint(R"pb(address: "10.0.0.1" port: 80)pb");
  e.set_admin_state(static_cast<lb::v1::AdminState>(7));
  EXPECT_EQ(NormalizeEndpoint(&e).message(), "endpoint.admin_state: unknown value 7");
}

TEST(NormalizeEndpointTest, CustomAndEmptyPath) {
  lb::v1::Endpoint e = ParseEndpoint(R"pb(port: 80)pb");
  EXPECT_EQ(NormalizeEndpoint(&e, "x.y").message(), "x.y.address: is required");
  e = ParseEndpoint(R"pb(port: 80)pb");
  EXPECT_EQ(NormalizeEndpoint(&e, "").message(), "address: is required");
  // Into a collector, under its current path.
  ValidationErrors errors;
  ValidationErrors::ScopedField field(&errors, "cluster.endpoints[3]");
  e = ParseEndpoint(R"pb(address: "10.0.0.1" port: 0)pb");
  NormalizeEndpoint(&e, &errors);
  EXPECT_EQ(errors.status().message(), "cluster.endpoints[3].port: must be from 1 to 65535, got 0");
}

// ---------------------------------------------------------------------------------------------
// Clusters

TEST(NormalizeClusterTest, FillsEveryDefault) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web" version: 42)pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ExpectProtoEq(c, R"pb(
    name: "web"
    lb_policy: RANDOM
    health_check {
      interval { seconds: 5 }
      timeout { seconds: 1 }
      healthy_threshold: 2
      unhealthy_threshold: 3
    }
    outlier_detection {
      consecutive_5xx: 5
      consecutive_gateway_failure: 5
      interval { seconds: 10 }
      base_ejection_time { seconds: 30 }
      max_ejection_percent: 50
    }
    connect_timeout { seconds: 1 }
    retries { value: 2 }
    healthy_panic_threshold { value: 50 }
    circuit_breakers {
      max_connections: 1024
      max_pending_requests: 1024
      max_requests: 1024
      max_retries: 3
    }
    protocol: HTTP1
  )pb");
}

TEST(NormalizeClusterTest, IsIdempotent) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web"
                                        endpoints { address: "A.b" port: 1 })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  lb::v1::Cluster again = c;
  ASSERT_TRUE(NormalizeCluster(&again).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(c, again));
}

TEST(NormalizeClusterTest, KeepsExplicitZeros) {
  // 0 turns outlier triggers, ejection, retries and panic mode off; each unset field alone gets
  // its default.
  lb::v1::Cluster c = ParseCluster(R"pb(
    name: "web"
    lb_policy: MAGLEV
    hash_policy { header: "X-User" }
    outlier_detection {
      consecutive_5xx: 0
      consecutive_gateway_failure: 0
      max_ejection_percent: 0
      interval { seconds: 20 }
    }
    retries { value: 0 }
    healthy_panic_threshold { value: 0 }
  )pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_EQ(c.lb_policy(), lb::v1::MAGLEV);
  EXPECT_EQ(c.hash_policy().header(), "X-User");
  ExpectProtoEq(c.outlier_detection(), R"pb(
    consecutive_5xx: 0
    consecutive_gateway_failure: 0
    max_ejection_percent: 0
    interval { seconds: 20 }
    base_ejection_time { seconds: 30 }
  )pb");
  EXPECT_TRUE(c.outlier_detection().has_consecutive_5xx());
  lb::v1::Cluster one_zero = ParseCluster(R"pb(
    name: "web"
    outlier_detection { consecutive_gateway_failure: 0 }
  )pb");
  ASSERT_TRUE(NormalizeCluster(&one_zero).ok());
  ExpectProtoEq(one_zero.outlier_detection(), R"pb(
    consecutive_5xx: 5
    consecutive_gateway_failure: 0
    max_ejection_percent: 50
    interval { seconds: 10 }
    base_ejection_time { seconds: 30 }
  )pb");
  EXPECT_TRUE(c.has_retries());
  EXPECT_EQ(c.retries().value(), 0u);
  EXPECT_TRUE(c.has_healthy_panic_threshold());
  EXPECT_EQ(c.healthy_panic_threshold().value(), 0u);
}

TEST(NormalizeClusterTest, Name) {
  EXPECT_EQ(ClusterError(""), "cluster.name: is required");
  EXPECT_EQ(ClusterError(R"pb(name: "a b")pb"),
            "cluster.name: must be 1-128 characters of [a-zA-Z0-9_.-]");
  EXPECT_EQ(ClusterError("name: \"" + std::string(129, 'n') + "\""),
            "cluster.name: must be 1-128 characters of [a-zA-Z0-9_.-]");
  EXPECT_EQ(ClusterError("name: \"" + std::string(128, 'n') + "\""), "");
}

TEST(NormalizeClusterTest, LbPolicyAndHashPolicy) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web")pb");
  c.set_lb_policy(static_cast<lb::v1::LbPolicy>(99));
  EXPECT_EQ(NormalizeCluster(&c).message(), "cluster.lb_policy: unknown value 99");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy { header: "" })pb"),
            "cluster.hash_policy.header: must be a header name");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy { header: "a b" })pb"),
            "cluster.hash_policy.header: must be a header name");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: MAGLEV
                              hash_policy { cookie: "" })pb"),
            "cluster.hash_policy.cookie: must be a cookie name");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: MAGLEV
                              hash_policy { cookie: "a;b" })pb"),
            "cluster.hash_policy.cookie: must be a cookie name");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy { cookie: "session_id" })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy { source_ip: true })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy { source_ip: false })pb"),
            "cluster.hash_policy.source_ip: must be true (or unset)");
}

TEST(NormalizeClusterTest, HashOptionsOnPoliciesThatDoNotHashAreRefused) {
  for (const char* policy : {"RANDOM", "ROUND_ROBIN", "LEAST_REQUEST"}) {
    EXPECT_EQ(
        ClusterError(absl::StrCat("name: \"web\" lb_policy: ", policy,
                                  " hash_policy { header: \"x-user\" }")),
        absl::StrCat("cluster.hash_policy: only RING_HASH and MAGLEV hash; lb_policy is ", policy));
    EXPECT_EQ(
        ClusterError(absl::StrCat("name: \"web\" lb_policy: ", policy,
                                  " hash_policy { cookie: \"sid\" cookie_options {} }")),
        absl::StrCat("cluster.hash_policy: only RING_HASH and MAGLEV hash; lb_policy is ", policy));
  }
  // Unset policy is RANDOM.
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              hash_policy { source_ip: true })pb"),
            "cluster.hash_policy: only RING_HASH and MAGLEV hash; lb_policy is RANDOM");
  // An empty hash policy is no hash policy.
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web"
                                        lb_policy: ROUND_ROBIN
                                        hash_policy {})pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_FALSE(c.has_hash_policy());
}

TEST(NormalizeClusterTest, CookieOptionsDefaults) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web"
                                        lb_policy: RING_HASH
                                        hash_policy { cookie: "sid" })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ExpectProtoEq(c.hash_policy(), R"pb(
    cookie: "sid"
    cookie_options {
      generate { value: true }
      ttl {}
      path: "/"
      http_only { value: true }
    }
  )pb");
  c = ParseCluster(R"pb(name: "web"
                        lb_policy: MAGLEV
                        hash_policy {
                          cookie: "sid"
                          cookie_options {
                            ttl { seconds: 3600 }
                            path: "/app"
                            http_only { value: false }
                            same_site: NONE
                            secure: true
                          }
                        })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ExpectProtoEq(c.hash_policy(), R"pb(
    cookie: "sid"
    cookie_options {
      generate { value: true }
      ttl { seconds: 3600 }
      path: "/app"
      http_only { value: false }
      same_site: NONE
      secure: true
    }
  )pb");
  // Not generated: nothing else is filled in.
  c = ParseCluster(R"pb(name: "web"
                        lb_policy: RING_HASH
                        hash_policy {
                          cookie: "JSESSIONID"
                          cookie_options { generate { value: false } }
                        })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ExpectProtoEq(c.hash_policy(), R"pb(
    cookie: "JSESSIONID"
    cookie_options { generate { value: false } }
  )pb");
}

TEST(NormalizeClusterTest, CookieOptionsErrors) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy {
                                cookie: "sid"
                                cookie_options {
                                  ttl { seconds: -1 }
                                  path: "/a;b"
                                  same_site: NONE
                                }
                              })pb"),
            "cluster.hash_policy.cookie_options.ttl: must be from 0s to 34560000s, got -1s; "
            "cluster.hash_policy.cookie_options.path: must start with \"/\" and contain no "
            "spaces or \";\"; "
            "cluster.hash_policy.cookie_options.same_site: NONE needs secure: true (browsers "
            "drop the cookie)");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy {
                                cookie: "sid"
                                cookie_options {
                                  ttl { seconds: 34560001 }
                                  path: "app"
                                }
                              })pb"),
            "cluster.hash_policy.cookie_options.ttl: must be from 0s to 34560000s, got "
            "34560001s; cluster.hash_policy.cookie_options.path: must start with \"/\" and "
            "contain no spaces or \";\"");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy {
                                cookie: "sid"
                                cookie_options {
                                  generate { value: false }
                                  ttl {}
                                  path: "/"
                                  http_only { value: true }
                                  same_site: LAX
                                  secure: true
                                }
                              })pb"),
            "cluster.hash_policy.cookie_options.ttl: only when the proxy sets the cookie "
            "(generate is false); "
            "cluster.hash_policy.cookie_options.path: only when the proxy sets the cookie "
            "(generate is false); "
            "cluster.hash_policy.cookie_options.http_only: only when the proxy sets the cookie "
            "(generate is false); "
            "cluster.hash_policy.cookie_options.same_site: only when the proxy sets the cookie "
            "(generate is false); "
            "cluster.hash_policy.cookie_options.secure: only when the proxy sets the cookie "
            "(generate is false)");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy {
                                header: "x-user"
                                cookie_options { secure: true }
                              })pb"),
            "cluster.hash_policy.cookie_options: only with a cookie hash");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              lb_policy: RING_HASH
                              hash_policy { cookie_options { secure: true } })pb"),
            "cluster.hash_policy.cookie_options: only with a cookie hash");
}

TEST(NormalizeClusterTest, ExplicitZeroIsNeverReplacedByADefault) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { interval {} })pb"),
            "cluster.health_check.interval: must be from 0.100s to 3600s, got 0s; "
            "cluster.health_check.timeout: must not exceed the interval");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { healthy_threshold: 0 unhealthy_threshold: 0 })pb"),
            "cluster.health_check.healthy_threshold: must be from 1 to 100, got 0; "
            "cluster.health_check.unhealthy_threshold: must be from 1 to 100, got 0");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              outlier_detection { base_ejection_time {} })pb"),
            "cluster.outlier_detection.base_ejection_time: must be from 0.100s to 3600s, got 0s");
}

TEST(RestoreStoredZerosTest, AbsentScalarsOfAStoredClusterWereZeros) {
  lb::v1::Cluster c = ParseCluster(R"pb(
    name: "web"
    health_check { healthy_threshold: 2 }
    outlier_detection { consecutive_5xx: 3 }
    endpoints { address: "10.0.0.1" port: 80 weight: 4 }
  )pb");
  RestoreStoredZeros(&c);
  EXPECT_TRUE(c.health_check().has_unhealthy_threshold());
  EXPECT_EQ(c.health_check().unhealthy_threshold(), 0u);
  EXPECT_EQ(c.health_check().healthy_threshold(), 2u);
  EXPECT_TRUE(c.outlier_detection().has_consecutive_gateway_failure());
  EXPECT_TRUE(c.outlier_detection().has_max_ejection_percent());
  EXPECT_EQ(c.outlier_detection().consecutive_5xx(), 3u);
  EXPECT_EQ(c.endpoints(0).weight(), 4u);
  lb::v1::Cluster bare = ParseCluster(R"pb(name: "web")pb");
  RestoreStoredZeros(&bare);
  EXPECT_FALSE(bare.has_health_check());
  EXPECT_FALSE(bare.has_outlier_detection());
}

TEST(NormalizeClusterTest, HealthCheckPath) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { path: "/healthz" })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { path: "healthz" })pb"),
            "cluster.health_check.path: must start with \"/\" and contain no spaces");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { path: "/a b" })pb"),
            "cluster.health_check.path: must start with \"/\" and contain no spaces");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { path: "/a\nb" })pb"),
            "cluster.health_check.path: must start with \"/\" and contain no spaces");
  EXPECT_EQ(
      ClusterError("name: \"web\" health_check { path: \"/" + std::string(1024, 'p') + "\" }"),
      "cluster.health_check.path: must start with \"/\" and contain no spaces");
  EXPECT_EQ(
      ClusterError("name: \"web\" health_check { path: \"/" + std::string(1023, 'p') + "\" }"), "");
}

TEST(NormalizeClusterTest, HealthCheckDurations) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check {
                                interval { nanos: 100000000 }
                                timeout { nanos: 10000000 }
                              })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check {
                                interval { seconds: 3600 }
                                timeout { seconds: 60 }
                              })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { interval { nanos: 50000000 } })pb"),
            "cluster.health_check.interval: must be from 0.100s to 3600s, got 0.050s; "
            "cluster.health_check.timeout: must not exceed the interval");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { interval { seconds: 3601 } })pb"),
            "cluster.health_check.interval: must be from 0.100s to 3600s, got 3601s");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { timeout { nanos: 9000000 } })pb"),
            "cluster.health_check.timeout: must be from 0.010s to 60s, got 0.009s");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check {
                                interval { seconds: 120 }
                                timeout { seconds: 61 }
                              })pb"),
            "cluster.health_check.timeout: must be from 0.010s to 60s, got 61s");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check {
                                interval { seconds: 2 }
                                timeout { seconds: 3 }
                              })pb"),
            "cluster.health_check.timeout: must not exceed the interval");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check {
                                interval { seconds: 2 }
                                timeout { seconds: 2 }
                              })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { interval { seconds: -5 } })pb"),
            "cluster.health_check.interval: must be from 0.100s to 3600s, got -5s; "
            "cluster.health_check.timeout: must not exceed the interval");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check {
                                interval { seconds: 1 nanos: -1 }
                                timeout { nanos: 500000000 }
                              })pb"),
            "cluster.health_check.interval: is not a valid duration");
}

TEST(NormalizeClusterTest, HealthCheckThresholds) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { healthy_threshold: 100 unhealthy_threshold: 1 })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { healthy_threshold: 101 })pb"),
            "cluster.health_check.healthy_threshold: must be from 1 to 100, got 101");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              health_check { unhealthy_threshold: 101 })pb"),
            "cluster.health_check.unhealthy_threshold: must be from 1 to 100, got 101");
}

TEST(NormalizeClusterTest, OutlierDetection) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              outlier_detection {
                                consecutive_5xx: 1000
                                consecutive_gateway_failure: 1000
                                max_ejection_percent: 100
                              })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              outlier_detection { consecutive_5xx: 1001 })pb"),
            "cluster.outlier_detection.consecutive_5xx: must be from 0 to 1000, got 1001");
  EXPECT_EQ(
      ClusterError(R"pb(name: "web"
                        outlier_detection { consecutive_gateway_failure: 1001 })pb"),
      "cluster.outlier_detection.consecutive_gateway_failure: must be from 0 to 1000, got 1001");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              outlier_detection { max_ejection_percent: 101 })pb"),
            "cluster.outlier_detection.max_ejection_percent: must be from 0 to 100, got 101");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              outlier_detection { interval { nanos: 99000000 } })pb"),
            "cluster.outlier_detection.interval: must be from 0.100s to 3600s, got 0.099s");
  EXPECT_EQ(
      ClusterError(R"pb(name: "web"
                        outlier_detection { base_ejection_time { seconds: 7200 } })pb"),
      "cluster.outlier_detection.base_ejection_time: must be from 0.100s to 3600s, got 7200s");
}

TEST(NormalizeClusterTest, ConnectTimeout) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout { nanos: 1000000 })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout { seconds: 60 })pb"),
            "");
  // An explicit zero is not "unset": it is rejected, not defaulted.
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout {})pb"),
            "cluster.connect_timeout: must be from 0.001s to 60s, got 0s");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout { seconds: 61 })pb"),
            "cluster.connect_timeout: must be from 0.001s to 60s, got 61s");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout { seconds: 315576000001 })pb"),
            "cluster.connect_timeout: is not a valid duration");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout { seconds: -1 nanos: 5 })pb"),
            "cluster.connect_timeout: is not a valid duration");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              connect_timeout { nanos: 1000000000 })pb"),
            "cluster.connect_timeout: is not a valid duration");
}

TEST(NormalizeClusterTest, HugeDurationsDoNotWrapIntoRange) {
  // 18446744074 s is a valid google.protobuf.Duration (under 10000 years), but in nanoseconds
  // it exceeds int64: 18446744074e9 mod 2^64 = 290448384 ns, which is inside every range.
  std::string got = ClusterError(R"pb(name: "web"
                                      connect_timeout { seconds: 18446744074 })pb");
  EXPECT_EQ(got, "cluster.connect_timeout: must be from 0.001s to 60s, got 18446744074s");
}

TEST(NormalizeClusterTest, RetriesAndPanicThreshold) {
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              retries { value: 10 }
                              healthy_panic_threshold { value: 100 })pb"),
            "");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              retries { value: 11 })pb"),
            "cluster.retries: must be from 0 to 10, got 11");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              healthy_panic_threshold { value: 101 })pb"),
            "cluster.healthy_panic_threshold: must be from 0 to 100, got 101");
}

TEST(NormalizeClusterTest, CircuitBreakersKeepGivenLimitsAndDefaultTheOthers) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web"
                                        circuit_breakers { max_requests: 2 max_retries: 0 })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ExpectProtoEq(c.circuit_breakers(),
                R"pb(
                  max_connections: 1024 max_pending_requests: 1024 max_requests: 2 max_retries: 0
                )pb");
  EXPECT_TRUE(c.circuit_breakers().has_max_retries());
  c = ParseCluster(R"pb(name: "web"
                        circuit_breakers {
                          max_connections: 1000000
                          max_pending_requests: 1
                          max_requests: 1
                          max_retries: 1000000
                        })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ExpectProtoEq(c.circuit_breakers(), R"pb(
    max_connections: 1000000
    max_pending_requests: 1
    max_requests: 1
    max_retries: 1000000
  )pb");
}

TEST(NormalizeClusterTest, ProtocolDefaultsToHttp1) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web")pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_EQ(c.protocol(), lb::v1::HTTP1);
  c = ParseCluster(R"pb(name: "web" protocol: HTTP2)pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_EQ(c.protocol(), lb::v1::HTTP2);
  c = ParseCluster(R"pb(name: "web")pb");
  c.set_protocol(static_cast<lb::v1::UpstreamProtocol>(9));
  EXPECT_EQ(NormalizeCluster(&c).message(), "cluster.protocol: unknown value 9");
}

TEST(NormalizeClusterTest, GrpcHealthChecksOnlyOnHttp2ClustersAndNotWithAPath) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "g"
                                        protocol: HTTP2
                                        health_check { grpc_service_name: "" })pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_TRUE(c.health_check().has_grpc_service_name());
  EXPECT_EQ(ClusterError(R"pb(name: "g"
                              health_check { grpc_service_name: "svc" })pb"),
            "cluster.health_check.grpc_service_name: gRPC health checks need protocol HTTP2 (the "
            "cluster is HTTP1)");
  EXPECT_EQ(ClusterError(R"pb(name: "g"
                              protocol: HTTP2
                              health_check { path: "/h" grpc_service_name: "svc" })pb"),
            "cluster.health_check.grpc_service_name: a health check is either HTTP (path) or "
            "gRPC, not both");
  EXPECT_EQ(ClusterError(R"pb(name: "g"
                              protocol: HTTP2
                              health_check { grpc_service_name: "a b" })pb"),
            "cluster.health_check.grpc_service_name: must be printable, without spaces, at most "
            "256 bytes");
}

TEST(NormalizeClusterTest, CircuitBreakersZeroOnlyForRetriesAndAnUpperBound) {
  // 0 connections, pending requests or requests would refuse every request.
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              circuit_breakers {
                                max_connections: 0
                                max_pending_requests: 0
                                max_requests: 0
                              })pb"),
            "cluster.circuit_breakers.max_connections: must be from 1 to 1000000, got 0; "
            "cluster.circuit_breakers.max_pending_requests: must be from 1 to 1000000, got 0; "
            "cluster.circuit_breakers.max_requests: must be from 1 to 1000000, got 0");
  EXPECT_EQ(ClusterError(R"pb(name: "web"
                              circuit_breakers {
                                max_connections: 1000001
                                max_pending_requests: 4294967295
                                max_requests: 1000001
                                max_retries: 1000001
                              })pb"),
            "cluster.circuit_breakers.max_connections: must be from 1 to 1000000, got 1000001; "
            "cluster.circuit_breakers.max_pending_requests: must be from 1 to 1000000, "
            "got 4294967295; "
            "cluster.circuit_breakers.max_requests: must be from 1 to 1000000, got 1000001; "
            "cluster.circuit_breakers.max_retries: must be from 0 to 1000000, got 1000001");
}

TEST(SetCircuitBreakerDefaultsTest, FillsOnlyUnsetLimits) {
  lb::v1::CircuitBreakers cb;
  cb.set_max_retries(0);
  SetCircuitBreakerDefaults(&cb);
  ExpectProtoEq(
      cb, R"pb(
        max_connections: 1024 max_pending_requests: 1024 max_requests: 1024 max_retries: 0
      )pb");
}

TEST(NormalizeClusterTest, EndpointsAreNormalizedWithIndexedPaths) {
  lb::v1::Cluster c = ParseCluster(R"pb(
    name: "web"
    endpoints { address: "Web.Internal." port: 80 resolved_addresses: "1.1.1.1" }
    endpoints { address: "::FFFF:1.2.3.4" port: 81 weight: 3 }
  )pb");
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  ASSERT_EQ(c.endpoints_size(), 2);
  ExpectProtoEq(c.endpoints(0),
                R"pb(address: "web.internal" port: 80 weight: 1 admin_state: ACTIVE)pb");
  ExpectProtoEq(c.endpoints(1),
                R"pb(address: "::ffff:1.2.3.4" port: 81 weight: 3 admin_state: ACTIVE)pb");

  EXPECT_EQ(ClusterError(R"pb(
              name: "web"
              endpoints { address: "10.0.0.1" port: 80 }
              endpoints { address: "10.0.0.2" port: 0 weight: 10001 }
            )pb"),
            "cluster.endpoints[1].port: must be from 1 to 65535, got 0; "
            "cluster.endpoints[1].weight: must be from 1 to 10000, got 10001");
}

TEST(NormalizeClusterTest, DuplicateEndpoints) {
  EXPECT_EQ(ClusterError(R"pb(
              name: "web"
              endpoints { address: "10.0.0.1" port: 80 }
              endpoints { address: "10.0.0.1" port: 81 }
              endpoints { address: "10.0.0.1" port: 80 }
            )pb"),
            "cluster.endpoints[2]: duplicate endpoint 10.0.0.1:80");
  // Duplicates after canonicalization.
  EXPECT_EQ(ClusterError(R"pb(
              name: "web"
              endpoints { address: "::ffff:1.2.3.4" port: 80 }
              endpoints { address: "::FFFF:1.2.3.4" port: 80 }
            )pb"),
            "cluster.endpoints[1]: duplicate endpoint [::ffff:1.2.3.4]:80");
  EXPECT_EQ(ClusterError(R"pb(
              name: "web"
              endpoints { address: "web.internal" port: 80 }
              endpoints { address: "WEB.internal." port: 80 }
            )pb"),
            "cluster.endpoints[1]: duplicate endpoint web.internal:80");
}

TEST(NormalizeClusterTest, TooManyEndpoints) {
  lb::v1::Cluster c = ParseCluster(R"pb(name: "web")pb");
  for (int i = 0; i < 10001; ++i) {
    lb::v1::Endpoint* e = c.add_endpoints();
    e->set_address("10.0.0.1");
    e->set_port(1 + i);
  }
  EXPECT_EQ(NormalizeCluster(&c).message(), "cluster.endpoints: at most 10000 per cluster");
  c.mutable_endpoints()->RemoveLast();
  EXPECT_TRUE(NormalizeCluster(&c).ok());
}

TEST(NormalizeClusterTest, ReportsEveryProblemInFieldOrder) {
  lb::v1::Cluster c = ParseCluster(R"pb(
    name: "bad name"
    health_check { path: "x" healthy_threshold: 200 }
    outlier_detection { max_ejection_percent: 101 }
    retries { value: 11 }
    endpoints { address: "1.2.3.999" port: 80 }
  )pb");
  absl::Status s = NormalizeCluster(&c, "c");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "c.name: must be 1-128 characters of [a-zA-Z0-9_.-]; "
            "c.health_check.path: must start with \"/\" and contain no spaces; "
            "c.health_check.healthy_threshold: must be from 1 to 100, got 200; "
            "c.outlier_detection.max_ejection_percent: must be from 0 to 100, got 101; "
            "c.retries: must be from 0 to 10, got 11; "
            "c.endpoints[0].address: \"1.2.3.999\" is neither an IP address nor a hostname");
}

// ---------------------------------------------------------------------------------------------
// Routes

TEST(NormalizeRouteTest, FillsDefaults) {
  lb::v1::Route r = ParseRoute(R"pb(name: "r" cluster: "web")pb");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  ExpectProtoEq(r, R"pb(name: "r" host: "*" path_prefix: "/" cluster: "web" hosts: "*")pb");
}

TEST(NormalizeRouteTest, HostForms) {
  auto host_of = [](const std::string& host) -> std::string {
    lb::v1::Route r;
    r.set_name("r");
    r.set_cluster("web");
    r.set_host(host);
    absl::Status s = NormalizeRoute(&r);
    return s.ok() ? r.host() : std::string("ERROR: ") + std::string(s.message());
  };
  EXPECT_EQ(host_of("*"), "*");
  EXPECT_EQ(host_of(""), "*");
  EXPECT_EQ(host_of("Example.COM"), "example.com");
  EXPECT_EQ(host_of("*.Example.com"), "*.example.com");
  EXPECT_EQ(host_of("Example.com:8080"), "example.com:8080");
  EXPECT_EQ(host_of("*.example.com:443"), "*.example.com:443");
  EXPECT_EQ(host_of("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(host_of("10.0.0.1:80"), "10.0.0.1:80");
  const std::string bad =
      "ERROR: route.host: must be \"*\", a host name, \"*.\" + a domain, or an IP";
  EXPECT_EQ(host_of("example.com:0"), bad);
  EXPECT_EQ(host_of("example.com:65536"), bad);
  EXPECT_EQ(host_of("example.com:"), bad);
  EXPECT_EQ(host_of("*.*.example.com"), bad);
  EXPECT_EQ(host_of("a b"), bad);
  EXPECT_EQ(host_of("**"), bad);
  EXPECT_EQ(host_of("1.2.3.999"), bad);
  EXPECT_EQ(host_of("-x.example"), bad);
}

TEST(NormalizeRouteTest, Ipv6Hosts) {
  // The message promises "or an IP"; an IPv6 literal whose last group happens to be a valid
  // port number is cut at its last colon and rejected, while "2001:db8::abcd" is accepted.
  lb::v1::Route r;
  r.set_name("r");
  r.set_cluster("web");
  r.set_host("2001:db8::abcd");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  EXPECT_EQ(r.host(), "2001:db8::abcd");
  r.clear_hosts();
  r.set_host("::1");
  absl::Status s = NormalizeRoute(&r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.host(), "::1");
  // Bracketed, with or without a port.
  for (const char* host : {"[::1]", "[::1]:8080", "[2001:DB8::1]:443"}) {
    r.clear_hosts();
    r.set_host(host);
    ASSERT_TRUE(NormalizeRoute(&r).ok()) << host;
    EXPECT_EQ(r.host(), absl::AsciiStrToLower(host));
  }
  for (const char* host :
       {"[::1]:0", "[::1]:", "[::1", "[10.0.0.1]", "[::1]x", "*.::1", "::ffff:1.2.3.4:80",
        "[::1]:+80", "example.com:+80", "example.com:-80", "10.0.0.1:+8080"}) {
    r.clear_hosts();
    r.set_host(host);
    EXPECT_EQ(NormalizeRoute(&r).message(),
              "route.host: must be \"*\", a host name, \"*.\" + a domain, or an IP")
        << host;
  }
}

TEST(NormalizeRouteTest, SeveralHosts) {
  lb::v1::Route r = ParseRoute(
      R"pb(name: "r" cluster: "web" hosts: "Example.com" hosts: "*.example.org" hosts: "")pb");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  ExpectProtoEq(r, R"pb(name: "r"
                        host: "example.com"
                        path_prefix: "/"
                        cluster: "web"
                        hosts: "example.com"
                        hosts: "*.example.org"
                        hosts: "*")pb");
  // What a read returns can be written back: host is one of hosts.
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  EXPECT_EQ(r.host(), "example.com");
  lb::v1::Route second = r;
  second.set_host("*.EXAMPLE.org");
  ASSERT_TRUE(NormalizeRoute(&second).ok());
  EXPECT_EQ(second.host(), "example.com");
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" host: "a.com" hosts: "b.com")pb"),
            "route.host: must be one of hosts (it is the first of hosts, kept for older "
            "clients); set hosts only");
  EXPECT_EQ(RouteError(R"pb(name: "r"
                            cluster: "web"
                            hosts: "a.com"
                            hosts: "A.com"
                            hosts: "a b"
                            hosts: "*"
                            hosts: "")pb"),
            "route.hosts[1]: duplicate host \"a.com\"; "
            "route.hosts[2]: must be \"*\", a host name, \"*.\" + a domain, or an IP; "
            "route.hosts[4]: duplicate host \"*\"");
  lb::v1::Route many = ParseRoute(R"pb(name: "r" cluster: "web")pb");
  for (int i = 0; i <= 100; ++i) many.add_hosts(absl::StrCat("h", i, ".example"));
  EXPECT_EQ(NormalizeRoute(&many).message(), "route.hosts: at most 100 per route");
  many.mutable_hosts()->RemoveLast();
  EXPECT_TRUE(NormalizeRoute(&many).ok());
}

TEST(NormalizeRouteTest, PathPrefix) {
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_prefix: "/api/v1")pb"), "");
  const std::string bad = "route.path_prefix: must start with \"/\" and contain no spaces";
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_prefix: "api")pb"), bad);
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_prefix: "/a b")pb"), bad);
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_prefix: "/a\x01")pb"), bad);
  EXPECT_EQ(
      RouteError("name: \"r\" cluster: \"web\" path_prefix: \"/" + std::string(1024, 'p') + "\""),
      bad);
}

TEST(NormalizeRouteTest, NameAndCluster) {
  EXPECT_EQ(RouteError(""), "route.name: is required; route.cluster: is required");
  EXPECT_EQ(RouteError(R"pb(name: "a/b" cluster: "c d")pb"),
            "route.name: must be 1-128 characters of [a-zA-Z0-9_.-]; "
            "route.cluster: must be 1-128 characters of [a-zA-Z0-9_.-]");
}

TEST(NormalizeRouteTest, EveryProblemAtOnceWithCustomPath) {
  lb::v1::Route r = ParseRoute(R"pb(host: "a b" path_prefix: "x")pb");
  EXPECT_EQ(NormalizeRoute(&r, "routes[3]").message(),
            "routes[3].name: is required; "
            "routes[3].host: must be \"*\", a host name, \"*.\" + a domain, or an IP; "
            "routes[3].path_prefix: must start with \"/\" and contain no spaces; "
            "routes[3].cluster: is required");
}

TEST(NormalizeRouteTest, WeightedClusters) {
  lb::v1::Route r = ParseRoute(R"pb(name: "r"
                                    weighted_clusters { cluster: "stable" weight: 90 }
                                    weighted_clusters { cluster: "canary" weight: 10 }
                                    weighted_clusters { cluster: "old" weight: 0 })pb");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  EXPECT_EQ(r.cluster(), "");
  EXPECT_THAT(RouteClusters(r), ElementsAre("stable", "canary", "old"));
  EXPECT_EQ(RouteError(R"pb(name: "r"
                            cluster: "web"
                            weighted_clusters { cluster: "a" weight: 1 })pb"),
            "route.weighted_clusters: not together with cluster");
  EXPECT_EQ(RouteError(R"pb(name: "r"
                            weighted_clusters { cluster: "a" weight: 0 }
                            weighted_clusters { cluster: "b" weight: 0 })pb"),
            "route.weighted_clusters: the weights must sum to at least 1");
  EXPECT_EQ(RouteError(R"pb(name: "r"
                            weighted_clusters { cluster: "a" weight: 1000001 }
                            weighted_clusters { cluster: "a" weight: 1 }
                            weighted_clusters { cluster: "" weight: 1 }
                            weighted_clusters { cluster: "x y" weight: 1 })pb"),
            "route.weighted_clusters[0].weight: must be from 0 to 1000000, got 1000001; "
            "route.weighted_clusters[1].cluster: duplicate cluster \"a\"; "
            "route.weighted_clusters[2].cluster: is required; "
            "route.weighted_clusters[3].cluster: must be 1-128 characters of [a-zA-Z0-9_.-]");
  lb::v1::Route many = ParseRoute(R"pb(name: "r")pb");
  for (int i = 0; i <= 16; ++i) {
    lb::v1::WeightedCluster* w = many.add_weighted_clusters();
    w->set_cluster(absl::StrCat("c", i));
    w->set_weight(1);
  }
  EXPECT_EQ(NormalizeRoute(&many).message(), "route.weighted_clusters: at most 16 per route");
  many.mutable_weighted_clusters()->RemoveLast();
  EXPECT_TRUE(NormalizeRoute(&many).ok());
  EXPECT_THAT(RouteClusters(ParseRoute(R"pb(name: "r" cluster: "web")pb")), ElementsAre("web"));
}

TEST(NormalizeRouteTest, PathExact) {
  lb::v1::Route r = ParseRoute(R"pb(name: "r" cluster: "web" path_exact: "/login")pb");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  EXPECT_EQ(r.path_prefix(), "");  // No default prefix beside an exact path.
  EXPECT_EQ(r.path_exact(), "/login");
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_exact: "/a" path_prefix: "/b")pb"),
            "route.path_exact: not together with path_prefix");
  const std::string bad = "route.path_exact: must start with \"/\" and contain no spaces or \"?\"";
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_exact: "login")pb"), bad);
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_exact: "/a?b=1")pb"), bad);
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" path_exact: "/a b")pb"), bad);
}

TEST(NormalizeRouteTest, MethodAndHeaders) {
  lb::v1::Route r = ParseRoute(R"pb(name: "r"
                                    cluster: "web"
                                    method: "POST"
                                    headers { name: "X-Canary" exact: "1" }
                                    headers { name: "user-agent" prefix: "curl/" invert: true }
                                    headers { name: "X-Debug" present: true })pb");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  EXPECT_EQ(r.headers(0).name(), "x-canary");  // Lowercased.
  EXPECT_EQ(r.headers(2).name(), "x-debug");
  EXPECT_EQ(RouteError(R"pb(name: "r" cluster: "web" method: "GE T")pb"),
            "route.method: must be an HTTP method token, e.g. \"GET\"");
  EXPECT_EQ(RouteError(R"pb(name: "r"
                            cluster: "web"
                            headers { name: "" exact: "1" }
                            headers { name: "a b" exact: "1" }
                            headers { name: "Host" exact: "x" }
                            headers { name: ":path" exact: "/" }
                            headers { name: "x" }
                            headers { name: "x" prefix: "" }
                            headers { name: "x" present: false }
                            headers { name: "x" exact: "a\nb" })pb"),
            "route.headers[0].name: is required; "
            "route.headers[1].name: must be an HTTP header name (a token, at most 256 "
            "characters); "
            "route.headers[2].name: \"host\" is not allowed (routes match hosts with `hosts`); "
            "route.headers[3].name: must be an HTTP header name (a token, at most 256 "
            "characters); "
            "route.headers[4]: needs one of exact, prefix or present; "
            "route.headers[5].prefix: must not be empty; "
            "route.headers[6].present: must be true (or use invert); "
            "route.headers[7].exact: must be printable text of at most 4096 bytes");
  lb::v1::Route many = ParseRoute(R"pb(name: "r" cluster: "web")pb");
  for (int i = 0; i <= 16; ++i) {
    lb::v1::HeaderMatch* h = many.add_headers();
    h->set_name(absl::StrCat("h", i));
    h->set_present(true);
  }
  EXPECT_EQ(NormalizeRoute(&many).message(), "route.headers: at most 16 per route");
}

TEST(NormalizeRouteTest, HeaderChanges) {
  lb::v1::Route r = ParseRoute(R"pb(name: "r"
                                    cluster: "web"
                                    request_headers_to_add { name: "X-Env" value: "prod" }
                                    request_headers_to_add { name: "x-tag" value: "a" append: true }
                                    request_headers_to_remove: "X-Secret")pb");
  ASSERT_TRUE(NormalizeRoute(&r).ok());
  EXPECT_EQ(r.request_headers_to_add(0).name(), "x-env");
  EXPECT_EQ(r.request_headers_to_remove(0), "x-secret");
  EXPECT_EQ(RouteError(R"pb(name: "r"
                            cluster: "web"
                            request_headers_to_add { name: "Content-Length" value: "1" }
                            request_headers_to_add { name: "x" value: "a\r\nb: c" }
                            request_headers_to_remove: "Transfer-Encoding"
                            request_headers_to_remove: "host")pb"),
            "route.request_headers_to_add[0].name: \"content-length\" cannot be changed by a "
            "route (the proxy owns the message framing); "
            "route.request_headers_to_add[1].value: must be printable text of at most 4096 "
            "bytes; "
            "route.request_headers_to_remove[0]: \"transfer-encoding\" cannot be changed by a "
            "route (the proxy owns the message framing); "
            "route.request_headers_to_remove[1]: \"host\" is not allowed (routes match hosts "
            "with `hosts`)");
}

TEST(NormalizeClusterTest, SlowStartWindow) {
  lb::v1::Cluster c;
  c.set_name("web");
  c.set_lb_policy(lb::v1::ROUND_ROBIN);
  c.mutable_slow_start_window()->set_seconds(30);
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_EQ(c.slow_start_window().seconds(), 30);
  c.mutable_slow_start_window()->set_seconds(0);  // Off, kept as given.
  ASSERT_TRUE(NormalizeCluster(&c).ok());
  EXPECT_TRUE(c.has_slow_start_window());
  c.mutable_slow_start_window()->set_seconds(3601);
  EXPECT_EQ(std::string(NormalizeCluster(&c).message()),
            "cluster.slow_start_window: must be from 1s to 3600s, got 3601s");
  c.mutable_slow_start_window()->set_seconds(10);
  c.set_lb_policy(lb::v1::RING_HASH);
  EXPECT_EQ(std::string(NormalizeCluster(&c).message()),
            "cluster.slow_start_window: only with RANDOM, ROUND_ROBIN or LEAST_REQUEST (hash "
            "policies keep a client on its endpoint)");
}

}  // namespace
}  // namespace lb::model
