// The TCP option area (up to 40 bytes after the fixed header): split, decode, encode
// and print. Properties: split options lie inside the area in order, each of a length
// its kind allows; decode -> encode -> decode gives the same options (when they fit a
// header laid out the Linux way); a header carrying the area parses to the same options
// and prints.
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/options_equal.h"
#include "harness/packet/packet.h"
#include "harness/packet/tcp_options.h"

using namespace tcpfault;

namespace {

void check_split(std::span<const std::uint8_t> area, std::size_t area_offset) {
  std::vector<RawTcpOption> raw = split_tcp_options(area, area_offset);
  std::size_t next = area_offset;
  for (const RawTcpOption& o : raw) {
    FUZZ_CHECK(o.offset >= next);
    const bool single = o.kind == tcp_option_kind::EOL || o.kind == tcp_option_kind::NOP;
    FUZZ_CHECK(!single || o.data.empty());
    if (!single) {
      FUZZ_CHECK(o.data.data() == area.data() + (o.offset - area_offset) + 2);
      FUZZ_CHECK(o.offset - area_offset + 2 + o.data.size() <= area.size());
    }
    next = o.offset + (single ? 1 : 2 + o.data.size());
    if (o.kind == tcp_option_kind::MSS) FUZZ_CHECK(o.data.size() == 2);
    if (o.kind == tcp_option_kind::TIMESTAMP) FUZZ_CHECK(o.data.size() == 8);
    if (o.kind == tcp_option_kind::SACK) FUZZ_CHECK(o.data.size() % 8 == 0 && !o.data.empty());
  }
  // An EOL ends the list; nothing is split after it.
  for (std::size_t i = 0; i + 1 < raw.size(); ++i) FUZZ_CHECK(raw[i].kind != tcp_option_kind::EOL);
}

void check_round_trip(const TcpOptions& decoded) {
  std::vector<std::uint8_t> encoded;
  try {
    encoded = encode_tcp_options(decoded);
  } catch (const PacketError&) {
    return;  // e.g. four SACK blocks beside timestamps: more than 40 bytes that way
  }
  FUZZ_CHECK(encoded.size() % 4 == 0 && encoded.size() <= kMaxTcpOptionBytes);
  FUZZ_CHECK(fuzz::same_options(decode_tcp_options(encoded, 20), decoded));
}

// An IPv4 SYN-ACK whose TCP header carries `area` (padded with EOL to 4-byte words).
std::vector<std::uint8_t> packet_with(std::span<const std::uint8_t> area) {
  const std::size_t options = (area.size() + 3) / 4 * 4;
  std::vector<std::uint8_t> b(20 + 20 + options, 0);
  b[0] = 0x45;
  b[3] = static_cast<std::uint8_t>(b.size());
  b[8] = 64;
  b[9] = 6;
  const std::uint8_t addresses[] = {198, 18, 1, 1, 198, 18, 2, 1};
  std::copy(std::begin(addresses), std::end(addresses), b.begin() + 12);
  b[20] = 0x1f; b[21] = 0x90; b[22] = 0x9c; b[23] = 0x40;  // 8080 > 40000
  b[32] = static_cast<std::uint8_t>((20 + options) / 4 << 4);
  b[33] = tcp_flag::SYN | tcp_flag::ACK;
  std::copy(area.begin(), area.end(), b.begin() + 40);
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte says where the area starts in the packet (only for messages); a
  // larger area than a header holds is still split and decoded the same way.
  if (size == 0) return 0;
  const std::size_t area_offset = 20 + data[0] % 44;
  std::span<const std::uint8_t> area(data + 1, size - 1);
  TcpOptions decoded;
  try {
    decoded = decode_tcp_options(area, area_offset);
  } catch (const PacketError& e) {
    // Every refusal says at which byte.
    FUZZ_CHECK(std::string(e.what()).find("offset") != std::string::npos);
    return 0;
  }
  check_split(area, area_offset);
  check_round_trip(decoded);
  if (area.size() > kMaxTcpOptionBytes) return 0;

  Packet p = Packet::parse(packet_with(area));
  FUZZ_CHECK(fuzz::same_options(p.options, decoded));
  const std::string line = format_packet(p);
  FUZZ_CHECK(line.find("bad opt") == std::string::npos);
  return 0;
}
