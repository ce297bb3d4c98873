// Writes the binary seed corpora (packets, option areas) into DIR/packet_parse and
// DIR/tcp_options: segments of a real handshake, transfer and close on both families
// as build_packet makes them, and two hand-written packets the builder cannot make
// (an IPv6 hop-by-hop header, unknown options). Text seeds live in fuzz/seeds/.
//   make_seeds DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "harness/packet/packet.h"
#include "harness/packet/tcp_options.h"

using namespace tcpfault;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

void write(const fs::path& dir, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::vector<SegmentSpec> conversation(Family f) {
  const bool v4 = f == Family::V4;
  const SockAddr client{Address::parse(v4 ? "198.18.1.1" : "2001:2:0:1::1"), 40000};
  const SockAddr server{Address::parse(v4 ? "198.18.2.1" : "2001:2:0:2::1"), 8080};
  namespace fl = tcp_flag;
  TcpOptions syn{.mss = v4 ? 1460 : 1440, .wscale = 7, .sack_permitted = true, .timestamp = {{1000, 0}}};
  TcpOptions ts{.timestamp = {{1010, 2000}}};
  TcpOptions sack{.sack_blocks = {{1001, 1449}, {2897, 4345}}, .timestamp = {{1020, 2010}}};
  return {
      {client, server, 100, 0, fl::SYN, 64240, syn},
      {server, client, 900, 101, fl::SYN | fl::ACK, 65160, syn},
      {client, server, 101, 901, fl::ACK, 502, ts},
      {client, server, 101, 901, fl::PSH | fl::ACK, 502, ts, std::vector<std::uint8_t>(100, 'x')},
      {server, client, 901, 201, fl::ACK, 509, sack},
      {client, server, 201, 901, fl::FIN | fl::ACK, 502, ts},
      {server, client, 901, 0, fl::RST, 0},
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 2;
  }
  const fs::path dir = argv[1];
  int n = 0;
  for (Family f : {Family::V4, Family::V6}) {
    for (const SegmentSpec& spec : conversation(f)) {
      const Packet p = build_packet(spec);
      const std::string name = "v" + std::to_string(static_cast<int>(f)) + "-" + std::to_string(n++);
      write(dir / "packet_parse", name, p.bytes);
      // The option seeds: an offset byte, then the area as it is in the packet.
      std::vector<std::uint8_t> area{0};
      area.insert(area.end(), p.bytes.begin() + p.ip_header_len + 20,
                  p.bytes.begin() + p.ip_header_len + p.tcp_header_len);
      if (area.size() > 1) write(dir / "tcp_options", name, area);
    }
  }
  // IPv6 with a hop-by-hop header (8 bytes, PadN) before a bare ACK. Parsed here, so
  // that a typo cannot turn it into a seed the parser rejects.
  const auto hop_by_hop = from_hex("60000000001c0040" "20010002000000010000000000000001" "20010002000000020000000000000001"
                 "0600010400000000" "9c401f90000000650000038550100200" "00000000");
  if (Packet::parse(hop_by_hop).ip_header_len != 48) throw PacketError("the hop-by-hop seed has no extension header");
  write(dir / "packet_parse", "v6-hop-by-hop", hop_by_hop);
  // MD5 signature (19), fast open cookie (34) and an experimental option (254).
  const auto unknown = from_hex("00" "1312000102030405060708090a0b0c0d0e0f" "220a0102030405060708" "fe04f989" "0101");
  if (split_tcp_options(std::span(unknown).subspan(1), 20).size() != 5) throw PacketError("the option seed does not split");
  write(dir / "tcp_options", "unknown-kinds", unknown);
  std::cout << "seeds written to " << dir << "\n";
}
