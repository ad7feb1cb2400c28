#include "tests/integration/http_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/util/net.h"

namespace lb::testing {
namespace {

absl::Status Incomplete() { return absl::UnavailableError("incomplete response"); }

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed HTTP response: ", what));
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

// A parsed response that used the first `used` bytes of `bytes`.
HttpResponse Done(absl::string_view bytes, size_t used, size_t* consumed, HttpResponse r) {
  r.raw = std::string(bytes.substr(0, used));
  if (consumed != nullptr) *consumed = used;
  return r;
}

// Closes the descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

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
  HttpResponse r;
  size_t pos = 0;
  while (true) {
    size_t end = bytes.find("\r\n\r\n", pos);
    if (end == absl::string_view::npos) return Incomplete();
    std::vector<absl::string_view> lines = absl::StrSplit(bytes.substr(pos, end - pos), "\r\n");
    pos = end + 4;
    // Status line: HTTP/1.1 200 OK
    std::vector<absl::string_view> parts = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (parts.size() < 2 || !absl::StartsWith(parts[0], "HTTP/") || parts[1].size() != 3 ||
        !absl::SimpleAtoi(parts[1], &r.status) || r.status < 100) {
      return Malformed(absl::StrCat("status line \"", absl::CHexEscape(lines[0]), "\""));
    }
    r.version = std::string(parts[0]);
    r.reason = parts.size() > 2 ? std::string(parts[2]) : "";
    r.headers.clear();
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos || colon == 0 ||
          absl::ascii_isspace(lines[i][colon - 1]) || absl::ascii_isspace(lines[i][0])) {
        return Malformed(absl::StrCat("header line \"", absl::CHexEscape(lines[i]), "\""));
      }
      r.headers.emplace_back(std::string(lines[i].substr(0, colon)),
                             std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
    }
    if (r.status >= 200 || r.status == 101) break;
    r.interim.push_back(r.status);
  }

  // After a 101 the connection carries the upgraded protocol, not a body.
  if (head || r.status == 101 || r.status == 204 || r.status == 304) {
    if (consumed == nullptr && closed && pos != bytes.size()) {
      return Malformed(absl::StrCat(bytes.size() - pos, " bytes after a response without body"));
    }
    return Done(bytes, pos, consumed, std::move(r));
  }
  std::string te = absl::AsciiStrToLower(r.Header("Transfer-Encoding"));
  if (absl::StrContains(te, "chunked")) {
    r.chunked = true;
    while (true) {
      size_t eol = bytes.find("\r\n", pos);
      if (eol == absl::string_view::npos) return Incomplete();
      absl::string_view size_text = bytes.substr(pos, eol - pos);
      size_text = size_text.substr(0, size_text.find(';'));
      size_text = absl::StripAsciiWhitespace(size_text);
      uint64_t size = 0;
      if (size_text.empty() || size_text.size() > 15 || !absl::SimpleHexAtoi(size_text, &size)) {
        return Malformed(absl::StrCat("chunk size \"", absl::CHexEscape(size_text), "\""));
      }
      pos = eol + 2;
      if (size == 0) {
        // Trailers, then an empty line.
        while (true) {
          size_t t = bytes.find("\r\n", pos);
          if (t == absl::string_view::npos) return Incomplete();
          bool empty = t == pos;
          pos = t + 2;
          if (empty) break;
        }
        break;
      }
      if (bytes.size() < pos + size + 2) return Incomplete();
      r.body.append(bytes.data() + pos, size);
      pos += size;
      if (bytes.substr(pos, 2) != "\r\n") return Malformed("chunk not followed by CRLF");
      pos += 2;
    }
  } else if (r.HasHeader("Content-Length")) {
    std::string cl_text;
    for (const auto& [k, v] : r.headers) {
      if (!absl::EqualsIgnoreCase(k, "Content-Length")) continue;
      if (!cl_text.empty() && cl_text != v) return Malformed("conflicting Content-Length headers");
      cl_text = v;
    }
    uint64_t length = 0;
    if (!absl::SimpleAtoi(cl_text, &length) || !absl::ascii_isdigit(cl_text[0])) {
      return Malformed(absl::StrCat("Content-Length \"", absl::CHexEscape(cl_text), "\""));
    }
    if (bytes.size() < pos + length) {
      if (closed) {
        return absl::UnavailableError(absl::StrCat("connection closed after ", bytes.size() - pos,
                                                   " of ", length, " body bytes"));
      }
      return Incomplete();
    }
    r.body = std::string(bytes.substr(pos, length));
    pos += length;
  } else {
    if (!closed) return Incomplete();
    r.body = std::string(bytes.substr(pos));
    pos = bytes.size();
  }
  if (consumed == nullptr && closed && pos != bytes.size()) {
    return Malformed(absl::StrCat(bytes.size() - pos, " unexpected bytes after the response"));
  }
  return Done(bytes, pos, consumed, std::move(r));
}

absl::StatusOr<HttpResponse> HttpCallRaw(int port, absl::string_view raw_request,
                                         absl::Duration timeout, bool head) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> fd_or = ConnectLoopback(port, deadline);
  if (!fd_or.ok()) return fd_or.status();
  Fd fd(*fd_or);

  // Send everything; if the server closes early, still read whatever it answered.
  size_t sent = 0;
  while (sent < raw_request.size()) {
    ssize_t n = send(fd.get(), raw_request.data() + sent, raw_request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (absl::Status s = WaitFor(fd.get(), POLLOUT, deadline, "sending the request"); !s.ok()) {
        return s;
      }
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) break;
    return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
  }

  // Read until the peer closes: the request asked for "Connection: close", so a complete
  // response followed by anything but the end of the connection is reported.
  std::string raw;
  std::string read_error;
  bool closed = false;
  absl::StatusOr<HttpResponse> parsed = Incomplete();
  while (!closed) {
    if (absl::Status s = WaitFor(fd.get(), POLLIN, deadline,
                                 parsed.ok() ? "waiting for the server to close the connection"
                                             : "reading the response");
        !s.ok()) {
      return absl::DeadlineExceededError(
          absl::StrCat(s.message(), " (", raw.size(), " bytes received)"));
    }
    char buf[16384];
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) {
      read_error = strerror(errno);
      closed = true;
    } else if (n == 0) {
      closed = true;
    } else {
      raw.append(buf, static_cast<size_t>(n));
    }
    parsed = ParseHttpResponse(raw, head, closed);
    if (!parsed.ok() && parsed.status().code() != absl::StatusCode::kUnavailable) {
      return parsed.status();
    }
  }
  if (!parsed.ok()) {
    return absl::UnavailableError(
        absl::StrCat("connection ", read_error.empty() ? "closed" : "failed (" + read_error + ")",
                     " after ", raw.size(), " bytes: ", parsed.status().message()));
  }
  return parsed;
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

}  // namespace lb::testing
