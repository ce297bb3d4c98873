// The timeline's segments as pcapng: on an interface per fate (what its receiver got,
// what the middlebox dropped, what it rewrote as it arrived, what it still held), each
// with a comment (sender, roles, fate), under a section comment that names the
// scenario, tcpfault's version, the kernel and the fault rules. docs/artifacts.md
// describes the layout.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "harness/trace/pcapng_writer.h"
#include "harness/trace/trace_origin.h"
#include "harness/trace/trace_output.h"
#include "harness/version.h"
#include "netns/error.h"

namespace tcpfault {

namespace {

// The interfaces, in the order of CaptureInterface.
const std::vector<PcapngInterface>& capture_interfaces() {
  static const std::vector<PcapngInterface> interfaces = {
      {"delivered",
       "what the middlebox passed on, as its receiver got it (after any rewrite) and when (a held segment "
       "when it was let go); the harness's own segments too (copies, injected answers, flood SYNs)"},
      {"dropped",
       "what the middlebox took in and did not pass on (dropped by a rule, a reply to a flood's SYN): its "
       "receiver never got it"},
      {"before-rewrite",
       "what the middlebox rewrote (a modify rule, an ISN shift), as it arrived; as rewritten it is on "
       "'delivered'"},
      {"held",
       "what the middlebox was still holding when the file was written: not delivered, not dropped"},
  };
  return interfaces;
}

enum CaptureInterface : std::uint32_t { kDelivered = 0, kDropped = 1, kBeforeRewrite = 2, kHeld = 3 };

// One block to write. `packet` points into the events being written, or at `made`
// for a rewritten segment put back together: a long timeline is not copied again.
struct Placed {
  std::int64_t t_ns;  // CLOCK_MONOTONIC
  std::uint32_t interface;
  PacketDirection direction;
  const Packet* packet;
  std::string comment;
  std::unique_ptr<const Packet> made;
};

// The rules by id, with what each was (its label, else its description).
using RuleLabels = std::map<int, std::string>;

std::string base_comment(const SegmentEvent& s, const std::string& number, const RuleLabels& rules) {
  std::string comment = number + " from " + netns::to_string(s.from) + " to " + netns::to_string(s.to) + ": " +
                        roles_string(s.classified.roles) + ", connection " +
                        std::to_string(s.classified.connection) + ", " + s.fate;
  if (auto r = rules.find(s.rule_id); r != rules.end())
    comment += " [rule #" + std::to_string(s.rule_id) + ": " + r->second + "]";
  return comment;
}

// Past the trace's payload cap only the headers were kept: the block says so with a
// captured length shorter than the original one, and the comment says why.
std::string cut_note(const Packet& p) {
  const std::size_t wire = p.ip_header_len + p.tcp_header_len + p.payload_len;
  return p.bytes.size() < wire ? " (headers only: the trace's payload cap was reached)" : "";
}

// Where one segment goes: one block, or two for a rewritten one (as it arrived, as
// its receiver got it).
void place(const Trace& trace, const RuleLabels& rules, const SegmentEvent& s, const std::string& number,
           std::vector<Placed>& out) {
  const std::string comment = base_comment(s, number, rules);
  const auto got_at = delivered_at(s);
  if (!got_at) {
    const bool held = !dropped(s);  // "held ..." or "delayed ...", not yet let go
    out.push_back({s.arrived_ns(), held ? kHeld : kDropped, PacketDirection::Inbound, &s.packet,
                   comment + cut_note(s.packet), nullptr});
    return;
  }
  std::string delivered_comment = comment;
  if (s.released_ns) delivered_comment += "; it reached the middlebox at " + trace.offset(s.arrived_ns());
  if (s.delivered) {
    out.push_back({s.arrived_ns(), kBeforeRewrite, PacketDirection::Inbound, &s.packet,
                   "before rewrite: " + comment + cut_note(s.packet), nullptr});
    delivered_comment = "after rewrite: " + delivered_comment;
  }
  // A segment let go later is dated when it went; the others when they reached the
  // middlebox (the kernel's stamp), as near the wire as the harness knows.
  auto made = s.delivered ? std::make_unique<const Packet>(delivered_packet(s)) : nullptr;
  const Packet* got = made ? made.get() : &s.packet;
  out.push_back({s.released_ns ? *got_at : s.arrived_ns(), kDelivered, PacketDirection::Outbound, got,
                 delivered_comment + cut_note(*got), std::move(made)});
}

std::string section_comment(const Trace& trace, const KernelName& kernel) {
  std::string text = "tcpfault " + std::string(version()) + ", scenario " + trace.name() + "\n";
  text += "kernel: " + kernel.sysname + " " + kernel.release + " " + kernel.machine +
          " (every host of the scenario runs on it)\n";
  text += "timeline began " + utc_iso8601(trace.start_unix_ns()) + "\n";
  const auto rules = trace.rules();
  text += "fault rules:" + std::string(rules.empty() ? " none\n" : "\n");
  for (const auto& r : rules) text += "  " + describe_rule(trace, r) + "\n";
  text += "interfaces: delivered (what the receivers got), dropped, before-rewrite, held; a packet's "
          "comment says what the middlebox did with it";
  return text;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw Error("cannot write " + path + ": " + std::strerror(errno));
}

}  // namespace

void write_pcapng(const Trace& trace, const std::string& path) {
  const KernelName kernel = running_kernel();
  const PcapngSection section{section_comment(trace, kernel), kernel.machine, kernel.sysname + " " + kernel.release,
                              "tcpfault " + std::string(version())};
  PcapngWriter writer(path, section, capture_interfaces());
  // The timeline's segments and the bulk ones (a flood's), in the order of their times.
  RuleLabels rules;
  for (const auto& r : trace.rules()) rules[r.id] = r.label;
  const auto events = trace.events();
  const auto bulk = trace.bulk_segments();
  std::vector<Placed> placed;
  for (const Event& e : events)
    if (auto* s = std::get_if<SegmentEvent>(&e))
      place(trace, rules, *s, "segment #" + std::to_string(s->id), placed);
  for (const auto& s : bulk) place(trace, rules, s, "bulk segment #" + std::to_string(s.id), placed);
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) { return a.t_ns < b.t_ns; });
  for (const Placed& p : placed)
    writer.write({p.interface, p.packet->bytes, static_cast<std::uint64_t>(trace.unix_ns(p.t_ns)), p.direction,
                  p.comment, p.packet->ip_header_len + p.packet->tcp_header_len + p.packet->payload_len});
  writer.flush();
}

std::string ArtifactPaths::str() const {
  return "ladder: " + ladder + ", pcapng: " + pcapng + ", json: " + json;
}

ArtifactPaths write_artifacts(const Trace& trace, const std::string& dir, const std::string& stem) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create artifacts directory " + dir + ": " + ec.message());
  ArtifactPaths paths{dir + "/" + stem + ".pcapng", dir + "/" + stem + ".json",
                      dir + "/" + stem + ".ladder.txt"};
  write_pcapng(trace, paths.pcapng);
  write_text(paths.json, render_json(trace) + "\n");
  write_text(paths.ladder, render_ladder(trace));
  return paths;
}

}  // namespace tcpfault
