// The timeline as JSON: its header (schema, version, kernel, when it began on both
// clocks, the rules) and what a segment says of its delivery.
#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "harness/trace/tests/sample_timeline.h"
#include "harness/trace/trace_origin.h"
#include "harness/trace/trace_output.h"
#include "harness/version.h"

namespace tcpfault {
namespace {

using nlohmann::json;

// "2026-12-05T08:49:02.123456789Z": a UTC time with nanoseconds.
bool is_utc_with_ns(const std::string& t) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
  if (t.size() != shape.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(t[i])) : t[i] != shape[i]) return false;
  return true;
}

const json* segment(const json& doc, std::uint64_t id) {
  for (const auto& e : doc["events"])
    if (e["type"] == "segment" && e["id"] == id) return &e;
  return nullptr;
}

TEST(TraceJson, HeaderSaysWhichFormatAndWhereFrom) {
  const auto timeline = sample::make_timeline();
  const Trace& trace = *timeline.trace;
  const json doc = json::parse(render_json(trace));

  EXPECT_EQ(doc["schema"], "tcpfault-timeline/2");
  EXPECT_EQ(doc["scenario"], "sample/IPv4");
  EXPECT_EQ(doc["tcpfault_version"], version());
  const KernelName kernel = running_kernel();
  EXPECT_EQ(doc["kernel"], (json{{"sysname", kernel.sysname}, {"release", kernel.release}, {"machine", kernel.machine}}));

  const std::string started = doc["started_at"];
  EXPECT_TRUE(is_utc_with_ns(started)) << started;
  EXPECT_EQ(started, utc_iso8601(trace.start_unix_ns()));
  EXPECT_EQ(doc["monotonic_origin_ns"], trace.start_ns());
  // The wall clock at the start is now, give or take the test's run.
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const std::int64_t now_ns = std::int64_t(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
  EXPECT_LE(trace.start_unix_ns(), now_ns);
  EXPECT_GT(trace.start_unix_ns(), now_ns - 60'000'000'000);

  ASSERT_EQ(doc["rules"].size(), 3u);
  EXPECT_EQ(doc["rules"][0]["id"], 1);
  EXPECT_EQ(doc["rules"][0]["label"], "modify DATA from client: payload 'HELLO'");
  EXPECT_TRUE(doc["rules"][0]["removed_ms"].is_number());
  EXPECT_GE(doc["rules"][0]["removed_ms"].get<double>(), doc["rules"][0]["added_ms"].get<double>());
  EXPECT_TRUE(doc["rules"][1]["removed_ms"].is_null());
  // Readers of the unversioned timeline find what they read, where they read it.
  for (const char* key : {"events", "fault_log", "bulk_segments"}) EXPECT_TRUE(doc[key].is_array()) << key;
}

TEST(TraceJson, ASegmentSaysWhenAndAsWhatItsReceiverGotIt) {
  const auto timeline = sample::make_timeline();
  const json doc = json::parse(render_json(*timeline.trace));

  const json* rewritten = segment(doc, timeline.rewritten);
  ASSERT_NE(rewritten, nullptr);
  EXPECT_EQ((*rewritten)["delivered_ms"], (*rewritten)["t_ms"]);
  ASSERT_TRUE(rewritten->contains("delivered")) << rewritten->dump();
  EXPECT_EQ((*rewritten)["delivered"]["payload_len"], 5);
  const json* shifted = segment(doc, timeline.shifted);
  ASSERT_NE(shifted, nullptr);
  EXPECT_EQ((*shifted)["seq"], 1006);
  EXPECT_EQ((*shifted)["delivered"]["seq"], 2006);

  const json* dropped = segment(doc, timeline.dropped);
  ASSERT_NE(dropped, nullptr);
  EXPECT_TRUE((*dropped)["delivered_ms"].is_null());
  EXPECT_FALSE(dropped->contains("delivered"));
  const json* delayed = segment(doc, timeline.delayed);
  ASSERT_NE(delayed, nullptr);
  EXPECT_DOUBLE_EQ((*delayed)["delivered_ms"].get<double>(), 306.0);
  EXPECT_EQ((*delayed)["delivered_ms"], (*delayed)["released_ms"]);
  const json* held = segment(doc, timeline.held);
  ASSERT_NE(held, nullptr);
  EXPECT_TRUE((*held)["delivered_ms"].is_null());
}

TEST(TraceJson, UtcTimesHaveNanoseconds) {
  EXPECT_EQ(utc_iso8601(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(utc_iso8601(1'700'000'000'123'456'789), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(utc_iso8601(-1), "1969-12-31T23:59:59.999999999Z");
}

// A rewrite that left the payload alone keeps no second copy of it in the trace; one
// that changed it keeps its own.
TEST(TraceJson, TheTraceKeepsARewrittenPayloadOnlyWhenItChanged) {
  const auto timeline = sample::make_timeline();
  const Trace& trace = *timeline.trace;
  std::vector<SegmentEvent> kept;
  trace.visit_segments(0, [&](const SegmentEvent& s) { kept.push_back(s); });
  const SegmentEvent& shifted = kept.at(timeline.shifted - 1);
  ASSERT_TRUE(shifted.delivered);
  EXPECT_EQ(shifted.delivered->bytes.size(), shifted.delivered->ip_header_len + shifted.delivered->tcp_header_len);
  EXPECT_EQ(delivered_packet(shifted).bytes,
            sample::segment(true, tcp_flag::ACK | tcp_flag::PSH, 2006, "abc").bytes);
  const SegmentEvent& rewritten = kept.at(timeline.rewritten - 1);
  EXPECT_EQ(delivered_packet(rewritten).bytes,
            sample::segment(true, tcp_flag::ACK | tcp_flag::PSH, 1001, "HELLO").bytes);
  EXPECT_EQ(delivered_packet(kept.at(timeline.syn - 1)).bytes, kept.at(timeline.syn - 1).packet.bytes);
  EXPECT_EQ(trace.payload_kept(), 5u + 5u + 3u);  // "hello", "HELLO", "abc"
}

}  // namespace
}  // namespace tcpfault
