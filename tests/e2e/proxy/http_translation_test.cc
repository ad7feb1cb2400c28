// HTTP/1.1 <-> HTTP/2 translation through the real proxy binary, both directions:
//   HTTP/1.1 clients (raw sockets) -> an HTTP2 cluster (nghttp2's server, H2Server with echo):
//     Content-Length and chunked request bodies arrive as DATA, connection-specific fields are
//     not sent (RFC 9113 8.2.2), Host becomes :authority, and a response without a length
//     reaches a keep-alive client chunked;
//   HTTP/2 clients (curl --http2-prior-knowledge) -> an HTTP1 cluster (TestBackend):
//     bodies with and without content-length (then chunked upstream), :authority becomes Host,
//     and a chunked upstream response arrives whole; request trailers go on to HTTP/2
//     upstreams, and to HTTP/1.1 upstreams as chunked trailers when the request has no
//     content-length (RFC 9112 7.1.2); a chunked upstream response's trailers reach HTTP/2
//     clients as a trailing HEADERS frame. Fields that may not be trailers are dropped.
// Trailers from an HTTP/2 upstream to an HTTP/1.1 client that sent "TE: trailers" are in
// http2_upstream_test.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/h2_server.h"
#include "tests/test_common/http2_frames.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

H2Server::Options EchoOptions() {
  H2Server::Options o;
  o.name = "h2";
  o.echo = true;
  return o;
}

class HttpTranslationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    ASSERT_TRUE(h1_.Start().ok());
    const int rest = controller_.rest_port();
    absl::Status st = V1Call(
        rest, "POST", "/v1/clusters",
        absl::StrCat(R"({"name":"h2","protocol":"HTTP2","endpoints":[{"address":"127.0.0.1",)",
                     R"("port":)", h2_.port(), "}]}"),
        201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/clusters",
                absl::StrCat(R"({"name":"h1","protocol":"HTTP1","endpoints":[)",
                             R"({"address":"127.0.0.1","port":)", h1_.port(), "}]}"),
                201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes",
                R"({"name":"h2","hosts":["h2.test"],"path_prefix":"/","cluster":"h2"})", 201);
    ASSERT_TRUE(st.ok()) << st;
    st = V1Call(rest, "POST", "/v1/routes",
                R"({"name":"h1","hosts":["h1.test"],"path_prefix":"/","cluster":"h1"})", 201);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(proxy_.Start(controller_.grpc_target()).ok()) << proxy_.LogTail();
    ASSERT_TRUE(proxy_.WaitReady().ok()) << proxy_.LogTail();
    ASSERT_TRUE(
        WaitForEndpoints(proxy_.admin_port(), "h2", {absl::StrCat("127.0.0.1:", h2_.port())}).ok());
    ASSERT_TRUE(WaitForEndpoints(proxy_.admin_port(), "h1", {h1_.address()}).ok());
  }

  // curl over h2c with prior knowledge; `shell_stdin`: a shell command whose output is curl's
  // stdin ("-T -" uploads it with no known length).
  absl::StatusOr<CommandResult> Curl(std::vector<std::string> args,
                                     const std::string& shell_stdin = "") {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "10",
                                     "--http2-prior-knowledge"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (shell_stdin.empty()) return RunCommand(argv, absl::Seconds(20));
    std::string line = shell_stdin + " | ";
    for (const std::string& a : argv) absl::StrAppend(&line, "'", a, "' ");
    return RunCommand({"/bin/sh", "-c", line}, absl::Seconds(20));
  }

  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", proxy_.port(), path);
  }

  ControllerProcess controller_;
  H2Server h2_{EchoOptions()};
  TestBackend h1_{"h1"};
  ProxyProcess proxy_{"translation", {"--workers=1"}};
};

// --- HTTP/1.1 client, HTTP/2 upstream --------------------------------------------------------

