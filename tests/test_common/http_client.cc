#include "tests/test_common/http_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "proxy/http/parser.h"
#include "tests/test_common/net.h"

namespace lb::testing {
namespace {

absl::Status Incomplete() { return absl::UnavailableError("incomplete response"); }

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed HTTP response: ", what));
}

// The first line of `bytes` (at most 200 bytes), escaped, for messages.
std::string FirstLine(absl::string_view bytes) {
  return absl::CHexEscape(bytes.substr(0, std::min(bytes.find("\r\n"), size_t{200})));
}

std::string FirstHeader(const HttpHeaders& headers, absl::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

bool HasHeaderIn(const HttpHeaders& headers, absl::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

// Limits far above any response a test server sends: the client takes any well-formed head.
http::HeadLimits ClientLimits() {
  http::HeadLimits limits;
  limits.max_header_bytes = 16 << 20;
  limits.max_headers = 65535;
  return limits;
}

}  // namespace

std::string HttpResponse::Header(absl::string_view name) const {
  return FirstHeader(headers, name);
}

bool HttpResponse::HasHeader(absl::string_view name) const { return HasHeaderIn(headers, name); }

std::string SerializeRequest(int port, const HttpRequest& request) {
  std::string out = absl::StrCat(request.method, " ", request.target, " HTTP/1.1\r\n");
  if (!HasHeaderIn(request.headers, "Host"))
    absl::StrAppend(&out, "Host: 127.0.0.1:", port, "\r\n");
  for (const auto& [k, v] : request.headers) absl::StrAppend(&out, k, ": ", v, "\r\n");
  bool wants_length = !request.body.empty() || request.method == "POST" ||
                      request.method == "PUT" || request.method == "PATCH";
  if (wants_length && !HasHeaderIn(request.headers, "Content-Length") &&
      !HasHeaderIn(request.headers, "Transfer-Encoding")) {
    absl::StrAppend(&out, "Content-Length: ", request.body.size(), "\r\n");
  }
  if (!HasHeaderIn(request.headers, "Connection")) out += "Connection: close\r\n";
  out += "\r\n";
  out += request.body;
  return out;
}

absl::StatusOr<HttpResponse> ParseHttpResponse(absl::string_view bytes, bool head, bool closed,
                                               size_t* consumed) {
  http::ResponseParser parser(ClientLimits());
  HttpResponse r;
  size_t pos = 0;
  // Interim (1xx) heads, then the final one.
  while (true) {
    parser.Reset(head ? http::Method::kHead : http::Method::kGet);
    const absl::string_view rest = bytes.substr(pos);
    const http::ParseResult result = parser.Parse(rest);
    if (result.incomplete()) return Incomplete();
    if (result.error()) {
      return Malformed(
          absl::StrCat(result.error_reason, " in the head starting \"", FirstLine(rest), "\""));
    }
    r.status = parser.status_code();
    r.version = parser.version() == http::Version::kHttp11 ? "HTTP/1.1" : "HTTP/1.0";
    r.reason = std::string(parser.reason());
    r.headers.clear();
    for (const http::Header& h : parser.headers()) {
      r.headers.emplace_back(std::string(h.name), std::string(h.value));
    }
    pos += result.consumed;
    if (!parser.interim()) break;
    r.interim.push_back(r.status);
  }

  switch (parser.body_framing()) {
    case http::BodyFraming::kNone:
    case http::BodyFraming::kTunnel:  // After a 101 the connection carries another protocol.
      break;
    case http::BodyFraming::kContentLength: {
      const uint64_t length = parser.content_length().value_or(0);
      if (bytes.size() - pos < length) {
        if (closed) {
          return absl::UnavailableError(absl::StrCat("connection closed after ", bytes.size() - pos,
                                                     " of ", length, " body bytes"));
        }
        return Incomplete();
      }
      r.body = std::string(bytes.substr(pos, length));
      pos += length;
      break;
    }
    case http::BodyFraming::kChunked: {
      r.chunked = true;
      http::ChunkedDecoder decoder;
      while (true) {
        const absl::string_view rest = bytes.substr(pos);
        const http::ChunkedDecoder::Result d = decoder.Decode(rest);
        pos += d.consumed;
        if (d.status == http::ChunkedDecoder::Status::kData) {
          r.body.append(d.payload.data(), d.payload.size());
          continue;
        }
        if (d.status == http::ChunkedDecoder::Status::kDone) break;
        if (d.status == http::ChunkedDecoder::Status::kNeedMore) return Incomplete();
        return Malformed(absl::StrCat("chunked body: ", decoder.error_reason(), " at \"",
                                      absl::CHexEscape(bytes.substr(pos, 40)), "\""));
      }
      break;
    }
    case http::BodyFraming::kCloseDelimited:
      if (!closed) return Incomplete();
      r.body = std::string(bytes.substr(pos));
      pos = bytes.size();
      break;
  }
  if (consumed == nullptr && closed && pos != bytes.size()) {
    return Malformed(absl::StrCat(bytes.size() - pos, " unexpected bytes after the response"));
  }
  r.raw = std::string(bytes.substr(0, pos));
  if (consumed != nullptr) *consumed = pos;
  return r;
}

absl::StatusOr<HttpResponse> HttpCallRaw(int port, absl::string_view raw_request,
                                         absl::Duration timeout, bool head) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(port, timeout);
  if (!conn.ok()) return conn.status();
  // A server may answer and close before it has read everything (an error reply): what it
  // sent is still read, so only a timeout ends the call here.
  if (absl::Status s = (*conn)->Send(raw_request, deadline - absl::Now());
      s.code() == absl::StatusCode::kDeadlineExceeded) {
    return s;
  }
  absl::StatusOr<HttpResponse> r = (*conn)->Read(deadline - absl::Now(), head);
  if (!r.ok()) return r.status();
  // The request asked for "Connection: close": anything but the end of the connection after
  // the response is reported.
  std::string extra;
  if (!(*conn)->WaitClosed(deadline - absl::Now(), &extra)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "timed out waiting for the server to close the connection after the response (",
        r->raw.size(), " bytes)"));
  }
  if (!extra.empty()) {
    return Malformed(absl::StrCat(extra.size(), " unexpected bytes after the response: \"",
                                  absl::CHexEscape(extra.substr(0, 200)), "\""));
  }
  return r;
}

