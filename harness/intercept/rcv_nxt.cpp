#include "harness/intercept/rcv_nxt.h"

namespace tcpfault {

namespace {

bool seq_after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }

// An RST ends what was there: its acknowledgment number is no end's rcv_nxt.
bool acknowledges(const Packet& p) { return p.has(tcp_flag::ACK) && !p.has(tcp_flag::RST); }

// Data after a hole kept aside per direction: more than a window's worth of segments
// means the oldest are long reached or never will be.
constexpr std::size_t kMostRangesAside = 1024;

}  // namespace

void RcvNxtEstimate::delivered(const Packet& p) {
  const Direction key{p.source(), p.destination()};
  const std::uint32_t end = p.seq + p.seq_len();
  if (p.has(tcp_flag::SYN)) {
    next_[key] = end;
    ahead_.erase(key);
    return;
  }
  auto it = next_.find(key);
  if (it == next_.end() || !seq_after(end, it->second)) return;
  if (seq_after(p.seq, it->second)) {  // after a hole: readable once the hole is filled
    auto& aside = ahead_[key];
    if (aside.size() == kMostRangesAside) aside.erase(aside.begin());
    aside.push_back({p.seq, end});
    return;
  }
  it->second = end;
  absorb(key);
}

void RcvNxtEstimate::absorb(const Direction& d) {
  auto aside = ahead_.find(d);
  if (aside == ahead_.end()) return;
  std::uint32_t& point = next_[d];
  for (bool moved = true; moved;) {
    moved = false;
    auto& ranges = aside->second;
    for (auto r = ranges.begin(); r != ranges.end();) {
      if (seq_after(r->begin, point)) {
        ++r;
        continue;
      }
      if (seq_after(r->end, point)) {
        point = r->end;
        moved = true;
      }
      r = ranges.erase(r);
    }
  }
}


void RcvNxtEstimate::sent(const Packet& p) {
  if (!acknowledges(p)) return;
  // What `p`'s sender has received from its peer.
  const Direction key{p.destination(), p.source()};
  auto it = next_.find(key);
  // A SYN-ACK names the SYN its sender took, which may be one that never passed here
  // (crafted by the middlebox): that direction starts over from it.
  if (it == next_.end() || p.has(tcp_flag::SYN)) {
    next_[key] = p.ack;
    ahead_.erase(key);
  } else if (seq_after(p.ack, it->second)) {
    it->second = p.ack;
    absorb(key);
  }
}

std::optional<std::uint32_t> RcvNxtEstimate::next(const SockAddr& sender, const SockAddr& receiver) const {
  auto it = next_.find({sender, receiver});
  if (it == next_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tcpfault
