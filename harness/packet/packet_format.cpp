// The one-line, tcpdump-like form of a packet.
#include <cstdio>

#include "harness/packet/packet.h"
#include "harness/packet/tcp_options.h"
#include "harness/packet/wire_bytes.h"

namespace tcpfault {
namespace {

std::string endpoint(const Address& a, std::uint16_t port) {
  return a.str() + "." + std::to_string(port);
}

// tcpdump's names for the options it knows but this harness does not interpret.
std::string other_option_name(std::uint8_t kind) {
  switch (kind) {
    case 19: return "md5";
    case 28: return "uto";
    case 29: return "tcp-ao";
    case 30: return "mptcp";
    case 34: return "tfo";
    case 253:
    case 254: return "exp";
    default: return "unknown-" + std::to_string(kind);
  }
}

std::string hex(std::span<const std::uint8_t> data) {
  std::string out;
  char buf[3];
  for (std::uint8_t b : data) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

// `sack_base` is subtracted from SACK edges, which lie in the receiver's sequence space.
std::string format_option(const RawTcpOption& o, std::uint32_t sack_base) {
  namespace kind = tcp_option_kind;
  const auto& d = o.data;
  switch (o.kind) {
    case kind::EOL: return "eol";
    case kind::NOP: return "nop";
    case kind::MSS: return "mss " + std::to_string(wire::load16(d.data()));
    case kind::WSCALE: return "wscale " + std::to_string(d[0]);
    case kind::SACK_PERMITTED: return "sackOK";
    case kind::TIMESTAMP:
      return "TS val " + std::to_string(wire::load32(d.data())) + " ecr " +
             std::to_string(wire::load32(d.data() + 4));
    case kind::SACK: {
      std::string out = "sack " + std::to_string(d.size() / 8) + " ";
      for (std::size_t i = 0; i + 8 <= d.size(); i += 8)
        out += "{" + std::to_string(wire::load32(&d[i]) - sack_base) + ":" +
               std::to_string(wire::load32(&d[i + 4]) - sack_base) + "}";
      return out;
    }
    default: return other_option_name(o.kind) + (d.empty() ? "" : " " + hex(d));
  }
}

std::string format_options(const Packet& p, std::uint32_t sack_base) {
  constexpr std::size_t kTcpMinHeader = 20;
  const std::size_t start = p.ip_header_len + kTcpMinHeader;
  const std::size_t end = p.ip_header_len + p.tcp_header_len;
  if (end > p.bytes.size()) return "bad opt";
  std::string out;
  try {
    for (const RawTcpOption& o :
         split_tcp_options(std::span(p.bytes).subspan(start, end - start), start)) {
      if (!out.empty()) out += ",";
      out += format_option(o, sack_base);
    }
  } catch (const PacketError&) {
    // Only a Packet edited by hand gets here: parse() rejects malformed options.
    return "bad opt";
  }
  return out;
}

}  // namespace

std::string flags_string(std::uint8_t flags) {
  if (flags == 0) return "none";
  // One letter per bit, lowest bit first: FIN SYN RST PSH ACK URG ECE CWR.
  constexpr char kLetters[] = "FSRP.UEW";
  std::string out;
  for (int bit = 0; bit < 8; ++bit)
    if (flags & (1u << bit)) out += kLetters[bit];
  return out;
}

std::optional<std::uint8_t> flag_bit(char letter) {
  switch (letter) {
    case 'F': case 'f': return tcp_flag::FIN;
    case 'S': case 's': return tcp_flag::SYN;
    case 'R': case 'r': return tcp_flag::RST;
    case 'P': case 'p': return tcp_flag::PSH;
    case 'A': case 'a': case '.': return tcp_flag::ACK;
    case 'U': case 'u': return tcp_flag::URG;
    case 'E': case 'e': return tcp_flag::ECE;
    case 'W': case 'w': case 'C': case 'c': return tcp_flag::CWR;
    default: return std::nullopt;
  }
}

std::optional<std::uint8_t> flags_from_letters(std::string_view letters) {
  std::uint8_t flags = 0;
  for (char letter : letters) {
    auto bit = flag_bit(letter);
    if (!bit) return std::nullopt;
    flags |= *bit;
  }
  return flags;
}

std::string format_packet(const Packet& p, const std::optional<RelativeTo>& rel) {
  const std::uint32_t seq_base = rel ? rel->src_isn : 0;
  const std::uint32_t ack_base = rel ? rel->dst_isn : 0;
  const std::uint32_t seq = p.seq - seq_base;

  std::string out = endpoint(p.src, p.sport) + " > " + endpoint(p.dst, p.dport) + ": Flags [" +
                    flags_string(p.flags) + "]";
  if (p.payload_len > 0 || p.has(tcp_flag::SYN) || p.has(tcp_flag::FIN) ||
      p.has(tcp_flag::RST)) {
    out += ", seq " + std::to_string(seq);
    if (p.payload_len > 0)
      out += ":" + std::to_string(seq + static_cast<std::uint32_t>(p.payload_len));
  }
  if (p.has(tcp_flag::ACK)) out += ", ack " + std::to_string(p.ack - ack_base);
  out += ", win " + std::to_string(p.window);
  if (p.has(tcp_flag::URG)) out += ", urg " + std::to_string(p.urgent);
  if (p.tcp_header_len > 20) out += ", options [" + format_options(p, ack_base) + "]";
  out += ", length " + std::to_string(p.payload_len);
  return out;
}

}  // namespace tcpfault
