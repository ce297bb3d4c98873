#include "harness/intercept/seq_shift.h"

#include "harness/packet/tcp_options.h"
#include "harness/packet/wire_bytes.h"

namespace tcpfault {

void SeqShifts::set(std::uint64_t connection, bool from_opener, Shift shift) {
  shifts_[{connection, from_opener}] = shift;
}

std::optional<SeqShifts::Shift> SeqShifts::find(std::uint64_t connection, bool from_opener) const {
  auto it = shifts_.find({connection, from_opener});
  if (it == shifts_.end()) return std::nullopt;
  return it->second;
}

void shift_seq(Packet& p, std::uint32_t delta) { p.set_seq(p.seq + delta); }

void unshift_acks(Packet& p, std::uint32_t delta) {
  if (p.has(tcp_flag::ACK)) p.set_ack(p.ack - delta);
  if (p.options.sack_blocks.empty()) return;
  constexpr std::size_t kTcpMinHeader = 20;
  const std::size_t area_start = p.ip_header_len + kTcpMinHeader;
  const std::size_t area_end = p.ip_header_len + p.tcp_header_len;
  auto area = std::span<const std::uint8_t>(p.bytes).subspan(area_start, area_end - area_start);
  for (const auto& option : split_tcp_options(area, area_start)) {
    if (option.kind != tcp_option_kind::SACK) continue;
    // Each block is two 32-bit edges, right after the kind and length bytes.
    for (std::size_t edge = 0; edge + 4 <= option.data.size(); edge += 4) {
      std::uint8_t* at = &p.bytes[option.offset + 2 + edge];
      wire::store32(at, wire::load32(at) - delta);
    }
  }
  for (auto& [left, right] : p.options.sack_blocks) {
    left -= delta;
    right -= delta;
  }
  p.update_checksum();
}

}  // namespace tcpfault
