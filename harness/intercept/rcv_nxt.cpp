#include "harness/intercept/rcv_nxt.h"

namespace tcpfault {

namespace {

bool seq_after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }

// An RST ends what was there: its acknowledgment number is no end's rcv_nxt.
bool acknowledges(const Packet& p) { return p.has(tcp_flag::ACK) && !p.has(tcp_flag::RST); }

}  // namespace

void RcvNxtEstimate::delivered(const Packet& p) {
  const auto key = std::make_pair(p.source(), p.destination());
  const std::uint32_t end = p.seq + p.seq_len();
  if (p.has(tcp_flag::SYN)) {
    next_[key] = end;
    return;
  }
  auto it = next_.find(key);
  // Only contiguous data moves it: a segment after a gap is not yet readable.
  if (it != next_.end() && !seq_after(p.seq, it->second) && seq_after(end, it->second)) it->second = end;
}

void RcvNxtEstimate::sent(const Packet& p) {
  if (!acknowledges(p)) return;
  // What `p`'s sender has received from its peer.
  const auto key = std::make_pair(p.destination(), p.source());
  auto it = next_.find(key);
  // A SYN-ACK names the SYN its sender took, which may be one that never passed here
  // (crafted by the middlebox): that direction starts over from it.
  if (it == next_.end() || p.has(tcp_flag::SYN) || seq_after(p.ack, it->second)) next_[key] = p.ack;
}

std::optional<std::uint32_t> RcvNxtEstimate::next(const SockAddr& sender, const SockAddr& receiver) const {
  auto it = next_.find({sender, receiver});
  if (it == next_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tcpfault
