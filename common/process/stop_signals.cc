#include "common/process/stop_signals.h"

#include <pthread.h>

#include <cerrno>

namespace lb::process {

StopSignals::StopSignals(std::initializer_list<int> also) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  for (int signo : also) sigaddset(&set_, signo);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int StopSignals::Wait() {
  int signo = 0;
  // sigwait returns an error number rather than setting errno; EINTR is the only one possible
  // for a valid set.
  while (sigwait(&set_, &signo) != 0) {
  }
  return signo;
}

}  // namespace lb::process
