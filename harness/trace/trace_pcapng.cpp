// The timeline's segments as pcapng, each with a comment: sender, roles, fate.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "harness/trace/pcapng_writer.h"
#include "harness/trace/trace_output.h"
#include "netns/error.h"

namespace tcpfault {

namespace {

// Offset that turns CLOCK_MONOTONIC times into wall-clock times for the capture.
std::int64_t realtime_offset_ns() {
  timespec real{}, mono{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return (std::int64_t(real.tv_sec) - mono.tv_sec) * 1'000'000'000 + (real.tv_nsec - mono.tv_nsec);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw Error("cannot write " + path + ": " + std::strerror(errno));
}

}  // namespace

void write_pcapng(const Trace& trace, const std::string& path) {
  PcapngWriter writer(path);
  const std::int64_t offset = realtime_offset_ns();
  // The timeline's segments and the bulk ones (a flood's), merged in time order.
  const auto events = trace.events();
  const auto bulk = trace.bulk_segments();
  std::vector<const SegmentEvent*> segments;
  for (const Event& e : events)
    if (auto* s = std::get_if<SegmentEvent>(&e)) segments.push_back(s);
  for (const auto& s : bulk) segments.push_back(&s);
  std::stable_sort(segments.begin(), segments.end(),
                   [](const SegmentEvent* a, const SegmentEvent* b) { return a->arrived_ns() < b->arrived_ns(); });
  for (const SegmentEvent* s : segments) {
    std::string comment = "from " + netns::to_string(s->from) + " to " + netns::to_string(s->to) +
                          ": " + roles_string(s->classified.roles) + ", connection " +
                          std::to_string(s->classified.connection) + ", " + s->fate;
    // Past the trace's payload cap only the headers were kept: the block says so with
    // a captured length shorter than the original one.
    if (!s->payload_kept()) comment += " (headers only: the trace's payload cap was reached)";
    writer.write(s->packet.bytes, static_cast<std::uint64_t>(s->arrived_ns() + offset), comment, s->wire_length());
  }
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
