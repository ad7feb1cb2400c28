#include "tests/test_common/proxy_process.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/wait.h"

namespace lb::testing {

// --- ProxyProcess ---------------------------------------------------------------------------

ProxyProcess::ProxyProcess(std::string node_id, std::vector<std::string> extra_flags)
    : node_id_(std::move(node_id)), extra_flags_(std::move(extra_flags)), dir_(MakeTempDir()) {}

ProxyProcess::~ProxyProcess() { Kill(); }

std::string ProxyProcess::BinaryPath() { return RunfilePath("lb/proxy/proxy"); }

std::string ProxyProcess::LogTail(size_t max_bytes) const {
  return FileTail(log_path(), max_bytes);
}

absl::Status ProxyProcess::Start(const std::string& controllers, absl::Duration timeout) {
  if (dir_.empty()) return absl::InternalError("MakeTempDir failed");
  if (process_.has_value()) return absl::FailedPreconditionError("proxy already running");
  std::string ready = dir_ + "/ready.json";
  std::remove(ready.c_str());
  std::vector<std::string> argv = {BinaryPath(),
                                   absl::StrCat("--controller=", controllers),
                                   "--listen=127.0.0.1:0",
                                   "--admin_listen=127.0.0.1:0",
                                   "--workers=2",
                                   "--drain_timeout=5s",
                                   absl::StrCat("--node_id=", node_id_),
                                   absl::StrCat("--ready_file=", ready)};
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  absl::StatusOr<Subprocess> sp = Subprocess::Start(argv, log_path());
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));
  absl::StatusOr<nlohmann::json> j =
      WaitForReadyFile(*process_, ready, timeout, "proxy " + node_id_, log_path());
  if (!j.ok()) {
    Kill();
    return j.status();
  }
  port_ = j->value("port", 0);
  admin_port_ = j->value("admin_port", 0);
  tls_port_ = j->value("tls_port", 0);
  if (port_ <= 0 || admin_port_ <= 0) {
    Kill();
    return absl::InternalError(absl::StrCat("bad proxy ready file: ", j->dump()));
  }
  return absl::OkStatus();
}

absl::Status ProxyProcess::WaitReady(absl::Duration timeout) {
  bool ok = WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(admin_port_, "/ready");
        return r.ok() && r->status == 200;
      },
      timeout);
  if (!ok) {
    return absl::DeadlineExceededError(absl::StrCat("proxy ", node_id_, " not ready within ",
                                                    absl::FormatDuration(timeout), "; log:\n",
                                                    LogTail()));
  }
  return absl::OkStatus();
}

void ProxyProcess::Signal(int signo) {
  if (process_.has_value()) process_->Signal(signo);
}

absl::StatusOr<int> ProxyProcess::Wait(absl::Duration timeout) {
  if (!process_.has_value()) return absl::FailedPreconditionError("proxy not running");
  absl::StatusOr<int> code = process_->Wait(timeout);
  if (code.ok()) process_.reset();
  return code;
}

void ProxyProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

// --- Admin API ------------------------------------------------------------------------------

absl::StatusOr<nlohmann::json> ConfigDump(int admin_port) {
  absl::StatusOr<HttpResponse> r = HttpGet(admin_port, "/config_dump");
  if (!r.ok()) return r.status();
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || j.is_discarded()) {
    return absl::InternalError(absl::StrCat("GET /config_dump: ", r->status, " ", r->body));
  }
  return j;
}

std::vector<std::string> DumpEndpoints(const nlohmann::json& dump, const std::string& cluster,
                                       bool eligible_only) {
  std::vector<std::string> out;
  if (!dump.contains("clusters")) return out;
  for (const auto& c : dump["clusters"]) {
    if (c.value("name", "") != cluster || !c.contains("endpoints")) continue;
    for (const auto& e : c["endpoints"]) {
      if (eligible_only && !e.value("eligible", false)) continue;
      out.push_back(e.value("address", ""));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json DumpEndpoint(const nlohmann::json& dump, const std::string& cluster,
                            const std::string& address) {
  if (!dump.contains("clusters")) return nullptr;
  for (const auto& c : dump["clusters"]) {
    if (c.value("name", "") != cluster || !c.contains("endpoints")) continue;
    for (const auto& e : c["endpoints"]) {
      if (e.value("address", "") == address) return e;
    }
  }
  return nullptr;
}

absl::StatusOr<uint64_t> StatValue(int admin_port, const std::string& series) {
  return PrometheusValue(admin_port, "/stats", series);
}

absl::Status WaitForEndpoints(int admin_port, const std::string& cluster,
                              std::vector<std::string> want, absl::Duration timeout) {
  std::sort(want.begin(), want.end());
  std::vector<std::string> all, eligible;
  bool ok = WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(admin_port);
        if (!d.ok()) return false;
        all = DumpEndpoints(*d, cluster, false);
        eligible = DumpEndpoints(*d, cluster, true);
        return all == want && eligible == want;
      },
      timeout);
  if (ok) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "cluster ", cluster, " never had endpoints [", absl::StrJoin(want, ","), "]; last: [",
      absl::StrJoin(all, ","), "], eligible [", absl::StrJoin(eligible, ","), "]"));
}

}  // namespace lb::testing
