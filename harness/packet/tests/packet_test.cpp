// Packet parsing, editing, crafting and printing. The sample packets below were
// assembled and checksummed outside this code base and cross-checked with tshark's
// checksum validation, so they are an independent reference.
#include "harness/packet/packet.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tcpfault {
namespace {

// 198.18.1.1:40000 > 198.18.2.1:8080 SYN, seq 0x1a2b3c4d, win 64240,
// options mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7; TTL 64, DF, ID 0.
const std::vector<std::uint8_t> kSynV4 = {
    0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xab, 0x95,
    0xc6, 0x12, 0x01, 0x01, 0xc6, 0x12, 0x02, 0x01, 0x9c, 0x40, 0x1f, 0x90,
    0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
    0xab, 0x9e, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};
// The first data segment: PSH|ACK, seq 0x1a2b3c4e, ack 0x5e6f7081, win 502,
// nop, nop, TS val 2 ecr 1, payload bytes 0..99.
const std::vector<std::uint8_t> kDataV4 = {
    0x45, 0x00, 0x00, 0x98, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xab, 0x39,
    0xc6, 0x12, 0x01, 0x01, 0xc6, 0x12, 0x02, 0x01, 0x9c, 0x40, 0x1f, 0x90,
    0x1a, 0x2b, 0x3c, 0x4e, 0x5e, 0x6f, 0x70, 0x81, 0x80, 0x18, 0x01, 0xf6,
    0x68, 0x29, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43,
    0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b,
    0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63,
};
// 2001:2:0:1::1:40000 > 2001:2:0:2::1:8080 FIN|ACK, seq 0x1a2b3cb2, ack 0x5e6f7081,
// win 502, no options.
const std::vector<std::uint8_t> kFinV6 = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, 0x20, 0x01, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x9c, 0x40, 0x1f, 0x90, 0x1a, 0x2b, 0x3c, 0xb2,
    0x5e, 0x6f, 0x70, 0x81, 0x50, 0x11, 0x01, 0xf6, 0x8c, 0x34, 0x00, 0x00,
};
// The SYN-ACK back, behind a hop-by-hop and a destination options header (PadN
// each): seq 0x5e6f7080, ack 0x1a2b3c4e, win 65160, mss 1440, sackOK, TS val 9
// ecr 1, nop, wscale 7.
const std::vector<std::uint8_t> kSynAckV6WithExtensions = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x40, 0x20, 0x01, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x90, 0x9c, 0x40,
    0x5e, 0x6f, 0x70, 0x80, 0x1a, 0x2b, 0x3c, 0x4e, 0xa0, 0x12, 0xfe, 0x88,
    0x28, 0x2d, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a,
    0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x01, 0x03, 0x03, 0x07,
};

constexpr std::uint32_t kClientIsn = 0x1a2b3c4d;
constexpr std::uint32_t kServerIsn = 0x5e6f7080;

using Bytes = std::vector<std::uint8_t>;

// A copy of `packet` with single bytes replaced: {offset, value} pairs.
Bytes patched(Bytes packet, std::initializer_list<std::pair<std::size_t, std::uint8_t>> edits) {
  for (auto [offset, value] : edits) packet.at(offset) = value;
  return packet;
}

// The message of the PacketError that parsing `bytes` throws ("" if it parses).
std::string parse_error(const Bytes& bytes) {
  try {
    Packet::parse(bytes);
  } catch (const PacketError& e) {
    return e.what();
  }
  return "";
}

