#include "harness/intercept/injector.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "netns/error.h"

namespace tcpfault {

Injector::Injector(const netns::Namespace& middlebox) {
  middlebox.run([&] {
    // IPPROTO_RAW implies "header included" for both IPv4 and IPv6.
    v4_.reset(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!v4_.valid()) throw_errno("raw IPv4 socket in " + middlebox.name());
    v6_.reset(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!v6_.valid()) throw_errno("raw IPv6 socket in " + middlebox.name());
  });
}

void Injector::send(const Packet& p) const {
  socklen_t len = 0;
  // The kernel routes by the destination; the port is ignored for raw sockets.
  sockaddr_storage to = SockAddr{p.dst, 0}.to_sockaddr(len);
  int fd = p.family == Family::V4 ? v4_.get() : v6_.get();
  if (::sendto(fd, p.bytes.data(), p.bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), len) < 0)
    throw_errno("inject " + format_packet(p));
}

}  // namespace tcpfault
