#include "harness/packet/checksum.h"

#include "harness/packet/wire_bytes.h"

namespace tcpfault {

void InternetChecksum::add(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum_ += wire::load16(&bytes[i]);
  if (i < bytes.size()) sum_ += std::uint32_t{bytes[i]} << 8;
}

std::uint16_t InternetChecksum::result() const {
  std::uint64_t s = sum_;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s & 0xffff);
}

void add_tcp_pseudo_header(InternetChecksum& sum, const Address& src, const Address& dst,
                           std::uint32_t tcp_length) {
  constexpr std::uint16_t kProtocolTcp = 6;
  sum.add(std::span(src.bytes.data(), src.size()));
  sum.add(std::span(dst.bytes.data(), dst.size()));
  // IPv4 carries a 16-bit length, IPv6 a 32-bit one; both sum the same way.
  sum.add16(static_cast<std::uint16_t>(tcp_length >> 16));
  sum.add16(static_cast<std::uint16_t>(tcp_length));
  sum.add16(kProtocolTcp);
}

std::uint16_t ipv4_header_checksum(std::span<const std::uint8_t> header) {
  constexpr std::size_t kChecksumOffset = 10;
  InternetChecksum sum;
  sum.add(header.first(kChecksumOffset));
  sum.add(header.subspan(kChecksumOffset + 2));
  return sum.result();
}

}  // namespace tcpfault
