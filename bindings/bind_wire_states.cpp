// States inferred from the wire, and their comparison with the kernel's record.
//
//   for c in net.wire_states():             # one per connection the middlebox saw
//       print(c.opener.states, c.acceptor.states)
//   result = net.compare_wire_states()      # against the kernel's steps, or an agent's events
//   assert result.unexplained == 0, str(result)
#include <pybind11/stl.h>

#include <cstdio>

#include "bindings/conversions.h"
#include "harness/wire/wire_state_comparison.h"

namespace tcpfault::py_bindings {

namespace {

// A value with the time origin of its trace, so times read as ms from the start.
template <class V>
struct Timed {
  V value;
  std::int64_t origin_ns;
};
using WireStep = Timed<InferredStep>;
using WireEndRecord = Timed<InferredEnd>;
using WireConnection = Timed<InferredConnection>;
using StepComparison = Timed<AlignedStep>;
using EndComparisonRecord = Timed<EndComparison>;
using ConnectionComparisonRecord = Timed<ConnectionComparison>;
using ComparisonRecord = Timed<WireStateComparison>;

py::object ms_or_none(std::int64_t t_ns, std::int64_t origin_ns) {
  if (!t_ns) return py::none();
  return py::float_(double(t_ns - origin_ns) / 1e6);
}

template <class V, class Items>
std::vector<Timed<V>> timed(const Items& items, std::int64_t origin) {
  std::vector<Timed<V>> out;
  for (const auto& v : items) out.push_back({v, origin});
  return out;
}

template <class F>
void add_method(py::object& cls, const char* name, F&& f, const char* doc, auto... extra) {
  cls.attr(name) = py::cpp_function(std::forward<F>(f), py::name(name), py::is_method(cls), py::doc(doc), extra...);
}

}  // namespace

void bind_wire_states(py::module_& m) {
  py::class_<WireStep>(m, "WireStep", "One step of an end's state as the wire shows it.")
      .def_property_readonly("t_ms", [](const WireStep& s) { return double(s.value.t_ns - s.origin_ns) / 1e6; },
                             "When the segment that shows it was seen (or let go), ms from the start.")
      .def_property_readonly("old", [](const WireStep& s) { return s.value.from; })
      .def_property_readonly("new", [](const WireStep& s) { return s.value.to; })
      .def_property_readonly("evidence", [](const WireStep& s) { return to_string(s.value.evidence); },
                             "'sent' (a segment the end sent) or 'received' (one delivered to it).")
      .def_property_readonly("segment", [](const WireStep& s) { return s.value.segment; },
                             "The trace id of the segment that shows it.")
      .def_property_readonly("reason", [](const WireStep& s) { return s.value.reason; })
      .def("__repr__", [](const WireStep& s) {
        return "<WireStep " + to_string(s.value.from) + " -> " + to_string(s.value.to) + " (" + s.value.reason + ")>";
      });

  py::class_<WireEndRecord>(m, "WireEnd", "One end of a connection as the wire shows it.")
      .def_property_readonly("end", [](const WireEndRecord& e) { return to_string(e.value.end); },
                             "'opener' (sent the first SYN) or 'acceptor'.")
      .def_property_readonly("host", [](const WireEndRecord& e) { return e.value.host; })
      .def_property_readonly("address", [](const WireEndRecord& e) { return e.value.addr; })
      .def_property_readonly("seen", [](const WireEndRecord& e) { return e.value.seen; },
                             "False when this end neither sent nor received anything.")
      .def_property_readonly("initial", [](const WireEndRecord& e) { return e.value.initial; })
      .def_property_readonly("initial_reason", [](const WireEndRecord& e) { return e.value.initial_reason; })
      .def_property_readonly("steps", [](const WireEndRecord& e) { return timed<InferredStep>(e.value.steps, e.origin_ns); })
      .def_property_readonly("states", [](const WireEndRecord& e) { return e.value.states(); },
                             "The states in order, the initial one first.")
      .def_property_readonly("final_state", [](const WireEndRecord& e) { return e.value.final_state(); })
      .def_property_readonly("notes", [](const WireEndRecord& e) { return e.value.notes; },
                             "What the wire cannot tell about this end, and segments that moved nothing.");

  py::class_<WireConnection>(m, "WireConnection", "Both ends of one connection, as the wire shows them.")
      .def_property_readonly("id", [](const WireConnection& c) { return c.value.id; },
                             "The connection's number in the trace (Segment.connection).")
      .def_property_readonly("opener", [](const WireConnection& c) { return WireEndRecord{c.value.opener, c.origin_ns}; })
      .def_property_readonly("acceptor", [](const WireConnection& c) { return WireEndRecord{c.value.acceptor, c.origin_ns}; })
      .def("__str__", [](const WireConnection& c) { return describe(c.value, c.origin_ns); });

  py::class_<StepComparison>(m, "StepComparison",
                             "One step of an end: recorded by the kernel, shown by the wire, or both.")
      .def_property_readonly("agreement", [](const StepComparison& s) { return to_string(s.value.agreement); },
                             "'agree', 'kernel-only' (only the compared stack recorded it: the kernel, or an\n"
                             "agent's events) or 'wire-only'.")
      .def_property_readonly("agrees", [](const StepComparison& s) { return s.value.agrees(); })
      .def_property_readonly("old", [](const StepComparison& s) { return s.value.from; })
      .def_property_readonly("new", [](const StepComparison& s) { return s.value.to; })
      .def_property_readonly("kernel_t_ms", [](const StepComparison& s) { return ms_or_none(s.value.kernel_t_ns, s.origin_ns); },
                             "When the kernel recorded it, ms from the start (None: it did not).")
      .def_property_readonly("kernel_source", [](const StepComparison& s) { return s.value.kernel_source; })
      .def_property_readonly("wire_t_ms", [](const StepComparison& s) { return ms_or_none(s.value.wire_t_ns, s.origin_ns); },
                             "When the wire shows it, ms from the start (None: it does not).")
      .def_property_readonly("wire_segment", [](const StepComparison& s) { return s.value.wire_segment; })
      .def_property_readonly("wire_reason", [](const StepComparison& s) { return s.value.wire_reason; })
      .def_property_readonly("cause", [](const StepComparison& s) -> py::object {
        if (!s.value.cause) return py::none();
        return py::str(to_string(*s.value.cause));
      }, "Why they disagree: 'request-socket', 'timer-gave-up' ... 'unexplained'; None when they agree.")
      .def_property_readonly("explanation", [](const StepComparison& s) { return s.value.explanation; })
      .def("__repr__", [](const StepComparison& s) {
        return "<StepComparison " + to_string(s.value.agreement) + " " + to_string(s.value.from) + " -> " +
               to_string(s.value.to) + (s.value.cause ? " " + to_string(*s.value.cause) : "") + ">";
      });

  py::class_<EndComparisonRecord>(m, "EndComparison", "One end's steps, the kernel's and the wire's, aligned.")
      .def_property_readonly("end", [](const EndComparisonRecord& e) { return to_string(e.value.end); })
      .def_property_readonly("host", [](const EndComparisonRecord& e) { return e.value.host; })
      .def_property_readonly("local", [](const EndComparisonRecord& e) { return e.value.local; })
      .def_property_readonly("remote", [](const EndComparisonRecord& e) { return e.value.remote; })
      .def_property_readonly("stack", [](const EndComparisonRecord& e) { return e.value.stack; },
                             "Whose record the wire is compared with: 'kernel', or the agent target's name\n"
                             "('gvisor'), whose state events are then its only record ('kernel-only' steps are its).")
      .def_property_readonly("on_wire", [](const EndComparisonRecord& e) { return e.value.on_wire; },
                             "False for a kernel socket that no connection on the wire matches.")
      .def_property_readonly("kernel_sockets", [](const EndComparisonRecord& e) { return e.value.kernel_sockets; },
                             "How many kernel sockets the end's steps come from (0: the kernel recorded none).")
      .def_property_readonly("steps", [](const EndComparisonRecord& e) { return timed<AlignedStep>(e.value.steps, e.origin_ns); })
      .def_property_readonly("agreements", [](const EndComparisonRecord& e) { return e.value.agreements(); })
      .def_property_readonly("disagreements", [](const EndComparisonRecord& e) { return e.value.disagreements(); });

  py::class_<ConnectionComparisonRecord>(m, "ConnectionComparison", "Both ends of one connection, compared.")
      .def_property_readonly("id", [](const ConnectionComparisonRecord& c) { return c.value.id; })
      .def_property_readonly("opener", [](const ConnectionComparisonRecord& c) { return EndComparisonRecord{c.value.opener, c.origin_ns}; })
      .def_property_readonly("acceptor", [](const ConnectionComparisonRecord& c) { return EndComparisonRecord{c.value.acceptor, c.origin_ns}; });

  py::class_<ComparisonRecord>(m, "WireStateComparison",
                               "The wire-inferred states against the kernel's transitions, for every connection.")
      .def_property_readonly("connections", [](const ComparisonRecord& r) {
        return timed<ConnectionComparison>(r.value.connections, r.origin_ns);
      })
      .def_property_readonly("kernel_only_sockets", [](const ComparisonRecord& r) {
        return timed<EndComparison>(r.value.kernel_only_sockets, r.origin_ns);
      }, "Kernel sockets that no connection on the wire matches.")
      .def_property_readonly("agreements", [](const ComparisonRecord& r) { return r.value.agreements(); })
      .def_property_readonly("disagreements", [](const ComparisonRecord& r) { return r.value.disagreements(); })
      .def_property_readonly("unexplained", [](const ComparisonRecord& r) { return r.value.unexplained(); },
                             "Disagreements no known cause explains.")
      .def("__str__", [](const ComparisonRecord& r) { return r.value.describe(r.origin_ns); });

  py::object scenario = m.attr("Scenario");
  add_method(
      scenario, "wire_states",
      [](const py::object& net) {
        auto s = scenario_of(net);
        py::gil_scoped_release unlocked;
        const auto all = infer_wire_states(s->trace());
        return timed<InferredConnection>(all, s->trace().start_ns());
      },
      "Each connection's states as the wire shows them (a reference RFC 9293 machine per end, fed by\n"
      "what the middlebox saw), for stacks that cannot be asked.");
  add_method(
      scenario, "compare_wire_states",
      [](const py::object& net, const py::object& settle) {
        auto s = scenario_of(net);
        const auto wait = seconds_arg(settle, "settle");
        // The agent's side has only its state events: the target says which side it is
        // before any event (an agent that reported nothing yet is still not the kernel).
        std::map<Host, std::string> agents;
        if (s->target().is_agent()) {
          agents[s->target().side] = s->target().label();
          // Without state events the agent's states are the wire's own: nothing to compare.
          if (s->agent() && !s->agent()->states().from_events())
            throw Error("the " + s->target().label() + " agent reports no state events (its hello lists no "
                        "`state_events`): its states are inferred from the wire, so there is nothing to compare "
                        "the wire with on its side");
        }
        py::gil_scoped_release unlocked;
        return ComparisonRecord{compare_wire_states(s->states(), s->trace(), wait, agents), s->trace().start_ns()};
      },
      "The wire-inferred states against each stack's record so far: a kernel side's transitions\n"
      "(tracepoint, and sock_diag for a step the tracepoint missed or a timewait minisocket), an agent's\n"
      "side's state events (never the kernel's observer: its sockets are not the kernel's),\n"
      "per connection and end: each step agreeing or not, each disagreement with its cause. While a\n"
      "disagreement is unexplained, waits up to `settle` seconds for a segment or kernel step still\n"
      "on its way (right after a test's last call) and compares again.",
      py::arg("settle") = 0);
}

}  // namespace tcpfault::py_bindings
