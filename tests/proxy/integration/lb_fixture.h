// Test helpers for proxy integration tests: the proxy binary (//proxy:proxy) as a child
// process, REST/admin helpers, a keep-alive raw-socket client connection, and a steady GET
// load generator. Every wait is bounded; everything is on loopback.
#ifndef LB_TESTS_PROXY_INTEGRATION_LB_FIXTURE_H_
#define LB_TESTS_PROXY_INTEGRATION_LB_FIXTURE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/integration/http_client.h"
#include "tests/util/subprocess.h"

namespace lb::testing {

// Polls `cond` every `interval` until it is true or `timeout` has passed; returns its last value.
bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout,
               absl::Duration interval = absl::Milliseconds(20));

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
  const std::string& node_id() const { return node_id_; }
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  std::string node_id_;
  std::vector<std::string> extra_flags_;
  std::string dir_;
  std::optional<Subprocess> process_;
  int port_ = 0;
  int admin_port_ = 0;
};

// A TestBackend in a child process (//tests/proxy/integration:backend_main), to be SIGKILLed.
class BackendProcess {
 public:
  explicit BackendProcess(std::string name);
  ~BackendProcess();  // SIGKILL if still running.
  absl::Status Start(absl::Duration timeout = absl::Seconds(15));
  void Kill();
  int port() const { return port_; }
  pid_t pid() const { return process_.has_value() ? process_->pid() : -1; }

 private:
  std::string name_;
  std::string dir_;
  std::optional<Subprocess> process_;
  int port_ = 0;
};

// --- Controller REST ------------------------------------------------------------------------

// POST /config {"action":action,"ip":ip,"port":port}; OK only for 200 with an empty body.
absl::Status SeedConfig(int rest_port, const std::string& action, int port,
                        const std::string& ip = "127.0.0.1");
// A /v1 call with a JSON body; OK only if the answer has status `want_status`.
absl::Status V1Call(int rest_port, const std::string& method, const std::string& path,
                    const std::string& body, int want_status);
// GET /config: the "ip:port" list of cluster backend.
absl::StatusOr<std::vector<std::string>> SeedList(int rest_port);

// --- Proxy admin ----------------------------------------------------------------------------

absl::StatusOr<nlohmann::json> ConfigDump(int admin_port);
// The endpoints ("127.0.0.1:N") of `cluster` in a config dump, sorted; only the eligible ones
// if `eligible_only`.
std::vector<std::string> DumpEndpoints(const nlohmann::json& dump, const std::string& cluster,
                                       bool eligible_only);
// The endpoint object of `address` in `cluster`, or null json.
nlohmann::json DumpEndpoint(const nlohmann::json& dump, const std::string& cluster,
                            const std::string& address);
// The value of the /stats line starting with `series` (e.g. "lb_proxy_retries_total" or
// "lb_proxy_responses_total{class=\"5xx\"}").
absl::StatusOr<uint64_t> StatValue(int admin_port, const std::string& series);
// Waits until `cluster` has exactly `want` endpoints (all eligible) in the proxy's dump.
absl::Status WaitForEndpoints(int admin_port, const std::string& cluster,
                              std::vector<std::string> want,
                              absl::Duration timeout = absl::Seconds(20));
std::string Addr(int port);  // "127.0.0.1:<port>"

// --- Client ---------------------------------------------------------------------------------

// One response as ParseHttpResponse reads it; `raw` is the bytes of this response alone.
using Response = HttpResponse;

// One client TCP connection to 127.0.0.1:port; keeps bytes beyond a response for the next.
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      int port, absl::Duration timeout = absl::Seconds(5));
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::Status Send(absl::string_view bytes, absl::Duration timeout = absl::Seconds(5));
  // Reads one response (collecting interim 1xx). `head`: the response to a HEAD request.
  absl::StatusOr<Response> Read(absl::Duration timeout = absl::Seconds(10), bool head = false);
  // Sends a GET (HTTP/1.1, keep-alive) and reads the response.
  absl::StatusOr<Response> Get(const std::string& target,
                               const std::vector<std::pair<std::string, std::string>>& headers = {},
                               absl::Duration timeout = absl::Seconds(10));
  // Reads whatever arrives within `timeout` (stops early once `want` bytes are buffered).
  std::string ReadRaw(size_t want, absl::Duration timeout);
  // True if the peer closes (EOF or reset) within `timeout`. Bytes that arrive meanwhile are
  // appended to `extra` (if given) and otherwise dropped.
  bool WaitClosed(absl::Duration timeout, std::string* extra = nullptr);
  // Closes our write side.
  void HalfClose();
  bool eof() const { return eof_; }
  int fd() const { return fd_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  // Reads once (waiting up to the deadline); false on EOF/error/timeout.
  bool Fill(absl::Time deadline, std::string* error);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Steady GET load: `threads` threads, each with one keep-alive connection (reopened when the
// proxy answers "Connection: close"), sending GET `target` back to back. A request fails unless
// it gets a complete 200 whose body starts with "Hello from ".
class LoadGenerator {
 public:
  LoadGenerator(int port, int threads, std::string target = "/");
  ~LoadGenerator();  // Stop().
  void Start();
  void Stop();
  uint64_t ok() const { return ok_.load(); }
  uint64_t failures() const { return failures_.load(); }
  uint64_t total() const { return ok_.load() + failures_.load(); }
  // Waits until `n` more requests (from now) have completed; false on timeout.
  bool WaitForMore(uint64_t n, absl::Duration timeout);
  std::map<std::string, uint64_t> by_backend() const;  // Body text -> count.
  std::vector<std::string> errors() const;             // The first 20 failures.
  std::string Summary() const;

 private:
  void Run();
  const int port_;
  const int threads_;
  const std::string target_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> ok_{0};
  std::atomic<uint64_t> failures_{0};
  std::vector<std::thread> workers_;
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> by_backend_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::testing

#endif  // LB_TESTS_PROXY_INTEGRATION_LB_FIXTURE_H_
