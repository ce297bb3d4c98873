// Real-time scheduling for the threads that stand for the network: a middlebox that a
// busy CPU keeps waiting holds segments the endpoints have long sent, and their timers
// (a tail loss probe after 2 RTT) fire on a delay the harness made, not the network.
#pragma once

#include <string>

namespace tcpfault {

// Moves the calling thread to SCHED_FIFO at a low real-time priority, above every
// ordinary process (a build, a load generator) and below the kernel's own threads.
// Returns "" on success, else why not (the thread keeps its old policy). The kernel's
// real-time throttling (sched_rt_runtime_us) still leaves the other tasks a share.
// TCPFAULT_NO_REALTIME=1 leaves the thread as it is.
std::string run_at_realtime_priority();

}  // namespace tcpfault
