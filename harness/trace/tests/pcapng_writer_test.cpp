// PcapngWriter: the file's block structure, and what tcpdump, tshark and capinfos read
// back: interface names, directions, comments, the section's options.
#include "harness/trace/pcapng_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "harness/packet/packet.h"
#include "harness/trace/tests/read_back.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

using namespace read_back;
using Bytes = std::vector<std::uint8_t>;

// Reads a value in host byte order, the order the writer uses.
template <typename T>
T host_at(const Bytes& b, std::size_t offset) {
  if (offset > b.size() || b.size() - offset < sizeof(T))
    throw std::out_of_range("read past the end of the file at " + std::to_string(offset));
  T v;
  std::memcpy(&v, b.data() + offset, sizeof v);
  return v;
}

std::uint32_t u32_at(const Bytes& b, std::size_t offset) { return host_at<std::uint32_t>(b, offset); }
std::uint16_t u16_at(const Bytes& b, std::size_t offset) { return host_at<std::uint16_t>(b, offset); }
std::uint16_t be16_at(const Bytes& b, std::size_t offset) {
  return static_cast<std::uint16_t>(b.at(offset) << 8 | b.at(offset + 1));
}

// A block's options from `offset` on: code -> value, in the order written.
std::vector<std::pair<std::uint16_t, std::string>> options_at(const Bytes& b, std::size_t offset, std::size_t end) {
  std::vector<std::pair<std::uint16_t, std::string>> out;
  while (offset + 4 <= end) {
    const std::uint16_t code = u16_at(b, offset), len = u16_at(b, offset + 2);
    if (code == 0) break;
    out.emplace_back(code, std::string(b.begin() + static_cast<long>(offset + 4),
                                       b.begin() + static_cast<long>(offset + 4 + len)));
    offset += 4 + ((len + 3u) & ~3u);
  }
  return out;
}

Packet v4_packet(std::uint8_t flags, std::size_t payload) {
  SegmentSpec spec;
  spec.src = {Address::parse("198.18.1.1"), 40000};
  spec.dst = {Address::parse("198.18.2.1"), 8080};
  spec.seq = 1000;
  spec.ack = flags & tcp_flag::ACK ? 5000 : 0;
  spec.flags = flags;
  spec.window = 64240;
  spec.payload = Bytes(payload, 'x');
  return build_packet(spec);
}

Packet v6_packet(std::uint8_t flags, std::size_t payload) {
  SegmentSpec spec;
  spec.src = {Address::parse("2001:2:0:2::1"), 8080};
  spec.dst = {Address::parse("2001:2:0:1::1"), 40000};
  spec.seq = 5000;
  spec.ack = 1001;
  spec.flags = flags;
  spec.window = 502;
  spec.payload = Bytes(payload, 'y');
  return build_packet(spec);
}

const PcapngSection kSection{"scenario X\nrules: none", "x86_64", "Linux 6.1.0-test", "tcpfault test"};
const std::vector<PcapngInterface> kInterfaces{{"delivered", "what got through"}, {"dropped", "what did not"}};

struct Written {
  Packet packet;
  std::uint64_t unix_ns;
  std::uint32_t interface;
  PacketDirection direction;
  std::string comment;
};

