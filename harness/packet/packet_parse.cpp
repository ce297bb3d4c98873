// Packet::parse: IPv4 or IPv6 (with extension headers), then the TCP header and options.
// Every check happens before the bytes it protects are read.
#include "harness/packet/packet.h"
#include "harness/packet/tcp_options.h"
#include "harness/packet/wire_bytes.h"

namespace tcpfault {
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kTcpMinHeader = 20;

std::string num(std::size_t n) { return std::to_string(n); }

// Throws unless `n` bytes are present at `offset`.
void require(Bytes data, std::size_t offset, std::size_t n, const std::string& what) {
  const std::size_t have = data.size() > offset ? data.size() - offset : 0;
  if (have < n)
    throw PacketError("truncated " + what + ": need " + num(n) + " bytes at offset " +
                      num(offset) + ", have " + num(have));
}

std::string protocol_name(std::uint8_t p) {
  switch (p) {
    case 1: return "ICMP";
    case 2: return "IGMP";
    case 4: return "IPv4-in-IP";
    case 17: return "UDP";
    case 41: return "IPv6-in-IP";
    case 47: return "GRE";
    case 50: return "ESP";
    case 51: return "AH";
    case 58: return "ICMPv6";
    case 59: return "no next header";
    case 132: return "SCTP";
    case 136: return "UDP-Lite";
    default: return "";
  }
}

[[noreturn]] void throw_not_tcp(std::uint8_t protocol) {
  const std::string name = protocol_name(protocol);
  throw PacketError("not TCP: IP protocol " + num(protocol) +
                    (name.empty() ? "" : " (" + name + ")"));
}

// What the IP layer tells the TCP layer.
struct IpLayer {
  Family family = Family::V4;
  Address src, dst;
  std::uint8_t ttl = 0;
  std::size_t header_len = 0;  // where TCP starts
  std::size_t packet_len = 0;  // where the packet ends (trailing bytes are link padding)
};

Address address_at(Bytes data, std::size_t offset, Family family) {
  Address a;
  a.family = family;
  for (std::size_t i = 0; i < a.size(); ++i) a.bytes[i] = data[offset + i];
  return a;
}

IpLayer parse_ipv4(Bytes data) {
  require(data, 0, kIpv4MinHeader, "IPv4 header");
  const std::size_t ihl = data[0] & 0x0f;
  if (ihl * 4 < kIpv4MinHeader)
    throw PacketError("bad IPv4 header length: IHL " + num(ihl) + " (" + num(ihl * 4) +
                      " bytes) at offset 0, minimum is 5 (20 bytes)");
  const std::size_t total = wire::load16(&data[2]);
  if (total < ihl * 4)
    throw PacketError("bad IPv4 total length " + num(total) + " at offset 2: shorter than its " +
                      num(ihl * 4) + "-byte header");
  if (total > data.size())
    throw PacketError("truncated IPv4 packet: total length " + num(total) +
                      " at offset 2, have " + num(data.size()) + " bytes");
  if (data[9] != kProtocolTcp) throw_not_tcp(data[9]);
  const std::uint16_t frag = wire::load16(&data[6]);
  const bool more_fragments = (frag & 0x2000) != 0;
  const std::size_t fragment_offset = frag & 0x1fff;
  if (more_fragments || fragment_offset != 0)
    throw PacketError("IPv4 fragment at offset 6 (MF=" + num(more_fragments) +
                      ", fragment offset " + num(fragment_offset * 8) +
                      "): fragments are not reassembled");
  return {Family::V4, address_at(data, 12, Family::V4), address_at(data, 16, Family::V4),
          data[8], ihl * 4, total};
}

std::string extension_name(std::uint8_t next) {
  switch (next) {
    case 0: return "IPv6 hop-by-hop options header";
    case 43: return "IPv6 routing header";
    default: return "IPv6 destination options header";
  }
}

IpLayer parse_ipv6(Bytes data) {
  require(data, 0, kIpv6Header, "IPv6 header");
  const std::size_t payload_len = wire::load16(&data[4]);
  if (payload_len > data.size() - kIpv6Header)
    throw PacketError("truncated IPv6 packet: payload length " + num(payload_len) +
                      " at offset 4, have " + num(data.size() - kIpv6Header) +
                      " bytes after the 40-byte header");
  const std::size_t end = kIpv6Header + payload_len;
  const Bytes packet = data.first(end);

  std::uint8_t next = data[6];
  std::size_t offset = kIpv6Header;
  for (;;) {
    if (next == kProtocolTcp) break;
    if (next == 44)
      throw PacketError("IPv6 fragment header at offset " + num(offset) +
                        ": fragments are not reassembled");
    if (next != 0 && next != 43 && next != 60) throw_not_tcp(next);
    // Each of these starts with next-header and a length in 8-byte units, not counting
    // the first 8 bytes; 8 bytes is therefore also the minimum.
    require(packet, offset, 8, extension_name(next));
    const std::size_t len = (std::size_t{packet[offset + 1]} + 1) * 8;
    if (len > end - offset)
      throw PacketError("truncated " + extension_name(next) + ": length byte at offset " +
                        num(offset + 1) + " says " + num(len) + " bytes, have " +
                        num(end - offset));
    next = packet[offset];
    offset += len;
  }
  return {Family::V6, address_at(data, 8, Family::V6), address_at(data, 24, Family::V6),
          data[7], offset, end};
}

}  // namespace

Packet Packet::parse(std::span<const std::uint8_t> data) {
  if (data.empty()) throw PacketError("empty packet: no IP header at offset 0");
  const unsigned version = data[0] >> 4;
  if (version != 4 && version != 6)
    throw PacketError("unknown IP version " + num(version) + " at offset 0 (expected 4 or 6)");
  const IpLayer ip = version == 4 ? parse_ipv4(data) : parse_ipv6(data);

  const Bytes packet = data.first(ip.packet_len);
  const std::size_t t = ip.header_len;
  require(packet, t, kTcpMinHeader, "TCP header");
  const std::size_t data_offset = packet[t + 12] >> 4;
  const std::size_t tcp_len = data_offset * 4;
  if (tcp_len < kTcpMinHeader)
    throw PacketError("bad TCP data offset " + num(data_offset) + " (" + num(tcp_len) +
                      " bytes) at offset " + num(t + 12) + ": minimum is 5 (20 bytes)");
  if (tcp_len > packet.size() - t)
    throw PacketError("truncated TCP header: data offset " + num(data_offset) +
                      " at offset " + num(t + 12) + " says " + num(tcp_len) + " bytes, have " +
                      num(packet.size() - t));

  Packet p;
  p.bytes.assign(packet.begin(), packet.end());
  p.family = ip.family;
  p.src = ip.src;
  p.dst = ip.dst;
  p.ttl = ip.ttl;
  p.ip_header_len = ip.header_len;
  p.sport = wire::load16(&packet[t]);
  p.dport = wire::load16(&packet[t + 2]);
  p.seq = wire::load32(&packet[t + 4]);
  p.ack = wire::load32(&packet[t + 8]);
  p.flags = packet[t + 13];
  p.window = wire::load16(&packet[t + 14]);
  p.urgent = wire::load16(&packet[t + 18]);
  p.tcp_header_len = tcp_len;
  p.payload_len = packet.size() - t - tcp_len;
  p.options = decode_tcp_options(packet.subspan(t + kTcpMinHeader, tcp_len - kTcpMinHeader),
                                 t + kTcpMinHeader);
  return p;
}

}  // namespace tcpfault
