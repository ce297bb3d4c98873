// Segmentation offloads of a link (ethtool ioctl, no ethtool binary).
//
// With TSO and GSO off the sender hands the link one MSS-sized segment per packet,
// and with GRO off the receiver does not merge them again: the middlebox sees, and
// can act on, exactly the segments the stack sent.
#pragma once

#include <string>

#include "netns/namespace.h"

namespace tcpfault::netns {

struct Offloads {
  bool tso = false;  // any TCP segmentation offload (TSO, TSO6, ECN, mangle-id)
  bool gso = false;
  bool gro = false;
};

void disable_segmentation_offloads(const Namespace& ns, const std::string& ifname);
Offloads read_offloads(const Namespace& ns, const std::string& ifname);

}  // namespace tcpfault::netns
