// pcapng (draft-ietf-opsawg-pcapng): one section, one raw-IP interface, one Enhanced
// Packet Block per packet. Blocks are written in host byte order, which the section
// header's byte-order magic announces to readers.
#include "harness/trace/pcapng_writer.h"

#include <algorithm>
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
constexpr std::uint16_t kLinktypeRaw = 101;  // packets start with the IP header
constexpr std::uint16_t kOptEndOfOpt = 0;
constexpr std::uint16_t kOptComment = 1;
constexpr std::uint16_t kIfTsresol = 9;
constexpr std::uint8_t kNanoseconds = 9;  // if_tsresol: 10^-9 s
constexpr std::size_t kMaxOptionLength = 0xffff;

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

}  // namespace

PcapngWriter::PcapngWriter(const std::string& path)
    : file_(std::fopen(path.c_str(), "wb")), path_(path) {
  if (file_ == nullptr)
    throw_errno("cannot create pcapng file " + path,
                "check that the directory exists and is writable");

  Block shb(kSectionHeaderBlock);
  shb.u32(kByteOrderMagic);
  shb.u16(1);  // major version
  shb.u16(0);  // minor version
  shb.u64(~std::uint64_t{0});  // section length: not given
  shb.end_of_options();

  Block idb(kInterfaceDescriptionBlock);
  idb.u16(kLinktypeRaw);
  idb.u16(0);  // reserved
  idb.u32(0);  // snap length: none
  idb.option(kIfTsresol, &kNanoseconds, 1);
  idb.end_of_options();

  for (Block* b : {&shb, &idb}) {
    const auto& bytes = b->finish();
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
      const int err = errno;
      std::fclose(file_);
      throw SystemError("cannot write pcapng header to " + path, err);
    }
  }
}

PcapngWriter::~PcapngWriter() { std::fclose(file_); }

void PcapngWriter::write(std::span<const std::uint8_t> ip_packet, std::uint64_t unix_ns,
                         const std::string& comment, std::size_t original_length) {
  Block epb(kEnhancedPacketBlock);
  epb.u32(0);  // interface 0
  epb.u32(static_cast<std::uint32_t>(unix_ns >> 32));
  epb.u32(static_cast<std::uint32_t>(unix_ns));
  epb.u32(static_cast<std::uint32_t>(ip_packet.size()));  // captured length
  epb.u32(static_cast<std::uint32_t>(std::max(original_length, ip_packet.size())));  // original length
  epb.padded(ip_packet.data(), ip_packet.size());
  if (!comment.empty()) {
    // An option length is 16 bits; a longer comment is cut rather than lost.
    epb.option(kOptComment, comment.data(), std::min(comment.size(), kMaxOptionLength));
    epb.end_of_options();
  }
  const auto& bytes = epb.finish();
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    throw_errno("cannot write packet to " + path_);
}

void PcapngWriter::flush() {
  if (std::fflush(file_) != 0) throw_errno("cannot flush " + path_);
}

}  // namespace tcpfault
