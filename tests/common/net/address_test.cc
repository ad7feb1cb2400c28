// Tests of host:port parsing and formatting (common/net/address.cc).
#include "common/net/address.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace lb::net {
namespace {

void ExpectParsed(const std::string& text, const std::string& host, uint16_t port,
                  bool allow_zero_port = true) {
  absl::StatusOr<HostPort> hp = ParseHostPort(text, allow_zero_port);
  ASSERT_TRUE(hp.ok()) << text << ": " << hp.status();
  EXPECT_EQ(hp->host, host) << text;
  EXPECT_EQ(hp->port, port) << text;
}

void ExpectError(const std::string& text, const std::string& message, bool allow_zero_port = true) {
  absl::StatusOr<HostPort> hp = ParseHostPort(text, allow_zero_port);
  ASSERT_FALSE(hp.ok()) << text << " -> " << hp->host << " " << hp->port;
  EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_EQ(hp.status().message(), message) << text;
}

TEST(ParseHostPortTest, Valid) {
  ExpectParsed("127.0.0.1:80", "127.0.0.1", 80);
  ExpectParsed("0.0.0.0:0", "0.0.0.0", 0);
  ExpectParsed("localhost:65535", "localhost", 65535);
  ExpectParsed("web.internal:8080", "web.internal", 8080);
  ExpectParsed("[::1]:80", "::1", 80);
  ExpectParsed("[::]:9090", "::", 9090);
  ExpectParsed("[fe80::1%eth0]:443", "fe80::1%eth0", 443);
  ExpectParsed("h:1", "h", 1, /*allow_zero_port=*/false);
  ExpectParsed("h:007", "h", 7);
}

TEST(ParseHostPortTest, ZeroPortOnlyWhenAllowed) {
  ExpectParsed("127.0.0.1:0", "127.0.0.1", 0, /*allow_zero_port=*/true);
  ExpectError("127.0.0.1:0", "\"127.0.0.1:0\": expected host:port with a port from 1 to 65535",
              /*allow_zero_port=*/false);
  ExpectError("[::1]:0", "\"[::1]:0\": expected host:port with a port from 1 to 65535",
              /*allow_zero_port=*/false);
}

TEST(ParseHostPortTest, MissingOrExtraColons) {
  const std::string suffix = "\": expected host:port (IPv6 as [addr]:port)";
  ExpectError("", "\"" + suffix);
  ExpectError("localhost", "\"localhost" + suffix);
  ExpectError("::1:80", "\"::1:80" + suffix);
  ExpectError("a:b:80", "\"a:b:80" + suffix);
}

TEST(ParseHostPortTest, BadBrackets) {
  const std::string suffix = "\": expected [IPv6]:port";
  ExpectError("[::1]", "\"[::1]" + suffix);
  ExpectError("[::1]80", "\"[::1]80" + suffix);
  ExpectError("[::1", "\"[::1" + suffix);
  ExpectError("[::1]]:80", "\"[::1]]:80" + suffix);
  ExpectError("[", "\"[" + suffix);
}

TEST(ParseHostPortTest, BadHostOrPort) {
  auto message = [](const std::string& text) {
    return "\"" + text + "\": expected host:port with a port from 0 to 65535";
  };
  for (const char* text :
       {":80", "[]:80", "h:", "[::1]:", "h:65536", "h:99999999999", "h:-1", "h:http", "h:8o",
        "h:0x50", "h:4294967376", "h:+80", "h: 80", "h:80 ", "[::1]:+80"}) {
    ExpectError(text, message(text));
  }
}

TEST(ParsePortTest, DecimalDigitsOnly) {
  EXPECT_EQ(ParsePort("0"), 0);
  EXPECT_EQ(ParsePort("80"), 80);
  EXPECT_EQ(ParsePort("0080"), 80);
  EXPECT_EQ(ParsePort("65535"), 65535);
  for (const char* text :
       {"", "65536", "99999999999", "-1", "+80", " 80", "80 ", "8 0", "0x50", "80\n", "http"}) {
    EXPECT_EQ(ParsePort(text), std::nullopt) << text;
  }
}

TEST(UriHostTest, BracketsOnlyHostsWithColons) {
  EXPECT_EQ(UriHost("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(UriHost("web.internal"), "web.internal");
  EXPECT_EQ(UriHost("::1"), "[::1]");
  EXPECT_EQ(UriHost("2001:db8::1"), "[2001:db8::1]");
  EXPECT_EQ(UriHost("fe80::1%eth0"), "[fe80::1%eth0]");
  EXPECT_EQ(UriHost(""), "");
}

TEST(JoinHostPortTest, Formats) {
  EXPECT_EQ(JoinHostPort("10.0.0.1", 80), "10.0.0.1:80");
  EXPECT_EQ(JoinHostPort("::1", 80), "[::1]:80");
  EXPECT_EQ(JoinHostPort("2001:db8::1", 8080), "[2001:db8::1]:8080");
  EXPECT_EQ(JoinHostPort("web.internal", 8080), "web.internal:8080");
  EXPECT_EQ(JoinHostPort("h", 0), "h:0");
  EXPECT_EQ(JoinHostPort("h", 65535), "h:65535");
}

TEST(JoinHostPortTest, ParseHostPortReadsItBack) {
  for (const auto& [host, port] : std::vector<std::pair<std::string, uint16_t>>{
           {"127.0.0.1", 80}, {"::1", 443}, {"fe80::1%eth0", 1}, {"web.internal", 65535}}) {
    absl::StatusOr<HostPort> hp = ParseHostPort(JoinHostPort(host, port));
    ASSERT_TRUE(hp.ok()) << host << ": " << hp.status();
    EXPECT_EQ(hp->host, host);
    EXPECT_EQ(hp->port, port);
  }
}

}  // namespace
}  // namespace lb::net
