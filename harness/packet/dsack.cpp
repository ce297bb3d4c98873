#include "harness/packet/dsack.h"

namespace tcpfault {

namespace {

// Sequence comparison modulo 2^32 (RFC 9293 3.4).
bool before(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }

}  // namespace

bool reports_dsack(const Packet& p) {
  const auto& blocks = p.options.sack_blocks;
  if (blocks.empty() || !p.has(tcp_flag::ACK)) return false;
  const auto& [left, right] = blocks[0];
  if (before(left, p.ack)) return true;
  if (blocks.size() < 2) return false;
  const auto& [left2, right2] = blocks[1];
  return !before(left, left2) && !before(right2, right);
}

}  // namespace tcpfault
