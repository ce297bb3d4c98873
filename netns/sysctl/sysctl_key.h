// Sysctl names: "net.ipv4.tcp_fin_timeout" or "net/ipv4/tcp_fin_timeout".
//
// As in sysctl(8), the first separator decides the spelling: with dots, a '/' inside a
// component stands for a literal dot ("net.ipv4.conf.eth0/100.rp_filter" is interface
// eth0.100), and with slashes, dots are literal. A leading "/proc/sys/" is accepted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tcpfault::netns {

struct SysctlKey {
  std::vector<std::string> parts;  // components, e.g. {"net", "ipv4", "conf", "eth0.100", ...}

  std::string dotted() const;  // "net.ipv4.conf.eth0/100.rp_filter"
  std::string path() const;    // "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"
  bool is_net() const { return !parts.empty() && parts[0] == "net"; }
};

// Throws Error for an empty key, empty components ("net..ipv4") and components that
// would leave /proc/sys/net ("." or "..").
SysctlKey parse_sysctl_key(std::string_view key);

}  // namespace tcpfault::netns
