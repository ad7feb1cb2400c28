// Tests of common/process/stop_signals.cc. The process keeps SIGINT/SIGTERM blocked afterwards,
// which is why this is a test binary of its own.
#include "common/process/stop_signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "gtest/gtest.h"

namespace lb::process {
namespace {

bool Blocked(int signo) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signo) == 1;
}

TEST(StopSignalsTest, BlocksStopSignalsIgnoresSigpipeAndWaitTakesThem) {
  ASSERT_FALSE(Blocked(SIGTERM));
  StopSignals signals;
  EXPECT_TRUE(Blocked(SIGINT));
  EXPECT_TRUE(Blocked(SIGTERM));
  EXPECT_FALSE(Blocked(SIGHUP));
  struct sigaction pipe_action = {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &pipe_action), 0);
  EXPECT_EQ(pipe_action.sa_handler, SIG_IGN);

  // A thread started afterwards inherits the mask, so the process never runs a default handler.
  bool thread_blocks = false;
  std::thread([&] { thread_blocks = Blocked(SIGINT) && Blocked(SIGTERM); }).join();
  EXPECT_TRUE(thread_blocks);

  // Sent to the process (every thread blocks it): stays pending until Wait() takes it.
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_EQ(signals.Wait(), SIGTERM);
  ASSERT_EQ(pthread_kill(pthread_self(), SIGINT), 0);
  EXPECT_EQ(signals.Wait(), SIGINT);
  sigset_t pending;
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGINT), 0);
  EXPECT_EQ(sigismember(&pending, SIGTERM), 0);
}

}  // namespace
}  // namespace lb::process
