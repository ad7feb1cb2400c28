// Test helpers for end-to-end tests of the proxy: the proxy binary (//proxy:proxy) as a child
// process, and readers of its admin API (/config_dump, /stats). Every wait is bounded;
// everything is on loopback.
#ifndef LB_TESTS_TEST_COMMON_PROXY_PROCESS_H_
#define LB_TESTS_TEST_COMMON_PROXY_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {

// The proxy binary as a child process. Working directory: a fresh MakeTempDir() holding the
// ready file and the log.
class ProxyProcess {
 public:
  // `extra_flags` are appended to the command line (they override the defaults below:
  // --listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 --workers=2 --drain_timeout=5s).
  explicit ProxyProcess(std::string node_id, std::vector<std::string> extra_flags = {});
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;
  ~ProxyProcess();  // SIGKILL if still running.

  static std::string BinaryPath();

  // Starts the proxy against `controllers` ("host:port[,host:port]") and waits for its ready
  // file (with its own pid).
  absl::Status Start(const std::string& controllers, absl::Duration timeout = absl::Seconds(30));
  // Waits until admin /ready answers 200 (a configuration has arrived).
  absl::Status WaitReady(absl::Duration timeout = absl::Seconds(30));
  void Signal(int signo);
  // Waits for the exit: exit code, 128+N if killed by signal N, or kDeadlineExceeded.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  void Kill();

  bool running() const { return process_.has_value(); }
  pid_t pid() const { return process_.has_value() ? process_->pid() : -1; }
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  int tls_port() const { return tls_port_; }  // 0 without --tls_listen.
  const std::string& node_id() const { return node_id_; }
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  std::string log_path() const { return dir_ + "/proxy.log"; }

  std::string node_id_;
  std::vector<std::string> extra_flags_;
  std::string dir_;
  std::optional<Subprocess> process_;
  int port_ = 0;
  int admin_port_ = 0;
  int tls_port_ = 0;
};

// --- Admin API ------------------------------------------------------------------------------

// GET /config_dump, parsed.
absl::StatusOr<nlohmann::json> ConfigDump(int admin_port);
// The endpoints ("127.0.0.1:N") of `cluster` in a config dump, sorted; only the eligible ones
// if `eligible_only`.
std::vector<std::string> DumpEndpoints(const nlohmann::json& dump, const std::string& cluster,
                                       bool eligible_only);
// The endpoint object of `address` in `cluster`, or null json.
nlohmann::json DumpEndpoint(const nlohmann::json& dump, const std::string& cluster,
                            const std::string& address);
// The value of the /stats line starting with `series` (e.g. "lb_proxy_retries_total" or
// "lb_proxy_responses_total{class=\"5xx\"}"). kNotFound if there is none.
absl::StatusOr<uint64_t> StatValue(int admin_port, const std::string& series);
// Waits until `cluster` has exactly `want` endpoints (all eligible) in the proxy's dump.
// kDeadlineExceeded (with the last endpoints seen) after `timeout`.
absl::Status WaitForEndpoints(int admin_port, const std::string& cluster,
                              std::vector<std::string> want,
                              absl::Duration timeout = absl::Seconds(20));

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_PROXY_PROCESS_H_
