// IPv4/IPv6 + TCP segments: parse, edit with valid checksums, craft, and print.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netns/address.h"
#include "netns/error.h"

namespace tcpfault {

// TCP header flag bits, as on the wire.
namespace tcp_flag {
inline constexpr std::uint8_t FIN = 0x01;
inline constexpr std::uint8_t SYN = 0x02;
inline constexpr std::uint8_t RST = 0x04;
inline constexpr std::uint8_t PSH = 0x08;
inline constexpr std::uint8_t ACK = 0x10;
inline constexpr std::uint8_t URG = 0x20;
inline constexpr std::uint8_t ECE = 0x40;
inline constexpr std::uint8_t CWR = 0x80;
}  // namespace tcp_flag

// tcpdump's spelling: "S", "S.", "F.", "R.", "P.", "." for a bare ACK, "none" for 0.
std::string flags_string(std::uint8_t flags);
// The other way: one letter's bit (case-insensitive; "." and "A" are ACK, "W" and "C"
// CWR), nullopt for a letter that is no flag; and a whole spelling ("S.", "FA", "none"
// is not one), nullopt if any letter is no flag.
std::optional<std::uint8_t> flag_bit(char letter);
std::optional<std::uint8_t> flags_from_letters(std::string_view letters);

struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_permitted = false;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack_blocks;  // [left, right)
  std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamp;  // (TSval, TSecr)
};

// A packet that cannot be parsed: the message says what is wrong and at which byte.
class PacketError : public Error {
 public:
  using Error::Error;
};

// One IP packet carrying a TCP segment. `bytes` is the packet as on the wire; the
// other fields are parsed from it and kept in step by the setters.
struct Packet {
  std::vector<std::uint8_t> bytes;

  Family family = Family::V4;
  Address src, dst;
  std::uint8_t ttl = 0;            // hop limit for IPv6
  std::size_t ip_header_len = 0;   // IPv6: including extension headers
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;        // raw, unscaled
  std::uint16_t urgent = 0;
  std::size_t tcp_header_len = 0;
  std::size_t payload_len = 0;
  TcpOptions options;

  // Throws PacketError for anything that is not a complete, well-formed IPv4 or
  // IPv6 packet with a TCP header (truncated, bad lengths, fragments, other protocols).
  static Packet parse(std::span<const std::uint8_t> data);

  std::span<const std::uint8_t> payload() const;
  SockAddr source() const { return {src, sport}; }
  SockAddr destination() const { return {dst, dport}; }
  bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
  // Sequence space the segment occupies: payload plus one for SYN and one for FIN.
  std::uint32_t seq_len() const;

  // Edits; each rewrites `bytes` and the TCP checksum.
  void set_window(std::uint16_t w);
  void set_flags(std::uint8_t f);
  void set_seq(std::uint32_t s);
  void set_ack(std::uint32_t a);
  void strip_options();  // replaces every option with NOPs (header length unchanged)
  // Overwrites payload bytes from `offset` (or XORs them in); what would fall past
  // the payload's end is left out.
  void write_payload(std::size_t offset, std::span<const std::uint8_t> data, bool xor_bytes = false);
  void update_checksum();
  bool checksum_ok() const;
};

// What to craft. Unset options are not sent.
struct SegmentSpec {
  SockAddr src, dst;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  TcpOptions options;
  std::vector<std::uint8_t> payload;
  std::uint8_t ttl = 64;
};

// Builds a valid IPv4 or IPv6 packet (family of spec.src) with correct checksums.
Packet build_packet(const SegmentSpec& spec);

// Sequence numbers relative to each side's ISN, as tcpdump prints them.
struct RelativeTo {
  std::uint32_t src_isn = 0;  // ISN of the packet's sender
  std::uint32_t dst_isn = 0;  // ISN of the packet's receiver
};

// One line, like tcpdump's:
// "198.18.1.1.40000 > 198.18.2.1.8080: Flags [S], seq 0, win 64240, options [mss 1460,
//  sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
std::string format_packet(const Packet& p, const std::optional<RelativeTo>& rel = std::nullopt);

}  // namespace tcpfault
