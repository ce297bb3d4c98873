// Packet accessors and in-place edits that keep `bytes` and the TCP checksum in step.
#include "harness/packet/packet.h"

#include <algorithm>

#include "harness/packet/checksum.h"
#include "harness/packet/wire_bytes.h"

namespace tcpfault {
namespace {

constexpr std::size_t kTcpMinHeader = 20;
constexpr std::size_t kChecksumOffset = 16;  // within the TCP header

// The TCP segment inside `bytes`, or PacketError if `bytes` is too short to hold a TCP
// header (e.g. a Packet that was filled in by hand rather than parsed or built).
template <typename Byte>
std::span<Byte> tcp_segment(std::span<Byte> bytes, std::size_t offset) {
  if (bytes.size() < offset || bytes.size() - offset < kTcpMinHeader)
    throw PacketError("no TCP header to edit: expected 20 bytes at offset " +
                      std::to_string(offset) + ", the packet has " +
                      std::to_string(bytes.size()));
  return bytes.subspan(offset);
}

std::span<std::uint8_t> tcp_segment(Packet& p) {
  return tcp_segment(std::span<std::uint8_t>(p.bytes), p.ip_header_len);
}

std::span<const std::uint8_t> tcp_segment(const Packet& p) {
  return tcp_segment(std::span<const std::uint8_t>(p.bytes), p.ip_header_len);
}

// Ones' complement sum of pseudo-header and segment with the checksum field left out.
// IPv6 uses the header's destination: a routing header with segments left would call
// for the final one (RFC 8200 8.1), but no such packet crosses the harness's topology.
InternetChecksum sum_without_checksum_field(const Packet& p) {
  const auto tcp = tcp_segment(p);
  InternetChecksum sum;
  add_tcp_pseudo_header(sum, p.src, p.dst, static_cast<std::uint32_t>(tcp.size()));
  sum.add(tcp.first(kChecksumOffset));
  sum.add(tcp.subspan(kChecksumOffset + 2));
  return sum;
}

}  // namespace

std::span<const std::uint8_t> Packet::payload() const {
  const std::size_t start = std::min(bytes.size(), ip_header_len + tcp_header_len);
  return std::span(bytes).subspan(start, std::min(payload_len, bytes.size() - start));
}

std::uint32_t Packet::seq_len() const {
  return static_cast<std::uint32_t>(payload_len) + (has(tcp_flag::SYN) ? 1 : 0) +
         (has(tcp_flag::FIN) ? 1 : 0);
}

void Packet::set_window(std::uint16_t w) {
  wire::store16(&tcp_segment(*this)[14], w);
  window = w;
  update_checksum();
}

void Packet::set_flags(std::uint8_t f) {
  tcp_segment(*this)[13] = f;
  flags = f;
  update_checksum();
}

void Packet::set_seq(std::uint32_t s) {
  wire::store32(&tcp_segment(*this)[4], s);
  seq = s;
  update_checksum();
}

void Packet::set_ack(std::uint32_t a) {
  wire::store32(&tcp_segment(*this)[8], a);
  ack = a;
  update_checksum();
}

void Packet::strip_options() {
  constexpr std::uint8_t kNop = 1;
  auto tcp = tcp_segment(*this);
  const std::size_t end = std::min(tcp_header_len, tcp.size());
  if (end > kTcpMinHeader)
    std::fill(tcp.begin() + kTcpMinHeader, tcp.begin() + static_cast<std::ptrdiff_t>(end), kNop);
  options = TcpOptions{};
  update_checksum();
}

void Packet::write_payload(std::size_t offset, std::span<const std::uint8_t> data, bool xor_bytes) {
  const std::size_t start = ip_header_len + tcp_header_len;
  if (offset >= payload_len || start + payload_len > bytes.size()) return;
  const std::size_t n = std::min(data.size(), payload_len - offset);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t& b = bytes[start + offset + i];
    b = xor_bytes ? static_cast<std::uint8_t>(b ^ data[i]) : data[i];
  }
  update_checksum();
}

void Packet::update_checksum() {
  const std::uint16_t value = sum_without_checksum_field(*this).result();
  wire::store16(&tcp_segment(*this)[kChecksumOffset], value);
}

bool Packet::checksum_ok() const {
  InternetChecksum sum = sum_without_checksum_field(*this);
  sum.add16(wire::load16(&tcp_segment(*this)[kChecksumOffset]));
  // Summing the stored checksum in as well gives all ones, i.e. a complement of zero.
  return sum.result() == 0;
}

}  // namespace tcpfault
