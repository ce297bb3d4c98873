#include "netns/offloads.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "netns/error.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {

namespace {

// Any socket works as a handle for SIOCETHTOOL; it must live in the link's namespace.
UniqueFd ioctl_socket(const Namespace& ns) {
  return ns.run([&] {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) throw_errno("socket for ethtool in namespace " + ns.name());
    return fd;
  });
}

std::uint32_t ethtool_call(int fd, const std::string& ifname, std::uint32_t cmd,
                            std::uint32_t value, const char* what) {
  ethtool_value ev{};
  ev.cmd = cmd;
  ev.data = value;
  ifreq ifr{};
  if (ifname.size() >= IFNAMSIZ) throw Error("interface name too long: " + ifname);
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size() + 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  if (::ioctl(fd, SIOCETHTOOL, &ifr) != 0)
    throw_errno(std::string("ethtool ") + what + " on " + ifname,
                "does the interface exist in this namespace, and does its driver support it?");
  return ev.data;
}

}  // namespace

void disable_segmentation_offloads(const Namespace& ns, const std::string& ifname) {
  UniqueFd fd = ioctl_socket(ns);
  ethtool_call(fd.get(), ifname, ETHTOOL_STSO, 0, "tso off");
  ethtool_call(fd.get(), ifname, ETHTOOL_SGSO, 0, "gso off");
  ethtool_call(fd.get(), ifname, ETHTOOL_SGRO, 0, "gro off");
}

Offloads read_offloads(const Namespace& ns, const std::string& ifname) {
  UniqueFd fd = ioctl_socket(ns);
  Offloads o;
  o.tso = ethtool_call(fd.get(), ifname, ETHTOOL_GTSO, 0, "get tso") != 0;
  o.gso = ethtool_call(fd.get(), ifname, ETHTOOL_GGSO, 0, "get gso") != 0;
  o.gro = ethtool_call(fd.get(), ifname, ETHTOOL_GGRO, 0, "get gro") != 0;
  return o;
}

}  // namespace tcpfault::netns
