#include "common/process/ready_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace lb::process {
namespace {

absl::Status ErrnoError(int err, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("cannot write ", tmp));
  while (!content.empty()) {
    ssize_t n = write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoError(errno, absl::StrCat("cannot write ", tmp));
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  if (close(fd) != 0) {
    absl::Status s = ErrnoError(errno, absl::StrCat("cannot write ", tmp));
    unlink(tmp.c_str());
    return s;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoError(errno, absl::StrCat("cannot rename ", tmp, " to ", path));
    unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::Status WriteReadyFile(const std::string& path,
                            const std::vector<std::pair<std::string, int>>& ports) {
  std::string json = "{";
  for (const auto& [name, port] : ports) absl::StrAppend(&json, "\"", name, "\":", port, ",");
  absl::StrAppend(&json, "\"pid\":", getpid(), "}\n");
  return WriteFileAtomically(path, json);
}

}  // namespace lb::process
