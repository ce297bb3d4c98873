// build_packet: a complete IPv4 or IPv6 packet with a TCP segment, checksums included.
#include <algorithm>

#include "harness/packet/checksum.h"
#include "harness/packet/packet.h"
#include "harness/packet/tcp_options.h"
#include "harness/packet/wire_bytes.h"

namespace tcpfault {
namespace {

constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kTcpMinHeader = 20;
constexpr std::size_t kMaxIpLength = 0xffff;

void put_address(std::uint8_t* out, const Address& a) {
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a.bytes[i];
}

void write_ipv4_header(std::uint8_t* h, const SegmentSpec& spec, std::size_t total_len) {
  constexpr std::uint16_t kDontFragment = 0x4000;
  h[0] = 0x45;  // version 4, 5 words
  wire::store16(&h[2], static_cast<std::uint16_t>(total_len));
  wire::store16(&h[6], kDontFragment);  // ID 0 is fine with DF set (RFC 6864)
  h[8] = spec.ttl;
  h[9] = kProtocolTcp;
  put_address(&h[12], spec.src.addr);
  put_address(&h[16], spec.dst.addr);
  wire::store16(&h[10], ipv4_header_checksum(std::span(h, kIpv4Header)));
}

void write_ipv6_header(std::uint8_t* h, const SegmentSpec& spec, std::size_t payload_len) {
  h[0] = 0x60;  // version 6, traffic class and flow label 0
  wire::store16(&h[4], static_cast<std::uint16_t>(payload_len));
  h[6] = kProtocolTcp;
  h[7] = spec.ttl;
  put_address(&h[8], spec.src.addr);
  put_address(&h[24], spec.dst.addr);
}

void write_tcp_header(std::uint8_t* t, const SegmentSpec& spec,
                      const std::vector<std::uint8_t>& options) {
  wire::store16(&t[0], spec.src.port);
  wire::store16(&t[2], spec.dst.port);
  wire::store32(&t[4], spec.seq);
  wire::store32(&t[8], spec.ack);
  t[12] = static_cast<std::uint8_t>(((kTcpMinHeader + options.size()) / 4) << 4);
  t[13] = spec.flags;
  wire::store16(&t[14], spec.window);
  for (std::size_t i = 0; i < options.size(); ++i) t[kTcpMinHeader + i] = options[i];
}

}  // namespace

Packet build_packet(const SegmentSpec& spec) {
  const Family family = spec.src.addr.family;
  if (spec.dst.addr.family != family)
    throw PacketError("cannot build a packet from " + spec.src.str() + " to " + spec.dst.str() +
                      ": the addresses are of different families");
  const std::vector<std::uint8_t> options = encode_tcp_options(spec.options);
  const std::size_t ip_len = family == Family::V4 ? kIpv4Header : kIpv6Header;
  const std::size_t tcp_len = kTcpMinHeader + options.size() + spec.payload.size();
  const std::size_t length_field = family == Family::V4 ? ip_len + tcp_len : tcp_len;
  if (length_field > kMaxIpLength)
    throw PacketError("cannot build a packet with a " + std::to_string(spec.payload.size()) +
                      "-byte payload: the IP length field holds at most 65535");

  std::vector<std::uint8_t> bytes(ip_len + tcp_len, 0);
  if (family == Family::V4)
    write_ipv4_header(bytes.data(), spec, bytes.size());
  else
    write_ipv6_header(bytes.data(), spec, tcp_len);
  write_tcp_header(&bytes[ip_len], spec, options);
  std::copy(spec.payload.begin(), spec.payload.end(),
            bytes.begin() + static_cast<std::ptrdiff_t>(ip_len + kTcpMinHeader + options.size()));

  Packet p = Packet::parse(bytes);
  p.update_checksum();
  return p;
}

}  // namespace tcpfault
