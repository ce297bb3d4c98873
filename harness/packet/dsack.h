// D-SACK (RFC 2883): a receiver reports a duplicate segment in the first SACK block.
#pragma once

#include "harness/packet/packet.h"

namespace tcpfault {

// The segment's first SACK block is a D-SACK: it lies below the cumulative ACK
// (RFC 2883 4.1.1), or inside the second block (4.1.2, a duplicate above a hole).
bool reports_dsack(const Packet& p);

}  // namespace tcpfault
