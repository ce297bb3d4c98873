// PcapngWriter: the file's block structure, and what tcpdump and tshark read back.
#include "harness/trace/pcapng_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "harness/packet/packet.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

using Bytes = std::vector<std::uint8_t>;

// A private directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/pcapng_test.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) throw_errno("mkdtemp " + templ);
    path_ = templ;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int status = -1;
  std::string out;
};

// Runs a shell command; stdout is captured, stderr is dropped (tshark warns about root).
CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool have_tool(const std::string& name) {
  return run("command -v " + name).status == 0;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Reads a value in host byte order, the order the writer uses.
template <typename T>
T host_at(const Bytes& b, std::size_t offset) {
  if (offset > b.size() || b.size() - offset < sizeof(T))
    throw std::out_of_range("read past the end of the file at " + std::to_string(offset));
  T v;
  std::memcpy(&v, b.data() + offset, sizeof v);
  return v;
}

std::uint32_t u32_at(const Bytes& b, std::size_t offset) {
  return host_at<std::uint32_t>(b, offset);
}

std::uint16_t u16_at(const Bytes& b, std::size_t offset) {
  return host_at<std::uint16_t>(b, offset);
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

struct Written {
  Packet packet;
  std::uint64_t unix_ns;
  std::string comment;
};

// Packets of odd and even lengths, with and without comments, both families.
std::vector<Written> sample_trace() {
  constexpr std::uint64_t t0 = 1'700'000'000'123'456'789;
  return {
      {v4_packet(tcp_flag::SYN, 0), t0, "SYN: delayed 200 ms by rule 1"},
      {v6_packet(tcp_flag::SYN | tcp_flag::ACK, 0), t0 + 1'000, "SYN_ACK"},
      {v4_packet(tcp_flag::PSH | tcp_flag::ACK, 7), t0 + 2'000'000, ""},
      {v6_packet(tcp_flag::FIN | tcp_flag::ACK, 0), t0 + 3'000'000'000, "FIN (first): dropped"},
  };
}

std::string write_trace(const TempDir& dir, const std::vector<Written>& trace) {
  const std::string path = dir.file("trace.pcapng");
  PcapngWriter writer(path);
  for (const Written& w : trace) writer.write(w.packet.bytes, w.unix_ns, w.comment);
  writer.flush();
  return path;
}

TEST(PcapngWriter, BlockStructure) {
  TempDir dir;
  const auto trace = sample_trace();
  const Bytes file = read_file(write_trace(dir, trace));

  std::vector<std::uint32_t> types;
  std::size_t offset = 0;
  std::size_t packet_index = 0;
  while (offset < file.size()) {
    const std::uint32_t type = u32_at(file, offset);
    const std::uint32_t len = u32_at(file, offset + 4);
    ASSERT_EQ(len % 4, 0u) << "block at " << offset;
    ASSERT_LE(offset + len, file.size());
    ASSERT_EQ(u32_at(file, offset + len - 4), len) << "trailing length of block at " << offset;
    types.push_back(type);
    if (type == 0x0A0D0D0A) {
      EXPECT_EQ(u32_at(file, offset + 8), 0x1A2B3C4Du);
      EXPECT_EQ(u16_at(file, offset + 12), 1);
      EXPECT_EQ(u16_at(file, offset + 14), 0);
    } else if (type == 1) {
      EXPECT_EQ(u16_at(file, offset + 8), 101);  // LINKTYPE_RAW
      EXPECT_EQ(u16_at(file, offset + 16), 9);   // if_tsresol
      EXPECT_EQ(u16_at(file, offset + 18), 1);
      EXPECT_EQ(file[offset + 20], 9);           // nanoseconds
    } else if (type == 6) {
      const Written& w = trace.at(packet_index++);
      const std::uint64_t ts = (std::uint64_t{u32_at(file, offset + 12)} << 32) |
                               u32_at(file, offset + 16);
      EXPECT_EQ(ts, w.unix_ns);
      const std::uint32_t captured = u32_at(file, offset + 20);
      EXPECT_EQ(captured, w.packet.bytes.size());
      EXPECT_EQ(u32_at(file, offset + 24), captured);
      EXPECT_EQ(Bytes(file.begin() + static_cast<long>(offset + 28),
                      file.begin() + static_cast<long>(offset + 28 + captured)),
                w.packet.bytes);
      const std::size_t options = offset + 28 + ((captured + 3) & ~3u);
      if (w.comment.empty()) {
        EXPECT_EQ(options + 4, offset + len) << "no options without a comment";
      } else {
        EXPECT_EQ(u16_at(file, options), 1);  // opt_comment
        EXPECT_EQ(u16_at(file, options + 2), w.comment.size());
        EXPECT_EQ(std::string(file.begin() + static_cast<long>(options + 4),
                              file.begin() + static_cast<long>(options + 4 + w.comment.size())),
                  w.comment);
      }
    }
    offset += len;
  }
  EXPECT_EQ(offset, file.size());
  EXPECT_EQ(types, (std::vector<std::uint32_t>{0x0A0D0D0A, 1, 6, 6, 6, 6}));
}

TEST(PcapngWriter, TcpdumpReadsItBack) {
  if (!have_tool("tcpdump")) GTEST_SKIP() << "tcpdump is not installed (apt-get install tcpdump)";
  TempDir dir;
  const auto trace = sample_trace();
  const std::string path = write_trace(dir, trace);

  const CommandResult r =
      run("tcpdump --time-stamp-precision=nano -tt -nn -S -r '" + path + "'");  // -S: absolute seq
  ASSERT_EQ(r.status, 0) << r.out;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), trace.size()) << r.out;
  const char* seconds[] = {"1700000000.123456789", "1700000000.123457789",
                           "1700000000.125456789", "1700000003.123456789"};
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const std::string ip = trace[i].packet.family == Family::V4 ? " IP " : " IP6 ";
    // tcpdump may add a protocol guess after "length N" (": HTTP" for port 8080).
    EXPECT_EQ(got[i].rfind(seconds[i] + ip + format_packet(trace[i].packet), 0), 0u)
        << got[i];
  }
}

// The field that holds packet comments (frame.comment in tshark 3.x and 4.x).
std::string tshark_comment_field() {
  const std::string fields = run("tshark -G fields").out;
  for (const char* name : {"frame.comment", "pkt_comment"})
    if (fields.find(std::string("\t") + name + "\t") != std::string::npos) return name;
  return "";
}

TEST(PcapngWriter, TsharkReadsCommentsFlagsAndChecksums) {
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
      " -e tcp.flags -e tcp.checksum.status -e ip.checksum.status -e frame.time_epoch");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto got = lines(r.out);
  ASSERT_EQ(got.size(), trace.size()) << r.out;
  const char* epochs[] = {"1700000000.123456789", "1700000000.123457789",
                          "1700000000.125456789", "1700000003.123456789"};
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const auto f = split(got[i], '|');
    ASSERT_EQ(f.size(), 5u) << got[i];
    EXPECT_EQ(f[0], trace[i].comment);
    EXPECT_EQ(std::stoul(f[1], nullptr, 16), trace[i].packet.flags) << got[i];
    EXPECT_EQ(f[2], "1") << "TCP checksum of packet " << i;
    EXPECT_EQ(f[3], trace[i].packet.family == Family::V4 ? "1" : "") << "IPv4 checksum";
    EXPECT_EQ(f[4], epochs[i]);
  }
}

