// Runs a function in a forked child and brings back what it wrote: for tests that
// must change process-wide things (uid, PATH) or that kill a scenario mid-way.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace tcpfault::testing_support {

struct Child {
  pid_t pid = -1;
  int from_child = -1;  // read end of the child's report pipe
};

// Starts `body(report_fd)` in a child; the child exits 0 when body returns.
inline Child start_child(const std::function<void(int)>& body) {
  int p[2];
  if (::pipe(p) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    body(p[1]);
    ::_exit(0);
  }
  ::close(p[1]);
  return {pid, p[0]};
}

// Reads until `stop` is seen or the child closes the pipe.
inline std::string read_report(int fd, const std::string& stop = "") {
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, n);
    if (!stop.empty() && out.find(stop) != std::string::npos) break;
  }
  return out;
}

inline void write_report(int fd, const std::string& text) {
  [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
}

inline int wait_child(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace tcpfault::testing_support
