#include "tests/test_common/backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/http/reason_phrase.h"
#include "proxy/http/parser.h"

namespace lb::testing {
namespace {

constexpr size_t kMaxHead = 1 << 20;

bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads more bytes into `buf`; false on EOF or error.
bool RecvMore(int fd, std::string* buf) {
  char tmp[16384];
  while (true) {
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
    return true;
  }
}

void ResetAndClose(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

struct Request {
  std::string method;
  std::string target;
  std::string path;
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> query;
  std::string head;  // Raw.
  std::string body;
  std::string trailers;  // The chunked body's trailer section, raw.

  // All values of a header, joined with ", "; empty if absent.
  std::string Header(absl::string_view name) const {
    std::vector<std::string> values;
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) values.push_back(v);
    }
    return absl::StrJoin(values, ", ");
  }
  bool Has(absl::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return true;
    }
    return false;
  }
  int64_t Query(absl::string_view name, int64_t def) const {
    for (const auto& [k, v] : query) {
      int64_t n = 0;
      if (k == name && absl::SimpleAtoi(v, &n)) return n;
    }
    return def;
  }
  bool HasToken(absl::string_view header, absl::string_view token) const {
    for (absl::string_view t : absl::StrSplit(Header(header), ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(t), token)) return true;
    }
    return false;
  }
};

// Limits far above anything a test sends: the backend takes any well-formed head.
http::HeadLimits BackendLimits() {
  http::HeadLimits limits;
  limits.max_header_bytes = kMaxHead;
  limits.max_headers = 65535;
  return limits;
}

// Fills `r` from a request head the parser accepted; `head` is its bytes.
void FromParser(const http::RequestParser& parser, absl::string_view head, Request* r) {
  r->head = std::string(head);
  r->method =
      std::string(parser.method() == http::Method::kOther ? parser.method_token()
                                                          : http::MethodName(parser.method()));
  r->target = std::string(parser.target());
  r->version = parser.version() == http::Version::kHttp11 ? "HTTP/1.1" : "HTTP/1.0";
  size_t q = r->target.find('?');
  r->path = r->target.substr(0, q);
  if (q != std::string::npos) {
    for (absl::string_view kv : absl::StrSplit(r->target.substr(q + 1), '&', absl::SkipEmpty())) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      r->query.push_back(std::move(p));
    }
  }
  for (const http::Header& h : parser.headers()) {
    r->headers.emplace_back(std::string(h.name), std::string(h.value));
  }
}

// Decodes a chunked body from `buf` (+ the socket) into r->body and removes it from `buf`.
// False on EOF or bad framing.
bool ReadChunked(int fd, std::string* buf, Request* r) {
  http::ChunkedDecoder decoder;
  size_t pos = 0;
  while (true) {
    const http::ChunkedDecoder::Result d = decoder.Decode(buf->data() + pos, buf->size() - pos);
    pos += d.consumed;
    switch (d.status) {
      case http::ChunkedDecoder::Status::kData:
        r->body.append(d.payload.data(), d.payload.size());
        break;
      case http::ChunkedDecoder::Status::kDone:
        r->trailers = std::string(decoder.trailer_section());
        buf->erase(0, pos);
        return true;
      case http::ChunkedDecoder::Status::kError:
        return false;
      case http::ChunkedDecoder::Status::kNeedMore:
        if (!RecvMore(fd, buf)) return false;
        break;
    }
  }
}

}  // namespace

TestBackend::TestBackend(std::string name) : name_(std::move(name)) {}

TestBackend::~TestBackend() { Stop(); }

std::string TestBackend::address() const { return absl::StrCat("127.0.0.1:", port_); }

void TestBackend::set_health_path(const std::string& path) {
  absl::MutexLock lock(&mu_);
  health_path_ = path;
}

std::string TestBackend::health_path() const {
  absl::MutexLock lock(&mu_);
  return health_path_;
}

void TestBackend::set_echo_headers(std::vector<std::string> names) {
  absl::MutexLock lock(&mu_);
  echo_headers_ = std::move(names);
}