TEST(PcapngWriter, AHeadersOnlyPacketKeepsItsOriginalLength) {
  TempDir dir;
  const Packet full = v4_packet(tcp_flag::ACK, 1000);
  const Bytes headers(full.bytes.begin(), full.bytes.begin() + 40);
  const std::string path = dir.file("cut.pcapng");
  {
    PcapngWriter writer(path);
    writer.write(headers, 1, "headers only", full.bytes.size());
    writer.flush();
  }
  const Bytes file = read_file(path);
  std::size_t epb = u32_at(file, 4);  // after the section header
  epb += u32_at(file, epb + 4);       // after the interface description
  ASSERT_EQ(u32_at(file, epb), 6u);
  EXPECT_EQ(u32_at(file, epb + 20), 40u);                 // captured
  EXPECT_EQ(u32_at(file, epb + 24), full.bytes.size());  // on the wire
  if (!have_tool("tcpdump")) return;
  const CommandResult r = run("tcpdump -nn -r '" + path + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("length 1000"), std::string::npos) << r.out;  // tcpdump knows what was cut
}

TEST(PcapngWriter, EmptyFileIsStillValid) {
  if (!have_tool("tcpdump")) GTEST_SKIP() << "tcpdump is not installed (apt-get install tcpdump)";
  TempDir dir;
  const std::string path = dir.file("empty.pcapng");
  { PcapngWriter writer(path); }
  const CommandResult r = run("tcpdump -nn -r '" + path + "'");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");
}

TEST(PcapngWriter, UnwritablePathThrows) {
  TempDir dir;
  const std::string path = dir.file("missing/trace.pcapng");
  try {
    PcapngWriter writer(path);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tcpfault