absl::StatusOr<HttpResponse> HttpCall(int port, const HttpRequest& request,
                                      absl::Duration timeout) {
  return HttpCallRaw(port, SerializeRequest(port, request), timeout, request.method == "HEAD");
}

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     const HttpHeaders& headers) {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  r.headers = headers;
  return HttpCall(port, r);
}

absl::StatusOr<HttpResponse> HttpPost(int port, const std::string& target, const std::string& body,
                                      const HttpHeaders& headers) {
  HttpRequest r;
  r.method = "POST";
  r.target = target;
  r.headers = headers;
  r.body = body;
  return HttpCall(port, r);
}

// --- Connection -----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(int port, absl::Duration timeout) {
  absl::StatusOr<int> fd = ConnectLoopback(port, absl::Now() + timeout);
  if (!fd.ok()) return fd.status();
  int one = 1;
  setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return std::unique_ptr<Connection>(new Connection(*fd));
}

Connection::~Connection() {
  if (fd_ >= 0) close(fd_);
}

absl::Status Connection::Send(absl::string_view bytes, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (absl::Status s = WaitFor(fd_, POLLOUT, deadline, "sending"); !s.ok()) return s;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Connection::Fill(absl::Time deadline, std::string* error) {
  while (true) {
    if (absl::Status s = WaitFor(fd_, POLLIN, deadline, "reading"); !s.ok()) {
      if (error != nullptr) *error = std::string(s.message());
      return false;
    }
    char tmp[65536];
    ssize_t got = recv(fd_, tmp, sizeof(tmp), 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got <= 0) {
      eof_ = true;
      if (error != nullptr) {
        *error = got == 0 ? "connection closed" : absl::StrCat("recv: ", strerror(errno));
      }
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(got));
    return true;
  }
}

absl::StatusOr<HttpResponse> Connection::Read(absl::Duration timeout, bool head) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t consumed = 0;
    absl::StatusOr<HttpResponse> r = ParseHttpResponse(buf_, head, eof_, &consumed);
    if (r.ok()) {
      buf_.erase(0, consumed);
      return r;
    }
    if (r.status().code() != absl::StatusCode::kUnavailable) return r.status();
    if (eof_) {
      return absl::UnavailableError(
          absl::StrCat("connection closed after ", buf_.size(), " bytes of a response (",
                       r.status().message(), "): \"", absl::CHexEscape(buf_.substr(0, 200)), "\""));
    }
    std::string error;
    if (!Fill(deadline, &error) && !eof_) {
      return absl::DeadlineExceededError(absl::StrCat("reading a response: ", error, " after ",
                                                      buf_.size(), " bytes: \"",
                                                      absl::CHexEscape(buf_.substr(0, 200)), "\""));
    }
  }
}

absl::StatusOr<HttpResponse> Connection::Get(const std::string& target, const HttpHeaders& headers,
                                             absl::Duration timeout) {
  std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\n");
  for (const auto& [k, v] : headers) absl::StrAppend(&req, k, ": ", v, "\r\n");
  req += "\r\n";
  if (absl::Status s = Send(req); !s.ok()) return s;
  return Read(timeout);
}

std::string Connection::ReadRaw(size_t want, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (buf_.size() < want && !eof_) {
    if (!Fill(deadline, nullptr)) break;
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool Connection::WaitClosed(absl::Duration timeout, std::string* extra) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!eof_) {
    if (!Fill(deadline, nullptr) && !eof_) break;
  }
  if (extra != nullptr) *extra += buf_;
  buf_.clear();
  return eof_;
}

void Connection::HalfClose() { shutdown(fd_, SHUT_WR); }

absl::StatusOr<uint64_t> PrometheusValue(int port, const std::string& path,
                                         const std::string& series) {
  absl::StatusOr<HttpResponse> r = HttpGet(port, path);
  if (!r.ok()) return r.status();
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (!absl::StartsWith(line, series) || line.size() <= series.size() ||
        line[series.size()] != ' ') {
      continue;
    }
    uint64_t v = 0;
    if (absl::SimpleAtoi(line.substr(series.size() + 1), &v)) return v;
  }
  return absl::NotFoundError(absl::StrCat("no series ", series, " in ", path));
}

}  // namespace lb::testing