absl::Status TestBackend::Start(int port) {
  if (running_.load()) return absl::FailedPreconditionError("backend already running");
  if (port == 0) port = port_;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 512) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("backend ", name_, ": listen on 127.0.0.1:", port, ": ", strerror(err)));
  }
  port_ = ntohs(addr.sin_port);
  listen_fd_ = fd;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  running_.store(true);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void TestBackend::Stop() {
  if (!running_.load()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& c : conns_) {
      if (c->fd >= 0) {
        // Wake the connection's thread; it closes with linger 0 (RST).
        linger l{1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        shutdown(c->fd, SHUT_RDWR);
      }
    }
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  close(listen_fd_);
  listen_fd_ = -1;
  std::list<std::unique_ptr<Conn>> conns;
  {
    absl::MutexLock lock(&mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  running_.store(false);
}

void TestBackend::ReapLocked() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

bool TestBackend::Sleep(int64_t ms) {
  if (ms <= 0) return true;
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(ms));
  return !stopping_;
}

void TestBackend::AcceptLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      ReapLocked();
    }
    pollfd p = {listen_fd_, POLLIN, 0};
    int n = poll(&p, 1, 50);
    if (n <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    accepted_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      ResetAndClose(fd);
      return;
    }
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    Conn* raw = conn.get();
    open_.fetch_add(1);
    conn->thread = std::thread([this, raw] { Serve(raw); });
    conns_.push_back(std::move(conn));
  }
}

