#include "tests/test_common/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace lb::testing {
namespace {

// "VmRSS:     1234 kB" -> 1234 * 1024.
uint64_t KbField(absl::string_view line) {
  absl::string_view v = absl::StripAsciiWhitespace(line.substr(line.find(':') + 1));
  absl::ConsumeSuffix(&v, " kB");
  uint64_t kb = 0;
  (void)absl::SimpleAtoi(v, &kb);
  return kb * 1024;
}

}  // namespace

absl::StatusOr<ProcStats> ReadProcStats(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid);
  std::ifstream status(dir + "/status");
  if (!status) return absl::NotFoundError(absl::StrCat("no process ", pid));
  ProcStats out;
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) out.rss_bytes = KbField(line);
    if (absl::StartsWith(line, "VmHWM:")) out.peak_rss_bytes = KbField(line);
    if (absl::StartsWith(line, "Threads:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &out.threads);
    }
  }
  // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks, counted after the
  // parenthesised command name (which may hold spaces).
  std::ifstream stat(dir + "/stat");
  std::stringstream all;
  all << stat.rdbuf();
  std::string text = all.str();
  size_t paren = text.rfind(')');
  if (paren != std::string::npos) {
    std::vector<std::string> fields =
        absl::StrSplit(text.substr(paren + 2), ' ', absl::SkipEmpty());
    uint64_t utime = 0, stime = 0;
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
        absl::SimpleAtoi(fields[12], &stime)) {
      out.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
    }
  }
  if (DIR* d = opendir((dir + "/fd").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++out.open_fds;
    }
    closedir(d);
  }
  return out;
}

absl::Status SetOpenFileLimit(pid_t pid, uint64_t limit) {
  rlimit r{};
  if (prlimit(pid, RLIMIT_NOFILE, nullptr, &r) != 0) {
    return absl::InternalError(absl::StrCat("prlimit(", pid, "): ", strerror(errno)));
  }
  r.rlim_cur = std::min<rlim_t>(limit, r.rlim_max);
  if (prlimit(pid, RLIMIT_NOFILE, &r, nullptr) != 0) {
    return absl::InternalError(absl::StrCat("prlimit(", pid, "): ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FdLimitAllowing(pid_t pid, int more) {
  std::set<int> open;
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("no process ", pid));
  while (dirent* e = readdir(d)) {
    int n = 0;
    if (absl::SimpleAtoi(e->d_name, &n)) open.insert(n);
  }
  closedir(d);
  int free_slots = 0;
  for (int n = 0;; ++n) {
    if (open.count(n) != 0) continue;
    if (++free_slots == more) return static_cast<uint64_t>(n) + 1;
  }
}

}  // namespace lb::testing
