// An lwIP network interface over an inherited TAP fd (IFF_TAP | IFF_NO_PI: one
// Ethernet frame per read and per write).
//
// Unlike lwIP's own tapif, it neither opens /dev/net/tun nor runs ifconfig: the fd
// comes from tcpfault, already attached to the middlebox. A reader thread feeds each
// frame to ethernet_input() under the core lock; lwIP's output writes whole frames.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "agents/lwip/lwip_headers.h"

namespace tcpfault::lwip_agent {

// Locally administered, unicast; fe80::74:66ff:fe00:1 is its EUI-64 link-local address.
inline constexpr std::array<std::uint8_t, 6> kAgentMac = {0x02, 0x74, 0x66, 0x00, 0x00, 0x01};
std::string mac_string(const std::array<std::uint8_t, 6>& mac);

class TapNetif {
 public:
  // `log` reports trouble with the device (a failed write, the fd gone).
  TapNetif(int tap_fd, std::function<void(const std::string&)> log);
  ~TapNetif();
  TapNetif(const TapNetif&) = delete;
  TapNetif& operator=(const TapNetif&) = delete;

  // Core lock held: adds the interface with this MTU and its IPv4 address (may be any).
  void add_locked(int mtu, const ip4_addr_t& addr, const ip4_addr_t& netmask, const ip4_addr_t& gw);
  // Starts feeding received frames to lwIP (after the interface is configured and up).
  void start_reader();

  netif* get() { return &netif_; }
  int fd() const { return fd_; }

 private:
  static err_t init(netif* n);
  static err_t link_output(netif* n, pbuf* p);
  void read_frames();

  int fd_;
  int mtu_ = 1500;
  std::function<void(const std::string&)> log_;
  netif netif_{};
  std::atomic<std::uint64_t> write_errors_{0};
  std::thread reader_;
};

}  // namespace tcpfault::lwip_agent