// A second, deliberately naive TCP checksum: pseudo-header and segment as one byte
// string, summed word by word.
std::uint16_t reference_tcp_checksum(const Packet& p) {
  Bytes all(p.src.bytes.begin(), p.src.bytes.begin() + static_cast<long>(p.src.size()));
  all.insert(all.end(), p.dst.bytes.begin(), p.dst.bytes.begin() + static_cast<long>(p.dst.size()));
  const std::size_t tcp_len = p.bytes.size() - p.ip_header_len;
  for (int shift : {24, 16, 8, 0}) all.push_back(static_cast<std::uint8_t>(tcp_len >> shift));
  all.insert(all.end(), {0, 0, 0, 6});
  Bytes segment(p.bytes.begin() + static_cast<long>(p.ip_header_len), p.bytes.end());
  segment[16] = segment[17] = 0;
  all.insert(all.end(), segment.begin(), segment.end());
  if (all.size() % 2) all.push_back(0);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) sum += (all[i] << 8) | all[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::uint16_t stored_tcp_checksum(const Packet& p) {
  return static_cast<std::uint16_t>((p.bytes[p.ip_header_len + 16] << 8) |
                                    p.bytes[p.ip_header_len + 17]);
}

// A segment between two endpoints; options and payload are added by the caller.
SegmentSpec segment(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
                    std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                    std::uint16_t window) {
  SegmentSpec spec;
  spec.src = {Address::parse(src), sport};
  spec.dst = {Address::parse(dst), dport};
  spec.seq = seq;
  spec.ack = ack;
  spec.flags = flags;
  spec.window = window;
  return spec;
}

// ---------------------------------------------------------------- parsing

TEST(PacketParse, Ipv4SynWithOptions) {
  const Packet p = Packet::parse(kSynV4);
  EXPECT_EQ(p.bytes, kSynV4);
  EXPECT_EQ(p.family, Family::V4);
  EXPECT_EQ(p.src, Address::parse("198.18.1.1"));
  EXPECT_EQ(p.dst, Address::parse("198.18.2.1"));
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.ip_header_len, 20u);
  EXPECT_EQ(p.sport, 40000);
  EXPECT_EQ(p.dport, 8080);
  EXPECT_EQ(p.seq, kClientIsn);
  EXPECT_EQ(p.ack, 0u);
  EXPECT_EQ(p.flags, tcp_flag::SYN);
  EXPECT_EQ(p.window, 64240);
  EXPECT_EQ(p.tcp_header_len, 40u);
  EXPECT_EQ(p.payload_len, 0u);
  EXPECT_TRUE(p.payload().empty());
  EXPECT_EQ(p.seq_len(), 1u);
  EXPECT_EQ(p.options.mss, 1460);
  EXPECT_EQ(p.options.wscale, 7);
  EXPECT_TRUE(p.options.sack_permitted);
  EXPECT_TRUE(p.options.sack_blocks.empty());
  ASSERT_TRUE(p.options.timestamp);
  EXPECT_EQ(*p.options.timestamp, std::make_pair(1u, 0u));
  EXPECT_EQ(p.source().str(), "198.18.1.1:40000");
  EXPECT_EQ(p.destination().str(), "198.18.2.1:8080");
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketParse, Ipv4DataSegment) {
  const Packet p = Packet::parse(kDataV4);
  EXPECT_EQ(p.flags, tcp_flag::PSH | tcp_flag::ACK);
  EXPECT_EQ(p.seq, kClientIsn + 1);
  EXPECT_EQ(p.ack, kServerIsn + 1);
  EXPECT_EQ(p.window, 502);
  EXPECT_EQ(p.tcp_header_len, 32u);
  EXPECT_EQ(p.payload_len, 100u);
  EXPECT_EQ(p.seq_len(), 100u);
  ASSERT_EQ(p.payload().size(), 100u);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(p.payload()[i], i);
  EXPECT_FALSE(p.options.mss);
  EXPECT_EQ(p.options.timestamp, std::make_pair(2u, 1u));
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketParse, Ipv6Fin) {
  const Packet p = Packet::parse(kFinV6);
  EXPECT_EQ(p.family, Family::V6);
  EXPECT_EQ(p.src, Address::parse("2001:2:0:1::1"));
  EXPECT_EQ(p.dst, Address::parse("2001:2:0:2::1"));
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.ip_header_len, 40u);
  EXPECT_EQ(p.flags, tcp_flag::FIN | tcp_flag::ACK);
  EXPECT_EQ(p.tcp_header_len, 20u);
  EXPECT_EQ(p.payload_len, 0u);
  EXPECT_EQ(p.seq_len(), 1u);
  EXPECT_EQ(p.source().str(), "[2001:2:0:1::1]:40000");
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketParse, Ipv6SynAckBehindExtensionHeaders) {
  const Packet p = Packet::parse(kSynAckV6WithExtensions);
  EXPECT_EQ(p.ip_header_len, 56u);
  EXPECT_EQ(p.sport, 8080);
  EXPECT_EQ(p.flags, tcp_flag::SYN | tcp_flag::ACK);
  EXPECT_EQ(p.seq, kServerIsn);
  EXPECT_EQ(p.ack, kClientIsn + 1);
  EXPECT_EQ(p.options.mss, 1440);
  EXPECT_EQ(p.options.timestamp, std::make_pair(9u, 1u));
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketParse, Ipv6RoutingHeaderIsWalked) {
  // FIN behind a routing header (type 4, segments left 0) then destination options.
  Bytes b(kFinV6.begin(), kFinV6.begin() + 40);
  b[6] = 43;
  b[5] = 20 + 16;
  b.insert(b.end(), {60, 0, 4, 0, 0, 0, 0, 0});   // routing: next = dest opts
  b.insert(b.end(), {6, 0, 1, 4, 0, 0, 0, 0});    // dest opts (PadN): next = TCP
  b.insert(b.end(), kFinV6.begin() + 40, kFinV6.end());
  const Packet p = Packet::parse(b);
  EXPECT_EQ(p.ip_header_len, 56u);
  EXPECT_EQ(p.dport, 8080);
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketParse, Ipv4HeaderOptionsAreSkipped) {
  Bytes b(kSynV4.begin(), kSynV4.begin() + 20);
  b[0] = 0x46;  // IHL 6
  b[3] = 64;    // total length
  b.insert(b.end(), {1, 1, 1, 0});  // NOP NOP NOP EOL
  b.insert(b.end(), kSynV4.begin() + 20, kSynV4.end());
  const Packet p = Packet::parse(b);  // the stale IP header checksum is not checked
  EXPECT_EQ(p.ip_header_len, 24u);
  EXPECT_EQ(p.sport, 40000);
  EXPECT_EQ(p.options.mss, 1460);
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketParse, TrailingLinkPaddingIsDropped) {
  Bytes b = kFinV6;
  b.insert(b.end(), 6, 0);
  EXPECT_EQ(Packet::parse(b).bytes, kFinV6);
}

