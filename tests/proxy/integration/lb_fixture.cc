#include "tests/proxy/integration/lb_fixture.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/integration/http_client.h"
#include "tests/util/net.h"

namespace lb::testing {
namespace {

std::string Tail(const std::string& path, size_t max_bytes) {
  std::string log = ReadFileOrEmpty(path);
  if (log.size() > max_bytes) log = log.substr(log.size() - max_bytes);
  return log;
}

// Waits for a ready file naming `pid`; returns its JSON.
absl::StatusOr<nlohmann::json> WaitReadyFile(Subprocess& process, const std::string& path,
                                             absl::Duration timeout, const std::string& what,
                                             const std::string& log) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<int> exited = process.Wait(absl::ZeroDuration());
    if (exited.ok()) {
      return absl::UnavailableError(absl::StrCat(what, " exited with code ", *exited,
                                                 " while starting; log:\n", Tail(log, 4000)));
    }
    std::string text = ReadFileOrEmpty(path);
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!text.empty() && !j.is_discarded() && j.is_object() && j.contains("pid") &&
        j["pid"].is_number_integer() && j["pid"].get<int64_t>() == process.pid()) {
      return j;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      what, " not ready within ", absl::FormatDuration(timeout), "; log:\n", Tail(log, 4000)));
}

}  // namespace

bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout, absl::Duration interval) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cond()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
}

std::string Addr(int port) { return absl::StrCat("127.0.0.1:", port); }

// --- ProxyProcess ---------------------------------------------------------------------------

ProxyProcess::ProxyProcess(std::string node_id, std::vector<std::string> extra_flags)
    : node_id_(std::move(node_id)), extra_flags_(std::move(extra_flags)), dir_(MakeTempDir()) {}

ProxyProcess::~ProxyProcess() { Kill(); }

std::string ProxyProcess::BinaryPath() { return RunfilePath("lb/proxy/proxy"); }

std::string ProxyProcess::LogTail(size_t max_bytes) const {
  return Tail(dir_ + "/proxy.log", max_bytes);
}

absl::Status ProxyProcess::Start(const std::string& controllers, absl::Duration timeout) {
  if (process_.has_value()) return absl::FailedPreconditionError("proxy already running");
  std::string ready = dir_ + "/ready.json";
  std::remove(ready.c_str());
  std::vector<std::string> argv = {BinaryPath(),
                                   absl::StrCat("--controller=", controllers),
                                   "--listen=127.0.0.1:0",
                                   "--admin_listen=127.0.0.1:0",
                                   "--workers=2",
                                   "--drain_timeout=5s",
                                   absl::StrCat("--node_id=", node_id_),
                                   absl::StrCat("--ready_file=", ready)};
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  absl::StatusOr<Subprocess> sp = Subprocess::Start(argv, dir_ + "/proxy.log");
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));
  absl::StatusOr<nlohmann::json> j =
      WaitReadyFile(*process_, ready, timeout, "proxy " + node_id_, dir_ + "/proxy.log");
  if (!j.ok()) {
    Kill();
    return j.status();
  }
  port_ = (*j).value("port", 0);
  admin_port_ = (*j).value("admin_port", 0);
  if (port_ <= 0 || admin_port_ <= 0) {
    Kill();
    return absl::InternalError(absl::StrCat("bad proxy ready file: ", j->dump()));
  }
  return absl::OkStatus();
}

absl::Status ProxyProcess::WaitReady(absl::Duration timeout) {
  bool ok = WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(admin_port_, "/ready");
        return r.ok() && r->status == 200;
      },
      timeout, absl::Milliseconds(20));
  if (!ok) {
    return absl::DeadlineExceededError(absl::StrCat("proxy ", node_id_, " not ready within ",
                                                    absl::FormatDuration(timeout), "; log:\n",
                                                    LogTail()));
  }
  return absl::OkStatus();
}

void ProxyProcess::Signal(int signo) {
  if (process_.has_value()) process_->Signal(signo);
}

absl::StatusOr<int> ProxyProcess::Wait(absl::Duration timeout) {
  if (!process_.has_value()) return absl::FailedPreconditionError("proxy not running");
  absl::StatusOr<int> code = process_->Wait(timeout);
  if (code.ok()) process_.reset();
  return code;
}

void ProxyProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

// --- BackendProcess -------------------------------------------------------------------------

BackendProcess::BackendProcess(std::string name) : name_(std::move(name)), dir_(MakeTempDir()) {}

BackendProcess::~BackendProcess() { Kill(); }

absl::Status BackendProcess::Start(absl::Duration timeout) {
  std::string ready = dir_ + "/ready.json";
  std::string log = dir_ + "/backend.log";
  std::remove(ready.c_str());
  absl::StatusOr<Subprocess> sp = Subprocess::Start(
      {RunfilePath("lb/tests/proxy/integration/backend_main"), absl::StrCat("--name=", name_),
       absl::StrCat("--port=", port_), absl::StrCat("--ready_file=", ready)},
      log);
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));
  absl::StatusOr<nlohmann::json> j =
      WaitReadyFile(*process_, ready, timeout, "backend " + name_, log);
  if (!j.ok()) {
    Kill();
    return j.status();
  }
  port_ = (*j).value("port", 0);
  return absl::OkStatus();
}

void BackendProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

// --- REST -----------------------------------------------------------------------------------

absl::Status SeedConfig(int rest_port, const std::string& action, int port, const std::string& ip) {
  nlohmann::json body = {{"action", action}, {"ip", ip}, {"port", port}};
  HttpRequest req;
  req.method = "POST";
  req.target = "/config";
  req.body = body.dump();
  absl::StatusOr<HttpResponse> r = HttpCall(rest_port, req, absl::Seconds(30));
  if (!r.ok()) return r.status();
  if (r->status != 200 || !r->body.empty()) {
    return absl::InternalError(absl::StrCat("POST /config ", body.dump(), ": ", r->status, " \"",
                                            absl::CHexEscape(r->body), "\""));
  }
  return absl::OkStatus();
}

absl::Status V1Call(int rest_port, const std::string& method, const std::string& path,
                    const std::string& body, int want_status) {
  HttpRequest req;
  req.method = method;
  req.target = path;
  req.body = body;
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  absl::StatusOr<HttpResponse> r = HttpCall(rest_port, req, absl::Seconds(30));
  if (!r.ok()) return r.status();
  if (r->status != want_status) {
    return absl::InternalError(absl::StrCat(method, " ", path, " ", body, ": ", r->status, " ",
                                            r->body, " (wanted ", want_status, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> SeedList(int rest_port) {
  absl::StatusOr<HttpResponse> r = HttpGet(rest_port, "/config");
  if (!r.ok()) return r.status();
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_array()) {
    return absl::InternalError(absl::StrCat("GET /config: ", r->status, " ", r->body));
  }
  std::vector<std::string> out;
  for (const auto& e : j) out.push_back(e.get<std::string>());
  return out;
}

// --- Admin ----------------------------------------------------------------------------------

absl::StatusOr<nlohmann::json> ConfigDump(int admin_port) {
  absl::StatusOr<HttpResponse> r = HttpGet(admin_port, "/config_dump");
  if (!r.ok()) return r.status();
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || j.is_discarded()) {
    return absl::InternalError(absl::StrCat("GET /config_dump: ", r->status, " ", r->body));
  }
  return j;
}

std::vector<std::string> DumpEndpoints(const nlohmann::json& dump, const std::string& cluster,
                                       bool eligible_only) {
  std::vector<std::string> out;
  if (!dump.contains("clusters")) return out;
  for (const auto& c : dump["clusters"]) {
    if (c.value("name", "") != cluster || !c.contains("endpoints")) continue;
    for (const auto& e : c["endpoints"]) {
      if (eligible_only && !e.value("eligible", false)) continue;
      out.push_back(e.value("address", ""));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json DumpEndpoint(const nlohmann::json& dump, const std::string& cluster,
                            const std::string& address) {
  if (!dump.contains("clusters")) return nullptr;
  for (const auto& c : dump["clusters"]) {
    if (c.value("name", "") != cluster || !c.contains("endpoints")) continue;
    for (const auto& e : c["endpoints"]) {
      if (e.value("address", "") == address) return e;
    }
  }
  return nullptr;
}

absl::StatusOr<uint64_t> StatValue(int admin_port, const std::string& series) {
  absl::StatusOr<HttpResponse> r = HttpGet(admin_port, "/stats");
  if (!r.ok()) return r.status();
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (!absl::StartsWith(line, series) || line.size() <= series.size() ||
        line[series.size()] != ' ') {
      continue;
    }
    uint64_t v = 0;
    if (absl::SimpleAtoi(line.substr(series.size() + 1), &v)) return v;
  }
  return absl::NotFoundError(absl::StrCat("no series ", series, " in /stats"));
}

absl::Status WaitForEndpoints(int admin_port, const std::string& cluster,
                              std::vector<std::string> want, absl::Duration timeout) {
  std::sort(want.begin(), want.end());
  std::vector<std::string> all, eligible;
  bool ok = WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(admin_port);
        if (!d.ok()) return false;
        all = DumpEndpoints(*d, cluster, false);
        eligible = DumpEndpoints(*d, cluster, true);
        return all == want && eligible == want;
      },
      timeout);
  if (ok) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "cluster ", cluster, " never had endpoints [", absl::StrJoin(want, ","), "]; last: [",
      absl::StrJoin(all, ","), "], eligible [", absl::StrJoin(eligible, ","), "]"));
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
  absl::Time deadline = absl::Now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p = {fd_, POLLOUT, 0};
      if (poll(&p, 1, RemainingMs(deadline)) <= 0 && absl::Now() >= deadline) {
        return absl::DeadlineExceededError("send timed out");
      }
      continue;
    }
    return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Connection::Fill(absl::Time deadline, std::string* error) {
  while (true) {
    pollfd p = {fd_, POLLIN, 0};
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      if (error) *error = "timed out";
      return false;
    }
    char tmp[65536];
    ssize_t got = recv(fd_, tmp, sizeof(tmp), 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (got <= 0) {
      eof_ = true;
      if (error) *error = got == 0 ? "connection closed" : absl::StrCat("recv: ", strerror(errno));
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(got));
    return true;
  }
}

