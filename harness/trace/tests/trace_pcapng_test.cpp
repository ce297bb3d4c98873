// The timeline as pcapng: each segment on the interface of its fate, a rewritten one
// before and after, held ones when they were let go, the section naming the scenario,
// the kernel, the rules and the version; read back with tshark, tcpdump and capinfos.
#include <gtest/gtest.h>

#include <map>

#include "harness/trace/tests/read_back.h"
#include "harness/trace/tests/sample_timeline.h"
#include "harness/trace/trace_origin.h"
#include "harness/trace/trace_output.h"
#include "harness/version.h"

namespace tcpfault {
namespace {

using namespace read_back;

struct Frame {
  std::string interface, comment, direction, seq, payload, checksum, epoch;
};

std::vector<Frame> tshark_frames(const std::string& path) {
  const CommandResult r = run("tshark -r '" + path + "' -o tcp.check_checksum:TRUE -o tcp.relative_sequence_numbers:FALSE" +
                              " -T fields -E separator='|' -e frame.interface_name -e " + tshark_comment_field() +
                              " -e frame.packet_flags_direction -e tcp.seq -e tcp.payload -e tcp.checksum.status" +
                              " -e frame.time_epoch");
  EXPECT_EQ(r.status, 0) << r.out;
  std::vector<Frame> frames;
  for (const auto& line : lines(r.out)) {
    const auto f = split(line, '|');
    EXPECT_EQ(f.size(), 7u) << line;
    if (f.size() == 7) frames.push_back({f[0], f[1], f[2], f[3], f[4], f[5], f[6]});
  }
  return frames;
}

std::string hex(const std::string& text) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) out += {digits[c >> 4], digits[c & 15]};
  return out;
}

// tshark's frame.time_epoch for a timeline time: seconds with 9 decimals.
std::string epoch(const Trace& trace, std::int64_t t_ns) {
  const std::int64_t unix_ns = trace.unix_ns(t_ns);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(unix_ns / 1'000'000'000),
                static_cast<long long>(unix_ns % 1'000'000'000));
  return buf;
}

const Frame* find(const std::vector<Frame>& frames, const std::string& interface, const std::string& comment_part) {
  for (const auto& f : frames)
    if (f.interface == interface && f.comment.find(comment_part) != std::string::npos) return &f;
  return nullptr;
}

class TracePcapng : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_tool("tshark")) GTEST_SKIP() << "tshark is not installed (apt-get install tshark)";
    write_pcapng(*timeline.trace, path);
    frames = tshark_frames(path);
  }

  sample::Timeline timeline = sample::make_timeline();
  TempDir dir;
  std::string path = dir.file("sample.pcapng");
  std::vector<Frame> frames;
};

TEST_F(TracePcapng, EachFateHasItsInterface) {
  std::map<std::string, int> per_interface;
  for (const auto& f : frames) ++per_interface[f.interface];
  // delivered: SYN, SYN-ACK, the two rewritten ones as sent on, the delayed FIN, the
  // injected RST, the flood's SYN; dropped: the FIN, the flood's reply.
  EXPECT_EQ(per_interface, (std::map<std::string, int>{{"delivered", 7}, {"dropped", 2}, {"before-rewrite", 2}, {"held", 1}}));
  for (const auto& f : frames) {
    EXPECT_EQ(f.checksum, "1") << "bad TCP checksum: " << f.comment;
    // epb_flags: what the middlebox sent on is outbound (2), what it only took in inbound (1).
    EXPECT_EQ(std::stoul(f.direction, nullptr, 16), f.interface == "delivered" ? 2u : 1u) << f.comment;
  }
  const Frame* dropped = find(frames, "dropped", "segment #" + std::to_string(timeline.dropped) + " from client to server");
  ASSERT_NE(dropped, nullptr);
  EXPECT_NE(dropped->comment.find("dropped by rule #2 [rule #2: drop FIN from client (once)]"), std::string::npos)
      << dropped->comment;
  ASSERT_NE(find(frames, "dropped", "bulk segment #2 from server to middlebox"), nullptr);
  ASSERT_NE(find(frames, "held", "segment #" + std::to_string(timeline.held) + " "), nullptr);
  ASSERT_NE(find(frames, "delivered", "segment #" + std::to_string(timeline.injected) + " from middlebox"), nullptr);
  ASSERT_NE(find(frames, "delivered", "bulk segment #1 from middlebox to server"), nullptr);
}