void TestBackend::Serve(Conn* conn) {
  const int fd = conn->fd;
  std::string buf;
  bool reset = false;
  auto stopping = [this] {
    absl::MutexLock lock(&mu_);
    return stopping_;
  };
  http::RequestParser parser(BackendLimits());
  while (!stopping()) {
    parser.Reset();
    http::ParseResult parsed;
    bool eof = false;
    while ((parsed = parser.Parse(buf)).incomplete()) {
      if (!RecvMore(fd, &buf)) {
        eof = true;
        break;
      }
    }
    if (eof) break;
    if (parsed.error()) {
      SendAll(fd, absl::StrCat("HTTP/1.1 ", parsed.error_status, " ",
                               http::ReasonPhrase(parsed.error_status),
                               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
      break;
    }
    Request req;
    FromParser(parser, absl::string_view(buf).substr(0, parsed.consumed), &req);
    const http::BodyFraming framing = parser.body_framing();
    const uint64_t content_length = parser.content_length().value_or(0);
    const bool expect_continue = parser.expect_100_continue();
    const bool upgrade = parser.upgrade();
    buf.erase(0, parsed.consumed);
    std::string health_path;
    std::vector<std::string> echo_names;
    {
      absl::MutexLock lock(&mu_);
      health_path = health_path_;
      echo_names = echo_headers_;
    }
    const bool health = req.path == health_path;
    (health ? health_checks_ : requests_).fetch_add(1);
    if (!health && (reset_after_headers_.load() || req.Query("reset", 0) == 1)) {
      reset = true;
      break;
    }
    in_flight_.fetch_add(1);
    struct Done {
      std::atomic<int>* n;
      ~Done() { n->fetch_sub(1); }
    } done{&in_flight_};

    if (expect_continue) {
      if (!SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) break;
    }
    // Body. (Repeated or listed equal Content-Length values were accepted by the parser.)
    if (framing == http::BodyFraming::kChunked) {
      if (!ReadChunked(fd, &buf, &req)) break;
    } else if (framing == http::BodyFraming::kContentLength) {
      while (buf.size() < content_length) {
        if (!RecvMore(fd, &buf)) break;
      }
      if (buf.size() < content_length) break;
      req.body = buf.substr(0, content_length);
      buf.erase(0, content_length);
    }

    // Upgrade: 101 and an echo tunnel.
    if (upgrade) {
      std::string resp =
          absl::StrCat("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ",
                       req.Header("Upgrade"), "\r\nX-Backend: ", name_, "\r\n\r\n");
      if (!SendAll(fd, resp)) break;
      if (!buf.empty() && !SendAll(fd, buf)) break;
      buf.clear();
      while (!stopping()) {
        std::string chunk;
        if (!RecvMore(fd, &chunk)) break;
        if (!SendAll(fd, chunk)) break;
      }
      break;
    }

    // Broken answers, each followed by closing the connection (FIN).
    if (int64_t bad = req.Query("bad", 0); bad > 0) {
      static const char* const kBad[] = {
          "",
          // 1: Content-Length and Transfer-Encoding together.
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
          // 2: not HTTP at all.
          "garbage\r\n\r\n",
          // 3: a body shorter than its Content-Length.
          "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
          // 4: nothing.
          "",
          // 5: a bad chunk size in a chunked body.
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
      };
      if (bad < static_cast<int64_t>(sizeof(kBad) / sizeof(kBad[0]))) SendAll(fd, kBad[bad]);
      break;
    }
    int64_t delay = req.Query("delay_ms", delay_ms_.load());
    if (!Sleep(delay)) break;

    int status = health ? (healthy_.load() ? 200 : 503) : req.Query("status", status_.load());
    std::string body;
    // size=N bodies are not built in memory: N bytes 'x' are sent after the head, so the head
    // leaves at once even for a large N.
    size_t fill = 0;
    std::string extra;
    if (health) {
      body = healthy_.load() ? "ok\n" : "unhealthy\n";
    } else if (absl::StartsWith(req.path, "/echo")) {
      body = req.body;
      for (const std::string& name : echo_names) {
        if (req.Has(name)) absl::StrAppend(&extra, "X-Echo-", name, ": ", req.Header(name), "\r\n");
      }
    } else if (absl::StartsWith(req.path, "/head")) {
      body = req.head;
    } else if (absl::StartsWith(req.path, "/trailers")) {
      body = req.trailers;
    } else if (int64_t size = req.Query("size", -1); size >= 0) {
      fill = static_cast<size_t>(size);
    } else {
      body = absl::StrCat("Hello from ", name_, "\n");
    }
    if (req.Query("hop", 0) == 1) {
      // Hop-by-hop fields a proxy must not forward, and one it must.
      extra += "Connection: X-Bar\r\nX-Bar: secret\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\n";
    }
    bool http10 = req.version == "HTTP/1.0";
    bool keep_alive =
        http10 ? req.HasToken("Connection", "keep-alive") : !req.HasToken("Connection", "close");
    if (req.Query("close", 0) == 1) keep_alive = false;
    int64_t chunks = req.Query("chunks", 0);
    if (http10) chunks = 0;
    int64_t chunk_delay = req.Query("chunk_delay_ms", 0);
    if (chunks > 0) {
      body.assign(fill, 'x');
      fill = 0;
    }

    std::string head =
        absl::StrCat("HTTP/1.1 ", status, " ", http::ReasonPhrase(status), "\r\nX-Backend: ", name_,
                     "\r\nContent-Type: text/plain\r\n", extra);
    if (chunks > 0) {
      head += "Transfer-Encoding: chunked\r\n";
    } else if (status == 204 || (status >= 100 && status < 200)) {
      // No Content-Length (RFC 9110 8.6).
    } else {
      absl::StrAppend(&head, "Content-Length: ", body.size() + fill, "\r\n");
    }
    if (!keep_alive) {
      head += "Connection: close\r\n";
    } else if (http10) {
      head += "Connection: keep-alive\r\n";
    }
    head += "\r\n";
    const bool no_body = req.method == "HEAD" || status == 204 || status == 304;
    if (chunks > 0 && !no_body) {
      if (!SendAll(fd, head)) break;
      size_t per = body.size() / static_cast<size_t>(chunks) + 1;
      bool ok = true;
      for (size_t off = 0; off < body.size() && ok; off += per) {
        absl::string_view piece = absl::string_view(body).substr(off, per);
        ok = SendAll(fd, absl::StrCat(absl::Hex(piece.size()), "\r\n", piece, "\r\n")) &&
             Sleep(off + per < body.size() ? chunk_delay : 0);
      }
      const char* last = req.Query("trailers", 0) == 1
                             ? "0\r\nX-Checksum: abc\r\nContent-Length: 99\r\nX-Count: 2\r\n\r\n"
                             : "0\r\n\r\n";
      if (!ok || !SendAll(fd, last)) break;
    } else {
      if (!no_body) head += body;
      if (!SendAll(fd, head)) break;
      static const std::string* const kFill = new std::string(64 * 1024, 'x');
      bool ok = true;
      for (size_t left = no_body ? 0 : fill; left > 0 && ok;) {
        const size_t n = std::min(left, kFill->size());
        ok = SendAll(fd, absl::string_view(*kFill).substr(0, n));
        left -= n;
      }
      if (!ok) break;
    }
    if (!keep_alive) break;
  }
  absl::MutexLock lock(&mu_);
  if (reset || stopping_) {
    ResetAndClose(fd);
  } else {
    close(fd);
  }
  conn->fd = -1;
  open_.fetch_sub(1);
  conn->done.store(true);
}

}  // namespace lb::testing
