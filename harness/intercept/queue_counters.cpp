#include "harness/intercept/queue_counters.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tcpfault {

QueueCounterReader::QueueCounterReader(const netns::Namespace& ns, std::uint16_t queue_number)
    : queue_(queue_number) {
  // thread-self: /proc/net follows the opening thread's namespace, not the process's.
  ns.run([&] { fd_.reset(::open("/proc/thread-self/net/netfilter/nfnetlink_queue", O_RDONLY | O_CLOEXEC)); });
}

std::optional<QueueCounters> QueueCounterReader::read() const {
  if (!fd_.valid()) return std::nullopt;
  char text[4096];
  std::size_t used = 0;
  if (::lseek(fd_.get(), 0, SEEK_SET) < 0) return std::nullopt;
  while (used + 1 < sizeof text) {
    ssize_t n = ::read(fd_.get(), text + used, sizeof text - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  text[used] = '\0';
  return parse_queue_counters(text, queue_);
}

std::optional<QueueCounters> parse_queue_counters(const char* text, std::uint16_t queue_number) {
  // One line per bound queue: number, peer portid, queue_total, copy mode, copy range,
  // queue_dropped, user_dropped, id_sequence, 1.
  for (const char* line = text; line && *line;) {
    unsigned number, portid, total, mode, range, dropped, user, ids;
    if (std::sscanf(line, "%u %u %u %u %u %u %u %u", &number, &portid, &total, &mode, &range, &dropped, &user,
                    &ids) == 8 &&
        number == queue_number)
      return QueueCounters{total, dropped, user, ids};
    line = std::strchr(line, '\n');
    if (line) ++line;
  }
  return std::nullopt;
}

}  // namespace tcpfault
