// Test helper: a TestBackend in a child process (backend_main), for tests that SIGKILL an
// upstream.
#ifndef LB_TESTS_TEST_COMMON_BACKEND_PROCESS_H_
#define LB_TESTS_TEST_COMMON_BACKEND_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {

class BackendProcess {
 public:
  // Answers "Hello from <name>" (see backend.h). Its ready file and log live in a fresh
  // MakeTempDir().
  explicit BackendProcess(std::string name);
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;
  ~BackendProcess();  // SIGKILL if still running.

  // Starts it and waits for its ready file. The first start listens on a port the kernel
  // picks; a start after Kill() reuses that port.
  absl::Status Start(absl::Duration timeout = absl::Seconds(15));
  // SIGKILL and reap.
  void Kill();
  int port() const { return port_; }
  pid_t pid() const { return process_.has_value() ? process_->pid() : -1; }

 private:
  std::string name_;
  std::string dir_;
  std::optional<Subprocess> process_;
  int port_ = 0;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_BACKEND_PROCESS_H_
