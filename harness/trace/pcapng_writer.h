// pcapng output: raw IP packets with a comment per packet saying what the harness did.
// tcpdump -r and tshark -r read it back.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace tcpfault {

class PcapngWriter {
 public:
  // Creates (truncates) `path`; writes the section header and one LINKTYPE_RAW
  // interface with nanosecond timestamps. Throws Error if the file cannot be made.
  explicit PcapngWriter(const std::string& path);
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // `unix_ns`: wall-clock time in ns since the epoch. `comment` may be empty.
  // `original_length`: the packet's length on the wire when `ip_packet` holds only its
  // first bytes (readers then show it as cut short); 0: the whole packet is there.
  void write(std::span<const std::uint8_t> ip_packet, std::uint64_t unix_ns,
             const std::string& comment, std::size_t original_length = 0);
  void flush();

 private:
  std::FILE* file_;
  std::string path_;
};

}  // namespace tcpfault
