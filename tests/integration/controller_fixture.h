// Test helper: the controller binary (//controller:controller) as a child process, on loopback
// ports chosen by the kernel, with its data, ready file and log in a temporary directory.
// Restartable on the same data directory. Every wait is bounded.
#ifndef LB_TESTS_INTEGRATION_CONTROLLER_FIXTURE_H_
#define LB_TESTS_INTEGRATION_CONTROLLER_FIXTURE_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/util/subprocess.h"

namespace lb::testing {

class ControllerProcess {
 public:
  // `extra_flags` are appended to the command line on every start. The working directory is a
  // fresh MakeTempDir(): data in DIR/data, ready file DIR/ready.json, log DIR/controller.log.
  explicit ControllerProcess(std::vector<std::string> extra_flags = {});
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;
  ~ControllerProcess();  // SIGKILL if still running.

  // Path of the controller binary in the runfiles.
  static std::string BinaryPath();

  // Starts the binary and waits until it has written its ready file with its own pid and
  // answers GET /healthz. Fails (with the log's tail) if it exits or the timeout passes.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  // SIGTERM, then waits for the exit; returns the exit code (128+N if killed by signal N).
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(15));
  // SIGKILL and reap.
  void Kill();
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

// A TCP socket listening on 127.0.0.1 on a kernel-chosen port, to occupy a port. Closed by
// the destructor.
class ListeningSocket {
 public:
  ListeningSocket();
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;
  ~ListeningSocket();
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace lb::testing

#endif  // LB_TESTS_INTEGRATION_CONTROLLER_FIXTURE_H_
