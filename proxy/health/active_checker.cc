#include "proxy/health/active_checker.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace lb::proxy::health {
namespace {

// Floors that keep a misconfigured cluster from spinning the main loop.
constexpr absl::Duration kMinInterval = absl::Milliseconds(10);
constexpr absl::Duration kMinTimeout = absl::Milliseconds(1);
// A status line longer than this is not an HTTP answer worth waiting for.
constexpr size_t kMaxStatusLine = 4096;
constexpr double kMaxJitter = 0.1;

timeval NonNegativeTimeval(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::ZeroDuration()));
}

// Percent-encodes bytes that would break the request line (controls, space, DEL) and makes
// the target origin-form, so a bad path yields a failing check rather than a malformed request.
std::string RequestTarget(absl::string_view path) {
  std::string out;
  if (path.empty() || path[0] != '/') out.push_back('/');
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool ValidHostHeader(absl::string_view host) {
  if (host.empty()) return false;
  for (unsigned char c : host) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// "HTTP/1.x SSS ..." → SSS; -1 if the line is not an HTTP/1 status line.
int ParseStatusLine(absl::string_view line) {
  if (!absl::ConsumePrefix(&line, "HTTP/1.") || line.size() < 5) return -1;
  if (!absl::ascii_isdigit(line[0]) || line[1] != ' ') return -1;
  absl::string_view code = line.substr(2, 3);
  if (line.size() > 5 && line[5] != ' ') return -1;
  int status = 0;
  if (!std::all_of(code.begin(), code.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(code, &status)) {
    return -1;
  }
  return status;
}

// What one host's checks need; derived from its cluster's HealthCheckConfig and endpoint.
struct CheckSettings {
  std::string address;
  uint16_t port = 0;
  std::string request;  // The whole request, ready to send.
  absl::Duration interval;
  absl::Duration timeout;
  uint32_t healthy_threshold = 1;
  uint32_t unhealthy_threshold = 1;
};

CheckSettings MakeSettings(const HealthCheckConfig& hc, const EndpointConfig& ep) {
  CheckSettings s;
  s.address = ep.address;
  s.port = ep.port;
  std::string host = ep.hostname;
  if (!ValidHostHeader(host)) {
    host =
        ep.address.find(':') != std::string::npos ? absl::StrCat("[", ep.address, "]") : ep.address;
  }
  s.request = absl::StrCat("GET ", RequestTarget(hc.path), " HTTP/1.1\r\nHost: ", host,
                           "\r\nUser-Agent: lb-health/1\r\nConnection: close\r\n\r\n");
  s.interval = std::max(hc.interval, kMinInterval);
  s.timeout = std::max(hc.timeout, kMinTimeout);
  s.healthy_threshold = hc.healthy_threshold;
  s.unhealthy_threshold = hc.unhealthy_threshold;
  return s;
}

}  // namespace

// One host's check cycle: a timer for the next check and, while a check runs, a socket, its I/O
// event and a deadline. Lives on the loop thread; owned by ActiveChecker::hosts_.
class ActiveChecker::HostCheck {
 public:
  HostCheck(ActiveChecker* owner, std::string cluster, std::string key, CheckSettings settings)
      : owner_(owner),
        cluster_(std::move(cluster)),
        key_(std::move(key)),
        settings_(std::move(settings)),
        state_(settings_.healthy_threshold, settings_.unhealthy_threshold) {
    next_ = evtimer_new(owner_->base_, &HostCheck::OnNextTimer, this);
    deadline_ = evtimer_new(owner_->base_, &HostCheck::OnDeadline, this);
  }

  ~HostCheck() {
    Abort();
    event_free(next_);
    event_free(deadline_);
  }

  HostCheck(const HostCheck&) = delete;
  HostCheck& operator=(const HostCheck&) = delete;

  const std::string& cluster() const { return cluster_; }
  const std::string& key() const { return key_; }
  ActiveHealthState& state() { return state_; }

  void ScheduleIn(absl::Duration delay) {
    timeval tv = NonNegativeTimeval(delay);
    evtimer_add(next_, &tv);  // Replaces a pending deadline.
  }

  // New settings from Update(). The verdict stays; see the header for what applies when.
  void Apply(CheckSettings settings) {
    state_.SetThresholds(settings.healthy_threshold, settings.unhealthy_threshold);
    const bool interval_changed = settings.interval != settings_.interval;
    settings_ = std::move(settings);
    if (interval_changed && fd_ < 0) ScheduleIn(owner_->Jitter(settings_.interval));
  }

 private:
  enum class Phase { kConnecting, kWriting, kReading };

  static void OnNextTimer(evutil_socket_t, short, void* arg) {
    static_cast<HostCheck*>(arg)->Start();
  }
  static void OnDeadline(evutil_socket_t, short, void* arg) {
    static_cast<HostCheck*>(arg)->Finish(false);  // Timed out.
  }
  static void OnIo(evutil_socket_t, short, void* arg) { static_cast<HostCheck*>(arg)->OnReady(); }

  void Start() {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, settings_.address.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(settings_.port);
      addr_len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, settings_.address.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(settings_.port);
      addr_len = sizeof(sockaddr_in6);
    } else {
      return Finish(false);  // Not an IP literal: the endpoint cannot be reached.
    }
    fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Finish(false);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    written_ = 0;
    response_.clear();
    timeval tv = NonNegativeTimeval(settings_.timeout);
    evtimer_add(deadline_, &tv);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
      if (errno != EINPROGRESS) return Finish(false);
      phase_ = Phase::kConnecting;
      return Wait(EV_WRITE);
    }
    phase_ = Phase::kWriting;
    Write();
  }

  void Wait(short what) {
    if (io_ != nullptr) event_free(io_);
    io_ = event_new(owner_->base_, fd_, what, &HostCheck::OnIo, this);
    event_add(io_, nullptr);
  }

  void OnReady() {
    switch (phase_) {
      case Phase::kConnecting: {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
          return Finish(false);  // Refused, unreachable...
        }
        phase_ = Phase::kWriting;
        return Write();
      }
      case Phase::kWriting:
        return Write();
      case Phase::kReading:
        return Read();
    }
  }

  void Write() {
    const std::string& req = settings_.request;
    while (written_ < req.size()) {
      ssize_t n = send(fd_, req.data() + written_, req.size() - written_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Wait(EV_WRITE);
        return Finish(false);
      }
      written_ += static_cast<size_t>(n);
    }
    phase_ = Phase::kReading;
    Wait(EV_READ | EV_PERSIST);
  }

  void Read() {
    char buf[2048];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // Wait for more.
        return Finish(false);
      }
      if (n == 0) return Finish(false);  // Closed before a whole status line.
      response_.append(buf, static_cast<size_t>(n));
      // The status line decides; the rest of the answer is not needed (Connection: close).
      size_t eol = response_.find('\n');
      if (eol != std::string::npos) {
        absl::string_view line(response_.data(), eol);
        absl::ConsumeSuffix(&line, "\r");
        const int status = ParseStatusLine(line);
        return Finish(status >= 200 && status <= 299);
      }
      if (response_.size() > kMaxStatusLine) return Finish(false);
    }
  }

  // Releases the in-flight check's resources, if any.
  void Abort() {
    if (io_ != nullptr) {
      event_free(io_);
      io_ = nullptr;
    }
    evtimer_del(deadline_);
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
    response_.clear();
    response_.shrink_to_fit();
  }

  void Finish(bool success) {
    Abort();
    ScheduleIn(settings_.interval + owner_->Jitter(settings_.interval));
    // Last: OnResult may run on_change, which may destroy this object through Update().
    owner_->OnResult(this, success);
  }

  ActiveChecker* const owner_;
  const std::string cluster_;
  const std::string key_;
  CheckSettings settings_;
  ActiveHealthState state_;

  ::event* next_ = nullptr;      // Starts the next check.
  ::event* deadline_ = nullptr;  // Fails the running check.
  ::event* io_ = nullptr;        // The running check's socket readiness.
  int fd_ = -1;                  // >= 0 while a check runs.
  Phase phase_ = Phase::kConnecting;
  size_t written_ = 0;
  std::string response_;
};

