// Packet::parse on raw bytes, as the verdict loop hands them over (IPv4 or IPv6 with
// extension headers, TCP header and options). A packet that parses must also print,
// edit and rebuild: the fields are consistent with the bytes, a re-parse gives the same
// fields, an edit keeps the checksum valid, and build_packet from the parsed fields
// gives a packet that parses back to them.
#include <cstdint>
#include <span>

#include "fuzz/check.h"
#include "fuzz/options_equal.h"
#include "harness/packet/packet.h"

using namespace tcpfault;

namespace {

bool same_fields(const Packet& a, const Packet& b) {
  return a.family == b.family && a.src == b.src && a.dst == b.dst && a.ttl == b.ttl &&
         a.sport == b.sport && a.dport == b.dport && a.seq == b.seq && a.ack == b.ack &&
         a.flags == b.flags && a.window == b.window && a.payload_len == b.payload_len &&
         fuzz::same_options(a.options, b.options);
}

void check_edits(Packet p) {
  p.set_seq(p.seq + 1);
  p.set_ack(~p.ack);
  p.set_window(static_cast<std::uint16_t>(p.window ^ 0x5a5a));
  p.set_flags(static_cast<std::uint8_t>(p.flags ^ tcp_flag::PSH));
  FUZZ_CHECK(p.checksum_ok());
  const std::uint8_t x = 0xff;
  p.write_payload(p.payload_len / 2, std::span(&x, 1), true);
  FUZZ_CHECK(p.checksum_ok());
  Packet again = Packet::parse(p.bytes);
  FUZZ_CHECK(same_fields(p, again));
  p.strip_options();
  FUZZ_CHECK(p.checksum_ok());
  Packet stripped = Packet::parse(p.bytes);
  FUZZ_CHECK(stripped.tcp_header_len == p.tcp_header_len);
  FUZZ_CHECK(fuzz::same_options(stripped.options, TcpOptions{}));
}

void check_rebuild(const Packet& p) {
  SegmentSpec spec{p.source(), p.destination(), p.seq, p.ack, p.flags, p.window, p.options,
                   {p.payload().begin(), p.payload().end()}, p.ttl};
  Packet built;
  try {
    built = build_packet(spec);
  } catch (const PacketError&) {
    return;  // options or payload that do not fit a header built the Linux way
  }
  FUZZ_CHECK(built.checksum_ok());
  Packet back = Packet::parse(built.bytes);
  FUZZ_CHECK(same_fields(back, built));
  FUZZ_CHECK(back.src == p.src && back.dst == p.dst && back.seq == p.seq && back.ack == p.ack &&
             back.flags == p.flags && back.window == p.window && back.payload_len == p.payload_len);
  FUZZ_CHECK(fuzz::same_options(back.options, p.options));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Packet p;
  try {
    p = Packet::parse(std::span(data, size));
  } catch (const PacketError&) {
    return 0;
  }
  // The kept bytes are the input up to the IP length (link padding dropped), and the
  // headers and payload add up to them.
  FUZZ_CHECK(p.bytes.size() <= size);
  FUZZ_CHECK(std::equal(p.bytes.begin(), p.bytes.end(), data));
  FUZZ_CHECK(p.ip_header_len + p.tcp_header_len + p.payload_len == p.bytes.size());
  FUZZ_CHECK(p.tcp_header_len >= 20 && p.tcp_header_len <= 60 && p.tcp_header_len % 4 == 0);
  FUZZ_CHECK(p.payload().size() == p.payload_len);
  FUZZ_CHECK(p.family == (data[0] >> 4 == 4 ? Family::V4 : Family::V6));

  FUZZ_CHECK(!format_packet(p).empty());
  FUZZ_CHECK(!format_packet(p, RelativeTo{p.seq ^ 0x80000000u, p.ack + 7}).empty());
  (void)p.checksum_ok();

  Packet again = Packet::parse(p.bytes);
  FUZZ_CHECK(same_fields(p, again) && again.bytes == p.bytes);

  check_edits(p);
  check_rebuild(p);
  return 0;
}
