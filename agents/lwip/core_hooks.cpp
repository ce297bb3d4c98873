#include "agents/lwip/core_hooks.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "agents/lwip/lwip_headers.h"

namespace tcpfault::lwip_agent {
namespace {

std::atomic<CoreObserver> g_observer{nullptr};

void observe() {
  if (CoreObserver f = g_observer.load(std::memory_order_acquire)) f();
}

// liblwip's own definition of `name`, found past this executable in symbol order.
template <class F>
F library_function(const char* name) {
  void* f = ::dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "tcpfault-lwip-agent: liblwip has no %s: %s\n", name, ::dlerror());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

}  // namespace

void set_core_observer(CoreObserver observer) { g_observer.store(observer, std::memory_order_release); }

CoreLock::CoreLock() { LOCK_TCPIP_CORE(); }
CoreLock::~CoreLock() { UNLOCK_TCPIP_CORE(); }

}  // namespace tcpfault::lwip_agent

extern "C" {

void sys_unlock_tcpip_core(void) {
  static const auto real = tcpfault::lwip_agent::library_function<void (*)()>("sys_unlock_tcpip_core");
  tcpfault::lwip_agent::observe();
  real();
}

void tcp_pcb_remove(struct tcp_pcb** pcblist, struct tcp_pcb* pcb) {
  static const auto real =
      tcpfault::lwip_agent::library_function<void (*)(struct tcp_pcb**, struct tcp_pcb*)>("tcp_pcb_remove");
  tcpfault::lwip_agent::observe();
  real(pcblist, pcb);
}

}  // extern "C"
