// Starting lwIP and giving it the side's addresses from hello.
#pragma once

#include <optional>
#include <string>

#include "agents/lwip/tap_netif.h"
#include "netns/address.h"

namespace tcpfault::lwip_agent {

struct FamilyConfig {
  Address address;
  int prefix = 0;
  std::optional<Address> gateway;  // IPv6: the router's link-local address (learned from its RA)
};

struct StackConfig {
  std::optional<FamilyConfig> ipv4, ipv6;
  int mtu = 1500;
};

// Starts the tcpip thread; returns once lwIP is initialised.
void start_lwip();

// Adds the TAP interface with the addresses, makes it the default and brings it up.
// IPv6: the EUI-64 link-local address and the global one are made PREFERRED at once
// (no duplicate address detection) and autoconfiguration from RAs is off, so the
// addresses are the ones given. Returns the link-local address.
std::string bring_up(TapNetif& tap, const StackConfig& config);

}  // namespace tcpfault::lwip_agent
