// The timeline as JSON: one object per event, times in ms from the scenario's start,
// under a header that says which format it is and where the timeline came from
// (docs/artifacts.md describes every field).
#include <nlohmann/json.hpp>

#include "harness/trace/trace_origin.h"
#include "harness/trace/trace_output.h"
#include "harness/version.h"

namespace tcpfault {

std::string render_json(const Trace& trace) {
  // Keys in the order written: "schema" first, an event's "type" and "t_ms" first.
  using json = nlohmann::ordered_json;
  const std::int64_t start = trace.start_ns();
  auto ms = [start](std::int64_t t) { return double(t - start) / 1e6; };
  auto segment_json = [&ms](const SegmentEvent* s) {
    json j = {{"type", "segment"},
              {"t_ms", ms(s->t_ns)},
              {"from", netns::to_string(s->from)},
              {"to", netns::to_string(s->to)},
              {"flags", flags_string(s->packet.flags)},
              {"seq", s->packet.seq},
              {"ack", s->packet.ack},
              {"window", s->packet.window},
              {"payload_len", s->packet.payload_len},
              {"roles", roles_string(s->classified.roles)},
              {"connection", s->classified.connection},
              {"id", s->id},
              {"fate", s->fate},
              {"rule", s->rule},
              {"summary", format_packet(s->packet, s->relative)}};
    if (s->queued_ns) j["queued_ms"] = ms(s->queued_ns);  // the kernel's receive time, before t_ms
    if (s->released_ns) j["released_ms"] = ms(s->released_ns);
    const auto got_at = delivered_at(*s);
    j["delivered_ms"] = got_at ? json(ms(*got_at)) : json(nullptr);  // null: its receiver never got it
    if (s->delivered && got_at) {  // what its receiver got instead, after a rewrite
      const Packet& d = *s->delivered;
      j["delivered"] = {{"flags", flags_string(d.flags)}, {"seq", d.seq},         {"ack", d.ack},
                        {"window", d.window},             {"payload_len", d.payload_len},
                        {"summary", format_packet(d, s->relative)}};
    }
    if (!s->payload_kept()) j["payload_kept"] = false;  // past the trace's payload cap
    return j;
  };
  json events = json::array();
  for (const Event& e : trace.events()) {
    json j;
    if (auto* s = std::get_if<SegmentEvent>(&e)) {
      j = segment_json(s);
    } else if (auto* t = std::get_if<TransitionEvent>(&e)) {
      j = {{"type", "transition"},       {"t_ms", ms(t->t_ns)},
           {"host", netns::to_string(t->host)}, {"local", t->local.str()},
           {"remote", t->remote.str()},   {"from", to_string(t->from)},
           {"to", to_string(t->to)},      {"source", t->source}};
    } else if (auto* c = std::get_if<CallEvent>(&e)) {
      j = {{"type", "call"},     {"t_ms", ms(c->t_ns)}, {"duration_ms", double(c->duration_ns) / 1e6},
           {"host", netns::to_string(c->host)}, {"call", c->call}, {"result", c->result},
           {"errno", c->err}};
    } else if (auto* n = std::get_if<NoteEvent>(&e)) {
      j = {{"type", "note"}, {"t_ms", ms(n->t_ns)}, {"text", n->text}};
    }
    events.push_back(std::move(j));
  }
  // What random rules did, with their draws' ordinals (the seeds are in the notes).
  json faults = json::array();
  for (const auto& d : trace.fault_log())
    faults.push_back({{"rule", d.rule}, {"ordinal", d.ordinal}, {"segment", d.segment}, {"t_ms", ms(d.t_ns)},
                      {"action", d.action}, {"summary", d.summary}});
  // Segments kept out of the timeline (a flood's), each in full, in time order.
  json bulk = json::array();
  for (const auto& s : trace.bulk_segments()) bulk.push_back(segment_json(&s));
  json rules = json::array();
  for (const auto& r : trace.rules()) {
    json j = {{"id", r.id}, {"label", r.label}, {"added_ms", ms(r.added_ns)}};
    j["removed_ms"] = r.removed_ns ? json(ms(r.removed_ns)) : json(nullptr);
    rules.push_back(std::move(j));
  }
  const KernelName kernel = running_kernel();
  json doc = {{"schema", kTimelineSchema},
              {"scenario", trace.name()},
              {"tcpfault_version", version()},
              {"kernel", {{"sysname", kernel.sysname}, {"release", kernel.release}, {"machine", kernel.machine}}},
              // Every *_ms counts from this moment: the wall clock then, and CLOCK_MONOTONIC
              // then (the clock of the kernel's own timestamps).
              {"started_at", utc_iso8601(trace.start_unix_ns())},
              {"monotonic_origin_ns", trace.start_ns()},
              {"rules", std::move(rules)},
              {"events", std::move(events)},
              {"fault_log", std::move(faults)},
              {"bulk_segments", std::move(bulk)}};
  return doc.dump(2);
}

}  // namespace tcpfault
