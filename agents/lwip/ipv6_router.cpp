#include "agents/lwip/ipv6_router.h"

#include <cstring>

#include "agents/lwip/lwip_address.h"
#include "agents/lwip/lwip_headers.h"

namespace tcpfault::lwip_agent {

void Ipv6RouterWatch::check_locked() {
  {
    std::lock_guard lock(mu_);
    if (known_) return;
  }
  for (int i = 0; i < LWIP_ND6_NUM_ROUTERS; ++i) {
    const nd6_neighbor_cache_entry* n = default_router_list[i].neighbor_entry;
    if (n == nullptr) continue;
    Address a;
    a.family = Family::V6;
    std::memcpy(a.bytes.data(), n->next_hop_address.addr, 16);
    {
      std::lock_guard lock(mu_);
      known_ = true;
    }
    cv_.notify_all();
    learned_(a.str());
    return;
  }
}

bool Ipv6RouterWatch::wait(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return known_; });
}

}  // namespace tcpfault::lwip_agent
