// Test helpers for child processes: running another binary of the build, temporary
// directories, and the ready file a server writes once it listens.
#ifndef LB_TESTS_TEST_COMMON_SUBPROCESS_H_
#define LB_TESTS_TEST_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lb::testing {

// Path of a runfile such as "lb/controller/controller" (workspace name first).
std::string RunfilePath(const std::string& path);

// A fresh empty directory under TEST_TMPDIR (or /tmp).
std::string MakeTempDir();

// A child process. The destructor kills it with SIGKILL if it is still running.
class Subprocess {
 public:
  // Starts `argv[0]` with the given arguments; stdout and stderr go to `log_path` if set,
  // else they are inherited.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv,
                                          const std::string& log_path = "",
                                          const std::vector<std::string>& extra_env = {});

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  void Signal(int signo);
  // Waits up to `timeout` for the exit; returns the exit code, 128+signal if killed, or
  // kDeadlineExceeded.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // SIGKILL and reap.
  void Kill();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command to completion (bounded by `timeout`, then killed) and captures its output.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(30),
                                         const std::vector<std::string>& extra_env = {});

// The whole file, or "" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// The last `max_bytes` of the file (a log), or "" if it cannot be read.
std::string FileTail(const std::string& path, size_t max_bytes = 4000);

// Polls until `path` exists and is non-empty, up to `timeout`; returns its contents.
// kDeadlineExceeded otherwise.
absl::StatusOr<std::string> WaitForFile(const std::string& path, absl::Duration timeout);

// Waits for the ready file a server binary of this project writes once it listens: a JSON
// object whose "pid" is `process`'s own (a stale file from an earlier run does not count).
// Returns the object. kUnavailable (with the tail of `log_path`) if the process exits first,
// kDeadlineExceeded after `timeout`. `what` names the server in messages.
absl::StatusOr<nlohmann::json> WaitForReadyFile(Subprocess& process, const std::string& path,
                                                absl::Duration timeout, const std::string& what,
                                                const std::string& log_path);

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_SUBPROCESS_H_
