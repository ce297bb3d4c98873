// pcapng output: IP packets on named interfaces, a comment per packet saying what the
// harness did, a section comment saying what the file is. tcpdump -r and tshark -r
// read it back.
//
// Every interface has the link type LINUX_SLL2: its 20-byte header carries the packet's
// direction (In / Out), the one mark tcpdump prints for a packet read from a file (it
// shows no interface names, and libpcap 1.10 reads no file with two raw-IP interfaces).
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace tcpfault {

// The section header's options; empty ones are left out.
struct PcapngSection {
  std::string comment;      // opt_comment
  std::string hardware;     // shb_hardware ("x86_64")
  std::string os;           // shb_os ("Linux 6.1.0-27-amd64")
  std::string application;  // shb_userappl ("tcpfault 0.1.0")
};

struct PcapngInterface {
  std::string name;         // if_name: what tshark's frame.interface_name shows
  std::string description;  // if_description
};

// Whether the capturing side took the packet in or sent it on: the epb_flags direction
// and the SLL2 packet type (tcpdump prints "In" or "Out").
enum class PacketDirection { Inbound, Outbound };

struct PcapngPacket {
  std::uint32_t interface = 0;  // index in the writer's interfaces
  std::span<const std::uint8_t> ip_packet;
  std::uint64_t unix_ns = 0;    // wall-clock time in ns since the epoch
  PacketDirection direction = PacketDirection::Outbound;
  std::string comment;          // may be empty
  // The packet's length on the wire when `ip_packet` holds only its first bytes
  // (readers then show it as cut short); 0: the whole packet is there.
  std::size_t original_length = 0;
};

class PcapngWriter {
 public:
  // Creates (truncates) `path`; writes the section header and one interface block per
  // interface (nanosecond timestamps). Throws Error if the file cannot be made or no
  // interface is given.
  PcapngWriter(const std::string& path, const PcapngSection& section,
               const std::vector<PcapngInterface>& interfaces);
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // Throws Error for an interface the writer does not have, or a failed write.
  void write(const PcapngPacket& packet);
  void flush();

  // The 20-byte LINUX_SLL2 header in front of every packet.
  static constexpr std::size_t kLinkHeaderLength = 20;

 private:
  std::FILE* file_;
  std::string path_;
  std::size_t interfaces_;
};

}  // namespace tcpfault
