#include "proxy/http/parser.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace lb::http {
namespace {

using ::testing::TestWithParam;
using ::testing::ValuesIn;

// Parses `in` given whole.
ParseResult ParseWhole(RequestParser& p, const std::string& in) {
  return p.Parse(in.data(), in.size());
}

// Feeds `in` one more byte per call, in one buffer; stops at the first final result.
ParseResult ParseBytewise(RequestParser& p, const std::string& in) {
  ParseResult r;
  for (size_t n = 0; n <= in.size(); ++n) {
    r = p.Parse(in.data(), n);
    if (!r.incomplete()) break;
  }
  return r;
}

// The first `cut` bytes in one heap buffer, then all of `in` in another one (the caller's
// buffer moved). `whole` keeps the second buffer alive for the views.
ParseResult ParseSplit(RequestParser& p, const std::string& in, size_t cut,
                       std::unique_ptr<char[]>* whole) {
  std::unique_ptr<char[]> first(new char[cut + 1]);
  in.copy(first.get(), cut);
  ParseResult r = p.Parse(first.get(), cut);
  if (!r.incomplete()) {
    *whole = std::move(first);
    return r;
  }
  whole->reset(new char[in.size() + 1]);
  in.copy(whole->get(), in.size());
  return p.Parse(whole->get(), in.size());
}

std::string Describe(const ParseResult& r) {
  switch (r.status) {
    case ParseStatus::kIncomplete:
      return "incomplete";
    case ParseStatus::kDone:
      return "done(" + std::to_string(r.consumed) + ")";
    case ParseStatus::kError:
      return "error(" + std::to_string(r.error_status) + ", " + std::string(r.error_reason) + ")";
  }
  return "?";
}

constexpr char kCurl[] =
    "GET /index.html?q=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

TEST(RequestParserTest, ParsesSimpleGet) {
  RequestParser p;
  const std::string in = kCurl;
  const ParseResult r = ParseWhole(p, in);
  ASSERT_TRUE(r.done()) << Describe(r);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(p.method(), Method::kGet);
  EXPECT_EQ(p.method_token(), "GET");
  EXPECT_EQ(p.target(), "/index.html?q=1");
  EXPECT_EQ(p.version(), Version::kHttp11);
  ASSERT_EQ(p.headers().size(), 3u);
  EXPECT_EQ(p.headers()[0].name, "Host");
  EXPECT_EQ(p.headers()[0].value, "example.com");
  EXPECT_EQ(p.headers()[1].name, "User-Agent");
  EXPECT_EQ(p.headers()[1].value, "curl/7.88.1");
  EXPECT_EQ(p.headers()[2].value, "*/*");
  EXPECT_EQ(p.host(), "example.com");
  EXPECT_TRUE(p.has_host());
  EXPECT_TRUE(p.keep_alive());
  EXPECT_EQ(p.body_framing(), BodyFraming::kNone);
  EXPECT_FALSE(p.content_length().has_value());
  EXPECT_FALSE(p.chunked());
  EXPECT_FALSE(p.expect_100_continue());
  EXPECT_FALSE(p.upgrade());
  EXPECT_TRUE(p.hop_by_hop().empty());
  // Zero-copy: views point into the input.
  EXPECT_EQ(p.target().data(), in.data() + 4);
}

TEST(RequestParserTest, ValuesAreTrimmedOfOws) {
  RequestParser p;
  const ParseResult r = p.Parse(
      "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t spaced \t \r\nX-Empty:\r\nX-Blank:   \r\n"
      "X-Inner: a  b\tc\r\nX-Obs: caf\xc3\xa9\r\n\r\n");
  ASSERT_TRUE(r.done()) << Describe(r);
  ASSERT_EQ(p.headers().size(), 6u);
  EXPECT_EQ(p.headers()[0].value, "a");
  EXPECT_EQ(p.headers()[1].value, "spaced");
  EXPECT_EQ(p.headers()[2].value, "");
  EXPECT_EQ(p.headers()[3].value, "");
  EXPECT_EQ(p.headers()[4].value, "a  b\tc");
  EXPECT_EQ(p.headers()[5].value, "caf\xc3\xa9");
}

TEST(RequestParserTest, FindHeaderIgnoresCase) {
  RequestParser p;
  ASSERT_TRUE(p.Parse(kCurl).done());
  ASSERT_NE(p.FindHeader("user-agent"), nullptr);
  EXPECT_EQ(p.FindHeader("USER-AGENT")->value, "curl/7.88.1");
  EXPECT_EQ(p.FindHeader("user-agen"), nullptr);
  EXPECT_EQ(FindHeader(p.headers(), "accept")->value, "*/*");
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(EqualsIgnoreCase("Content-Length", "Content_Length"));
  EXPECT_TRUE(ListHasToken("foo, Close ,bar", "close"));
  EXPECT_TRUE(ListHasToken(",,keep-alive,", "Keep-Alive"));
  EXPECT_FALSE(ListHasToken("closed, xclose", "close"));
}

TEST(RequestParserTest, RecognizesMethods) {
  const std::vector<std::pair<std::string, Method>> cases = {
      {"GET", Method::kGet},     {"HEAD", Method::kHead},      {"POST", Method::kPost},
      {"PUT", Method::kPut},     {"DELETE", Method::kDelete},  {"OPTIONS", Method::kOptions},
      {"TRACE", Method::kTrace}, {"PATCH", Method::kPatch},    {"PROPFIND", Method::kOther},
      {"get", Method::kOther},   {"M-SEARCH", Method::kOther},
  };
  for (const auto& [token, method] : cases) {
    RequestParser p;
    const std::string in = token + " / HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_TRUE(p.Parse(in).done()) << token;
    EXPECT_EQ(p.method(), method) << token;
    EXPECT_EQ(p.method_token(), token);
    if (method != Method::kOther) {
      EXPECT_EQ(MethodName(method), token);
    }
  }
  RequestParser p;
  ASSERT_TRUE(p.Parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").done());
  EXPECT_EQ(p.method(), Method::kConnect);
  EXPECT_EQ(p.target(), "example.com:443");
}

TEST(RequestParserTest, AcceptsTargetForms) {
  for (const char* in : {
           "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
           "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
           "GET //double/slash HTTP/1.1\r\nHost: a\r\n\r\n",
           "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
           "GET /%7Euser/a;b=c?d=e&f=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
       }) {
    RequestParser p;
    const ParseResult r = p.Parse(in);
    EXPECT_TRUE(r.done()) << in << " -> " << Describe(r);
  }
}

TEST(RequestParserTest, ParsesPipelinedRequestsInOneBuffer) {
  const std::string in =
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
      "GET /4 HTTP/1.1\r\n";  // an incomplete fourth
  RequestParser p;
  size_t offset = 0;
  std::vector<std::string> targets;
  while (true) {
    p.Reset();
    const ParseResult r = p.Parse(in.data() + offset, in.size() - offset);
    if (r.incomplete()) break;
    ASSERT_TRUE(r.done()) << Describe(r);
    targets.emplace_back(p.target());
    offset += r.consumed;
    if (p.body_framing() == BodyFraming::kContentLength) {
      EXPECT_EQ(in.substr(offset, *p.content_length()), "abc");
      offset += *p.content_length();
    }
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/1", "/2", "/3"}));
  EXPECT_EQ(in.substr(offset), "GET /4 HTTP/1.1\r\n");
}

const char* const kValidRequests[] = {
    kCurl,
    "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-A\r\n"
    "X-A: 1\r\nTE: trailers\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Cookie: "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    "\r\n",
};

TEST(RequestParserTest, ByteByByteAndEverySplitMatchWhole) {
  for (const char* request : kValidRequests) {
    const std::string in = request;
    RequestParser whole;
    const ParseResult expected = ParseWhole(whole, in);
    ASSERT_TRUE(expected.done()) << in << " -> " << Describe(expected);

    RequestParser bytewise;
    const ParseResult r = ParseBytewise(bytewise, in);
    ASSERT_TRUE(r.done()) << Describe(r);
    EXPECT_EQ(r.consumed, expected.consumed);
    ASSERT_EQ(bytewise.headers().size(), whole.headers().size());
    for (size_t i = 0; i < whole.headers().size(); ++i) {
      EXPECT_EQ(bytewise.headers()[i].name, whole.headers()[i].name);
      EXPECT_EQ(bytewise.headers()[i].value, whole.headers()[i].value);
    }
    EXPECT_EQ(bytewise.hop_by_hop(), whole.hop_by_hop());

    for (size_t cut = 0; cut <= in.size(); ++cut) {
      RequestParser split;
      std::unique_ptr<char[]> buffer;
      const ParseResult s = ParseSplit(split, in, cut, &buffer);
      ASSERT_TRUE(s.done()) << "cut " << cut << ": " << Describe(s);
      EXPECT_EQ(s.consumed, expected.consumed);
      EXPECT_EQ(split.target(), whole.target());
      EXPECT_EQ(split.method_token(), whole.method_token());
      EXPECT_EQ(split.host(), whole.host());
      ASSERT_EQ(split.headers().size(), whole.headers().size());
      for (size_t i = 0; i < whole.headers().size(); ++i) {
        EXPECT_EQ(split.headers()[i].name, whole.headers()[i].name);
        EXPECT_EQ(split.headers()[i].value, whole.headers()[i].value);
        // After the move every view points into the second buffer.
        EXPECT_GE(split.headers()[i].value.data(), buffer.get());
        EXPECT_LE(split.headers()[i].value.data(), buffer.get() + in.size());
      }
    }
  }
}

TEST(RequestParserTest, ResultIsStableAfterDone) {
  RequestParser p;
  const std::string in = kCurl;
  const ParseResult r1 = p.Parse(in);
  const ParseResult r2 = p.Parse(in + "GET /next HTTP/1.1\r\n");
  EXPECT_TRUE(r2.done());
  EXPECT_EQ(r1.consumed, r2.consumed);
  p.Reset();
  EXPECT_TRUE(p.Parse("GET /again HTTP/1.1\r\nHost: b\r\n\r\n").done());
  EXPECT_EQ(p.target(), "/again");
  EXPECT_EQ(p.headers().size(), 1u);
}

TEST(RequestParserTest, IncompleteHeadIsIncomplete) {
  const std::string in = kCurl;
  for (size_t n = 0; n < in.size(); ++n) {
    RequestParser p;
    EXPECT_TRUE(p.Parse(in.data(), n).incomplete()) << n;
  }
}

struct BadCase {
  const char* name;
  std::string input;
  int status;
};

std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.name; }

class BadRequestTest : public TestWithParam<BadCase> {};

TEST_P(BadRequestTest, IsRejectedWithStatus) {
  const BadCase& c = GetParam();
  RequestParser whole;
  const ParseResult r = whole.Parse(c.input);
  ASSERT_TRUE(r.error()) << Describe(r);
  EXPECT_EQ(r.error_status, c.status) << r.error_reason;
  EXPECT_FALSE(r.error_reason.empty());
  // The same verdict whatever the reads were.
  RequestParser bytewise;
  const ParseResult b = ParseBytewise(bytewise, c.input);
  EXPECT_EQ(Describe(b), Describe(r));
  // And it sticks.
  EXPECT_EQ(Describe(whole.Parse(c.input)), Describe(r));
}

std::string Req(const std::string& headers) {
  return "POST / HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n";
}

const BadCase kBadRequests[] = {
    // Line endings.
    {"BareLfRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
    {"BareLfHeader", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
    {"BareLfEnd", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
    {"BareLfLeading", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"AllBareLf", "GET / HTTP/1.1\nHost: a\n\n", 400},
    {"LoneCrRequestLine", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
    {"LoneCrInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
    {"LoneCrEnd", "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", 400},
    {"LoneCrLeading", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CrInTarget", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    // obs-fold and whitespace.
    {"ObsFoldSpace", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400},
    {"ObsFoldTab", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", 400},
    {"WhitespaceBeforeFirstHeader", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
    {"SpaceBeforeColon", Req("Transfer-Encoding : chunked\r\n"), 400},
    {"TabBeforeColon", Req("Content-Length\t: 0\r\n"), 400},
    {"NoColon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
    {"EmptyName", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400},
    {"InvalidNameChar", "GET / HTTP/1.1\r\nHost: a\r\nX(Y): v\r\n\r\n", 400},
    {"NonAsciiName", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: v\r\n\r\n", 400},
    // Control characters in values.
    {"NulInValue", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35), 400},
    {"VtInValue",
     Req("Transfer-Encoding:\x0b"
         "chunked\r\n"),
     400},
    {"FfInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x0c\r\n\r\n", 400},
    {"DelInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400},
    {"EscInLongValue",
     "GET / HTTP/1.1\r\nHost: a\r\nCookie: aaaaaaaaaaaaaaaaaaaaaaaaa\x1b"
     "aaaaaaaaaaa\r\n\r\n",
     400},
    // Request line.
    {"InvalidMethodChar", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"EmptyMethod", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"TabAfterMethod", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"DoubleSpace", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"EmptyTarget", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"SpaceInTarget", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"FragmentInTarget", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"NonAsciiTarget", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"RelativeTarget", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"AsteriskNotOptions", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"ConnectOriginForm", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"ConnectNoPort", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"AbsoluteUserinfo", "GET http://u@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"AbsoluteNoAuthority", "GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"Http09", "GET /\r\n\r\n", 400},
    {"LowercaseVersion", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"LongMinorVersion", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"TrailingSpaceAfterVersion", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"Http20", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"Http12", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
    {"Http09Versioned", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
    // Host.
    {"MissingHost", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
    {"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
    {"InvalidHost", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"HostWithSpace", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    // Content-Length.
    {"ClNotDigits", Req("Content-Length: abc\r\n"), 400},
    {"ClEmpty", Req("Content-Length:\r\n"), 400},
    {"ClPlus", Req("Content-Length: +5\r\n"), 400},
    {"ClMinus", Req("Content-Length: -5\r\n"), 400},
    {"ClHex", Req("Content-Length: 0x5\r\n"), 400},
    {"ClInnerSpace", Req("Content-Length: 1 2\r\n"), 400},
    {"ClOverflow", Req("Content-Length: 18446744073709551621\r\n"), 400},
    {"ClOverInt64", Req("Content-Length: 9223372036854775808\r\n"), 400},
    {"ClDiffering", Req("Content-Length: 5\r\nContent-Length: 6\r\n"), 400},
    {"ClList", Req("Content-Length: 5, 6\r\n"), 400},
    {"ClListEmptyElement", Req("Content-Length: 5,,5\r\n"), 400},
    {"ClTrailingComma", Req("Content-Length: 5,\r\n"), 400},
    {"ClUnderscore", Req("Content_Length: 5\r\n"), 400},
    // Transfer-Encoding.
    {"ClAndTe", Req("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400},
    {"TeAndCl", Req("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400},
    {"TeXchunked", Req("Transfer-Encoding: xchunked\r\n"), 400},
    {"TeChunkedX", Req("Transfer-Encoding: chunkedx\r\n"), 400},
    {"TeGzip", Req("Transfer-Encoding: gzip\r\n"), 400},
    {"TeChunkedThenGzip", Req("Transfer-Encoding: chunked, gzip\r\n"), 400},
    {"TeChunkedThenIdentityHeader",
     Req("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"), 400},
    {"TeChunkedTwice", Req("Transfer-Encoding: chunked, chunked\r\n"), 400},
    {"TeChunkedTwoHeaders", Req("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
     400},
    {"TeChunkedParams", Req("Transfer-Encoding: chunked;q=1\r\n"), 400},
    {"TeQuoted", Req("Transfer-Encoding: \"chunked\"\r\n"), 400},
    {"TeEmpty", Req("Transfer-Encoding:\r\n"), 400},
    {"TeTwoTokensNoComma", Req("Transfer-Encoding: chunked chunked\r\n"), 400},
    {"TeUnderscore", Req("Transfer_Encoding: chunked\r\n"), 400},
    {"TeUnderscoreMixedCase", Req("TRANSFER_encoding: chunked\r\n"), 400},
    {"TeObsFold", Req("Transfer-Encoding:\r\n chunked\r\n"), 400},
    {"TeInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"TeGzipChunked", Req("Transfer-Encoding: gzip, chunked\r\n"), 501},
    {"TeUnknownThenChunked", Req("Transfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n"), 501},
    // Connection.
    {"ConnectionBadToken", Req("Connection: close, \"x\"\r\n"), 400},
};

INSTANTIATE_TEST_SUITE_P(Strictness, BadRequestTest, ValuesIn(kBadRequests),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RequestParserTest, AcceptsIdenticalContentLengths) {
  for (const char* headers :
       {"Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length: 5, 5\r\n",
        "Content-Length: 005\r\n", "Content-Length:\t5 \r\n"}) {
    RequestParser p;
    const ParseResult r = p.Parse(Req(headers) + "hello");
    ASSERT_TRUE(r.done()) << headers << Describe(r);
    EXPECT_EQ(p.content_length(), 5u);
    EXPECT_EQ(p.body_framing(), BodyFraming::kContentLength);
  }
  RequestParser p;
  ASSERT_TRUE(p.Parse(Req("Content-Length: 9223372036854775807\r\n")).done());
  EXPECT_EQ(p.content_length(), 9223372036854775807u);
}

TEST(RequestParserTest, AcceptsChunkedSpellings) {
  for (const char* headers :
       {"Transfer-Encoding: chunked\r\n", "Transfer-Encoding: CHUNKED\r\n",
        "Transfer-Encoding:\tchunked\r\n", "transfer-encoding: ,chunked, \r\n"}) {
    RequestParser p;
    const ParseResult r = p.Parse(Req(headers));
    ASSERT_TRUE(r.done()) << headers << Describe(r);
    EXPECT_TRUE(p.chunked());
    EXPECT_EQ(p.body_framing(), BodyFraming::kChunked);
    EXPECT_FALSE(p.content_length().has_value());
  }
}

TEST(RequestParserTest, EnforcesHeaderSectionSize) {
  HeadLimits limits;
  limits.max_header_bytes = 64;
  const std::string fits = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(64 - 32, 'x') +
                           "\r\n\r\n";  // exactly 64 bytes
  ASSERT_EQ(fits.size(), 64u);
  {
    RequestParser p(limits);
    EXPECT_TRUE(p.Parse(fits).done());
  }
  const std::string over =
      "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(64 - 31, 'x') + "\r\n\r\n";
  {
    RequestParser p(limits);
    const ParseResult r = p.Parse(over);
    ASSERT_TRUE(r.error());
    EXPECT_EQ(r.error_status, 431);
  }
  {
    RequestParser p(limits);
    EXPECT_EQ(ParseBytewise(p, over).error_status, 431);
  }
  // The default limit is 60 KiB; a never-ending header line hits it.
  RequestParser p;
  std::string huge = "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(70 * 1024, 'c');
  EXPECT_TRUE(p.Parse(huge.data(), 60 * 1024 - 1).incomplete());
  const ParseResult r = p.Parse(huge);
  ASSERT_TRUE(r.error());
  EXPECT_EQ(r.error_status, 431);
}

TEST(RequestParserTest, EnforcesHeaderCount) {
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 1; i < 100; ++i) in += "X-" + std::to_string(i) + ": v\r\n";
  {
    RequestParser p;
    const ParseResult r = p.Parse(in + "\r\n");
    ASSERT_TRUE(r.done()) << Describe(r);
    EXPECT_EQ(p.headers().size(), 100u);
  }
  RequestParser p;
  const ParseResult r = p.Parse(in + "X-101: v\r\n\r\n");
  ASSERT_TRUE(r.error());
  EXPECT_EQ(r.error_status, 431);
}

TEST(RequestParserTest, DefersErrorUntilLineEnds) {
  // A bad byte in a line that has not ended yet is not reported before the LF arrives (the
  // outcome must not depend on read boundaries).
  RequestParser p;
  EXPECT_TRUE(p.Parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01").incomplete());
  const ParseResult r = p.Parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01zz\r\n");
  ASSERT_TRUE(r.error());
  EXPECT_EQ(r.error_status, 400);
}

struct KeepAliveCase {
  std::string request;
  bool keep_alive;
};

TEST(RequestParserTest, KeepAliveRules) {
  const KeepAliveCase cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", false},
  };
  for (const KeepAliveCase& c : cases) {
    RequestParser p;
    ASSERT_TRUE(p.Parse(c.request).done()) << c.request;
    EXPECT_EQ(p.keep_alive(), c.keep_alive) << c.request;
  }
}

TEST(RequestParserTest, ListsHopByHopHeaders) {
  RequestParser p;
  const ParseResult r = p.Parse(
      "GET / HTTP/1.1\r\n"
      "Host: a\r\n"                                  // 0
      "X-Foo: 1\r\n"                                 // 1  named in Connection
      "Connection: keep-alive, x-foo\r\n"            // 2
      "Keep-Alive: timeout=5\r\n"                    // 3
      "Proxy-Connection: keep-alive\r\n"             // 4
      "TE: trailers\r\n"                             // 5
      "Trailer: X-T\r\n"                             // 6
      "Upgrade: h2c\r\n"                             // 7
      "Accept: */*\r\n"                              // 8
      "x-foo: 2\r\n"                                 // 9  named in Connection
      "Connection: X-Bar, host, content-length\r\n"  // 10
      "X-Bar: 3\r\n"                                 // 11
      "\r\n");
  ASSERT_TRUE(r.done()) << Describe(r);
  EXPECT_EQ(p.hop_by_hop(), (std::vector<uint16_t>{1, 2, 3, 4, 5, 6, 7, 9, 10, 11}));
  EXPECT_TRUE(p.IsHopByHop(9));
  EXPECT_FALSE(p.IsHopByHop(0));  // Host named in Connection stays.
  EXPECT_FALSE(p.IsHopByHop(8));
  EXPECT_FALSE(p.upgrade());  // Upgrade header without the Connection option.
}

TEST(RequestParserTest, TransferEncodingIsHopByHop) {
  RequestParser p;
  ASSERT_TRUE(p.Parse(Req("Transfer-Encoding: chunked\r\nX: y\r\n")).done());
  EXPECT_EQ(p.hop_by_hop(), (std::vector<uint16_t>{1}));
}

TEST(RequestParserTest, RejectsTooManyConnectionOptions) {
  std::string options;
  for (int i = 0; i < 33; ++i) options += (i ? ", o" : "o") + std::to_string(i);
  RequestParser p;
  const ParseResult r = p.Parse(Req("Connection: " + options + "\r\n"));
  ASSERT_TRUE(r.error());
  EXPECT_EQ(r.error_status, 400);
  RequestParser ok;
  EXPECT_TRUE(
      ok.Parse(Req("Connection: " + options.substr(0, options.rfind(',')) + "\r\n")).done());
}

TEST(RequestParserTest, ExpectContinueAndUpgrade) {
  {
    RequestParser p;
    ASSERT_TRUE(p.Parse(Req("Expect: 100-Continue\r\nContent-Length: 1\r\n")).done());
    EXPECT_TRUE(p.expect_100_continue());
  }
  {
    RequestParser p;  // HTTP/1.0 clients can't take a 100 Continue.
    ASSERT_TRUE(p.Parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").done());
    EXPECT_FALSE(p.expect_100_continue());
  }
  {
    RequestParser p;
    ASSERT_TRUE(p.Parse(Req("Expect: something-else\r\n")).done());
    EXPECT_FALSE(p.expect_100_continue());
  }
  {
    RequestParser p;
    ASSERT_TRUE(p.Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                        "Upgrade: websocket\r\n\r\n")
                    .done());
    EXPECT_TRUE(p.upgrade());
    EXPECT_TRUE(p.keep_alive());
  }
  {
    RequestParser p;  // Connection option without an Upgrade header.
    ASSERT_TRUE(p.Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n").done());
    EXPECT_FALSE(p.upgrade());
  }
  {
    RequestParser p;  // HTTP/1.0 Upgrade is ignored.
    ASSERT_TRUE(p.Parse("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n").done());
    EXPECT_FALSE(p.upgrade());
  }
}

TEST(RequestParserTest, Http10WithoutHost) {
  RequestParser p;
  ASSERT_TRUE(p.Parse("GET / HTTP/1.0\r\n\r\n").done());
  EXPECT_EQ(p.version(), Version::kHttp10);
  EXPECT_FALSE(p.has_host());
  EXPECT_EQ(p.host(), "");
}

TEST(RequestParserTest, EmptyHostIsAllowed) {
  RequestParser p;
  ASSERT_TRUE(p.Parse("GET / HTTP/1.1\r\nHost:\r\n\r\n").done());
  EXPECT_TRUE(p.has_host());
  EXPECT_EQ(p.host(), "");
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder

struct Decoded {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  size_t position = 0;  // end of the body (kDone) or offset of the bad byte (kError)
  std::string payload;
  std::string forwarded;  // the raw bytes consumed, as a proxy forwarding as-is would send
  int error_status = 0;
  std::string trailers;  // trailer_section() after kDone
};

// Feeds `in` in pieces ending at `cuts` (the last cut must be in.size()).
Decoded Decode(const std::string& in, const std::vector<size_t>& cuts,
               const ChunkedDecoder::Limits& limits = ChunkedDecoder::Limits()) {
  ChunkedDecoder d(limits);
  Decoded out;
  size_t offset = 0;
  for (size_t cut : cuts) {
    std::string piece = in.substr(offset, cut - offset);
    const char* p = piece.data();
    size_t n = piece.size();
    while (true) {
      const ChunkedDecoder::Result r = d.Decode(p, n);
      out.forwarded.append(p, r.consumed);
      if (r.status == ChunkedDecoder::Status::kData) {
        out.payload.append(r.payload.data(), r.payload.size());
        p += r.consumed;
        n -= r.consumed;
        offset += r.consumed;
        continue;
      }
      if (r.status == ChunkedDecoder::Status::kNeedMore) {
        offset += n;
        break;
      }
      out.status = r.status;
      out.position = offset + r.consumed;
      out.error_status = d.error_status();
      if (r.status == ChunkedDecoder::Status::kDone)
        out.trailers = std::string(d.trailer_section());
      return out;
    }
  }
  return out;
}

Decoded DecodeWhole(const std::string& in) { return Decode(in, {in.size()}); }

TEST(ChunkedDecoderTest, DecodesChunksExtensionsAndTrailers) {
  const std::string body =
      "4\r\nWiki\r\n"
      "5;name=\"value\" ; flag\r\npedia\r\n"
      "e\r\n in\r\n\r\nchunks.\r\n"
      "0;last\r\n"
      "Expires: never\r\n"
      "X-Checksum:\tabc \r\n"
      "\r\n";
  const std::string next = "GET / HTTP/1.1\r\n";
  const Decoded d = DecodeWhole(body + next);
  EXPECT_EQ(d.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.payload, "Wikipedia in\r\n\r\nchunks.");
  EXPECT_EQ(d.position, body.size());
  EXPECT_EQ(d.forwarded, body);
  EXPECT_EQ(d.trailers, "Expires: never\r\nX-Checksum:\tabc \r\n");
  EXPECT_EQ(DecodeWhole("0\r\n\r\n").trailers, "");
}

TEST(ChunkedDecoderTest, PayloadPointsIntoInput) {
  ChunkedDecoder d;
  const std::string in = "5\r\nhello\r\n0\r\n\r\n";
  ChunkedDecoder::Result r = d.Decode(in);
  ASSERT_EQ(r.status, ChunkedDecoder::Status::kData);
  EXPECT_EQ(r.payload, "hello");
  EXPECT_EQ(r.payload.data(), in.data() + 3);
  EXPECT_EQ(r.consumed, 8u);
  r = d.Decode(in.data() + 8, in.size() - 8);
  ASSERT_EQ(r.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(r.consumed, in.size() - 8);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(d.payload_bytes(), 5u);
  EXPECT_EQ(d.chunks(), 1u);
  // Done is sticky until Reset.
  EXPECT_EQ(d.Decode("5\r\n").status, ChunkedDecoder::Status::kDone);
  d.Reset();
  EXPECT_EQ(d.Decode("0\r\nA: 1\r\n\r\n").status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.trailer_section(), "A: 1\r\n");
  d.Reset();  // The next body starts without the last one's trailers.
  EXPECT_EQ(d.Decode("0\r\n\r\n").status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.trailer_section(), "");
}

TEST(ChunkedDecoderTest, SplitAtEveryBoundaryMatchesWhole) {
  const std::string body =
      "1a;ext=\"q\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "A\r\n0123456789\r\n"
      "000\r\n"
      "Trailer-A: 1\r\n"
      "\r\n";
  const Decoded whole = DecodeWhole(body);
  ASSERT_EQ(whole.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(whole.payload, "abcdefghijklmnopqrstuvwxyz0123456789");
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    const Decoded d = Decode(body, {cut, body.size()});
    EXPECT_EQ(d.status, whole.status) << cut;
    EXPECT_EQ(d.payload, whole.payload) << cut;
    EXPECT_EQ(d.position, whole.position) << cut;
    EXPECT_EQ(d.forwarded, body) << cut;
    EXPECT_EQ(d.trailers, "Trailer-A: 1\r\n") << cut;
    for (size_t cut2 = cut; cut2 <= body.size(); cut2 += 3) {
      const Decoded d3 = Decode(body, {cut, cut2, body.size()});
      EXPECT_EQ(d3.payload, whole.payload) << cut << "," << cut2;
      EXPECT_EQ(d3.trailers, "Trailer-A: 1\r\n") << cut << "," << cut2;
      EXPECT_EQ(d3.position, whole.position);
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i <= body.size(); ++i) every.push_back(i);
  const Decoded bytewise = Decode(body, every);
  EXPECT_EQ(bytewise.payload, whole.payload);
  EXPECT_EQ(bytewise.position, whole.position);
}

TEST(ChunkedDecoderTest, LargeChunkIsNotBuffered) {
  const std::string data(100000, 'z');
  ChunkedDecoder d;
  ChunkedDecoder::Result r = d.Decode("186a0\r\n");
  EXPECT_EQ(r.status, ChunkedDecoder::Status::kNeedMore);
  // The payload arrives in reads of 4096: each read is delivered as it comes.
  size_t delivered = 0;
  for (size_t off = 0; off < data.size(); off += 4096) {
    const size_t n = std::min<size_t>(4096, data.size() - off);
    r = d.Decode(data.data() + off, n);
    ASSERT_EQ(r.status, ChunkedDecoder::Status::kData);
    EXPECT_EQ(r.payload.size(), n);
    delivered += r.payload.size();
  }
  EXPECT_EQ(delivered, data.size());
  EXPECT_EQ(d.Decode("\r\n0\r\n\r\n").status, ChunkedDecoder::Status::kDone);
}

struct BadChunked {
  const char* name;
  std::string body;
  size_t position;  // offset of the offending byte
  int status;
};

std::ostream& operator<<(std::ostream& os, const BadChunked& c) { return os << c.name; }

class BadChunkedTest : public TestWithParam<BadChunked> {};

TEST_P(BadChunkedTest, IsRejected) {
  const BadChunked& c = GetParam();
  const Decoded whole = DecodeWhole(c.body);
  ASSERT_EQ(whole.status, ChunkedDecoder::Status::kError) << c.body;
  EXPECT_EQ(whole.position, c.position);
  EXPECT_EQ(whole.error_status, c.status);
  std::vector<size_t> every;
  for (size_t i = 1; i <= c.body.size(); ++i) every.push_back(i);
  const Decoded bytewise = Decode(c.body, every);
  EXPECT_EQ(bytewise.status, ChunkedDecoder::Status::kError);
  EXPECT_EQ(bytewise.position, c.position);
}

const BadChunked kBadChunked[] = {
    {"BareLfAfterSize", "5\nhello\r\n0\r\n\r\n", 1, 400},
    {"LoneCrAfterSize", "5\rhello\r\n0\r\n\r\n", 2, 400},
    {"BareLfAfterData", "5\r\nhello\n0\r\n\r\n", 8, 400},
    {"LoneCrAfterData", "5\r\nhello\r0\r\n\r\n", 9, 400},
    {"DataTooLong", "5\r\nhelloX\r\n0\r\n\r\n", 8, 400},
    {"BareLfLastChunk", "0\n\n", 1, 400},
    {"BareLfFinal", "0\r\n\n", 3, 400},
    {"LoneCrFinal", "0\r\n\rX", 4, 400},
    {"SpaceAfterSize", "5 \r\nhello\r\n0\r\n\r\n", 1, 400},
    {"SpaceBeforeSize", " 5\r\nhello\r\n0\r\n\r\n", 0, 400},
    {"TabBeforeExtension", "5\t;a\r\nhello\r\n0\r\n\r\n", 1, 400},
    {"PlusSign", "+5\r\nhello\r\n0\r\n\r\n", 0, 400},
    {"MinusSign", "-5\r\nhello\r\n0\r\n\r\n", 0, 400},
    {"HexPrefix", "0x5\r\nhello\r\n0\r\n\r\n", 1, 400},
    {"EmptySize", "\r\nhello\r\n0\r\n\r\n", 0, 400},
    {"Overflow", "10000000000000005\r\nhello\r\n", 16, 400},
    {"OverInt64", "8000000000000000\r\n", 15, 400},
    {"ControlInExtension", "5;a\x01\r\nhello\r\n0\r\n\r\n", 3, 400},
    {"BareLfInExtension", "5;a\nhello\r\n0\r\n\r\n", 3, 400},
    {"TrailerObsFold", "0\r\nA: 1\r\n 2\r\n\r\n", 9, 400},
    {"TrailerSpaceBeforeColon", "0\r\nA : 1\r\n\r\n", 4, 400},
    {"TrailerNoColon", "0\r\nA\r\n\r\n", 4, 400},
    {"TrailerBareLf", "0\r\nA: 1\n\r\n", 7, 400},
    {"TrailerControl", "0\r\nA: \x7f\r\n\r\n", 6, 400},
};

INSTANTIATE_TEST_SUITE_P(Strictness, BadChunkedTest, ValuesIn(kBadChunked),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ChunkedDecoderTest, LimitsChunkSizeLineAndTrailers) {
  auto decode = [](const std::string& in, const ChunkedDecoder::Limits& limits) {
    return Decode(in, {in.size()}, limits);
  };
  ChunkedDecoder::Limits limits;
  limits.max_chunk_line = 8;  // counts the size, the extensions and the CR
  EXPECT_EQ(decode("5;abcde\r\nhello\r\n0\r\n\r\n", limits).status, ChunkedDecoder::Status::kDone);
  const Decoded long_ext = decode("5;abcdef\r\nhello\r\n", limits);
  EXPECT_EQ(long_ext.status, ChunkedDecoder::Status::kError);
  EXPECT_EQ(long_ext.position, 8u);
  const Decoded zeros = decode("000000000005\r\nhello\r\n", limits);
  EXPECT_EQ(zeros.status, ChunkedDecoder::Status::kError);
  EXPECT_EQ(zeros.position, 8u);
  // Default: 4096 bytes.
  EXPECT_EQ(DecodeWhole("5;" + std::string(5000, 'x') + "\r\n").status,
            ChunkedDecoder::Status::kError);
  EXPECT_EQ(DecodeWhole("5;" + std::string(4000, 'x') + "\r\nhello\r\n0\r\n\r\n").status,
            ChunkedDecoder::Status::kDone);

  limits = ChunkedDecoder::Limits();
  limits.max_trailer_bytes = 10;  // field lines with their CRLF
  const Decoded at_limit = decode("0\r\nA: 12345\r\n\r\n", limits);
  EXPECT_EQ(at_limit.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(at_limit.trailers, "A: 12345\r\n");  // The kept copy stays within the limit.
  const Decoded big = decode("0\r\nA: 123456\r\n\r\n", limits);
  EXPECT_EQ(big.status, ChunkedDecoder::Status::kError);
  EXPECT_EQ(big.error_status, 431);
  EXPECT_EQ(big.position, 3u + 10u);
}

TEST(ChunkedDecoderTest, ReChunkingRoundTrips) {
  // A proxy re-chunking each payload span produces a body that decodes to the same payload.
  const std::string body = "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  std::vector<size_t> cuts = {2, 7, 9, 20, body.size()};
  const Decoded d = Decode(body, cuts);
  ASSERT_EQ(d.status, ChunkedDecoder::Status::kDone);
  EXPECT_EQ(d.payload, "abc0123456789abcdef");
}

// ---------------------------------------------------------------------------------------------
// ResponseParser

ParseResult ParseResponse(ResponseParser& p, const std::string& in, Method method = Method::kGet) {
  p.Reset(method);
  const ParseResult whole = p.Parse(in);
  // Byte by byte must agree.
  ResponseParser b;
  b.Reset(method);
  ParseResult r;
  for (size_t n = 0; n <= in.size(); ++n) {
    r = b.Parse(in.data(), n);
    if (!r.incomplete()) break;
  }
  EXPECT_EQ(Describe(r), Describe(whole)) << in;
  if (whole.done()) {
    EXPECT_EQ(b.body_framing(), p.body_framing());
    EXPECT_EQ(b.keep_alive(), p.keep_alive());
    EXPECT_EQ(b.headers().size(), p.headers().size());
  }
  return whole;
}

TEST(ResponseParserTest, ContentLength) {
  ResponseParser p;
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
  const ParseResult r = ParseResponse(p, in);
  ASSERT_TRUE(r.done()) << Describe(r);
  EXPECT_EQ(r.consumed, in.size() - 5);
  EXPECT_EQ(p.status_code(), 200);
  EXPECT_EQ(p.reason(), "OK");
  EXPECT_EQ(p.version(), Version::kHttp11);
  EXPECT_EQ(p.body_framing(), BodyFraming::kContentLength);
  EXPECT_EQ(p.content_length(), 5u);
  EXPECT_TRUE(p.keep_alive());
  EXPECT_FALSE(p.interim());
  EXPECT_EQ(p.FindHeader("server")->value, "x");
}

TEST(ResponseParserTest, Chunked) {
  ResponseParser p;
  ASSERT_TRUE(ParseResponse(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kChunked);
  EXPECT_TRUE(p.chunked());
  EXPECT_TRUE(p.keep_alive());
  EXPECT_EQ(p.hop_by_hop(), (std::vector<uint16_t>{0}));
}

TEST(ResponseParserTest, CloseDelimited) {
  ResponseParser p;
  ASSERT_TRUE(ParseResponse(p, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n").done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kCloseDelimited);
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParserTest, ContentLengthWithTransferEncodingIsChunkedAndNotReusable) {
  ResponseParser p;
  ASSERT_TRUE(ParseResponse(p,
                            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n")
                  .done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kChunked);
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParserTest, NoBodyForHead204And304) {
  ResponseParser p;
  ASSERT_TRUE(
      ParseResponse(p, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", Method::kHead).done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kNone);
  EXPECT_EQ(p.content_length(), 100u);  // Still there to forward.
  EXPECT_TRUE(p.keep_alive());
  ASSERT_TRUE(
      ParseResponse(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::kHead)
          .done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kNone);
  ASSERT_TRUE(ParseResponse(p, "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n").done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kNone);
  EXPECT_TRUE(p.keep_alive());
  ASSERT_TRUE(ParseResponse(p, "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n").done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kNone);
  EXPECT_TRUE(p.keep_alive());
}

TEST(ResponseParserTest, InterimResponses) {
  const std::string in =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  ResponseParser p;
  size_t offset = 0;
  std::vector<int> codes;
  while (true) {
    p.Reset(Method::kPost);
    const ParseResult r = p.Parse(in.data() + offset, in.size() - offset);
    ASSERT_TRUE(r.done()) << Describe(r);
    codes.push_back(p.status_code());
    offset += r.consumed;
    EXPECT_EQ(p.body_framing(), p.interim() ? BodyFraming::kNone : BodyFraming::kContentLength);
    if (!p.interim()) break;
  }
  EXPECT_EQ(codes, (std::vector<int>{100, 103, 201}));
  EXPECT_EQ(offset, in.size());
}

TEST(ResponseParserTest, SwitchingProtocolsAndConnectAreTunnels) {
  ResponseParser p;
  ASSERT_TRUE(ParseResponse(p,
                            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                            "Upgrade: websocket\r\n\r\n")
                  .done());
  EXPECT_FALSE(p.interim());
  EXPECT_TRUE(p.upgrade());
  EXPECT_EQ(p.body_framing(), BodyFraming::kTunnel);
  ASSERT_TRUE(
      ParseResponse(p, "HTTP/1.1 200 Connection established\r\n\r\n", Method::kConnect).done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kTunnel);
  ASSERT_TRUE(
      ParseResponse(p, "HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", Method::kConnect).done());
  EXPECT_EQ(p.body_framing(), BodyFraming::kContentLength);
}

TEST(ResponseParserTest, KeepAliveRules) {
  ResponseParser p;
  ASSERT_TRUE(ParseResponse(p, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").done());
  EXPECT_FALSE(p.keep_alive());
  ASSERT_TRUE(
      ParseResponse(p, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
          .done());
  EXPECT_TRUE(p.keep_alive());
  EXPECT_EQ(p.version(), Version::kHttp10);
  ASSERT_TRUE(
      ParseResponse(p, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").done());
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParserTest, StatusLineShapes) {
  ResponseParser p;
  const std::string no_reason = "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(ParseResponse(p, no_reason).done());
  EXPECT_EQ(p.status_code(), 404);
  EXPECT_EQ(p.reason(), "");
  const std::string spaced = "HTTP/1.1 500 Internal\tServer  Error\r\n\r\n";
  ASSERT_TRUE(ParseResponse(p, spaced).done());
  EXPECT_EQ(p.reason(), "Internal\tServer  Error");
  const std::string empty = "HTTP/1.1 299 \r\n\r\n";
  ASSERT_TRUE(ParseResponse(p, empty).done());
  EXPECT_EQ(p.status_code(), 299);
  EXPECT_EQ(p.reason(), "");
}

class BadResponseTest : public TestWithParam<BadCase> {};

TEST_P(BadResponseTest, IsRejectedWith502) {
  ResponseParser p;
  const ParseResult r = ParseResponse(p, GetParam().input);
  ASSERT_TRUE(r.error()) << Describe(r);
  EXPECT_EQ(r.error_status, 502);
}

const BadCase kBadResponses[] = {
    {"BareLfStatusLine", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 502},
    {"BareLfHeader", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", 502},
    {"LoneCrInReason", "HTTP/1.1 200 O\rK\r\n\r\n", 502},
    {"ObsFold", "HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", 502},
    {"DifferingCl", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 502},
    {"ClList", "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", 502},
    {"BadCl", "HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n", 502},
    {"TeGzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 502},
    {"TeGzipChunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 502},
    {"TeInHttp10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502},
    {"TeUnderscore", "HTTP/1.1 200 OK\r\nTransfer_Encoding: chunked\r\n\r\n", 502},
    {"Http2", "HTTP/2.0 200 OK\r\n\r\n", 502},
    {"LowercaseHttp", "http/1.1 200 OK\r\n\r\n", 502},
    {"TwoDigitStatus", "HTTP/1.1 20 OK\r\n\r\n", 502},
    {"FourDigitStatus", "HTTP/1.1 2000 OK\r\n\r\n", 502},
    {"StatusBelow100", "HTTP/1.1 099 OK\r\n\r\n", 502},
    {"NoSpaceAfterVersion", "HTTP/1.1200 OK\r\n\r\n", 502},
    {"LeadingEmptyLine", "\r\nHTTP/1.1 200 OK\r\n\r\n", 502},
    {"NulInReason", std::string("HTTP/1.1 200 O\0K\r\n\r\n", 20), 502},
    {"SpaceBeforeColon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", 502},
};

INSTANTIATE_TEST_SUITE_P(Strictness, BadResponseTest, ValuesIn(kBadResponses),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ResponseParserTest, HeaderSectionTooLargeIs502) {
  HeadLimits limits;
  limits.max_header_bytes = 32;
  ResponseParser p(limits);
  p.Reset();
  const ParseResult r = p.Parse("HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n");
  ASSERT_TRUE(r.error());
  EXPECT_EQ(r.error_status, 502);
}

}  // namespace
}  // namespace lb::http
