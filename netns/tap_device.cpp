#include "netns/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "netns/error.h"

namespace tcpfault::netns {

UniqueFd create_tap(const Namespace& ns, const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw Error("TAP device name '" + name + "' must have 1 to " + std::to_string(IFNAMSIZ - 1) + " characters");
  // The device is made in the namespace of whoever opened /dev/net/tun.
  UniqueFd fd = ns.run([] { return UniqueFd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC)); });
  if (!fd.valid())
    throw_errno("open /dev/net/tun for TAP device " + name + " in namespace " + ns.name(),
                "the kernel needs TUN/TAP support (CONFIG_TUN, `modprobe tun`) and the process CAP_NET_ADMIN");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0)
    throw_errno("create TAP device " + name + " in namespace " + ns.name(),
                "is the name already taken in that namespace?");
  return fd;
}

}  // namespace tcpfault::netns
