#include "tests/test_common/controller_process.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/test_common/etcd_cluster.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/wait.h"

namespace lb::testing {

ControllerProcess::ControllerProcess(std::vector<std::string> extra_flags)
    : extra_flags_(std::move(extra_flags)), dir_(MakeTempDir()) {}

ControllerProcess::~ControllerProcess() { Kill(); }

std::string ControllerProcess::BinaryPath() { return RunfilePath("lb/controller/controller"); }

std::string ControllerProcess::grpc_target() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

namespace {

// LB_TEST_STORE=etcd (set by the *_etcd_test targets): every controller of the test runs on
// one etcd member started for the whole test process.
const std::vector<std::string>* TestEtcdEndpoints() {
  const char* store = std::getenv("LB_TEST_STORE");
  if (store == nullptr || std::string(store) != "etcd") return nullptr;
  static EtcdCluster* const cluster = [] {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> c = EtcdCluster::Start(1);
    if (!c.ok()) {
      std::fprintf(stderr, "LB_TEST_STORE=etcd: %s\n", std::string(c.status().message()).c_str());
      std::abort();
    }
    return c->release();  // Lives until exit; its members are killed with the test process.
  }();
  return &cluster->endpoints();
}

}  // namespace

std::vector<std::string> ControllerProcess::Argv() const {
  std::vector<std::string> argv = {
      BinaryPath(),
      "--grpc_listen=127.0.0.1:0",
      "--rest_listen=127.0.0.1:0",
      absl::StrCat("--data_dir=", data_dir()),
      absl::StrCat("--ready_file=", ready_file()),
  };
  if (const std::vector<std::string>* etcd = TestEtcdEndpoints(); etcd != nullptr) {
    // The key prefix follows the data directory, so a test that restarts a controller "on the
    // same data directory" finds the same state.
    std::string data = data_dir();
    for (const std::string& f : extra_flags_) {
      if (absl::StartsWith(f, "--data_dir=")) data = f.substr(strlen("--data_dir="));
    }
    argv.push_back("--store=etcd");
    argv.push_back(absl::StrCat("--etcd_endpoints=", absl::StrJoin(*etcd, ",")));
    argv.push_back(absl::StrCat("--etcd_prefix=/test", data, "/"));
  }
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  return argv;
}

std::string ControllerProcess::LogTail(size_t max_bytes) const {
  return FileTail(log_path(), max_bytes);
}

absl::Status ControllerProcess::Start(absl::Duration timeout) {
  if (dir_.empty()) return absl::InternalError("MakeTempDir failed");
  if (process_.has_value()) return absl::FailedPreconditionError("controller already running");
  grpc_port_ = rest_port_ = 0;
  std::remove(ready_file().c_str());  // A stale file from the previous start must not count.
  absl::StatusOr<Subprocess> sp = Subprocess::Start(Argv(), log_path());
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));

  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<nlohmann::json> j =
      WaitForReadyFile(*process_, ready_file(), timeout, "controller", log_path());
  if (!j.ok()) {
    if (j.status().code() == absl::StatusCode::kUnavailable) {
      process_.reset();  // It has exited (and been reaped).
    } else {
      Kill();
    }
    return j.status();
  }
  if (!j->contains("grpc_port") || !j->contains("rest_port") ||
      !(*j)["grpc_port"].is_number_integer() || !(*j)["rest_port"].is_number_integer()) {
    Kill();
    return absl::InternalError(absl::StrCat("bad ready file: ", j->dump()));
  }
  grpc_port_ = (*j)["grpc_port"].get<int>();
  rest_port_ = (*j)["rest_port"].get<int>();

  absl::Status exited;
  bool healthy = WaitUntil(
      [&] {
        if (absl::StatusOr<int> code = process_->Wait(absl::ZeroDuration()); code.ok()) {
          exited = absl::UnavailableError(absl::StrCat("controller exited with code ", *code,
                                                       " while starting; log:\n", LogTail()));
          return true;
        }
        absl::StatusOr<HttpResponse> health = HttpGet(rest_port_, "/healthz");
        return health.ok() && health->status == 200;
      },
      deadline - absl::Now(), absl::Milliseconds(10));
  if (!exited.ok()) {
    process_.reset();
    return exited;
  }
  if (!healthy) {
    Kill();
    return absl::DeadlineExceededError(absl::StrCat(
        "controller not healthy within ", absl::FormatDuration(timeout), "; log:\n", LogTail()));
  }
  return absl::OkStatus();
}

absl::Status ControllerProcess::StartRetrying(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status s;
  WaitUntil(
      [&] {
        s = Start(deadline - absl::Now());
        return s.code() != absl::StatusCode::kUnavailable;
      },
      timeout, absl::Milliseconds(100));
  return s;
}

absl::StatusOr<int> ControllerProcess::Stop(absl::Duration timeout) {
  if (!process_.has_value()) return absl::FailedPreconditionError("controller not running");
  process_->Signal(SIGTERM);
  absl::StatusOr<int> code = process_->Wait(timeout);
  if (!code.ok()) {
    Kill();
    return absl::DeadlineExceededError(absl::StrCat("controller did not exit within ",
                                                    absl::FormatDuration(timeout),
                                                    " of SIGTERM; killed. Log:\n", LogTail()));
  }
  process_.reset();
  return code;
}

void ControllerProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

void ControllerProcess::Signal(int signo) {
  if (process_.has_value()) process_->Signal(signo);
}

absl::StatusOr<int> ControllerProcess::Wait(absl::Duration timeout) {
  if (!process_.has_value()) return absl::FailedPreconditionError("controller not running");
  absl::StatusOr<int> code = process_->Wait(timeout);
  if (code.ok()) process_.reset();
  return code;
}

absl::Status ControllerProcess::Restart() {
  absl::StatusOr<int> code = Stop();
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(
        absl::StrCat("controller exited with code ", *code, " on SIGTERM; log:\n", LogTail()));
  }
  return Start();
}

// --- REST API -------------------------------------------------------------------------------

absl::Status SeedConfig(int rest_port, const std::string& action, int port, const std::string& ip) {
  nlohmann::json body = {{"action", action}, {"ip", ip}, {"port", port}};
  HttpRequest req;
  req.method = "POST";
  req.target = "/config";
  req.body = body.dump();
  absl::StatusOr<HttpResponse> r = HttpCall(rest_port, req, absl::Seconds(30));
  if (!r.ok()) return r.status();
  if (r->status != 200 || !r->body.empty()) {
    return absl::InternalError(absl::StrCat("POST /config ", body.dump(), ": ", r->status, " \"",
                                            absl::CHexEscape(r->body), "\""));
  }
  return absl::OkStatus();
}

absl::Status V1Call(int rest_port, const std::string& method, const std::string& path,
                    const std::string& body, int want_status) {
  HttpRequest req;
  req.method = method;
  req.target = path;
  req.body = body;
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  absl::StatusOr<HttpResponse> r = HttpCall(rest_port, req, absl::Seconds(30));
  if (!r.ok()) return r.status();
  if (r->status != want_status) {
    return absl::InternalError(absl::StrCat(method, " ", path, " ", body, ": ", r->status, " ",
                                            r->body, " (wanted ", want_status, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> SeedList(int rest_port) {
  absl::StatusOr<HttpResponse> r = HttpGet(rest_port, "/config");
  if (!r.ok()) return r.status();
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_array()) {
    return absl::InternalError(absl::StrCat("GET /config: ", r->status, " ", r->body));
  }
  std::vector<std::string> out;
  for (const auto& e : j) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace lb::testing
