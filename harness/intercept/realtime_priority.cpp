#include "harness/intercept/realtime_priority.h"

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>

namespace tcpfault {

namespace {
// Low among real-time priorities: the kernel's threaded interrupts run at 50.
constexpr int kPriority = 10;
}  // namespace

std::string run_at_realtime_priority() {
  if (const char* off = std::getenv("TCPFAULT_NO_REALTIME"); off && *off && *off != '0')
    return "TCPFAULT_NO_REALTIME is set";
  sched_param param{};
  param.sched_priority = kPriority;
  if (int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param); err != 0)
    return std::string("SCHED_FIFO refused: ") + std::strerror(err);
  return "";
}

}  // namespace tcpfault
