// pcapng (draft-ietf-opsawg-pcapng): one section, one interface block per interface
// (LINUX_SLL2), one Enhanced Packet Block per packet. Blocks are written in host byte
// order, which the section header's byte-order magic announces to readers; the SLL2
// header inside a packet is in network order, as its format says.
#include "harness/trace/pcapng_writer.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "netns/error.h"

namespace tcpfault {
namespace {

constexpr std::uint32_t kSectionHeaderBlock = 0x0A0D0D0A;
constexpr std::uint32_t kInterfaceDescriptionBlock = 1;
constexpr std::uint32_t kEnhancedPacketBlock = 6;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr std::uint16_t kLinktypeLinuxSll2 = 276;
constexpr std::uint16_t kOptEndOfOpt = 0;
constexpr std::uint16_t kOptComment = 1;
constexpr std::uint16_t kShbHardware = 2;
constexpr std::uint16_t kShbOs = 3;
constexpr std::uint16_t kShbUserappl = 4;
constexpr std::uint16_t kIfName = 2;
constexpr std::uint16_t kIfDescription = 3;
constexpr std::uint16_t kIfTsresol = 9;
constexpr std::uint16_t kEpbFlags = 2;
constexpr std::uint8_t kNanoseconds = 9;  // if_tsresol: 10^-9 s
constexpr std::uint32_t kEpbInbound = 1, kEpbOutbound = 2;  // epb_flags bits 0-1
constexpr std::size_t kMaxOptionLength = 0xffff;

// The SLL2 header's fields (linux/if_packet.h, linux/if_arp.h).
constexpr std::uint16_t kEthertypeIpv4 = 0x0800, kEthertypeIpv6 = 0x86DD;
constexpr std::uint16_t kArphrdNone = 0xFFFE;  // no link-layer header: raw IP, as a tun device
constexpr std::uint8_t kPacketHost = 0, kPacketOutgoing = 4;  // tcpdump: "In", "Out"

// Builds one block: type, total length, body, options, total length again.
class Block {
 public:
  explicit Block(std::uint32_t type) {
    u32(type);
    u32(0);  // total length, filled in by finish()
  }

  void u16(std::uint16_t v) { raw(&v, sizeof v); }
  void u32(std::uint32_t v) { raw(&v, sizeof v); }
  void u64(std::uint64_t v) { raw(&v, sizeof v); }

  // Appends bytes and zero padding up to a 32-bit boundary.
  void padded(const void* data, std::size_t n) {
    raw(data, n);
    buf_.resize((buf_.size() + 3) & ~std::size_t{3}, 0);
  }

  void option(std::uint16_t code, const void* value, std::size_t len) {
    u16(code);
    u16(static_cast<std::uint16_t>(len));
    padded(value, len);
  }

  // A text option; empty text is left out, text past an option's 16-bit length is cut.
  void text(std::uint16_t code, const std::string& value) {
    if (!value.empty()) option(code, value.data(), std::min(value.size(), kMaxOptionLength));
  }

  void end_of_options() { option(kOptEndOfOpt, nullptr, 0); }

  const std::vector<std::uint8_t>& finish() {
    const auto total = static_cast<std::uint32_t>(buf_.size() + 4);
    std::memcpy(&buf_[4], &total, sizeof total);
    u32(total);
    return buf_;
  }

 private:
  void raw(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    buf_.insert(buf_.end(), p, p + n);
  }

