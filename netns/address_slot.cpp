#include "netns/address_slot.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "netns/error.h"
#include "netns/namespace.h"
#include "netns/slot_plan.h"

namespace tcpfault::netns {

namespace {

// Binds @tcpfault/slot/<n> on the calling thread's namespace; empty fd if taken.
UniqueFd bind_slot(int n) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw_errno("socket(AF_UNIX) for a topology slot");
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  const std::string name = AddressSlot::socket_name(n);
  std::memcpy(sun.sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), len) != 0) {
    if (errno == EADDRINUSE) return UniqueFd();
    throw_errno("bind abstract unix socket @" + name + " to claim topology slot " +
                std::to_string(n));
  }
  return fd;
}

}  // namespace

std::string AddressSlot::socket_name(int n) { return "tcpfault/slot/" + std::to_string(n); }

// Abstract names are per network namespace: claims are made in the one the process
// started in, whatever namespace the calling thread happens to be visiting.
std::optional<AddressSlot> AddressSlot::try_acquire(int n) {
  Enter home(Namespace::initial());
  UniqueFd fd = bind_slot(n);
  if (!fd.valid()) return std::nullopt;
  return AddressSlot(n, std::move(fd));
}

AddressSlot AddressSlot::acquire() {
  Enter home(Namespace::initial());
  for (int n = 0; n < kSlotCount; ++n)
    if (UniqueFd fd = bind_slot(n); fd.valid()) return AddressSlot(n, std::move(fd));
  throw Error("all " + std::to_string(kSlotCount) +
              " topology slots are in use on this machine (each live topology holds one; "
              "destroy some, or look for stuck processes holding @tcpfault/slot/* in "
              "/proc/net/unix)");
}

}  // namespace tcpfault::netns
