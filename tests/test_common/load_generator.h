// Test helper: steady HTTP GET load against a proxy on loopback, with a way to pause it until
// no request is in flight.
#ifndef LB_TESTS_TEST_COMMON_LOAD_GENERATOR_H_
#define LB_TESTS_TEST_COMMON_LOAD_GENERATOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lb::testing {

// `threads` threads, each with one keep-alive connection (reopened when the server answers
// "Connection: close" or the connection fails), sending GET `target` back to back. A request
// fails unless it gets a complete 200 whose body starts with "Hello from " (a TestBackend's
// answer). Methods may be called from any thread.
class LoadGenerator {
 public:
  LoadGenerator(int port, int threads, std::string target = "/");
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;
  ~LoadGenerator();  // Stop().

  void Start();
  // Ends and joins the threads (each finishes its current request first). Idempotent.
  void Stop();
  // Stops sending new requests and waits until none is in flight: every request sent so far
  // has its answer (or has failed). False if one is still in flight after `timeout` (the
  // generator stays paused either way).
  bool Pause(absl::Duration timeout = absl::Seconds(15));
  void Resume();

  uint64_t ok() const;
  uint64_t failures() const;
  uint64_t total() const;
  // Waits until `n` more requests (from now) have completed; false on timeout.
  bool WaitForMore(uint64_t n, absl::Duration timeout);
  std::map<std::string, uint64_t> by_backend() const;  // Body text -> count.
  std::vector<std::string> errors() const;             // The first 20 failures.
  std::string Summary() const;

 private:
  void Run();
  void Fail(const std::string& what);

  const int port_;
  const int threads_;
  const std::string target_;
  std::vector<std::thread> workers_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ok_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> by_backend_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_LOAD_GENERATOR_H_