TEST(PacketParse, UnknownOptionIsSkippedByLength) {
  // Replace "nop, wscale 7" by an experimental option (kind 254, length 4).
  const Packet p = Packet::parse(patched(kSynV4, {{56, 254}, {57, 4}, {58, 0xab}, {59, 0xcd}}));
  EXPECT_FALSE(p.options.wscale);
  EXPECT_EQ(p.options.mss, 1460);
  EXPECT_TRUE(p.options.timestamp);
}

TEST(PacketParse, EndOfOptionListStopsTheWalk) {
  // After EOL the rest is padding, even if it looks like a bad option.
  const Packet p = Packet::parse(patched(kSynV4, {{56, 0}, {57, 3}, {58, 9}, {59, 9}}));
  EXPECT_FALSE(p.options.wscale);
  EXPECT_EQ(p.options.mss, 1460);
}

TEST(PacketParse, SackBlocks) {
  SegmentSpec spec = segment("198.18.2.1", 8080, "198.18.1.1", 40000, kServerIsn + 1,
                             kClientIsn + 1, tcp_flag::ACK, 500);
  spec.options.sack_blocks = {{kClientIsn + 1001, kClientIsn + 2001},
                              {kClientIsn + 3001, kClientIsn + 4001}};
  const Packet p = Packet::parse(build_packet(spec).bytes);
  EXPECT_EQ(p.options.sack_blocks, spec.options.sack_blocks);
}

// ---------------------------------------------------------------- rejection

TEST(PacketReject, EveryPrefixParsesOrThrowsPacketError) {
  for (const Bytes* sample : {&kSynV4, &kDataV4, &kFinV6, &kSynAckV6WithExtensions}) {
    for (std::size_t n = 0; n < sample->size(); ++n) {
      // The copy makes every read past `n` a heap overflow that ASan would report.
      const Bytes prefix(sample->begin(), sample->begin() + static_cast<long>(n));
      EXPECT_THROW(Packet::parse(prefix), PacketError) << "prefix of " << n << " bytes";
    }
    EXPECT_NO_THROW(Packet::parse(*sample));
  }
}

