// Test helpers for end-to-end tests of the controller: the controller binary
// (//controller:controller) as a child process on loopback ports chosen by the kernel (or fixed
// ones, for restarts), with its data, ready file and log in a temporary directory; and calls to
// its REST API. Every wait is bounded.
#ifndef LB_TESTS_TEST_COMMON_CONTROLLER_PROCESS_H_
#define LB_TESTS_TEST_COMMON_CONTROLLER_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {

class ControllerProcess {
 public:
  // `extra_flags` are appended to the command line on every start and override the defaults
  // (e.g. "--grpc_listen=127.0.0.1:N" for a fixed port, "--data_dir=D" to share a data
  // directory). The working directory is a fresh MakeTempDir(): data in DIR/data, ready file
  // DIR/ready.json, log DIR/controller.log.
  explicit ControllerProcess(std::vector<std::string> extra_flags = {});
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;
  ~ControllerProcess();  // SIGKILL if still running.

  // Path of the controller binary in the runfiles.
  static std::string BinaryPath();

  // Starts the binary and waits until it has written its ready file with its own pid and
  // answers GET /healthz. kUnavailable (with the log's tail) if it exits meanwhile,
  // kDeadlineExceeded after `timeout`, kFailedPrecondition if it is already running.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  // Start() on fixed ports that a killed process held a moment ago: while the new process
  // exits at once (kUnavailable: a port is still taken), it is started again, every 100 ms,
  // until `timeout`. Returns the last attempt's status.
  absl::Status StartRetrying(absl::Duration timeout = absl::Seconds(30));
  // SIGTERM, then waits for the exit; returns the exit code (128+N if killed by signal N).
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(15));
  // SIGKILL and reap.
  void Kill();
  void Signal(int signo);
  // Waits for the exit: exit code, 128+N if killed by signal N, kDeadlineExceeded after
  // `timeout`, kFailedPrecondition if not running.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // Stop (must exit with 0), then Start on the same data directory.
  absl::Status Restart();

  bool running() const { return process_.has_value(); }
  pid_t pid() const { return process_.has_value() ? process_->pid() : -1; }
  int grpc_port() const { return grpc_port_; }
  int rest_port() const { return rest_port_; }
  std::string grpc_target() const;  // "127.0.0.1:N"

  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string ready_file() const { return dir_ + "/ready.json"; }
  std::string log_path() const { return dir_ + "/controller.log"; }
  // The last `max_bytes` of the log (all starts append to it).
  std::string LogTail(size_t max_bytes = 4000) const;
  // The full command line used by Start().
  std::vector<std::string> Argv() const;

 private:
  std::vector<std::string> extra_flags_;
  std::string dir_;
  std::optional<Subprocess> process_;
  int grpc_port_ = 0;
  int rest_port_ = 0;
};

// --- REST API -------------------------------------------------------------------------------

// POST /config {"action":action,"ip":ip,"port":port}; OK only for 200 with an empty body,
// otherwise kInternal with the answer.
absl::Status SeedConfig(int rest_port, const std::string& action, int port,
                        const std::string& ip = "127.0.0.1");
// A /v1 call with a JSON body; OK only if the answer has status `want_status`, otherwise
// kInternal with the answer.
absl::Status V1Call(int rest_port, const std::string& method, const std::string& path,
                    const std::string& body, int want_status);
// GET /config: the "ip:port" list of cluster backend.
absl::StatusOr<std::vector<std::string>> SeedList(int rest_port);

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_CONTROLLER_PROCESS_H_
