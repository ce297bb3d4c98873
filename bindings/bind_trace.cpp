// The timeline: segments, transitions and calls, and its three written forms.
#include <pybind11/stl.h>

#include <cstdio>

#include "bindings/conversions.h"
#include "harness/packet/dsack.h"
#include "harness/trace/trace_queries.h"

namespace tcpfault::py_bindings {

namespace {

std::string at(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.3f ms", ms);
  return buf;
}

template <class E>
std::vector<Timed<E>> collect(const Trace& t, const std::function<bool(const E&)>& keep) {
  t.refresh();  // state changes the kernel already made are in
  std::vector<Timed<E>> out;
  for (const auto& e : t.events())
    if (auto* x = std::get_if<E>(&e))
      if (keep(*x)) out.push_back({*x, t.start_ns()});
  return out;
}

}  // namespace

Since since_arg(const py::handle& value) {
  if (py::isinstance<SegmentRecord>(value)) return Since::after(value.cast<const SegmentRecord&>().event);
  if (py::isinstance<TransitionRecord>(value)) return Since::at(value.cast<const TransitionRecord&>().event.t_ns);
  if (py::isinstance<CallRecord>(value)) return Since::at(value.cast<const CallRecord&>().event.t_ns);
  throw py::type_error("since takes a Segment (the segments after it), a Transition or a Call (those after its "
                       "time), from net.trace; not " + std::string(py::str(py::type::of(value).attr("__name__"))));
}

void bind_trace(py::module_& m) {
  py::class_<SegmentRecord>(m, "Segment", "A segment the middlebox saw, its roles, and what the harness did to it.")
      .def_property_readonly("t_ms", &SegmentRecord::t_ms, "When the middlebox saw it, ms from the start.")
      .def_property_readonly("sent_by", [](const SegmentRecord& s) { return s.event.from; })
      .def_property_readonly("to", [](const SegmentRecord& s) { return s.event.to; })
      .def_property_readonly("roles", [](const SegmentRecord& s) { return PyRoles{s.event.classified.roles}; })
      .def_property_readonly("flags", [](const SegmentRecord& s) { return flags_string(s.event.packet.flags); })
      .def_property_readonly("seq", [](const SegmentRecord& s) { return s.event.packet.seq; })
      .def_property_readonly("ack", [](const SegmentRecord& s) { return s.event.packet.ack; })
      .def_property_readonly("window", [](const SegmentRecord& s) { return s.event.packet.window; })
      .def_property_readonly("payload_len", [](const SegmentRecord& s) { return s.event.packet.payload_len; })
      .def_property_readonly(
          "tsval",
          [](const SegmentRecord& s) -> std::optional<std::uint32_t> {
            if (!s.event.packet.options.timestamp) return std::nullopt;
            return s.event.packet.options.timestamp->first;
          },
          "The timestamp option's TSval (RFC 7323), None without the option.")
      .def_property_readonly(
          "tsecr",
          [](const SegmentRecord& s) -> std::optional<std::uint32_t> {
            if (!s.event.packet.options.timestamp) return std::nullopt;
            return s.event.packet.options.timestamp->second;
          },
          "The timestamp option's TSecr, None without the option.")
      .def_property_readonly("payload", [](const SegmentRecord& s) {
        auto p = s.event.packet.payload();
        return py::bytes(reinterpret_cast<const char*>(p.data()), p.size());
      })
      .def_property_readonly("connection", [](const SegmentRecord& s) { return s.event.classified.connection; },
                             "Which connection, counted from 1 in this scenario (0: none tracked).")
      .def_property_readonly("fate", [](const SegmentRecord& s) { return s.event.fate; },
                             "What the harness did: 'passed', 'dropped by rule #1' ...")
      .def_property_readonly("rule", [](const SegmentRecord& s) { return s.event.rule; },
                             "The label of the rule that acted on it, '' if none.")
      .def_property_readonly(
          "queued_ms",
          [](const SegmentRecord& s) -> py::object {
            if (!s.event.queued_ns) return py::none();
            return py::float_(double(s.event.queued_ns - s.start_ns) / 1e6);
          },
          "When the middlebox's kernel received it (the queue's timestamp), None if unknown; "
          "t_ms is when the verdict loop read it.")
      .def_property_readonly(
          "arrived_ms", [](const SegmentRecord& s) { return double(s.event.arrived_ns() - s.start_ns) / 1e6; },
          "queued_ms where known, else t_ms: the time to measure the sender's timers by.")
      .def_property_readonly("released_ms", [](const SegmentRecord& s) -> py::object {
        if (!s.event.released_ns) return py::none();
        return py::float_(double(s.event.released_ns - s.start_ns) / 1e6);
      })
      .def_property_readonly("bytes", [](const SegmentRecord& s) {
        return py::bytes(reinterpret_cast<const char*>(s.event.packet.bytes.data()), s.event.packet.bytes.size());
      })
      // The TCP options, as numbers on the wire (SACK edges in the acknowledged sequence space).
      .def_property_readonly("sack_blocks", [](const SegmentRecord& s) { return s.event.packet.options.sack_blocks; },
                             "SACK blocks (RFC 2018) as [left, right) pairs of absolute sequence numbers.")
      .def_property_readonly("dsack", [](const SegmentRecord& s) { return reports_dsack(s.event.packet); },
                             "The first SACK block reports a duplicate (D-SACK, RFC 2883).")
      .def_property_readonly("timestamp", [](const SegmentRecord& s) { return s.event.packet.options.timestamp; },
                             "(TSval, TSecr) of the timestamps option (RFC 7323), or None.")
      .def_property_readonly("mss", [](const SegmentRecord& s) { return s.event.packet.options.mss; })
      .def_property_readonly("wscale", [](const SegmentRecord& s) { return s.event.packet.options.wscale; })
      .def_property_readonly("sack_permitted", [](const SegmentRecord& s) { return s.event.packet.options.sack_permitted; })
      .def("__str__", [](const SegmentRecord& s) { return format_packet(s.event.packet, s.event.relative); })
      .def("__repr__", [](const SegmentRecord& s) {
        return "<Segment " + at(s.t_ms()) + " " + netns::to_string(s.event.from) + ": " +
               format_packet(s.event.packet, s.event.relative) + " [" + roles_string(s.event.classified.roles) +
               "] " + s.event.fate + ">";
      });

  py::class_<TransitionRecord>(m, "Transition", "One state change of one socket.")
      .def_property_readonly("t_ms", &TransitionRecord::t_ms)
      .def_property_readonly("host", [](const TransitionRecord& t) { return t.event.host; })
      .def_property_readonly("local", [](const TransitionRecord& t) { return t.event.local; })
      .def_property_readonly("remote", [](const TransitionRecord& t) { return t.event.remote; })
      .def_property_readonly("old", [](const TransitionRecord& t) { return t.event.from; })
      .def_property_readonly("new", [](const TransitionRecord& t) { return t.event.to; })
      .def_property_readonly("source", [](const TransitionRecord& t) { return t.event.source; })
      .def("__repr__", [](const TransitionRecord& t) {
        return "<Transition " + at(t.t_ms()) + " " + netns::to_string(t.event.host) + " " + t.event.local.str() +
               " " + to_string(t.event.from) + " -> " + to_string(t.event.to) + ">";
      });

  py::class_<CallRecord>(m, "Call", "A socket call and its result.")
      .def_property_readonly("t_ms", &CallRecord::t_ms)
      .def_property_readonly("host", [](const CallRecord& c) { return c.event.host; })
      .def_property_readonly("call", [](const CallRecord& c) { return c.event.call; })
      .def_property_readonly("result", [](const CallRecord& c) { return c.event.result; })
      .def_property_readonly("errno", [](const CallRecord& c) { return c.event.err; })
      .def("__repr__", [](const CallRecord& c) {
        return "<Call " + at(c.t_ms()) + " " + netns::to_string(c.event.host) + " " + c.event.call + " = " +
               (c.event.err ? "-1 " + errno_name(c.event.err) : std::to_string(c.event.result)) + ">";
      });

  py::class_<Trace, std::shared_ptr<Trace>>(m, "Trace", "A scenario's timeline; readable after the scenario closed.")
      .def_property_readonly("name", &Trace::name)
      .def(
          "segments",
          [](const Trace& t, const py::object& what, const py::kwargs& kw) {
            Match mt = match_arg(what, kw);
            MatchCount selects(mt);
            return collect<SegmentEvent>(
                t, [&](const SegmentEvent& e) {
                  return selects(view_of(e));
                });
          },
          py::arg("match") = py::none(), "Segments seen so far, optionally only those matching.")
      .def(
          "transitions",
          [](const Trace& t, const py::object& of) {
            if (of.is_none()) return collect<TransitionEvent>(t, [](const TransitionEvent&) { return true; });
            SocketRef ref = py::isinstance<Connection>(of) ? of.cast<Connection&>().ref() : of.cast<SocketRef>();
            t.refresh();
            auto mine = transitions_of(t.events(), ref);
            std::vector<TransitionRecord> out;
            for (auto& e : mine) out.push_back({e, t.start_ns()});
            return out;
          },
          py::arg("of") = py::none(),
          "State changes so far, of every socket or of one connection. They reach the trace a little\n"
          "after the kernel makes them: wait for them with an expectation (passes) first.")
      .def(
          "bulk_segments",
          [](const Trace& t, const py::object& what, const py::kwargs& kw) {
            Match mt = match_arg(what, kw);
            MatchCount selects(mt);
            std::vector<SegmentRecord> out;
            for (auto& e : t.bulk_segments())
              if (selects(view_of(e)))
                out.push_back({std::move(e), t.start_ns()});
            return out;
          },
          py::arg("match") = py::none(),
          "Segments kept out of the timeline (a flood's SYNs, sent_by='middlebox', and the replies\n"
          "dropped for it), in time order; segments() and the expectations do not see them.")
      .def("calls", [](const Trace& t) { return collect<CallEvent>(t, [](const CallEvent&) { return true; }); })
      .def("note", &Trace::note, py::arg("text"), "Adds a line of your own to the timeline.")
      .def(
          "notes",
          [](const Trace& t) {
            std::vector<std::string> out;
            for (const auto& e : t.events())
              if (auto* n = std::get_if<NoteEvent>(&e)) out.push_back(n->text);
            return out;
          },
          "The timeline's notes: rules added, sysctls set, failures, lines of your own.")
      .def("ladder", [](const Trace& t) { t.refresh(); return render_ladder(t); },
           "The timeline as a text ladder diagram.")
      .def("json", [](const Trace& t) { t.refresh(); return render_json(t); }, "The timeline as JSON text.")
      .def("write_pcapng", &write_pcapng, py::arg("path"))
      .def(
          "write",
          [](const Trace& t, const std::string& dir, const py::object& stem) {
            auto paths = write_artifacts(t, dir, stem.is_none() ? artifact_stem(t.name()) : stem.cast<std::string>());
            return py::dict(py::arg("pcapng") = paths.pcapng, py::arg("json") = paths.json,
                            py::arg("ladder") = paths.ladder);
          },
          py::arg("dir"), py::arg("stem") = py::none(), "Writes pcapng, JSON and ladder; returns their paths.")
      .def("__repr__", [](const Trace& t) {
        return "<Trace " + t.name() + ": " + std::to_string(t.events().size()) + " events>";
      });
}

}  // namespace tcpfault::py_bindings