TEST(PacketReject, TruncationMessages) {
  EXPECT_EQ(parse_error({}), "empty packet: no IP header at offset 0");
  EXPECT_EQ(parse_error(Bytes(kSynV4.begin(), kSynV4.begin() + 10)),
            "truncated IPv4 header: need 20 bytes at offset 0, have 10");
  EXPECT_EQ(parse_error(Bytes(kSynV4.begin(), kSynV4.begin() + 50)),
            "truncated IPv4 packet: total length 60 at offset 2, have 50 bytes");
  EXPECT_EQ(parse_error(Bytes(kFinV6.begin(), kFinV6.begin() + 39)),
            "truncated IPv6 header: need 40 bytes at offset 0, have 39");
  EXPECT_EQ(parse_error(Bytes(kFinV6.begin(), kFinV6.begin() + 50)),
            "truncated IPv6 packet: payload length 20 at offset 4, have 10 bytes after the "
            "40-byte header");

  // A packet whose IP length agrees with a buffer too short for TCP.
  Bytes short_tcp(kSynV4.begin(), kSynV4.begin() + 32);
  short_tcp[3] = 32;
  EXPECT_EQ(parse_error(short_tcp), "truncated TCP header: need 20 bytes at offset 20, have 12");
  Bytes short_ext(kSynAckV6WithExtensions.begin(), kSynAckV6WithExtensions.begin() + 52);
  short_ext[5] = 12;
  EXPECT_EQ(parse_error(short_ext),
            "truncated IPv6 destination options header: need 8 bytes at offset 48, have 4");
}

TEST(PacketReject, BadIpFields) {
  EXPECT_EQ(parse_error(patched(kSynV4, {{0, 0x55}})),
            "unknown IP version 5 at offset 0 (expected 4 or 6)");
  EXPECT_EQ(parse_error(patched(kSynV4, {{0, 0x44}})),
            "bad IPv4 header length: IHL 4 (16 bytes) at offset 0, minimum is 5 (20 bytes)");
  EXPECT_EQ(parse_error(patched(kSynV4, {{3, 10}})),
            "bad IPv4 total length 10 at offset 2: shorter than its 20-byte header");
  EXPECT_EQ(parse_error(patched(kSynV4, {{0, 0x4f}})),
            "truncated TCP header: need 20 bytes at offset 60, have 0");
  EXPECT_EQ(parse_error(patched(kSynV4, {{9, 17}})), "not TCP: IP protocol 17 (UDP)");
  EXPECT_EQ(parse_error(patched(kSynV4, {{9, 200}})), "not TCP: IP protocol 200");
  EXPECT_EQ(parse_error(patched(kSynV4, {{6, 0x20}})),
            "IPv4 fragment at offset 6 (MF=1, fragment offset 0): fragments are not reassembled");
  EXPECT_EQ(parse_error(patched(kSynV4, {{6, 0x40}, {7, 0x10}})),
            "IPv4 fragment at offset 6 (MF=0, fragment offset 128): fragments are not "
            "reassembled");
  EXPECT_EQ(parse_error(patched(kFinV6, {{6, 58}})), "not TCP: IP protocol 58 (ICMPv6)");
  EXPECT_EQ(parse_error(patched(kFinV6, {{6, 44}})),
            "IPv6 fragment header at offset 40: fragments are not reassembled");
  EXPECT_EQ(parse_error(patched(kSynAckV6WithExtensions, {{48, 44}})),
            "IPv6 fragment header at offset 56: fragments are not reassembled");
  EXPECT_EQ(parse_error(patched(kSynAckV6WithExtensions, {{41, 9}})),
            "truncated IPv6 hop-by-hop options header: length byte at offset 41 says 80 "
            "bytes, have 56");
}

TEST(PacketReject, BadTcpDataOffset) {
  EXPECT_EQ(parse_error(patched(kSynV4, {{32, 0x40}})),
            "bad TCP data offset 4 (16 bytes) at offset 32: minimum is 5 (20 bytes)");
  EXPECT_EQ(parse_error(patched(kSynV4, {{32, 0xf0}})),
            "truncated TCP header: data offset 15 at offset 32 says 60 bytes, have 40");
}

