// The Internet checksum (RFC 1071) and the TCP pseudo-header sums for IPv4 and IPv6.
#pragma once

#include <cstdint>
#include <span>

#include "netns/address.h"

namespace tcpfault {

// Running ones' complement sum of 16-bit big-endian words. Kept unfolded so that
// several pieces (pseudo-header, header, payload) can be added before folding.
class InternetChecksum {
 public:
  // An odd-length piece is padded with a zero byte, so only the last piece may be odd.
  void add(std::span<const std::uint8_t> bytes);
  void add16(std::uint16_t word) { sum_ += word; }
  // The value to store in a checksum field (the complement of the folded sum).
  std::uint16_t result() const;

 private:
  std::uint64_t sum_ = 0;
};

// Adds the TCP pseudo-header (RFC 9293 3.1, RFC 8200 8.1) for a segment of
// `tcp_length` bytes (header plus payload) between src and dst.
void add_tcp_pseudo_header(InternetChecksum& sum, const Address& src, const Address& dst,
                           std::uint32_t tcp_length);

// Checksum of an IPv4 header whose checksum field is taken as zero.
std::uint16_t ipv4_header_checksum(std::span<const std::uint8_t> header);

}  // namespace tcpfault
