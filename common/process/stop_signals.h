// How a server process stops: SIGINT and SIGTERM are blocked in every thread and taken only by
// Wait() on the main thread, so no thread is interrupted at a random point and shutdown runs as
// ordinary code; SIGPIPE is ignored, so a write to a closed socket fails with EPIPE instead of
// killing the process.
#ifndef LB_COMMON_PROCESS_STOP_SIGNALS_H_
#define LB_COMMON_PROCESS_STOP_SIGNALS_H_

#include <signal.h>

#include <initializer_list>

namespace lb::process {

class StopSignals {
 public:
  // Blocks SIGINT and SIGTERM (and the signals in `also`, e.g. SIGUSR1 for "reopen the log")
  // in the calling thread, and so in every thread it starts from then on: construct it in main()
  // before anything starts a thread. Ignores SIGPIPE process-wide.
  explicit StopSignals(std::initializer_list<int> also = {});

  // Blocks until one of those signals is pending for the process or the calling thread, takes
  // it and returns its number. Call from the thread that constructed this.
  int Wait();

 private:
  sigset_t set_;
};

}  // namespace lb::process

#endif  // LB_COMMON_PROCESS_STOP_SIGNALS_H_
