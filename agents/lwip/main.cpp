// tcpfault-lwip-agent: lwIP 2.1 as a tcpfault target (docs/agent-protocol.md).
//
// fd 3 (TCPFAULT_AGENT_FD) is the control socket, fd 4 (TCPFAULT_TAP_FD) the TAP device.
// The agent exits when the control socket reaches end of file, or after "bye".
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agents/lwip/agent.h"
#include "agents/lwip/json_lines.h"

namespace {

constexpr const char* kUsage =
    "usage: tcpfault-lwip-agent\n"
    "  Runs lwIP 2.1 as a tcpfault target. It is started by tcpfault (target \"agent:lwip\"),\n"
    "  which passes the control socket as fd 3 and the TAP device as fd 4 (or the fds named\n"
    "  by TCPFAULT_AGENT_FD and TCPFAULT_TAP_FD) and speaks docs/agent-protocol.md on it.\n";

int fd_from_env(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long fd = std::strtol(v, &end, 10);
  if (*end != '\0' || fd < 0 || fd > 65535) {
    std::fprintf(stderr, "tcpfault-lwip-agent: %s=%s is not a file descriptor number\n%s", name, v, kUsage);
    std::exit(2);
  }
  return static_cast<int>(fd);
}

void require_open(int fd, const char* what) {
  if (::fcntl(fd, F_GETFD) < 0) {
    std::fprintf(stderr, "tcpfault-lwip-agent: fd %d (%s) is not open: %s\n%s", fd, what, std::strerror(errno),
                 kUsage);
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    const bool help = std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0;
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  const int control = fd_from_env("TCPFAULT_AGENT_FD", 3);
  const int tap = fd_from_env("TCPFAULT_TAP_FD", 4);
  require_open(control, "the control socket");
  require_open(tap, "the TAP device");

  using namespace tcpfault::lwip_agent;
  static LineWriter out(control);
  static Agent agent(out, tap);
  LineReader in(control);
  std::string line;
  for (;;) {
    switch (in.next(line)) {
      case LineReader::Status::Line:
        agent.handle_line(line);
        break;
      case LineReader::Status::TooLong:
        agent.handle_too_long();
        break;
      case LineReader::Status::Eof:
        // tcpfault is done (or gone): leave at once, whatever requests are still blocked.
        std::fflush(stderr);
        ::_exit(0);
    }
  }
}
