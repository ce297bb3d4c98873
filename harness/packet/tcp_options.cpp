#include "harness/packet/tcp_options.h"

#include "harness/packet/wire_bytes.h"

namespace tcpfault {
namespace {

namespace kind = tcp_option_kind;

std::string describe(std::uint8_t k) {
  return std::to_string(k) + " (" + tcp_option_name(k) + ")";
}

// Lengths fixed by the RFCs; 0 for kinds whose length varies or is not checked.
std::size_t required_length(std::uint8_t k) {
  switch (k) {
    case kind::MSS: return 4;
    case kind::WSCALE: return 3;
    case kind::SACK_PERMITTED: return 2;
    case kind::TIMESTAMP: return 10;
    default: return 0;
  }
}

void check_length(std::uint8_t k, std::size_t len, std::size_t offset) {
  const std::string where = " for kind " + describe(k) + " at offset " + std::to_string(offset);
  if (std::size_t want = required_length(k); want != 0 && len != want)
    throw PacketError("bad TCP option length " + std::to_string(len) + where + ": must be " +
                      std::to_string(want));
  if (k == kind::SACK && (len < 10 || (len - 2) % 8 != 0))
    throw PacketError("bad TCP option length " + std::to_string(len) + where +
                      ": must be 2 + 8 per block (10, 18, 26 or 34)");
}

}  // namespace

std::string tcp_option_name(std::uint8_t k) {
  switch (k) {
    case kind::EOL: return "end of options";
    case kind::NOP: return "no-operation";
    case kind::MSS: return "MSS";
    case kind::WSCALE: return "window scale";
    case kind::SACK_PERMITTED: return "SACK permitted";
    case kind::SACK: return "SACK";
    case kind::TIMESTAMP: return "timestamps";
    default: return "unknown";
  }
}

std::vector<RawTcpOption> split_tcp_options(std::span<const std::uint8_t> area,
                                            std::size_t area_offset) {
  std::vector<RawTcpOption> out;
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t k = area[i];
    const std::size_t offset = area_offset + i;
    if (k == kind::EOL || k == kind::NOP) {
      out.push_back({k, offset, {}});
      ++i;
      if (k == kind::EOL) break;  // the rest of the area is padding
      continue;
    }
    if (i + 1 >= area.size())
      throw PacketError("truncated TCP option " + describe(k) + " at offset " +
                        std::to_string(offset) + ": no room for its length byte");
    const std::size_t len = area[i + 1];
    if (len < 2)
      throw PacketError("bad TCP option length " + std::to_string(len) + " for kind " +
                        describe(k) + " at offset " + std::to_string(offset) +
                        ": must be at least 2");
    if (len > area.size() - i)
      throw PacketError("TCP option " + describe(k) + " at offset " + std::to_string(offset) +
                        " has length " + std::to_string(len) + " but only " +
                        std::to_string(area.size() - i) + " bytes are left in the TCP header");
    check_length(k, len, offset);
    out.push_back({k, offset, area.subspan(i + 2, len - 2)});
    i += len;
  }
  return out;
}

TcpOptions decode_tcp_options(std::span<const std::uint8_t> area, std::size_t area_offset) {
  TcpOptions opts;
  for (const RawTcpOption& o : split_tcp_options(area, area_offset)) {
    switch (o.kind) {
      case kind::MSS: opts.mss = wire::load16(o.data.data()); break;
      case kind::WSCALE: opts.wscale = o.data[0]; break;
      case kind::SACK_PERMITTED: opts.sack_permitted = true; break;
      case kind::TIMESTAMP:
        opts.timestamp = {wire::load32(o.data.data()), wire::load32(o.data.data() + 4)};
        break;
      case kind::SACK:
        opts.sack_blocks.clear();  // a repeated option replaces the earlier one
        for (std::size_t b = 0; b + 8 <= o.data.size(); b += 8)
          opts.sack_blocks.emplace_back(wire::load32(&o.data[b]), wire::load32(&o.data[b + 4]));
        break;
      default: break;  // EOL, NOP and kinds we do not interpret
    }
  }
  return opts;
}

std::vector<std::uint8_t> encode_tcp_options(const TcpOptions& options) {
  std::vector<std::uint8_t> out;
  auto put16 = [&](std::uint16_t v) {
    out.insert(out.end(), {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)});
  };
  auto put32 = [&](std::uint32_t v) {
    put16(static_cast<std::uint16_t>(v >> 16));
    put16(static_cast<std::uint16_t>(v));
  };

  if (options.mss) {
    out.insert(out.end(), {kind::MSS, 4});
    put16(*options.mss);
  }
  if (options.timestamp) {
    // Linux folds SACK-permitted into the two pad bytes in front of the timestamps.
    if (options.sack_permitted)
      out.insert(out.end(), {kind::SACK_PERMITTED, 2});
    else
      out.insert(out.end(), {kind::NOP, kind::NOP});
    out.insert(out.end(), {kind::TIMESTAMP, 10});
    put32(options.timestamp->first);
    put32(options.timestamp->second);
  }
  if (options.wscale) out.insert(out.end(), {kind::NOP, kind::WSCALE, 3, *options.wscale});
  if (options.sack_permitted && !options.timestamp)
    out.insert(out.end(), {kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2});
  if (!options.sack_blocks.empty()) {
    const std::size_t len = 2 + 8 * options.sack_blocks.size();
    if (len > kMaxTcpOptionBytes)
      throw PacketError(std::to_string(options.sack_blocks.size()) +
                        " SACK blocks do not fit in a TCP header (at most 4)");
    out.insert(out.end(), {kind::NOP, kind::NOP, kind::SACK, static_cast<std::uint8_t>(len)});
    for (const auto& [left, right] : options.sack_blocks) {
      put32(left);
      put32(right);
    }
  }
  while (out.size() % 4 != 0) out.push_back(kind::EOL);
  if (out.size() > kMaxTcpOptionBytes)
    throw PacketError("TCP options need " + std::to_string(out.size()) +
                      " bytes; a TCP header holds at most " +
                      std::to_string(kMaxTcpOptionBytes));
  return out;
}

}  // namespace tcpfault
