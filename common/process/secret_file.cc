#include "common/process/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace lb::process {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  // One descriptor for the checks and the read: the file cannot be swapped in between.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    std::string msg = absl::StrCat("cannot read ", path, ": ", std::strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(msg) : absl::NotFoundError(msg);
  }
  struct stat st {};
  std::string contents;
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = absl::InternalError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    status = absl::FailedPreconditionError(
        absl::StrCat(path, " holds a secret but has mode ", mode,
                     ": group and others must have no access (chmod 600 ", path, ")"));
  } else {
    char buf[4096];
    while (contents.size() <= (1 << 20)) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(errno)));
        break;
      }
      if (n == 0) break;
      contents.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (!status.ok()) return status;
  if (contents.size() > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is larger than 1 MiB"));
  }
  std::string secret(absl::StripAsciiWhitespace(contents));
  if (secret.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  return secret;
}

}  // namespace lb::process
