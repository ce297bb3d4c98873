// Sends crafted or copied packets from the middlebox, as if they came from the
// network. Raw IP sockets with the header included: the source address is whatever
// the packet says. Locally sent packets take the OUTPUT path, not FORWARD, so they
// are never queued back to us.
#pragma once

#include "harness/packet/packet.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault {

class Injector {
 public:
  explicit Injector(const netns::Namespace& middlebox);
  // Throws SystemError if the kernel refuses the packet.
  void send(const Packet& p) const;

 private:
  UniqueFd v4_, v6_;
};

}  // namespace tcpfault
