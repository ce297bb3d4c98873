// TcpOptions has no operator==: the fuzz targets compare field by field.
#pragma once

#include "harness/packet/packet.h"

namespace tcpfault::fuzz {

inline bool same_options(const TcpOptions& a, const TcpOptions& b) {
  return a.mss == b.mss && a.wscale == b.wscale && a.sack_permitted == b.sack_permitted &&
         a.sack_blocks == b.sack_blocks && a.timestamp == b.timestamp;
}

}  // namespace tcpfault::fuzz
