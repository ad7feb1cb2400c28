// Tests of common/http/reason_phrase.cc.
#include "common/http/reason_phrase.h"

#include "gtest/gtest.h"

namespace lb::http {
namespace {

TEST(ReasonPhraseTest, RegisteredCodes) {
  EXPECT_EQ(ReasonPhrase(100), "Continue");
  EXPECT_EQ(ReasonPhrase(101), "Switching Protocols");
  EXPECT_EQ(ReasonPhrase(200), "OK");
  EXPECT_EQ(ReasonPhrase(201), "Created");
  EXPECT_EQ(ReasonPhrase(204), "No Content");
  EXPECT_EQ(ReasonPhrase(304), "Not Modified");
  EXPECT_EQ(ReasonPhrase(308), "Permanent Redirect");
  EXPECT_EQ(ReasonPhrase(400), "Bad Request");
  EXPECT_EQ(ReasonPhrase(401), "Unauthorized");
  EXPECT_EQ(ReasonPhrase(403), "Forbidden");
  EXPECT_EQ(ReasonPhrase(404), "Not Found");
  EXPECT_EQ(ReasonPhrase(405), "Method Not Allowed");
  EXPECT_EQ(ReasonPhrase(408), "Request Timeout");
  EXPECT_EQ(ReasonPhrase(409), "Conflict");
  EXPECT_EQ(ReasonPhrase(413), "Payload Too Large");
  EXPECT_EQ(ReasonPhrase(422), "Unprocessable Content");
  EXPECT_EQ(ReasonPhrase(425), "Too Early");
  EXPECT_EQ(ReasonPhrase(429), "Too Many Requests");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(451), "Unavailable For Legal Reasons");
  EXPECT_EQ(ReasonPhrase(500), "Internal Server Error");
  EXPECT_EQ(ReasonPhrase(501), "Not Implemented");
  EXPECT_EQ(ReasonPhrase(502), "Bad Gateway");
  EXPECT_EQ(ReasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(ReasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(ReasonPhrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(ReasonPhrase(511), "Network Authentication Required");
}

TEST(ReasonPhraseTest, UnregisteredCodesGetTheirClass) {
  EXPECT_EQ(ReasonPhrase(199), "Informational");
  EXPECT_EQ(ReasonPhrase(299), "Successful");
  EXPECT_EQ(ReasonPhrase(306), "Redirection");
  EXPECT_EQ(ReasonPhrase(418), "Client Error");
  EXPECT_EQ(ReasonPhrase(499), "Client Error");
  EXPECT_EQ(ReasonPhrase(599), "Server Error");
}

TEST(ReasonPhraseTest, OutOfRangeIsEmpty) {
  EXPECT_EQ(ReasonPhrase(0), "");
  EXPECT_EQ(ReasonPhrase(99), "");
  EXPECT_EQ(ReasonPhrase(600), "");
  EXPECT_EQ(ReasonPhrase(-200), "");
  EXPECT_EQ(ReasonPhrase(1000), "");
}

}  // namespace
}  // namespace lb::http
