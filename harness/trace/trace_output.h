// The three forms of a scenario's timeline: a text ladder diagram (printed when an
// expectation fails), JSON for machines, and pcapng for tcpdump and Wireshark, where
// a packet's interface and comment say what the harness did to it (docs/artifacts.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/trace/trace.h"

namespace tcpfault {

// With more than `max_rows` events, the first quarter and the last three quarters of
// that many are shown, and a line says how many were left out.
std::string render_ladder(const Trace& trace, std::size_t max_rows = SIZE_MAX);
// The JSON's "schema": a new number whenever a field changes meaning or goes away
// (docs/artifacts.md lists what each number changed).
inline constexpr const char* kTimelineSchema = "tcpfault-timeline/2";
std::string render_json(const Trace& trace);
void write_pcapng(const Trace& trace, const std::string& path);

struct ArtifactPaths {
  std::string pcapng, json, ladder;
  std::string str() const;  // "pcapng: ..., json: ..., ladder: ..."
};

// Writes <dir>/<stem>.pcapng, .json and .ladder.txt (creating dir). Throws Error.
ArtifactPaths write_artifacts(const Trace& trace, const std::string& dir, const std::string& stem);

}  // namespace tcpfault
