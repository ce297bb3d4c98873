// TCP options on the wire: split into single options, decode into TcpOptions, encode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "harness/packet/packet.h"

namespace tcpfault {

namespace tcp_option_kind {
inline constexpr std::uint8_t EOL = 0;
inline constexpr std::uint8_t NOP = 1;
inline constexpr std::uint8_t MSS = 2;
inline constexpr std::uint8_t WSCALE = 3;
inline constexpr std::uint8_t SACK_PERMITTED = 4;
inline constexpr std::uint8_t SACK = 5;
inline constexpr std::uint8_t TIMESTAMP = 8;
}  // namespace tcp_option_kind

// The most option bytes a TCP header can carry (data offset 15 => 60 - 20).
inline constexpr std::size_t kMaxTcpOptionBytes = 40;

// One option as found on the wire.
struct RawTcpOption {
  std::uint8_t kind = 0;
  std::size_t offset = 0;              // of the kind byte, counted from the packet start
  std::span<const std::uint8_t> data;  // after the kind and length bytes
};

// "MSS", "timestamps", ... or "unknown" (for error messages).
std::string tcp_option_name(std::uint8_t kind);

// Splits the option area (header bytes 20 .. data offset) into options in wire order,
// up to and including an EOL. `area_offset` is where the area starts in the packet and
// only serves the error messages. Throws PacketError on a malformed length.
std::vector<RawTcpOption> split_tcp_options(std::span<const std::uint8_t> area,
                                            std::size_t area_offset);

// Splits and decodes the options this harness understands; unknown kinds are skipped.
TcpOptions decode_tcp_options(std::span<const std::uint8_t> area, std::size_t area_offset);

// Encodes in the order Linux uses (mss, sackOK+TS, nop+wscale, SACK blocks), padded
// with EOL to a multiple of 4 bytes. Throws PacketError if more than 40 bytes are needed.
std::vector<std::uint8_t> encode_tcp_options(const TcpOptions& options);

}  // namespace tcpfault
