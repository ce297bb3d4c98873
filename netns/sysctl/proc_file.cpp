#include "netns/sysctl/proc_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "netns/unique_fd.h"

namespace tcpfault::netns {

ProcRead read_proc_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {std::nullopt, errno};
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return {std::nullopt, errno};
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return {out, 0};
}

int write_proc_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  const std::string line = value + "\n";
  const ssize_t n = ::write(fd.get(), line.data(), line.size());
  return n < 0 ? errno : 0;
}

}  // namespace tcpfault::netns
