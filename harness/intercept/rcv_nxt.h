// What each end expects next from its peer (its rcv_nxt), as far as the middlebox can
// tell: where a segment crafted "at rcv_nxt" goes (an RST there resets the connection; one
// elsewhere in the window meets a challenge ACK, RFC 5961 3.2).
//
// Two things tell it. The data that went on to the receiver without a gap: fresher than
// the receiver's ACK, which may still be on its way. And the receiver's own ACKs, whether
// or not the middlebox let them go on: the ground truth of what it holds, past what the
// middlebox can count (the data it kept beyond a hole, once the hole is filled). The
// estimate is the later of the two, and contiguous data goes on from there. A SYN, and a
// SYN-ACK for the direction it acknowledges, start a direction over. Sequence numbers are
// compared in serial arithmetic (RFC 1982).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "harness/packet/packet.h"

namespace tcpfault {

class RcvNxtEstimate {
 public:
  // `p` went on to its receiver.
  void delivered(const Packet& p);
  // Its sender sent `p`, whatever the middlebox then does with it: its ACK number is
  // what that end has received.
  void sent(const Packet& p);
  // What `receiver` expects next from `sender`; nullopt while nothing tells.
  std::optional<std::uint32_t> next(const SockAddr& sender, const SockAddr& receiver) const;

 private:
  std::map<std::pair<SockAddr, SockAddr>, std::uint32_t> next_;  // (sender, receiver) -> rcv_nxt
};

}  // namespace tcpfault