  std::vector<std::uint8_t> buf_;
};

// The LINUX_SLL2 header: protocol, reserved, interface index, ARPHRD type, packet
// type, address length, address. The interface index is 0: the interfaces are the
// harness's, not the reading host's, whose names tcpdump would show for a real index.
std::array<std::uint8_t, PcapngWriter::kLinkHeaderLength> sll2_header(std::span<const std::uint8_t> ip,
                                                                       PacketDirection direction) {
  std::array<std::uint8_t, PcapngWriter::kLinkHeaderLength> h{};
  const std::uint16_t protocol = !ip.empty() && (ip[0] >> 4) == 6 ? kEthertypeIpv6 : kEthertypeIpv4;
  h[0] = static_cast<std::uint8_t>(protocol >> 8);
  h[1] = static_cast<std::uint8_t>(protocol);
  h[8] = static_cast<std::uint8_t>(kArphrdNone >> 8);
  h[9] = static_cast<std::uint8_t>(kArphrdNone);
  h[10] = direction == PacketDirection::Inbound ? kPacketHost : kPacketOutgoing;
  return h;
}

}  // namespace

PcapngWriter::PcapngWriter(const std::string& path, const PcapngSection& section,
                           const std::vector<PcapngInterface>& interfaces)
    : file_(nullptr), path_(path), interfaces_(interfaces.size()) {
  if (interfaces.empty()) throw Error("pcapng file " + path + ": give at least one interface to write packets on");
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr)
    throw_errno("cannot create pcapng file " + path,
                "check that the directory exists and is writable");

  std::vector<Block> blocks;
  Block& shb = blocks.emplace_back(kSectionHeaderBlock);
  shb.u32(kByteOrderMagic);
  shb.u16(1);  // major version
  shb.u16(0);  // minor version
  shb.u64(~std::uint64_t{0});  // section length: not given
  shb.text(kOptComment, section.comment);
  shb.text(kShbHardware, section.hardware);
  shb.text(kShbOs, section.os);
  shb.text(kShbUserappl, section.application);
  shb.end_of_options();

  for (const PcapngInterface& i : interfaces) {
    Block& idb = blocks.emplace_back(kInterfaceDescriptionBlock);
    idb.u16(kLinktypeLinuxSll2);
    idb.u16(0);  // reserved
    idb.u32(0);  // snap length: none
    idb.text(kIfName, i.name);
    idb.text(kIfDescription, i.description);
    idb.option(kIfTsresol, &kNanoseconds, 1);
    idb.end_of_options();
  }

  for (Block& b : blocks) {
    const auto& bytes = b.finish();
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
      const int err = errno;
      std::fclose(file_);
      throw SystemError("cannot write pcapng header to " + path, err);
    }
  }
}

PcapngWriter::~PcapngWriter() { std::fclose(file_); }

void PcapngWriter::write(const PcapngPacket& p) {
  if (p.interface >= interfaces_)
    throw Error("pcapng file " + path_ + ": no interface " + std::to_string(p.interface) + " (it has " +
                std::to_string(interfaces_) + ")");
  const auto link = sll2_header(p.ip_packet, p.direction);
  const std::size_t captured = link.size() + p.ip_packet.size();
  const std::size_t original = link.size() + std::max(p.original_length, p.ip_packet.size());
  Block epb(kEnhancedPacketBlock);
  epb.u32(p.interface);
  epb.u32(static_cast<std::uint32_t>(p.unix_ns >> 32));
  epb.u32(static_cast<std::uint32_t>(p.unix_ns));
  epb.u32(static_cast<std::uint32_t>(captured));
  epb.u32(static_cast<std::uint32_t>(original));
  std::vector<std::uint8_t> data(link.begin(), link.end());
  data.insert(data.end(), p.ip_packet.begin(), p.ip_packet.end());
  epb.padded(data.data(), data.size());
  const std::uint32_t flags = p.direction == PacketDirection::Inbound ? kEpbInbound : kEpbOutbound;
  epb.option(kEpbFlags, &flags, sizeof flags);
  epb.text(kOptComment, p.comment);
  epb.end_of_options();
  const auto& bytes = epb.finish();
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    throw_errno("cannot write packet to " + path_);
}

void PcapngWriter::flush() {
  if (std::fflush(file_) != 0) throw_errno("cannot flush " + path_);
}

}  // namespace tcpfault
