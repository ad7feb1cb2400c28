#include "tests/integration/controller_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/http_client.h"

namespace lb::testing {

ControllerProcess::ControllerProcess(std::vector<std::string> extra_flags)
    : extra_flags_(std::move(extra_flags)), dir_(MakeTempDir()) {}

ControllerProcess::~ControllerProcess() { Kill(); }

std::string ControllerProcess::BinaryPath() { return RunfilePath("lb/controller/controller"); }

std::string ControllerProcess::grpc_target() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

std::vector<std::string> ControllerProcess::Argv() const {
  std::vector<std::string> argv = {
      BinaryPath(),
      "--grpc_listen=127.0.0.1:0",
      "--rest_listen=127.0.0.1:0",
      absl::StrCat("--data_dir=", data_dir()),
      absl::StrCat("--ready_file=", ready_file()),
  };
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  return argv;
}

std::string ControllerProcess::LogTail(size_t max_bytes) const {
  std::string log = ReadFileOrEmpty(log_path());
  if (log.size() > max_bytes) log = log.substr(log.size() - max_bytes);
  return log;
}

absl::Status ControllerProcess::Start(absl::Duration timeout) {
  if (dir_.empty()) return absl::InternalError("MakeTempDir failed");
  if (process_.has_value()) return absl::FailedPreconditionError("controller already running");
  grpc_port_ = rest_port_ = 0;
  std::remove(ready_file().c_str());  // A stale file from the previous start must not count.
  absl::StatusOr<Subprocess> sp = Subprocess::Start(Argv(), log_path());
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));
  const pid_t child = process_->pid();

  absl::Time deadline = absl::Now() + timeout;
  bool ready = false;
  while (absl::Now() < deadline) {
    absl::StatusOr<int> exited = process_->Wait(absl::ZeroDuration());
    if (exited.ok()) {
      process_.reset();
      return absl::UnavailableError(absl::StrCat("controller exited with code ", *exited,
                                                 " while starting; log:\n", LogTail()));
    }
    if (!ready) {
      std::string text = ReadFileOrEmpty(ready_file());
      nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!text.empty() && !j.is_discarded()) {
        if (!j.is_object() || !j.contains("grpc_port") || !j.contains("rest_port") ||
            !j.contains("pid") || !j["grpc_port"].is_number_integer() ||
            !j["rest_port"].is_number_integer() || !j["pid"].is_number_integer()) {
          Kill();
          return absl::InternalError(absl::StrCat("bad ready file: ", text));
        }
        if (j["pid"].get<int64_t>() != child) {
          Kill();
          return absl::InternalError(
              absl::StrCat("ready file names pid ", j["pid"].get<int64_t>(), ", not ", child));
        }
        grpc_port_ = j["grpc_port"].get<int>();
        rest_port_ = j["rest_port"].get<int>();
        ready = true;
      }
    }
    if (ready) {
      absl::StatusOr<HttpResponse> health = HttpGet(rest_port_, "/healthz");
      if (health.ok() && health->status == 200) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat(
      "controller not ready within ", absl::FormatDuration(timeout), "; log:\n", LogTail()));
}

absl::StatusOr<int> ControllerProcess::Stop(absl::Duration timeout) {
  if (!process_.has_value()) return absl::FailedPreconditionError("controller not running");
  process_->Signal(SIGTERM);
  absl::StatusOr<int> code = process_->Wait(timeout);
  if (!code.ok()) {
    Kill();
    return absl::DeadlineExceededError(absl::StrCat("controller did not exit within ",
                                                    absl::FormatDuration(timeout),
                                                    " of SIGTERM; killed. Log:\n", LogTail()));
  }
  process_.reset();
  return code;
}

void ControllerProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

absl::Status ControllerProcess::Restart() {
  absl::StatusOr<int> code = Stop();
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(
        absl::StrCat("controller exited with code ", *code, " on SIGTERM; log:\n", LogTail()));
  }
  return Start();
}

ListeningSocket::ListeningSocket() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd_, 4) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return;
  }
  port_ = ntohs(addr.sin_port);
}

ListeningSocket::~ListeningSocket() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace lb::testing