TEST_F(TracePcapng, ARewrittenSegmentIsThereBeforeAndAfter) {
  const std::string id = "segment #" + std::to_string(timeline.rewritten) + " ";
  const Frame* before = find(frames, "before-rewrite", id);
  const Frame* after = find(frames, "delivered", id);
  ASSERT_NE(before, nullptr);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(before->payload, hex("hello"));
  EXPECT_EQ(after->payload, hex("HELLO"));
  EXPECT_EQ(before->comment.rfind("before rewrite: ", 0), 0u) << before->comment;
  EXPECT_EQ(after->comment.rfind("after rewrite: ", 0), 0u) << after->comment;
  EXPECT_EQ(before->epoch, after->epoch);

  // Only its numbers changed: the trace kept the payload once, the file has it twice.
  const std::string shifted = "segment #" + std::to_string(timeline.shifted) + " ";
  const Frame* sent = find(frames, "before-rewrite", shifted);
  const Frame* got = find(frames, "delivered", shifted);
  ASSERT_NE(sent, nullptr);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(sent->seq, "1006");
  EXPECT_EQ(got->seq, "2006");
  EXPECT_EQ(got->payload, hex("abc"));
}

TEST_F(TracePcapng, ADelayedSegmentIsDeliveredWhenLetGo) {
  const Frame* fin = find(frames, "delivered", "segment #" + std::to_string(timeline.delayed) + " ");
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->epoch, epoch(*timeline.trace, timeline.at(306)));
  EXPECT_NE(fin->comment.find("delayed by rule #3, let go after 300.0 ms"), std::string::npos) << fin->comment;
  EXPECT_NE(fin->comment.find("it reached the middlebox at +6.0 ms"), std::string::npos) << fin->comment;
  // The file is in time order: the FIN let go at +306 ms comes last.
  EXPECT_EQ(&frames.back(), fin);
}

TEST_F(TracePcapng, TcpdumpTellsWhatGotThroughFromWhatDidNot) {
  if (!have_tool("tcpdump")) GTEST_SKIP() << "tcpdump is not installed (apt-get install tcpdump)";
  const CommandResult all = run("tcpdump -nn -r '" + path + "'");
  ASSERT_EQ(all.status, 0) << all.out;
  ASSERT_EQ(lines(all.out).size(), frames.size());
  // Dropped, held and before-rewrite are "In" (taken in); delivered "Out".
  const auto in = lines(run("tcpdump -nn -r '" + path + "' inbound").out);
  ASSERT_EQ(in.size(), 5u);
  for (const auto& line : in) EXPECT_NE(line.find(" In  IP "), std::string::npos) << line;
  const auto out = lines(run("tcpdump -nn -r '" + path + "' outbound").out);
  ASSERT_EQ(out.size(), 7u);
  for (const auto& line : out) EXPECT_NE(line.find(" Out IP "), std::string::npos) << line;
}

TEST_F(TracePcapng, TheSectionNamesScenarioKernelRulesAndVersion) {
  if (!have_tool("capinfos")) GTEST_SKIP() << "capinfos is not installed (apt-get install wireshark-common)";
  const CommandResult r = run("capinfos '" + path + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  const KernelName kernel = running_kernel();
  const std::string version = tcpfault::version();
  for (const std::string& want : std::vector<std::string>{
           "Capture comment:     tcpfault " + version + ", scenario sample/IPv4",
        "kernel: Linux " + kernel.release + " " + kernel.machine,
        "timeline began " + utc_iso8601(timeline.trace->start_unix_ns()),
        "  #1 modify DATA from client: payload 'HELLO', added +", "removed +",
        "  #2 drop FIN from client (once), added +", "Capture oper-sys:    Linux " + kernel.release,
        "Capture application: tcpfault " + version, "Capture hardware:    " + kernel.machine,
        "Number of interfaces in file: 4", "Name = delivered", "Name = dropped", "Name = before-rewrite",
        "Name = held"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in:\n" << r.out;
}

}  // namespace
}  // namespace tcpfault
