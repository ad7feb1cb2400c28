#include "tests/test_common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/test_common/wait.h"

extern char** environ;

namespace lb::testing {

std::string RunfilePath(const std::string& path) {
  const char* dir = getenv("TEST_SRCDIR");
  if (dir != nullptr) return absl::StrCat(dir, "/", path);
  return path;
}

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/lbtest.XXXXXX");
  char* dir = mkdtemp(tmpl.data());
  return dir != nullptr ? std::string(dir) : std::string();
}

namespace {

// The argv and envp (this process's environment plus `extra_env`) of an execve(), built
// before fork() so that the child only calls Exec().
class ExecArgs {
 public:
  ExecArgs(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env)
      : args_(argv) {
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) env_.emplace_back(*e);
    env_.insert(env_.end(), extra_env.begin(), extra_env.end());
    for (auto& e : env_) envp_.push_back(e.data());
    envp_.push_back(nullptr);
  }

  // In the child: runs the program; exits with 127 if it cannot.
  [[noreturn]] void Exec() {
    execve(argv_[0], argv_.data(), envp_.data());
    _exit(127);
  }

 private:
  std::vector<std::string> args_;
  std::vector<std::string> env_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

}  // namespace

absl::StatusOr<Subprocess> Subprocess::Start(const std::vector<std::string>& argv,
                                             const std::string& log_path,
                                             const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  ExecArgs exec(argv, extra_env);
  int log_fd = -1;
  if (!log_path.empty()) {
    log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
      return absl::InternalError(absl::StrCat("open ", log_path, ": ", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    if (log_fd >= 0) {
      dup2(log_fd, 1);
      dup2(log_fd, 2);
    }
    exec.Exec();
  }
  if (log_fd >= 0) close(log_fd);
  return Subprocess(pid);
}

Subprocess::Subprocess(Subprocess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    Kill();
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

Subprocess::~Subprocess() { Kill(); }

void Subprocess::Signal(int signo) {
  if (pid_ > 0) kill(pid_, signo);
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("no process");
  absl::StatusOr<int> result = absl::DeadlineExceededError("process still running");
  WaitUntil(
      [&] {
        int status = 0;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
          pid_ = -1;
          result = WIFEXITED(status)     ? WEXITSTATUS(status)
                   : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                         : -1;
          return true;
        }
        if (r < 0) {
          result = absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
          return true;
        }
        return false;
      },
      timeout, absl::Milliseconds(5));
  return result;
}

void Subprocess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  ExecArgs exec(argv, extra_env);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    exec.Exec();
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left_ms));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      if (r > 0) {
        (i == 0 ? result.out : result.err).append(buf, r);
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) return absl::DeadlineExceededError(absl::StrCat(argv[0], " timed out"));
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::string text = ReadFileOrEmpty(path);
  if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
  return text;
}

absl::StatusOr<std::string> WaitForFile(const std::string& path, absl::Duration timeout) {
  std::string text;
  if (WaitUntil([&] { return !(text = ReadFileOrEmpty(path)).empty(); }, timeout,
                absl::Milliseconds(10))) {
    return text;
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no file ", path, " within ", absl::FormatDuration(timeout)));
}

absl::StatusOr<nlohmann::json> WaitForReadyFile(Subprocess& process, const std::string& path,
                                                absl::Duration timeout, const std::string& what,
                                                const std::string& log_path) {
  absl::Status exited;
  nlohmann::json ready;
  bool ok = WaitUntil(
      [&] {
        if (absl::StatusOr<int> code = process.Wait(absl::ZeroDuration()); code.ok()) {
          exited = absl::UnavailableError(absl::StrCat(
              what, " exited with code ", *code, " while starting; log:\n", FileTail(log_path)));
          return true;
        }
        std::string text = ReadFileOrEmpty(path);
        nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (text.empty() || j.is_discarded() || !j.is_object() || !j.contains("pid") ||
            !j["pid"].is_number_integer() || j["pid"].get<int64_t>() != process.pid()) {
          return false;
        }
        ready = std::move(j);
        return true;
      },
      timeout, absl::Milliseconds(10));
  if (!exited.ok()) return exited;
  if (!ok) {
    return absl::DeadlineExceededError(absl::StrCat(
        what, " not ready within ", absl::FormatDuration(timeout), "; log:\n", FileTail(log_path)));
  }
  return ready;
}

}  // namespace lb::testing