TEST_F(HttpTranslationTest, Http1ContentLengthBodyReachesAnHttp2Upstream) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/echo";
  req.headers = {{"Host", "h2.test"}};
  req.body = std::string(100000, 'b') + "end";  // Several DATA frames and flow-control windows.
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, req.body);
}

TEST_F(HttpTranslationTest, Http1ChunkedBodyReachesAnHttp2UpstreamAsData) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/echo";
  req.headers = {{"Host", "h2.test"}, {"Transfer-Encoding", "chunked"}};
  req.body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
}

TEST_F(HttpTranslationTest, ConnectionSpecificFieldsAreNotSentOverHttp2) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/head?q=1";
  req.headers = {{"Host", "h2.test"},
                 {"Connection", "close, X-Hop"},
                 {"X-Hop", "secret"},
                 {"Keep-Alive", "timeout=5"},
                 {"Proxy-Connection", "keep-alive"},
                 {"TE", "trailers"},
                 {"Transfer-Encoding", "chunked"},
                 {"X-Kept", "yes"}};
  req.body = "3\r\nabc\r\n0\r\n\r\n";
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200);
  const std::string& fields = r->body;  // What the HTTP/2 upstream received, one per line.
  EXPECT_THAT(fields, HasSubstr(":method: POST\n"));
  EXPECT_THAT(fields, HasSubstr(":scheme: http\n"));
  EXPECT_THAT(fields, HasSubstr(":authority: h2.test\n"));
  EXPECT_THAT(fields, HasSubstr(":path: /head?q=1\n"));
  EXPECT_THAT(fields, HasSubstr("x-kept: yes\n"));
  // TE is hop-by-hop: only a gRPC request carries "te: trailers" upstream (gRPC requires it).
  for (const char* gone : {"\nconnection:", "\nx-hop:", "\nkeep-alive:", "\nproxy-connection:",
                           "\ntransfer-encoding:", "\nhost:", "\nte:"}) {
    EXPECT_THAT("\n" + fields, Not(HasSubstr(gone))) << fields;
  }

  req.headers.push_back({"Content-Type", "application/grpc"});
  r = HttpCall(proxy_.port(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("\nte: trailers\n"));
  EXPECT_THAT(r->body, HasSubstr("\ncontent-type: application/grpc\n"));
}

TEST_F(HttpTranslationTest, AnHttp2ResponseWithoutLengthIsChunkedForKeepAliveClients) {
  absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(proxy_.port());
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < 2; ++i) {  // The connection stays usable.
    ASSERT_TRUE((*c)->Send(absl::StrCat("GET /n", i, " HTTP/1.1\r\nHost: h2.test\r\n\r\n")).ok());
    absl::StatusOr<HttpResponse> r = (*c)->Read();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->chunked);
    EXPECT_FALSE(r->HasHeader("content-length"));
    EXPECT_EQ(r->body, absl::StrCat("h2 /n", i));
    EXPECT_EQ(r->Header("x-server"), "h2");
  }
}

// --- HTTP/2 client ----------------------------------------------------------------------------

// nghttp (Debian's nghttp2-client) posting stdin with a request trailer.
absl::StatusOr<CommandResult> NghttpWithTrailer(int port, const std::string& authority,
                                                const std::string& path) {
  return RunCommand({"/bin/sh", "-c",
                     absl::StrCat("printf 'payload' | /usr/bin/nghttp -t 10 -d - ",
                                  "--trailer='x-checksum: abc' -H ':authority: ", authority,
                                  "' http://127.0.0.1:", port, path)},
                    absl::Seconds(20));
}

TEST_F(HttpTranslationTest, RequestTrailersReachAnHttp2Upstream) {
  absl::StatusOr<CommandResult> r = NghttpWithTrailer(proxy_.port(), "h2.test", "/head");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_THAT(r->out, HasSubstr(":authority: h2.test\n"));
  // Received after the head: the last field.
  EXPECT_TRUE(absl::EndsWith(r->out, "\nx-checksum: abc\n")) << r->out;
  r = NghttpWithTrailer(proxy_.port(), "h2.test", "/echo");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "payload");
}

