#include "proxy/router/header_rewriter.h"

#include <string>

#include "gtest/gtest.h"

namespace lb::proxy::router {
namespace {

std::string Wire(const http::HeaderMap& map) {
  std::string out;
  map.AppendHttp1(&out);
  return out;
}

TEST(HeaderRewriterTest, AddsForwardedFieldsAfterTheClientsOwn) {
  http::RequestHeaderMap h;
  h.has_host = true;
  h.Add("Host", "a");
  h.Add("Accept", "*/*");
  RewriteRequest({"192.0.2.1", "http"}, h);
  EXPECT_EQ(Wire(h),
            "Host: a\r\nAccept: */*\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\n");
}

TEST(HeaderRewriterTest, JoinsEarlierForwardedForAndReplacesProto) {
  http::RequestHeaderMap h;
  h.has_host = true;
  h.Add("Host", "a");
  h.Add("x-forwarded-for", "203.0.113.7");
  h.Add("X-Forwarded-Proto", "https");
  h.Add("X-Forwarded-For", "198.51.100.1, 198.51.100.2");
  h.Add("X-Other", "kept");
  RewriteRequest({"2001:db8::1", "http"}, h);
  EXPECT_EQ(Wire(h),
            "Host: a\r\nX-Other: kept\r\n"
            "X-Forwarded-For: 203.0.113.7, 198.51.100.1, 198.51.100.2, 2001:db8::1\r\n"
            "X-Forwarded-Proto: http\r\n");
}

TEST(HeaderRewriterTest, HostIsAddedWhenMissingAndExpectDroppedWhenAnswered) {
  http::RequestHeaderMap h;
  h.expect_100_continue = true;
  h.Add("Expect", "100-continue");
  RewriteRequest({"192.0.2.1", "https"}, h);
  EXPECT_EQ(Wire(h),
            "Host: localhost\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n");

  http::RequestHeaderMap kept;  // An Expect the proxy does not answer goes through.
  kept.has_host = true;
  kept.Add("Expect", "something-else");
  RewriteRequest({"192.0.2.1", "http"}, kept);
  EXPECT_TRUE(kept.Find("expect").has_value());
}

}  // namespace
}  // namespace lb::proxy::router