absl::StatusOr<Response> Connection::Read(absl::Duration timeout, bool head) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t consumed = 0;
    absl::StatusOr<Response> r = ParseHttpResponse(buf_, head, eof_, &consumed);
    if (r.ok()) {
      buf_.erase(0, consumed);
      return r;
    }
    if (r.status().code() != absl::StatusCode::kUnavailable) return r.status();
    if (eof_) {
      return absl::UnavailableError(absl::StrCat("connection closed after ", buf_.size(),
                                                 " bytes of a response: \"",
                                                 absl::CHexEscape(buf_.substr(0, 200)), "\""));
    }
    std::string error;
    if (!Fill(deadline, &error) && !eof_) {
      return absl::DeadlineExceededError(absl::StrCat("reading a response: ", error, " after ",
                                                      buf_.size(), " bytes: \"",
                                                      absl::CHexEscape(buf_.substr(0, 200)), "\""));
    }
  }
}

absl::StatusOr<Response> Connection::Get(
    const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers,
    absl::Duration timeout) {
  std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\n");
  for (const auto& [k, v] : headers) absl::StrAppend(&req, k, ": ", v, "\r\n");
  req += "\r\n";
  if (absl::Status s = Send(req); !s.ok()) return s;
  return Read(timeout);
}

std::string Connection::ReadRaw(size_t want, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (buf_.size() < want && !eof_ && absl::Now() < deadline) {
    if (!Fill(deadline, nullptr)) break;
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool Connection::WaitClosed(absl::Duration timeout, std::string* extra) {
  absl::Time deadline = absl::Now() + timeout;
  while (!eof_) {
    if (!Fill(deadline, nullptr) && !eof_) break;
  }
  if (extra != nullptr) *extra += buf_;
  buf_.clear();
  return eof_;
}

void Connection::HalfClose() { shutdown(fd_, SHUT_WR); }

// --- LoadGenerator --------------------------------------------------------------------------

LoadGenerator::LoadGenerator(int port, int threads, std::string target)
    : port_(port), threads_(threads), target_(std::move(target)) {}

LoadGenerator::~LoadGenerator() { Stop(); }

void LoadGenerator::Start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { Run(); });
}

void LoadGenerator::Stop() {
  stop_.store(true);
  for (auto& t : workers_) t.join();
  workers_.clear();
}

bool LoadGenerator::WaitForMore(uint64_t n, absl::Duration timeout) {
  uint64_t target = total() + n;
  return WaitUntil([&] { return total() >= target; }, timeout, absl::Milliseconds(5));
}

std::map<std::string, uint64_t> LoadGenerator::by_backend() const {
  absl::MutexLock lock(&mu_);
  return by_backend_;
}

std::vector<std::string> LoadGenerator::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

std::string LoadGenerator::Summary() const {
  std::string out = absl::StrCat(ok(), " ok, ", failures(), " failed; by backend:");
  for (const auto& [k, v] : by_backend()) {
    absl::StrAppend(&out, " [", absl::StripTrailingAsciiWhitespace(k), "]=", v);
  }
  std::vector<std::string> errs = errors();
  if (!errs.empty()) absl::StrAppend(&out, "; first errors:\n  ", absl::StrJoin(errs, "\n  "));
  return out;
}

void LoadGenerator::Run() {
  std::unique_ptr<Connection> conn;
  auto fail = [this](std::string what) {
    failures_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    if (errors_.size() < 20) {
      errors_.push_back(absl::StrCat(
          absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone()), " ", what));
    }
  };
  while (!stop_.load()) {
    if (conn == nullptr) {
      absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(port_);
      if (!c.ok()) {
        fail(std::string(c.status().message()));
        absl::SleepFor(absl::Milliseconds(10));
        continue;
      }
      conn = std::move(*c);
    }
    absl::StatusOr<Response> r = conn->Get(target_);
    if (!r.ok()) {
      fail(absl::StrCat("GET ", target_, ": ", r.status().message()));
      conn.reset();
      continue;
    }
    if (r->status != 200 || !absl::StartsWith(r->body, "Hello from ")) {
      fail(absl::StrCat("GET ", target_, ": ", r->status, " \"", absl::CHexEscape(r->body), "\""));
    } else {
      {
        absl::MutexLock lock(&mu_);
        ++by_backend_[r->body];
      }
      ok_.fetch_add(1);
    }
    if (absl::EqualsIgnoreCase(r->Header("Connection"), "close")) conn.reset();
  }
}

}  // namespace lb::testing
