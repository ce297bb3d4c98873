// The moments the agent must see inside lwIP, taken at the core lock.
//
// With LWIP_TCPIP_CORE_LOCKING every change to lwIP's state (an input frame, a timer,
// an application call) happens while one thread holds the core lock. The agent
// interposes liblwip's sys_unlock_tcpip_core() and tcp_pcb_remove() (the library calls
// both through its PLT, so the executable's definitions win) and runs the observer
// right before the lock is released and right before a pcb leaves a list: it sees every
// state a connection is left in by each locked section, and the last state of a pcb
// before lwIP forgets it.
#pragma once

namespace tcpfault::lwip_agent {

// Runs on the thread that holds the core lock; must not take it or block.
using CoreObserver = void (*)();
void set_core_observer(CoreObserver observer);

// Holds lwIP's core lock for the scope (the observer runs when it is released).
class CoreLock {
 public:
  CoreLock();
  ~CoreLock();
  CoreLock(const CoreLock&) = delete;
  CoreLock& operator=(const CoreLock&) = delete;
};

}  // namespace tcpfault::lwip_agent