TEST_F(HttpTranslationTest, RequestTrailersWithAContentLengthEndTheBodyToAnHttp1Upstream) {
  // nghttp sends content-length: the upstream request is not chunked, so it cannot carry the
  // trailers; the body arrives whole and ends.
  absl::StatusOr<CommandResult> r = NghttpWithTrailer(proxy_.port(), "h1.test", "/echo");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "payload");
  r = NghttpWithTrailer(proxy_.port(), "h1.test", "/trailers");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "");
}

// HPACK "literal without indexing": a static-table name index (0: a new name follows) and
// short strings without Huffman coding.
std::string HpackLiteral(int name_index, absl::string_view name, absl::string_view value) {
  std::string out(1, static_cast<char>(name_index));
  if (name_index == 0) absl::StrAppend(&out, std::string(1, static_cast<char>(name.size())), name);
  absl::StrAppend(&out, std::string(1, static_cast<char>(value.size())), value);
  return out;
}

// A POST over h2c without content-length: HEADERS, one DATA frame, then trailers ending the
// stream. Returns the DATA payload of the answer on stream 1 once it ends.
absl::StatusOr<std::string> PostWithTrailers(int port, absl::string_view authority,
                                             absl::string_view path) {
  absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(port);
  if (!c.ok()) return c.status();
  const std::string head = absl::StrCat("\x83\x86", HpackLiteral(4, "", path),
                                        HpackLiteral(1, "", authority));  // POST, http
  const std::string trailers =
      absl::StrCat(HpackLiteral(0, "x-checksum", "abc"), HpackLiteral(0, "x-second", "2"));
  absl::Status st =
      (*c)->Send(absl::StrCat(H2ClientStart(), H2Frame(1, 0x4, 1, head),
                              H2Frame(0, 0, 1, "payload"), H2Frame(1, 0x5, 1, trailers)));
  if (!st.ok()) return st;
  std::string in;
  for (int i = 0; i < 100; ++i) {  // At most 100 x 100 ms.
    in += (*c)->ReadRaw(1 << 16, absl::Milliseconds(100));
    std::string body;
    for (const H2RawFrame& f : H2Frames(in)) {
      if (f.stream != 1) continue;
      if (f.type == 3) return absl::AbortedError("stream reset");
      if (f.type == 0) body += f.payload;
      if ((f.type == 0 || f.type == 1) && (f.flags & 0x1) != 0) return body;
    }
    if ((*c)->eof()) break;
  }
  return absl::DeadlineExceededError("no end of stream 1");
}

TEST_F(HttpTranslationTest, RequestTrailersWithoutALengthAreChunkedTrailersToAnHttp1Upstream) {
  absl::StatusOr<std::string> r = PostWithTrailers(proxy_.port(), "h1.test", "/trailers");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "x-checksum: abc\r\nx-second: 2\r\n");  // What the upstream received.
  r = PostWithTrailers(proxy_.port(), "h1.test", "/head");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(absl::AsciiStrToLower(*r), HasSubstr("\r\ntransfer-encoding: chunked\r\n"));
  EXPECT_THAT(absl::AsciiStrToLower(*r), Not(HasSubstr("content-length")));
  r = PostWithTrailers(proxy_.port(), "h1.test", "/echo");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "payload");
}