TEST(PacketReject, BadOptionLengths) {
  EXPECT_EQ(parse_error(patched(kSynV4, {{41, 5}})),
            "bad TCP option length 5 for kind 2 (MSS) at offset 40: must be 4");
  EXPECT_EQ(parse_error(patched(kSynV4, {{41, 1}})),
            "bad TCP option length 1 for kind 2 (MSS) at offset 40: must be at least 2");
  EXPECT_EQ(parse_error(patched(kSynV4, {{47, 0}})),
            "bad TCP option length 0 for kind 8 (timestamps) at offset 46: must be at least 2");
  EXPECT_EQ(parse_error(patched(kSynV4, {{47, 16}})),
            "TCP option 8 (timestamps) at offset 46 has length 16 but only 14 bytes are left "
            "in the TCP header");
  EXPECT_EQ(parse_error(patched(kSynV4, {{58, 4}})),
            "TCP option 3 (window scale) at offset 57 has length 4 but only 3 bytes are left "
            "in the TCP header");
  EXPECT_EQ(parse_error(patched(kSynV4, {{47, 12}})),
            "bad TCP option length 12 for kind 8 (timestamps) at offset 46: must be 10");
  EXPECT_EQ(parse_error(patched(kSynV4, {{45, 3}})),
            "bad TCP option length 3 for kind 4 (SACK permitted) at offset 44: must be 2");
  EXPECT_EQ(parse_error(patched(kSynV4, {{56, 1}, {57, 1}, {58, 1}, {59, 3}})),
            "truncated TCP option 3 (window scale) at offset 59: no room for its length byte");
  // A SACK option must carry whole 8-byte blocks.
  EXPECT_EQ(parse_error(patched(kSynV4, {{44, 5}, {45, 7}})),
            "bad TCP option length 7 for kind 5 (SACK) at offset 44: must be 2 + 8 per block "
            "(10, 18, 26 or 34)");
  EXPECT_EQ(parse_error(patched(kSynV4, {{44, 5}, {45, 2}})),
            "bad TCP option length 2 for kind 5 (SACK) at offset 44: must be 2 + 8 per block "
            "(10, 18, 26 or 34)");
}

TEST(PacketReject, RandomMutationsOnlyEverThrowPacketError) {
  const std::vector<const Bytes*> samples = {&kSynV4, &kDataV4, &kFinV6,
                                             &kSynAckV6WithExtensions};
  std::mt19937 rng(20240611);  // fixed: a failure must reproduce
  int parsed = 0, rejected = 0;
  for (int round = 0; round < 50000; ++round) {
    Bytes b = *samples[rng() % samples.size()];
    // Mutations land mostly in the headers, where the parser makes its decisions.
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % std::min<std::size_t>(b.size(), 100);
      switch (rng() % 4) {
        case 0: b[at] = static_cast<std::uint8_t>(rng()); break;
        case 1: b[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 2: b.resize(rng() % (b.size() + 1)); break;
        default: b.insert(b.end(), rng() % 16, static_cast<std::uint8_t>(rng())); break;
      }
      if (b.empty()) break;
    }
    try {
      const Packet p = Packet::parse(b);
      ++parsed;
      // Whatever parses must also be safe to use.
      (void)format_packet(p);
      (void)p.checksum_ok();
      EXPECT_LE(p.payload().size(), p.bytes.size());
      EXPECT_EQ(p.ip_header_len + p.tcp_header_len + p.payload_len, p.bytes.size());
    } catch (const PacketError&) {
      ++rejected;
    }
  }
  // Both outcomes must be common, or the mutations test nothing.
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(rejected, 1000);
}

// ---------------------------------------------------------------- checksums and edits

TEST(PacketChecksum, AgreesWithTheReference) {
  for (const Bytes* sample : {&kSynV4, &kDataV4, &kFinV6, &kSynAckV6WithExtensions}) {
    Packet p = Packet::parse(*sample);
    EXPECT_TRUE(p.checksum_ok());
    EXPECT_EQ(stored_tcp_checksum(p), reference_tcp_checksum(p));
    p.bytes[p.ip_header_len + 16] ^= 0xff;
    p.bytes[p.ip_header_len + 17] ^= 0x0f;
    EXPECT_FALSE(p.checksum_ok());
    p.update_checksum();
    EXPECT_EQ(p.bytes, *sample);
  }
}

TEST(PacketChecksum, DetectsACorruptPayload) {
  Packet p = Packet::parse(kDataV4);
  p.bytes.back() ^= 0x01;
  EXPECT_FALSE(p.checksum_ok());
}

TEST(PacketChecksum, AllOnesIsTheSameAsZero) {
  // Ones' complement has two zeros; a sender may store either.
  Packet p = Packet::parse(kFinV6);
  // Adding the checksum to the window (ones' complement) makes the new checksum zero.
  const std::uint32_t window = std::uint32_t{p.window} + stored_tcp_checksum(p);
  p.set_window(static_cast<std::uint16_t>((window & 0xffff) + (window >> 16)));
  ASSERT_EQ(stored_tcp_checksum(p), 0);
  p.bytes[56] = p.bytes[57] = 0xff;
  EXPECT_TRUE(p.checksum_ok());
}

