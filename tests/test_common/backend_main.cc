// A standalone TestBackend (see backend.h) for tests that need to SIGKILL
// an upstream:
//   backend_main --name=web_1 --port=8081 [--ready_file=F] [--delay_ms=N] [--status=N]
// Serves until SIGTERM or SIGINT. With --ready_file, writes {"port":N,"pid":P} there (through a
// rename) once listening.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/test_common/backend.h"

ABSL_FLAG(std::string, name, "backend", "Answers \"Hello from <name>\"");
ABSL_FLAG(int, port, 0, "Port on 127.0.0.1 (0: the kernel picks one)");
ABSL_FLAG(std::string, ready_file, "", "Written with {\"port\",\"pid\"} once listening");
ABSL_FLAG(int, delay_ms, 0, "Delay before every answer");
ABSL_FLAG(int, status, 200, "Status code of every answer");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("HTTP/1.1 test backend.\n  backend_main --name=web_1 --port=8081");
  absl::ParseCommandLine(argc, argv);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  lb::testing::TestBackend backend(absl::GetFlag(FLAGS_name));
  backend.set_delay(absl::Milliseconds(absl::GetFlag(FLAGS_delay_ms)));
  backend.set_status(absl::GetFlag(FLAGS_status));
  if (absl::Status s = backend.Start(absl::GetFlag(FLAGS_port)); !s.ok()) {
    std::fprintf(stderr, "backend_main: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("backend %s listening on 127.0.0.1:%d\n", backend.name().c_str(), backend.port());
  std::fflush(stdout);
  if (std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    std::string tmp = absl::StrCat(ready, ".tmp.", getpid());
    {
      std::ofstream out(tmp);
      out << "{\"port\":" << backend.port() << ",\"pid\":" << getpid() << "}\n";
    }
    std::rename(tmp.c_str(), ready.c_str());
  }
  int signo = 0;
  sigwait(&stop, &signo);
  backend.Stop();
  std::printf("backend %s: %llu requests\n", backend.name().c_str(),
              static_cast<unsigned long long>(backend.requests()));
  return 0;
}
