#include "tests/test_common/load_generator.h"

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/test_common/http_client.h"

namespace lb::testing {

LoadGenerator::LoadGenerator(int port, int threads, std::string target)
    : port_(port), threads_(threads), target_(std::move(target)) {}

LoadGenerator::~LoadGenerator() { Stop(); }

void LoadGenerator::Start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { Run(); });
}

void LoadGenerator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

bool LoadGenerator::Pause(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  paused_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

void LoadGenerator::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

uint64_t LoadGenerator::ok() const {
  absl::MutexLock lock(&mu_);
  return ok_;
}

uint64_t LoadGenerator::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

uint64_t LoadGenerator::total() const {
  absl::MutexLock lock(&mu_);
  return ok_ + failures_;
}

bool LoadGenerator::WaitForMore(uint64_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t target = ok_ + failures_ + n;
  auto reached = [this, target]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ok_ + failures_ >= target; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
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

void LoadGenerator::Fail(const std::string& what) {
  absl::MutexLock lock(&mu_);
  ++failures_;
  if (errors_.size() < 20) {
    errors_.push_back(absl::StrCat(
        absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone()), " ", what));
  }
}

void LoadGenerator::Run() {
  std::unique_ptr<Connection> conn;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto may_send = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !paused_; };
      mu_.Await(absl::Condition(&may_send));
      if (stop_) return;
      ++in_flight_;
    }
    if (conn == nullptr) {
      absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(port_);
      if (c.ok()) {
        conn = std::move(*c);
      } else {
        Fail(std::string(c.status().message()));
        // Backoff, not a wait for a condition: a refused connect is retried 10 ms later
        // instead of in a busy loop (Stop() ends it early).
        absl::MutexLock lock(&mu_);
        --in_flight_;
        mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(10));
        continue;
      }
    }
    if (conn != nullptr) {
      absl::StatusOr<HttpResponse> r = conn->Get(target_);
      if (!r.ok()) {
        Fail(absl::StrCat("GET ", target_, ": ", r.status().message()));
        conn.reset();
      } else if (r->status != 200 || !absl::StartsWith(r->body, "Hello from ")) {
        Fail(
            absl::StrCat("GET ", target_, ": ", r->status, " \"", absl::CHexEscape(r->body), "\""));
      } else {
        absl::MutexLock lock(&mu_);
        ++by_backend_[r->body];
        ++ok_;
      }
      if (r.ok() && absl::EqualsIgnoreCase(r->Header("Connection"), "close")) conn.reset();
    }
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }
}

}  // namespace lb::testing