// Packets of odd and even lengths, with and without comments, both families, on both
// interfaces.
std::vector<Written> sample_trace() {
  constexpr std::uint64_t t0 = 1'700'000'000'123'456'789;
  using enum PacketDirection;
  return {
      {v4_packet(tcp_flag::SYN, 0), t0, 0, Outbound, "SYN: delayed 200 ms by rule 1"},
      {v6_packet(tcp_flag::SYN | tcp_flag::ACK, 0), t0 + 1'000, 0, Outbound, "SYN_ACK"},
      {v4_packet(tcp_flag::PSH | tcp_flag::ACK, 7), t0 + 2'000'000, 0, Outbound, ""},
      {v6_packet(tcp_flag::FIN | tcp_flag::ACK, 0), t0 + 3'000'000'000, 1, Inbound, "FIN (first): dropped"},
  };
}
const char* const kSeconds[] = {"1700000000.123456789", "1700000000.123457789", "1700000000.125456789",
                                "1700000003.123456789"};

std::string write_trace(const TempDir& dir, const std::vector<Written>& trace) {
  const std::string path = dir.file("trace.pcapng");
  PcapngWriter writer(path, kSection, kInterfaces);
  for (const Written& w : trace)
    writer.write({w.interface, w.packet.bytes, w.unix_ns, w.direction, w.comment});
  writer.flush();
  return path;
}

TEST(PcapngWriter, BlockStructure) {
  TempDir dir;
  const auto trace = sample_trace();
  const Bytes file = read_file(write_trace(dir, trace));

  std::vector<std::uint32_t> types;
  std::size_t offset = 0;
  std::size_t packet_index = 0, interface_index = 0;
  while (offset < file.size()) {
    const std::uint32_t type = u32_at(file, offset);
    const std::uint32_t len = u32_at(file, offset + 4);
    ASSERT_EQ(len % 4, 0u) << "block at " << offset;
    ASSERT_LE(offset + len, file.size());
    ASSERT_EQ(u32_at(file, offset + len - 4), len) << "trailing length of block at " << offset;
    types.push_back(type);
    const std::size_t end = offset + len - 4;
    if (type == 0x0A0D0D0A) {
      EXPECT_EQ(u32_at(file, offset + 8), 0x1A2B3C4Du);
      EXPECT_EQ(u16_at(file, offset + 12), 1);
      EXPECT_EQ(u16_at(file, offset + 14), 0);
      using Options = std::vector<std::pair<std::uint16_t, std::string>>;
      EXPECT_EQ(options_at(file, offset + 24, end),
                (Options{{1, kSection.comment}, {2, kSection.hardware}, {3, kSection.os}, {4, kSection.application}}));
    } else if (type == 1) {
      const PcapngInterface& want = kInterfaces.at(interface_index++);
      EXPECT_EQ(u16_at(file, offset + 8), 276);  // LINKTYPE_LINUX_SLL2
      using Options = std::vector<std::pair<std::uint16_t, std::string>>;
      EXPECT_EQ(options_at(file, offset + 16, end),
                (Options{{2, want.name}, {3, want.description}, {9, std::string(1, '\x09')}}));  // ns
    } else if (type == 6) {
      const Written& w = trace.at(packet_index++);
      EXPECT_EQ(u32_at(file, offset + 8), w.interface);
      const std::uint64_t ts = (std::uint64_t{u32_at(file, offset + 12)} << 32) | u32_at(file, offset + 16);
      EXPECT_EQ(ts, w.unix_ns);
      const std::uint32_t captured = u32_at(file, offset + 20);
      EXPECT_EQ(captured, 20 + w.packet.bytes.size());
      EXPECT_EQ(u32_at(file, offset + 24), captured);
      const std::size_t link = offset + 28;
      EXPECT_EQ(be16_at(file, link), w.packet.family == Family::V4 ? 0x0800 : 0x86DD);
      EXPECT_EQ(be16_at(file, link + 8), 0xFFFE);  // ARPHRD_NONE
      EXPECT_EQ(file.at(link + 10), w.direction == PacketDirection::Inbound ? 0 : 4);
      EXPECT_EQ(Bytes(file.begin() + static_cast<long>(link + 20), file.begin() + static_cast<long>(link + captured)),
                w.packet.bytes);
      const auto options = options_at(file, link + ((captured + 3) & ~3u), end);
      ASSERT_GE(options.size(), 1u);
      EXPECT_EQ(options[0].first, 2);  // epb_flags
      std::uint32_t flags = 0;
      std::memcpy(&flags, options[0].second.data(), sizeof flags);
      EXPECT_EQ(flags, w.direction == PacketDirection::Inbound ? 1u : 2u);
      if (w.comment.empty())
        EXPECT_EQ(options.size(), 1u) << "no comment option without a comment";
      else
        EXPECT_EQ(options.at(1), (std::pair<std::uint16_t, std::string>{1, w.comment}));
    }
    offset += len;
  }
  EXPECT_EQ(offset, file.size());
  EXPECT_EQ(types, (std::vector<std::uint32_t>{0x0A0D0D0A, 1, 1, 6, 6, 6, 6}));
}

TEST(PcapngWriter, TcpdumpReadsItBackWithDirections) {
  if (!have_tool("tcpdump")) GTEST_SKIP() << "tcpdump is not installed (apt-get install tcpdump)";
  TempDir dir;
  const auto trace = sample_trace();
  const std::string path = write_trace(dir, trace);

  const CommandResult r =
      run("tcpdump --time-stamp-precision=nano -tt -nn -S -r '" + path + "'");  // -S: absolute seq
  ASSERT_EQ(r.status, 0) << r.out;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), trace.size()) << r.out;
  for (std::size_t i = 0; i < trace.size(); ++i) {
    // "<time> ?     Out IP ...": SLL2's interface index 0 has no name, then the direction.
    const std::string direction = trace[i].direction == PacketDirection::Inbound ? " In  " : " Out ";
    const std::string ip = trace[i].packet.family == Family::V4 ? "IP " : "IP6 ";
    EXPECT_EQ(got[i].rfind(std::string(kSeconds[i]) + " ?    " + direction + ip + format_packet(trace[i].packet), 0),
              0u)
        << got[i];
  }
  // tcpdump's own filters pick one direction.
  const CommandResult in = run("tcpdump -nn -r '" + path + "' inbound");
  ASSERT_EQ(in.status, 0);
  ASSERT_EQ(lines(in.out).size(), 1u) << in.out;
  EXPECT_NE(in.out.find(format_packet(trace[3].packet)), std::string::npos) << in.out;
  EXPECT_EQ(lines(run("tcpdump -nn -r '" + path + "' outbound").out).size(), 3u);
}

