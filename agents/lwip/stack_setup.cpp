#include "agents/lwip/stack_setup.h"

#include <cstring>
#include <future>

#include "agents/lwip/core_hooks.h"
#include "agents/lwip/lwip_address.h"
#include "agents/lwip/lwip_headers.h"

namespace tcpfault::lwip_agent {
namespace {

ip4_addr_t ip4_of(const Address& a) {
  ip4_addr_t out;
  std::memcpy(&out.addr, a.bytes.data(), 4);
  return out;
}

ip4_addr_t netmask_of(int prefix) {
  ip4_addr_t out;
  const std::uint32_t host = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  out.addr = lwip_htonl(host);
  return out;
}

}  // namespace

void start_lwip() {
  std::promise<void> ready;
  tcpip_init([](void* arg) { static_cast<std::promise<void>*>(arg)->set_value(); }, &ready);
  ready.get_future().wait();
}

std::string bring_up(TapNetif& tap, const StackConfig& config) {
  CoreLock lock;
  ip4_addr_t addr{}, mask{}, gw{};
  if (config.ipv4) {
    addr = ip4_of(config.ipv4->address);
    mask = netmask_of(config.ipv4->prefix);
    if (config.ipv4->gateway) gw = ip4_of(*config.ipv4->gateway);
  }
  tap.add_locked(config.mtu, addr, mask, gw);
  netif* n = tap.get();
  netif_set_ip6_autoconfig_enabled(n, 0);
  netif_create_ip6_linklocal_address(n, 1);
  netif_ip6_addr_set_state(n, 0, IP6_ADDR_PREFERRED);
  if (config.ipv6) {
    const ip_addr_t a = to_lwip(config.ipv6->address);
    s8_t index = -1;
    if (netif_add_ip6_address(n, ip_2_ip6(&a), &index) == ERR_OK && index >= 0)
      netif_ip6_addr_set_state(n, index, IP6_ADDR_PREFERRED);
  }
  netif_set_default(n);
  netif_set_link_up(n);
  netif_set_up(n);
  Address link_local;
  link_local.family = Family::V6;
  std::memcpy(link_local.bytes.data(), netif_ip6_addr(n, 0)->addr, 16);
  return link_local.str();
}

}  // namespace tcpfault::lwip_agent