ActiveChecker::ActiveChecker(struct event_base* base, OnChange on_change)
    : base_(base), on_change_(std::move(on_change)) {}

ActiveChecker::~ActiveChecker() = default;  // Each HostCheck frees its events and socket.

absl::Duration ActiveChecker::Jitter(absl::Duration interval) {
  return interval * absl::Uniform(rng_, 0.0, kMaxJitter);
}

void ActiveChecker::Update(const ProxyConfig& config) {
  std::map<Key, CheckSettings> wanted;
  for (const auto& [name, cluster] : config.clusters) {
    if (cluster.health_check.path.empty()) continue;
    for (const EndpointConfig& ep : cluster.endpoints) {
      wanted[{name, ep.Key()}] = MakeSettings(cluster.health_check, ep);
    }
  }
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (wanted.count(it->first) == 0) {
      it = hosts_.erase(it);  // Aborts its in-flight check.
    } else {
      ++it;
    }
  }
  for (auto& [key, settings] : wanted) {
    auto it = hosts_.find(key);
    if (it != hosts_.end()) {
      it->second->Apply(std::move(settings));
      continue;
    }
    const absl::Duration first = Jitter(settings.interval);
    auto check = std::make_unique<HostCheck>(this, key.first, key.second, std::move(settings));
    check->ScheduleIn(first);
    hosts_.emplace(key, std::move(check));
  }
}

void ActiveChecker::OnResult(HostCheck* check, bool success) {
  ++checks_completed_;
  if (!check->state().Record(success)) return;
  // Copies: on_change may call Update(), which may destroy `check`.
  const std::string cluster = check->cluster();
  const std::string key = check->key();
  const bool healthy = check->state().healthy();
  if (on_change_) on_change_(cluster, key, healthy);
}

ActiveStatus ActiveChecker::Status(const std::string& cluster, const std::string& host_key) const {
  auto it = hosts_.find(Key(cluster, host_key));
  return it == hosts_.end() ? ActiveStatus::kUnknown : it->second->state().status();
}

bool ActiveChecker::Checked(const std::string& cluster, const std::string& host_key) const {
  return hosts_.count(Key(cluster, host_key)) > 0;
}

}  // namespace lb::proxy::health