TEST(PcapngWriter, TsharkReadsInterfacesCommentsFlagsAndChecksums) {
  if (!have_tool("tshark")) GTEST_SKIP() << "tshark is not installed (apt-get install tshark)";
  const std::string comment_field = tshark_comment_field();
  ASSERT_FALSE(comment_field.empty()) << "tshark knows no packet comment field";
  TempDir dir;
  const auto trace = sample_trace();
  const std::string path = write_trace(dir, trace);

  // Checksum status 1 means "good" once validation is switched on.
  const CommandResult r = run(
      "tshark -r '" + path + "' -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE" +
      " -T fields -E separator='|' -e " + comment_field +
      " -e tcp.flags -e tcp.checksum.status -e ip.checksum.status -e frame.time_epoch" +
      " -e frame.interface_name -e frame.interface_description -e frame.packet_flags_direction");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), trace.size()) << r.out;
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const auto f = split(got[i], '|');
    ASSERT_EQ(f.size(), 8u) << got[i];
    EXPECT_EQ(f[0], trace[i].comment);
    EXPECT_EQ(std::stoul(f[1], nullptr, 16), trace[i].packet.flags) << got[i];
    EXPECT_EQ(f[2], "1") << "TCP checksum of packet " << i;
    EXPECT_EQ(f[3], trace[i].packet.family == Family::V4 ? "1" : "") << "IPv4 checksum";
    EXPECT_EQ(f[4], kSeconds[i]);
    EXPECT_EQ(f[5], kInterfaces[trace[i].interface].name);
    EXPECT_EQ(f[6], kInterfaces[trace[i].interface].description);
    EXPECT_EQ(std::stoul(f[7], nullptr, 16), trace[i].direction == PacketDirection::Inbound ? 1u : 2u) << got[i];
  }
  // A display filter on the interface's name separates what got through.
  const CommandResult dropped = run("tshark -r '" + path + "' -Y 'frame.interface_name == \"dropped\"' -T fields -e " +
                                    comment_field);
  EXPECT_EQ(dropped.out, trace[3].comment + "\n");
}

TEST(PcapngWriter, CapinfosReadsTheSection) {
  if (!have_tool("capinfos")) GTEST_SKIP() << "capinfos is not installed (apt-get install wireshark-common)";
  TempDir dir;
  const std::string path = write_trace(dir, sample_trace());
  const CommandResult r = run("capinfos '" + path + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* want :
       {"Capture hardware:    x86_64", "Capture oper-sys:    Linux 6.1.0-test", "Capture application: tcpfault test",
        "Capture comment:     scenario X", "Number of interfaces in file: 2", "Name = delivered",
        "Description = what got through", "Name = dropped", "Encapsulation = Linux cooked-mode capture v2"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in:\n" << r.out;
}

TEST(PcapngWriter, AHeadersOnlyPacketKeepsItsOriginalLength) {
  TempDir dir;
  const Packet full = v4_packet(tcp_flag::ACK, 1000);
  const Bytes headers(full.bytes.begin(), full.bytes.begin() + 40);
  const std::string path = dir.file("cut.pcapng");
  {
    PcapngWriter writer(path, kSection, kInterfaces);
    writer.write({0, headers, 1, PacketDirection::Outbound, "headers only", full.bytes.size()});
    writer.flush();
  }
  const Bytes file = read_file(path);
  std::size_t epb = u32_at(file, 4);  // after the section header
  epb += u32_at(file, epb + 4);       // after the first interface
  epb += u32_at(file, epb + 4);       // after the second
  ASSERT_EQ(u32_at(file, epb), 6u);
  EXPECT_EQ(u32_at(file, epb + 20), 20 + 40u);                // captured: SLL2 header and IP headers
  EXPECT_EQ(u32_at(file, epb + 24), 20 + full.bytes.size());  // on the wire
  if (!have_tool("tcpdump")) return;
  const CommandResult r = run("tcpdump -nn -r '" + path + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("length 1000"), std::string::npos) << r.out;  // tcpdump knows what was cut
}

TEST(PcapngWriter, EmptyFileIsStillValid) {
  if (!have_tool("tcpdump")) GTEST_SKIP() << "tcpdump is not installed (apt-get install tcpdump)";
  TempDir dir;
  const std::string path = dir.file("empty.pcapng");
  { PcapngWriter writer(path, kSection, kInterfaces); }
  const CommandResult r = run("tcpdump -nn -r '" + path + "'");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");
}

TEST(PcapngWriter, UnwritablePathThrows) {
  TempDir dir;
  const std::string path = dir.file("missing/trace.pcapng");
  try {
    PcapngWriter writer(path, kSection, kInterfaces);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(PcapngWriter, NoInterfaceOrAnUnknownOneIsAnError) {
  TempDir dir;
  const std::string path = dir.file("trace.pcapng");
  EXPECT_THROW(PcapngWriter(path, kSection, {}), Error);
  PcapngWriter writer(path, kSection, kInterfaces);
  const Packet p = v4_packet(tcp_flag::SYN, 0);
  try {
    writer.write({2, p.bytes, 1, PacketDirection::Outbound, ""});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no interface 2 (it has 2)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tcpfault