TEST(PacketEdit, SettersRewriteBytesAndChecksum) {
  for (const Bytes* sample : {&kSynV4, &kDataV4, &kFinV6, &kSynAckV6WithExtensions}) {
    Packet p = Packet::parse(*sample);
    const std::size_t t = p.ip_header_len;
    p.set_window(1234);
    p.set_seq(0xdeadbeef);
    p.set_ack(0x01020304);
    p.set_flags(tcp_flag::RST | tcp_flag::ACK);
    EXPECT_TRUE(p.checksum_ok());
    EXPECT_EQ(stored_tcp_checksum(p), reference_tcp_checksum(p));
    EXPECT_EQ(p.bytes[t + 14], 1234 >> 8);
    EXPECT_EQ(p.bytes[t + 15], 1234 & 0xff);
    EXPECT_EQ(p.bytes[t + 4], 0xde);
    EXPECT_EQ(p.bytes[t + 11], 0x04);
    EXPECT_EQ(p.bytes[t + 13], tcp_flag::RST | tcp_flag::ACK);

    const Packet again = Packet::parse(p.bytes);
    EXPECT_EQ(again.window, 1234);
    EXPECT_EQ(again.seq, 0xdeadbeef);
    EXPECT_EQ(again.ack, 0x01020304u);
    EXPECT_EQ(again.flags, tcp_flag::RST | tcp_flag::ACK);
    // Only the edited fields and the checksum differ from the original.
    for (std::size_t i = 0; i < p.bytes.size(); ++i) {
      const bool edited = i >= t + 4 && i < t + 18 && i != t + 12;
      if (!edited) {
        EXPECT_EQ(p.bytes[i], (*sample)[i]) << "byte " << i;
      }
    }
  }
}

TEST(PacketEdit, StripOptionsLeavesNops) {
  Packet p = Packet::parse(kSynV4);
  p.strip_options();
  EXPECT_TRUE(p.checksum_ok());
  EXPECT_EQ(p.tcp_header_len, 40u);
  EXPECT_FALSE(p.options.mss);
  EXPECT_FALSE(p.options.timestamp);
  for (std::size_t i = 40; i < 60; ++i) EXPECT_EQ(p.bytes[i], 1) << "byte " << i;
  const Packet again = Packet::parse(p.bytes);
  EXPECT_FALSE(again.options.mss);
  EXPECT_FALSE(again.options.wscale);
  EXPECT_FALSE(again.options.sack_permitted);
}

TEST(PacketEdit, AHandMadePacketCannotBeEdited) {
  Packet p;
  p.ip_header_len = 20;
  EXPECT_THROW(p.set_window(1), PacketError);
  EXPECT_THROW((void)p.checksum_ok(), PacketError);
}

// ---------------------------------------------------------------- crafting

SegmentSpec client_syn_v4() {
  SegmentSpec spec = segment("198.18.1.1", 40000, "198.18.2.1", 8080, kClientIsn, 0,
                             tcp_flag::SYN, 64240);
  spec.options.mss = 1460;
  spec.options.sack_permitted = true;
  spec.options.timestamp = {1, 0};
  spec.options.wscale = 7;
  return spec;
}

TEST(PacketBuild, Ipv4SynMatchesTheReferenceBytes) {
  const Packet p = build_packet(client_syn_v4());
  EXPECT_EQ(p.bytes, kSynV4);  // includes the IPv4 header checksum, DF and ID 0
}

TEST(PacketBuild, Ipv6FinMatchesTheReferenceBytes) {
  const SegmentSpec spec = segment("2001:2:0:1::1", 40000, "2001:2:0:2::1", 8080, 0x1a2b3cb2,
                                   kServerIsn + 1, tcp_flag::FIN | tcp_flag::ACK, 502);
  EXPECT_EQ(build_packet(spec).bytes, kFinV6);
}