TEST_F(HttpTranslationTest, ChunkedHttp1RequestTrailersReachAnHttp1Upstream) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/trailers";
  req.headers = {{"Host", "h1.test"}, {"Transfer-Encoding", "chunked"}};
  req.body =
      "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nContent-Length: 5\r\nHost: evil\r\n"
      "X-Second:2\r\n\r\n";
  absl::StatusOr<HttpResponse> r = HttpCall(proxy_.port(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  // Wire lines byte for byte; framing and routing fields dropped.
  EXPECT_EQ(r->body, "X-Checksum: abc\r\nX-Second:2\r\n");
}

// --- HTTP/2 client, HTTP/1.1 upstream --------------------------------------------------------

TEST_F(HttpTranslationTest, Http2BodyWithLengthReachesAnHttp1Upstream) {
  absl::StatusOr<CommandResult> r =
      Curl({"-H", "Host: h1.test", "--data-binary", "hello world", Url("/echo")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "hello world");
  r = Curl({"-H", "Host: h1.test", "--data-binary", "hello world", Url("/head")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->out, HasSubstr("POST /head HTTP/1.1\r\n"));
  EXPECT_THAT(absl::AsciiStrToLower(r->out), HasSubstr("\r\nhost: h1.test\r\n"));  // :authority
  EXPECT_THAT(absl::AsciiStrToLower(r->out), HasSubstr("\r\ncontent-length: 11\r\n"));
  EXPECT_THAT(absl::AsciiStrToLower(r->out), Not(HasSubstr("transfer-encoding")));
}

TEST_F(HttpTranslationTest, Http2BodyWithoutLengthIsChunkedToAnHttp1Upstream) {
  absl::StatusOr<CommandResult> r =
      Curl({"-X", "POST", "-T", "-", "-H", "Host: h1.test", Url("/echo")}, "printf 'streamed'");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "streamed");
  r = Curl({"-X", "POST", "-T", "-", "-H", "Host: h1.test", Url("/head")}, "printf 'streamed'");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->out, HasSubstr("POST /head HTTP/1.1\r\n"));
  EXPECT_THAT(absl::AsciiStrToLower(r->out), HasSubstr("\r\ntransfer-encoding: chunked\r\n"));
  EXPECT_THAT(absl::AsciiStrToLower(r->out), Not(HasSubstr("content-length")));
}

TEST_F(HttpTranslationTest, ChunkedHttp1ResponseTrailersReachAnHttp2Client) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/usr/bin/nghttp", "-v", "-t", "10", "-H", ":authority: h1.test",
                  Url("/?chunks=2&size=10&trailers=1")},
                 absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  const std::string& out = r->out;
  // The body's DATA frames, then a HEADERS frame that ends the stream with the trailers.
  const size_t last_data = out.rfind("recv DATA frame");
  const size_t trailer_frame = out.rfind("recv HEADERS frame");
  ASSERT_NE(last_data, std::string::npos) << out;
  ASSERT_NE(trailer_frame, std::string::npos) << out;
  EXPECT_GT(trailer_frame, last_data) << out;
  // nghttp prints a HEADERS frame's fields before the frame line.
  const std::string trailers = out.substr(last_data, trailer_frame - last_data);
  EXPECT_THAT(out.substr(trailer_frame), HasSubstr("; END_STREAM | END_HEADERS")) << out;
  EXPECT_THAT(trailers, HasSubstr(") x-checksum: abc\n")) << out;
  EXPECT_THAT(trailers, HasSubstr(") x-count: 2\n")) << out;
  EXPECT_THAT(trailers, Not(HasSubstr("content-length"))) << out;  // Not allowed as a trailer.
  // The body: 10 bytes of DATA (nghttp prints them between its frame lines).
  size_t data_bytes = 0;
  for (size_t at = out.find("recv DATA frame <length="); at != std::string::npos;
       at = out.find("recv DATA frame <length=", at + 1)) {
    data_bytes += std::stoul(out.substr(at + 24, out.find(',', at) - at - 24));
  }
  EXPECT_EQ(data_bytes, 10u) << out;
}

TEST_F(HttpTranslationTest, AChunkedHttp1ResponseReachesAnHttp2ClientWhole) {
  absl::StatusOr<CommandResult> r =
      Curl({"-H", "Host: h1.test", "-w", "\n%{http_code} %{http_version}",
            Url("/?chunks=4&size=40000")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, std::string(40000, 'x') + "\n200 2");
}

}  // namespace
}  // namespace lb::testing
