#include "tests/test_common/backend_process.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace lb::testing {

BackendProcess::BackendProcess(std::string name) : name_(std::move(name)), dir_(MakeTempDir()) {}

BackendProcess::~BackendProcess() { Kill(); }

absl::Status BackendProcess::Start(absl::Duration timeout) {
  if (dir_.empty()) return absl::InternalError("MakeTempDir failed");
  if (process_.has_value()) return absl::FailedPreconditionError("backend already running");
  std::string ready = dir_ + "/ready.json";
  std::string log = dir_ + "/backend.log";
  std::remove(ready.c_str());
  absl::StatusOr<Subprocess> sp = Subprocess::Start(
      {RunfilePath("lb/tests/test_common/backend_main"), absl::StrCat("--name=", name_),
       absl::StrCat("--port=", port_), absl::StrCat("--ready_file=", ready)},
      log);
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));
  absl::StatusOr<nlohmann::json> j =
      WaitForReadyFile(*process_, ready, timeout, "backend " + name_, log);
  if (!j.ok()) {
    Kill();
    return j.status();
  }
  port_ = j->value("port", 0);
  return absl::OkStatus();
}

void BackendProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

}  // namespace lb::testing