TEST(PacketBuild, RoundTripsThroughParse) {
  const std::pair<const char*, const char*> ends[] = {{"198.18.2.1", "198.18.1.1"},
                                                      {"2001:2:0:2::1", "2001:2:0:1::1"}};
  for (const auto& [src, dst] : ends) {
    // The sequence number wraps within the payload.
    SegmentSpec spec = segment(src, 8080, dst, 40000, 0xfffffff0, 77,
                               tcp_flag::PSH | tcp_flag::ACK, 0xffff);
    spec.payload = Bytes(33, 0x5a);
    spec.ttl = 3;
    spec.options.timestamp = {0xffffffff, 12345};
    spec.options.sack_blocks = {{1, 2}, {3, 4}};
    const Packet p = build_packet(spec);
    const Packet q = Packet::parse(p.bytes);
    EXPECT_TRUE(q.checksum_ok());
    EXPECT_EQ(stored_tcp_checksum(q), reference_tcp_checksum(q));
    EXPECT_EQ(q.source(), spec.src);
    EXPECT_EQ(q.destination(), spec.dst);
    EXPECT_EQ(q.seq, spec.seq);
    EXPECT_EQ(q.ack, spec.ack);
    EXPECT_EQ(q.flags, spec.flags);
    EXPECT_EQ(q.window, spec.window);
    EXPECT_EQ(q.ttl, 3);
    EXPECT_EQ(q.tcp_header_len % 4, 0u);
    EXPECT_EQ(q.options.timestamp, spec.options.timestamp);
    EXPECT_EQ(q.options.sack_blocks, spec.options.sack_blocks);
    EXPECT_FALSE(q.options.mss);
    EXPECT_EQ(Bytes(q.payload().begin(), q.payload().end()), spec.payload);
  }
}

TEST(PacketBuild, OptionsArePaddedToWholeWords) {
  SegmentSpec spec = client_syn_v4();
  spec.options = {};
  spec.options.mss = 536;
  spec.options.wscale = 14;  // nop + 3 bytes
  const Packet p = build_packet(spec);
  EXPECT_EQ(p.tcp_header_len, 28u);
  EXPECT_EQ(format_packet(p),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [S], seq 439041101, win 64240, "
            "options [mss 536,nop,wscale 14], length 0");
}

TEST(PacketBuild, RejectsWhatCannotBeSent) {
  SegmentSpec too_many_options = client_syn_v4();
  too_many_options.options.sack_blocks = {{1, 2}, {3, 4}, {5, 6}};
  EXPECT_THROW(build_packet(too_many_options), PacketError);

  SegmentSpec mixed = client_syn_v4();
  mixed.dst.addr = Address::parse("2001:2:0:2::1");
  EXPECT_THROW(build_packet(mixed), PacketError);

  SegmentSpec huge = client_syn_v4();
  huge.payload.resize(70000);
  EXPECT_THROW(build_packet(huge), PacketError);
}

// ---------------------------------------------------------------- printing

TEST(PacketFormat, FlagsLikeTcpdump) {
  EXPECT_EQ(flags_string(0), "none");
  EXPECT_EQ(flags_string(tcp_flag::SYN), "S");
  EXPECT_EQ(flags_string(tcp_flag::SYN | tcp_flag::ACK), "S.");
  EXPECT_EQ(flags_string(tcp_flag::ACK), ".");
  EXPECT_EQ(flags_string(tcp_flag::PSH | tcp_flag::ACK), "P.");
  EXPECT_EQ(flags_string(tcp_flag::FIN | tcp_flag::ACK), "F.");
  EXPECT_EQ(flags_string(tcp_flag::RST), "R");
  EXPECT_EQ(flags_string(tcp_flag::RST | tcp_flag::ACK), "R.");
  EXPECT_EQ(flags_string(tcp_flag::SYN | tcp_flag::ECE | tcp_flag::CWR), "SEW");
  EXPECT_EQ(flags_string(tcp_flag::URG | tcp_flag::ACK), ".U");
}

TEST(PacketFormat, FlagsFromLettersReadsWhatFlagsStringWrites) {
  for (int flags = 1; flags < 256; ++flags)
    EXPECT_EQ(flags_from_letters(flags_string(static_cast<std::uint8_t>(flags))), flags);
  EXPECT_EQ(flags_from_letters("fa"), tcp_flag::FIN | tcp_flag::ACK);  // A and . are both ACK
  EXPECT_EQ(flags_from_letters(""), 0);
  EXPECT_EQ(flags_from_letters("SX"), std::nullopt);
  EXPECT_EQ(flag_bit('x'), std::nullopt);
}

TEST(PacketFormat, AbsoluteSequenceNumbers) {
  EXPECT_EQ(format_packet(Packet::parse(kSynV4)),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [S], seq 439041101, win 64240, "
            "options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0");
  EXPECT_EQ(format_packet(Packet::parse(kDataV4)),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [P.], seq 439041102:439041202, "
            "ack 1584361601, win 502, options [nop,nop,TS val 2 ecr 1], length 100");
}

TEST(PacketFormat, RelativeSequenceNumbers) {
  const RelativeTo client{kClientIsn, kServerIsn};
  const RelativeTo server{kServerIsn, kClientIsn};
  EXPECT_EQ(format_packet(Packet::parse(kSynV4), client),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [S], seq 0, win 64240, "
            "options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0");
  EXPECT_EQ(format_packet(Packet::parse(kSynAckV6WithExtensions), server),
            "2001:2:0:2::1.8080 > 2001:2:0:1::1.40000: Flags [S.], seq 0, ack 1, win 65160, "
            "options [mss 1440,sackOK,TS val 9 ecr 1,nop,wscale 7], length 0");
  EXPECT_EQ(format_packet(Packet::parse(kDataV4), client),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [P.], seq 1:101, ack 1, win 502, "
            "options [nop,nop,TS val 2 ecr 1], length 100");
  EXPECT_EQ(format_packet(Packet::parse(kFinV6), client),
            "2001:2:0:1::1.40000 > 2001:2:0:2::1.8080: Flags [F.], seq 101, ack 1, win 502, "
            "length 0");
}

TEST(PacketFormat, BareAckHasNoSeq) {
  Packet p = Packet::parse(kFinV6);
  p.set_flags(tcp_flag::ACK);
  EXPECT_EQ(format_packet(p, RelativeTo{kClientIsn, kServerIsn}),
            "2001:2:0:1::1.40000 > 2001:2:0:2::1.8080: Flags [.], ack 1, win 502, length 0");
}

TEST(PacketFormat, ResetAndUrgent) {
  Packet p = Packet::parse(kFinV6);
  p.set_flags(tcp_flag::RST);
  p.set_window(0);
  EXPECT_EQ(format_packet(p),
            "2001:2:0:1::1.40000 > 2001:2:0:2::1.8080: Flags [R], seq 439041202, win 0, "
            "length 0");
  p.set_flags(tcp_flag::URG | tcp_flag::ACK);
  EXPECT_EQ(format_packet(p, RelativeTo{kClientIsn, kServerIsn}),
            "2001:2:0:1::1.40000 > 2001:2:0:2::1.8080: Flags [.U], ack 1, win 0, urg 0, "
            "length 0");
}

TEST(PacketFormat, SackBlocksAreRelativeToTheReceiversIsn) {
  SegmentSpec spec = segment("198.18.2.1", 8080, "198.18.1.1", 40000, kServerIsn + 1,
                             kClientIsn + 1, tcp_flag::ACK, 500);
  spec.options.timestamp = {10, 2};
  spec.options.sack_blocks = {{kClientIsn + 1001, kClientIsn + 2001}};
  const Packet p = build_packet(spec);
  EXPECT_EQ(format_packet(p, RelativeTo{kServerIsn, kClientIsn}),
            "198.18.2.1.8080 > 198.18.1.1.40000: Flags [.], ack 1, win 500, "
            "options [nop,nop,TS val 10 ecr 2,nop,nop,sack 1 {1001:2001}], length 0");
}

TEST(PacketFormat, OptionsInWireOrderIncludingUnknownAndEol) {
  EXPECT_EQ(format_packet(Packet::parse(
                patched(kSynV4, {{56, 254}, {57, 4}, {58, 0xab}, {59, 0xcd}})),
                          RelativeTo{kClientIsn, 0}),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [S], seq 0, win 64240, "
            "options [mss 1460,sackOK,TS val 1 ecr 0,exp abcd], length 0");
  EXPECT_EQ(format_packet(Packet::parse(patched(kSynV4, {{56, 1}, {57, 1}, {58, 1}, {59, 0}})),
                          RelativeTo{kClientIsn, 0}),
            "198.18.1.1.40000 > 198.18.2.1.8080: Flags [S], seq 0, win 64240, "
            "options [mss 1460,sackOK,TS val 1 ecr 0,nop,nop,nop,eol], length 0");
}

}  // namespace
}  // namespace tcpfault
